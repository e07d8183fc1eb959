//! The KZ exchange: what each whole KZ frame is answered with, one request per register at a
//! time. The shared read loop (`ingest::connection`) brings the frames.
//!
//! Per frame: version policy → register identity and status → REQNUM/token gate (replays are
//! answered from the stored cache) → protobuf decode → [`engine::execute`] → one
//! [`KzCommit`] through the shared writer → the response bytes, written only after the commit.
//!
//! The register's row and KZ state are held in memory ([`RegisterLocks`]) after the first
//! request, so the common request makes no pool query: the database stays the truth and the
//! copy is only a guess at it. The commit carries the version it was computed from; a version
//! another node moved on answers `StateChanged`, and the request is re-read and run again (a
//! retry of a request the other node answered is then replayed byte for byte). A wrong token is
//! judged only on the row as stored (an operator's token reset takes effect at once); a block or
//! deregistration reaches a node within `register_cache_ms`, as for RU. After any failure the
//! copy is dropped. A token still changes only in the transaction of the exchange that rotated
//! it.
//!
//! What the cabinet keeps about the register's organisation (name, address, catalogue version:
//! [`OrgFacts`]) is read with the register row and cached with it, so INFO and SYSTEM name the
//! organisation without a query. The catalogue itself is held once per organisation and version
//! ([`Catalogues`]): NOMENCLATURE reads it from the database only when the cached version is
//! older than the organisation's, so a cabinet edit reaches registers within `register_cache_ms`.
//!
//! Refusals before the token check (unknown id, blocked, bad token, REQNUM misuse, version) are
//! neither stored nor cached and echo the register's own token. A request past the token check
//! whose body the decoder refuses is kept in `quarantine` with its bytes, in the same commit as
//! its cached refusal. Refusals after it (bad data, cash,
//! shift timeout) are cached like any answer so a retry gets the same bytes. Storage failure is
//! the only case answered with SERVICE_TEMPORARILY_UNAVAILABLE (254), and is never cached.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use ofd_protocol::kz::{
    decode_request, encode_frame, peek_command, CommandTypeEnum, Header, ProtocolVersion, Request,
    Response, ResultTypeEnum, HEADER_LEN,
};

use super::codec::{KzFrameCodec, KzFramingError};
use super::commit::{doc_time, find_offline_ticket, load_state, CommitOutcome, KzCommit};
use super::engine::{self, Input, PointOfSaleFacts, RegisterFacts};
use super::fiscal_sign::TicketNumbers;
use super::nomenclature::KzCatalogue;
use super::state::{gate, next_token, Exchange, Gate, KzState};
use super::token_guard::{GuardKey, Lockout, TokenGuard};
use super::{KzConfig, Refusal};
use crate::ingest::handler::{FrameHandler, Reply};
use crate::ingest::metrics::{Check, FrameResult, Label as _, LockoutScope, Metrics};
use crate::store::catalogue::{catalogue_in, OrgFacts};
use crate::store::kz_register_view::kz_register_view_in;
use crate::store::points_of_sale::PointOfSaleLine;
use crate::store::registers::fetch_register_by_system_id;
use crate::store::{Dialect, NewDocument, Quarantine, Register, RegisterStatus, Store, Writer};

/// Quarantine check and reason of a KZ request whose body the decoder refused.
const QUARANTINE_BODY: &str = "kz_body";

/// Draws of a fresh ticket number before giving up (each collision sends the run of numbers to a
/// new random place, `fiscal_sign`).
const TICKET_NUMBER_ATTEMPTS: usize = 8;

/// Runs of one request before giving up when its register's state keeps changing under another
/// writer (each run re-reads the state), or when a wrong token is checked again on the row as
/// stored.
const STATE_ATTEMPTS: usize = 4;

/// How a request that passed the gate ended.
enum Executed {
    /// Committed: the reply may be sent; `state` and `token` are now the stored ones.
    Committed {
        reply: Vec<u8>,
        state: Arc<KzState>,
        token: u32,
    },
    /// Another writer changed the register's state since it was read; nothing was written.
    StateChanged,
}

