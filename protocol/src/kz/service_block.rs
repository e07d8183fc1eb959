//! The service block that may accompany any command, registration info, cashier login and the
//! taxation binding (spec §4.4–4.5).
//!
//! Note the asymmetry the spec calls out: in the request's `RegInfo` the organisation is field 2,
//! in the response's it is field 3 (2 is the point of sale). They are two Rust types.

use super::common::{DateTime, KeyValuePair, TicketAd, TicketAdInfo};
use super::required::validate;

/// Service data from the register (any command).
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ServiceRequest {
    /// Link quality statistics.
    #[prost(message, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comm_quality: Option<CommQuality>,
    /// Location and OS.
    #[prost(message, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_stats: Option<SecurityStats>,
    /// Offline interval; online registers send begin = end = now (required since 2.0.1).
    #[prost(message, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offline_period: Option<OfflinePeriod>,
    /// Catalogue version the register has.
    #[prost(uint32, optional, tag = "5")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nomenclature_version: Option<u32>,
    /// Advertising blocks the register has.
    #[prost(message, repeated, tag = "6")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ticket_ad_infos: Vec<TicketAdInfo>,
    /// Ask for registration info in the response.
    #[prost(bool, optional, tag = "7")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub get_reg_info: Option<bool>,
    /// Ask for the taxation binding in the response.
    #[prost(bool, optional, tag = "8")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub get_binded_taxation: Option<bool>,
    /// Deprecated in 2.0.3.
    #[prost(uint64, optional, tag = "9")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<u64>,
    /// Legacy opaque software info.
    #[prost(bytes = "vec", optional, tag = "10")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_information_old: Option<Vec<u8>>,
    /// Software and hardware of the register.
    #[prost(message, optional, tag = "11")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_information: Option<SoftwareInformation>,
    /// Registration data as the register knows it.
    #[prost(message, optional, tag = "12")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reg_info: Option<RegInfoRequest>,
    /// Extra attributes.
    #[prost(message, repeated, tag = "60")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auxiliary: Vec<KeyValuePair>,
}
validate!(ServiceRequest {
    req: [],
    req_msg: [],
    opt_msg: [
        comm_quality,
        security_stats,
        offline_period,
        software_information,
        reg_info
    ],
    rep_msg: [ticket_ad_infos, auxiliary],
});

/// Link quality statistics.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct CommQuality {
    /// Average connect time.
    #[prost(uint32, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avg_connect_time: Option<u32>,
    /// Average ping.
    #[prost(uint32, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avg_ping: Option<u32>,
    /// Loss ratio.
    #[prost(uint32, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_ratio: Option<u32>,
}
validate!(CommQuality {
    req: [avg_connect_time],
    req_msg: [],
    opt_msg: [],
    rep_msg: []
});

/// Location and OS of the register.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct SecurityStats {
    /// Location.
    #[prost(message, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geo_position: Option<GeoPosition>,
    /// OS version (deprecated).
    #[prost(string, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
}
validate!(SecurityStats {
    req: [],
    req_msg: [],
    opt_msg: [geo_position],
    rep_msg: []
});

/// A location; the scale is unverified, so values are stored raw.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct GeoPosition {
    /// Latitude (signed).
    #[prost(int32, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latitude: Option<i32>,
    /// Longitude (signed).
    #[prost(int32, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub longitude: Option<i32>,
    /// Where the fix came from; required since 2.0.3.
    #[prost(string, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}
validate!(GeoPosition {
    req: [latitude, longitude],
    req_msg: [],
    opt_msg: [],
    rep_msg: []
});

/// The interval a register worked offline.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct OfflinePeriod {
    /// First offline document time.
    #[prost(message, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub begin_time: Option<DateTime>,
    /// End of the interval (now, for a replay).
    #[prost(message, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<DateTime>,
}
validate!(OfflinePeriod {
    req: [],
    req_msg: [begin_time, end_time],
    opt_msg: [],
    rep_msg: []
});

