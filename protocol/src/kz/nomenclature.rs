//! The product catalogue exchange (spec §4.6). The server answers NO_VERSION until it has a
//! catalogue; the types are complete so that the emulator and `ofd decode` can speak them.

use super::common::{DateTime, Money};
use super::required::validate;

/// Ask for the catalogue (COMMAND_NOMENCLATURE); at least one field is set.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct NomenclatureRequest {
    /// The version the register has.
    #[prost(uint32, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u32>,
    /// Look up one barcode (since 2.0.3).
    #[prost(string, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub barcode: Option<String>,
}
validate!(NomenclatureRequest {
    req: [],
    req_msg: [],
    opt_msg: [],
    rep_msg: []
});

/// Outcome of a catalogue request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum NomenclatureResultTypeEnum {
    /// A catalogue follows.
    Ok = 0,
    /// The register's version is current.
    VersionIsActual = 1,
    /// No catalogue exists.
    NoVersion = 2,
    /// The barcode is not in the national catalogue.
    ElementNotFoundByBarcode = 3,
}

/// The catalogue.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct NomenclatureResponse {
    /// Catalogue version.
    #[prost(uint32, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// When it was made.
    #[prost(message, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_time: Option<DateTime>,
    /// Groups and items.
    #[prost(message, repeated, tag = "3")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub elements: Vec<NomenclatureElement>,
    /// A [`NomenclatureResultTypeEnum`] value.
    #[prost(enumeration = "NomenclatureResultTypeEnum", optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<i32>,
}
validate!(NomenclatureResponse {
    req: [version, result],
    req_msg: [],
    opt_msg: [created_time],
    rep_msg: [elements],
});

/// Kind of a catalogue element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ElementTypeEnum {
    /// A group of items.
    Group = 0,
    /// An item.
    Item = 1,
}

/// One group or item of the catalogue.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct NomenclatureElement {
    /// An [`ElementTypeEnum`] value.
    #[prost(enumeration = "ElementTypeEnum", optional, tag = "1")]
    pub r#type: Option<i32>,
    /// Title.
    #[prost(string, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Parent group.
    #[prost(uint64, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_group_id: Option<u64>,
    /// Element id.
    #[prost(uint64, optional, tag = "5")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// Item details (for ITEM).
    #[prost(message, optional, tag = "6")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<NomenclatureItem>,
    /// Title in Kazakh (since 2.0.3).
    #[prost(string, optional, tag = "7")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_kk: Option<String>,
}
validate!(NomenclatureElement {
    req: [r#type, title, id],
    req_msg: [],
    opt_msg: [item],
    rep_msg: []
});

/// Details of a catalogue item.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct NomenclatureItem {
    /// Article.
    #[prost(string, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub article: Option<String>,
    /// Barcode.
    #[prost(string, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub barcode: Option<String>,
    /// Description.
    #[prost(string, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Purchase price.
    #[prost(message, optional, tag = "6")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purchase_price: Option<Money>,
    /// Sale price.
    #[prost(message, optional, tag = "7")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sell_price: Option<Money>,
    /// Discount percent.
    #[prost(uint32, optional, tag = "8")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount_percent: Option<u32>,
    /// Discount amount.
    #[prost(message, optional, tag = "9")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount_sum: Option<Money>,
    /// Markup percent.
    #[prost(uint32, optional, tag = "10")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub markup_percent: Option<u32>,
    /// Markup amount.
    #[prost(message, optional, tag = "11")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub markup_sum: Option<Money>,
    /// Taxes.
    #[prost(message, repeated, tag = "12")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub taxes: Vec<NomenclatureTax>,
    /// Units per measure.
    #[prost(uint32, optional, tag = "13")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measure_count: Option<u32>,
    /// Measure name.
    #[prost(string, optional, tag = "14")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measure_title: Option<String>,
    /// Whether fractional quantities are allowed.
    #[prost(bool, optional, tag = "15")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measure_fractional: Option<bool>,
    /// OKEI unit code (since 2.0.1).
    #[prost(string, optional, tag = "16")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measure_unit_code: Option<String>,
    /// National catalogue id.
    #[prost(string, optional, tag = "17")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ntin: Option<String>,
    /// Marked goods flag (since 2.0.3).
    #[prost(bool, optional, tag = "18")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_markedeac: Option<bool>,
    /// Socially significant goods flag (since 2.0.3).
    #[prost(bool, optional, tag = "19")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_social: Option<bool>,
}
validate!(NomenclatureItem {
    req: [],
    req_msg: [],
    opt_msg: [purchase_price, sell_price, discount_sum, markup_sum],
    rep_msg: [taxes],
});

/// Tax of a catalogue item.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct NomenclatureTax {
    /// Taxation regime: STS 100, RTS 101, TRFF 102, TRBP 103.
    #[prost(uint32, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taxation_type: Option<u32>,
    /// Tax kind: VAT 100.
    #[prost(uint32, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_type: Option<u32>,
    /// Rate (raw).
    #[prost(uint32, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_percent: Option<u32>,
}
validate!(NomenclatureTax {
    req: [taxation_type, tax_type, tax_percent],
    req_msg: [],
    opt_msg: [],
    rep_msg: [],
});
