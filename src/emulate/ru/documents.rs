//! ФФД documents a simulated RU register produces: shift open/close reports, cash receipts with
//! 1–20 items, refunds and correction receipts, with every total consistent with its items.
//!
//! Money is integer kopecks throughout; an item's cost is `price × quantity` rounded to the
//! kopeck, the receipt total is the sum of the costs, the payment split adds up to the total and
//! the VAT sums are computed per rate from the costs (prices include VAT). `--ffd 1.05` writes
//! only tags of the 1.05 tables, so any 1.05 decoder can read every document.
//!
//! The ФПД slot (tag 1077) is written as six placeholder bytes; the register model either has the
//! soft crypto unit sign it in place or leaves the filler.

use ofd_protocol::ru::tlv::Writer;
use ofd_protocol::ru::value::{encode_fvln, encode_string, encode_vln, Fvln};
use rand::Rng;

use crate::emulate::Ffd;

/// Register firmware version reported in tag 1188 (at most 8 characters).
const KKT_VERSION: &str = "emu 1.0";

/// Days of validity left on the fiscal drive's keys (tag 1213) in close-shift reports.
const KEY_RESOURCE_DAYS: u16 = 365;

/// Largest VLN money value a device writes (6 bytes).
const MONEY_VLN_LEN: usize = 6;

/// Form codes (container byte 5 and the document STLV tag).
pub mod form {
    /// Shift open report.
    pub const OPEN_SHIFT: u8 = 2;
    /// Cash receipt (sale or refund).
    pub const RECEIPT: u8 = 3;
    /// Correction receipt.
    pub const CORRECTION: u8 = 31;
    /// Shift close report.
    pub const CLOSE_SHIFT: u8 = 5;
}

/// What the register says about itself in every document.
#[derive(Debug, Clone)]
pub struct Identity {
    /// ФН number, 16 ASCII digits.
    pub fn_number: String,
    /// РН ККТ (tag 1037), 16 digits (padded to 20 on the wire).
    pub reg_number: String,
    /// ИНН of the user (tag 1018), 10 digits (padded to 12 on the wire).
    pub inn: String,
    /// Name of the user (tag 1048).
    pub user: String,
    /// Address of settlement (tag 1009).
    pub address: String,
    /// Place of settlement (tag 1187).
    pub place: String,
    /// Cashier (tag 1021).
    pub cashier: String,
}

/// The kinds of document in the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Shift open report (form 2).
    OpenShift,
    /// Sale receipt (form 3, settlement sign 1).
    Sale,
    /// Refund of a sale (form 3, settlement sign 2).
    Refund,
    /// Correction receipt (form 31).
    Correction,
    /// Shift close report (form 5).
    CloseShift,
}

impl Kind {
    /// Form code of the document.
    pub fn form(self) -> u8 {
        match self {
            Kind::OpenShift => form::OPEN_SHIFT,
            Kind::Sale | Kind::Refund => form::RECEIPT,
            Kind::Correction => form::CORRECTION,
            Kind::CloseShift => form::CLOSE_SHIFT,
        }
    }

    /// Name in the summary's breakdown.
    pub fn label(self) -> &'static str {
        match self {
            Kind::OpenShift => "open_shift",
            Kind::Sale => "receipt",
            Kind::Refund => "refund",
            Kind::Correction => "correction",
            Kind::CloseShift => "close_shift",
        }
    }
}

/// Per-document numbers the register keeps.
#[derive(Debug, Clone, Copy)]
pub struct Numbers {
    /// ФД number (tag 1040 and the container header).
    pub fd: u32,
    /// Local wall-clock time (tag 1012).
    pub time: u32,
    /// Shift number (tag 1038).
    pub shift: u32,
    /// Receipt number within the shift (tag 1042), for receipts.
    pub receipt_in_shift: u32,
    /// Documents in the shift so far (tag 1111, close report).
    pub documents_in_shift: u32,
    /// Receipts in the shift so far (tag 1118, close report).
    pub receipts_in_shift: u32,
}

