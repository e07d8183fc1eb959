//! NOMENCLATURE: the organisation's product catalogue as a KZ register reads it (spec §4.6).
//!
//! The cabinet keeps the catalogue (`store::catalogue`), each change making a new version. The
//! exchange turns a stored catalogue into wire elements once per version ([`KzCatalogue::build`])
//! and keeps it in memory; [`answer`] is the pure reply to one request:
//! - no catalogue (version 0): NO_VERSION;
//! - a barcode asked for: that item (OK) or ELEMENT_NOT_FOUND_BY_BARCODE;
//! - the register's `current_version` at or above ours: VERSION_IS_ACTUAL with our version;
//! - otherwise OK with our version and every element.
//!
//! Elements: one GROUP per section (ids above [`GROUP_ID_BASE`], in order of first use) and one
//! ITEM per product (id = the item's row id, under its section's group). Prices go as `Money`;
//! VAT as one tax of type VAT (100) with the percent as entered — the wire's percent scale is not
//! settled by the spec (§9: "store raw integers"), so it is sent unscaled.

use std::collections::HashMap;

use ofd_protocol::kz::{
    ElementTypeEnum, Money, NomenclatureElement, NomenclatureItem, NomenclatureRequest,
    NomenclatureResponse, NomenclatureResultTypeEnum, NomenclatureTax,
};

use crate::store::catalogue::Catalogue;

/// Group (section) element ids start above every item id.
pub const GROUP_ID_BASE: u64 = 1 << 40;
/// `TaxTypeEnum` VAT.
const TAX_TYPE_VAT: u32 = 100;
/// `TaxationTypeEnum` STS (the general regime).
const TAXATION_GENERAL: u32 = 100;

/// A catalogue version ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct KzCatalogue {
    /// The version (> 0).
    pub version: u32,
    /// Groups, then items.
    pub elements: Vec<NomenclatureElement>,
}

impl KzCatalogue {
    /// The wire form of `catalogue`; `None` for version 0 (no catalogue yet).
    pub fn build(catalogue: &Catalogue) -> Option<KzCatalogue> {
        let version = u32::try_from(catalogue.version).ok().filter(|v| *v > 0)?;
        let mut groups: HashMap<&str, u64> = HashMap::new();
        let mut elements = Vec::new();
        for item in &catalogue.items {
            if let Some(section) = item.section.as_deref() {
                if !groups.contains_key(section) {
                    let id = GROUP_ID_BASE + groups.len() as u64 + 1;
                    groups.insert(section, id);
                    elements.push(NomenclatureElement {
                        r#type: Some(ElementTypeEnum::Group as i32),
                        title: Some(section.to_owned()),
                        id: Some(id),
                        ..Default::default()
                    });
                }
            }
        }
        for item in &catalogue.items {
            let price = u64::try_from(item.price_minor).unwrap_or(0);
            elements.push(NomenclatureElement {
                r#type: Some(ElementTypeEnum::Item as i32),
                title: Some(item.name.clone()),
                parent_group_id: item.section.as_deref().and_then(|s| groups.get(s).copied()),
                id: u64::try_from(item.id).ok(),
                item: Some(NomenclatureItem {
                    barcode: item.barcode.clone(),
                    sell_price: Some(Money {
                        bills: Some(price / 100),
                        coins: Some((price % 100) as u32),
                    }),
                    taxes: item
                        .vat_percent
                        .and_then(|v| u32::try_from(v).ok())
                        .map(|percent| NomenclatureTax {
                            taxation_type: Some(TAXATION_GENERAL),
                            tax_type: Some(TAX_TYPE_VAT),
                            tax_percent: Some(percent),
                        })
                        .into_iter()
                        .collect(),
                    measure_title: Some(item.unit.clone()),
                    ..Default::default()
                }),
                title_kk: None,
            });
        }
        Some(KzCatalogue { version, elements })
    }
}