/// One slot per registered system id: its async mutex serialises the register's requests, and
/// what it guards is the register's row and KZ state as last read or committed by this process.
/// Entries are created only after the id was found in `registers`, so the map is bounded by the
/// number of provisioned registers.
#[derive(Default)]
pub struct RegisterLocks {
    map: StdMutex<HashMap<u32, Arc<tokio::sync::Mutex<Slot>>>>,
}

/// A register's cached identity and state; `None` until read, and again after any doubt.
#[derive(Default)]
pub struct Slot {
    cached: Option<Cached>,
    /// The cached exchanges (`last`, `last_ok`) as this process first saw them; kept across
    /// re-reads of `cached`.
    answered: Vec<Answered>,
}

impl Slot {
    /// Keep `answered` to the exchanges `state` caches, noting new ones as seen at `now` by
    /// `peer`.
    fn note_answered(&mut self, state: &KzState, now: Instant, peer: SocketAddr) {
        let cached = [state.last.as_ref(), state.last_ok.as_ref()];
        let mut answered = Vec::with_capacity(2);
        for exchange in cached.into_iter().flatten() {
            let seen = self
                .answered
                .iter()
                .find(|a| a.reqnum == exchange.reqnum && a.token == exchange.token)
                .copied()
                .unwrap_or(Answered {
                    reqnum: exchange.reqnum,
                    token: exchange.token,
                    at: now,
                    peer,
                });
            answered.push(seen);
        }
        self.answered = answered;
    }

    /// Whether a retry (`reqnum`, `token`) from `peer` at `now` is answered for free.
    fn free_retry(
        &self,
        reqnum: u16,
        token: u32,
        peer: SocketAddr,
        now: Instant,
        window: Duration,
    ) -> bool {
        self.answered.iter().any(|a| {
            a.reqnum == reqnum
                && a.token == token
                && (a.peer == peer || now.saturating_duration_since(a.at) < window)
        })
    }
}

/// The database's truth as this process last saw it. The commit's version check catches a
/// change made elsewhere (another node); `read_at` bounds how long an operator's change to the
/// row (block, token reset) goes unseen.
struct Cached {
    register: Register,
    state: Arc<KzState>,
    /// The owner as the cabinet keeps it (`None`: no organisation entered for its INN).
    org: Option<OrgFacts>,
    /// Where the register stands, as the cabinet keeps it.
    point_of_sale: Option<PointOfSaleLine>,
    read_at: Instant,
}

/// Catalogues ready to send, one per organisation id, each at the version it was read at.
#[derive(Default)]
struct Catalogues {
    map: StdMutex<HashMap<i64, Arc<KzCatalogue>>>,
}

impl Catalogues {
    /// The held catalogue of `org_id` if it is at `version`.
    fn at(&self, org_id: i64, version: i64) -> Option<Arc<KzCatalogue>> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&org_id)
            .filter(|c| i64::from(c.version) == version)
            .cloned()
    }

    /// Hold `catalogue` for `org_id` unless a newer one is held already.
    fn keep(&self, org_id: i64, catalogue: Arc<KzCatalogue>) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let held = map.entry(org_id).or_insert_with(|| catalogue.clone());
        if held.version < catalogue.version {
            *held = catalogue;
        }
    }
}

impl RegisterLocks {
    /// The slot of `system_id` if this process has seen that register.
    fn get(&self, system_id: u32) -> Option<Arc<tokio::sync::Mutex<Slot>>> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&system_id).cloned()
    }

    /// The slot of `system_id`, made if new (call only for a registered id).
    fn get_or_insert(&self, system_id: u32) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(system_id).or_default().clone()
    }
}

/// Whether a cached register must be read again before it is trusted: never read, or read
/// longer ago than `ttl`.
pub(crate) fn needs_reload(read_at: Option<Instant>, now: Instant, ttl: Duration) -> bool {
    read_at.is_none_or(|read_at| now.saturating_duration_since(read_at) >= ttl)
}

/// Actions of the audit lines the token guard writes for a register's owner.
const AUDIT_LOCKOUT: &str = "kz.token_lockout";

/// Audit lines waiting to be written; beyond it lines are dropped and counted, so a guesser
/// cannot make the store do more work than this.
const AUDIT_QUEUE: usize = 64;

