//! The command engine: one decoded request plus the register's state in, the response and the
//! new state out. Pure (time and the candidate fiscal sign are passed in), so every rule here is
//! tested without a socket or a database.
//!
//! Token rotation: TICKET, CLOSE_SHIFT, MONEY_PLACEMENT and REPORT Z rotate on success; SYSTEM,
//! INFO, REPORT X, NOMENCLATURE and AUTH keep the token; every refusal keeps it.
//!
//! Stored as documents: tickets, shift closes, money placements and reports (X and Z).

use chrono::NaiveDateTime;
use ofd_protocol::kz::{
    AuthResponse, AuthResultTypeEnum, CommandTypeEnum, KkmRegInfo, MoneyPlacementEnum, OrgRegInfo,
    PosRegInfo, ProtocolVersion, RegInfoResponse, ReportResponse, ReportTypeEnum, Request,
    Response, ResultTypeEnum, ServiceResponse, TicketResponse, UserRoleEnum,
};

use super::fiscal_sign::qr_url;
use super::ledger::{Ledger, LedgerError};
use super::local_time::{local_now, naive};
use super::money::tiyn;
use super::nomenclature::{self, KzCatalogue};
use super::state::KzState;
use super::ticket_check::check_ticket;
use super::{KzConfig, Refusal};

/// What the server knows about the register (from `registers`).
#[derive(Debug, Clone, Default)]
pub struct RegisterFacts {
    /// OFD system id.
    pub system_id: u32,
    /// Factory serial number.
    pub serial: Option<String>,
    /// KGD registration number (RNM).
    pub rnm: Option<String>,
    /// Owner's IIN/BIN.
    pub org_inn: Option<String>,
    /// Owner's name, as the cabinet keeps it.
    pub org_name: Option<String>,
    /// Owner's address (actual, else legal).
    pub org_address: Option<String>,
    /// The point of sale the register stands at. HOOK: filled once the cabinet keeps points of
    /// sale (issue 13, the registers' point-of-sale table); `None` until then.
    pub point_of_sale: Option<PointOfSaleFacts>,
}

/// A point of sale as the register's INFO/SYSTEM reply names it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PointOfSaleFacts {
    /// Its name, e.g. "АЗС №3".
    pub title: Option<String>,
    /// Its address in one line.
    pub address: Option<String>,
}

/// A receipt whose autonomous sign was already mapped to a ticket number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownTicket {
    /// The number assigned the first time.
    pub ticket_number: String,
    /// The check URL sent the first time.
    pub qr_code: Vec<u8>,
}

/// Everything [`execute`] needs besides the state.
#[derive(Debug)]
pub struct Input<'a> {
    /// Dialect settings.
    pub config: &'a KzConfig,
    /// The register.
    pub register: &'a RegisterFacts,
    /// Protocol version of the frame.
    pub version: ProtocolVersion,
    /// Server time, UTC unix milliseconds.
    pub now_ms: i64,
    /// The decoded, validated request.
    pub request: &'a Request,
    /// The fiscal sign to assign if this is a new receipt.
    pub ticket_number: &'a str,
    /// Set when the receipt's autonomous sign is already mapped.
    pub known_offline: Option<&'a KnownTicket>,
    /// AUTH: whether the login and password are the code and PIN of an active cashier of the
    /// register's organisation assigned to this register (checked by the caller against the
    /// cabinet's users, which needs the database).
    pub cashier_ok: bool,
    /// NOMENCLATURE: the organisation's current catalogue (`None`: it has none), loaded by the
    /// caller.
    pub catalogue: Option<&'a KzCatalogue>,
}

/// A new `kz_tickets` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTicket {
    /// Assigned fiscal sign.
    pub ticket_number: String,
    /// Shift it belongs to.
    pub shift_number: u32,
    /// Its position in the shift.
    pub shift_seq: u32,
    /// Autonomous sign, for offline receipts.
    pub offline_sign: Option<u32>,
    /// `service.offline_period` as JSON, for offline receipts.
    pub offline_period: Option<String>,
    /// The check URL.
    pub qr_code: Vec<u8>,
}