/// A product line the generator picks from: name, price range in kopecks, sold by weight.
struct Product {
    name: &'static str,
    price: (u64, u64),
    by_weight: bool,
}

const PRODUCTS: &[Product] = &[
    Product {
        name: "Хлеб ржаной 500 г",
        price: (4_500, 7_900),
        by_weight: false,
    },
    Product {
        name: "Молоко 3,2% 1 л",
        price: (7_900, 12_900),
        by_weight: false,
    },
    Product {
        name: "Кефир 1% 900 мл",
        price: (6_900, 10_900),
        by_weight: false,
    },
    Product {
        name: "Сыр Российский",
        price: (59_900, 89_900),
        by_weight: true,
    },
    Product {
        name: "Яблоки Гала",
        price: (11_900, 19_900),
        by_weight: true,
    },
    Product {
        name: "Бананы",
        price: (9_900, 15_900),
        by_weight: true,
    },
    Product {
        name: "Кофе молотый 250 г",
        price: (29_900, 64_900),
        by_weight: false,
    },
    Product {
        name: "Чай чёрный 100 пак.",
        price: (19_900, 34_900),
        by_weight: false,
    },
    Product {
        name: "Сахар 1 кг",
        price: (6_900, 9_900),
        by_weight: false,
    },
    Product {
        name: "Масло сливочное 82%",
        price: (18_900, 29_900),
        by_weight: false,
    },
    Product {
        name: "Яйца С1 10 шт",
        price: (8_900, 14_900),
        by_weight: false,
    },
    Product {
        name: "Гречка 900 г",
        price: (7_900, 13_900),
        by_weight: false,
    },
    Product {
        name: "Вода питьевая 1,5 л",
        price: (3_900, 6_900),
        by_weight: false,
    },
    Product {
        name: "Пакет-майка",
        price: (500, 1_500),
        by_weight: false,
    },
];

/// VAT rates (tag 1199) used, with the percentage included in the price; `None` = no VAT.
const VAT_RATES: &[(u8, Option<u64>)] = &[(1, Some(20)), (2, Some(10)), (5, Some(0)), (6, None)];

/// One generated item.
struct Item {
    name: &'static str,
    price: u64,
    quantity: Fvln,
    cost: u64,
    vat_rate: u8,
}

/// VAT and turnover sums per rate (tags 1102–1105), from item costs.
#[derive(Default)]
struct VatSums {
    vat20: u64,
    vat10: u64,
    turnover0: u64,
    turnover_no_vat: u64,
}

impl VatSums {
    fn add(&mut self, item: &Item) {
        match VAT_RATES.iter().find(|(code, _)| *code == item.vat_rate) {
            Some((_, Some(20))) => self.vat20 += div_round(item.cost * 20, 120),
            Some((_, Some(10))) => self.vat10 += div_round(item.cost * 10, 110),
            Some((_, Some(_))) => self.turnover0 += item.cost,
            _ => self.turnover_no_vat += item.cost,
        }
    }
}

fn div_round(numerator: u64, denominator: u64) -> u64 {
    (numerator + denominator / 2) / denominator
}

/// Builds document STLVs for one register.
pub struct DocumentBuilder<'a> {
    /// Who is sending.
    pub identity: &'a Identity,
    /// ФФД version of the output.
    pub ffd: Ffd,
}

