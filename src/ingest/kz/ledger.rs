//! The server's own shift counters and lifetime sums for one register, and the ZX report built
//! from them (spec §7). The server is the source of truth; a register re-syncs from INFO.
//!
//! Stored as JSON in `kz_state` (one row per register, written in the same transaction as the
//! document that changed it), so adding a counter needs no schema change. Amounts are tiyn.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use ofd_protocol::kz::{
    MoneyPlacementEnum, NonNullableSum, OperationTypeEnum, ZxMoneyPlacement, ZxOperation, ZxReport,
    ZxRevenue, ZxSection, ZxTax, ZxTaxOperation, ZxTicketOperation, ZxTicketPayment,
};
use serde::{Deserialize, Serialize};

use super::local_time::wire;
use super::money::{add, money, MoneyError};
use super::ticket_check::CheckedTicket;

/// Every operation type, in wire order; reports list all four so registers see zeros explicitly.
const OPERATIONS: [OperationTypeEnum; 4] = [
    OperationTypeEnum::Buy,
    OperationTypeEnum::BuyReturn,
    OperationTypeEnum::Sell,
    OperationTypeEnum::SellReturn,
];
const PLACEMENTS: [MoneyPlacementEnum; 2] =
    [MoneyPlacementEnum::Deposit, MoneyPlacementEnum::Withdrawal];

/// Count and sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// How many.
    pub count: u32,
    /// Their sum in tiyn.
    pub sum: i64,
}

impl Tally {
    fn add(&mut self, sum: i64) -> Result<(), MoneyError> {
        self.count = self.count.saturating_add(1);
        self.sum = add(self.sum, sum)?;
        Ok(())
    }
}

/// Receipts of one operation type within the shift.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationCounters {
    /// Receipts and their totals.
    pub tickets: Tally,
    /// Per payment type (raw enum value).
    pub payments: BTreeMap<i32, Tally>,
    /// Receipts made offline.
    pub offline: u32,
    /// Discounts given.
    pub discount: Tally,
    /// Markups charged.
    pub markup: Tally,
    /// Change handed back.
    pub change: i64,
}

/// Counters of the current (or last closed) shift.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftCounters {
    /// Per operation type (raw enum value).
    pub operations: BTreeMap<i32, OperationCounters>,
    /// Per section code, then per operation type: net line sums.
    pub sections: BTreeMap<String, BTreeMap<i32, Tally>>,
    /// Per "tax_type/percent", then per operation type: (turnover, tax).
    pub taxes: BTreeMap<String, BTreeMap<i32, (i64, i64)>>,
    /// Per placement direction (raw enum value): count, sum, offline count.
    pub placements: BTreeMap<i32, (Tally, u32)>,
    /// Lifetime sums when the shift opened.
    pub start_non_nullable: BTreeMap<i32, i64>,
    /// Documents in this shift (receipts and placements), for their order.
    pub documents: u32,
}

/// Totals that never reset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifetime {
    /// Non-nullable sum per operation type.
    pub sums: BTreeMap<i32, i64>,
    /// Receipts ever, per operation type.
    pub tickets: BTreeMap<i32, u32>,
    /// Placements ever, per direction.
    pub placements: BTreeMap<i32, u32>,
}

/// A register's fiscal ledger: shift bookkeeping, counters, lifetime sums and the drawer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    /// Number of the current shift, or of the last closed one (0: none yet).
    pub shift_number: u32,
    /// Whether a shift is open.
    pub shift_open: bool,
    /// When the server opened it (UTC ms), for the maximum-duration rule.
    pub opened_at_ms: Option<i64>,
    /// The register-local time of the document that opened it.
    pub opened_local: Option<NaiveDateTime>,
    /// Shift counters.
    pub counters: ShiftCounters,
    /// Lifetime totals.
    pub lifetime: Lifetime,
    /// Cash in the drawer, in tiyn.
    pub cash: i64,
}

