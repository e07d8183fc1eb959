//! The RU connection handler: frames in, one operator confirmation (document 7) out per frame.
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
//! An unknown ФН is refused with code 11 (not stored) unless `accept_unregistered`: the spec's
//! code list has no "unknown register" answer, and 11 ("not recognised") is the only code that
//! neither claims acceptance nor blames the document's format.

pub mod codec;
pub(crate) mod register_cache;

use std::net::SocketAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use futures::{SinkExt, StreamExt};
use ofd_protocol::ru::ack::{flags_1206, Ack, ResponseCode};
use ofd_protocol::ru::check::{cross_check, CheckError};
use ofd_protocol::ru::document::{Document, DocumentError, Value};
use ofd_protocol::ru::flk::{self, FlkLimits};
use ofd_protocol::ru::json_text::to_json_string;
use ofd_protocol::ru::session::AVersion;
use ofd_protocol::ru::{
    ContainerError, ContainerHeader, FfdVersion, Frame, FrameError, SessionHeader,
    SESSION_HEADER_LEN,
};
use tokio_util::codec::{Framed, FramedParts};

use self::codec::{FramingError, RuFrameCodec};
use crate::crypto::{InboundDocument, InvalidSign, Verdict};
use crate::ingest::config::FlkMode;
use crate::ingest::connection::{first_bytes, Connection};
use crate::ingest::metrics::{Check, FrameResult, Label};
use crate::ingest::Shared;
use crate::store::{ru_doc_key, Dialect, InsertOutcome, NewDocument, Quarantine, RegisterStatus};

