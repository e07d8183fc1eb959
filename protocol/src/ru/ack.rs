//! The operator confirmation (document 7) that answers every RU document.
//!
//! Layout of the document: 1017 ИНН ОФД (12 chars, space-padded), 1041 ФН number, 1040 ФД
//! number, 1012 time, 1068 { 1022 response code }, 1206 flags (ФФД 1.1/1.2 only, when given),
//! 1078 ФПО (when the crypto unit supplies one). It is wrapped in a container that echoes the
//! request's service data 1, BCD ФН number and **big-endian** ФД number, and a session header
//! that echoes the request's A-version and ФН number with flags `0x0014`.
//!
//! The public mock this format is known from writes the ФД number as ASCII, leaves the ИНН
//! unpadded and omits 1078; none of that is repeated here. The time is a parameter: the crate
//! has no clock. Everything the builder needs is in the container header, so a code-11 reply
//! works even when the document itself did not parse.

use super::container::{
    Container, ContainerError, ContainerHeader, CONTAINER_TYPE, HEADER_VERSION,
};
use super::fn_number::FnNumber;
use super::session::{frame_around, AVersion, SessionError};
use super::tlv::{TlvError, Writer};
use super::FfdVersion;

/// Form code of the operator confirmation.
pub const ACK_FORM: u16 = 7;
/// Width of the ИНН field 1017.
pub const INN_LEN: usize = 12;

/// The 1022 response code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResponseCode {
    /// 0: document accepted.
    Accepted,
    /// 11: document malformed, content not recognised.
    Malformed,
    /// 14: document failed format-logical control (ФЛК).
    FlcFailed,
}

impl ResponseCode {
    /// The wire value of tag 1022.
    pub fn code(self) -> u8 {
        match self {
            ResponseCode::Accepted => 0,
            ResponseCode::Malformed => 11,
            ResponseCode::FlcFailed => 14,
        }
    }
}

/// Bits of tag 1206 (operator message flags).
pub mod flags_1206 {
    /// ФЛК error in the document.
    pub const FLC_ERROR: u8 = 2;
    /// Check the ККТ in the taxpayer's cabinet.
    pub const CHECK_CABINET: u8 = 4;
    /// Update the ФФД version.
    pub const UPDATE_FFD: u8 = 8;
    /// The ККТ is in the inspection plan.
    pub const INSPECTION_PLAN: u8 = 16;
    /// Contact the OFD to change communication settings.
    pub const CONTACT_OFD: u8 = 32;
    /// The operator is ceasing activity.
    pub const OPERATOR_CEASING: u8 = 64;
}

