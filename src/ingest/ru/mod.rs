//! The RU per-frame path: one whole frame in, one operator confirmation (document 7) out.
//!
//! Per frame, cheapest check first (spec §10), each failure with its own metric label and log
//! line:
//!
//! 1. session header (signature, versions, length limit): in the [`codec`], before allocating;
//! 2. container: length, CRC, type, header version;
//! 3. cross-checks: ФН number in session/container/1041, ФД number container/1040, form code;
//! 4. document: form code is one a register sends, TLV well-formed, ФФД version;
//! 5. register: known and active (or `accept_unregistered`, flagged);
//! 6. crypto unit: ФПД/ФПС verdict (invalid → quarantine and code 11);
//! 7. ФЛК: report-only (code 0, flagged) or enforcing (code 14), stored either way;
//! 8. the group-commit writer stores the document with its ack; the ack is written only after
//!    the commit, and a resend or conflict gets the ack stored with the first copy.
//!
//! Reply table (spec §10): a frame whose ФН and ФД numbers can be read from the container header
//! is answered with code 11 when its content is not recognised; a frame where they cannot be
//! read, or any failure of ours (storage, crypto unit, ack build), gets no reply: the reason is
//! logged with the peer and the first 64 bytes, counted, and the connection closed, so the
//! register resends later. Nothing is dropped silently.
//!
//! **Never lose a signed document.** A register does not send a document again once it has an
//! answer, so every frame whose session header and container check out (signature, lengths,
//! CRC) is committed before any reply: as a document when it decodes and passes, otherwise in
//! `quarantine` with its session header, container bytes, the check that failed, the error and
//! the reply sent ([`Inspection::Quarantine`]; a bad fiscal sign, a document the decoder
//! refuses, a cross-check failure, an unknown or blocked register). `ofd quarantine retry` runs
//! such rows through the current decoder later. Only a frame that cannot be attributed to a
//! drive — a container whose length or CRC is wrong ([`Inspection::Refuse`], answered 11), or a
//! session header that does not decode ([`Inspection::Drop`]) — goes without a durable copy.
//!
//! An unknown ФН is answered with code 11 (and quarantined) unless `accept_unregistered`: the
//! spec's code list has no "unknown register" answer, and 11 ("not recognised") is the only code
//! that neither claims acceptance nor blames the document's format.

pub mod codec;
pub(crate) mod register_cache;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use ofd_protocol::ru::ack::{flags_1206, Ack, ResponseCode};
use ofd_protocol::ru::check::{cross_check, CheckError};
use ofd_protocol::ru::document::{DocumentError, Value};
use ofd_protocol::ru::flk::{self, FlkLimits};
use ofd_protocol::ru::session::{frame_around, AVersion};
use ofd_protocol::ru::{
    ContainerError, ContainerHeader, FfdVersion, Frame, FrameError, SessionHeader, Undecodable,
    SESSION_HEADER_LEN,
};

use self::codec::{FramingError, RuFrameCodec};
use self::register_cache::RegisterCache;
use crate::crypto::{Crypto, InboundDocument, Verdict};
use crate::ingest::config::FlkMode;
use crate::ingest::handler::{first_bytes, FrameHandler, Reply};
use crate::ingest::metrics::{Check, FrameResult, Label as _, Metrics};
use crate::store::registers::Admission;
use crate::store::{
    ru_doc_key, Dialect, InsertOutcome, NewDocument, Quarantine, QuarantineRow, RegisterStatus,
    Store, Writer,
};

/// The RU dialect's side of a connection: everything the per-frame path reads, built once by
/// the server and shared read-only by every RU connection.
pub(crate) struct RuHandler {
    /// Largest container accepted (`max_frame_bytes`).
    pub max_container: usize,
    /// The operator's ИНН for tag 1017 of every ack.
    pub ofd_inn: String,
    /// Accept documents of unknown ФН (flagged) instead of refusing them.
    pub accept_unregistered: bool,
    /// How ФЛК failures are answered.
    pub flk: FlkMode,
    /// The store, for register lookups.
    pub store: Store,
    /// The group-commit writer.
    pub writer: Writer,
    /// The crypto unit (ФПД/ФПС verdicts, ФПО).
    pub crypto: Crypto,
    /// RU register statuses, remembered for a while.
    pub registers: RegisterCache,
    /// The server's metrics.
    pub metrics: Arc<Metrics>,
}