/// Serve RU frames on `connection` until EOF, an error, a timeout or shutdown.
pub(crate) async fn serve(connection: Connection, shared: &Shared) {
    let Connection {
        stream,
        peer,
        read_buf,
        deadline,
    } = connection;
    let metrics = &shared.metrics;
    let codec = RuFrameCodec::new(shared.config.limits.max_frame_bytes as usize);
    let mut parts = FramedParts::new::<&[u8]>(stream, codec);
    parts.read_buf = read_buf;
    let mut framed = Framed::from_parts(parts);
    loop {
        let read_deadline =
            deadline.min(tokio::time::Instant::now() + shared.config.limits.idle_timeout);
        let next = tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            next = tokio::time::timeout_at(read_deadline, framed.next()) => next,
        };
        let frame = match next {
            Ok(Some(Ok(frame))) => frame,
            Ok(None) => break,
            Ok(Some(Err(FramingError::Io(error)))) => {
                tracing::debug!(%peer, %error, "read failed");
                break;
            }
            Ok(Some(Err(error))) => {
                let check = match error {
                    FramingError::Oversize { .. } => Check::Oversize,
                    FramingError::Truncated(_) => Check::Truncated,
                    _ => Check::SessionHeader,
                };
                let buffered = framed.read_buffer();
                metrics.bytes_in.inc_by(buffered.len() as u64);
                drop_frame(shared, peer, check, &error, buffered);
                break;
            }
            Err(_elapsed) => {
                let buffered = framed.read_buffer();
                if !buffered.is_empty() {
                    // Idle between frames is normal; silence in the middle of one is not.
                    metrics.bytes_in.inc_by(buffered.len() as u64);
                    drop_frame(
                        shared,
                        peer,
                        Check::Timeout,
                        &"frame not completed in time",
                        buffered,
                    );
                }
                break;
            }
        };
        let complete = Instant::now();
        metrics.bytes_in.inc_by(frame.len() as u64);
        let Some(answer) = handle_frame(&frame, peer, shared).await else {
            break;
        };
        if answer.wanted {
            if let Err(error) = framed.send(&answer.ack[..]).await {
                tracing::info!(%peer, %error, "ack not delivered: connection lost");
                break;
            }
            metrics.bytes_out.inc_by(answer.ack.len() as u64);
            metrics
                .ack_latency
                .observe(complete.elapsed().as_secs_f64());
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
struct Request<'a> {
    header: &'a ContainerHeader,
    a_version: AVersion,
    wanted: bool,
    peer: SocketAddr,
}

/// Check, store and answer one frame; `None` closes the connection without a reply (already
/// logged and counted).
async fn handle_frame(bytes: &[u8], peer: SocketAddr, shared: &Shared) -> Option<Answer> {
    let metrics = &shared.metrics.ru;
    let frame = match Frame::decode(bytes) {
        Ok(frame) => frame,
        Err(error) => return refuse_undecodable(bytes, &error, peer, shared).await,
    };
    if !frame.session_crc_ok {
        metrics.check_failures.inc(Check::SessionCrc);
        tracing::info!(%peer, fn_number = %frame.session.fn_number, "session CRC mismatch (counted; frame processed)");
    }
    let header = &frame.container.header;
    let request = Request {
        header,
        a_version: frame.session.a_version,
        wanted: frame.session.flags.expects_reply(),
        peer,
    };
    let fn_number = header.fn_number.as_str();
    let fd_number = header.fd_number;

    if let Err(error) = cross_check(&frame) {
        let check = match error {
            CheckError::DocTypeMismatch { .. } => Check::DocumentType,
            CheckError::Tlv(_) => Check::Tlv,
            _ => Check::CrossCheck,
        };
        return refuse(shared, &request, check, &error, bytes).await;
    }
    let document = match DocumentFacts::read(&frame, unix_seconds().into()) {
        Ok(document) => document,
        Err((check, reason)) => return refuse(shared, &request, check, &reason, bytes).await,
    };

    let unregistered = match shared.registers.status(&shared.store, fn_number).await {
        Ok(Some(RegisterStatus::Active)) => false,
        Ok(Some(status)) => {
            let reason = format!("register is {}", status.as_str());
            return refuse(shared, &request, Check::Register, &reason, bytes).await;
        }
        Ok(None) if shared.config.accept_unregistered => true,
        Ok(None) => {
            return refuse(
                shared,
                &request,
                Check::Register,
                &"unknown ФН number",
                bytes,
            )
            .await
        }
        Err(error) => return drop_frame(shared, peer, Check::Storage, &error, bytes),
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
    let verdict = match shared.crypto.verify(&inbound).await {
        Ok(verdict) => verdict,
        Err(error) => return drop_frame(shared, peer, Check::CryptoUnit, &error, bytes),
    };
    if let Verdict::Invalid(invalid) = &verdict {
        return quarantine(shared, &request, invalid, container, bytes).await;
    }

    let (code, flags) = match (&document.flk_errors, shared.config.flk) {
        (None, _) | (Some(_), FlkMode::Report) => (ResponseCode::Accepted, None),
        (Some(_), FlkMode::Enforce) => {
            let flags = (document.ffd >= FfdVersion::V1_1).then_some(flags_1206::FLC_ERROR);
            (ResponseCode::FlcFailed, flags)
        }
    };
    let ack = match build_ack(shared, &request, code, flags, document.ffd).await {
        Ok(ack) => ack,
        Err(reason) => return drop_frame(shared, peer, Check::CryptoUnit, &reason, bytes),
    };

    let new = NewDocument {
        dialect: Dialect::Ru,
        doc_key: ru_doc_key(fn_number, i64::from(fd_number)),
        fn_number: Some(fn_number.to_owned()),
        fd_number: Some(i64::from(fd_number)),
        system_id: None,
        form_code: i64::from(header.doc_type),
        ffd_version: Some(i64::from(document.ffd.tag_value())),
        doc_time: document.time.map(i64::from),
        received_at: unix_millis(),
        raw: container.to_vec(),
        json: document.json,
        ack: ack.clone(),
        flk_errors: document.flk_errors.clone(),
        sign_verdict: verdict.label().to_owned(),
        unregistered,
        peer: Some(peer.to_string()),
    };
    shared
        .metrics
        .queue_depth
        .set(shared.writer.queue_depth() as i64);
    let outcome = match shared.writer.store(new).await {
        Ok(outcome) => outcome,
        Err(error) => return drop_frame(shared, peer, Check::Storage, &error, bytes),
    };
    let ack = match outcome {
        InsertOutcome::Stored => {
            shared.metrics.documents_stored.inc();
            if unregistered {
                shared.metrics.unregistered_accepted.inc();
            }
            if let Some(errors) = &document.flk_errors {
                metrics.check_failures.inc(Check::Flk);
                metrics.frames.inc(FrameResult::FlkFailed);
                tracing::info!(%peer, fn_number, fd_number, %errors, mode = ?shared.config.flk, "ФЛК failed; stored and flagged");
            } else {
                metrics.frames.inc(FrameResult::Accepted);
            }
            tracing::debug!(%peer, fn_number, fd_number, unregistered, "document stored");
            ack
        }
        InsertOutcome::Duplicate { ack } => {
            shared.metrics.duplicates_reacked.inc();
            metrics.frames.inc(FrameResult::Duplicate);
            tracing::debug!(%peer, fn_number, fd_number, "resend answered with the stored ack");
            ack
        }
        InsertOutcome::Conflict { ack } => {
            shared.metrics.conflicts.inc();
            metrics.frames.inc(FrameResult::Conflict);
            tracing::error!(%peer, fn_number, fd_number, "CONFLICT: a different document under a stored (ФН, ФД); kept in conflicts, answered with the stored ack");
            ack
        }
    };
    Some(Answer {
        ack,
        wanted: request.wanted,
    })
}

/// A frame that does not decode: answer 11 if the container header still names the ФН and ФД,
/// otherwise drop it.
async fn refuse_undecodable(
    bytes: &[u8],
    error: &FrameError,
    peer: SocketAddr,
    shared: &Shared,
) -> Option<Answer> {
    let check = match error {
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
    };
    let session = SessionHeader::decode(bytes);
    let header = bytes.get(SESSION_HEADER_LEN..).map(ContainerHeader::decode);
    match (session, header) {
        (Ok(session), Some(Ok(header))) => {
            let request = Request {
                header: &header,
                a_version: session.a_version,
                wanted: session.flags.expects_reply(),
                peer,
            };
            refuse(shared, &request, check, error, bytes).await
        }
        _ => drop_frame(shared, peer, check, error, bytes),
    }
}

/// Answer code 11 (content not recognised); nothing is stored.
async fn refuse(
    shared: &Shared,
    request: &Request<'_>,
    check: Check,
    reason: &(dyn std::fmt::Display + Sync),
    bytes: &[u8],
) -> Option<Answer> {
    let metrics = &shared.metrics.ru;
    let ack = match build_ack(
        shared,
        request,
        ResponseCode::Malformed,
        None,
        FfdVersion::V1_05,
    )
    .await
    {
        Ok(ack) => ack,
        Err(error) => return drop_frame(shared, request.peer, Check::CryptoUnit, &error, bytes),
    };
    metrics.check_failures.inc(check);
    metrics.frames.inc(FrameResult::Refused);
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

/// A document whose fiscal sign failed: keep it in quarantine (committed before answering),
/// then answer code 11.
async fn quarantine(
    shared: &Shared,
    request: &Request<'_>,
    invalid: &InvalidSign,
    container: &[u8],
    bytes: &[u8],
) -> Option<Answer> {
    let peer = request.peer;
    let ack = match build_ack(
        shared,
        request,
        ResponseCode::Malformed,
        None,
        FfdVersion::V1_05,
    )
    .await
    {
        Ok(ack) => ack,
        Err(error) => return drop_frame(shared, peer, Check::CryptoUnit, &error, bytes),
    };
    let row = Quarantine {
        dialect: Dialect::Ru,
        fn_number: Some(request.header.fn_number.as_str().to_owned()),
        fd_number: Some(i64::from(request.header.fd_number)),
        reason: invalid.label().to_owned(),
        received_at: unix_millis(),
        peer: Some(peer.to_string()),
        raw: container.to_vec(),
    };
    if let Err(error) = shared.writer.submit(row).await {
        return drop_frame(shared, peer, Check::Storage, &error, bytes);
    }
    let metrics = &shared.metrics;
    metrics.ru.check_failures.inc(Check::Sign);
    metrics.ru.frames.inc(FrameResult::Quarantined);
    metrics.quarantined.inc();
    tracing::warn!(%peer, fn_number = request.header.fn_number.as_str(), fd_number = request.header.fd_number, reason = %invalid, "fiscal sign invalid: quarantined, answered 11");
    Some(Answer {
        ack,
        wanted: request.wanted,
    })
}

/// Build the confirmation frame, with the ФПО from the crypto unit.
async fn build_ack(
    shared: &Shared,
    request: &Request<'_>,
    code: ResponseCode,
    flags: Option<u8>,
    ffd: FfdVersion,
) -> anyhow::Result<Vec<u8>> {
    let header = request.header;
    let mut ack = Ack::for_request(
        header,
        request.a_version,
        &shared.config.ofd_inn,
        unix_seconds(),
        code,
    );
    ack.ffd = ffd;
    ack.flags_1206 = flags;
    let unsigned = ack.document()?;
    let fpo = shared
        .crypto
        .operator_sign(header.fn_number.as_str(), header.fd_number, &unsigned)
        .await?;
    ack.fpo = Some(&fpo);
    Ok(ack.frame()?)
}

/// Log and count a frame that cannot be answered; the connection is then closed.
fn drop_frame(
    shared: &Shared,
    peer: SocketAddr,
    check: Check,
    reason: &dyn std::fmt::Display,
    bytes: &[u8],
) -> Option<Answer> {
    shared.metrics.ru.check_failures.inc(check);
    shared.metrics.ru.frames.inc(FrameResult::Dropped);
    tracing::warn!(%peer, check = check.as_str(), %reason, first_bytes = %first_bytes(bytes), "RU frame dropped without reply; closing");
    None
}

fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Time of acceptance for tag 1012 (UTC seconds: the server cannot know the register's zone).
fn unix_seconds() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}

/// Form codes a register sends to the operator (spec §6.1); 7 is our own answer and 81–84 go to
/// the marking server, so neither is accepted here.
const REGISTER_FORMS: [u16; 10] = [1, 11, 2, 21, 3, 31, 4, 41, 5, 6];

/// What the handler needs from a cross-checked document.
struct DocumentFacts {
    /// ФФД version from tag 1209 (1.0 when absent: 1.0 documents may lack it).
    ffd: FfdVersion,
    /// Tag 1012, as sent (local wall clock).
    time: Option<u32>,
    /// Tag 1077 (the decoder guarantees its 6 bytes).
    fpd: Option<[u8; 6]>,
    /// The document as FNS JSON.
    json: String,
    /// Failed ФЛК rules as a JSON array, `None` when all passed.
    flk_errors: Option<String>,
}

impl DocumentFacts {
    /// Decode the document and run ФЛК; an error names the check that failed.
    fn read(frame: &Frame<'_>, now_utc: i64) -> Result<DocumentFacts, (Check, String)> {
        let raw = frame.container.document;
        let document = Document::decode(raw).map_err(|error| {
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
        let violations = flk::check(raw, now_utc, &FlkLimits::default());
        let flk_errors = (!violations.is_empty())
            .then(|| serde_json::to_string(&violations).unwrap_or_else(|e| e.to_string()));
        Ok(DocumentFacts {
            ffd: document.ffd_version().unwrap_or(FfdVersion::V1_0),
            time,
            fpd,
            json: to_json_string(&document, frame.container.trailer),
            flk_errors,
        })
    }
}

/// Tag of the document date-time.
const TAG_DATE_TIME: u16 = 1012;
/// Tag of the ФПД (fiscal sign of the document).
const TAG_FPD: u16 = 1077;
