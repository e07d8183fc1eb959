//! The receipt: `TicketRequest` and `TicketResponse` with their parts (spec §4.2).
//!
//! Nested proto messages (`Item.Commodity`, `Domain.Taxi` …) are flattened into prefixed Rust
//! names; nesting does not change the wire format.

use super::common::{DateTime, KeyValuePair, Money, Operator, TicketAdInfo};
use super::required::validate;

/// A receipt sent by the register (COMMAND_TICKET).
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct TicketRequest {
    /// An [`OperationTypeEnum`](super::OperationTypeEnum) value.
    #[prost(enumeration = "super::OperationTypeEnum", optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<i32>,
    /// When the receipt was made (register's local time; original time for offline receipts).
    #[prost(message, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_time: Option<DateTime>,
    /// The cashier.
    #[prost(message, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<Operator>,
    /// Line of business; required since 2.0.3.
    #[prost(message, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<Domain>,
    /// Receipt lines.
    #[prost(message, repeated, tag = "5")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<Item>,
    /// Payments.
    #[prost(message, repeated, tag = "6")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub payments: Vec<Payment>,
    /// Receipt-level taxes (exclusive with item-level taxes).
    #[prost(message, repeated, tag = "7")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub taxes: Vec<Tax>,
    /// Totals.
    #[prost(message, optional, tag = "8")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amounts: Option<Amounts>,
    /// Buyer contacts and extra attributes.
    #[prost(message, optional, tag = "9")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension_options: Option<ExtensionOptions>,
    /// Autonomous fiscal sign of a receipt made offline; 0 or absent when online.
    #[prost(uint32, optional, tag = "10")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offline_ticket_number: Option<u32>,
    /// Printed document number, for versions below 2.0.0.
    #[prost(string, optional, tag = "11")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub printed_document_number_old: Option<String>,
    /// Full receipt text, lines separated by `\n`.
    #[prost(string, optional, tag = "12")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub printed_ticket: Option<String>,
    /// Deprecated and ignored.
    #[prost(message, repeated, tag = "13")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ad_infos: Vec<TicketAdInfo>,
    /// The register's own shift number.
    #[prost(uint32, optional, tag = "14")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fr_shift_number: Option<u32>,
    /// Document number within the shift.
    #[prost(uint32, optional, tag = "15")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shift_document_number: Option<u32>,
    /// Printed document number (2.0.1–2.0.2; deprecated in 2.0.3).
    #[prost(uint64, optional, tag = "16")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub printed_document_number: Option<u64>,
    /// The receipt being returned; required since 2.0.3 for returns.
    #[prost(message, optional, tag = "17")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_ticket: Option<ParentTicket>,
}
validate!(TicketRequest {
    req: [operation],
    req_msg: [date_time, operator, amounts],
    opt_msg: [domain, extension_options, parent_ticket],
    rep_msg: [items, payments, taxes, ad_infos],
});

/// A tax on a receipt, an item or a modifier.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct Tax {
    /// Tax kind; 100 is VAT.
    #[prost(uint32, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_type: Option<u32>,
    /// Taxation regime, 100–103 (since 2.0.1).
    #[prost(uint32, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taxation_type: Option<u32>,
    /// Rate; the scale is unverified, so it is stored raw.
    #[prost(uint32, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<u32>,
    /// Tax amount.
    #[prost(message, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sum: Option<Money>,
    /// Whether the tax is included in the total.
    #[prost(bool, optional, tag = "5")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_in_total_sum: Option<bool>,
}
validate!(Tax {
    req: [tax_type, percent, is_in_total_sum],
    req_msg: [sum],
    opt_msg: [],
    rep_msg: [],
});

/// A markup, discount or their storno.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct Modifier {
    /// Label; required since 2.0.1.
    #[prost(string, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Amount.
    #[prost(message, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sum: Option<Money>,
    /// Taxes on the modifier.
    #[prost(message, repeated, tag = "3")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub taxes: Vec<Tax>,
    /// Extra attributes.
    #[prost(message, repeated, tag = "4")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auxiliary: Vec<KeyValuePair>,
}
validate!(Modifier {
    req: [],
    req_msg: [sum],
    opt_msg: [],
    rep_msg: [taxes, auxiliary]
});

