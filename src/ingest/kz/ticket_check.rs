//! Receipt validation (spec §8 item 7): the arithmetic of a `TicketRequest` must add up before
//! the server assigns a fiscal sign.
//!
//! Rules (all amounts exact, in tiyn):
//! - every line's sub-message matches its `type`; quantities are positive; a commodity's sum is
//!   price × quantity / 1000 within one tiyn (registers round per line);
//! - total = Σ commodities − Σ storno commodities + Σ markups − Σ storno markups − Σ discounts
//!   + Σ storno discounts + receipt markup − receipt discount;
//! - payments cover the total; any overpayment is change and can only come from cash; a `change`
//!   field, when sent, equals it (or `taken − total` when the payments equal the total);
//! - tax sums never exceed the amount they are on; receipt-level and line-level taxes are not mixed;
//! - 2.0.3: a return names its parent ticket, and the domain is present;
//! - buyer IIN/BIN = seller's → SAME_TAXPAYER_AND_CUSTOMER (17).
//!
//! Tax rates are stored raw and never checked against a scale (spec §9 item 4).

use std::collections::BTreeMap;

use ofd_protocol::kz::{
    Item, ItemTypeEnum, Modifier, OperationTypeEnum, PaymentTypeEnum, ProtocolVersion,
    ResultTypeEnum, Tax, TicketRequest,
};

use super::money::{add, tiyn, tiyn_or_zero, MoneyError};
use super::Refusal;

/// The figures of a valid receipt that the shift counters need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedTicket {
    /// Operation type.
    pub operation: OperationTypeEnum,
    /// Amount due, in tiyn.
    pub total: i64,
    /// Sum per payment type (raw enum value → tiyn, count of payments).
    pub payments: BTreeMap<i32, (i64, u32)>,
    /// Change handed back, in tiyn.
    pub change: i64,
    /// Discounts (line and receipt level) in tiyn.
    pub discount: i64,
    /// Markups (line and receipt level) in tiyn.
    pub markup: i64,
    /// Net sum per section code.
    pub sections: BTreeMap<String, i64>,
    /// Tax per (tax_type, percent): (turnover, tax sum) in tiyn.
    pub taxes: BTreeMap<(u32, u32), (i64, i64)>,
    /// Autonomous fiscal sign, when the receipt was made offline.
    pub offline_sign: Option<u32>,
}

impl CheckedTicket {
    /// Cash that entered (+) or left (−) the drawer with this receipt.
    pub fn cash_delta(&self) -> i64 {
        let cash_paid = self
            .payments
            .get(&(PaymentTypeEnum::Cash as i32))
            .map_or(0, |(sum, _)| *sum);
        let net = cash_paid - self.change;
        match self.operation {
            OperationTypeEnum::Sell | OperationTypeEnum::BuyReturn => net,
            OperationTypeEnum::SellReturn | OperationTypeEnum::Buy => -net,
        }
    }
}

fn bad(text: impl Into<String>) -> Refusal {
    Refusal::new(ResultTypeEnum::IncorrectRequestData, text)
}

impl From<MoneyError> for Refusal {
    fn from(e: MoneyError) -> Self {
        bad(format!("invalid amount: {e}"))
    }
}

