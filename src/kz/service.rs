//! The KZ connection handler: frames in, responses out, one request per register at a time.
//!
//! Per frame: version policy → register identity and status → REQNUM/token gate (replays are
//! answered from the stored cache) → protobuf decode → [`engine::execute`] → one
//! [`KzCommit`] through the shared writer → the response bytes, written only after the commit.
//!
//! Refusals before the token check (unknown id, blocked, bad token, REQNUM misuse, version) are
//! neither stored nor cached and echo the register's own token. Refusals after it (bad data, cash,
//! shift timeout) are cached like any answer so a retry gets the same bytes. Storage failure is
//! the only case answered with SERVICE_TEMPORARILY_UNAVAILABLE (254), and is never cached.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use ofd_protocol::kz::{
    decode_request, encode_frame, peek_command, CommandTypeEnum, Header, HeaderError,
    ProtocolVersion, Request, Response, ResultTypeEnum, HEADER_LEN,
};
use prometheus::{IntCounter, IntCounterVec, Opts, Registry};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use super::engine::{self, Input, RegisterFacts};
use super::fiscal_sign::draw_ticket_number;
use super::state::{gate, next_token, Exchange, Gate, KzState};
use super::store::{doc_time, find_offline_ticket, load_state, CommitOutcome, KzCommit};
use super::{KzConfig, Refusal};
use crate::store::registers::fetch_register_by_system_id;
use crate::store::{Dialect, NewDocument, RegisterStatus, Store, Writer};

/// Draws of a fresh ticket number before giving up (a collision needs ~10^9 stored tickets).
const TICKET_NUMBER_ATTEMPTS: usize = 8;

/// What to do with the connection after a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Write these bytes and keep reading.
    Send(Vec<u8>),
    /// Write these bytes, then close.
    SendAndClose(Vec<u8>),
    /// Close without answering (rate-limited abuse).
    Close,
}

/// Prometheus counters of the KZ dialect.
#[derive(Clone)]
pub struct KzMetrics {
    responses: IntCounterVec,
    replays: IntCounter,
    invalid_tokens: IntCounter,
    rate_limited: IntCounter,
}

impl KzMetrics {
    /// Creates the counters and registers them in `registry`.
    pub fn new(registry: &Registry) -> prometheus::Result<Self> {
        let responses = IntCounterVec::new(
            Opts::new(
                "ofd_kz_responses_total",
                "KZ responses sent, by command and result code",
            ),
            &["command", "result"],
        )?;
        let replays = IntCounter::new(
            "ofd_kz_replays_total",
            "KZ retries answered from the response cache",
        )?;
        let invalid_tokens = IntCounter::new(
            "ofd_kz_invalid_token_total",
            "KZ requests refused with INVALID_TOKEN",
        )?;
        let rate_limited = IntCounter::new(
            "ofd_kz_rate_limited_total",
            "KZ connections closed for too many INVALID_TOKEN refusals",
        )?;
        registry.register(Box::new(responses.clone()))?;
        registry.register(Box::new(replays.clone()))?;
        registry.register(Box::new(invalid_tokens.clone()))?;
        registry.register(Box::new(rate_limited.clone()))?;
        Ok(KzMetrics {
            responses,
            replays,
            invalid_tokens,
            rate_limited,
        })
    }

    fn response(&self, command: i32, code: u32) {
        let command = CommandTypeEnum::try_from(command)
            .map(command_label)
            .unwrap_or("unknown");
        self.responses
            .with_label_values(&[command, &code.to_string()])
            .inc();
    }
}

/// The metric label of a command.
fn command_label(command: CommandTypeEnum) -> &'static str {
    match command {
        CommandTypeEnum::System => "system",
        CommandTypeEnum::Ticket => "ticket",
        CommandTypeEnum::CloseShift => "close_shift",
        CommandTypeEnum::Report => "report",
        CommandTypeEnum::Nomenclature => "nomenclature",
        CommandTypeEnum::Info => "info",
        CommandTypeEnum::MoneyPlacement => "money_placement",
        CommandTypeEnum::CancelTicket => "cancel_ticket",
        CommandTypeEnum::Auth => "auth",
        CommandTypeEnum::Reserved => "reserved",
    }
}

/// One async mutex per registered system id: requests of one register run one at a time.
/// Entries are created only after the id was found in `registers`, so the map is bounded by the
/// number of provisioned registers.
#[derive(Default)]
pub struct RegisterLocks {
    map: StdMutex<HashMap<u32, Arc<tokio::sync::Mutex<()>>>>,
}