/// Kind of a receipt line; only the matching sub-message of [`Item`] is present.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ItemTypeEnum {
    /// A sold or bought good or service.
    Commodity = 1,
    /// Cancellation of a commodity line.
    StornoCommodity = 2,
    /// A markup.
    Markup = 3,
    /// Cancellation of a markup.
    StornoMarkup = 4,
    /// A discount.
    Discount = 5,
    /// Cancellation of a discount.
    StornoDiscount = 6,
}

/// One receipt line.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct Item {
    /// An [`ItemTypeEnum`] value.
    #[prost(enumeration = "ItemTypeEnum", optional, tag = "1")]
    pub r#type: Option<i32>,
    /// Present for COMMODITY.
    #[prost(message, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commodity: Option<ItemCommodity>,
    /// Present for STORNO_COMMODITY.
    #[prost(message, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storno_commodity: Option<ItemStornoCommodity>,
    /// Present for MARKUP.
    #[prost(message, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub markup: Option<Modifier>,
    /// Present for STORNO_MARKUP.
    #[prost(message, optional, tag = "5")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storno_markup: Option<Modifier>,
    /// Present for DISCOUNT.
    #[prost(message, optional, tag = "6")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount: Option<Modifier>,
    /// Present for STORNO_DISCOUNT.
    #[prost(message, optional, tag = "7")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storno_discount: Option<Modifier>,
}
validate!(Item {
    req: [r#type],
    req_msg: [],
    opt_msg: [
        commodity,
        storno_commodity,
        markup,
        storno_markup,
        discount,
        storno_discount
    ],
    rep_msg: [],
});

/// `Item.Commodity`: a good or service on the receipt.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ItemCommodity {
    /// Goods code.
    #[prost(uint64, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u64>,
    /// Name; required since 2.0.1.
    #[prost(string, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Section (department) code.
    #[prost(string, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section_code: Option<String>,
    /// Quantity in thousandths (1 piece = 1000).
    #[prost(uint64, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u64>,
    /// Unit price.
    #[prost(message, optional, tag = "5")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<Money>,
    /// Line amount.
    #[prost(message, optional, tag = "6")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sum: Option<Money>,
    /// Item-level taxes.
    #[prost(message, repeated, tag = "7")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub taxes: Vec<Tax>,
    /// Excise stamp (deprecated in 2.0.3).
    #[prost(string, optional, tag = "8")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excise_stamp: Option<String>,
    /// Extra attributes.
    #[prost(message, repeated, tag = "9")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auxiliary: Vec<KeyValuePair>,
    /// Physical label.
    #[prost(string, optional, tag = "10")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub physical_label: Option<String>,
    /// Product id.
    #[prost(string, optional, tag = "11")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// Barcode.
    #[prost(string, optional, tag = "12")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub barcode: Option<String>,
    /// Unit of measure (OKEI code, e.g. "796"); required since 2.0.1.
    #[prost(string, optional, tag = "13")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measure_unit_code: Option<String>,
    /// Excise stamps (since 2.0.3).
    #[prost(string, repeated, tag = "14")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub list_excise_stamp: Vec<String>,
    /// National catalogue id (since 2.0.3).
    #[prost(string, optional, tag = "15")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ntin: Option<String>,
}
validate!(ItemCommodity {
    req: [section_code, quantity],
    req_msg: [price, sum],
    opt_msg: [],
    rep_msg: [taxes, auxiliary],
});

