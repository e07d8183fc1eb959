//! One stored document → the read model's view of it, for both dialects. Pure: bytes in, a
//! [`Projected`] out; no database, no clock.
//!
//! RU documents are decoded from the stored container bytes with `ofd-protocol` (tags by number,
//! never by JSON name): forms 1, 11 (registration and its change), 2 and 5 (shift open and
//! close), 21 (state report), 3 and 31 (receipt and correction), 4 and 41 (БСО and its
//! correction), 6 (drive closed). KZ documents are decoded from the stored request frame: tickets
//! (command 1), shift close (2, with the Z report the server answered), X reports (3), money
//! placements (6). Money is in minor units; times are register-local naive seconds.

use chrono::NaiveDate;
use ofd_protocol::kz::{
    self, CommandTypeEnum, Money, OperationTypeEnum, PaymentTypeEnum, ZxReport,
};
use ofd_protocol::ru::document::{find, Item, Value};
use ofd_protocol::ru::{Container, Document};
use prost::Message as _;

pub use crate::store::reports::{DocumentLine as Line, Operation, KINDS};

/// A shift event a document is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShiftEvent {
    /// Opens the shift.
    Open,
    /// Closes it, with the register's own counters.
    Close,
}

/// The counters of a close report (Z report).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ZCounters {
    /// Receipts in the shift (RU 1118; KZ sum of ticket counts).
    pub receipts: Option<i64>,
    /// Sales total (RU 1194/1129/1201; KZ sell tickets' sum).
    pub sales: Option<i64>,
    /// Refunds total (RU 1194/1130/1201; KZ sell-return tickets' sum).
    pub refunds: Option<i64>,
}

/// What an RU drive says of the documents it has not sent: count (tag 1097), time of the oldest
/// (1098) and number of the first (1116).
pub type UnsentReport = (i64, Option<i64>, Option<i64>);

/// What the read tables hold of one document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Projected {
    /// One of [`KINDS`].
    pub kind: &'static str,
    /// Shift number as the document states it.
    pub shift_number: Option<i64>,
    /// Receipts only.
    pub operation: Option<Operation>,
    /// Document time (local naive seconds).
    pub doc_time: Option<i64>,
    /// Receipt total.
    pub total: i64,
    /// Paid in cash.
    pub cash: i64,
    /// Paid electronically (card, mobile).
    pub card: i64,
    /// Prepayment set off.
    pub prepaid: i64,
    /// Credit (postpayment).
    pub credit: i64,
    /// Any other form (counter-provision, tare).
    pub other_payment: i64,
    /// Cashier's name (or KZ operator code).
    pub cashier: Option<String>,
    /// Printed fiscal sign (RU ФП; KZ the ticket number).
    pub fiscal_sign: Option<String>,
    /// RU drive's unsent documents, from its shift and state reports.
    pub unsent: Option<UnsentReport>,
    /// Receipt lines.
    pub lines: Vec<Line>,
    /// Shift open or close.
    pub shift_event: Option<ShiftEvent>,
    /// The close report's counters (a KZ X report's own, for `kz_x_report`).
    pub z: Option<ZCounters>,
    /// Counts as a receipt of its shift (RU 1118 counts receipts, corrections and БСО).
    pub is_receipt: bool,
}

fn int(value: Option<&Value<'_>>) -> Option<i64> {
    value
        .and_then(Value::as_u64)
        .and_then(|v| i64::try_from(v).ok())
}

fn text(value: Option<&Value<'_>>) -> Option<String> {
    value
        .and_then(Value::text)
        .map(|t| t.trim_end_matches(['\0', ' ']).to_owned())
        .filter(|t| !t.is_empty())
}

fn stlv<'v, 'a>(items: &'v [Item<'a>], tag: u16) -> Option<&'v [Item<'a>]> {
    match find(items, tag) {
        Some(Value::Stlv(children)) => Some(children),
        _ => None,
    }
}