impl FrameHandler for RuHandler {
    const DIALECT: Dialect = Dialect::Ru;
    type Frame = BytesMut;
    type Failure = FramingError;
    type Codec = RuFrameCodec;

    fn codec(&self) -> RuFrameCodec {
        RuFrameCodec::new(self.max_container)
    }

    fn frame_len(frame: &BytesMut) -> usize {
        frame.len()
    }

    async fn handle(&self, frame: BytesMut, peer: SocketAddr) -> Reply {
        match self.handle_frame(&frame, peer).await {
            None => Reply::Close,
            Some(answer) if answer.wanted => Reply::Send(answer.ack),
            Some(_) => Reply::Silent,
        }
    }
}

/// The confirmation for one frame.
struct Answer {
    /// The whole reply frame.
    ack: Vec<u8>,
    /// Whether the session flags ask for a reply (bits 5–4 = `01`); if not, nothing is sent.
    wanted: bool,
}

/// What the reply depends on, taken from the request's headers.
#[derive(Debug, Clone, Copy)]
struct Request {
    header: ContainerHeader,
    a_version: AVersion,
    wanted: bool,
    peer: SocketAddr,
}

impl Request {
    fn new(session: &SessionHeader, header: ContainerHeader, peer: SocketAddr) -> Self {
        Request {
            header,
            a_version: session.a_version,
            wanted: session.flags.expects_reply(),
            peer,
        }
    }
}

/// What the bytes of one frame say, before any register, crypto or storage question.
#[derive(Debug)]
pub(crate) enum Inspection<'a> {
    /// Decoded and cross-checked: goes on to the register and sign checks.
    Passed {
        /// The frame, borrowing the bytes.
        frame: Frame<'a>,
        /// What the handler needs from the document.
        facts: DocumentFacts,
    },
    /// The container checks out (lengths, CRC) but its document does not pass: kept in
    /// quarantine, then answered with code 11.
    Quarantine {
        /// The session header (a_version and reply flags of the answer).
        session: SessionHeader,
        /// The container header the answer mirrors.
        header: ContainerHeader,
        /// The check that failed.
        check: Check,
        /// The decoder's error.
        reason: String,
    },
    /// Answered with code 11 but not kept: the container header names the ФН and ФД to answer,
    /// but its length or CRC is wrong, so the bytes cannot be attributed to a drive.
    Refuse {
        /// The session header (a_version and reply flags of the answer).
        session: SessionHeader,
        /// The container header the answer mirrors.
        header: ContainerHeader,
        /// The check that failed.
        check: Check,
        /// Why, for the log.
        reason: String,
    },
    /// Not answerable: logged, counted and the connection closed, so the register resends.
    Drop {
        /// The check that failed.
        check: Check,
        /// Why, for the log.
        reason: String,
    },
}

/// Decode and cross-check one whole frame; `now_utc` bounds the ФЛК's date rules.
pub(crate) fn inspect(bytes: &[u8], now_utc: i64) -> Inspection<'_> {
    let frame = match Frame::decode_or_headers(bytes) {
        Ok(frame) => frame,
        Err(Undecodable { error, headers }) => {
            let check = undecodable_check(&error);
            let reason = error.to_string();
            return match headers {
                // Document bounds are checked after the CRC: the container is the drive's.
                Some((session, header)) if check == Check::Tlv => Inspection::Quarantine {
                    session,
                    header,
                    check,
                    reason,
                },
                Some((session, header)) => Inspection::Refuse {
                    session,
                    header,
                    check,
                    reason,
                },
                None => Inspection::Drop { check, reason },
            };
        }
    };
    let refuse = |check, reason: String| Inspection::Quarantine {
        session: frame.session,
        header: frame.container.header,
        check,
        reason,
    };
    if let Err(error) = cross_check(&frame) {
        let check = match error {
            CheckError::DocTypeMismatch { .. } => Check::DocumentType,
            CheckError::Tlv(_) => Check::Tlv,
            _ => Check::CrossCheck,
        };
        return refuse(check, error.to_string());
    }
    match DocumentFacts::read(&frame, now_utc) {
        Ok(facts) => Inspection::Passed { frame, facts },
        Err((check, reason)) => refuse(check, reason),
    }
}

