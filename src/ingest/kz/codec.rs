//! The KZ connection handler on the shared listener: frames in, one response per frame out.
//!
//! Framing is a tokio-util [`Decoder`] over the pure header codec: it reads exactly 18 bytes,
//! checks the app code and SIZE against the cap *before* reserving the body, then waits for
//! exactly SIZE bytes. Everything after framing — identity, token, REQNUM, commands, the one
//! commit per exchange — is [`crate::ingest::kz::exchange::KzService`]. A header that fails (SIZE below 18
//! or above the cap) is answered with PROTOCOL_ERROR and the connection closed without reading
//! the body (spec §8 item 2).

use bytes::{Buf as _, BytesMut};
use futures::{SinkExt as _, StreamExt as _};
use ofd_protocol::kz::{CommandTypeEnum, Header, HeaderError, ResultTypeEnum, HEADER_LEN};
use tokio_util::codec::{Decoder, Encoder, Framed, FramedParts};

use crate::ingest::connection::{first_bytes, Connection};
use crate::ingest::kz::exchange::Reply;
use crate::ingest::metrics::{Check, FrameResult};
use crate::ingest::Shared;

/// Why framing stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KzFramingError {
    /// The socket failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The header is invalid; `echo` holds its readable fields for the refusal.
    #[error("{error}")]
    Header {
        /// What was wrong.
        error: HeaderError,
        /// The header's fields as sent (SIZE aside), echoed in the PROTOCOL_ERROR reply.
        echo: Header,
    },
}

/// Splits a byte stream into whole KZ frames: (header, all SIZE bytes).
#[derive(Debug, Clone, Copy)]
pub struct KzFrameCodec {
    max_frame: u32,
}

impl KzFrameCodec {
    /// A codec refusing frames whose SIZE exceeds `max_frame`.
    pub fn new(max_frame: u32) -> Self {
        KzFrameCodec { max_frame }
    }
}

impl Decoder for KzFrameCodec {
    type Item = (Header, BytesMut);
    type Error = KzFramingError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        if src.len() < HEADER_LEN {
            return Ok(None);
        }
        let header = Header::decode(src)
            .and_then(|h| h.check_size(self.max_frame).map(|()| h))
            .map_err(|error| KzFramingError::Header {
                error,
                echo: echo_fields(&src[..HEADER_LEN]),
            })?;
        let size = header.size as usize;
        if src.len() < size {
            src.reserve(size - src.len());
            return Ok(None);
        }
        Ok(Some((header, src.split_to(size))))
    }
}

/// Responses are encoded whole by the service; the codec only writes their bytes.
impl Encoder<Vec<u8>> for KzFrameCodec {
    type Error = KzFramingError;

    fn encode(&mut self, item: Vec<u8>, dst: &mut BytesMut) -> Result<(), Self::Error> {
        dst.extend_from_slice(&item);
        Ok(())
    }
}

/// The fields of a header that failed validation.
fn echo_fields(head: &[u8]) -> Header {
    let mut b = head;
    let _app_code = b.get_u16_le();
    let version = b.get_u16_le();
    let _size = b.get_u32_le();
    Header {
        version,
        size: 0,
        system_id: b.get_u32_le(),
        token: b.get_u32_le(),
        request_number: b.get_u16_le(),
    }
}