/// A fiscal document to store with the exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Command code (the `documents.form_code`).
    pub form_code: i64,
    /// The document's own time (register-local).
    pub doc_time: Option<NaiveDateTime>,
    /// Set for receipts.
    pub ticket: Option<NewTicket>,
}

/// The result of a processed command.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The response body (its header is the caller's).
    pub response: Response,
    /// Whether the token rotates.
    pub rotate: bool,
    /// The ledger after the command.
    pub ledger: Ledger,
    /// The document to store, if the command made one.
    pub record: Option<Record>,
    /// The offline period to remember, if the request was an offline replay.
    pub offline_period: Option<String>,
}

fn bad(text: impl Into<String>) -> Refusal {
    Refusal::new(ResultTypeEnum::IncorrectRequestData, text)
}

/// Processes `input.request` against `state`.
pub fn execute(input: &Input<'_>, state: &KzState) -> Result<Outcome, Refusal> {
    let request = input.request;
    let raw_command = request.command.unwrap_or(CommandTypeEnum::Reserved as i32);
    let Ok(command) = CommandTypeEnum::try_from(raw_command) else {
        return Err(Refusal::new(
            ResultTypeEnum::UnknownCommand,
            format!("unknown command {raw_command}"),
        ));
    };
    let ledger = &state.ledger;
    let exempt = matches!(
        command,
        CommandTypeEnum::CloseShift
            | CommandTypeEnum::System
            | CommandTypeEnum::Info
            | CommandTypeEnum::Report
    );
    if !exempt && shift_expired(ledger, input.now_ms, input.config.max_shift_secs) {
        return Err(Refusal::new(
            ResultTypeEnum::OpenShiftTimeoutExpired,
            "the shift has been open too long; close it",
        ));
    }
    let now_local = local_now(input.now_ms, input.config.utc_offset_secs);
    let offline_period = request
        .service
        .as_ref()
        .and_then(|s| s.offline_period.as_ref())
        .and_then(|p| serde_json::to_string(p).ok());
    let mut out = Outcome {
        response: Response::result_only(raw_command, ResultTypeEnum::Ok, ""),
        rotate: false,
        ledger: ledger.clone(),
        record: None,
        offline_period: None,
    };
    match command {
        CommandTypeEnum::System => {
            if request
                .service
                .as_ref()
                .and_then(|s| s.get_reg_info)
                .unwrap_or(false)
            {
                out.response.service = Some(ServiceResponse {
                    reg_info: Some(reg_info(input.register)),
                    ..Default::default()
                });
            }
        }
        CommandTypeEnum::Info => {
            out.response.service = Some(ServiceResponse {
                reg_info: Some(reg_info(input.register)),
                ..Default::default()
            });
            out.response.report = Some(ReportResponse {
                report: Some(ReportTypeEnum::ReportX as i32),
                zx_report: Some(ledger.report(now_local, None)),
            });
        }
        CommandTypeEnum::Ticket => {
            let ticket = request
                .ticket
                .as_ref()
                .ok_or_else(|| bad("TICKET without a ticket body"))?;
            let checked = check_ticket(ticket, input.version, input.register.org_inn.as_deref())?;
            let doc_time = ticket
                .date_time
                .as_ref()
                .and_then(naive)
                .ok_or_else(|| bad("ticket date_time is not a calendar time"))?;
            if checked.offline_sign.is_some() {
                let age = (now_local - doc_time).num_seconds();
                if age > input.config.max_offline_age_secs {
                    return Err(bad(format!(
                        "offline ticket is {}h old; the limit is {}h",
                        age / 3600,
                        input.config.max_offline_age_secs / 3600
                    )));
                }
                out.offline_period.clone_from(&offline_period);
            }
            if let Some(known) = input.known_offline {
                // The same autonomous receipt again: the same number, no second fiscalisation.
                out.response.ticket = Some(TicketResponse {
                    ticket_number: Some(known.ticket_number.clone()),
                    qr_code: Some(known.qr_code.clone()),
                });
                out.rotate = true;
                return Ok(out);
            }
            out.ledger.ensure_open(input.now_ms, doc_time);
            out.ledger.apply_ticket(&checked).map_err(ledger_refusal)?;
            let qr = qr_url(
                &input.config.qr_base,
                input.ticket_number,
                input.register.rnm.as_deref().unwrap_or_default(),
                checked.total,
                doc_time,
            )
            .into_bytes();
            out.response.ticket = Some(TicketResponse {
                ticket_number: Some(input.ticket_number.to_owned()),
                qr_code: Some(qr.clone()),
            });
            out.record = Some(Record {
                form_code: raw_command.into(),
                doc_time: Some(doc_time),
                ticket: Some(NewTicket {
                    ticket_number: input.ticket_number.to_owned(),
                    shift_number: out.ledger.shift_number,
                    shift_seq: out.ledger.counters.documents,
                    offline_sign: checked.offline_sign,
                    offline_period: if checked.offline_sign.is_some() {
                        offline_period
                    } else {
                        None
                    },
                    qr_code: qr,
                }),
            });
        }
        CommandTypeEnum::CloseShift => {
            let close = request
                .close_shift
                .as_ref()
                .ok_or_else(|| bad("CLOSE_SHIFT without a close_shift body"))?;
            let close_time = close
                .close_time
                .as_ref()
                .and_then(naive)
                .ok_or_else(|| bad("close_time is not a calendar time"))?;
            // Closing a shift that had no document closes an empty one.
            out.ledger.ensure_open(input.now_ms, close_time);
            let report = out.ledger.report(now_local, Some(close_time));
            out.ledger.close(close.withdraw_money.unwrap_or(false));
            if let Some(theirs) = &close.z_report {
                if theirs.shift_number != report.shift_number {
                    tracing::info!(
                        system_id = input.register.system_id,
                        ours = ?report.shift_number,
                        theirs = ?theirs.shift_number,
                        "register's Z-report shift number differs from the server's"
                    );
                }
            }
            out.response.report = Some(ReportResponse {
                report: Some(ReportTypeEnum::ReportZ as i32),
                zx_report: Some(report),
            });
            out.response.service = Some(ServiceResponse::default());
            out.offline_period = offline_period.filter(|_| close.is_offline == Some(true));
            out.record = Some(Record {
                form_code: raw_command.into(),
                doc_time: Some(close_time),
                ticket: None,
            });
        }
        CommandTypeEnum::Report => {
            let report = request
                .report
                .as_ref()
                .ok_or_else(|| bad("REPORT without a report body"))?;
            let kind = report
                .report
                .and_then(|r| ReportTypeEnum::try_from(r).ok())
                .ok_or_else(|| bad("unknown report type"))?;
            out.response.report = Some(ReportResponse {
                report: Some(kind as i32),
                zx_report: Some(ledger.report(now_local, None)),
            });
            // Kept like a close report (request and the answered counters), so the cabinet can
            // show a shift's X reports with their figures.
            out.record = Some(Record {
                form_code: raw_command.into(),
                doc_time: Some(now_local),
                ticket: None,
            });
        }
        CommandTypeEnum::MoneyPlacement => {
            let placement = request
                .money_placement
                .as_ref()
                .ok_or_else(|| bad("MONEY_PLACEMENT without a money_placement body"))?;
            let direction = placement
                .operation
                .and_then(|o| MoneyPlacementEnum::try_from(o).ok())
                .ok_or_else(|| bad("unknown money placement operation"))?;
            let sum = placement
                .sum
                .as_ref()
                .map(tiyn)
                .transpose()
                .map_err(|e| bad(format!("invalid amount: {e}")))?
                .unwrap_or(0);
            if sum <= 0 {
                return Err(bad("a money placement needs a positive sum"));
            }
            let doc_time = placement
                .datetime
                .as_ref()
                .and_then(naive)
                .ok_or_else(|| bad("datetime is not a calendar time"))?;
            let offline = placement.is_offline.unwrap_or(false);
            out.ledger.ensure_open(input.now_ms, doc_time);
            out.ledger
                .apply_placement(direction, sum, offline)
                .map_err(ledger_refusal)?;
            out.response.service = Some(ServiceResponse::default());
            out.offline_period = offline_period.filter(|_| offline);
            out.record = Some(Record {
                form_code: raw_command.into(),
                doc_time: Some(doc_time),
                ticket: None,
            });
        }
        CommandTypeEnum::Nomenclature => {
            out.response.nomenclature = Some(nomenclature::answer(
                request.nomenclature.as_ref(),
                input.catalogue,
            ));
        }
        CommandTypeEnum::Auth => {
            // The cabinet's cashiers log in with their code and PIN; the code is the operator
            // code the register prints.
            let login = request.auth.as_ref().and_then(|a| a.login.as_deref());
            out.response.auth = Some(if input.cashier_ok {
                AuthResponse {
                    result: Some(AuthResultTypeEnum::Ok as i32),
                    operator_code: login.and_then(|code| code.parse().ok()),
                    roles: vec![UserRoleEnum::Paymaster as i32],
                    ..Default::default()
                }
            } else {
                AuthResponse {
                    result: Some(AuthResultTypeEnum::InvalidLoginPassword as i32),
                    ..Default::default()
                }
            });
        }
        CommandTypeEnum::CancelTicket => {
            return Err(Refusal::new(
                ResultTypeEnum::UnsupportedCommand,
                "CANCEL_TICKET is deprecated in 2.0.3",
            ))
        }
        CommandTypeEnum::Reserved => {
            return Err(Refusal::new(
                ResultTypeEnum::UnknownCommand,
                "COMMAND_RESERVED is not a request",
            ))
        }
    }
    out.rotate = request.rotates_token();
    Ok(out)
}

