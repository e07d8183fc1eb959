//! Test-side helpers for the KZ tests: a register-like client that keeps its token and REQNUM
//! the way real ККМ clients do, request builders over the protocol crate, and provisioning
//! through the real `ofd register` CLI.
#![allow(dead_code)] // each test file uses a different subset

use std::net::SocketAddr;
use std::time::Duration;

use ofd_protocol::kz::*;
use prost::Message as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for any single network step before failing instead of hanging.
pub const STEP: Duration = Duration::from_secs(10);

/// Provision a KZ register with `ofd register add --dialect kz … --json`; returns (system id,
/// initial token).
pub fn register_kz(database: &str, serial: &str) -> (u32, u32) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ofd"))
        .args(["register", "add", "--dialect", "kz", "--serial", serial])
        .args(["--model", "TestKKM", "--reg-number", "010101010101"])
        .args(["--inn", "123456789012", "--json", "--database", database])
        .output()
        .expect("run ofd register");
    assert!(output.status.success(), "{output:?}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    let system_id = json["system_id"].as_u64().expect("system_id") as u32;
    let token = json["token"].as_u64().expect("token") as u32;
    (system_id, token)
}

/// `ofd register <action> --system-id N`.
pub fn set_status(database: &str, system_id: u32, action: &str) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ofd"))
        .args(["register", action, "--system-id", &system_id.to_string()])
        .args(["--database", database])
        .output()
        .expect("run ofd register");
    assert!(output.status.success(), "{output:?}");
}

pub fn money(bills: u64, coins: u32) -> Option<Money> {
    Some(Money {
        bills: Some(bills),
        coins: Some(coins),
    })
}

/// 2026-11-23 at `hour:minute` local.
pub fn at(hour: u32, minute: u32) -> Option<DateTime> {
    at_day(23, hour, minute)
}

pub fn at_day(day: u32, hour: u32, minute: u32) -> Option<DateTime> {
    Some(DateTime {
        date: Some(Date {
            year: Some(2026),
            month: Some(11),
            day: Some(day),
        }),
        time: Some(Time {
            hour: Some(hour),
            minute: Some(minute),
            second: Some(0),
        }),
    })
}

/// The register's local time now (UTC+5), as a wire DateTime.
pub fn local_now_minus(hours: i64) -> Option<DateTime> {
    use chrono::{Datelike, Timelike};
    let t = chrono::Utc::now().naive_utc() + chrono::Duration::hours(5 - hours);
    Some(DateTime {
        date: Some(Date {
            year: Some(t.year() as u32),
            month: Some(t.month()),
            day: Some(t.day()),
        }),
        time: Some(Time {
            hour: Some(t.hour()),
            minute: Some(t.minute()),
            second: Some(t.second()),
        }),
    })
}

fn online_service() -> Option<ServiceRequest> {
    Some(ServiceRequest {
        offline_period: Some(OfflinePeriod {
            begin_time: local_now_minus(0),
            end_time: local_now_minus(0),
        }),
        ..Default::default()
    })
}