/// Validates `ticket` and extracts its figures. `seller_inn` is the register owner's IIN/BIN.
pub fn check_ticket(
    ticket: &TicketRequest,
    version: ProtocolVersion,
    seller_inn: Option<&str>,
) -> Result<CheckedTicket, Refusal> {
    let operation = ticket
        .operation
        .and_then(|op| OperationTypeEnum::try_from(op).ok())
        .ok_or_else(|| bad("unknown operation type"))?;
    let returns = matches!(
        operation,
        OperationTypeEnum::BuyReturn | OperationTypeEnum::SellReturn
    );
    if version >= ProtocolVersion::V203 {
        if returns && ticket.parent_ticket.is_none() {
            return Err(bad("a return needs parent_ticket in 2.0.3"));
        }
        if ticket.domain.as_ref().and_then(|d| d.r#type).is_none() {
            return Err(bad("domain.type is required in 2.0.3"));
        }
    }
    if let (Some(seller), Some(buyer)) = (
        seller_inn.filter(|s| !s.is_empty()),
        ticket
            .extension_options
            .as_ref()
            .and_then(|e| e.customer_iin_or_bin.as_deref()),
    ) {
        if seller == buyer {
            return Err(Refusal::new(
                ResultTypeEnum::SameTaxpayerAndCustomer,
                "buyer IIN/BIN equals the seller's",
            ));
        }
    }
    if ticket.items.is_empty() {
        return Err(bad("a receipt needs at least one item"));
    }

    let mut out = CheckedTicket {
        operation,
        total: 0,
        payments: BTreeMap::new(),
        change: 0,
        discount: 0,
        markup: 0,
        sections: BTreeMap::new(),
        taxes: BTreeMap::new(),
        offline_sign: ticket.offline_ticket_number.filter(|n| *n != 0),
    };
    let receipt_taxes = !ticket.taxes.is_empty();
    let mut lines = 0i64;
    for (index, item) in ticket.items.iter().enumerate() {
        let signed = check_item(item, index, receipt_taxes, &mut out)?;
        lines = add(lines, signed)?;
    }
    let amounts = ticket
        .amounts
        .as_ref()
        .ok_or_else(|| bad("amounts missing"))?;
    if amounts.markup.is_some() && amounts.discount.is_some() {
        return Err(bad("amounts.markup and amounts.discount are exclusive"));
    }
    let receipt_markup = modifier_sum(amounts.markup.as_ref())?;
    let receipt_discount = modifier_sum(amounts.discount.as_ref())?;
    out.markup = add(out.markup, receipt_markup)?;
    out.discount = add(out.discount, receipt_discount)?;
    let expected = add(lines, receipt_markup)? - receipt_discount;
    let total = tiyn_or_zero(amounts.total.as_ref())?;
    if total != expected {
        return Err(bad(format!(
            "total {total} tiyn does not match the items ({expected} tiyn)"
        )));
    }
    out.total = total;

    for tax in &ticket.taxes {
        record_tax(tax, total, &mut out)?;
    }

    let mut paid = 0i64;
    let mut cash = 0i64;
    for payment in &ticket.payments {
        let kind = payment.r#type.unwrap_or_default();
        let sum = tiyn_or_zero(payment.sum.as_ref())?;
        paid = add(paid, sum)?;
        if kind == PaymentTypeEnum::Cash as i32 {
            cash = add(cash, sum)?;
        }
        let entry = out.payments.entry(kind).or_insert((0, 0));
        entry.0 = add(entry.0, sum)?;
        entry.1 += 1;
    }
    if paid < total {
        return Err(bad(format!(
            "payments {paid} tiyn do not cover the total {total} tiyn"
        )));
    }
    let overpaid = paid - total;
    if overpaid > cash {
        return Err(bad("change can only be given from cash"));
    }
    let change_sent = amounts.change.as_ref().map(tiyn).transpose()?;
    let taken = amounts.taken.as_ref().map(tiyn).transpose()?;
    out.change = match (overpaid, change_sent, taken) {
        // `taken` is read either as all the buyer handed over (change = taken − total) or, on a
        // mixed payment, as the cash handed over (change = taken − cash paid): registers differ.
        (0, Some(change), Some(taken)) if change == taken - total || change == taken - cash => 0,
        (0, Some(0) | None, _) => 0,
        (over, Some(change), _) if change == over => over,
        (over, None, _) => over,
        (_, Some(change), _) => {
            return Err(bad(format!(
                "change {change} tiyn does not match the payments"
            )))
        }
    };
    Ok(out)
}