fn shift_expired(ledger: &Ledger, now_ms: i64, max_secs: i64) -> bool {
    ledger.shift_open
        && ledger
            .opened_at_ms
            .is_some_and(|opened| now_ms.saturating_sub(opened) > max_secs.saturating_mul(1000))
}

fn ledger_refusal(e: LedgerError) -> Refusal {
    match e {
        LedgerError::NotEnoughCash => Refusal::new(
            ResultTypeEnum::NotEnoughCash,
            "not enough cash in the drawer",
        ),
        other => bad(other.to_string()),
    }
}

fn reg_info(register: &RegisterFacts) -> RegInfoResponse {
    RegInfoResponse {
        kkm: Some(KkmRegInfo {
            fns_kkm_id: register.rnm.clone(),
            serial_number: register.serial.clone(),
            kkm_id: Some(register.system_id.to_string()),
            ..Default::default()
        }),
        pos: register.point_of_sale.as_ref().map(|pos| PosRegInfo {
            title: pos.title.clone(),
            address: pos.address.clone(),
            ..Default::default()
        }),
        org: register.org_inn.as_ref().map(|inn| OrgRegInfo {
            inn: Some(inn.clone()),
            title: register.org_name.clone(),
            address: register.org_address.clone(),
            ..Default::default()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ofd_protocol::kz::{
        Amounts, Date, DateTime, ExtensionOptions, Item, ItemCommodity, ItemTypeEnum, Money,
        OperationTypeEnum, Operator, Payment, TicketRequest, Time,
    };

    const NOW_MS: i64 = 1_795_000_000_000;

    fn money(tenge: u64) -> Option<Money> {
        Some(Money {
            bills: Some(tenge),
            coins: Some(0),
        })
    }

    fn ticket(operation: OperationTypeEnum, tenge: u64, paid: u64) -> Request {
        Request {
            command: Some(CommandTypeEnum::Ticket as i32),
            ticket: Some(TicketRequest {
                operation: Some(operation as i32),
                date_time: Some(DateTime {
                    date: Some(Date {
                        year: Some(2026),
                        month: Some(11),
                        day: Some(17),
                    }),
                    time: Some(Time {
                        hour: Some(12),
                        minute: Some(0),
                        second: Some(0),
                    }),
                }),
                operator: Some(Operator {
                    code: Some(1),
                    name: None,
                }),
                items: vec![Item {
                    r#type: Some(ItemTypeEnum::Commodity as i32),
                    commodity: Some(ItemCommodity {
                        section_code: Some("1".into()),
                        quantity: Some(2000),
                        price: money(tenge / 2),
                        sum: money(tenge),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                payments: vec![Payment {
                    r#type: Some(0),
                    sum: money(paid),
                    ..Default::default()
                }],
                amounts: Some(Amounts {
                    total: money(tenge),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn run(request: &Request, state: &KzState) -> Result<Outcome, Refusal> {
        run_as(request, state, false)
    }

    fn run_as(request: &Request, state: &KzState, cashier_ok: bool) -> Result<Outcome, Refusal> {
        let config = KzConfig::default();
        let register = RegisterFacts {
            system_id: 1,
            rnm: Some("010101010101".into()),
            org_inn: Some("123456789012".into()),
            ..Default::default()
        };
        execute(
            &Input {
                config: &config,
                register: &register,
                version: ProtocolVersion::V202,
                now_ms: NOW_MS,
                request,
                ticket_number: "1234567890",
                known_offline: None,
                cashier_ok,
                catalogue: None,
            },
            state,
        )
    }

    #[test]
    fn info_names_the_organisation_and_the_point_of_sale_the_cabinet_keeps() {
        let config = KzConfig::default();
        let register = RegisterFacts {
            system_id: 1,
            org_inn: Some("000740001307".into()),
            org_name: Some("ТОО Тест".into()),
            org_address: Some("Алматы, Абая 10".into()),
            point_of_sale: Some(PointOfSaleFacts {
                title: Some("АЗС №3".into()),
                address: Some("трасса М-36".into()),
            }),
            ..Default::default()
        };
        let request = Request {
            command: Some(CommandTypeEnum::Info as i32),
            ..Default::default()
        };
        let out = execute(
            &Input {
                config: &config,
                register: &register,
                version: ProtocolVersion::V202,
                now_ms: NOW_MS,
                request: &request,
                ticket_number: "1234567890",
                known_offline: None,
                cashier_ok: false,
                catalogue: None,
            },
            &KzState::default(),
        )
        .expect("INFO answers");
        let info = out
            .response
            .service
            .and_then(|s| s.reg_info)
            .expect("reg_info");
        let org = info.org.expect("org");
        assert_eq!(org.title.as_deref(), Some("ТОО Тест"));
        assert_eq!(org.address.as_deref(), Some("Алматы, Абая 10"));
        assert_eq!(org.inn.as_deref(), Some("000740001307"));
        let pos = info.pos.expect("pos");
        assert_eq!(pos.title.as_deref(), Some("АЗС №3"));
        assert!(!out.rotate, "INFO keeps the token");
    }

    #[test]
    fn auth_answers_by_the_cashier_check_and_keeps_the_token() {
        let request = Request {
            command: Some(CommandTypeEnum::Auth as i32),
            auth: Some(ofd_protocol::kz::AuthRequest {
                login: Some("17".into()),
                password: Some("4821".into()),
            }),
            ..Default::default()
        };
        let out = run_as(&request, &KzState::default(), true).expect("answered");
        let auth = out.response.auth.expect("auth");
        assert_eq!(auth.result, Some(AuthResultTypeEnum::Ok as i32));
        assert_eq!(auth.operator_code, Some(17));
        assert_eq!(auth.roles, vec![UserRoleEnum::Paymaster as i32]);
        assert!(!out.rotate, "AUTH keeps the token");
        let out = run_as(&request, &KzState::default(), false).expect("answered");
        let auth = out.response.auth.expect("auth");
        assert_eq!(
            auth.result,
            Some(AuthResultTypeEnum::InvalidLoginPassword as i32)
        );
        assert_eq!(auth.operator_code, None);
    }

    #[test]
    fn a_sale_with_change_opens_the_shift_and_fills_the_drawer() {
        let out = run(
            &ticket(OperationTypeEnum::Sell, 100, 150),
            &KzState::default(),
        )
        .expect("valid sale");
        assert!(out.rotate);
        assert!(out.ledger.shift_open);
        assert_eq!(out.ledger.shift_number, 1);
        assert_eq!(out.ledger.cash, 100 * 100, "150 paid, 50 change");
        let ticket = out.record.and_then(|r| r.ticket).expect("a ticket row");
        assert_eq!(ticket.ticket_number, "1234567890");
    }

    #[test]
    fn wrong_sums_and_short_payments_are_incorrect_data() {
        let mut request = ticket(OperationTypeEnum::Sell, 100, 100);
        request.ticket.as_mut().unwrap().amounts = Some(Amounts {
            total: money(99),
            ..Default::default()
        });
        let refusal = run(&request, &KzState::default()).expect_err("total ≠ items");
        assert_eq!(refusal.code, ResultTypeEnum::IncorrectRequestData);
        let refusal = run(
            &ticket(OperationTypeEnum::Sell, 100, 50),
            &KzState::default(),
        )
        .expect_err("underpaid");
        assert_eq!(refusal.code, ResultTypeEnum::IncorrectRequestData);
    }

    #[test]
    fn a_cash_refund_above_the_drawer_is_not_enough_cash() {
        let refusal = run(
            &ticket(OperationTypeEnum::SellReturn, 100, 100),
            &KzState::default(),
        )
        .expect_err("empty drawer");
        assert_eq!(refusal.code, ResultTypeEnum::NotEnoughCash);
    }

    #[test]
    fn the_buyer_cannot_be_the_seller() {
        let mut request = ticket(OperationTypeEnum::Sell, 100, 100);
        request.ticket.as_mut().unwrap().extension_options = Some(ExtensionOptions {
            customer_iin_or_bin: Some("123456789012".into()),
            ..Default::default()
        });
        let refusal = run(&request, &KzState::default()).expect_err("same taxpayer");
        assert_eq!(refusal.code, ResultTypeEnum::SameTaxpayerAndCustomer);
    }

    #[test]
    fn an_overlong_shift_refuses_everything_but_close_and_queries() {
        let mut state = KzState::default();
        state.ledger.shift_open = true;
        state.ledger.shift_number = 3;
        state.ledger.opened_at_ms = Some(NOW_MS - 25 * 3600 * 1000);
        let refusal =
            run(&ticket(OperationTypeEnum::Sell, 100, 100), &state).expect_err("shift too long");
        assert_eq!(refusal.code, ResultTypeEnum::OpenShiftTimeoutExpired);
        let info = Request {
            command: Some(CommandTypeEnum::Info as i32),
            ..Default::default()
        };
        let out = run(&info, &state).expect("INFO still answers");
        assert!(!out.rotate);
        let close = Request {
            command: Some(CommandTypeEnum::CloseShift as i32),
            close_shift: Some(ofd_protocol::kz::CloseShiftRequest {
                close_time: ticket(OperationTypeEnum::Sell, 1, 1)
                    .ticket
                    .and_then(|t| t.date_time),
                ..Default::default()
            }),
            ..Default::default()
        };
        let out = run(&close, &state).expect("CLOSE_SHIFT answers");
        assert!(out.rotate);
        assert!(!out.ledger.shift_open);
        let report = out.response.report.and_then(|r| r.zx_report).expect("Z");
        assert_eq!(report.shift_number, Some(3));
    }

    #[test]
    fn deprecated_and_unknown_commands() {
        let cancel = Request {
            command: Some(CommandTypeEnum::CancelTicket as i32),
            ..Default::default()
        };
        assert_eq!(
            run(&cancel, &KzState::default())
                .expect_err("deprecated")
                .code,
            ResultTypeEnum::UnsupportedCommand
        );
        let unknown = Request {
            command: Some(99),
            ..Default::default()
        };
        assert_eq!(
            run(&unknown, &KzState::default())
                .expect_err("unknown")
                .code,
            ResultTypeEnum::UnknownCommand
        );
    }

    #[test]
    fn change_on_a_mixed_payment_may_count_from_the_cash_handed_over() {
        // 1000 ₸: 300 in cash (the buyer hands over 500) and 700 by card.
        let mut request = ticket(OperationTypeEnum::Sell, 1000, 300);
        let body = request.ticket.as_mut().expect("ticket");
        body.payments.push(Payment {
            r#type: Some(ofd_protocol::kz::PaymentTypeEnum::Card as i32),
            sum: money(700),
            ..Default::default()
        });
        let with_change = |body: &TicketRequest, change: u64| {
            let mut body = body.clone();
            if let Some(amounts) = body.amounts.as_mut() {
                amounts.taken = money(500);
                amounts.change = money(change);
            }
            crate::ingest::kz::ticket_check::check_ticket(&body, ProtocolVersion::V202, None)
        };
        assert!(with_change(body, 200).is_ok(), "500 handed for 300 in cash");
        let refused = with_change(body, 100).expect_err("change matches neither reading");
        assert_eq!(refused.code, ResultTypeEnum::IncorrectRequestData);
    }
}