/// RU VAT rate code (tag 1199) as printed.
fn ru_vat_rate(code: i64) -> String {
    match code {
        1 => "20%",
        2 => "10%",
        3 => "20/120",
        4 => "10/110",
        5 => "0%",
        6 => "none",
        7 => "5%",
        8 => "7%",
        9 => "5/105",
        10 => "7/107",
        _ => return format!("code {code}"),
    }
    .to_owned()
}

/// Project a stored RU document from its container bytes.
pub fn project_ru(raw: &[u8]) -> Result<Projected, String> {
    let container = Container::decode(raw).map_err(|e| format!("container: {e}"))?;
    let document = Document::decode(container.document).map_err(|e| format!("document: {e}"))?;
    let items = &document.items;
    let (kind, is_receipt) = match document.form {
        1 => ("registration", false),
        11 => ("registration_change", false),
        2 => ("open_shift", false),
        21 => ("state_report", false),
        3 => ("receipt", true),
        31 => ("correction", true),
        4 => ("bso", true),
        41 => ("bso_correction", true),
        5 => ("close_shift", false),
        6 => ("close_fn", false),
        _ => ("other", false),
    };
    let mut projected = Projected {
        kind,
        is_receipt,
        shift_number: int(find(items, 1038)),
        doc_time: int(find(items, 1012)),
        cashier: text(find(items, 1021)),
        fiscal_sign: document.fiscal_sign().map(|s| s.to_string()),
        ..Projected::default()
    };
    if is_receipt {
        projected.operation = match int(find(items, 1054)) {
            Some(1) => Some(Operation::Sale),
            Some(2) => Some(Operation::Refund),
            Some(3) => Some(Operation::Expense),
            Some(4) => Some(Operation::ExpenseRefund),
            _ => None,
        };
        projected.total = int(find(items, 1020)).unwrap_or(0);
        projected.cash = int(find(items, 1031)).unwrap_or(0);
        projected.card = int(find(items, 1081)).unwrap_or(0);
        projected.prepaid = int(find(items, 1215)).unwrap_or(0);
        projected.credit = int(find(items, 1216)).unwrap_or(0);
        projected.other_payment = int(find(items, 1217)).unwrap_or(0);
        for item in items.iter().filter(|i| i.tag == 1059) {
            let Value::Stlv(fields) = &item.value else {
                continue;
            };
            let quantity = match find(fields, 1023) {
                Some(Value::Fvln(q)) => q.to_string(),
                other => int(other).map_or_else(|| "1".to_owned(), |q| q.to_string()),
            };
            projected.lines.push(Line {
                name: text(find(fields, 1030)).unwrap_or_default(),
                price: int(find(fields, 1079)).unwrap_or(0),
                quantity,
                amount: int(find(fields, 1043)).unwrap_or(0),
                vat_rate: int(find(fields, 1199)).map(ru_vat_rate),
                vat_amount: int(find(fields, 1200)),
            });
        }
    }
    match document.form {
        2 => projected.shift_event = Some(ShiftEvent::Open),
        5 => {
            projected.shift_event = Some(ShiftEvent::Close);
            let totals = stlv(items, 1194);
            let sum_of = |counter: u16| {
                totals
                    .and_then(|t| stlv(t, counter))
                    .and_then(|c| int(find(c, 1201)))
            };
            projected.z = Some(ZCounters {
                receipts: int(find(items, 1118)),
                sales: sum_of(1129),
                refunds: sum_of(1130),
            });
        }
        _ => {}
    }
    if let Some(count) = int(find(items, 1097)) {
        projected.unsent = Some((count, int(find(items, 1098)), int(find(items, 1116))));
    }
    Ok(projected)
}

