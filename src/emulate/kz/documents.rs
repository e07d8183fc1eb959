//! KZ requests a simulated ККМ sends: tickets (sales and returns) with items, VAT and payments
//! that add up, money placements, X reports and shift closes carrying the register's own ZX
//! counters, each with the service block (offline period) protocol 2.0.3 asks for.
//!
//! Money is integer tiyn throughout; quantities are thousandths (1 piece = 1000). An item's sum is
//! `price × quantity / 1000` rounded to the tiyn; the ticket total is the sum of the items; VAT is
//! included in the price and computed per item.

use ofd_protocol::kz::{
    Amounts, CloseShiftRequest, CommandTypeEnum, Date, DateTime, Domain, DomainTypeEnum, Item,
    ItemCommodity, ItemTypeEnum, Money, MoneyPlacementEnum, MoneyPlacementRequest, NonNullableSum,
    OfflinePeriod, OperationTypeEnum, Operator, ParentTicket, Payment, PaymentTypeEnum,
    ReportRequest, ReportTypeEnum, Request, ServiceRequest, Tax, TicketRequest, Time,
    ZxMoneyPlacement, ZxReport, ZxRevenue, ZxTicketOperation,
};
use rand::Rng;

/// VAT rate in percent (Kazakhstan, 2026).
const VAT_PERCENT: u64 = 16;
/// `Tax.percent` as sent: the scale is unverified (spec §9 #4); thousandths of a percent here.
const VAT_PERCENT_WIRE: u32 = 16_000;
/// Tax type code of VAT.
const TAX_TYPE_VAT: u32 = 100;
/// Taxation type sent with each tax (general regime).
const TAXATION_TYPE: u32 = 100;

/// A naive local wall-clock time (Almaty), as the protocol carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LocalTime(pub i64);

impl LocalTime {
    /// The protobuf DateTime of this instant.
    pub fn to_proto(self) -> DateTime {
        let naive = chrono::DateTime::from_timestamp(self.0, 0)
            .unwrap_or_default()
            .naive_utc();
        use chrono::{Datelike, Timelike};
        DateTime {
            date: Some(Date {
                year: Some(naive.year().unsigned_abs()),
                month: Some(naive.month()),
                day: Some(naive.day()),
            }),
            time: Some(Time {
                hour: Some(naive.hour()),
                minute: Some(naive.minute()),
                second: Some(naive.second()),
            }),
        }
    }
}

/// Money from tiyn.
pub fn money(tiyn: u64) -> Money {
    Money {
        bills: Some(tiyn / 100),
        coins: Some((tiyn % 100) as u32),
    }
}

/// A sold line, kept so that a later return can refer to the same goods.
#[derive(Debug, Clone)]
pub struct Line {
    name: &'static str,
    price: u64,
    quantity: u64,
    sum: u64,
    by_weight: bool,
}

/// A ticket the OFD acknowledged, kept for a later return.
#[derive(Debug, Clone)]
pub struct SoldTicket {
    /// Fiscal sign the OFD assigned.
    pub number: String,
    /// Local time of the sale.
    pub time: LocalTime,
    /// Lines sold.
    pub lines: Vec<Line>,
    /// Total in tiyn.
    pub total: u64,
    /// Whether it was sold offline.
    pub offline: bool,
}

struct Product {
    name: &'static str,
    price: (u64, u64),
    by_weight: bool,
}

const PRODUCTS: &[Product] = &[
    Product {
        name: "Нан бидай 500 г",
        price: (15_000, 25_000),
        by_weight: false,
    },
    Product {
        name: "Сүт 2,5% 1 л",
        price: (45_000, 65_000),
        by_weight: false,
    },
    Product {
        name: "Айран 1 л",
        price: (40_000, 60_000),
        by_weight: false,
    },
    Product {
        name: "Ірімшік",
        price: (350_000, 520_000),
        by_weight: true,
    },
    Product {
        name: "Алма Апорт",
        price: (60_000, 120_000),
        by_weight: true,
    },
    Product {
        name: "Банан",
        price: (80_000, 110_000),
        by_weight: true,
    },
    Product {
        name: "Шай қара 100 пакет",
        price: (150_000, 260_000),
        by_weight: false,
    },
    Product {
        name: "Қант 1 кг",
        price: (45_000, 60_000),
        by_weight: false,
    },
    Product {
        name: "Май сары 82%",
        price: (120_000, 190_000),
        by_weight: false,
    },
    Product {
        name: "Жұмыртқа 10 дана",
        price: (70_000, 110_000),
        by_weight: false,
    },
    Product {
        name: "Су 1,5 л",
        price: (25_000, 40_000),
        by_weight: false,
    },
    Product {
        name: "Пакет",
        price: (3_000, 5_000),
        by_weight: false,
    },
];