/// Checks one line and returns its signed contribution to the total.
fn check_item(
    item: &Item,
    index: usize,
    receipt_taxes: bool,
    out: &mut CheckedTicket,
) -> Result<i64, Refusal> {
    let kind = item
        .r#type
        .and_then(|t| ItemTypeEnum::try_from(t).ok())
        .ok_or_else(|| bad(format!("item {index}: unknown type")))?;
    let present = [
        item.commodity.is_some(),
        item.storno_commodity.is_some(),
        item.markup.is_some(),
        item.storno_markup.is_some(),
        item.discount.is_some(),
        item.storno_discount.is_some(),
    ];
    let expected_slot = kind as usize - 1;
    if !present[expected_slot] || present.iter().filter(|p| **p).count() != 1 {
        return Err(bad(format!(
            "item {index}: the sub-message does not match its type"
        )));
    }
    let line_taxes = |taxes: &[Tax]| -> Result<(), Refusal> {
        if receipt_taxes && !taxes.is_empty() {
            return Err(bad(format!(
                "item {index}: line taxes and receipt taxes are exclusive"
            )));
        }
        Ok(())
    };
    match kind {
        ItemTypeEnum::Commodity | ItemTypeEnum::StornoCommodity => {
            let (section, quantity, price, sum, taxes) =
                match (&item.commodity, &item.storno_commodity) {
                    (Some(c), _) => (&c.section_code, c.quantity, &c.price, &c.sum, &c.taxes),
                    (_, Some(s)) => (&s.section_code, s.quantity, &s.price, &s.sum, &s.taxes),
                    _ => return Err(bad(format!("item {index}: missing commodity"))),
                };
            let quantity = quantity.unwrap_or_default();
            if quantity == 0 {
                return Err(bad(format!("item {index}: quantity must be positive")));
            }
            let price = tiyn_or_zero(price.as_ref())?;
            let sum = tiyn_or_zero(sum.as_ref())?;
            let exact = i128::from(price) * i128::from(quantity);
            let lo = exact.div_euclid(1000) - 1;
            let hi = (exact + 999).div_euclid(1000) + 1;
            if !(lo..=hi).contains(&i128::from(sum)) {
                return Err(bad(format!(
                    "item {index}: sum {sum} tiyn is not price × quantity"
                )));
            }
            line_taxes(taxes)?;
            for tax in taxes {
                record_tax(tax, sum, out)?;
            }
            let signed = if kind == ItemTypeEnum::Commodity {
                sum
            } else {
                -sum
            };
            let section = section.clone().unwrap_or_default();
            let entry = out.sections.entry(section).or_insert(0);
            *entry = add(*entry, signed)?;
            Ok(signed)
        }
        ItemTypeEnum::Markup | ItemTypeEnum::StornoMarkup => {
            let m = item.markup.as_ref().or(item.storno_markup.as_ref());
            line_taxes(m.map(|m| m.taxes.as_slice()).unwrap_or_default())?;
            let sum = modifier_sum(m)?;
            let signed = if kind == ItemTypeEnum::Markup {
                sum
            } else {
                -sum
            };
            out.markup = add(out.markup, signed)?;
            Ok(signed)
        }
        ItemTypeEnum::Discount | ItemTypeEnum::StornoDiscount => {
            let m = item.discount.as_ref().or(item.storno_discount.as_ref());
            line_taxes(m.map(|m| m.taxes.as_slice()).unwrap_or_default())?;
            let sum = modifier_sum(m)?;
            let signed = if kind == ItemTypeEnum::Discount {
                sum
            } else {
                -sum
            };
            out.discount = add(out.discount, signed)?;
            Ok(-signed)
        }
    }
}

fn modifier_sum(modifier: Option<&Modifier>) -> Result<i64, Refusal> {
    Ok(tiyn_or_zero(modifier.and_then(|m| m.sum.as_ref()))?)
}

fn record_tax(tax: &Tax, base: i64, out: &mut CheckedTicket) -> Result<(), Refusal> {
    let sum = tiyn_or_zero(tax.sum.as_ref())?;
    if sum > base.abs() {
        return Err(bad(format!("tax {sum} tiyn exceeds its base {base} tiyn")));
    }
    let key = (
        tax.tax_type.unwrap_or_default(),
        tax.percent.unwrap_or_default(),
    );
    let entry = out.taxes.entry(key).or_insert((0, 0));
    entry.0 = add(entry.0, base)?;
    entry.1 = add(entry.1, sum)?;
    Ok(())
}