/// The reply to `request` with `catalogue` (`None`: the organisation has none).
pub fn answer(
    request: Option<&NomenclatureRequest>,
    catalogue: Option<&KzCatalogue>,
) -> NomenclatureResponse {
    let result = |code: NomenclatureResultTypeEnum, version: u32, elements| NomenclatureResponse {
        version: Some(version),
        result: Some(code as i32),
        elements,
        ..Default::default()
    };
    let Some(catalogue) = catalogue else {
        return result(NomenclatureResultTypeEnum::NoVersion, 0, Vec::new());
    };
    if let Some(barcode) = request.and_then(|r| r.barcode.as_deref()) {
        let found = catalogue.elements.iter().find(|e| {
            e.item
                .as_ref()
                .and_then(|i| i.barcode.as_deref())
                .is_some_and(|b| b == barcode)
        });
        return match found {
            Some(element) => result(
                NomenclatureResultTypeEnum::Ok,
                catalogue.version,
                vec![element.clone()],
            ),
            None => result(
                NomenclatureResultTypeEnum::ElementNotFoundByBarcode,
                catalogue.version,
                Vec::new(),
            ),
        };
    }
    let held = request.and_then(|r| r.current_version).unwrap_or(0);
    if held >= catalogue.version {
        return result(
            NomenclatureResultTypeEnum::VersionIsActual,
            catalogue.version,
            Vec::new(),
        );
    }
    result(
        NomenclatureResultTypeEnum::Ok,
        catalogue.version,
        catalogue.elements.clone(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::catalogue::CatalogueItem;

    fn item(id: i64, name: &str, barcode: Option<&str>, section: Option<&str>) -> CatalogueItem {
        CatalogueItem {
            id,
            org_id: 1,
            name: name.to_owned(),
            barcode: barcode.map(str::to_owned),
            price_minor: 12_345,
            vat_percent: Some(12),
            section: section.map(str::to_owned),
            unit: "шт".to_owned(),
            created_at: 0,
            updated_at: 0,
        }
    }

    fn catalogue() -> KzCatalogue {
        KzCatalogue::build(&Catalogue {
            version: 3,
            updated_at: 0,
            items: vec![
                item(7, "Хлеб", Some("4870001"), Some("Выпечка")),
                item(8, "Молоко", Some("4870002"), Some("Молочное")),
                item(9, "Батон", None, Some("Выпечка")),
            ],
        })
        .expect("version 3")
    }

    fn asking(version: Option<u32>, barcode: Option<&str>) -> NomenclatureRequest {
        NomenclatureRequest {
            current_version: version,
            barcode: barcode.map(str::to_owned),
        }
    }

    #[test]
    fn sections_become_groups_and_items_hang_under_them() {
        let catalogue = catalogue();
        let groups: Vec<_> = catalogue
            .elements
            .iter()
            .filter(|e| e.r#type == Some(ElementTypeEnum::Group as i32))
            .collect();
        assert_eq!(groups.len(), 2, "two distinct sections");
        let bread = catalogue
            .elements
            .iter()
            .find(|e| e.id == Some(7))
            .expect("item 7");
        assert_eq!(bread.parent_group_id, groups[0].id);
        let details = bread.item.as_ref().expect("item details");
        assert_eq!(
            details.sell_price,
            Some(Money {
                bills: Some(123),
                coins: Some(45)
            })
        );
        assert_eq!(details.taxes[0].tax_percent, Some(12));
        assert_eq!(details.measure_title.as_deref(), Some("шт"));
        assert_eq!(
            KzCatalogue::build(&Catalogue {
                version: 0,
                updated_at: 0,
                items: vec![]
            }),
            None
        );
    }

    #[test]
    fn versions_decide_what_is_sent() {
        let catalogue = catalogue();
        let none = answer(Some(&asking(Some(0), None)), None);
        assert_eq!(
            none.result,
            Some(NomenclatureResultTypeEnum::NoVersion as i32)
        );
        let fresh = answer(Some(&asking(Some(2), None)), Some(&catalogue));
        assert_eq!(fresh.result, Some(NomenclatureResultTypeEnum::Ok as i32));
        assert_eq!(fresh.version, Some(3));
        assert_eq!(fresh.elements.len(), 5);
        let actual = answer(Some(&asking(Some(3), None)), Some(&catalogue));
        assert_eq!(
            actual.result,
            Some(NomenclatureResultTypeEnum::VersionIsActual as i32)
        );
        assert!(actual.elements.is_empty());
        let no_field = answer(None, Some(&catalogue));
        assert_eq!(no_field.elements.len(), 5, "no version held: everything");
    }

    #[test]
    fn a_barcode_finds_one_item_or_none() {
        let catalogue = catalogue();
        let milk = answer(Some(&asking(None, Some("4870002"))), Some(&catalogue));
        assert_eq!(milk.result, Some(NomenclatureResultTypeEnum::Ok as i32));
        assert_eq!(milk.elements.len(), 1);
        assert_eq!(milk.elements[0].title.as_deref(), Some("Молоко"));
        let missing = answer(Some(&asking(None, Some("999"))), Some(&catalogue));
        assert_eq!(
            missing.result,
            Some(NomenclatureResultTypeEnum::ElementNotFoundByBarcode as i32)
        );
    }
}