/// Per-operation counters of one shift and for the register's lifetime (the ZX report's data).
#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// Shift number (1-based).
    pub shift: u32,
    /// When the current shift opened.
    pub opened_at: Option<LocalTime>,
    /// Documents in this shift.
    pub documents_in_shift: u32,
    sells: OperationCount,
    returns: OperationCount,
    deposits: OperationCount,
    withdrawals: OperationCount,
    offline_tickets: u32,
    /// Cash in the drawer, tiyn.
    pub cash: u64,
    lifetime_sells: u64,
    lifetime_returns: u64,
    lifetime_sells_count: u32,
    lifetime_returns_count: u32,
    lifetime_deposits_count: u32,
    lifetime_withdrawals_count: u32,
}

#[derive(Debug, Clone, Copy, Default)]
struct OperationCount {
    count: u32,
    sum: u64,
    cash: u64,
    card: u64,
}

impl Counters {
    /// Start a new shift at `time` (a shift opens implicitly with its first document).
    pub fn open_shift(&mut self, time: LocalTime) {
        self.shift += 1;
        self.opened_at = Some(time);
        self.documents_in_shift = 0;
        self.sells = OperationCount::default();
        self.returns = OperationCount::default();
        self.deposits = OperationCount::default();
        self.withdrawals = OperationCount::default();
        self.offline_tickets = 0;
    }

    /// The register's own ZX report of the current state.
    pub fn zx_report(&self, now: LocalTime, closing: bool) -> ZxReport {
        let ticket_operation =
            |operation: OperationTypeEnum, counts: OperationCount, total: u32| ZxTicketOperation {
                operation: Some(operation as i32),
                tickets_total_count: Some(total),
                tickets_count: Some(counts.count),
                tickets_sum: Some(money(counts.sum)),
                payments: Vec::new(),
                offline_count: Some(if operation == OperationTypeEnum::Sell {
                    self.offline_tickets
                } else {
                    0
                }),
                discount_sum: None,
                markup_sum: None,
                change_sum: None,
            };
        let placement =
            |operation: MoneyPlacementEnum, counts: OperationCount, total: u32| ZxMoneyPlacement {
                operation: Some(operation as i32),
                operations_total_count: Some(total),
                operations_count: Some(counts.count),
                operations_sum: Some(money(counts.sum)),
                offline_count: Some(0),
            };
        let revenue = self.sells.sum as i128 - self.returns.sum as i128;
        ZxReport {
            date_time: Some(now.to_proto()),
            shift_number: Some(self.shift),
            ticket_operations: vec![
                ticket_operation(
                    OperationTypeEnum::Sell,
                    self.sells,
                    self.lifetime_sells_count,
                ),
                ticket_operation(
                    OperationTypeEnum::SellReturn,
                    self.returns,
                    self.lifetime_returns_count,
                ),
            ],
            money_placements: vec![
                placement(
                    MoneyPlacementEnum::Deposit,
                    self.deposits,
                    self.lifetime_deposits_count,
                ),
                placement(
                    MoneyPlacementEnum::Withdrawal,
                    self.withdrawals,
                    self.lifetime_withdrawals_count,
                ),
            ],
            cash_sum: Some(money(self.cash)),
            revenue: Some(ZxRevenue {
                sum: Some(money(revenue.unsigned_abs() as u64)),
                is_negative: Some(revenue < 0),
            }),
            non_nullable_sums: vec![
                NonNullableSum {
                    operation: Some(OperationTypeEnum::Sell as i32),
                    sum: Some(money(self.lifetime_sells)),
                },
                NonNullableSum {
                    operation: Some(OperationTypeEnum::SellReturn as i32),
                    sum: Some(money(self.lifetime_returns)),
                },
            ],
            open_shift_time: self.opened_at.map(LocalTime::to_proto),
            close_shift_time: closing.then(|| now.to_proto()),
            ..Default::default()
        }
    }
}

/// The requests of one register, built from its state.
pub struct RequestBuilder<'a> {
    /// Register number issued by KGD (RNM), for returns.
    pub rnm: &'a str,
    /// Cashier.
    pub operator: Operator,
}

/// When and how a request is sent: online, or replayed from an offline queue.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Local time of the document.
    pub time: LocalTime,
    /// Local time now (the replay time for offline documents).
    pub now: LocalTime,
    /// `Some(first offline document time)` when replayed from an offline queue.
    pub offline_since: Option<LocalTime>,
}