impl DocumentBuilder<'_> {
    /// The document STLV of `kind` (ФПД slot filled with `fpd_filler`).
    pub fn build(
        &self,
        kind: Kind,
        numbers: Numbers,
        fpd_filler: [u8; 6],
        rng: &mut impl Rng,
    ) -> anyhow::Result<Vec<u8>> {
        let mut w = Writer::new();
        w.begin(u16::from(kind.form()))?;
        self.common(&mut w, numbers, fpd_filler)?;
        match kind {
            Kind::OpenShift => self.register_versions(&mut w)?,
            Kind::CloseShift => {
                w.u32(1111, numbers.documents_in_shift)?;
                w.u32(1118, numbers.receipts_in_shift)?;
                w.u32(1097, 0)?;
                if self.ffd != Ffd::V105 {
                    // ФФД 1.1+ close reports carry the shift's and the drive's counter
                    // totals (1194, 1157) and the days left on the ФП keys (1213).
                    for counters in [1194, 1157] {
                        w.begin(counters)?;
                        w.u32(1134, numbers.receipts_in_shift)?;
                        w.end()?;
                    }
                    w.tlv(1213, &KEY_RESOURCE_DAYS.to_le_bytes())?;
                }
            }
            Kind::Sale | Kind::Refund => {
                w.u32(1042, numbers.receipt_in_shift)?;
                w.byte(1054, if kind == Kind::Sale { 1 } else { 2 })?;
                self.settlement(&mut w, rng, true)?;
            }
            Kind::Correction => {
                w.u32(1042, numbers.receipt_in_shift)?;
                w.byte(1054, 1)?;
                w.byte(1173, 0)?;
                w.begin(1174)?;
                if self.ffd != Ffd::V12 {
                    string(&mut w, 1177, "Самостоятельная корректировка выручки")?;
                }
                w.u32(1178, numbers.time.saturating_sub(86_400))?;
                string(&mut w, 1179, "б/н")?;
                w.end()?;
                // ФФД 1.05 correction receipts carry no items; 1.1 and 1.2 do.
                self.settlement(&mut w, rng, self.ffd != Ffd::V105)?;
            }
        }
        w.end()?;
        Ok(w.finish()?)
    }

    /// Register and ФФД versions an open-shift report must name (1188, 1189).
    fn register_versions(&self, w: &mut Writer) -> anyhow::Result<()> {
        string(w, 1188, KKT_VERSION)?;
        w.byte(1189, ffd_tag_value(self.ffd))?;
        Ok(())
    }

    /// Tags every document carries.
    fn common(&self, w: &mut Writer, numbers: Numbers, fpd_filler: [u8; 6]) -> anyhow::Result<()> {
        let id = self.identity;
        w.byte(1209, ffd_tag_value(self.ffd))?;
        string(w, 1048, &id.user)?;
        w.tlv(1018, pad(&id.inn, 12).as_bytes())?;
        w.tlv(1037, pad(&id.reg_number, 20).as_bytes())?;
        w.tlv(1041, id.fn_number.as_bytes())?;
        w.u32(1040, numbers.fd)?;
        w.u32(1012, numbers.time)?;
        w.u32(1038, numbers.shift)?;
        string(w, 1009, &id.address)?;
        string(w, 1187, &id.place)?;
        string(w, 1021, &id.cashier)?;
        w.tlv(1077, &fpd_filler)?;
        Ok(())
    }

    /// Items (when `with_items`), total, payments and VAT sums, all consistent.
    fn settlement(
        &self,
        w: &mut Writer,
        rng: &mut impl Rng,
        with_items: bool,
    ) -> anyhow::Result<()> {
        let count = if rng.gen_bool(0.6) {
            rng.gen_range(1..=5)
        } else {
            rng.gen_range(6..=20)
        };
        let items: Vec<Item> = (0..count).map(|_| random_item(rng)).collect();
        let mut vat = VatSums::default();
        let mut total = 0u64;
        for item in &items {
            vat.add(item);
            total += item.cost;
        }
        w.byte(1055, 1)?; // ОСН: the only system under which every VAT rate above is valid
        if with_items {
            for item in &items {
                self.item(w, item)?;
            }
        }
        let cash = match rng.gen_range(0..3) {
            0 => total,
            1 => 0,
            _ => (total / 2) / 100 * 100,
        };
        money(w, 1020, total)?;
        money(w, 1031, cash)?;
        money(w, 1081, total - cash)?;
        for (tag, sum) in [
            (1102, vat.vat20),
            (1103, vat.vat10),
            (1104, vat.turnover0),
            (1105, vat.turnover_no_vat),
        ] {
            if sum > 0 {
                money(w, tag, sum)?;
            }
        }
        Ok(())
    }

    fn item(&self, w: &mut Writer, item: &Item) -> anyhow::Result<()> {
        w.begin(1059)?;
        w.byte(1214, 4)?; // full settlement
        w.byte(1212, 1)?; // goods
        string(w, 1030, item.name)?;
        money(w, 1079, item.price)?;
        w.tlv_with::<anyhow::Error>(1023, |out| Ok(encode_fvln(item.quantity, out)?))?;
        w.byte(1199, item.vat_rate)?;
        money(w, 1043, item.cost)?;
        if self.ffd == Ffd::V12 {
            // 2108: measure of quantity (0 = pieces, 11 = kilogram), ФФД 1.2 only.
            w.byte(2108, if item.quantity.point == 0 { 0 } else { 11 })?;
        }
        w.end()?;
        Ok(())
    }
}