/// One audit line for the owner of a register whose token was being guessed.
struct GuessAudit {
    system_id: u32,
    source: IpAddr,
    lockout: Lockout,
}

/// An exchange this process answered (or found cached when it read the register), with when
/// and to which connection: a retry of it is answered from the cache for free only from that
/// connection or within the retry window.
#[derive(Debug, Clone, Copy)]
struct Answered {
    reqnum: u16,
    token: u32,
    at: Instant,
    peer: SocketAddr,
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
    /// How long a cached register row is trusted before it is read again.
    register_ttl: Duration,
    locks: RegisterLocks,
    catalogues: Catalogues,
    /// The fiscal signs this process hands out (a run upwards, see `fiscal_sign`).
    ticket_numbers: TicketNumbers,
    guard: StdMutex<TokenGuard>,
    audit: tokio::sync::mpsc::Sender<GuessAudit>,
    metrics: Arc<Metrics>,
}

impl KzService {
    /// A handler over `store` writing through `writer` (the shared group-commit writer); a
    /// register's row is read again when its cached copy is older than `register_ttl`.
    pub fn new(
        store: Store,
        writer: Writer,
        config: KzConfig,
        register_ttl: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (audit, audit_queue) = tokio::sync::mpsc::channel(AUDIT_QUEUE);
        tokio::spawn(write_guess_audits(store.clone(), audit_queue));
        KzService {
            inner: Arc::new(Inner {
                store,
                writer,
                guard: StdMutex::new(TokenGuard::new(config.token_attempts, config.token_lockout)),
                config,
                register_ttl,
                locks: RegisterLocks::default(),
                catalogues: Catalogues::default(),
                ticket_numbers: TicketNumbers::default(),
                audit,
                metrics,
            }),
        }
    }

    fn guard(&self) -> std::sync::MutexGuard<'_, TokenGuard> {
        self.inner.guard.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Count a wrong token (or a retry outside its window) against the register and the
    /// source; true when that locked either. Lockouts are counted and queued for the audit log.
    fn count_wrong_token(&self, system_id: u32, peer: SocketAddr) -> bool {
        let inner = &*self.inner;
        let keys = [GuardKey::Register(system_id), GuardKey::Source(peer.ip())];
        let now = Instant::now();
        inner.metrics.kz_wrong_tokens.inc();
        let lockouts = self.guard().fail(&keys, now);
        for lockout in &lockouts {
            let scope = match lockout.key {
                GuardKey::Register(_) => LockoutScope::Register,
                GuardKey::Source(_) => LockoutScope::Source,
            };
            inner.metrics.kz_token_lockouts.inc(scope);
            tracing::warn!(%peer, system_id, scope = scope.as_str(), attempts = lockout.attempts,
                lockout_secs = lockout.lasts.as_secs(), "KZ token guessing: locked out");
            let line = GuessAudit {
                system_id,
                source: peer.ip(),
                lockout: *lockout,
            };
            if inner.audit.try_send(line).is_err() {
                inner.metrics.kz_audit_dropped.inc();
            }
        }
        !lockouts.is_empty()
    }