impl Ledger {
    /// Opens shift `last + 1` if none is open (the first receipt or placement after a close).
    pub fn ensure_open(&mut self, now_ms: i64, local: NaiveDateTime) {
        if self.shift_open {
            return;
        }
        self.shift_open = true;
        self.shift_number = self.shift_number.saturating_add(1);
        self.opened_at_ms = Some(now_ms);
        self.opened_local = Some(local);
        self.counters = ShiftCounters {
            start_non_nullable: self.lifetime.sums.clone(),
            ..ShiftCounters::default()
        };
    }

    /// Adds a checked receipt; refuses (without changing anything) if the drawer would go
    /// negative.
    pub fn apply_ticket(&mut self, t: &CheckedTicket) -> Result<(), LedgerError> {
        let cash = add(self.cash, t.cash_delta())?;
        if cash < 0 {
            return Err(LedgerError::NotEnoughCash);
        }
        let mut next = self.clone();
        next.cash = cash;
        let op = t.operation as i32;
        let c = next.counters.operations.entry(op).or_default();
        c.tickets.add(t.total)?;
        for (kind, (sum, count)) in &t.payments {
            let tally = c.payments.entry(*kind).or_default();
            tally.count = tally.count.saturating_add(*count);
            tally.sum = add(tally.sum, *sum)?;
        }
        if t.offline_sign.is_some() {
            c.offline += 1;
        }
        if t.discount != 0 {
            c.discount.add(t.discount)?;
        }
        if t.markup != 0 {
            c.markup.add(t.markup)?;
        }
        c.change = add(c.change, t.change)?;
        for (section, sum) in &t.sections {
            let by_op = next.counters.sections.entry(section.clone()).or_default();
            by_op.entry(op).or_default().add(*sum)?;
        }
        for ((tax_type, percent), (turnover, tax)) in &t.taxes {
            let by_op = next
                .counters
                .taxes
                .entry(format!("{tax_type}/{percent}"))
                .or_default();
            let entry = by_op.entry(op).or_insert((0, 0));
            entry.0 = add(entry.0, *turnover)?;
            entry.1 = add(entry.1, *tax)?;
        }
        next.counters.documents += 1;
        let lifetime = next.lifetime.sums.entry(op).or_insert(0);
        *lifetime = add(*lifetime, t.total)?;
        *next.lifetime.tickets.entry(op).or_insert(0) += 1;
        *self = next;
        Ok(())
    }

    /// Adds a deposit or withdrawal; a withdrawal above the drawer is refused unchanged.
    pub fn apply_placement(
        &mut self,
        direction: MoneyPlacementEnum,
        sum: i64,
        offline: bool,
    ) -> Result<(), LedgerError> {
        let cash = match direction {
            MoneyPlacementEnum::Deposit => add(self.cash, sum)?,
            MoneyPlacementEnum::Withdrawal if sum > self.cash => {
                return Err(LedgerError::NotEnoughCash)
            }
            MoneyPlacementEnum::Withdrawal => self.cash - sum,
        };
        let entry = self
            .counters
            .placements
            .entry(direction as i32)
            .or_default();
        entry.0.add(sum)?;
        if offline {
            entry.1 += 1;
        }
        self.cash = cash;
        self.counters.documents += 1;
        *self
            .lifetime
            .placements
            .entry(direction as i32)
            .or_insert(0) += 1;
        Ok(())
    }

    /// Closes the shift; the counters stay readable as the last Z-report until the next open.
    pub fn close(&mut self, withdraw_money: bool) {
        self.shift_open = false;
        if withdraw_money {
            self.cash = 0;
        }
    }