/// KZ money in tiyn.
fn tiyn(money: Option<&Money>) -> i64 {
    money.map_or(0, |m| {
        i64::try_from(m.bills.unwrap_or(0))
            .unwrap_or(i64::MAX / 200)
            .saturating_mul(100)
            .saturating_add(i64::from(m.coins.unwrap_or(0)))
    })
}

/// KZ date and time → local naive seconds.
fn kz_time(value: Option<&kz::DateTime>) -> Option<i64> {
    let value = value?;
    let date = value.date.as_ref()?;
    let time = value.time.as_ref();
    let naive = NaiveDate::from_ymd_opt(i32::try_from(date.year?).ok()?, date.month?, date.day?)?
        .and_hms_opt(
        time.and_then(|t| t.hour).unwrap_or(0),
        time.and_then(|t| t.minute).unwrap_or(0),
        time.and_then(|t| t.second).unwrap_or(0),
    )?;
    Some(naive.and_utc().timestamp())
}

fn kz_operation(code: Option<i32>) -> Option<Operation> {
    match code.and_then(|c| OperationTypeEnum::try_from(c).ok())? {
        OperationTypeEnum::Sell => Some(Operation::Sale),
        OperationTypeEnum::SellReturn => Some(Operation::Refund),
        OperationTypeEnum::Buy => Some(Operation::Expense),
        OperationTypeEnum::BuyReturn => Some(Operation::ExpenseRefund),
    }
}

fn z_of_report(report: &ZxReport) -> ZCounters {
    let mut z = ZCounters {
        receipts: Some(0),
        sales: Some(0),
        refunds: Some(0),
    };
    for operation in &report.ticket_operations {
        let count = i64::from(operation.tickets_count.unwrap_or(0));
        z.receipts = z.receipts.map(|r| r + count);
        let sum = tiyn(operation.tickets_sum.as_ref());
        match kz_operation(operation.operation) {
            Some(Operation::Sale) => z.sales = z.sales.map(|s| s + sum),
            Some(Operation::Refund) => z.refunds = z.refunds.map(|s| s + sum),
            _ => {}
        }
    }
    z
}

/// What the projector knows of a KZ ticket beside its frame (from `kz_tickets`).
#[derive(Clone, Debug, Default)]
pub struct KzTicketFacts {
    /// The fiscal sign the server assigned.
    pub ticket_number: Option<String>,
    /// The server's shift number.
    pub shift_number: Option<i64>,
}

