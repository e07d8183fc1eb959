//! Simulated KZ registers (ККМ, protocol 2.0.3): each was provisioned with a system id and an
//! initial token, keeps the token every reply hands it, increments REQNUM per new request, and
//! checks every response.
//!
//! The mix per register: a cash deposit opens the shift, tickets (sales and some returns of
//! earlier sales) follow with the odd X report and withdrawal, and a shift close ends the run
//! (and every [`SHIFT_LENGTH`] documents). With `--kz-offline-rate`, a register now and then
//! "loses its link": it queues a burst of documents with their own (past) times, marked offline
//! (autonomous ticket numbers, `is_offline`, the offline period), and replays them in order.
//!
//! A response counts only when it is for this system id and command, has result 0, hands over a
//! new token after a state-changing command, and (tickets) carries a ticket number.

mod documents;

use std::collections::VecDeque;

use bytes::Bytes;
use ofd_protocol::kz::{
    decode_response, encode_frame, split_frame, CommandTypeEnum, Header, Operator, Request,
    ResultTypeEnum, DEFAULT_MAX_FRAME, HEADER_LEN,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use self::documents::{Counters, LocalTime, RequestBuilder, SoldTicket, Timing};
use super::model::{Outgoing, RegisterModel, ReplyFraming, Verdict};

/// Documents per shift before the register closes it.
const SHIFT_LENGTH: u32 = 200;
/// Almaty wall clock: document times are local, not UTC.
const LOCAL_OFFSET_S: i64 = 5 * 3600;
/// Seconds of register time between two documents (the fleet's clocks run ahead of the wall
/// clock this fast, starting far enough back that no document is in the future).
const SECONDS_PER_DOCUMENT: i64 = 30;
/// Furthest back a register's clock starts (30 days).
const MAX_BACKDATING_S: i64 = 30 * 86_400;
/// Protocol version in the header.
const VERSION: u16 = 203;

/// How KZ replies are framed: 18-byte header whose SIZE counts the whole frame.
pub struct KzFraming;

impl ReplyFraming for KzFraming {
    fn header_len(&self) -> usize {
        HEADER_LEN
    }

    fn frame_len(&self, header: &[u8]) -> Result<usize, String> {
        let header = Header::decode(header).map_err(|error| error.to_string())?;
        header
            .check_size(DEFAULT_MAX_FRAME)
            .map_err(|error| error.to_string())?;
        Ok(header.size as usize)
    }
}

/// A provisioned KZ register: what the OFD cabinet issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub struct Credentials {
    /// System id (frame header ID).
    pub system_id: u32,
    /// Initial token.
    pub token: u32,
}

/// Settings shared by every KZ register of a run.
pub struct FleetSettings {
    /// Documents per register.
    pub documents: u64,
    /// Probability that a document starts an offline burst.
    pub offline_rate: f64,
    /// Seed of the document generator.
    pub seed: u64,
}

/// One register per credential.
pub fn fleet(
    credentials: &[Credentials],
    settings: &FleetSettings,
    now_unix: i64,
) -> Vec<Box<dyn RegisterModel>> {
    credentials
        .iter()
        .enumerate()
        .map(|(index, credentials)| {
            Box::new(KzRegister::new(
                index as u64,
                *credentials,
                settings,
                now_unix,
            )) as Box<dyn RegisterModel>
        })
        .collect()
}

/// What kind of document is next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Deposit,
    Sale,
    Return,
    Withdrawal,
    XReport,
    CloseShift,
}

impl Kind {
    fn label(self, offline: bool) -> &'static str {
        match (self, offline) {
            (Kind::Deposit, false) => "deposit",
            (Kind::Deposit, true) => "deposit.offline",
            (Kind::Sale, false) => "ticket",
            (Kind::Sale, true) => "ticket.offline",
            (Kind::Return, false) => "ticket_return",
            (Kind::Return, true) => "ticket_return.offline",
            (Kind::Withdrawal, false) => "withdrawal",
            (Kind::Withdrawal, true) => "withdrawal.offline",
            (Kind::XReport, false) => "x_report",
            (Kind::XReport, true) => "x_report.offline",
            (Kind::CloseShift, false) => "close_shift",
            (Kind::CloseShift, true) => "close_shift.offline",
        }
    }
}