fn random_item(rng: &mut impl Rng) -> Item {
    let product = &PRODUCTS[rng.gen_range(0..PRODUCTS.len())];
    let price = rng.gen_range(product.price.0..=product.price.1) / 10 * 10;
    let quantity = if product.by_weight {
        Fvln {
            point: 3,
            mantissa: rng.gen_range(150..=2_500),
        }
    } else {
        Fvln {
            point: 0,
            mantissa: rng.gen_range(1..=4),
        }
    };
    let cost = div_round(
        price * quantity.mantissa,
        10u64.pow(u32::from(quantity.point)),
    );
    let vat_rate = VAT_RATES[rng.gen_range(0..VAT_RATES.len())].0;
    Item {
        name: product.name,
        price,
        quantity,
        cost,
        vat_rate,
    }
}

fn ffd_tag_value(ffd: Ffd) -> u8 {
    match ffd {
        Ffd::V105 => 2,
        Ffd::V11 => 3,
        Ffd::V12 => 4,
    }
}

fn string(w: &mut Writer, tag: u16, text: &str) -> anyhow::Result<()> {
    w.tlv_with::<anyhow::Error>(tag, |out| Ok(encode_string(text, out)?))?;
    Ok(())
}

fn money(w: &mut Writer, tag: u16, kopecks: u64) -> anyhow::Result<()> {
    w.tlv_with::<anyhow::Error>(tag, |out| Ok(encode_vln(kopecks, MONEY_VLN_LEN, out)?))?;
    Ok(())
}

/// Right-pad `text` with spaces to `width` characters, as fixed-width tags require.
fn pad(text: &str, width: usize) -> String {
    format!("{text:<width$}")
}

/// A 10-digit ИНН of a legal entity with a valid check digit, derived from `seed`.
pub fn legal_entity_inn(seed: u64) -> String {
    const WEIGHTS: [u32; 9] = [2, 4, 10, 3, 5, 9, 4, 6, 8];
    // Region 77 (Moscow), then seven digits from the seed.
    let body = format!("77{:07}", seed % 10_000_000);
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(digit, weight)| u32::from(digit - b'0') * weight)
        .sum();
    format!("{body}{}", sum % 11 % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inn_check_digit_matches_a_known_valid_inn() {
        // 7707083893 is a published legal-entity ИНН; its check digit is 3.
        const WEIGHTS: [u32; 9] = [2, 4, 10, 3, 5, 9, 4, 6, 8];
        let sum: u32 = "770708389"
            .bytes()
            .zip(WEIGHTS)
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum();
        assert_eq!(sum % 11 % 10, 3);
        assert_eq!(legal_entity_inn(708389), "7707083893");
    }
}