/// `Item.StornoCommodity`: the commodity fields without `code`, each numbered one lower.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ItemStornoCommodity {
    /// Name.
    #[prost(string, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Section (department) code.
    #[prost(string, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section_code: Option<String>,
    /// Quantity in thousandths.
    #[prost(uint64, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u64>,
    /// Unit price.
    #[prost(message, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<Money>,
    /// Line amount.
    #[prost(message, optional, tag = "5")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sum: Option<Money>,
    /// Item-level taxes.
    #[prost(message, repeated, tag = "6")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub taxes: Vec<Tax>,
    /// Excise stamp (deprecated in 2.0.3).
    #[prost(string, optional, tag = "7")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excise_stamp: Option<String>,
    /// Extra attributes.
    #[prost(message, repeated, tag = "8")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auxiliary: Vec<KeyValuePair>,
    /// Physical label.
    #[prost(string, optional, tag = "9")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub physical_label: Option<String>,
    /// Product id.
    #[prost(string, optional, tag = "10")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// Barcode.
    #[prost(string, optional, tag = "11")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub barcode: Option<String>,
    /// Unit of measure.
    #[prost(string, optional, tag = "12")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measure_unit_code: Option<String>,
    /// Excise stamps.
    #[prost(string, repeated, tag = "13")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub list_excise_stamp: Vec<String>,
    /// National catalogue id.
    #[prost(string, optional, tag = "14")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ntin: Option<String>,
}
validate!(ItemStornoCommodity {
    req: [section_code, quantity],
    req_msg: [price, sum],
    opt_msg: [],
    rep_msg: [taxes, auxiliary],
});

/// Line of business and its specific attributes.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct Domain {
    /// A [`DomainTypeEnum`](super::DomainTypeEnum) value; required since 2.0.3.
    #[prost(enumeration = "super::DomainTypeEnum", optional, tag = "1")]
    pub r#type: Option<i32>,
    /// Services attributes.
    #[prost(message, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services: Option<DomainServices>,
    /// Fuel station attributes.
    #[prost(message, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gasoil: Option<DomainGasoil>,
    /// Taxi attributes.
    #[prost(message, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taxi: Option<DomainTaxi>,
    /// Parking attributes.
    #[prost(message, optional, tag = "5")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parking: Option<DomainParking>,
}
validate!(Domain {
    req: [],
    req_msg: [],
    opt_msg: [services, gasoil, taxi, parking],
    rep_msg: []
});

/// `Domain.Services`.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DomainServices {
    /// Customer account number.
    #[prost(string, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_number: Option<String>,
}
validate!(DomainServices {
    req: [account_number],
    req_msg: [],
    opt_msg: [],
    rep_msg: []
});

/// `Domain.Gasoil`.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DomainGasoil {
    /// Correction number.
    #[prost(string, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correction_number: Option<String>,
    /// Correction amount.
    #[prost(message, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correction_sum: Option<Money>,
    /// Fuel card number.
    #[prost(string, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_number: Option<String>,
}
validate!(DomainGasoil {
    req: [],
    req_msg: [],
    opt_msg: [correction_sum],
    rep_msg: []
});

/// `Domain.Taxi`.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DomainTaxi {
    /// Car registration number.
    #[prost(string, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub car_number: Option<String>,
    /// Whether the ride was ordered in advance.
    #[prost(bool, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_order: Option<bool>,
    /// Current fee.
    #[prost(message, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_fee: Option<Money>,
}
validate!(DomainTaxi {
    req: [car_number, is_order],
    req_msg: [current_fee],
    opt_msg: [],
    rep_msg: []
});

/// `Domain.Parking`.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DomainParking {
    /// Start of parking.
    #[prost(message, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub begin_time: Option<DateTime>,
    /// End of parking.
    #[prost(message, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<DateTime>,
}
validate!(DomainParking {
    req: [],
    req_msg: [begin_time, end_time],
    opt_msg: [],
    rep_msg: []
});

/// Buyer contacts and extra attributes.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ExtensionOptions {
    /// Buyer's e-mail.
    #[prost(string, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_email: Option<String>,
    /// Buyer's phone.
    #[prost(string, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_phone: Option<String>,
    /// Extra attributes.
    #[prost(message, repeated, tag = "3")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auxiliary: Vec<KeyValuePair>,
    /// Buyer's IIN/BIN (since 2.0.1).
    #[prost(string, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_iin_or_bin: Option<String>,
}
validate!(ExtensionOptions {
    req: [],
    req_msg: [],
    opt_msg: [],
    rep_msg: [auxiliary]
});