/// Software and hardware of the register.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct SoftwareInformation {
    /// Installed modules.
    #[prost(message, repeated, tag = "1")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub module_infos: Vec<ModuleInformation>,
    /// CPU architecture.
    #[prost(string, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hardware_arch: Option<String>,
    /// OS family.
    #[prost(string, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_family: Option<String>,
    /// OS version.
    #[prost(string, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    /// OS details.
    #[prost(string, optional, tag = "5")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_extended_info: Option<String>,
    /// Runtime version.
    #[prost(string, optional, tag = "6")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_version: Option<String>,
    /// Software partner id.
    #[prost(uint32, optional, tag = "7")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<u32>,
}
validate!(SoftwareInformation {
    req: [],
    req_msg: [],
    opt_msg: [],
    rep_msg: [module_infos]
});

/// One software module of the register.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ModuleInformation {
    /// Module name.
    #[prost(string, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Module version.
    #[prost(string, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Build info.
    #[prost(string, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_info: Option<String>,
    /// Device the module drives.
    #[prost(message, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_info: Option<DeviceInformation>,
    /// Extra attributes.
    #[prost(message, repeated, tag = "5")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extended_info: Vec<KeyValuePair>,
    /// Build architecture.
    #[prost(string, optional, tag = "6")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_arch: Option<String>,
}
validate!(ModuleInformation {
    req: [name, version],
    req_msg: [],
    opt_msg: [device_info],
    rep_msg: [extended_info],
});

/// `ModuleInformation.DeviceInformation`.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct DeviceInformation {
    /// Manufacturer.
    #[prost(string, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    /// Model.
    #[prost(string, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Firmware version.
    #[prost(string, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firmware_version: Option<String>,
}
validate!(DeviceInformation {
    req: [],
    req_msg: [],
    opt_msg: [],
    rep_msg: []
});

/// Registration data sent by the register (organisation is field 2).
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct RegInfoRequest {
    /// The register.
    #[prost(message, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kkm: Option<KkmRegInfo>,
    /// The organisation.
    #[prost(message, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<OrgRegInfo>,
}
validate!(RegInfoRequest {
    req: [],
    req_msg: [],
    opt_msg: [],
    rep_msg: []
});

/// Registration data sent by the OFD (point of sale is 2, organisation is 3).
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct RegInfoResponse {
    /// The register.
    #[prost(message, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kkm: Option<KkmRegInfo>,
    /// The point of sale.
    #[prost(message, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pos: Option<PosRegInfo>,
    /// The organisation.
    #[prost(message, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<OrgRegInfo>,
}
validate!(RegInfoResponse {
    req: [],
    req_msg: [],
    opt_msg: [],
    rep_msg: []
});

/// Register identity.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct KkmRegInfo {
    /// Point of payment number.
    #[prost(string, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub point_of_payment_number: Option<String>,
    /// Terminal number.
    #[prost(string, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminal_number: Option<String>,
    /// RNM issued by KGD.
    #[prost(string, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fns_kkm_id: Option<String>,
    /// Factory serial number.
    #[prost(string, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// OFD system id as a string (= header id).
    #[prost(string, optional, tag = "5")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kkm_id: Option<String>,
}

/// Point of sale.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct PosRegInfo {
    /// Name.
    #[prost(string, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Address.
    #[prost(string, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Address in Kazakh (since 2.0.3).
    #[prost(string, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_kz: Option<String>,
    /// Latitude (unsigned here, unlike GeoPosition).
    #[prost(uint32, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latitude: Option<u32>,
    /// Longitude (since 2.0.3).
    #[prost(uint32, optional, tag = "5")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub longitude: Option<u32>,
}