/// Why a confirmation could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AckError {
    /// The operator ИНН is not 1..=12 ASCII digits.
    #[error("operator ИНН must be 1..=12 ASCII digits")]
    BadInn,
    /// Tag 1206 does not exist before ФФД 1.1.
    #[error("1206 flags need ФФД 1.1 or later")]
    FlagsNeedFfd11,
    /// TLV encoding failed (a value too long).
    #[error(transparent)]
    Tlv(#[from] TlvError),
    /// Container encoding failed (ФД number or size out of range).
    #[error(transparent)]
    Container(#[from] ContainerError),
    /// The session header could not announce the container.
    #[error(transparent)]
    Session(#[from] SessionError),
}

/// Everything a confirmation depends on. Build with [`Ack::for_request`], adjust, then
/// [`Ack::document`] / [`Ack::frame`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack<'a> {
    /// ИНН of the operator (tag 1017), unpadded digits.
    pub ofd_inn: &'a str,
    /// ФН number being answered (tag 1041 and the headers).
    pub fn_number: FnNumber,
    /// ФД number being confirmed (tag 1040 and the container header).
    pub fd_number: u32,
    /// Time of acceptance (tag 1012), local wall-clock seconds, supplied by the caller.
    pub time: u32,
    /// Response code (tag 1022 inside 1068).
    pub code: ResponseCode,
    /// Operator message flags (tag 1206), ФФД 1.1/1.2 only.
    pub flags_1206: Option<u8>,
    /// ФФД version of the request (from its tag 1209); decides whether 1206 may be sent.
    pub ffd: FfdVersion,
    /// ФПО from the crypto unit (tag 1078); `None` with a pass-through crypto unit.
    pub fpo: Option<&'a [u8]>,
    /// A-version of the request's session header, echoed.
    pub a_version: AVersion,
    /// Service data 1 of the request's container, echoed.
    pub service1: [u8; 2],
    /// Service data 2 of the reply container, from the crypto unit (zeros without one).
    pub service2: [u8; 12],
    /// Trailer after the document (ФПП), from the crypto unit (empty without one).
    pub trailer: &'a [u8],
}

impl<'a> Ack<'a> {
    /// A confirmation for the container whose header is `request`, with everything the crypto
    /// unit would supply left empty. `a_version` comes from the request's session header.
    pub fn for_request(
        request: &ContainerHeader,
        a_version: AVersion,
        ofd_inn: &'a str,
        time: u32,
        code: ResponseCode,
    ) -> Self {
        Self {
            ofd_inn,
            fn_number: request.fn_number,
            fd_number: request.fd_number,
            time,
            code,
            flags_1206: None,
            ffd: FfdVersion::V1_05,
            fpo: None,
            a_version,
            service1: request.service1,
            service2: [0; 12],
            trailer: &[],
        }
    }

    /// The document 7 STLV (what the crypto unit signs).
    pub fn document(&self) -> Result<Vec<u8>, AckError> {
        let inn = self.ofd_inn.as_bytes();
        if inn.is_empty() || inn.len() > INN_LEN || !inn.iter().all(u8::is_ascii_digit) {
            return Err(AckError::BadInn);
        }
        let mut padded_inn = [b' '; INN_LEN];
        padded_inn[..inn.len()].copy_from_slice(inn);
        let mut w = Writer::new();
        w.begin(ACK_FORM)?;
        w.tlv(1017, &padded_inn)?;
        w.tlv(1041, self.fn_number.as_bytes())?;
        w.u32(1040, self.fd_number)?;
        w.u32(1012, self.time)?;
        w.begin(1068)?.byte(1022, self.code.code())?.end()?;
        if let Some(flags) = self.flags_1206 {
            if self.ffd < FfdVersion::V1_1 {
                return Err(AckError::FlagsNeedFfd11);
            }
            w.byte(1206, flags)?;
        }
        if let Some(fpo) = self.fpo {
            w.tlv(1078, fpo)?;
        }
        Ok(w.finish()?)
    }

    /// The reply container around `document` (normally [`Ack::document`]'s output).
    pub fn container(&self, document: &[u8]) -> Result<Vec<u8>, AckError> {
        let header = ContainerHeader {
            len: 0,
            crc: 0,
            container_type: CONTAINER_TYPE,
            doc_type: ACK_FORM as u8,
            version: HEADER_VERSION,
            service1: self.service1,
            fn_number: self.fn_number,
            fd_number: self.fd_number,
            service2: self.service2,
        };
        Ok(Container::encode(&header, document, self.trailer)?)
    }

    /// The whole reply frame: session header, container, document, trailer.
    pub fn frame(&self) -> Result<Vec<u8>, AckError> {
        let container = self.container(&self.document()?)?;
        Ok(frame_around(self.a_version, self.fn_number, &container)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ru::Frame;

    fn request_header() -> ContainerHeader {
        ContainerHeader {
            len: 0,
            crc: 0,
            container_type: CONTAINER_TYPE,
            doc_type: 3,
            version: 1,
            service1: [0x10, 0x09],
            fn_number: FnNumber::parse(b"9999078900005488").unwrap(),
            fd_number: 1,
            service2: [0; 12],
        }
    }

    #[test]
    fn matches_the_spec_example() {
        let ack = Ack::for_request(
            &request_header(),
            AVersion::V1_0,
            "7704358518",
            1488541080,
            ResponseCode::Accepted,
        );
        let expected = hex::decode(
            "07003d00f9030c00373730343335383531382020110410003939393930373839303030303534383810040400010000\
             00f40304009855b9582c040500fe03010000",
        )
        .unwrap();
        assert_eq!(ack.document().unwrap(), expected);
    }

    #[test]
    fn frame_decodes_back() {
        let mut ack = Ack::for_request(
            &request_header(),
            AVersion::V1_2,
            "7704358518",
            1_700_000_000,
            ResponseCode::FlcFailed,
        );
        ack.fd_number = 0x01_02_03;
        ack.ffd = FfdVersion::V1_2;
        ack.flags_1206 = Some(flags_1206::FLC_ERROR);
        ack.fpo = Some(&[7; 18]);
        ack.trailer = &[1, 2, 3];
        let bytes = ack.frame().unwrap();
        let frame = Frame::decode(&bytes).unwrap();
        assert_eq!(frame.session.a_version, AVersion::V1_2);
        assert_eq!(frame.container.header.doc_type, 7);
        assert_eq!(
            &bytes[30 + 17..30 + 20],
            &[1, 2, 3],
            "ФД number is big-endian"
        );
        assert_eq!(frame.container.trailer, &[1, 2, 3]);
        let doc = crate::ru::tlv::Tlv::read_exact(frame.container.document).unwrap();
        assert_eq!(doc.children().find(1206).unwrap().unwrap().value, &[2]);
        assert_eq!(doc.children().find(1078).unwrap().unwrap().value, &[7; 18]);
        let msg = doc.children().find(1068).unwrap().unwrap();
        assert_eq!(msg.children().find(1022).unwrap().unwrap().value, &[14]);
        crate::ru::check::cross_check(&frame).unwrap();
    }

    #[test]
    fn every_error_variant() {
        let base = Ack::for_request(
            &request_header(),
            AVersion::V1_0,
            "77043585181",
            0,
            ResponseCode::Malformed,
        );
        let mut ack = base.clone();
        ack.ofd_inn = "77O4";
        assert_eq!(ack.document(), Err(AckError::BadInn));
        ack.ofd_inn = "7704358518123";
        assert_eq!(ack.document(), Err(AckError::BadInn));
        let mut ack = base.clone();
        ack.flags_1206 = Some(2);
        assert_eq!(ack.document(), Err(AckError::FlagsNeedFfd11));
        let mut ack = base.clone();
        let big = vec![0; 70_000];
        ack.fpo = Some(&big);
        assert!(matches!(ack.document(), Err(AckError::Tlv(_))));
        let mut ack = base;
        ack.fd_number = 1 << 24;
        assert!(matches!(ack.frame(), Err(AckError::Container(_))));
    }
}