    /// Answers one complete frame (`frame` holds the 18 header bytes and SIZE − 18 body bytes).
    pub(crate) async fn handle_frame(
        &self,
        header: Header,
        frame: &[u8],
        peer: SocketAddr,
    ) -> Reply {
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
        let guard_keys = [GuardKey::Register(system_id), GuardKey::Source(peer.ip())];
        if self.guard().locked(&guard_keys, Instant::now()) {
            // Nothing about the frame is looked at: the answer cannot depend on the guess.
            inner.metrics.kz_locked_out_frames.inc();
            inner.metrics.kz.frames.inc(FrameResult::Dropped);
            inner.metrics.kz.check_failures.inc(Check::Token);
            crate::log_limit::limited(
                "kz_locked_out",
                peer.ip(),
                |suppressed| tracing::info!(%peer, system_id, suppressed, "KZ frame during a token lockout; closed unread"),
            );
            return Ok(Reply::Close);
        }
        let slot = match inner.locks.get(system_id) {
            Some(slot) => slot,
            None => {
                // First sight of this id: only a registered one gets a slot.
                let register = {
                    let mut conn = inner.store.pool().acquire().await?;
                    fetch_register_by_system_id(&mut conn, i64::from(system_id)).await?
                };
                if let Err((code, text)) = identify(register.as_ref()) {
                    tracing::info!(%peer, system_id, reason = text, "KZ frame refused before the token check");
                    return Ok(refuse(code, text));
                }
                inner.locks.get_or_insert(system_id)
            }
        };
        let mut slot = slot.lock().await;
        // Frames that queued for the register while a guess locked it are not looked at either.
        if self.guard().locked(&guard_keys, Instant::now()) {
            inner.metrics.kz_locked_out_frames.inc();
            inner.metrics.kz.frames.inc(FrameResult::Dropped);
            inner.metrics.kz.check_failures.inc(Check::Token);
            return Ok(Reply::Close);
        }
        let mut read_now = false;
        for _ in 0..STATE_ATTEMPTS {
            let now = Instant::now();
            let read_at = slot.cached.as_ref().map(|c| c.read_at);
            if needs_reload(read_at, now, inner.register_ttl) {
                // One joined read; the state only when its version moved (module header).
                let held = slot.cached.take().map(|c| c.state);
                let (view, state) = {
                    let mut conn = inner.store.pool().acquire().await?;
                    let view = kz_register_view_in(&mut conn, i64::from(system_id)).await?;
                    let stored_version = view.as_ref().and_then(|v| v.state_version).unwrap_or(0);
                    let state = match held.filter(|s| s.version == stored_version) {
                        Some(state) => state,
                        None if view.is_some() => Arc::new(load_state(&mut conn, system_id).await?),
                        None => Arc::default(),
                    };
                    (view, state)
                };
                let (register, org, point_of_sale) = match view {
                    Some(view) => (Some(view.register), view.org, view.point_of_sale),
                    None => (None, None, None),
                };
                let Some(register) = register else {
                    return Ok(refuse(ResultTypeEnum::UnknownId, "unknown system id"));
                };
                slot.note_answered(&state, now, peer);
                slot.cached = Some(Cached {
                    register,
                    state,
                    org,
                    point_of_sale,
                    read_at: now,
                });
                read_now = true;
            }
            let Some(cached) = slot.cached.as_ref() else {
                unreachable!("read above when absent");
            };
            if let Err((code, text)) = identify(Some(&cached.register)) {
                tracing::info!(%peer, system_id, reason = text, "KZ frame refused before the token check");
                return Ok(refuse(code, text));
            }
            let current_token = cached
                .register
                .kz_token
                .and_then(|t| u32::try_from(t).ok())
                .unwrap_or(0);
            match gate(
                &cached.state,
                current_token,
                header.request_number,
                header.token,
                command,
            ) {
                Gate::Replay(bytes) => {
                    let free = slot.free_retry(
                        header.request_number,
                        header.token,
                        peer,
                        now,
                        inner.config.retry_window,
                    );
                    // A late retry from elsewhere carries an old token and gets the current
                    // one back: it counts like a wrong token.
                    if !free && self.count_wrong_token(system_id, peer) {
                        inner.metrics.kz.frames.inc(FrameResult::Dropped);
                        inner.metrics.kz.check_failures.inc(Check::Token);
                        return Ok(Reply::Close);
                    }
                    inner.metrics.kz.frames.inc(FrameResult::Duplicate);
                    inner.metrics.duplicates_reacked.inc();
                    return Ok(Reply::Send(bytes));
                }
                Gate::Refuse(ResultTypeEnum::InvalidToken) if !read_now => {
                    // The operator may have reset the token since the row was cached: a wrong
                    // token is judged on the row as stored, never on a copy.
                    slot.cached = None;
                    continue;
                }
                Gate::Refuse(ResultTypeEnum::InvalidToken) => {
                    let locked = self.count_wrong_token(system_id, peer);
                    crate::log_limit::limited(
                        "kz_wrong_token",
                        peer.ip(),
                        |suppressed| tracing::info!(%peer, system_id, locked, suppressed, "KZ request with a wrong token"),
                    );
                    if locked {
                        inner.metrics.kz.frames.inc(FrameResult::Dropped);
                        inner.metrics.kz.check_failures.inc(Check::Token);
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
            let executed = self
                .execute(
                    &header,
                    version,
                    command,
                    frame,
                    peer,
                    cached,
                    current_token,
                )
                .await;
            match executed {
                Ok(Executed::Committed {
                    reply,
                    state,
                    token,
                }) => {
                    let answered = Instant::now();
                    slot.note_answered(&state, answered, peer);
                    if let Some(cached) = slot.cached.as_mut() {
                        cached.state = state;
                        cached.register.kz_token = Some(i64::from(token));
                    }
                    return Ok(Reply::Send(reply));
                }
                Ok(Executed::StateChanged) => {
                    // Another node committed for this register: read the truth and run again.
                    tracing::debug!(%peer, system_id, "KZ state changed elsewhere; re-reading");
                    slot.cached = None;
                    read_now = false;
                }
                Err(error) => {
                    // Whether anything was written is unknown: trust nothing cached.
                    slot.cached = None;
                    return Err(error);
                }
            }
        }
        anyhow::bail!("register state kept changing under another writer")
    }

    /// Run one request that passed the gate against `cached` and commit it.
    #[allow(clippy::too_many_arguments)] // one request's parts, passed as they were read
    async fn execute(
        &self,
        header: &Header,
        version: ProtocolVersion,
        command: i32,
        frame: &[u8],
        peer: SocketAddr,
        cached: &Cached,
        current_token: u32,
    ) -> anyhow::Result<Executed> {
        let inner = &*self.inner;
        let system_id = header.system_id;
        let (register, state) = (&cached.register, &cached.state);
        let now_ms = crate::clock::unix_millis();
        let org = cached.org.as_ref();
        let facts = RegisterFacts {
            system_id,
            serial: register.serial.clone(),
            rnm: register.reg_number.clone(),
            org_inn: register.org_inn.clone(),
            org_name: org.map(|o| o.name.clone()),
            org_address: org.and_then(|o| o.address.clone()),
            point_of_sale: cached.point_of_sale.as_ref().map(|pos| PointOfSaleFacts {
                title: Some(pos.name.clone()),
                address: pos.address.clone(),
            }),
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
        // AUTH: the cashier's code and PIN as the cabinet keeps them (an argon2 check: only on
        // this command, after the token check).
        let cashier_ok = match &request {
            Ok(Request {
                auth: Some(auth), ..
            }) if command == CommandTypeEnum::Auth as i32 => {
                match (auth.login.as_deref(), auth.password.as_deref()) {
                    (Some(code), Some(pin)) => inner
                        .store
                        .verify_kz_cashier(i64::from(system_id), code, pin)
                        .await?
                        .is_some(),
                    _ => false,
                }
            }
            _ => false,
        };
        let catalogue = if command == CommandTypeEnum::Nomenclature as i32 {
            match org {
                Some(org) => self.catalogue(org).await?,
                None => None,
            }
        } else {
            None
        };
        for _ in 0..TICKET_NUMBER_ATTEMPTS {
            let ticket_number = inner.ticket_numbers.draw();
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
                        cashier_ok,
                        catalogue: catalogue.as_deref(),
                    },
                    state,
                ),
                Err(e) => {
                    tracing::info!(%peer, system_id, error = %e, "undecodable KZ request body");
                    Err(Refusal::new(ResultTypeEnum::ProtocolError, e.to_string()))
                }
            };
            let outcome = match outcome {
                Ok(o)
                    if !closed_register_admits(
                        register,
                        o.record.as_ref().and_then(|r| r.doc_time),
                        inner.config.utc_offset_secs,
                    ) =>
                {
                    Err(Refusal::new(
                        ResultTypeEnum::Blocked,
                        "the register is blocked".to_owned(),
                    ))
                }
                other => other,
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
                    ..*header
                },
                &response,
            )?;
            let exchange = Exchange {
                reqnum: header.request_number,
                token: header.token,
                command,
                response: reply.clone(),
            };
            let new_state = Arc::new(KzState {
                version: state.version + 1,
                last: Some(exchange.clone()),
                last_ok: if rotate {
                    Some(exchange)
                } else {
                    state.last_ok.clone()
                },
                ledger,
                last_offline_period: offline_period.or_else(|| state.last_offline_period.clone()),
            });
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
                // Rendered from `raw` when read (`store::documents::document_json`): a KZ
                // receipt's JSON is about 4.4 times its frame, too much to print and write
                // while the register waits.
                json: String::new(),
                ack: reply.clone(),
                flk_errors: None,
                sign_verdict: "unverified".to_owned(),
                unregistered: false,
                peer: Some(peer.to_string()),
            });
            let stored = document.is_some();
            // A body the decoder refuses from a known register with a valid token: kept with its
            // bytes in the same transaction as the cached refusal, before the refusal is sent.
            let quarantine = request.as_ref().err().map(|error| Quarantine {
                dialect: Dialect::Kz,
                fn_number: None,
                fd_number: None,
                system_id: Some(i64::from(system_id)),
                reason: QUARANTINE_BODY.to_owned(),
                check: QUARANTINE_BODY.to_owned(),
                error: error.to_string(),
                received_at: now_ms,
                peer: Some(peer.to_string()),
                session: None,
                raw: frame.to_vec(),
                ack: Some(reply.clone()),
            });
            let quarantined = quarantine.is_some();
            let commit = KzCommit {
                system_id,
                state: new_state.clone(),
                rotate: rotate.then_some((current_token, new_token)),
                ticket: record.and_then(|r| r.ticket),
                document,
                quarantine,
                now_ms,
            };
            match inner.writer.submit(commit).await? {
                CommitOutcome::Committed => {
                    if stored {
                        inner.metrics.documents_stored.inc();
                    }
                    if quarantined {
                        inner.metrics.quarantined.inc();
                        tracing::warn!(%peer, system_id, "KZ request body quarantined (kept with its bytes)");
                    }
                    self.count(code);
                    return Ok(Executed::Committed {
                        reply,
                        state: new_state,
                        token: new_token,
                    });
                }
                CommitOutcome::TicketNumberTaken => {
                    inner.ticket_numbers.taken();
                    continue;
                }
                CommitOutcome::StateChanged => return Ok(Executed::StateChanged),
            }
        }
        anyhow::bail!("no free ticket number after {TICKET_NUMBER_ATTEMPTS} draws")
    }

    /// The catalogue of `org` at its cached version: held in memory per version, read from the
    /// database only when the held one is older. `None` when the organisation has none.
    async fn catalogue(&self, org: &OrgFacts) -> anyhow::Result<Option<Arc<KzCatalogue>>> {
        if org.catalogue_version == 0 {
            return Ok(None);
        }
        let catalogues = &self.inner.catalogues;
        if let Some(held) = catalogues.at(org.org_id, org.catalogue_version) {
            return Ok(Some(held));
        }
        let stored = {
            let mut conn = self.inner.store.pool().acquire().await?;
            catalogue_in(&mut conn, org.org_id).await?
        };
        let Some(built) = KzCatalogue::build(&stored) else {
            return Ok(None);
        };
        let built = Arc::new(built);
        catalogues.keep(org.org_id, built.clone());
        Ok(Some(built))
    }

    /// Counts one answered frame by its result code.
    fn count(&self, code: u32) {
        let kz = &self.inner.metrics.kz;
        let Ok(code) = ResultTypeEnum::try_from(code as i32) else {
            kz.frames.inc(FrameResult::Refused);
            return;
        };
        let check = match code {
            ResultTypeEnum::Ok => {
                kz.frames.inc(FrameResult::Accepted);
                return;
            }
            ResultTypeEnum::UnknownId | ResultTypeEnum::Blocked => Check::Register,
            ResultTypeEnum::InvalidToken
            | ResultTypeEnum::InvalidRequestNumber
            | ResultTypeEnum::InvalidRetryRequest => Check::Token,
            ResultTypeEnum::ProtocolError => Check::SessionHeader,
            ResultTypeEnum::UnknownCommand | ResultTypeEnum::UnsupportedCommand => {
                Check::DocumentType
            }
            ResultTypeEnum::ServiceTemporarilyUnavailable | ResultTypeEnum::UnknownError => {
                Check::Storage
            }
            _ => Check::Flk,
        };
        kz.frames.inc(FrameResult::Refused);
        kz.check_failures.inc(check);
    }

    /// A result-only response that echoes the request's header (token included).
    pub fn refusal_frame(
        &self,
        header: &Header,
        command: i32,
        code: ResultTypeEnum,
        text: &str,
    ) -> Vec<u8> {
        self.count(code.code());
        let response = Response::result_only(command, code, text);
        // A result-only response is a few dozen bytes; encoding cannot exceed a u32 SIZE.
        encode_frame(*header, &response).unwrap_or_default()
    }
}