/// A request built but not yet sent: online ones are sent at once, offline ones wait in the
/// queue (their bodies are final; only the header's token and REQNUM are filled in at send
/// time, and the offline period's end becomes the replay time).
#[derive(Debug, Clone)]
struct Prepared {
    request: Request,
    command: CommandTypeEnum,
    label: &'static str,
    offline: bool,
    sale: Option<SoldTicket>,
}

/// The request in flight and what its acknowledgement means.
#[derive(Debug, Clone)]
struct InFlight {
    command: CommandTypeEnum,
    /// Whether a successful answer must carry a new token.
    rotates_token: bool,
    sale: Option<SoldTicket>,
}

/// One simulated ККМ.
pub struct KzRegister {
    credentials: Credentials,
    token: u32,
    rnm: String,
    rng: StdRng,
    planned: u64,
    produced: u64,
    offline_rate: f64,
    request_number: u16,
    counters: Counters,
    shift_open: bool,
    clock: LocalTime,
    offline_queue: VecDeque<Prepared>,
    last_sale: Option<SoldTicket>,
    in_flight: Option<InFlight>,
}

impl KzRegister {
    fn new(index: u64, credentials: Credentials, settings: &FleetSettings, now_unix: i64) -> Self {
        let span = i64::try_from(settings.documents)
            .unwrap_or(i64::MAX / 2)
            .saturating_mul(SECONDS_PER_DOCUMENT)
            .min(MAX_BACKDATING_S);
        KzRegister {
            credentials,
            token: credentials.token,
            rnm: format!(
                "{:012}",
                600_000_000_000u64 + u64::from(credentials.system_id)
            ),
            rng: StdRng::seed_from_u64(settings.seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            planned: settings.documents,
            produced: 0,
            offline_rate: settings.offline_rate,
            request_number: 0,
            counters: Counters::default(),
            shift_open: false,
            clock: LocalTime(now_unix + LOCAL_OFFSET_S - span),
            offline_queue: VecDeque::new(),
            last_sale: None,
            in_flight: None,
        }
    }

    fn next_kind(&mut self) -> Kind {
        let last = self.produced + 1 == self.planned;
        if self.planned >= 3 && !self.shift_open {
            return Kind::Deposit;
        }
        if self.planned >= 3 && (last || self.counters.documents_in_shift + 1 >= SHIFT_LENGTH) {
            return Kind::CloseShift;
        }
        match self.rng.gen_range(0..100) {
            85..=91 if self.last_sale.is_some() => Kind::Return,
            92..=95 => Kind::XReport,
            96..=99 if self.counters.cash > 0 => Kind::Withdrawal,
            _ => Kind::Sale,
        }
    }

    /// Advance the register's clock by one document, never past the wall clock.
    fn tick(&mut self, now: LocalTime) -> LocalTime {
        let next = (self.clock.0 + SECONDS_PER_DOCUMENT)
            .min(now.0)
            .max(self.clock.0);
        self.clock = LocalTime(next);
        self.clock
    }

    /// Build the next document (updating the register's own counters as it is "printed").
    fn prepare(&mut self, now: LocalTime, offline_since: Option<LocalTime>) -> Prepared {
        let kind = self.next_kind();
        let time = self.tick(now);
        let timing = Timing {
            time,
            now,
            offline_since,
        };
        self.produced += 1;
        let builder = RequestBuilder {
            rnm: &self.rnm,
            operator: Operator {
                code: Some(1),
                name: Some("Кассир 1".to_owned()),
            },
        };
        if !self.shift_open {
            self.counters.open_shift(time);
            self.shift_open = true;
        }
        let mut sale = None;
        let (request, command) = match kind {
            Kind::Deposit => {
                let sum = self.rng.gen_range(5_000..=20_000u64) * 100;
                (
                    builder.money_placement(timing, &mut self.counters, true, sum),
                    CommandTypeEnum::MoneyPlacement,
                )
            }
            Kind::Withdrawal => {
                let sum = (self.counters.cash / 2 / 100 * 100)
                    .max(100)
                    .min(self.counters.cash);
                (
                    builder.money_placement(timing, &mut self.counters, false, sum),
                    CommandTypeEnum::MoneyPlacement,
                )
            }
            Kind::Sale => {
                let (request, lines, total) =
                    builder.sale(timing, &mut self.counters, &mut self.rng);
                sale = Some(SoldTicket {
                    number: String::new(),
                    time,
                    lines,
                    total,
                    offline: offline_since.is_some(),
                });
                (request, CommandTypeEnum::Ticket)
            }
            Kind::Return => match self.last_sale.take() {
                Some(parent) => (
                    builder.sale_return(timing, &mut self.counters, &parent, &mut self.rng),
                    CommandTypeEnum::Ticket,
                ),
                None => {
                    let (request, _, _) = builder.sale(timing, &mut self.counters, &mut self.rng);
                    (request, CommandTypeEnum::Ticket)
                }
            },
            Kind::XReport => (
                builder.x_report(timing, &self.counters),
                CommandTypeEnum::Report,
            ),
            Kind::CloseShift => {
                self.shift_open = false;
                (
                    builder.close_shift(timing, &self.counters),
                    CommandTypeEnum::CloseShift,
                )
            }
        };
        Prepared {
            request,
            command,
            label: kind.label(offline_since.is_some()),
            offline: offline_since.is_some(),
            sale,
        }
    }

    /// Maybe lose the link: queue a burst of documents made "offline" to replay in order.
    fn maybe_go_offline(&mut self, now: LocalTime) {
        let remaining = self.planned - self.produced;
        if self.offline_rate <= 0.0
            || remaining <= 2
            || !self.rng.gen_bool(self.offline_rate.min(1.0))
        {
            return;
        }
        // The run's last document (the close) stays online.
        let burst = self.rng.gen_range(3..=10u64).min(remaining - 1);
        let since = LocalTime((self.clock.0 + SECONDS_PER_DOCUMENT).min(now.0));
        for _ in 0..burst {
            let prepared = self.prepare(now, Some(since));
            self.offline_queue.push_back(prepared);
        }
    }

    /// Frame `prepared` with the current token and the next REQNUM.
    fn frame(&mut self, mut prepared: Prepared, now: LocalTime) -> anyhow::Result<Outgoing> {
        if prepared.offline {
            // The replay happens now: the offline period ends at the replay time.
            if let Some(period) = prepared
                .request
                .service
                .as_mut()
                .and_then(|service| service.offline_period.as_mut())
            {
                period.end_time = Some(now.to_proto());
            }
        }
        // REQNUM wraps past 65535 to 1 (0 is never sent).
        self.request_number = self.request_number.checked_add(1).unwrap_or(1);
        let header = Header {
            version: VERSION,
            size: 0,
            system_id: self.credentials.system_id,
            token: self.token,
            request_number: self.request_number,
        };
        let frame = encode_frame(header, &prepared.request)?;
        self.in_flight = Some(InFlight {
            command: prepared.command,
            rotates_token: prepared.request.rotates_token(),
            sale: prepared.sale.take(),
        });
        Ok(Outgoing {
            frame: Bytes::from(frame),
            kind: prepared.label,
        })
    }
}

impl RegisterModel for KzRegister {
    fn next_document(&mut self, now_unix: i64) -> Option<Outgoing> {
        let now = LocalTime(now_unix + LOCAL_OFFSET_S);
        let prepared = match self.offline_queue.pop_front() {
            Some(prepared) => prepared,
            None => {
                if self.produced >= self.planned {
                    return None;
                }
                self.maybe_go_offline(now);
                match self.offline_queue.pop_front() {
                    Some(prepared) => prepared,
                    None => self.prepare(now, None),
                }
            }
        };
        match self.frame(prepared, now) {
            Ok(outgoing) => Some(outgoing),
            Err(error) => {
                tracing::error!(system_id = self.credentials.system_id, %error, "request encoding failed");
                self.produced = self.planned;
                self.offline_queue.clear();
                None
            }
        }
    }

