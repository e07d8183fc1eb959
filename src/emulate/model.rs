//! What a simulated register is, seen from the load loop.
//!
//! A register model is pure bookkeeping: it produces the next frame to send and judges the reply
//! that came back. It never touches a socket or a clock, so the same model drives a load run, a
//! resend check and a unit test alike. The load loop (`load.rs`) owns the I/O, the retries and
//! the timing; the model owns what the bytes mean.
//!
//! Invariant: a model hands out its next document only after the previous one was settled
//! (acknowledged, rejected or given up), because real registers work that way — a ФН keeps one
//! "unsent" queue in order, and a KZ register cannot build its next request before the previous
//! reply gave it the next token.

use bytes::Bytes;

/// One document on its way to the OFD: the exact bytes a register sends (and resends) for it.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The full frame, header included. Resends send these bytes unchanged.
    pub frame: Bytes,
    /// What the document is ("receipt", "close_shift" …), for the error breakdown.
    pub kind: &'static str,
}

/// The model's judgement of one reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The reply acknowledges the document and every check on it passed.
    Acked,
    /// The server answered with an explicit refusal code (RU 1022 ≠ 0, KZ result ≠ 0 and not a
    /// "try again later" code). The register does not resend it.
    Rejected(String),
    /// The server asked the register to try again later (KZ 254/255): resend after a back-off.
    RetryLater(String),
    /// The reply is malformed or does not match the document (wrong FN/FD, token not rotated …).
    /// Counted under this name; the document is not resent.
    Invalid(String),
}

/// How replies of a dialect are framed on the wire, so that the loop can read exactly one.
pub trait ReplyFraming: Send + Sync + 'static {
    /// Bytes in the fixed-size reply header.
    fn header_len(&self) -> usize;
    /// Total bytes of the reply (header included) announced by `header`, or why the header is
    /// unusable.
    fn frame_len(&self, header: &[u8]) -> Result<usize, String>;
}

/// One simulated register.
pub trait RegisterModel: Send {
    /// The next document to deliver, or `None` when this register is done. `now_unix` is the
    /// current UTC time in seconds; the model turns it into the register's local wall clock.
    fn next_document(&mut self, now_unix: i64) -> Option<Outgoing>;
    /// Judge the reply received for `sent` (the document last returned by `next_document`).
    fn check_reply(&mut self, sent: &Outgoing, reply: &[u8]) -> Verdict;
}

/// Serial number of register `index` of `fleet`.
pub(super) fn serial(fleet: u32, index: u64) -> String {
    format!("EMU{fleet:06}{index:08}")
}