/// Writes the token guard's audit lines, one at a time, off the frame path: the owner of the
/// register sees each lockout (how many wrong tokens, from where, for how long). Lockouts double
/// in length, so a guesser makes a handful of lines a day per register and source.
async fn write_guess_audits(store: Store, mut queue: tokio::sync::mpsc::Receiver<GuessAudit>) {
    while let Some(line) = queue.recv().await {
        let GuessAudit {
            system_id,
            source,
            lockout,
        } = line;
        let scope = match lockout.key {
            GuardKey::Register(_) => "register",
            GuardKey::Source(_) => "source address",
        };
        let detail = format!(
            "{} wrong KZ tokens (per {scope}); nothing from this {scope} is looked at for {} s",
            lockout.attempts,
            lockout.lasts.as_secs()
        );
        let written = store
            .audit_register_event(
                i64::from(system_id),
                AUDIT_LOCKOUT,
                detail,
                Some(source.to_string()),
                crate::clock::unix_millis(),
            )
            .await;
        if let Err(error) = written {
            tracing::warn!(system_id, error = %crate::error_chain::render(&error), "token lockout not written to the audit log");
        }
    }
}

/// Whether a frame's system id may go on to the token check: it must name a KZ register in
/// service. The refusal is the result code and its text (neither reveals more than the code).
pub(crate) fn identify(register: Option<&Register>) -> Result<(), (ResultTypeEnum, &'static str)> {
    match register {
        Some(register) if register.dialect != Dialect::Kz => {
            Err((ResultTypeEnum::UnknownId, "unknown system id"))
        }
        None => Err((ResultTypeEnum::UnknownId, "unknown system id")),
        // Closed with a known time: its documents made before it may still come (judged by
        // `closed_register_admits` once the request is read); closed without one: refused here.
        Some(register)
            if register.status != RegisterStatus::Active && register.gate_closed_at.is_none() =>
        {
            Err((ResultTypeEnum::Blocked, "the register is blocked"))
        }
        Some(_) => Ok(()),
    }
}