/// One payment on a receipt.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct Payment {
    /// A [`PaymentTypeEnum`](super::PaymentTypeEnum) value.
    #[prost(enumeration = "super::PaymentTypeEnum", optional, tag = "1")]
    pub r#type: Option<i32>,
    /// Amount paid this way.
    #[prost(message, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sum: Option<Money>,
    /// Card terminal details (since 2.0.3).
    #[prost(message, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_payment_fields: Option<PaymentCardFields>,
    /// Mobile payment details (since 2.0.3).
    #[prost(message, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile_payment_fields: Option<PaymentMobileFields>,
}
validate!(Payment {
    req: [r#type],
    req_msg: [sum],
    opt_msg: [card_payment_fields, mobile_payment_fields],
    rep_msg: [],
});

/// `Payment.CardPaymentFields`.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct PaymentCardFields {
    /// POS terminal id.
    #[prost(string, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pos_terminal_id: Option<String>,
    /// Card type.
    #[prost(string, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pos_card_type: Option<String>,
    /// Authorisation code (spelled as in the spec).
    #[prost(uint32, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pos_autorization_code: Option<u32>,
    /// Retrieval reference number.
    #[prost(uint64, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pos_rrn: Option<u64>,
    /// Terminal receipt number.
    #[prost(uint32, optional, tag = "5")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pos_receipt_number: Option<u32>,
}
validate!(PaymentCardFields {
    req: [],
    req_msg: [],
    opt_msg: [],
    rep_msg: []
});

/// `Payment.MobilePaymentFields`.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct PaymentMobileFields {
    /// QR type.
    #[prost(string, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_type: Option<String>,
    /// QR id.
    #[prost(string, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_id: Option<String>,
}
validate!(PaymentMobileFields {
    req: [],
    req_msg: [],
    opt_msg: [],
    rep_msg: []
});

/// Receipt totals.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct Amounts {
    /// Amount due.
    #[prost(message, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<Money>,
    /// Amount handed over by the buyer.
    #[prost(message, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taken: Option<Money>,
    /// Change returned.
    #[prost(message, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<Money>,
    /// Receipt-level markup (exclusive with `discount`).
    #[prost(message, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub markup: Option<Modifier>,
    /// Receipt-level discount.
    #[prost(message, optional, tag = "5")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount: Option<Modifier>,
}
validate!(Amounts {
    req: [],
    req_msg: [total],
    opt_msg: [taken, change, markup, discount],
    rep_msg: []
});

/// The receipt a return refers to.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ParentTicket {
    /// Fiscal sign of the original receipt.
    #[prost(string, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_ticket_number: Option<String>,
    /// Time of the original receipt ("data" is the spec's spelling).
    #[prost(message, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_ticket_data_time: Option<DateTime>,
    /// RNM of the register that made the original.
    #[prost(string, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kgd_kkm_id: Option<String>,
    /// Total of the original receipt.
    #[prost(message, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_ticket_total: Option<Money>,
    /// Whether the original was made offline.
    #[prost(bool, optional, tag = "5")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_ticket_is_offline: Option<bool>,
}
validate!(ParentTicket {
    req: [parent_ticket_number, kgd_kkm_id, parent_ticket_is_offline],
    req_msg: [parent_ticket_data_time, parent_ticket_total],
    opt_msg: [],
    rep_msg: [],
});

/// The OFD's answer to a receipt: the fiscal sign and the check URL.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct TicketResponse {
    /// Fiscal sign assigned by the OFD, decimal digits.
    #[prost(string, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket_number: Option<String>,
    /// Receipt check URL (UTF-8 bytes).
    #[prost(bytes = "vec", optional, tag = "2")]
    #[serde(serialize_with = "crate::kz::json::bytes_as_text")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_code: Option<Vec<u8>>,
}
validate!(TicketResponse {
    req: [ticket_number],
    req_msg: [],
    opt_msg: [],
    rep_msg: []
});
