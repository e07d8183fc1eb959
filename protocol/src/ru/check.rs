//! Cross-checks between the three places a frame names its document.
//!
//! The session header, the container header and the document each carry the ФН number; the
//! container header and tag 1040 both carry the ФД number; container byte 5 and the document
//! STLV tag both carry the form code. A mismatch means a damaged or forged frame and earns a
//! code-11 reply. These checks read only the top level of the document, so they are cheap
//! enough to run before the full decode.

use super::fn_number::FnNumber;
use super::tlv::{Tlv, TlvError};
use super::value::decode_u32;
use super::Frame;

/// Tag of the ФН number.
pub const TAG_FN_NUMBER: u16 = 1041;
/// Tag of the ФД number.
pub const TAG_FD_NUMBER: u16 = 1040;

/// Which cross-check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The session header and the container name different ФН numbers.
    #[error("ФН number in session header {session} differs from container {container}")]
    SessionFnMismatch {
        /// From the session header.
        session: FnNumber,
        /// From the container header.
        container: FnNumber,
    },
    /// Tag 1041 is missing or differs from the container's ФН number.
    #[error("tag 1041 does not match the container ФН number {container}")]
    DocumentFnMismatch {
        /// From the container header.
        container: FnNumber,
    },
    /// Tag 1040 is missing or differs from the container's ФД number.
    #[error("tag 1040 {document:?} does not match the container ФД number {container}")]
    FdMismatch {
        /// From the container header.
        container: u32,
        /// From tag 1040, if present and well-formed.
        document: Option<u32>,
    },
    /// The container document type differs from the document STLV tag.
    #[error("container document type {container} differs from the document tag {document}")]
    DocTypeMismatch {
        /// Container byte 5.
        container: u8,
        /// Tag of the document STLV.
        document: u16,
    },
    /// The document's TLV framing is broken.
    #[error(transparent)]
    Tlv(#[from] TlvError),
}

/// Run every cross-check on a decoded frame.
pub fn cross_check(frame: &Frame<'_>) -> Result<(), CheckError> {
    let header = &frame.container.header;
    if frame.session.fn_number != header.fn_number {
        return Err(CheckError::SessionFnMismatch {
            session: frame.session.fn_number,
            container: header.fn_number,
        });
    }
    let document = Tlv::read_exact(frame.container.document)?;
    if document.tag != u16::from(header.doc_type) {
        return Err(CheckError::DocTypeMismatch {
            container: header.doc_type,
            document: document.tag,
        });
    }
    let fn_tag = document.children().find(TAG_FN_NUMBER)?;
    let fn_ok = fn_tag
        .and_then(|t| FnNumber::parse(t.value).ok())
        .is_some_and(|n| n == header.fn_number);
    if !fn_ok {
        return Err(CheckError::DocumentFnMismatch {
            container: header.fn_number,
        });
    }
    let fd = document
        .children()
        .find(TAG_FD_NUMBER)?
        .and_then(|t| decode_u32(t.value).ok());
    if fd != Some(header.fd_number) {
        return Err(CheckError::FdMismatch {
            container: header.fd_number,
            document: fd,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ru::container::Container;
    use crate::ru::tlv::Writer;

    const FRAME: &str =
        include_str!("../../../fixtures/ru/fiscal_report_correction_1_05.frame.hex");

    /// The real dump with its document replaced by `document` (container rebuilt, CRC valid).
    fn with_document(bytes: &[u8], document: &[u8]) -> Vec<u8> {
        let frame = Frame::decode(bytes).unwrap();
        let container = Container::encode(&frame.container.header, document, &[]).unwrap();
        let mut session = frame.session;
        session.body_len = container.len() as u16;
        let mut out = session.encode().to_vec();
        out.extend_from_slice(&container);
        out
    }

    #[test]
    fn every_error_variant() {
        let bytes = hex::decode(FRAME.trim()).unwrap();
        let check = |b: &[u8]| cross_check(&Frame::decode(b).unwrap());

        let mut b = bytes.clone();
        b[8 + 15] = b'9';
        assert!(matches!(
            check(&b),
            Err(CheckError::SessionFnMismatch { .. })
        ));

        let doc = |form: u16, fn_number: &[u8], fd: u32| {
            let mut w = Writer::new();
            w.begin(form).unwrap();
            w.tlv(TAG_FN_NUMBER, fn_number).unwrap();
            w.u32(TAG_FD_NUMBER, fd).unwrap();
            w.finish().unwrap()
        };
        let ok = with_document(&bytes, &doc(11, b"9999078900005488", 1));
        assert_eq!(check(&ok), Ok(()));
        let b = with_document(&bytes, &doc(3, b"9999078900005488", 1));
        assert_eq!(
            check(&b),
            Err(CheckError::DocTypeMismatch {
                container: 11,
                document: 3
            })
        );
        let b = with_document(&bytes, &doc(11, b"9999078900005489", 1));
        assert!(matches!(
            check(&b),
            Err(CheckError::DocumentFnMismatch { .. })
        ));
        let b = with_document(&bytes, &doc(11, b"9999078900005488", 2));
        assert_eq!(
            check(&b),
            Err(CheckError::FdMismatch {
                container: 1,
                document: Some(2)
            })
        );
        let b = with_document(&bytes, &[11, 0, 3, 0, 0x11, 0x04, 0x05]);
        assert_eq!(check(&b), Err(CheckError::Tlv(TlvError::TrailingBytes(3))));
    }
}
