//! Shift close, X/Z reports and cash deposits/withdrawals (spec §4.3), and the ZX report the
//! server computes from its own counters.

use super::common::{DateTime, Money, Operator};
use super::required::validate;

/// Close the shift (COMMAND_CLOSE_SHIFT); carries the register's Z-report.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct CloseShiftRequest {
    /// When the shift was closed (register's local time).
    #[prost(message, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_time: Option<DateTime>,
    /// Set when replayed after offline operation.
    #[prost(bool, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_offline: Option<bool>,
    /// The register's shift number.
    #[prost(uint32, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fr_shift_number: Option<u32>,
    /// Whether the drawer was emptied at close.
    #[prost(bool, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdraw_money: Option<bool>,
    /// The register's own Z-report (compared, never trusted).
    #[prost(message, optional, tag = "5")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub z_report: Option<ZxReport>,
    /// The cashier.
    #[prost(message, optional, tag = "6")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<Operator>,
    /// Printed document number.
    #[prost(uint64, optional, tag = "7")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub printed_document_number: Option<u64>,
}
validate!(CloseShiftRequest {
    req: [],
    req_msg: [close_time],
    opt_msg: [z_report, operator],
    rep_msg: []
});

/// Direction of a cash movement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MoneyPlacementEnum {
    /// Cash put into the drawer.
    Deposit = 0,
    /// Cash taken out of the drawer.
    Withdrawal = 1,
}

/// A cash deposit or withdrawal (COMMAND_MONEY_PLACEMENT).
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct MoneyPlacementRequest {
    /// When it happened.
    #[prost(message, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datetime: Option<DateTime>,
    /// A [`MoneyPlacementEnum`] value.
    #[prost(enumeration = "MoneyPlacementEnum", optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<i32>,
    /// Amount.
    #[prost(message, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sum: Option<Money>,
    /// Set when replayed after offline operation.
    #[prost(bool, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_offline: Option<bool>,
    /// The register's shift number.
    #[prost(uint32, optional, tag = "5")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fr_shift_number: Option<u32>,
    /// Printed document number.
    #[prost(uint64, optional, tag = "6")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub printed_document_number: Option<u64>,
    /// The cashier; required since 2.0.2.
    #[prost(message, optional, tag = "7")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<Operator>,
}
validate!(MoneyPlacementRequest {
    req: [operation],
    req_msg: [datetime, sum],
    opt_msg: [operator],
    rep_msg: []
});

/// Which report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ReportTypeEnum {
    /// Z-report (as a query; CLOSE_SHIFT is what closes the shift).
    ReportZ = 0,
    /// X-report: current counters, no state change.
    ReportX = 1,
}

/// Ask for an X or Z report (COMMAND_REPORT).
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ReportRequest {
    /// A [`ReportTypeEnum`] value.
    #[prost(enumeration = "ReportTypeEnum", optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<i32>,
    /// When it was asked for.
    #[prost(message, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_time: Option<DateTime>,
    /// Set when replayed after offline operation.
    #[prost(bool, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_offline: Option<bool>,
    /// The register's own report.
    #[prost(message, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zx_report: Option<ZxReport>,
}
validate!(ReportRequest {
    req: [report],
    req_msg: [date_time],
    opt_msg: [zx_report],
    rep_msg: []
});

/// The server's report (CLOSE_SHIFT, REPORT, INFO).
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ReportResponse {
    /// A [`ReportTypeEnum`] value.
    #[prost(enumeration = "ReportTypeEnum", optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<i32>,
    /// The counters.
    #[prost(message, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zx_report: Option<ZxReport>,
}
validate!(ReportResponse {
    req: [report],
    req_msg: [],
    opt_msg: [zx_report],
    rep_msg: []
});