/// The check a frame that does not decode failed.
pub(crate) fn undecodable_check(error: &FrameError) -> Check {
    match error {
        FrameError::Container(e) => match e {
            ContainerError::CrcMismatch { .. } => Check::Crc,
            ContainerError::LengthMismatch { .. } | ContainerError::Oversize(_) => {
                Check::ContainerLength
            }
            ContainerError::MissingDocument | ContainerError::DocumentOverrun { .. } => Check::Tlv,
            _ => Check::ContainerHeader,
        },
        FrameError::BodyLength { .. } => Check::ContainerLength,
        _ => Check::SessionHeader,
    }
}

/// Whether a ФН with `admission` (`None`: unknown ФН) may send a document made at `doc_time`
/// (tag 1012, the register's local wall clock): `Ok(unregistered)`, or the refusal's reason.
/// An active register's current drive sends anything; otherwise only documents made before the
/// cutoff (the block or deregistration, or the drive's replacement) are accepted, so a drive can
/// deliver its backlog and its final report.
pub(crate) fn admit(
    admission: Option<Admission>,
    doc_time: Option<u32>,
    accept_unregistered: bool,
) -> Result<bool, String> {
    let Some(admission) = admission else {
        return if accept_unregistered {
            Ok(true)
        } else {
            Err("unknown ФН number".to_owned())
        };
    };
    let Some(cutoff_ms) = admission.cutoff_ms else {
        return Ok(false);
    };
    let made_ms =
        doc_time.map(|local| (i64::from(local) - admission.utc_offset_minutes * 60) * 1000);
    match made_ms {
        Some(made) if made < cutoff_ms => Ok(false),
        _ if admission.status != RegisterStatus::Active => {
            Err(format!("register is {}", admission.status.as_str()))
        }
        _ => Err("the fiscal drive was replaced before this document was made".to_owned()),
    }
}

/// The response code and 1206 flags for a stored document: ФЛК failures are answered 14 only
/// when enforcing, with the ФЛК flag where the ФФД has tag 1206 (1.1 and later).
pub(crate) fn response_code(
    flk_failed: bool,
    mode: FlkMode,
    ffd: FfdVersion,
) -> (ResponseCode, Option<u8>) {
    match (flk_failed, mode) {
        (false, _) | (true, FlkMode::Report) => (ResponseCode::Accepted, None),
        (true, FlkMode::Enforce) => {
            let flags = (ffd >= FfdVersion::V1_1).then_some(flags_1206::FLC_ERROR);
            (ResponseCode::FlcFailed, flags)
        }
    }
}