impl RegisterLocks {
    async fn lock(&self, system_id: u32) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(system_id).or_default().clone()
        };
        lock.lock_owned().await
    }
}

/// Fixed-window counter of INVALID_TOKEN refusals per register and per source address.
#[derive(Default)]
struct FailureLimiter {
    windows: HashMap<FailureKey, (i64, u32)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum FailureKey {
    Register(u32),
    Address(IpAddr),
}

impl FailureLimiter {
    /// Counts one failure for each key; true when any key is over `per_minute`.
    fn hit(&mut self, keys: &[FailureKey], now_ms: i64, per_minute: u32) -> bool {
        let window = now_ms.div_euclid(60_000);
        if self.windows.len() > 100_000 {
            self.windows.retain(|_, (w, _)| *w == window);
        }
        let mut over = false;
        for key in keys {
            let entry = self.windows.entry(*key).or_insert((window, 0));
            if entry.0 != window {
                *entry = (window, 0);
            }
            entry.1 = entry.1.saturating_add(1);
            over |= entry.1 > per_minute;
        }
        over
    }
}

/// The KZ dialect handler; cheap to clone, one per listener.
#[derive(Clone)]
pub struct KzService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    writer: Writer,
    config: KzConfig,
    locks: RegisterLocks,
    limiter: StdMutex<FailureLimiter>,
    metrics: KzMetrics,
}

impl KzService {
    /// A handler over `store` writing through `writer` (the shared group-commit writer).
    pub fn new(store: Store, writer: Writer, config: KzConfig, metrics: KzMetrics) -> Self {
        KzService {
            inner: Arc::new(Inner {
                store,
                writer,
                config,
                locks: RegisterLocks::default(),
                limiter: StdMutex::default(),
                metrics,
            }),
        }
    }

    /// The dialect settings in force.
    pub fn config(&self) -> &KzConfig {
        &self.inner.config
    }

