//! Simulated RU registers (ККТ with a fiscal drive): each owns a test ФН (`9999…`), numbers its
//! documents 1, 2, 3 … like a ФН does, and checks every operator confirmation it gets back.
//!
//! The mix per register: a shift open report first, receipts (sales, some refunds, a few
//! correction receipts) in between, a shift close report last, and a close/open pair every
//! [`SHIFT_LENGTH`] documents. A confirmation counts only when it is document 7 for this ФН and
//! this ФД number, in the ФН number and ФД number of the headers and of tags 1041/1040 alike,
//! with 1022 = 0.
//!
//! With the soft unit's secret a confirmation must also prove it belongs to the document just
//! sent: its ФПО (tag 1078) verifies under this ФН's key, and its acceptance time (tag 1012,
//! covered by the ФПО) is not older than the document itself. A server that keeps a *different*
//! earlier document under this (ФН, ФД) answers with that document's stored confirmation —
//! signed, but from before this document existed — and that is caught here as
//! `ack_older_than_document` instead of being counted as delivered.

mod documents;
mod signing;

use bytes::Bytes;
use ofd_protocol::ru::container::{CONTAINER_TYPE, HEADER_VERSION};
use ofd_protocol::ru::session::{frame_around, AVersion};
use ofd_protocol::ru::tlv::Tlv;
use ofd_protocol::ru::value::{decode_byte, decode_u32};
use ofd_protocol::ru::{
    Container, ContainerHeader, FnNumber, Frame, SessionHeader, SESSION_HEADER_LEN,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub use self::documents::Identity;
use self::documents::{DocumentBuilder, Kind, Numbers};
pub use self::signing::Signer;
use super::model::{Outgoing, RegisterModel, ReplyFraming, Verdict};
use super::Ffd;

/// Documents per shift before the register closes and reopens it.
const SHIFT_LENGTH: u64 = 200;
/// Moscow wall clock: document times are local, not UTC.
const LOCAL_OFFSET_S: i64 = 3 * 3600;
/// Service data 1 as seen in every real dump.
const SERVICE_DATA_1: [u8; 2] = [0x10, 0x09];
/// Bytes after the ФПС in the trailer, as in every real dump.
const TRAILER_TAIL: [u8; 2] = [0, 0];
/// How far the server's clock may lag the emulator's before a confirmation's time (tag 1012)
/// counts as older than the document it answers.
pub const ACK_CLOCK_SKEW_S: i64 = 2;

/// How RU replies are framed: 30-byte session header, then LEN bytes of container.
pub struct RuFraming;

impl ReplyFraming for RuFraming {
    fn header_len(&self) -> usize {
        SESSION_HEADER_LEN
    }

    fn frame_len(&self, header: &[u8]) -> Result<usize, String> {
        SessionHeader::decode(header)
            .map(|session| session.frame_len())
            .map_err(|error| error.to_string())
    }
}

/// Settings shared by every RU register of a run.
pub struct FleetSettings {
    /// ФФД version of the documents.
    pub ffd: Ffd,
    /// Who signs the documents.
    pub signer: Signer,
    /// Documents per register.
    pub documents: u64,
    /// Fleet number inside the ФН numbers.
    pub fleet: u32,
    /// Seed of the document generator.
    pub seed: u64,
}

/// The RU fleet: `count` registers with ФН numbers `9999<fleet:6><index:6>`.
pub fn fleet(count: u64, settings: &FleetSettings) -> anyhow::Result<Vec<Box<dyn RegisterModel>>> {
    if count > 1_000_000 {
        anyhow::bail!("at most 1000000 RU registers per fleet");
    }
    (0..count)
        .map(|index| {
            RuRegister::new(index, settings)
                .map(|register| Box::new(register) as Box<dyn RegisterModel>)
        })
        .collect()
}

/// Who register `index` of fleet `fleet` is: ФН number `9999<fleet:6><index:6>`, its РН ККТ,
/// its owner. The same for provisioning and for the documents.
pub fn identity(fleet: u32, index: u64) -> Identity {
    let inn = documents::legal_entity_inn(u64::from(fleet) * 7919 + index);
    // The РН ККТ's check part fits the owner's ИНН and the serial, as the cabinet checks it.
    let ordinal = format!(
        "{:010}",
        u64::from(fleet % 100) * 100_000_000 + index % 100_000_000
    );
    let check = crate::store::register_numbers::rn_kkt_check(
        &ordinal,
        &inn,
        &super::model::serial(fleet, index),
    );
    Identity {
        fn_number: format!("9999{fleet:06}{index:06}"),
        reg_number: format!("{ordinal}{check}"),
        inn,
        user: format!("ООО \"Ромашка-{index}\""),
        address: format!("г. Москва, ул. Тверская, д. {}", index % 200 + 1),
        place: format!("Магазин №{}", index % 1000 + 1),
        cashier: "Иванова А.П.".to_owned(),
    }
}

/// One simulated ККТ + ФН.
pub struct RuRegister {
    identity: Identity,
    fn_number: FnNumber,
    ffd: Ffd,
    signer: Signer,
    rng: StdRng,
    planned: u64,
    produced: u64,
    numbers: Numbers,
    /// Set after a close report: the next document opens the next shift.
    shift_closed: bool,
    /// ФД number of the document in flight.
    in_flight: u32,
    /// UTC time (s) the document in flight was made.
    in_flight_made: i64,
}

impl RuRegister {
    fn new(index: u64, settings: &FleetSettings) -> anyhow::Result<Self> {
        let identity = identity(settings.fleet, index);
        let fn_number = FnNumber::parse(identity.fn_number.as_bytes())
            .map_err(|error| anyhow::anyhow!("ФН number {}: {error}", identity.fn_number))?;
        Ok(RuRegister {
            identity,
            fn_number,
            ffd: settings.ffd,
            signer: settings.signer.clone(),
            rng: StdRng::seed_from_u64(settings.seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            planned: settings.documents,
            produced: 0,
            numbers: Numbers {
                fd: 0,
                time: 0,
                shift: 1,
                receipt_in_shift: 0,
                documents_in_shift: 0,
                receipts_in_shift: 0,
            },
            shift_closed: true,
            in_flight: 0,
            in_flight_made: 0,
        })
    }

    /// What the next document is, given the position in the run and the shift state.
    fn next_kind(&mut self) -> Kind {
        let last = self.produced + 1 == self.planned;
        if self.planned >= 3 && self.shift_closed {
            return Kind::OpenShift;
        }
        if self.planned >= 3 && (last || self.numbers.documents_in_shift as u64 + 1 >= SHIFT_LENGTH)
        {
            return Kind::CloseShift;
        }
        match self.rng.gen_range(0..100) {
            0..=87 => Kind::Sale,
            88..=95 => Kind::Refund,
            _ => Kind::Correction,
        }
    }

    fn a_version(&self) -> AVersion {
        match self.ffd {
            Ffd::V105 => AVersion::V1_05,
            Ffd::V11 => AVersion::V1_1,
            Ffd::V12 => AVersion::V1_2,
        }
    }

    /// Wrap a document STLV into a signed container and a session frame.
    fn frame(&mut self, form: u8, mut document: Vec<u8>) -> anyhow::Result<Vec<u8>> {
        let fn_text = self.identity.fn_number.clone();
        let header = ContainerHeader {
            len: 0,
            crc: 0,
            container_type: CONTAINER_TYPE,
            doc_type: form,
            version: HEADER_VERSION,
            service1: SERVICE_DATA_1,
            fn_number: self.fn_number,
            fd_number: self.numbers.fd,
            service2: self.rng.gen(),
        };
        self.signer.sign_document(&fn_text, &mut document)?;
        // The ФПС covers the container header as it will be sent, so lay the container out once
        // with a blank ФПС, sign its header, then lay it out again with the sign in place.
        let mut trailer = [0u8; signing::FPS_LEN + TRAILER_TAIL.len()];
        trailer[signing::FPS_LEN..].copy_from_slice(&TRAILER_TAIL);
        let draft = Container::encode(&header, &document, &trailer)?;
        let fps = self
            .signer
            .message_sign(&fn_text, &draft[..32], &document, &mut self.rng)?;
        trailer[..signing::FPS_LEN].copy_from_slice(&fps);
        let container = Container::encode(&header, &document, &trailer)?;
        Ok(frame_around(self.a_version(), self.fn_number, &container)?)
    }

    fn produce(&mut self, now_unix: i64) -> anyhow::Result<Outgoing> {
        let kind = self.next_kind();
        self.numbers.fd += 1;
        let local_now = u32::try_from(now_unix + LOCAL_OFFSET_S).unwrap_or(u32::MAX);
        // Never go back in time within one ФН, even when documents are produced within a second.
        self.numbers.time = local_now.max(self.numbers.time);
        match kind {
            Kind::OpenShift => {
                if self.produced > 0 {
                    self.numbers.shift += 1;
                }
                self.numbers.documents_in_shift = 0;
                self.numbers.receipts_in_shift = 0;
                self.numbers.receipt_in_shift = 0;
                self.shift_closed = false;
            }
            Kind::Sale | Kind::Refund | Kind::Correction => {
                self.numbers.receipt_in_shift += 1;
                self.numbers.receipts_in_shift += 1;
            }
            Kind::CloseShift => self.shift_closed = true,
        }
        self.numbers.documents_in_shift += 1;
        let filler = self.signer.fpd_placeholder(&mut self.rng);
        let builder = DocumentBuilder {
            identity: &self.identity,
            ffd: self.ffd,
        };
        let document = builder.build(kind, self.numbers, filler, &mut self.rng)?;
        let frame = self.frame(kind.form(), document)?;
        self.produced += 1;
        self.in_flight = self.numbers.fd;
        self.in_flight_made = now_unix;
        Ok(Outgoing {
            frame: Bytes::from(frame),
            kind: kind.label(),
        })
    }
}

impl RegisterModel for RuRegister {
    fn next_document(&mut self, now_unix: i64) -> Option<Outgoing> {
        if self.produced >= self.planned {
            return None;
        }
        match self.produce(now_unix) {
            Ok(outgoing) => Some(outgoing),
            Err(error) => {
                // Generation cannot fail for the values above; stop this register rather than
                // send something malformed, and say why.
                tracing::error!(fn_number = %self.identity.fn_number, %error, "document generation failed");
                self.produced = self.planned;
                None
            }
        }
    }

    fn check_reply(&mut self, _sent: &Outgoing, reply: &[u8]) -> Verdict {
        match check_ack(reply, &self.fn_number, self.in_flight) {
            Ok(0) => match &self.signer {
                Signer::Filler => Verdict::Acked,
                Signer::Soft(unit) => {
                    match check_ack_sign(reply, unit, &self.identity.fn_number, self.in_flight_made)
                    {
                        Ok(()) => Verdict::Acked,
                        Err(what) => Verdict::Invalid(what.to_owned()),
                    }
                }
            },
            Ok(code) => Verdict::Rejected(format!("1022={code}")),
            Err(what) => Verdict::Invalid(what.to_owned()),
        }
    }
}

/// Decode an operator confirmation and check it answers (`fn_number`, `fd_number`); returns its
/// 1022 response code, or the name of the first check that failed.
pub fn check_ack(reply: &[u8], fn_number: &FnNumber, fd_number: u32) -> Result<u8, &'static str> {
    let frame = Frame::decode(reply).map_err(|_| "undecodable_frame")?;
    let header = frame.container.header;
    if header.doc_type != 7 {
        return Err("not_a_confirmation");
    }
    if frame.session.fn_number != *fn_number || header.fn_number != *fn_number {
        return Err("header_fn_mismatch");
    }
    if header.fd_number != fd_number {
        return Err("header_fd_mismatch");
    }
    let document = Tlv::read_exact(frame.container.document).map_err(|_| "undecodable_tlv")?;
    if document.tag != 7 {
        return Err("not_a_confirmation");
    }
    let find = |tag| document.children().find(tag).map_err(|_| "undecodable_tlv");
    let tag_fn = find(1041)?.ok_or("missing_1041")?;
    if FnNumber::parse(tag_fn.value).ok() != Some(*fn_number) {
        return Err("tag_fn_mismatch");
    }
    let tag_fd = find(1040)?.ok_or("missing_1040")?;
    if decode_u32(tag_fd.value).ok() != Some(fd_number) {
        return Err("tag_fd_mismatch");
    }
    let message = find(1068)?.ok_or("missing_1068")?;
    let code = message
        .children()
        .find(1022)
        .map_err(|_| "undecodable_tlv")?
        .ok_or("missing_1022")?;
    decode_byte(code.value).map_err(|_| "bad_1022")
}

/// For a confirmation that already passed [`check_ack`]: its ФПО verifies with the soft `unit`
/// under ФН `fn_text`, and its time (tag 1012) is not older than `made_unix` (the document's
/// making time) by more than [`ACK_CLOCK_SKEW_S`]. Returns the name of the first check failed.
pub fn check_ack_sign(
    reply: &[u8],
    unit: &crate::crypto::soft::SoftUnit,
    fn_text: &str,
    made_unix: i64,
) -> Result<(), &'static str> {
    let frame = Frame::decode(reply).map_err(|_| "undecodable_frame")?;
    let document = Tlv::read_exact(frame.container.document).map_err(|_| "undecodable_tlv")?;
    // The ФПО covers the confirmation as built without tag 1078: rebuild exactly that.
    let mut unsigned = ofd_protocol::ru::tlv::Writer::new();
    unsigned
        .begin(document.tag)
        .map_err(|_| "undecodable_tlv")?;
    let mut fpo = None;
    let mut time = None;
    for child in document.children() {
        let child = child.map_err(|_| "undecodable_tlv")?;
        match child.tag {
            1078 => fpo = Some(child.value),
            tag => {
                if tag == 1012 {
                    time = decode_u32(child.value).ok();
                }
                unsigned
                    .tlv(tag, child.value)
                    .map_err(|_| "undecodable_tlv")?;
            }
        }
    }
    unsigned.end().map_err(|_| "undecodable_tlv")?;
    let unsigned = unsigned.finish().map_err(|_| "undecodable_tlv")?;
    let fpo = fpo.ok_or("missing_1078")?;
    let expected = unit.operator_sign(fn_text, frame.container.header.fd_number, &unsigned);
    // The server's unit truncates to its configured ФПО length; the emulator's makes all 32.
    if fpo.len() < 8 || !expected.starts_with(fpo) {
        return Err("ack_fpo_mismatch");
    }
    let time = time.ok_or("missing_1012")?;
    if i64::from(time) + ACK_CLOCK_SKEW_S < made_unix {
        return Err("ack_older_than_document");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use ofd_protocol::ru::ack::{Ack, ResponseCode};
    use ofd_protocol::ru::check::cross_check;
    use ofd_protocol::ru::tlv::Reader;
    use ofd_protocol::ru::value::decode_vln;

    use std::sync::Arc;

    use super::*;
    use crate::crypto::soft::SoftUnit;

    const NOW: i64 = 1_795_000_000;

    fn register(ffd: Ffd, documents: u64) -> RuRegister {
        let settings = FleetSettings {
            ffd,
            signer: Signer::Filler,
            documents,
            fleet: 42,
            seed: 7,
        };
        RuRegister::new(3, &settings).unwrap()
    }

    fn money_tag(reader: Reader<'_>, tag: u16) -> u64 {
        reader
            .find(tag)
            .unwrap()
            .map(|tlv| decode_vln(tlv.value).unwrap())
            .unwrap_or(0)
    }

    /// Every tag (recursively) of a document, to check the 1.05 tag set.
    fn all_tags(reader: Reader<'_>, out: &mut Vec<u16>) {
        for tlv in reader {
            let tlv = tlv.unwrap();
            out.push(tlv.tag);
            if matches!(tlv.tag, 1059 | 1174) {
                all_tags(tlv.children(), out);
            }
        }
    }

    #[test]
    fn documents_decode_cross_check_and_add_up() {
        for ffd in [Ffd::V105, Ffd::V11, Ffd::V12] {
            let mut register = register(ffd, 300);
            let mut kinds = std::collections::BTreeMap::new();
            let mut fd = 0;
            while let Some(outgoing) = register.next_document(NOW) {
                fd += 1;
                *kinds.entry(outgoing.kind).or_insert(0) += 1;
                let frame = Frame::decode(&outgoing.frame).unwrap();
                cross_check(&frame).unwrap();
                let violations = ofd_protocol::ru::flk::check(
                    frame.container.document,
                    NOW,
                    &ofd_protocol::ru::flk::FlkLimits::default(),
                );
                assert!(
                    violations.is_empty(),
                    "{ffd:?} {:?}: {violations:?}",
                    outgoing.kind
                );
                assert_eq!(frame.container.header.fd_number, fd);
                assert_eq!(frame.session.fn_number.digits(), "9999000042000003");
                let document = Tlv::read_exact(frame.container.document).unwrap();
                let version = document.children().find(1209).unwrap().unwrap();
                assert_eq!(
                    version.value,
                    [match ffd {
                        Ffd::V105 => 2,
                        Ffd::V11 => 3,
                        Ffd::V12 => 4,
                    }]
                );
                if document.tag == 3 || document.tag == 31 {
                    let items: u64 = document
                        .children()
                        .filter_map(Result::ok)
                        .filter(|tlv| tlv.tag == 1059)
                        .map(|item| money_tag(item.children(), 1043))
                        .sum();
                    let total = money_tag(document.children(), 1020);
                    let paid =
                        money_tag(document.children(), 1031) + money_tag(document.children(), 1081);
                    assert_eq!(paid, total, "payments add up to the total");
                    if document.tag == 3 || ffd != Ffd::V105 {
                        assert_eq!(items, total, "items add up to the total");
                    }
                }
                if ffd == Ffd::V105 {
                    let mut tags = Vec::new();
                    all_tags(document.children(), &mut tags);
                    assert!(!tags.contains(&2108), "1.05 documents use only 1.05 tags");
                }
            }
            assert_eq!(fd, 300);
            assert_eq!(kinds["open_shift"], 2, "{kinds:?}");
            assert_eq!(kinds["close_shift"], 2, "{kinds:?}");
            assert!(
                kinds["receipt"] > 200 && kinds["refund"] > 5 && kinds["correction"] > 1,
                "{kinds:?}"
            );
        }
    }

    #[test]
    fn soft_signed_documents_verify_with_the_soft_unit() {
        use crate::crypto::{InboundDocument, Verdict as SignVerdict};
        let unit = Arc::new(SoftUnit::new(vec![0x5A; 32], 16).unwrap());
        let settings = FleetSettings {
            ffd: Ffd::V105,
            signer: Signer::Soft(Arc::clone(&unit)),
            documents: 20,
            fleet: 1,
            seed: 3,
        };
        let mut register = RuRegister::new(0, &settings).unwrap();
        let mut checked = 0;
        while let Some(outgoing) = register.next_document(NOW) {
            let frame = Frame::decode(&outgoing.frame).unwrap();
            let document = Tlv::read_exact(frame.container.document).unwrap();
            let fpd = document
                .children()
                .find(1077)
                .unwrap()
                .unwrap()
                .value
                .try_into()
                .ok();
            let body = &outgoing.frame[SESSION_HEADER_LEN..];
            let mut inbound = InboundDocument {
                fn_number: frame.session.fn_number.as_str(),
                fd_number: frame.container.header.fd_number,
                container: body,
                document: frame.container.document,
                fpd,
                fps: frame.container.trailer,
            };
            assert_eq!(unit.verify(&inbound), SignVerdict::Verified);
            let mut tampered = body.to_vec();
            tampered[40] ^= 1;
            inbound.container = &tampered;
            inbound.document = &tampered[32..32 + frame.container.document.len()];
            assert_ne!(unit.verify(&inbound), SignVerdict::Verified);
            checked += 1;
        }
        assert_eq!(checked, 20);
    }

    #[test]
    fn accepts_only_a_matching_code_0_confirmation() {
        let mut register = register(Ffd::V12, 3);
        let outgoing = register.next_document(NOW).unwrap();
        let request = Frame::decode(&outgoing.frame).unwrap();
        let ack = |code, fd_delta: u32| {
            let mut header = request.container.header;
            header.fd_number += fd_delta;
            Ack::for_request(
                &header,
                request.session.a_version,
                "7704358518",
                1_700_000_000,
                code,
            )
            .frame()
            .unwrap()
        };
        assert_eq!(
            register.check_reply(&outgoing, &ack(ResponseCode::Accepted, 0)),
            Verdict::Acked
        );
        assert_eq!(
            register.check_reply(&outgoing, &ack(ResponseCode::FlcFailed, 0)),
            Verdict::Rejected("1022=14".into())
        );
        assert_eq!(
            register.check_reply(&outgoing, &ack(ResponseCode::Accepted, 1)),
            Verdict::Invalid("header_fd_mismatch".into())
        );
        assert_eq!(
            register.check_reply(&outgoing, &outgoing.frame),
            Verdict::Invalid("not_a_confirmation".into())
        );
        assert_eq!(
            register.check_reply(&outgoing, &[0x2A]),
            Verdict::Invalid("undecodable_frame".into())
        );
    }
}