/// Shift counters as an X (running) or Z (closing) report.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ZxReport {
    /// Report time.
    #[prost(message, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_time: Option<DateTime>,
    /// Shift number.
    #[prost(uint32, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shift_number: Option<u32>,
    /// Per-section operation totals.
    #[prost(message, repeated, tag = "3")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<ZxSection>,
    /// Per-operation totals.
    #[prost(message, repeated, tag = "4")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<ZxOperation>,
    /// Discount totals per operation.
    #[prost(message, repeated, tag = "5")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub discounts: Vec<ZxOperation>,
    /// Markup totals per operation.
    #[prost(message, repeated, tag = "6")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub markups: Vec<ZxOperation>,
    /// Net totals per operation.
    #[prost(message, repeated, tag = "7")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub total_result: Vec<ZxOperation>,
    /// Tax totals.
    #[prost(message, repeated, tag = "8")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub taxes: Vec<ZxTax>,
    /// Lifetime sums at the start of the shift.
    #[prost(message, repeated, tag = "9")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub start_shift_non_nullable_sums: Vec<NonNullableSum>,
    /// Receipt counts and sums per operation, with payments.
    #[prost(message, repeated, tag = "10")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ticket_operations: Vec<ZxTicketOperation>,
    /// Deposits and withdrawals.
    #[prost(message, repeated, tag = "11")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub money_placements: Vec<ZxMoneyPlacement>,
    /// Annulled receipts (deprecated in 2.0.3).
    #[prost(message, optional, tag = "12")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annulled_tickets: Option<ZxAnnulledTickets>,
    /// Cash in the drawer.
    #[prost(message, optional, tag = "13")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cash_sum: Option<Money>,
    /// Shift revenue.
    #[prost(message, optional, tag = "14")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revenue: Option<ZxRevenue>,
    /// Lifetime totals per operation.
    #[prost(message, repeated, tag = "15")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub non_nullable_sums: Vec<NonNullableSum>,
    /// When the shift opened (since 2.0.0).
    #[prost(message, optional, tag = "16")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_shift_time: Option<DateTime>,
    /// When the shift closed (since 2.0.0).
    #[prost(message, optional, tag = "17")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_shift_time: Option<DateTime>,
    /// Register-computed checksum; stored, not verified (algorithm unverified).
    #[prost(string, optional, tag = "18")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}
validate!(ZxReport {
    req: [shift_number],
    req_msg: [date_time, cash_sum, revenue],
    opt_msg: [annulled_tickets, open_shift_time, close_shift_time],
    rep_msg: [
        sections,
        operations,
        discounts,
        markups,
        total_result,
        taxes,
        start_shift_non_nullable_sums,
        ticket_operations,
        money_placements,
        non_nullable_sums,
    ],
});

/// `ZXReport.Operation`: count and sum of one operation type.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ZxOperation {
    /// An [`OperationTypeEnum`](super::OperationTypeEnum) value.
    #[prost(enumeration = "super::OperationTypeEnum", optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<i32>,
    /// Number of operations.
    #[prost(uint32, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Their sum.
    #[prost(message, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sum: Option<Money>,
}
validate!(ZxOperation {
    req: [operation, count],
    req_msg: [sum],
    opt_msg: [],
    rep_msg: []
});

/// `ZXReport.Section`: totals of one section.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ZxSection {
    /// Section code.
    #[prost(string, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section_code: Option<String>,
    /// Per-operation totals.
    #[prost(message, repeated, tag = "2")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<ZxOperation>,
}
validate!(ZxSection {
    req: [section_code],
    req_msg: [],
    opt_msg: [],
    rep_msg: [operations]
});

/// `ZXReport.Tax`: totals of one tax rate.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ZxTax {
    /// Tax kind; 100 is VAT.
    #[prost(uint32, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_type: Option<u32>,
    /// Rate (raw).
    #[prost(uint32, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<u32>,
    /// Per-operation turnover and tax.
    #[prost(message, repeated, tag = "3")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<ZxTaxOperation>,
}
validate!(ZxTax {
    req: [tax_type, percent],
    req_msg: [],
    opt_msg: [],
    rep_msg: [operations]
});

/// `ZXReport.Tax.TaxOperation`.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ZxTaxOperation {
    /// An [`OperationTypeEnum`](super::OperationTypeEnum) value.
    #[prost(enumeration = "super::OperationTypeEnum", optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<i32>,
    /// Taxable turnover.
    #[prost(message, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turnover: Option<Money>,
    /// Tax amount.
    #[prost(message, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sum: Option<Money>,
    /// Turnover without tax (since 2.0.0).
    #[prost(message, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turnover_without_tax: Option<Money>,
}
validate!(ZxTaxOperation {
    req: [operation],
    req_msg: [turnover, sum],
    opt_msg: [turnover_without_tax],
    rep_msg: [],
});