impl RuHandler {
    /// Check, store and answer one frame; `None` closes the connection without a reply
    /// (already logged and counted).
    async fn handle_frame(&self, bytes: &[u8], peer: SocketAddr) -> Option<Answer> {
        let (frame, document) = match inspect(bytes, crate::clock::unix_seconds()) {
            Inspection::Passed { frame, facts } => (frame, facts),
            Inspection::Quarantine {
                session,
                header,
                check,
                reason,
            } => {
                let request = Request::new(&session, header, peer);
                let label = check.as_str();
                return self
                    .quarantine(&request, check, label, &reason, bytes)
                    .await;
            }
            Inspection::Refuse {
                session,
                header,
                check,
                reason,
            } => {
                let request = Request::new(&session, header, peer);
                return self.refuse(&request, check, &reason, bytes).await;
            }
            Inspection::Drop { check, reason } => {
                return self.drop_frame(peer, check, &reason, bytes)
            }
        };
        if !frame.session_crc_ok {
            self.metrics.ru.check_failures.inc(Check::SessionCrc);
            tracing::info!(%peer, fn_number = %frame.session.fn_number, "session CRC mismatch (counted; frame processed)");
        }
        let header = frame.container.header;
        let request = Request::new(&frame.session, header, peer);
        let fn_number = header.fn_number.as_str();
        let fd_number = header.fd_number;

        let admission = match self.registers.admission(&self.store, fn_number).await {
            Ok(admission) => admission,
            Err(error) => return self.drop_frame(peer, Check::Storage, &error, bytes),
        };
        let unregistered = match admit(admission, document.time, self.accept_unregistered) {
            Ok(unregistered) => unregistered,
            Err(reason) => {
                let label = Check::Register.as_str();
                return self
                    .quarantine(&request, Check::Register, label, &reason, bytes)
                    .await;
            }
        };

        let container = &bytes[SESSION_HEADER_LEN..];
        let inbound = InboundDocument {
            fn_number,
            fd_number,
            container,
            document: frame.container.document,
            fpd: document.fpd,
            fps: frame.container.trailer,
        };
        let verdict = match self.crypto.verify(&inbound).await {
            Ok(verdict) => verdict,
            Err(error) => return self.drop_frame(peer, Check::CryptoUnit, &error, bytes),
        };
        if let Verdict::Invalid(invalid) = &verdict {
            let label = invalid.label();
            return self
                .quarantine(&request, Check::Sign, label, invalid, bytes)
                .await;
        }

        let (code, flags) = response_code(document.flk_errors.is_some(), self.flk, document.ffd);
        let ack = match self.build_ack(&request, code, flags, document.ffd).await {
            Ok(ack) => ack,
            Err(reason) => return self.drop_frame(peer, Check::CryptoUnit, &reason, bytes),
        };

        let new = new_document(
            &frame,
            &document,
            Received {
                container,
                at_ms: crate::clock::unix_millis(),
                peer: Some(peer.to_string()),
                ack: ack.clone(),
            },
            verdict.label(),
            unregistered,
        );
        let metrics = &self.metrics;
        metrics.queue_depth.set(self.writer.queue_depth() as i64);
        let outcome = match self.writer.store(new).await {
            Ok(outcome) => outcome,
            Err(error) => return self.drop_frame(peer, Check::Storage, &error, bytes),
        };
        let ack = match outcome {
            InsertOutcome::Stored => {
                metrics.documents_stored.inc();
                if unregistered {
                    metrics.unregistered_accepted.inc();
                }
                if let Some(errors) = &document.flk_errors {
                    metrics.ru.check_failures.inc(Check::Flk);
                    metrics.ru.frames.inc(FrameResult::FlkFailed);
                    tracing::info!(%peer, fn_number, fd_number, %errors, mode = ?self.flk, "ФЛК failed; stored and flagged");
                } else {
                    metrics.ru.frames.inc(FrameResult::Accepted);
                }
                tracing::debug!(%peer, fn_number, fd_number, unregistered, "document stored");
                ack
            }
            InsertOutcome::Duplicate { ack } => {
                metrics.duplicates_reacked.inc();
                metrics.ru.frames.inc(FrameResult::Duplicate);
                tracing::debug!(%peer, fn_number, fd_number, "resend answered with the stored ack");
                ack
            }
            InsertOutcome::Conflict { ack } => {
                metrics.conflicts.inc();
                metrics.ru.frames.inc(FrameResult::Conflict);
                tracing::error!(%peer, fn_number, fd_number, "CONFLICT: a different document under a stored (ФН, ФД); kept in conflicts, answered with the stored ack");
                ack
            }
        };
        Some(Answer {
            ack,
            wanted: request.wanted,
        })
    }

    /// Answer code 11 (content not recognised) to a frame that cannot be attributed to a drive;
    /// nothing is stored.
    async fn refuse(
        &self,
        request: &Request,
        check: Check,
        reason: &(dyn std::fmt::Display + Sync),
        bytes: &[u8],
    ) -> Option<Answer> {
        let ack = match self
            .build_ack(request, ResponseCode::Malformed, None, FfdVersion::V1_05)
            .await
        {
            Ok(ack) => ack,
            Err(error) => return self.drop_frame(request.peer, Check::CryptoUnit, &error, bytes),
        };
        self.metrics.ru.check_failures.inc(check);
        self.metrics.ru.frames.inc(FrameResult::Refused);
        tracing::warn!(
            peer = %request.peer,
            fn_number = request.header.fn_number.as_str(),
            fd_number = request.header.fd_number,
            check = check.as_str(),
            %reason,
            first_bytes = %first_bytes(bytes),
            "RU document refused with code 11"
        );
        Some(Answer {
            ack,
            wanted: request.wanted,
        })
    }