/// Whether a register may have this request's outcome: an active one anything; a blocked or
/// deregistered one only a document made (`doc_time`, its local wall clock, read with the
/// register's offset or else `default_offset_secs`) before its gate closed — its backlog and
/// final report. Requests that make no document are refused while it is closed.
pub(crate) fn closed_register_admits(
    register: &Register,
    doc_time: Option<chrono::NaiveDateTime>,
    default_offset_secs: i32,
) -> bool {
    if register.status == RegisterStatus::Active {
        return true;
    }
    let (Some(closed_ms), Some(made)) = (register.gate_closed_at, doc_time) else {
        return false;
    };
    let offset_secs = register
        .utc_offset_minutes
        .map_or(i64::from(default_offset_secs), |m| m * 60);
    let made_utc_ms = (super::local_time::naive_secs(made) - offset_secs) * 1000;
    made_utc_ms < closed_ms
}

impl FrameHandler for KzService {
    const DIALECT: Dialect = Dialect::Kz;
    type Frame = (Header, bytes::BytesMut);
    type Failure = KzFramingError;
    type Codec = KzFrameCodec;

    fn codec(&self) -> KzFrameCodec {
        KzFrameCodec::new(self.inner.config.max_frame)
    }

    fn frame_len((_, frame): &Self::Frame) -> usize {
        frame.len()
    }