    /// The ZX report of the current (or just closed) shift.
    pub fn report(&self, now_local: NaiveDateTime, close_local: Option<NaiveDateTime>) -> ZxReport {
        let c = &self.counters;
        let tally = |op: i32, t: &Tally| ZxOperation {
            operation: Some(op),
            count: Some(t.count),
            sum: Some(money(t.sum)),
        };
        let per_op = |pick: &dyn Fn(&OperationCounters) -> Tally| -> Vec<ZxOperation> {
            OPERATIONS
                .iter()
                .map(|op| {
                    let counters = c.operations.get(&(*op as i32)).cloned().unwrap_or_default();
                    tally(*op as i32, &pick(&counters))
                })
                .collect()
        };
        let non_nullable = |sums: &BTreeMap<i32, i64>| -> Vec<NonNullableSum> {
            OPERATIONS
                .iter()
                .map(|op| NonNullableSum {
                    operation: Some(*op as i32),
                    sum: Some(money(sums.get(&(*op as i32)).copied().unwrap_or(0))),
                })
                .collect()
        };
        let op_sum =
            |op: OperationTypeEnum| c.operations.get(&(op as i32)).map_or(0, |o| o.tickets.sum);
        let revenue = op_sum(OperationTypeEnum::Sell)
            - op_sum(OperationTypeEnum::SellReturn)
            - op_sum(OperationTypeEnum::Buy)
            + op_sum(OperationTypeEnum::BuyReturn);
        ZxReport {
            date_time: Some(wire(now_local)),
            shift_number: Some(self.shift_number),
            sections: c
                .sections
                .iter()
                .map(|(code, by_op)| ZxSection {
                    section_code: Some(code.clone()),
                    operations: by_op.iter().map(|(op, t)| tally(*op, t)).collect(),
                })
                .collect(),
            operations: per_op(&|o| o.tickets),
            discounts: per_op(&|o| o.discount),
            markups: per_op(&|o| o.markup),
            total_result: per_op(&|o| o.tickets),
            taxes: c
                .taxes
                .iter()
                .map(|(key, by_op)| {
                    let (tax_type, percent) = key.split_once('/').unwrap_or((key, "0"));
                    ZxTax {
                        tax_type: Some(tax_type.parse().unwrap_or(0)),
                        percent: Some(percent.parse().unwrap_or(0)),
                        operations: by_op
                            .iter()
                            .map(|(op, (turnover, tax))| ZxTaxOperation {
                                operation: Some(*op),
                                turnover: Some(money(*turnover)),
                                sum: Some(money(*tax)),
                                turnover_without_tax: None,
                            })
                            .collect(),
                    }
                })
                .collect(),
            start_shift_non_nullable_sums: non_nullable(&c.start_non_nullable),
            ticket_operations: OPERATIONS
                .iter()
                .map(|op| {
                    let key = *op as i32;
                    let o = c.operations.get(&key).cloned().unwrap_or_default();
                    ZxTicketOperation {
                        operation: Some(key),
                        tickets_total_count: Some(
                            self.lifetime.tickets.get(&key).copied().unwrap_or(0),
                        ),
                        tickets_count: Some(o.tickets.count),
                        tickets_sum: Some(money(o.tickets.sum)),
                        payments: o
                            .payments
                            .iter()
                            .map(|(kind, t)| ZxTicketPayment {
                                payment: Some(*kind),
                                sum: Some(money(t.sum)),
                                count: Some(t.count),
                            })
                            .collect(),
                        offline_count: Some(o.offline),
                        discount_sum: Some(money(o.discount.sum)),
                        markup_sum: Some(money(o.markup.sum)),
                        change_sum: Some(money(o.change)),
                    }
                })
                .collect(),
            money_placements: PLACEMENTS
                .iter()
                .map(|dir| {
                    let key = *dir as i32;
                    let (t, offline) = c.placements.get(&key).copied().unwrap_or_default();
                    ZxMoneyPlacement {
                        operation: Some(key),
                        operations_total_count: Some(
                            self.lifetime.placements.get(&key).copied().unwrap_or(0),
                        ),
                        operations_count: Some(t.count),
                        operations_sum: Some(money(t.sum)),
                        offline_count: Some(offline),
                    }
                })
                .collect(),
            annulled_tickets: None,
            cash_sum: Some(money(self.cash)),
            revenue: Some(ZxRevenue {
                sum: Some(money(revenue.abs())),
                is_negative: Some(revenue < 0),
            }),
            non_nullable_sums: non_nullable(&self.lifetime.sums),
            open_shift_time: self.opened_local.map(wire),
            close_shift_time: close_local.map(wire),
            checksum: None,
        }
    }
}

/// Why the ledger refused a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The drawer does not hold enough cash.
    #[error("not enough cash in the drawer")]
    NotEnoughCash,
    /// A counter would overflow.
    #[error(transparent)]
    Money(#[from] MoneyError),
}