    fn check_reply(&mut self, _sent: &Outgoing, reply: &[u8]) -> Verdict {
        let Some(in_flight) = self.in_flight.clone() else {
            return Verdict::Invalid("no_request_in_flight".to_owned());
        };
        let (header, body) = match split_frame(reply, DEFAULT_MAX_FRAME) {
            Ok(parts) => parts,
            Err(_) => return Verdict::Invalid("undecodable_frame".to_owned()),
        };
        if header.system_id != self.credentials.system_id {
            return Verdict::Invalid("system_id_mismatch".to_owned());
        }
        let response = match decode_response(body) {
            Ok(response) => response,
            Err(_) => return Verdict::Invalid("undecodable_response".to_owned()),
        };
        let Some(code) = response.result_code() else {
            return Verdict::Invalid("no_result".to_owned());
        };
        if code == ResultTypeEnum::ServiceTemporarilyUnavailable.code()
            || code == ResultTypeEnum::UnknownError.code()
        {
            // Storage trouble on the OFD side: resend the same request later.
            return Verdict::RetryLater(format!("result={code}"));
        }
        // Registers keep the token of every reply, error replies included.
        let previous = self.token;
        self.token = header.token;
        self.in_flight = None;
        if response.command != Some(in_flight.command as i32) {
            return Verdict::Invalid("command_mismatch".to_owned());
        }
        if code != ResultTypeEnum::Ok.code() {
            return Verdict::Rejected(format!("result={code}"));
        }
        if in_flight.rotates_token && (header.token == previous || header.token == 0) {
            return Verdict::Invalid("token_not_rotated".to_owned());
        }
        match in_flight.command {
            CommandTypeEnum::Ticket => {
                let number = response
                    .ticket
                    .and_then(|ticket| ticket.ticket_number)
                    .unwrap_or_default();
                if number.is_empty() || !number.bytes().all(|byte| byte.is_ascii_digit()) {
                    return Verdict::Invalid("no_ticket_number".to_owned());
                }
                if let Some(mut sale) = in_flight.sale {
                    sale.number = number;
                    self.last_sale = Some(sale);
                }
            }
            CommandTypeEnum::CloseShift if response.report.is_none() => {
                return Verdict::Invalid("no_z_report".to_owned());
            }
            _ => {}
        }
        Verdict::Acked
    }
}

#[cfg(test)]
mod tests {
    use ofd_protocol::kz::{decode_request, Response, ResponseResult, TicketResponse};