impl Timing {
    fn service(&self) -> ServiceRequest {
        ServiceRequest {
            offline_period: Some(OfflinePeriod {
                begin_time: Some(self.offline_since.unwrap_or(self.now).to_proto()),
                end_time: Some(self.now.to_proto()),
            }),
            ..Default::default()
        }
    }

    fn offline(&self) -> Option<bool> {
        Some(self.offline_since.is_some())
    }
}

impl RequestBuilder<'_> {
    /// A sale of 1–20 random items; the counters take it in.
    pub fn sale(
        &self,
        timing: Timing,
        counters: &mut Counters,
        rng: &mut impl Rng,
    ) -> (Request, Vec<Line>, u64) {
        let count = if rng.gen_bool(0.6) {
            rng.gen_range(1..=5)
        } else {
            rng.gen_range(6..=20)
        };
        let lines: Vec<Line> = (0..count).map(|_| random_line(rng)).collect();
        let total: u64 = lines.iter().map(|line| line.sum).sum();
        let cash_paid = match rng.gen_range(0..3) {
            0 => total,
            1 => 0,
            _ => total / 2 / 100 * 100,
        };
        let offline_number = timing
            .offline_since
            .map(|_| rng.gen_range(1..=0x7FFF_FFFFu32));
        let request = self.ticket(
            timing,
            counters,
            OperationTypeEnum::Sell,
            &lines,
            total,
            cash_paid,
            offline_number,
            None,
        );
        counters.sells.count += 1;
        counters.sells.sum += total;
        counters.sells.cash += cash_paid;
        counters.sells.card += total - cash_paid;
        counters.lifetime_sells += total;
        counters.lifetime_sells_count += 1;
        counters.cash += cash_paid;
        if offline_number.is_some() {
            counters.offline_tickets += 1;
        }
        (request, lines, total)
    }

    /// A return of a whole earlier sale, in cash when the drawer holds enough, else to the card.
    pub fn sale_return(
        &self,
        timing: Timing,
        counters: &mut Counters,
        parent: &SoldTicket,
        rng: &mut impl Rng,
    ) -> Request {
        let cash_paid = if counters.cash >= parent.total {
            parent.total
        } else {
            0
        };
        let offline_number = timing
            .offline_since
            .map(|_| rng.gen_range(1..=0x7FFF_FFFFu32));
        let parent_ticket = ParentTicket {
            parent_ticket_number: Some(parent.number.clone()),
            parent_ticket_data_time: Some(parent.time.to_proto()),
            kgd_kkm_id: Some(self.rnm.to_owned()),
            parent_ticket_total: Some(money(parent.total)),
            parent_ticket_is_offline: Some(parent.offline),
        };
        let request = self.ticket(
            timing,
            counters,
            OperationTypeEnum::SellReturn,
            &parent.lines,
            parent.total,
            cash_paid,
            offline_number,
            Some(parent_ticket),
        );
        counters.returns.count += 1;
        counters.returns.sum += parent.total;
        counters.returns.cash += cash_paid;
        counters.returns.card += parent.total - cash_paid;
        counters.lifetime_returns += parent.total;
        counters.lifetime_returns_count += 1;
        counters.cash -= cash_paid;
        request
    }

    #[allow(clippy::too_many_arguments)]
    fn ticket(
        &self,
        timing: Timing,
        counters: &mut Counters,
        operation: OperationTypeEnum,
        lines: &[Line],
        total: u64,
        cash_paid: u64,
        offline_ticket_number: Option<u32>,
        parent_ticket: Option<ParentTicket>,
    ) -> Request {
        counters.documents_in_shift += 1;
        let items = lines
            .iter()
            .enumerate()
            .map(|(index, line)| Item {
                r#type: Some(ItemTypeEnum::Commodity as i32),
                commodity: Some(ItemCommodity {
                    code: Some(index as u64 + 1),
                    name: Some(line.name.to_owned()),
                    section_code: Some("1".to_owned()),
                    quantity: Some(line.quantity),
                    price: Some(money(line.price)),
                    sum: Some(money(line.sum)),
                    taxes: vec![vat(line.sum)],
                    measure_unit_code: Some(if line.by_weight { "166" } else { "796" }.to_owned()),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect();
        let mut payments = Vec::new();
        if cash_paid > 0 {
            payments.push(Payment {
                r#type: Some(PaymentTypeEnum::Cash as i32),
                sum: Some(money(cash_paid)),
                ..Default::default()
            });
        }
        if total > cash_paid {
            payments.push(Payment {
                r#type: Some(PaymentTypeEnum::Card as i32),
                sum: Some(money(total - cash_paid)),
                ..Default::default()
            });
        }
        // The buyer hands over a round sum in cash and gets change.
        let taken = if cash_paid > 0 {
            cash_paid.div_ceil(100_000) * 100_000
        } else {
            0
        };
        let ticket = TicketRequest {
            operation: Some(operation as i32),
            date_time: Some(timing.time.to_proto()),
            operator: Some(self.operator.clone()),
            domain: Some(Domain {
                r#type: Some(DomainTypeEnum::Trading as i32),
                ..Default::default()
            }),
            items,
            payments,
            amounts: Some(Amounts {
                total: Some(money(total)),
                taken: (taken > 0).then(|| money(taken)),
                change: (taken > 0).then(|| money(taken - cash_paid)),
                ..Default::default()
            }),
            offline_ticket_number,
            fr_shift_number: Some(counters.shift),
            shift_document_number: Some(counters.documents_in_shift),
            parent_ticket,
            ..Default::default()
        };
        Request {
            command: Some(CommandTypeEnum::Ticket as i32),
            ticket: Some(ticket),
            service: Some(timing.service()),
            ..Default::default()
        }
    }

    /// A cash deposit or withdrawal of `sum` tiyn.
    pub fn money_placement(
        &self,
        timing: Timing,
        counters: &mut Counters,
        deposit: bool,
        sum: u64,
    ) -> Request {
        counters.documents_in_shift += 1;
        let (operation, counts) = if deposit {
            counters.cash += sum;
            counters.lifetime_deposits_count += 1;
            (MoneyPlacementEnum::Deposit, &mut counters.deposits)
        } else {
            counters.cash -= sum.min(counters.cash);
            counters.lifetime_withdrawals_count += 1;
            (MoneyPlacementEnum::Withdrawal, &mut counters.withdrawals)
        };
        counts.count += 1;
        counts.sum += sum;
        Request {
            command: Some(CommandTypeEnum::MoneyPlacement as i32),
            money_placement: Some(MoneyPlacementRequest {
                datetime: Some(timing.time.to_proto()),
                operation: Some(operation as i32),
                sum: Some(money(sum)),
                is_offline: timing.offline(),
                fr_shift_number: Some(counters.shift),
                operator: Some(self.operator.clone()),
                ..Default::default()
            }),
            service: Some(timing.service()),
            ..Default::default()
        }
    }

    /// An X report (counters so far, no state change on the register).
    pub fn x_report(&self, timing: Timing, counters: &Counters) -> Request {
        Request {
            command: Some(CommandTypeEnum::Report as i32),
            report: Some(ReportRequest {
                report: Some(ReportTypeEnum::ReportX as i32),
                date_time: Some(timing.time.to_proto()),
                is_offline: timing.offline(),
                zx_report: Some(counters.zx_report(timing.time, false)),
            }),
            service: Some(timing.service()),
            ..Default::default()
        }
    }

    /// Close the shift with its Z report.
    pub fn close_shift(&self, timing: Timing, counters: &Counters) -> Request {
        Request {
            command: Some(CommandTypeEnum::CloseShift as i32),
            close_shift: Some(CloseShiftRequest {
                close_time: Some(timing.time.to_proto()),
                is_offline: timing.offline(),
                fr_shift_number: Some(counters.shift),
                withdraw_money: Some(false),
                z_report: Some(counters.zx_report(timing.time, true)),
                operator: Some(self.operator.clone()),
                ..Default::default()
            }),
            service: Some(timing.service()),
            ..Default::default()
        }
    }
}

fn vat(sum: u64) -> Tax {
    Tax {
        tax_type: Some(TAX_TYPE_VAT),
        taxation_type: Some(TAXATION_TYPE),
        percent: Some(VAT_PERCENT_WIRE),
        sum: Some(money(
            (sum * VAT_PERCENT + (100 + VAT_PERCENT) / 2) / (100 + VAT_PERCENT),
        )),
        is_in_total_sum: Some(true),
    }
}

fn random_line(rng: &mut impl Rng) -> Line {
    let product = &PRODUCTS[rng.gen_range(0..PRODUCTS.len())];
    let price = rng.gen_range(product.price.0..=product.price.1) / 100 * 100;
    let quantity = if product.by_weight {
        rng.gen_range(150..=2_500)
    } else {
        rng.gen_range(1..=4) * 1000
    };
    let sum = (price * quantity + 500) / 1000;
    Line {
        name: product.name,
        price,
        quantity,
        sum,
        by_weight: product.by_weight,
    }
}
