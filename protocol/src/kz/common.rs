//! Types shared by several KZ messages (spec §4.1): dates, money, operators, key/value pairs and
//! the small enums.
//!
//! Enum-typed fields are stored as `i32` (prost's `enumeration` attribute) so that a value this
//! build does not know survives decode and re-encode unchanged.

use super::required::validate;

/// A calendar date in the register's local (Almaty) time.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct Date {
    /// Four-digit year.
    #[prost(uint32, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub year: Option<u32>,
    /// Month, 1–12.
    #[prost(uint32, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub month: Option<u32>,
    /// Day of month.
    #[prost(uint32, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<u32>,
}
validate!(Date {
    req: [year, month, day],
    req_msg: [],
    opt_msg: [],
    rep_msg: []
});

/// A wall-clock time of day.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct Time {
    /// Hour, 0–23.
    #[prost(uint32, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hour: Option<u32>,
    /// Minute, 0–59.
    #[prost(uint32, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minute: Option<u32>,
    /// Second, 0–59; optional on the wire.
    #[prost(uint32, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub second: Option<u32>,
}
validate!(Time {
    req: [hour, minute],
    req_msg: [],
    opt_msg: [],
    rep_msg: []
});

/// Local date and time without a zone (the register's clock).
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DateTime {
    /// The date part.
    #[prost(message, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<Date>,
    /// The time part.
    #[prost(message, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<Time>,
}
validate!(DateTime {
    req: [],
    req_msg: [date, time],
    opt_msg: [],
    rep_msg: []
});

/// An amount of money: whole tenge plus tiyn (hundredths).
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct Money {
    /// Whole tenge.
    #[prost(uint64, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bills: Option<u64>,
    /// Tiyn, 0–99.
    #[prost(uint32, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coins: Option<u32>,
}
validate!(Money {
    req: [bills, coins],
    req_msg: [],
    opt_msg: [],
    rep_msg: []
});

/// The cashier who made a document.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct Operator {
    /// Operator code in the register.
    #[prost(uint32, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u32>,
    /// Display name.
    #[prost(string, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}
validate!(Operator {
    req: [code],
    req_msg: [],
    opt_msg: [],
    rep_msg: []
});

/// A free-form key/value attribute.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct KeyValuePair {
    /// The key.
    #[prost(string, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The value.
    #[prost(string, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}
validate!(KeyValuePair {
    req: [key],
    req_msg: [],
    opt_msg: [],
    rep_msg: []
});

/// Identifies one advertising text block and its version.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct TicketAdInfo {
    /// A [`TicketAdTypeEnum`] value.
    #[prost(enumeration = "TicketAdTypeEnum", optional, tag = "1")]
    pub r#type: Option<i32>,
    /// Version of the text block.
    #[prost(uint64, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}
validate!(TicketAdInfo {
    req: [r#type, version],
    req_msg: [],
    opt_msg: [],
    rep_msg: []
});

/// An advertising text block printed on receipts.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct TicketAd {
    /// Which block and version.
    #[prost(message, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<TicketAdInfo>,
    /// The text.
    #[prost(string, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}
validate!(TicketAd {
    req: [text],
    req_msg: [info],
    opt_msg: [],
    rep_msg: []
});

/// Line of business of a receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum DomainTypeEnum {
    /// Retail.
    Trading = 0,
    /// Services.
    Services = 1,
    /// Fuel stations.
    Gasoil = 2,
    /// Hotels.
    Hotels = 3,
    /// Taxi.
    Taxi = 4,
    /// Parking.
    Parking = 5,
}

/// Kind of a fiscal operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum OperationTypeEnum {
    /// Purchase from a customer.
    Buy = 0,
    /// Return of a purchase.
    BuyReturn = 1,
    /// Sale to a customer.
    Sell = 2,
    /// Return of a sale.
    SellReturn = 3,
}

/// Means of payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum PaymentTypeEnum {
    /// Cash (changes the drawer).
    Cash = 0,
    /// Bank card.
    Card = 1,
    /// Credit (deprecated in 2.0.3).
    Credit = 2,
    /// Tare (deprecated in 2.0.3).
    Tare = 3,
    /// Mobile payment.
    Mobile = 4,
}

/// Role of a cashier account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum UserRoleEnum {
    /// Cashier.
    Paymaster = 1,
    /// Senior cashier.
    ChiefPaymaster = 2,
    /// Administrator.
    Administrator = 3,
}

/// Owner of an advertising block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum TicketAdTypeEnum {
    /// The OFD.
    Ofd = 0,
    /// The organisation.
    Org = 1,
    /// The point of sale.
    Pos = 2,
    /// The register.
    Kkm = 3,
    /// Information.
    Info = 4,
}