    use super::*;

    const NOW: i64 = 1_795_000_000;

    fn register(documents: u64, offline_rate: f64) -> KzRegister {
        let settings = FleetSettings {
            documents,
            offline_rate,
            seed: 11,
        };
        KzRegister::new(
            0,
            Credentials {
                system_id: 201_873,
                token: 208_627_316,
            },
            &settings,
            NOW,
        )
    }

    /// A reply built with the protocol crate, as a server would build it.
    fn reply(
        request: &[u8],
        code: ResultTypeEnum,
        token: u32,
        ticket_number: Option<&str>,
    ) -> Vec<u8> {
        let (header, body) = split_frame(request, DEFAULT_MAX_FRAME).unwrap();
        let request = decode_request(body).unwrap();
        let mut response = Response::result_only(request.command.unwrap(), code, "");
        response.result = Some(ResponseResult {
            result_code: Some(code.code()),
            result_text: None,
        });
        response.ticket = ticket_number.map(|number| TicketResponse {
            ticket_number: Some(number.to_owned()),
            qr_code: None,
        });
        if request.command == Some(CommandTypeEnum::CloseShift as i32) {
            response.report = Some(ofd_protocol::kz::ReportResponse {
                report: Some(ofd_protocol::kz::ReportTypeEnum::ReportZ as i32),
                zx_report: None,
            });
        }
        encode_frame(Header { token, ..header }, &response).unwrap()
    }