/// `ZXReport.NonNullableSum`: a lifetime total that never resets.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct NonNullableSum {
    /// An [`OperationTypeEnum`](super::OperationTypeEnum) value.
    #[prost(enumeration = "super::OperationTypeEnum", optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<i32>,
    /// The total.
    #[prost(message, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sum: Option<Money>,
}
validate!(NonNullableSum {
    req: [operation],
    req_msg: [sum],
    opt_msg: [],
    rep_msg: []
});

/// `ZXReport.TicketOperation`: receipts of one operation type.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ZxTicketOperation {
    /// An [`OperationTypeEnum`](super::OperationTypeEnum) value.
    #[prost(enumeration = "super::OperationTypeEnum", optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<i32>,
    /// Lifetime receipt count.
    #[prost(uint32, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tickets_total_count: Option<u32>,
    /// Receipts in this shift.
    #[prost(uint32, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tickets_count: Option<u32>,
    /// Their sum.
    #[prost(message, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tickets_sum: Option<Money>,
    /// Per payment type.
    #[prost(message, repeated, tag = "5")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub payments: Vec<ZxTicketPayment>,
    /// Receipts made offline (since 2.0.0).
    #[prost(uint32, optional, tag = "6")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offline_count: Option<u32>,
    /// Discounts (since 2.0.0).
    #[prost(message, optional, tag = "7")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount_sum: Option<Money>,
    /// Markups (since 2.0.0).
    #[prost(message, optional, tag = "8")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub markup_sum: Option<Money>,
    /// Change given (since 2.0.0).
    #[prost(message, optional, tag = "9")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_sum: Option<Money>,
}
validate!(ZxTicketOperation {
    req: [operation, tickets_total_count, tickets_count],
    req_msg: [tickets_sum],
    opt_msg: [discount_sum, markup_sum, change_sum],
    rep_msg: [payments],
});

/// `ZXReport.TicketOperation.Payment`.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ZxTicketPayment {
    /// A [`PaymentTypeEnum`](super::PaymentTypeEnum) value.
    #[prost(enumeration = "super::PaymentTypeEnum", optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<i32>,
    /// Sum paid this way.
    #[prost(message, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sum: Option<Money>,
    /// Number of payments.
    #[prost(uint32, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}
validate!(ZxTicketPayment {
    req: [payment],
    req_msg: [sum],
    opt_msg: [],
    rep_msg: []
});

/// `ZXReport.MoneyPlacement`: deposits or withdrawals.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ZxMoneyPlacement {
    /// A [`MoneyPlacementEnum`] value.
    #[prost(enumeration = "MoneyPlacementEnum", optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<i32>,
    /// Lifetime count.
    #[prost(uint32, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operations_total_count: Option<u32>,
    /// Count in this shift.
    #[prost(uint32, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operations_count: Option<u32>,
    /// Sum in this shift.
    #[prost(message, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operations_sum: Option<Money>,
    /// Offline ones (since 2.0.0).
    #[prost(uint32, optional, tag = "5")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offline_count: Option<u32>,
}
validate!(ZxMoneyPlacement {
    req: [operation, operations_total_count, operations_count],
    req_msg: [operations_sum],
    opt_msg: [],
    rep_msg: [],
});

/// `ZXReport.AnnulledTickets` (deprecated in 2.0.3).
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ZxAnnulledTickets {
    /// Lifetime count.
    #[prost(uint32, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annulled_tickets_total_count: Option<u32>,
    /// Count in this shift.
    #[prost(uint32, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annulled_tickets_count: Option<u32>,
    /// Per-operation totals.
    #[prost(message, repeated, tag = "3")]
    #[cfg_attr(test, proptest(strategy = "crate::kz::arb::small_vec()"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub annulled_operations: Vec<ZxOperation>,
}
validate!(ZxAnnulledTickets {
    req: [],
    req_msg: [],
    opt_msg: [],
    rep_msg: [annulled_operations]
});

/// `ZXReport.Revenue`: signed shift revenue.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ZxRevenue {
    /// Absolute value.
    #[prost(message, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sum: Option<Money>,
    /// Whether the revenue is negative.
    #[prost(bool, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_negative: Option<bool>,
}
validate!(ZxRevenue {
    req: [is_negative],
    req_msg: [sum],
    opt_msg: [],
    rep_msg: []
});