/// Organisation.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct OrgRegInfo {
    /// Name.
    #[prost(string, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Address.
    #[prost(string, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// IIN/BIN.
    #[prost(string, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inn: Option<String>,
    /// Unused.
    #[prost(uint32, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taxation_type: Option<u32>,
    /// Activity code.
    #[prost(string, optional, tag = "5")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub okved: Option<String>,
    /// Address in Kazakh (since 2.0.3).
    #[prost(string, optional, tag = "6")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_kz: Option<String>,
    /// Unused.
    #[prost(int32, optional, tag = "7")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<i32>,
}

/// Service data from the OFD.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ServiceResponse {
    /// Advertising blocks to print.
    #[prost(message, repeated, tag = "1")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ticket_ads: Vec<TicketAd>,
    /// Registration data (when asked for, and on INFO).
    #[prost(message, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reg_info: Option<RegInfoResponse>,
    /// Taxation binding (when asked for).
    #[prost(message, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binded_taxation: Option<BindedTaxation>,
    /// The last document the OFD has from this register.
    #[prost(message, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_document_info: Option<LastDocumentInfo>,
    /// Extra attributes.
    #[prost(message, repeated, tag = "30")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auxiliary: Vec<KeyValuePair>,
}
validate!(ServiceResponse {
    req: [],
    req_msg: [],
    opt_msg: [reg_info, binded_taxation, last_document_info],
    rep_msg: [ticket_ads, auxiliary],
});

/// `ServiceResponse.LastDocumentInfo`.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct LastDocumentInfo {
    /// The register's shift number of the last document.
    #[prost(uint32, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fr_shift_number: Option<u32>,
    /// Its printed number.
    #[prost(uint64, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub printed_document_number: Option<u64>,
}
validate!(LastDocumentInfo {
    req: [fr_shift_number],
    req_msg: [],
    opt_msg: [],
    rep_msg: []
});

/// Which taxation regime and rates the register is bound to.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct BindedTaxation {
    /// Taxation regime, 100–103.
    #[prost(uint32, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taxation_type: Option<u32>,
    /// Taxes and rates.
    #[prost(message, repeated, tag = "2")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub taxes: Vec<BindedTax>,
}
validate!(BindedTaxation {
    req: [taxation_type],
    req_msg: [],
    opt_msg: [],
    rep_msg: [taxes]
});

/// `BindedTaxation.BindedTax`.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct BindedTax {
    /// Tax kind.
    #[prost(uint32, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_type: Option<u32>,
    /// Rate (raw).
    #[prost(uint32, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<u32>,
}
validate!(BindedTax {
    req: [tax_type, percent],
    req_msg: [],
    opt_msg: [],
    rep_msg: []
});

/// Cashier login (COMMAND_AUTH).
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AuthRequest {
    /// Login.
    #[prost(string, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    /// Password (never logged, never stored in clear).
    #[prost(string, optional, tag = "2")]
    #[serde(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}
validate!(AuthRequest {
    req: [login, password],
    req_msg: [],
    opt_msg: [],
    rep_msg: []
});

/// Result of a cashier login.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum AuthResultTypeEnum {
    /// Logged in.
    Ok = 0,
    /// Wrong login or password.
    InvalidLoginPassword = 1,
}

/// Answer to a cashier login.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct AuthResponse {
    /// An [`AuthResultTypeEnum`] value.
    #[prost(enumeration = "AuthResultTypeEnum", optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<i32>,
    /// The cashier's operator code.
    #[prost(uint32, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator_code: Option<u32>,
    /// The cashier's name.
    #[prost(string, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator_name: Option<String>,
    /// [`UserRoleEnum`](super::UserRoleEnum) values; encoded unpacked as proto2 does, decoded
    /// either way.
    #[prost(
        enumeration = "super::UserRoleEnum",
        repeated,
        packed = "false",
        tag = "4"
    )]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<i32>,
}
validate!(AuthResponse {
    req: [result],
    req_msg: [],
    opt_msg: [],
    rep_msg: []
});
