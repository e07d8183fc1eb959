//! The KZ dialect (ККМ protocol 2.0.3): the frame [`codec`], the [`exchange`] that answers each
//! frame, and its rules, independent of sockets: the REQNUM/token gate, the
//! command engine, receipt validation, shift counters and ZX reports, fiscal signs, and the
//! storage of all of it in one transaction.
//!
//! Design notes:
//! - **One transaction per exchange.** The document, the token rotation, the new counters and the
//!   cached response commit together ([`commit::KzCommit`] through the shared group-commit
//!   writer); the response is written to the socket only after that commit. A crash before the
//!   commit loses nothing that was acknowledged; a crash after it leaves a response the register
//!   may not have seen, which its retry (same REQNUM and token) gets again byte for byte.
//! - **Serialised per register, state in memory.** One request per system id is in flight at a
//!   time ([`exchange::RegisterLocks`]), and the lock guards the register's row and state as
//!   last read or committed, so the common request reads nothing from the database; the version
//!   check in the commit catches a second server process, and the request then re-reads and
//!   runs again.
//! - **The server's counters are the truth** (spec §7): reports are computed from the ledger,
//!   never copied from the register.
//! - **Tokens are secrets**: compared in constant time, never logged, never revealed in a refusal
//!   (a refusal echoes the token the register sent).

pub mod codec;
pub mod commit;
pub mod engine;
pub mod exchange;
pub mod fiscal_sign;
pub mod ledger;
pub mod local_time;
pub mod money;
pub mod nomenclature;
pub mod state;
pub mod ticket_check;
pub mod token_guard;

use ofd_protocol::kz::ResultTypeEnum;

/// A request refused with a result code and a human-readable reason (sent as `result_text`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The result code.
    pub code: ResultTypeEnum,
    /// Why, for the register's operator and the log.
    pub text: String,
}

impl Refusal {
    /// A refusal with `code` and `text`.
    pub fn new(code: ResultTypeEnum, text: impl Into<String>) -> Self {
        Refusal {
            code,
            text: text.into(),
        }
    }
}

/// Tunables of the KZ dialect.
#[derive(Debug, Clone)]
pub struct KzConfig {
    /// Largest accepted frame (SIZE), bytes.
    pub max_frame: u32,
    /// A shift open longer than this answers OPEN_SHIFT_TIMEOUT_EXPIRED (seconds).
    pub max_shift_secs: i64,
    /// Oldest offline receipt accepted, by its own time (seconds).
    pub max_offline_age_secs: i64,
    /// Registers' UTC offset, for judging the age of their local times (seconds).
    pub utc_offset_secs: i32,
    /// Base of the receipt check URL put in `qr_code`.
    pub qr_base: String,
    /// Wrong tokens a register or a source address may send before it is locked out
    /// ([`token_guard`]).
    pub token_attempts: u32,
    /// The first lockout; each further one in a row doubles, up to [`token_guard::MAX_LOCKOUT`].
    pub token_lockout: std::time::Duration,
    /// How long after an answer a retry from another connection is replayed without counting.
    pub retry_window: std::time::Duration,
}

impl Default for KzConfig {
    fn default() -> Self {
        KzConfig {
            max_frame: ofd_protocol::kz::DEFAULT_MAX_FRAME,
            max_shift_secs: 24 * 3600,
            max_offline_age_secs: 72 * 3600,
            utc_offset_secs: 5 * 3600,
            qr_base: "http://localhost:8080/check".into(),
            token_attempts: 10,
            token_lockout: std::time::Duration::from_secs(60),
            retry_window: std::time::Duration::from_secs(120),
        }
    }
}