    /// A frame the drive signed that is not taken as a document: keep it in quarantine with its
    /// bytes, the failed check and the error (committed before answering), then answer code 11.
    async fn quarantine(
        &self,
        request: &Request,
        check: Check,
        label: &str,
        error: &(dyn std::fmt::Display + Sync),
        bytes: &[u8],
    ) -> Option<Answer> {
        let peer = request.peer;
        let ack = match self
            .build_ack(request, ResponseCode::Malformed, None, FfdVersion::V1_05)
            .await
        {
            Ok(ack) => ack,
            Err(error) => return self.drop_frame(peer, Check::CryptoUnit, &error, bytes),
        };
        let (session, container) = bytes.split_at(SESSION_HEADER_LEN.min(bytes.len()));
        let row = Quarantine {
            dialect: Dialect::Ru,
            fn_number: Some(request.header.fn_number.as_str().to_owned()),
            fd_number: Some(i64::from(request.header.fd_number)),
            system_id: None,
            reason: label.to_owned(),
            check: check.as_str().to_owned(),
            error: error.to_string(),
            received_at: crate::clock::unix_millis(),
            peer: Some(peer.to_string()),
            session: Some(session.to_vec()),
            raw: container.to_vec(),
            ack: Some(ack.clone()),
        };
        if let Err(error) = self.writer.submit(row).await {
            return self.drop_frame(peer, Check::Storage, &error, bytes);
        }
        let metrics = &self.metrics;
        metrics.ru.check_failures.inc(check);
        metrics.ru.frames.inc(FrameResult::Quarantined);
        metrics.quarantined.inc();
        tracing::warn!(
            %peer,
            fn_number = request.header.fn_number.as_str(),
            fd_number = request.header.fd_number,
            check = check.as_str(),
            reason = label,
            %error,
            "RU document quarantined (kept with its bytes), answered 11"
        );
        Some(Answer {
            ack,
            wanted: request.wanted,
        })
    }

    /// Build the confirmation frame, with the ФПО from the crypto unit.
    async fn build_ack(
        &self,
        request: &Request,
        code: ResponseCode,
        flags: Option<u8>,
        ffd: FfdVersion,
    ) -> anyhow::Result<Vec<u8>> {
        let header = &request.header;
        let accepted_at = u32::try_from(crate::clock::unix_seconds()).unwrap_or(u32::MAX);
        let mut ack = Ack::for_request(header, request.a_version, &self.ofd_inn, accepted_at, code);
        ack.ffd = ffd;
        ack.flags_1206 = flags;
        let unsigned = ack.document()?;
        let fpo = self
            .crypto
            .operator_sign(header.fn_number.as_str(), header.fd_number, &unsigned)
            .await?;
        ack.fpo = Some(&fpo);
        Ok(ack.frame()?)
    }

    /// Log and count a frame that cannot be answered; the connection is then closed.
    fn drop_frame(
        &self,
        peer: SocketAddr,
        check: Check,
        reason: &dyn std::fmt::Display,
        bytes: &[u8],
    ) -> Option<Answer> {
        self.metrics.ru.check_failures.inc(check);
        self.metrics.ru.frames.inc(FrameResult::Dropped);
        tracing::warn!(%peer, check = check.as_str(), %reason, first_bytes = %first_bytes(bytes), "RU frame dropped without reply; closing");
        None
    }
}

/// Where and when a document arrived, and what it was answered.
pub(crate) struct Received<'a> {
    /// The container bytes as received.
    pub container: &'a [u8],
    /// Arrival time (UTC, unix ms).
    pub at_ms: i64,
    /// Remote address.
    pub peer: Option<String>,
    /// The reply bytes stored with it.
    pub ack: Vec<u8>,
}

/// The `documents` row of a frame that passed [`inspect`].
pub(crate) fn new_document(
    frame: &Frame<'_>,
    facts: &DocumentFacts,
    received: Received<'_>,
    sign_verdict: &str,
    unregistered: bool,
) -> NewDocument {
    let header = frame.container.header;
    let fn_number = header.fn_number.as_str();
    NewDocument {
        dialect: Dialect::Ru,
        doc_key: ru_doc_key(fn_number, i64::from(header.fd_number)),
        fn_number: Some(fn_number.to_owned()),
        fd_number: Some(i64::from(header.fd_number)),
        system_id: None,
        form_code: i64::from(header.doc_type),
        ffd_version: Some(i64::from(facts.ffd.tag_value())),
        doc_time: facts.time.map(i64::from),
        received_at: received.at_ms,
        raw: received.container.to_vec(),
        // Printed from `raw` when read (`store::documents::document_json`): the FNS JSON is
        // about 3.4 times the container, too much to print and write while the register waits.
        json: String::new(),
        ack: received.ack,
        flk_errors: facts.flk_errors.clone(),
        sign_verdict: sign_verdict.to_owned(),
        unregistered,
        peer: received.peer,
    }
}