    #[test]
    fn keeps_the_token_increments_reqnum_and_sends_a_consistent_mix() {
        let mut register = register(60, 0.0);
        let mut token = 208_627_316;
        let mut expected_reqnum = 1;
        let mut kinds = Vec::new();
        while let Some(outgoing) = register.next_document(NOW) {
            let (header, body) = split_frame(&outgoing.frame, DEFAULT_MAX_FRAME).unwrap();
            assert_eq!(header.token, token, "uses the token of the last reply");
            assert_eq!(header.request_number, expected_reqnum);
            assert_eq!(header.version, 203);
            let request = decode_request(body).unwrap();
            if let Some(ticket) = &request.ticket {
                let items: u64 = ticket
                    .items
                    .iter()
                    .map(|item| tiyn(&item.commodity.as_ref().unwrap().sum))
                    .sum();
                let paid: u64 = ticket
                    .payments
                    .iter()
                    .map(|payment| tiyn(&payment.sum))
                    .sum();
                let total = tiyn(&ticket.amounts.as_ref().unwrap().total);
                assert_eq!(items, total);
                assert_eq!(paid, total);
                assert!(ticket.offline_ticket_number.is_none());
            }
            kinds.push(outgoing.kind);
            token = token.wrapping_mul(31).wrapping_add(7);
            let number =
                (request.command == Some(CommandTypeEnum::Ticket as i32)).then_some("1234567890");
            let answer = reply(&outgoing.frame, ResultTypeEnum::Ok, token, number);
            assert_eq!(register.check_reply(&outgoing, &answer), Verdict::Acked);
            expected_reqnum += 1;
        }
        assert_eq!(kinds.len(), 60);
        assert_eq!(kinds.first(), Some(&"deposit"));
        assert_eq!(kinds.last(), Some(&"close_shift"));
        assert!(
            kinds.iter().filter(|kind| **kind == "ticket").count() > 30,
            "{kinds:?}"
        );
        assert!(
            kinds.contains(&"ticket_return") && kinds.contains(&"x_report"),
            "{kinds:?}"
        );
    }

    #[test]
    fn judges_replies() {
        let mut register = register(10, 0.0);
        let deposit = register.next_document(NOW).unwrap();
        let same_token = reply(&deposit.frame, ResultTypeEnum::Ok, 208_627_316, None);
        assert_eq!(
            register.check_reply(&deposit, &same_token),
            Verdict::Invalid("token_not_rotated".into())
        );
        let sale = register.next_document(NOW).unwrap();
        let busy = reply(
            &sale.frame,
            ResultTypeEnum::ServiceTemporarilyUnavailable,
            5,
            None,
        );
        assert_eq!(
            register.check_reply(&sale, &busy),
            Verdict::RetryLater("result=254".into())
        );
        let no_number = reply(&sale.frame, ResultTypeEnum::Ok, 5, None);
        assert_eq!(
            register.check_reply(&sale, &no_number),
            Verdict::Invalid("no_ticket_number".into())
        );
        let next = register.next_document(NOW).unwrap();
        let refused = reply(&next.frame, ResultTypeEnum::InvalidToken, 5, None);
        assert_eq!(
            register.check_reply(&next, &refused),
            Verdict::Rejected("result=2".into())
        );
    }

    fn tiyn(money: &Option<ofd_protocol::kz::Money>) -> u64 {
        let money = money.as_ref().unwrap();
        money.bills.unwrap() * 100 + u64::from(money.coins.unwrap())
    }

    fn sortable(time: ofd_protocol::kz::DateTime) -> (u32, u32, u32, u32, u32, u32) {
        let (date, clock) = (time.date.unwrap(), time.time.unwrap());
        (
            date.year.unwrap(),
            date.month.unwrap(),
            date.day.unwrap(),
            clock.hour.unwrap(),
            clock.minute.unwrap(),
            clock.second.unwrap_or(0),
        )
    }

    #[test]
    fn offline_bursts_replay_in_order_with_offline_marks() {
        let mut register = register(40, 1.0);
        let mut offline = 0;
        let mut last_time = None;
        let mut token = 1;
        while let Some(outgoing) = register.next_document(NOW) {
            let (_, body) = split_frame(&outgoing.frame, DEFAULT_MAX_FRAME).unwrap();
            let request = decode_request(body).unwrap();
            let period = request
                .service
                .as_ref()
                .unwrap()
                .offline_period
                .clone()
                .unwrap();
            if outgoing.kind.ends_with(".offline") {
                offline += 1;
                assert_ne!(period.begin_time, period.end_time);
                if let Some(ticket) = &request.ticket {
                    assert!(ticket
                        .offline_ticket_number
                        .is_some_and(|number| number > 0));
                    let time = sortable(ticket.date_time.clone().unwrap());
                    assert!(last_time <= Some(time), "replayed in the original order");
                    last_time = Some(time);
                }
            }
            token += 1;
            let number = (request.command == Some(CommandTypeEnum::Ticket as i32)).then_some("42");
            let answer = reply(&outgoing.frame, ResultTypeEnum::Ok, token, number);
            assert_eq!(register.check_reply(&outgoing, &answer), Verdict::Acked);
        }
        assert!(offline >= 30, "{offline} offline documents");
    }
}