/// Serve KZ frames on `connection` until EOF, an error, a timeout or shutdown.
pub(crate) async fn serve(connection: Connection, shared: &Shared) {
    let Connection {
        stream,
        peer,
        read_buf,
        deadline,
    } = connection;
    let metrics = &shared.metrics;
    let kz = &shared.kz;
    let mut parts = FramedParts::new::<Vec<u8>>(stream, KzFrameCodec::new(kz.config().max_frame));
    parts.read_buf = read_buf;
    let mut framed = Framed::from_parts(parts);
    loop {
        let read_deadline =
            deadline.min(tokio::time::Instant::now() + shared.config.limits.idle_timeout);
        let next = tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            next = tokio::time::timeout_at(read_deadline, framed.next()) => next,
        };
        let (header, frame) = match next {
            Ok(Some(Ok(item))) => item,
            Ok(None) => {
                if !framed.read_buffer().is_empty() {
                    metrics.kz.check_failures.inc(Check::Truncated);
                    metrics.kz.frames.inc(FrameResult::Dropped);
                    tracing::info!(%peer, first_bytes = %first_bytes(framed.read_buffer()), "KZ connection closed mid-frame");
                }
                break;
            }
            Ok(Some(Err(KzFramingError::Io(error)))) => {
                tracing::debug!(%peer, %error, "read failed");
                break;
            }
            Ok(Some(Err(KzFramingError::Header { error, echo }))) => {
                let check = match error {
                    HeaderError::SizeTooLarge { .. } => Check::Oversize,
                    _ => Check::SessionHeader,
                };
                metrics.kz.check_failures.inc(check);
                tracing::warn!(%peer, %error, first_bytes = %first_bytes(framed.read_buffer()), "KZ frame header refused; answering PROTOCOL_ERROR and closing");
                if matches!(error, HeaderError::BadAppCode(_)) {
                    metrics.kz.frames.inc(FrameResult::Dropped);
                    break;
                }
                let reply = kz.refusal_frame(
                    &echo,
                    CommandTypeEnum::Reserved as i32,
                    ResultTypeEnum::ProtocolError,
                    &error.to_string(),
                );
                let _ = send(&mut framed, reply, shared).await;
                break;
            }
            Err(_elapsed) => {
                if !framed.read_buffer().is_empty() {
                    metrics.kz.check_failures.inc(Check::Timeout);
                    metrics.kz.frames.inc(FrameResult::Dropped);
                }
                tracing::debug!(%peer, "KZ connection idle past the timeout; closed");
                break;
            }
        };
        metrics.bytes_in.inc_by(frame.len() as u64);
        let started = std::time::Instant::now();
        let reply = kz.handle_frame(header, &frame, peer).await;
        let close = match reply {
            Reply::Send(bytes) => {
                if send(&mut framed, bytes, shared).await.is_err() {
                    break;
                }
                false
            }
            Reply::SendAndClose(bytes) => {
                let _ = send(&mut framed, bytes, shared).await;
                true
            }
            Reply::Close => true,
        };
        metrics.ack_latency.observe(started.elapsed().as_secs_f64());
        if close {
            break;
        }
    }
}

/// Write one response frame through the framed socket.
async fn send(
    framed: &mut Framed<tokio::net::TcpStream, KzFrameCodec>,
    bytes: Vec<u8>,
    shared: &Shared,
) -> Result<(), KzFramingError> {
    let len = bytes.len() as u64;
    framed.send(bytes).await?;
    shared.metrics.bytes_out.inc_by(len);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_waits_for_whole_frames_and_refuses_oversize_before_the_body() {
        let header = Header {
            version: 203,
            size: 20,
            system_id: 5,
            token: 6,
            request_number: 7,
        };
        let mut buf = BytesMut::from(&header.encode()[..]);
        let mut codec = KzFrameCodec::new(1024);
        assert!(codec.decode(&mut buf).expect("valid so far").is_none());
        buf.extend_from_slice(&[0x08, 0x00, 0xff]);
        let (decoded, frame) = codec.decode(&mut buf).expect("ok").expect("whole frame");
        assert_eq!(decoded.system_id, 5);
        assert_eq!(frame.len(), 20);
        assert_eq!(&buf[..], &[0xff]);

        let big = Header {
            size: 4096,
            ..header
        };
        let mut buf = BytesMut::from(&big.encode()[..]);
        match codec.decode(&mut buf) {
            Err(KzFramingError::Header { error, echo }) => {
                assert!(matches!(
                    error,
                    HeaderError::SizeTooLarge { size: 4096, .. }
                ));
                assert_eq!((echo.system_id, echo.token, echo.request_number), (5, 6, 7));
            }
            other => panic!("expected an oversize refusal, got {other:?}"),
        }
    }
}