/// Run a quarantined RU row through the current decoder and checks (`ofd quarantine retry`):
/// the document to store — with the row's original received time, peer and reply — or why it
/// still does not pass. `admission` is the row's register now; `now_utc` bounds ФЛК's date rules.
/// The sign is not checked again: rows whose sign failed are not replayed by the caller.
pub(crate) fn replay(
    row: &QuarantineRow,
    now_utc: i64,
    admission: Option<Admission>,
    accept_unregistered: bool,
) -> Result<NewDocument, String> {
    let bytes = match &row.session {
        Some(session) => [session.as_slice(), row.raw.as_slice()].concat(),
        // Rows from before session headers were kept: frame the container as a register would.
        None => {
            let header = ContainerHeader::decode(&row.raw).map_err(|e| e.to_string())?;
            frame_around(AVersion::V1_05, header.fn_number, &row.raw).map_err(|e| e.to_string())?
        }
    };
    let (frame, facts) = match inspect(&bytes, now_utc) {
        Inspection::Passed { frame, facts } => (frame, facts),
        Inspection::Quarantine { check, reason, .. }
        | Inspection::Refuse { check, reason, .. }
        | Inspection::Drop { check, reason } => {
            return Err(format!("{}: {reason}", check.as_str()))
        }
    };
    let unregistered = admit(admission, facts.time, accept_unregistered)?;
    let received = Received {
        container: &bytes[SESSION_HEADER_LEN..],
        at_ms: row.received_at,
        peer: row.peer.clone(),
        ack: row.ack.clone().unwrap_or_default(),
    };
    Ok(new_document(
        &frame,
        &facts,
        received,
        "unverified",
        unregistered,
    ))
}

/// Form codes a register sends to the operator (spec §6.1); 7 is our own answer and 81–84 go to
/// the marking server, so neither is accepted here.
const REGISTER_FORMS: [u16; 10] = [1, 11, 2, 21, 3, 31, 4, 41, 5, 6];

/// What the handler needs from a cross-checked document.
#[derive(Debug)]
pub(crate) struct DocumentFacts {
    /// ФФД version from tag 1209 (1.0 when absent: 1.0 documents may lack it).
    ffd: FfdVersion,
    /// Tag 1012, as sent (local wall clock).
    time: Option<u32>,
    /// Tag 1077 (the decoder guarantees its 6 bytes).
    fpd: Option<[u8; 6]>,
    /// Failed ФЛК rules as a JSON array, `None` when all passed.
    flk_errors: Option<String>,
}

impl DocumentFacts {
    /// Decode the document and run ФЛК in the same walk over its bytes; an error names the
    /// check that failed.
    fn read(frame: &Frame<'_>, now_utc: i64) -> Result<DocumentFacts, (Check, String)> {
        let raw = frame.container.document;
        let (document, violations) = flk::decode_and_check(raw, now_utc, &FlkLimits::default())
            .map_err(|error| {
                let check = match error {
                    DocumentError::UnknownForm(_) => Check::DocumentType,
                    _ => Check::Tlv,
                };
                (check, error.to_string())
            })?;
        if !REGISTER_FORMS.contains(&document.form) {
            let reason = format!("form {} is not sent by registers", document.form);
            return Err((Check::DocumentType, reason));
        }
        let time = match document.get(TAG_DATE_TIME) {
            Some(Value::UnixTime(t) | Value::U32(t)) => Some(*t),
            _ => None,
        };
        let fpd = match document.get(TAG_FPD) {
            Some(Value::Bytes(bytes)) => <[u8; 6]>::try_from(*bytes).ok(),
            _ => None,
        };
        let flk_errors = (!violations.is_empty())
            .then(|| serde_json::to_string(&violations).unwrap_or_else(|e| e.to_string()));
        Ok(DocumentFacts {
            ffd: document.ffd_version().unwrap_or(FfdVersion::V1_0),
            time,
            fpd,
            flk_errors,
        })
    }
}