/// Project a stored KZ document from its request frame and the response the server sent.
pub fn project_kz(raw: &[u8], ack: &[u8], facts: &KzTicketFacts) -> Result<Projected, String> {
    let (_, body) = kz::split_frame(raw, u32::MAX).map_err(|e| format!("frame: {e}"))?;
    let request = kz::Request::decode(body).map_err(|e| format!("request: {e}"))?;
    let response = kz::split_frame(ack, u32::MAX)
        .ok()
        .and_then(|(_, body)| kz::Response::decode(body).ok());
    let command = request
        .command
        .and_then(|c| CommandTypeEnum::try_from(c).ok());
    let mut projected = Projected {
        kind: "other",
        fiscal_sign: facts.ticket_number.clone(),
        shift_number: facts.shift_number,
        ..Projected::default()
    };
    let server_report = response
        .as_ref()
        .and_then(|r| r.report.as_ref())
        .and_then(|r| r.zx_report.as_ref());
    match command {
        Some(CommandTypeEnum::Ticket) => {
            let ticket = request
                .ticket
                .as_ref()
                .ok_or("ticket command without a ticket")?;
            projected.kind = "kz_ticket";
            projected.is_receipt = true;
            projected.operation = kz_operation(ticket.operation);
            projected.doc_time = kz_time(ticket.date_time.as_ref());
            projected.cashier = ticket.operator.as_ref().and_then(|o| {
                o.name
                    .clone()
                    .filter(|n| !n.is_empty())
                    .or_else(|| o.code.map(|c| c.to_string()))
            });
            projected.total = tiyn(ticket.amounts.as_ref().and_then(|a| a.total.as_ref()));
            for payment in &ticket.payments {
                let sum = tiyn(payment.sum.as_ref());
                match payment
                    .r#type
                    .and_then(|t| PaymentTypeEnum::try_from(t).ok())
                {
                    Some(PaymentTypeEnum::Cash) => projected.cash += sum,
                    Some(PaymentTypeEnum::Card | PaymentTypeEnum::Mobile) => projected.card += sum,
                    Some(PaymentTypeEnum::Credit) => projected.credit += sum,
                    _ => projected.other_payment += sum,
                }
            }
            // Change given back comes out of the cash paid.
            let change = tiyn(ticket.amounts.as_ref().and_then(|a| a.change.as_ref()));
            projected.cash = (projected.cash - change).max(0);
            for item in &ticket.items {
                let Some(commodity) = &item.commodity else {
                    continue;
                };
                let quantity = commodity.quantity.unwrap_or(1000);
                let vat = commodity.taxes.first();
                projected.lines.push(Line {
                    name: commodity.name.clone().unwrap_or_default(),
                    price: tiyn(commodity.price.as_ref()),
                    quantity: thousandths(quantity),
                    amount: tiyn(commodity.sum.as_ref()),
                    vat_rate: vat
                        .and_then(|t| t.percent)
                        .map(|p| format!("{}%", thousandths(u64::from(p)))),
                    vat_amount: vat.map(|t| tiyn(t.sum.as_ref())),
                });
            }
        }
        Some(CommandTypeEnum::CloseShift) => {
            let close = request.close_shift.as_ref();
            projected.kind = "kz_close_shift";
            projected.shift_event = Some(ShiftEvent::Close);
            projected.doc_time = kz_time(close.and_then(|c| c.close_time.as_ref()));
            // The register's own Z report when it sent one, else the one the server answered.
            let theirs = close.and_then(|c| c.z_report.as_ref());
            let report = theirs.or(server_report);
            projected.z = report.map(z_of_report);
            projected.shift_number = server_report
                .and_then(|r| r.shift_number)
                .or_else(|| theirs.and_then(|r| r.shift_number))
                .map(i64::from);
        }
        Some(CommandTypeEnum::Report) => {
            projected.kind = "kz_x_report";
            projected.doc_time = server_report.and_then(|r| kz_time(r.date_time.as_ref()));
            // The X report's counters, shown beside the shift's figures (not a shift close).
            projected.z = server_report.map(z_of_report);
            projected.shift_number = server_report.and_then(|r| r.shift_number).map(i64::from);
        }
        Some(CommandTypeEnum::MoneyPlacement) => {
            let placement = request.money_placement.as_ref();
            projected.kind = "kz_money_placement";
            projected.doc_time = kz_time(placement.and_then(|p| p.datetime.as_ref()));
            projected.total = tiyn(placement.and_then(|p| p.sum.as_ref()));
            projected.cash = projected.total;
            projected.shift_number = projected
                .shift_number
                .or_else(|| placement.and_then(|p| p.fr_shift_number).map(i64::from));
        }
        _ => {}
    }
    Ok(projected)
}

/// `1500` → `"1.5"`, `2000` → `"2"`.
fn thousandths(value: u64) -> String {
    let whole = value / 1000;
    let rest = value % 1000;
    if rest == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{rest:03}")
            .trim_end_matches('0')
            .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousandths_print_as_decimals() {
        assert_eq!(thousandths(1000), "1");
        assert_eq!(thousandths(1500), "1.5");
        assert_eq!(thousandths(12_345), "12.345");
        assert_eq!(thousandths(50), "0.05");
    }

    #[test]
    fn a_frame_that_is_not_a_container_is_refused_with_a_reason() {
        let error = project_ru(b"not a container").expect_err("refused");
        assert!(error.starts_with("container"), "{error}");
    }
}