    async fn handle(&self, (header, frame): Self::Frame, peer: SocketAddr) -> Reply {
        self.handle_frame(header, &frame, peer).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn register(dialect: Dialect, status: RegisterStatus) -> Register {
        Register {
            id: 1,
            dialect,
            fn_number: None,
            system_id: Some(7),
            serial: None,
            model: None,
            reg_number: None,
            org_inn: None,
            status,
            kz_token: Some(5),
            created_at: 0,
            updated_at: 0,
            lifecycle: crate::store::Lifecycle::Active,
            saved_from: None,
            gate_closed_at: None,
            pos_id: None,
            device_type: None,
            connection_type: None,
            iccid: None,
            msisdn: None,
            utc_offset_minutes: None,
            registered_at: None,
            details: crate::store::RegisterDetails::default(),
        }
    }

    #[test]
    fn a_closed_register_admits_only_documents_made_before_it_closed() {
        let mut closed = register(Dialect::Kz, RegisterStatus::Blocked);
        let made = chrono::NaiveDate::from_ymd_opt(2026, 11, 23)
            .and_then(|d| d.and_hms_opt(15, 0, 0))
            .expect("a time");
        // 15:00 at UTC+5 is 10:00 UTC.
        let ten_utc_ms = (super::super::local_time::naive_secs(made) - 5 * 3600) * 1000;
        assert!(identify(Some(&closed)).is_err(), "no closing time: refused");
        assert!(!closed_register_admits(&closed, Some(made), 5 * 3600));
        closed.gate_closed_at = Some(ten_utc_ms + 1);
        assert!(identify(Some(&closed)).is_ok());
        assert!(closed_register_admits(&closed, Some(made), 5 * 3600));
        assert!(
            !closed_register_admits(&closed, None, 5 * 3600),
            "no document"
        );
        closed.gate_closed_at = Some(ten_utc_ms);
        assert!(!closed_register_admits(&closed, Some(made), 5 * 3600));
        // The register's own offset wins over the default (UTC+6: 09:00 UTC, before).
        closed.utc_offset_minutes = Some(360);
        assert!(closed_register_admits(&closed, Some(made), 5 * 3600));
        let active = register(Dialect::Kz, RegisterStatus::Active);
        assert!(closed_register_admits(&active, None, 0));
    }

    #[test]
    fn a_held_catalogue_serves_only_its_own_version_and_never_goes_back() {
        let catalogues = Catalogues::default();
        let at = |version| {
            Arc::new(KzCatalogue {
                version,
                elements: Vec::new(),
            })
        };
        assert!(catalogues.at(1, 2).is_none(), "nothing held");
        catalogues.keep(1, at(2));
        assert_eq!(catalogues.at(1, 2).map(|c| c.version), Some(2));
        assert!(
            catalogues.at(1, 3).is_none(),
            "a newer version is read again"
        );
        assert!(catalogues.at(2, 2).is_none(), "per organisation");
        catalogues.keep(1, at(3));
        catalogues.keep(1, at(2));
        assert_eq!(
            catalogues.at(1, 3).map(|c| c.version),
            Some(3),
            "a late reader of an older version does not replace a newer one"
        );
    }

    #[test]
    fn a_cached_register_is_read_again_once_its_ttl_has_passed() {
        let ttl = Duration::from_millis(100);
        let read = Instant::now();
        assert!(needs_reload(None, read, ttl), "never read");
        assert!(!needs_reload(Some(read), read, ttl));
        assert!(!needs_reload(
            Some(read),
            read + Duration::from_millis(99),
            ttl
        ));
        assert!(needs_reload(Some(read), read + ttl, ttl));
        assert!(
            needs_reload(Some(read), read, Duration::ZERO),
            "0 reads every time"
        );
    }

    #[test]
    fn only_a_kz_register_in_service_reaches_the_token_check() {
        let kz = register(Dialect::Kz, RegisterStatus::Active);
        assert_eq!(identify(Some(&kz)), Ok(()));
        assert_eq!(identify(None).unwrap_err().0, ResultTypeEnum::UnknownId);
        let ru = register(Dialect::Ru, RegisterStatus::Active);
        assert_eq!(
            identify(Some(&ru)).unwrap_err().0,
            ResultTypeEnum::UnknownId,
            "an RU register's id is not a KZ system id"
        );
        for status in [RegisterStatus::Blocked, RegisterStatus::Deregistered] {
            let blocked = register(Dialect::Kz, status);
            assert_eq!(
                identify(Some(&blocked)).unwrap_err().0,
                ResultTypeEnum::Blocked
            );
        }
    }
}