/// Tag of the document date-time.
const TAG_DATE_TIME: u16 = 1012;
/// Tag of the ФПД (fiscal sign of the document).
const TAG_FPD: u16 = 1077;

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: &str =
        include_str!("../../../fixtures/ru/fiscal_report_correction_1_05.frame.hex");
    /// 2017-03-03, after the fixture's own date, so ФЛК's date rules pass.
    const NOW: i64 = 1_488_541_080;

    fn frame() -> Vec<u8> {
        hex::decode(FRAME.trim()).expect("fixture is hex")
    }

    #[test]
    fn a_whole_valid_frame_passes_with_its_facts() {
        let bytes = frame();
        match inspect(&bytes, NOW) {
            Inspection::Passed { frame, facts } => {
                assert_eq!(frame.container.header.doc_type, 11);
                assert_eq!(facts.ffd, FfdVersion::V1_05);
                assert_eq!(facts.time, Some(1_488_541_080));
                assert!(facts.flk_errors.is_none(), "{:?}", facts.flk_errors);
            }
            other => panic!("expected Passed, got {other:?}"),
        }
    }

    #[test]
    fn a_damaged_container_is_refused_with_its_headers_and_a_broken_session_is_dropped() {
        let mut bytes = frame();
        bytes[200] ^= 0xFF;
        match inspect(&bytes, NOW) {
            Inspection::Refuse { header, check, .. } => {
                assert_eq!(check, Check::Crc);
                assert_eq!(header.doc_type, 11);
            }
            other => panic!("expected Refuse, got {other:?}"),
        }
        let mut bytes = frame();
        bytes[4] = 0x00; // session version
        assert!(matches!(
            inspect(&bytes, NOW),
            Inspection::Drop {
                check: Check::SessionHeader,
                ..
            }
        ));
        let bytes = frame();
        assert!(matches!(
            inspect(&bytes[..bytes.len() - 1], NOW),
            Inspection::Drop {
                check: Check::ContainerLength,
                ..
            }
        ));
    }

    #[test]
    fn a_cross_check_failure_is_refused() {
        let mut bytes = frame();
        // The session header's ФН number no longer matches the container's.
        bytes[8] = if bytes[8] == b'1' { b'2' } else { b'1' };
        match inspect(&bytes, NOW) {
            Inspection::Quarantine { check, .. } => assert_eq!(check, Check::CrossCheck),
            other => panic!("expected Refuse, got {other:?}"),
        }
    }

    #[test]
    fn registers_are_admitted_by_status_and_document_time() {
        let admission = |status, cutoff_ms| {
            Some(Admission {
                status,
                cutoff_ms,
                utc_offset_minutes: 180,
            })
        };
        let t = 1_700_000_000_u32;
        assert_eq!(
            admit(admission(RegisterStatus::Active, None), Some(t), false),
            Ok(false)
        );
        assert_eq!(admit(None, Some(t), true), Ok(true));
        assert_eq!(
            admit(None, Some(t), false),
            Err("unknown ФН number".to_owned())
        );
        // Local time t is UTC t - 3 h; the register was deregistered at UTC t - 2 h.
        let cutoff = Some((i64::from(t) - 7200) * 1000);
        let gone = admission(RegisterStatus::Deregistered, cutoff);
        assert_eq!(admit(gone, Some(t - 1), false), Ok(false), "made before");
        let refused = admit(gone, Some(t + 3600), true).expect_err("made after");
        assert!(refused.contains("deregistered"), "{refused}");
        assert!(admit(gone, None, false).is_err(), "no time: refused");
        // A replaced drive of an active register: the same rule with the replacement time.
        let old_drive = admission(RegisterStatus::Active, cutoff);
        assert_eq!(admit(old_drive, Some(t - 1), false), Ok(false));
        assert!(admit(old_drive, Some(t + 3600), false).is_err());
    }

    #[test]
    fn flk_failures_are_answered_by_mode_and_ffd() {
        assert_eq!(
            response_code(false, FlkMode::Enforce, FfdVersion::V1_2),
            (ResponseCode::Accepted, None)
        );
        assert_eq!(
            response_code(true, FlkMode::Report, FfdVersion::V1_2),
            (ResponseCode::Accepted, None)
        );
        assert_eq!(
            response_code(true, FlkMode::Enforce, FfdVersion::V1_1),
            (ResponseCode::FlcFailed, Some(flags_1206::FLC_ERROR))
        );
        assert_eq!(
            response_code(true, FlkMode::Enforce, FfdVersion::V1_05),
            (ResponseCode::FlcFailed, None),
            "tag 1206 does not exist before ФФД 1.1"
        );
    }
}