/// A SELL (or other `operation`) receipt: one commodity of `tenge` paid in cash.
pub fn ticket(operation: OperationTypeEnum, tenge: u64) -> Request {
    Request {
        command: Some(CommandTypeEnum::Ticket as i32),
        ticket: Some(TicketRequest {
            operation: Some(operation as i32),
            date_time: local_now_minus(0),
            operator: Some(Operator {
                code: Some(1),
                name: Some("Кассир".into()),
            }),
            domain: Some(Domain {
                r#type: Some(DomainTypeEnum::Trading as i32),
                ..Default::default()
            }),
            items: vec![Item {
                r#type: Some(ItemTypeEnum::Commodity as i32),
                commodity: Some(ItemCommodity {
                    name: Some("Хлеб".into()),
                    section_code: Some("1".into()),
                    quantity: Some(1000),
                    price: money(tenge, 0),
                    sum: money(tenge, 0),
                    taxes: vec![Tax {
                        tax_type: Some(100),
                        taxation_type: Some(100),
                        percent: Some(12_000),
                        sum: money(tenge * 12 / 112, 0),
                        is_in_total_sum: Some(true),
                    }],
                    measure_unit_code: Some("796".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            payments: vec![Payment {
                r#type: Some(PaymentTypeEnum::Cash as i32),
                sum: money(tenge, 0),
                ..Default::default()
            }],
            amounts: Some(Amounts {
                total: money(tenge, 0),
                taken: money(tenge, 0),
                change: money(0, 0),
                ..Default::default()
            }),
            parent_ticket: matches!(
                operation,
                OperationTypeEnum::SellReturn | OperationTypeEnum::BuyReturn
            )
            .then(|| ParentTicket {
                parent_ticket_number: Some("1000000000".into()),
                parent_ticket_data_time: local_now_minus(1),
                kgd_kkm_id: Some("010101010101".into()),
                parent_ticket_total: money(tenge, 0),
                parent_ticket_is_offline: Some(false),
            }),
            ..Default::default()
        }),
        service: online_service(),
        ..Default::default()
    }
}

/// An offline receipt with autonomous sign `sign`, made `hours_ago`.
pub fn offline_ticket(tenge: u64, sign: u32, hours_ago: i64) -> Request {
    let mut request = ticket(OperationTypeEnum::Sell, tenge);
    let t = request.ticket.as_mut().expect("ticket");
    t.offline_ticket_number = Some(sign);
    t.date_time = local_now_minus(hours_ago);
    request.service = Some(ServiceRequest {
        offline_period: Some(OfflinePeriod {
            begin_time: local_now_minus(hours_ago),
            end_time: local_now_minus(0),
        }),
        ..Default::default()
    });
    request
}

pub fn system(get_reg_info: bool) -> Request {
    Request {
        command: Some(CommandTypeEnum::System as i32),
        service: Some(ServiceRequest {
            get_reg_info: Some(get_reg_info),
            ..online_service().expect("service")
        }),
        ..Default::default()
    }
}

pub fn info() -> Request {
    Request {
        command: Some(CommandTypeEnum::Info as i32),
        service: online_service(),
        ..Default::default()
    }
}

pub fn report(kind: ReportTypeEnum) -> Request {
    Request {
        command: Some(CommandTypeEnum::Report as i32),
        report: Some(ReportRequest {
            report: Some(kind as i32),
            date_time: local_now_minus(0),
            ..Default::default()
        }),
        service: online_service(),
        ..Default::default()
    }
}

pub fn money_placement(direction: MoneyPlacementEnum, tenge: u64) -> Request {
    Request {
        command: Some(CommandTypeEnum::MoneyPlacement as i32),
        money_placement: Some(MoneyPlacementRequest {
            datetime: local_now_minus(0),
            operation: Some(direction as i32),
            sum: money(tenge, 0),
            operator: Some(Operator {
                code: Some(1),
                name: None,
            }),
            ..Default::default()
        }),
        service: online_service(),
        ..Default::default()
    }
}

pub fn close_shift() -> Request {
    Request {
        command: Some(CommandTypeEnum::CloseShift as i32),
        close_shift: Some(CloseShiftRequest {
            close_time: local_now_minus(0),
            operator: Some(Operator {
                code: Some(1),
                name: None,
            }),
            ..Default::default()
        }),
        service: online_service(),
        ..Default::default()
    }
}

/// A whole request frame.
pub fn frame(system_id: u32, token: u32, reqnum: u16, request: &Request) -> Vec<u8> {
    let header = Header {
        version: 203,
        size: 0,
        system_id,
        token,
        request_number: reqnum,
    };
    encode_frame(header, request).expect("encode request")
}

/// A decoded reply.
#[derive(Debug, Clone)]
pub struct Reply {
    pub bytes: Vec<u8>,
    pub header: Header,
    pub response: Response,
}

impl Reply {
    pub fn code(&self) -> u32 {
        self.response.result_code().expect("result code")
    }
}

/// Read one response frame from `stream`; `None` if the server closed instead.
pub async fn read_reply(stream: &mut TcpStream) -> Option<Reply> {
    let mut bytes = vec![0u8; HEADER_LEN];
    tokio::time::timeout(STEP, stream.read_exact(&mut bytes))
        .await
        .expect("answer or close in time")
        .ok()?;
    let header = Header::decode(&bytes).expect("response header");
    bytes.resize(header.size as usize, 0);
    tokio::time::timeout(STEP, stream.read_exact(&mut bytes[HEADER_LEN..]))
        .await
        .expect("body in time")
        .ok()?;
    let response = decode_response(&bytes[HEADER_LEN..]).expect("valid response");
    Some(Reply {
        bytes,
        header,
        response,
    })
}

/// Send `frame` on a fresh connection and read the reply.
pub async fn send_frame(addr: SocketAddr, frame: &[u8]) -> Option<Reply> {
    let mut stream = tokio::time::timeout(STEP, TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect");
    stream.write_all(frame).await.ok()?;
    read_reply(&mut stream).await
}

/// A ККМ as the clients behave: it keeps the token from the last response and increments
/// REQNUM for every new request, one connection per request.
#[derive(Debug, Clone)]
pub struct Kkm {
    pub addr: SocketAddr,
    pub system_id: u32,
    pub token: u32,
    pub reqnum: u16,
}

impl Kkm {
    pub fn new(addr: SocketAddr, system_id: u32, token: u32) -> Kkm {
        Kkm {
            addr,
            system_id,
            token,
            reqnum: 0,
        }
    }

    /// The frame of the next request (does not advance state).
    pub fn next_frame(&self, request: &Request) -> Vec<u8> {
        frame(
            self.system_id,
            self.token,
            self.reqnum.wrapping_add(1),
            request,
        )
    }

    /// Send a new request; adopt the response's token (as both clients do, errors included).
    pub async fn send(&mut self, request: &Request) -> Reply {
        let bytes = self.next_frame(request);
        self.reqnum = self.reqnum.wrapping_add(1);
        let reply = send_frame(self.addr, &bytes)
            .await
            .expect("server answered");
        assert_eq!(reply.header.request_number, self.reqnum, "REQNUM echoed");
        assert_eq!(reply.header.system_id, self.system_id, "ID echoed");
        self.token = reply.header.token;
        reply
    }
}

/// Encoded length sanity for a request (keeps the encoder in the loop).
pub fn encoded_len(request: &Request) -> usize {
    request.encoded_len()
}
