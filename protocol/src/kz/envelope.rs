//! The top-level `Request` and `Response` messages, the command codes and the result codes
//! (spec §3).

use super::nomenclature::{NomenclatureRequest, NomenclatureResponse};
use super::report::{
    CloseShiftRequest, MoneyPlacementRequest, ReportRequest, ReportResponse, ReportTypeEnum,
};
use super::required::validate;
use super::service_block::{AuthRequest, AuthResponse, ServiceRequest, ServiceResponse};
use super::ticket::{TicketRequest, TicketResponse};

/// A register's request: the command and the body that goes with it.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct Request {
    /// A [`CommandTypeEnum`] value (unknown values are kept).
    #[prost(enumeration = "CommandTypeEnum", optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<i32>,
    /// Body of COMMAND_TICKET.
    #[prost(message, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<TicketRequest>,
    /// Body of COMMAND_CLOSE_SHIFT.
    #[prost(message, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_shift: Option<CloseShiftRequest>,
    /// Body of COMMAND_REPORT.
    #[prost(message, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportRequest>,
    /// Body of COMMAND_NOMENCLATURE.
    #[prost(message, optional, tag = "5")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nomenclature: Option<NomenclatureRequest>,
    /// Service block; may accompany any command.
    #[prost(message, optional, tag = "6")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceRequest>,
    /// Body of COMMAND_MONEY_PLACEMENT.
    #[prost(message, optional, tag = "7")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub money_placement: Option<MoneyPlacementRequest>,
    /// Body of COMMAND_AUTH.
    #[prost(message, optional, tag = "8")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthRequest>,
}
validate!(Request {
    req: [command],
    req_msg: [],
    opt_msg: [
        ticket,
        close_shift,
        report,
        nomenclature,
        service,
        money_placement,
        auth
    ],
    rep_msg: [],
});

/// The OFD's response: the command echoed, the result, and the body that goes with it.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct Response {
    /// The request's command.
    #[prost(enumeration = "CommandTypeEnum", optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<i32>,
    /// Result code and text.
    #[prost(message, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<ResponseResult>,
    /// Answer to a receipt.
    #[prost(message, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<TicketResponse>,
    /// A report.
    #[prost(message, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportResponse>,
    /// The catalogue.
    #[prost(message, optional, tag = "5")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nomenclature: Option<NomenclatureResponse>,
    /// Service data.
    #[prost(message, optional, tag = "6")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceResponse>,
    /// Answer to a login.
    #[prost(message, optional, tag = "7")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthResponse>,
}
validate!(Response {
    req: [command],
    req_msg: [result],
    opt_msg: [ticket, report, nomenclature, service, auth],
    rep_msg: [],
});

impl Request {
    /// Whether a successful answer to this request hands the register a fresh token: TICKET,
    /// CLOSE_SHIFT, MONEY_PLACEMENT and REPORT Z change fiscal state and rotate it; SYSTEM,
    /// INFO, REPORT X, NOMENCLATURE and AUTH keep it (project rule, spec §5). Refusals never
    /// rotate. The server and the emulator share this one rule.
    pub fn rotates_token(&self) -> bool {
        match self.command.and_then(|c| CommandTypeEnum::try_from(c).ok()) {
            Some(
                CommandTypeEnum::Ticket
                | CommandTypeEnum::CloseShift
                | CommandTypeEnum::MoneyPlacement,
            ) => true,
            Some(CommandTypeEnum::Report) => {
                self.report.as_ref().and_then(|r| r.report) == Some(ReportTypeEnum::ReportZ as i32)
            }
            _ => false,
        }
    }
}

/// `Result`: the outcome of a request.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ResponseResult {
    /// A [`ResultTypeEnum`] value as a plain `uint32`.
    #[prost(uint32, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_code: Option<u32>,
    /// Human-readable explanation.
    #[prost(string, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_text: Option<String>,
}
validate!(ResponseResult {
    req: [result_code],
    req_msg: [],
    opt_msg: [],
    rep_msg: []
});

/// What the register asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum CommandTypeEnum {
    /// Service packet: registration handshake, heartbeat.
    System = 0,
    /// A receipt.
    Ticket = 1,
    /// Close the shift (Z-report).
    CloseShift = 2,
    /// X or Z report query.
    Report = 3,
    /// Product catalogue.
    Nomenclature = 4,
    /// Registration data and current counters.
    Info = 5,
    /// Cash deposit or withdrawal.
    MoneyPlacement = 6,
    /// Cancel a receipt (deprecated in 2.0.3).
    CancelTicket = 7,
    /// Cashier login.
    Auth = 8,
    /// Reserved; the server answers with it when the command cannot be decoded.
    Reserved = 127,
}

/// Result codes of [`ResponseResult::result_code`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ResultTypeEnum {
    /// Success.
    Ok = 0,
    /// The system id is not registered.
    UnknownId = 1,
    /// The token does not match.
    InvalidToken = 2,
    /// Malformed request or unsupported version.
    ProtocolError = 3,
    /// The command code is unknown.
    UnknownCommand = 4,
    /// The command is not available.
    UnsupportedCommand = 5,
    /// Unsupported configuration.
    InvalidConfiguration = 6,
    /// Unused in 2.0.3.
    SslIsNotAllowed = 7,
    /// Same request number with a different token.
    InvalidRequestNumber = 8,
    /// Same request number and token with a different command.
    InvalidRetryRequest = 9,
    /// The receipt cannot be cancelled (deprecated).
    CantCancelTicket = 10,
    /// The shift has been open too long; close it.
    OpenShiftTimeoutExpired = 11,
    /// Wrong login or password (deprecated; see AuthResponse).
    InvalidLoginPassword = 12,
    /// Well-formed but wrong in context.
    IncorrectRequestData = 13,
    /// Not enough cash in the drawer.
    NotEnoughCash = 14,
    /// The register is blocked or deregistered.
    Blocked = 15,
    /// The shift is already open.
    ShiftAlreadyOpened = 16,
    /// Buyer and seller are the same taxpayer.
    SameTaxpayerAndCustomer = 17,
    /// The barcode is not in the national catalogue.
    ElementNotFoundByBarcode = 18,
    /// Storage failed; the register retries, then goes offline.
    ServiceTemporarilyUnavailable = 254,
    /// Unexpected failure; treated like 254 by registers.
    UnknownError = 255,
}

impl ResultTypeEnum {
    /// The wire value for [`ResponseResult::result_code`].
    pub fn code(self) -> u32 {
        self as i32 as u32
    }
}

impl Response {
    /// A response carrying only a result (errors, and commands without a body).
    pub fn result_only(command: i32, code: ResultTypeEnum, text: impl Into<String>) -> Self {
        Response {
            command: Some(command),
            result: Some(ResponseResult {
                result_code: Some(code.code()),
                result_text: Some(text.into()),
            }),
            ..Default::default()
        }
    }

    /// The result code, if present.
    pub fn result_code(&self) -> Option<u32> {
        self.result.as_ref().and_then(|r| r.result_code)
    }
}