    /// Serves frames from `reader` until the register closes, a read times out, or a frame is
    /// refused in a way that ends the connection. The first bytes (`A2 81`) must not have been
    /// consumed, or must be chained back in front of `reader` by the listener.
    pub async fn serve_connection<R, W>(
        &self,
        mut reader: R,
        mut writer: W,
        peer: SocketAddr,
    ) -> std::io::Result<()>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let timeout = Duration::from_secs(self.inner.config.read_timeout_secs);
        loop {
            let mut head = [0u8; HEADER_LEN];
            match tokio::time::timeout(timeout, read_header(&mut reader, &mut head)).await {
                Err(_) => {
                    tracing::debug!(%peer, "KZ connection idle past the read timeout; closing");
                    return Ok(());
                }
                Ok(Err(e)) => return Err(e),
                Ok(Ok(false)) => return Ok(()),
                Ok(Ok(true)) => {}
            }
            let header = match Header::decode(&head)
                .and_then(|h| h.check_size(self.inner.config.max_frame).map(|()| h))
            {
                Ok(header) => header,
                Err(HeaderError::BadAppCode(code)) => {
                    tracing::warn!(%peer, app_code = code, "not a KZ frame; closing");
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "refusing KZ frame header");
                    let reply = self.refusal_frame(
                        &header_fields(&head),
                        CommandTypeEnum::Reserved as i32,
                        ResultTypeEnum::ProtocolError,
                        &e.to_string(),
                    );
                    writer.write_all(&reply).await?;
                    writer.flush().await?;
                    return Ok(());
                }
            };
            let mut frame = Vec::with_capacity(header.size as usize);
            frame.extend_from_slice(&head);
            frame.resize(header.size as usize, 0);
            match tokio::time::timeout(timeout, reader.read_exact(&mut frame[HEADER_LEN..])).await {
                Err(_) => {
                    tracing::debug!(%peer, "KZ frame body not received in time; closing");
                    return Ok(());
                }
                Ok(Err(e)) => return Err(e),
                Ok(Ok(_)) => {}
            }
            match self.handle_frame(header, &frame, peer).await {
                Reply::Send(bytes) => {
                    writer.write_all(&bytes).await?;
                    writer.flush().await?;
                }
                Reply::SendAndClose(bytes) => {
                    writer.write_all(&bytes).await?;
                    writer.flush().await?;
                    return Ok(());
                }
                Reply::Close => return Ok(()),
            }
        }
    }

    /// Answers one complete frame (`frame` holds the 18 header bytes and SIZE − 18 body bytes).
    pub async fn handle_frame(&self, header: Header, frame: &[u8], peer: SocketAddr) -> Reply {
        let body = &frame[HEADER_LEN.min(frame.len())..];
        let command = peek_command(body).unwrap_or(CommandTypeEnum::Reserved as i32);
        let version = match ProtocolVersion::from_header(header.version) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(%peer, system_id = header.system_id, version = header.version,
                    "refusing KZ frame: unsupported protocol version {}", header.version);
                return Reply::Send(self.refusal_frame(
                    &header,
                    command,
                    ResultTypeEnum::ProtocolError,
                    &e.to_string(),
                ));
            }
        };
        match self.process(header, version, command, frame, peer).await {
            Ok(reply) => reply,
            Err(e) => {
                tracing::error!(%peer, system_id = header.system_id, error = %e,
                    "KZ storage failure; answering SERVICE_TEMPORARILY_UNAVAILABLE");
                Reply::Send(self.refusal_frame(
                    &header,
                    command,
                    ResultTypeEnum::ServiceTemporarilyUnavailable,
                    "storage temporarily unavailable; retry",
                ))
            }
        }
    }

    async fn process(
        &self,
        header: Header,
        version: ProtocolVersion,
        command: i32,
        frame: &[u8],
        peer: SocketAddr,
    ) -> anyhow::Result<Reply> {
        let inner = &*self.inner;
        let system_id = header.system_id;
        let refuse = |code: ResultTypeEnum, text: &str| {
            Reply::Send(self.refusal_frame(&header, command, code, text))
        };
        let register = {
            let mut conn = inner.store.pool().acquire().await?;
            fetch_register_by_system_id(&mut conn, i64::from(system_id)).await?
        };
        let Some(register) = register.filter(|r| r.dialect == Dialect::Kz) else {
            tracing::info!(%peer, system_id, "KZ frame from an unknown system id");
            return Ok(refuse(ResultTypeEnum::UnknownId, "unknown system id"));
        };
        if register.status != RegisterStatus::Active {
            tracing::info!(%peer, system_id, status = register.status.as_str(), "KZ frame from a register out of service");
            return Ok(refuse(ResultTypeEnum::Blocked, "the register is blocked"));
        }
        let _serial = inner.locks.lock(system_id).await;
        // Re-read under the lock: the token may have rotated while this request waited.
        let (register, state) = {
            let mut conn = inner.store.pool().acquire().await?;
            let register = fetch_register_by_system_id(&mut conn, i64::from(system_id)).await?;
            let state = load_state(&mut conn, system_id).await?;
            (register, state)
        };
        let Some(register) = register else {
            return Ok(refuse(ResultTypeEnum::UnknownId, "unknown system id"));
        };
        let current_token = register
            .kz_token
            .and_then(|t| u32::try_from(t).ok())
            .unwrap_or(0);
        match gate(
            &state,
            current_token,
            header.request_number,
            header.token,
            command,
        ) {
            Gate::Replay(bytes) => {
                inner.metrics.replays.inc();
                return Ok(Reply::Send(bytes));
            }
            Gate::Refuse(ResultTypeEnum::InvalidToken) => {
                inner.metrics.invalid_tokens.inc();
                let over = inner.limiter.lock().unwrap_or_else(|p| p.into_inner()).hit(
                    &[
                        FailureKey::Register(system_id),
                        FailureKey::Address(peer.ip()),
                    ],
                    crate::store::now_millis(),
                    inner.config.invalid_token_per_minute,
                );
                tracing::info!(%peer, system_id, rate_limited = over, "KZ request with a wrong token");
                if over {
                    inner.metrics.rate_limited.inc();
                    return Ok(Reply::Close);
                }
                return Ok(refuse(ResultTypeEnum::InvalidToken, "invalid token"));
            }
            Gate::Refuse(code) => {
                tracing::info!(%peer, system_id, ?code, "KZ request number misuse");
                return Ok(refuse(code, "request number already used"));
            }
            Gate::Process => {}
        }

        let now_ms = crate::store::now_millis();
        let facts = RegisterFacts {
            system_id,
            serial: register.serial.clone(),
            rnm: register.reg_number.clone(),
            org_inn: register.org_inn.clone(),
        };
        let request = decode_request(&frame[HEADER_LEN..]);
        let known_offline = match &request {
            Ok(Request {
                ticket: Some(ticket),
                ..
            }) if command == CommandTypeEnum::Ticket as i32 => {
                match ticket.offline_ticket_number.filter(|n| *n != 0) {
                    Some(sign) => {
                        let mut conn = inner.store.pool().acquire().await?;
                        find_offline_ticket(&mut conn, system_id, sign).await?
                    }
                    None => None,
                }
            }
            _ => None,
        };
        for _ in 0..TICKET_NUMBER_ATTEMPTS {
            let ticket_number = draw_ticket_number();
            let outcome = match &request {
                Ok(request) => engine::execute(
                    &Input {
                        config: &inner.config,
                        register: &facts,
                        version,
                        now_ms,
                        request,
                        ticket_number: &ticket_number,
                        known_offline: known_offline.as_ref(),
                    },
                    &state,
                ),
                Err(e) => {
                    tracing::info!(%peer, system_id, error = %e, "undecodable KZ request body");
                    Err(Refusal::new(ResultTypeEnum::ProtocolError, e.to_string()))
                }
            };
            let (response, rotate, ledger, record, offline_period) = match outcome {
                Ok(o) => (o.response, o.rotate, o.ledger, o.record, o.offline_period),
                Err(refusal) => (
                    Response::result_only(command, refusal.code, refusal.text),
                    false,
                    state.ledger.clone(),
                    None,
                    None,
                ),
            };
            let code = response.result_code().unwrap_or(0);
            let new_token = if rotate {
                next_token(current_token)
            } else {
                current_token
            };
            let reply = encode_frame(
                Header {
                    token: new_token,
                    ..header
                },
                &response,
            )?;
            let exchange = Exchange {
                reqnum: header.request_number,
                token: header.token,
                command,
                response: reply.clone(),
            };
            let new_state = KzState {
                version: state.version + 1,
                last: Some(exchange.clone()),
                last_ok: if rotate {
                    Some(exchange)
                } else {
                    state.last_ok.clone()
                },
                ledger,
                last_offline_period: offline_period.or_else(|| state.last_offline_period.clone()),
            };
            let document = record.as_ref().map(|record| NewDocument {
                dialect: Dialect::Kz,
                doc_key: match &record.ticket {
                    Some(t) => format!("{system_id}/{}", t.ticket_number),
                    None => format!("{system_id}/c{command}/{}", new_state.version),
                },
                fn_number: None,
                fd_number: None,
                system_id: Some(i64::from(system_id)),
                form_code: record.form_code,
                ffd_version: Some(i64::from(version.wire())),
                doc_time: doc_time(record.doc_time),
                received_at: now_ms,
                raw: frame.to_vec(),
                json: document_json(&header, request.as_ref().ok()),
                ack: reply.clone(),
                flk_errors: None,
                sign_verdict: "unverified".to_owned(),
                unregistered: false,
                peer: Some(peer.to_string()),
            });
            let commit = KzCommit {
                system_id,
                state: new_state,
                rotate: rotate.then_some((current_token, new_token)),
                ticket: record.and_then(|r| r.ticket),
                document,
                now_ms,
            };
            match inner.writer.submit(commit).await? {
                CommitOutcome::Committed => {
                    inner.metrics.response(command, code);
                    return Ok(Reply::Send(reply));
                }
                CommitOutcome::TicketNumberTaken => continue,
                CommitOutcome::StateChanged => {
                    anyhow::bail!("register state changed by another writer")
                }
            }
        }
        anyhow::bail!("no free ticket number after {TICKET_NUMBER_ATTEMPTS} draws")
    }

    /// A result-only response that echoes the request's header (token included).
    fn refusal_frame(
        &self,
        header: &Header,
        command: i32,
        code: ResultTypeEnum,
        text: &str,
    ) -> Vec<u8> {
        self.inner.metrics.response(command, code.code());
        let response = Response::result_only(command, code, text);
        // A result-only response is a few dozen bytes; encoding cannot exceed a u32 SIZE.
        encode_frame(*header, &response).unwrap_or_default()
    }
}

/// Reads the 18 header bytes; `false` on a clean end of stream before the first byte.
async fn read_header<R: AsyncRead + Unpin>(
    reader: &mut R,
    head: &mut [u8; HEADER_LEN],
) -> std::io::Result<bool> {
    let mut filled = 0;
    while filled < HEADER_LEN {
        let n = reader.read(&mut head[filled..]).await?;
        if n == 0 {
            if filled == 0 {
                return Ok(false);
            }
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        filled += n;
    }
    Ok(true)
}

/// The header fields of a header that failed validation, for echoing in the refusal.
fn header_fields(head: &[u8; HEADER_LEN]) -> Header {
    let u16_at = |i: usize| u16::from_le_bytes([head[i], head[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
    Header {
        version: u16_at(2),
        size: 0,
        system_id: u32_at(8),
        token: u32_at(12),
        request_number: u16_at(16),
    }
}

/// The stored JSON of a KZ document: the header (without the token) and the decoded request.
fn document_json(header: &Header, request: Option<&Request>) -> String {
    serde_json::json!({ "header": header, "request": request }).to_string()
}
