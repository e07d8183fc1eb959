//! Property tests: every RU data type and whole documents survive encode → decode, and
//! documents survive TLV → JSON → TLV → JSON.

use ofd_protocol::ru::container::{Container, ContainerHeader, CONTAINER_TYPE};
use ofd_protocol::ru::document::{Document, Value};
use ofd_protocol::ru::json::{to_json, to_tlv};
use ofd_protocol::ru::json_text::to_json_string;
use ofd_protocol::ru::session::{AVersion, Flags, SVersion};
use ofd_protocol::ru::tags::{TagSpec, TAGS};
use ofd_protocol::ru::tlv::{Reader, Tlv, Writer};
use ofd_protocol::ru::value::{self, DataType, Fvln, MAX_FVLN_POINT};
use ofd_protocol::ru::{FnNumber, Frame, SessionHeader};
use proptest::prelude::*;

proptest! {
    #[test]
    fn byte_u16_u32(b: u8, s: u16, l: u32) {
        prop_assert_eq!(value::decode_byte(&[b]), Ok(b));
        prop_assert_eq!(value::decode_u16(&s.to_le_bytes()), Ok(s));
        prop_assert_eq!(value::decode_u32(&l.to_le_bytes()), Ok(l));
        // Short U32 forms read as the same number.
        let min = (32 - l.leading_zeros() as usize).div_ceil(8);
        prop_assert_eq!(value::decode_u32(&l.to_le_bytes()[..min]), Ok(l));
    }

    #[test]
    fn vln(v: u64) {
        let mut out = Vec::new();
        value::encode_vln(v, 8, &mut out).unwrap();
        prop_assert_eq!(value::decode_vln(&out), Ok(v));
        // Zero padding is accepted on input.
        let mut padded = out.clone();
        padded.resize(8, 0);
        prop_assert_eq!(value::decode_vln(&padded), Ok(v));
    }

    #[test]
    fn fvln(point in 0..=MAX_FVLN_POINT, mantissa in 0u64..(1 << 56)) {
        let f = Fvln { point, mantissa };
        let mut out = Vec::new();
        value::encode_fvln(f, &mut out).unwrap();
        prop_assert_eq!(value::decode_fvln(&out), Ok(f));
        // The JSON path: the float finds an FVLN with the same float value.
        let back = Fvln::from_f64(f.to_f64(), MAX_FVLN_POINT).unwrap();
        prop_assert_eq!(back.to_f64(), f.to_f64());
    }

    #[test]
    fn cp866_string(bytes: Vec<u8>) {
        // Every byte has a CP866 character and back.
        let text = value::decode_string(&bytes);
        let mut out = Vec::new();
        value::encode_string(&text, &mut out).unwrap();
        prop_assert_eq!(out, bytes);
    }

    #[test]
    fn tlv_tree(tree in tlv_tree_strategy()) {
        let mut w = Writer::new();
        write_tree(&mut w, &tree);
        let bytes = w.finish().unwrap();
        prop_assert_eq!(read_tree(&bytes, &tree), tree);
    }

    #[test]
    fn session_header(
        a in prop::sample::select(vec![AVersion::V1_0, AVersion::V1_05, AVersion::V1_1, AVersion::V1_2]),
        fn_digits in "[0-9]{1,16}",
        body_len in 0u16..=32768,
        crc_mode in 0u16..3,
        crc: u16,
    ) {
        let header = SessionHeader {
            s_version: SVersion::NORMAL,
            a_version: a,
            fn_number: FnNumber::parse(fn_digits.as_bytes()).unwrap(),
            body_len,
            flags: Flags(0x0014 | crc_mode),
            crc,
        };
        prop_assert_eq!(SessionHeader::decode(&header.encode()), Ok(header));
    }

    #[test]
    fn container(
        fn_digits in "[0-9]{1,16}",
        fd in 0u32..(1 << 24),
        doc_type: u8,
        s1: [u8; 2],
        s2: [u8; 12],
        value in prop::collection::vec(any::<u8>(), 0..300),
        trailer in prop::collection::vec(any::<u8>(), 0..20),
    ) {
        let header = ContainerHeader {
            len: 0,
            crc: 0,
            container_type: CONTAINER_TYPE,
            doc_type,
            version: 1,
            service1: s1,
            fn_number: FnNumber::parse(fn_digits.as_bytes()).unwrap(),
            fd_number: fd,
            service2: s2,
        };
        let mut w = Writer::new();
        w.tlv(doc_type.into(), &value).unwrap();
        let document = w.finish().unwrap();
        let bytes = Container::encode(&header, &document, &trailer).unwrap();
        let c = Container::decode(&bytes).unwrap();
        prop_assert_eq!(c.header.fn_number, header.fn_number);
        prop_assert_eq!(c.header.fd_number, fd);
        prop_assert_eq!((c.header.service1, c.header.service2), (s1, s2));
        prop_assert_eq!(c.document, document.as_slice());
        prop_assert_eq!(c.trailer, trailer.as_slice());
        prop_assert_eq!(c.to_bytes().unwrap(), bytes.clone());
        // And inside a session frame.
        let session = SessionHeader {
            s_version: SVersion::NORMAL,
            a_version: AVersion::V1_05,
            fn_number: header.fn_number,
            body_len: bytes.len() as u16,
            flags: Flags::CONTAINER_EXPECTS_REPLY,
            crc: 0,
        };
        let frame = [session.encode().as_slice(), &bytes].concat();
        prop_assert_eq!(Frame::decode(&frame).unwrap().to_bytes().unwrap(), frame);
    }

    #[test]
    fn whole_documents(doc in document_strategy()) {
        let (form, items) = doc;
        let mut w = Writer::new();
        w.begin(form).unwrap();
        for item in &items {
            item.write(&mut w);
        }
        let bytes = w.finish().unwrap();
        let decoded = Document::decode(&bytes).unwrap();
        let tags: Vec<u16> = decoded.items.iter().map(|i| i.tag).collect();
        let expected: Vec<u16> = items.iter().map(|i| i.tag()).collect();
        prop_assert_eq!(tags, expected);
        for (item, got) in items.iter().zip(&decoded.items) {
            item.check(&got.value)?;
        }
        let trailer = [0x81, 0x06, 1, 2, 3, 4, 5, 6, 0, 0];
        // The direct text writer the ingest path uses prints exactly what the tree prints.
        for t in [&trailer[..], &[]] {
            prop_assert_eq!(to_json_string(&decoded, t), to_json(&decoded, t).to_string());
        }
        let mut json = to_json(&decoded, &trailer);
        let encoded = to_tlv(&json).unwrap();
        prop_assert_eq!(encoded.message_fiscal_sign, Some(trailer[..8].try_into().unwrap()));
        let again = Document::decode(&encoded.document).unwrap();
        let mut json2 = to_json(&again, &trailer);
        for j in [&mut json, &mut json2] {
            j.as_object_mut().unwrap().values_mut().next().unwrap()
                .as_object_mut().unwrap().remove("rawData");
        }
        prop_assert_eq!(json, json2);
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Leaf(u16, Vec<u8>),
    Branch(u16, Vec<Node>),
}

fn tlv_tree_strategy() -> impl Strategy<Value = Vec<Node>> {
    let leaf = (any::<u16>(), prop::collection::vec(any::<u8>(), 0..16))
        .prop_map(|(t, v)| Node::Leaf(t, v));
    let node = leaf.prop_recursive(4, 64, 6, |inner| {
        (any::<u16>(), prop::collection::vec(inner, 0..6)).prop_map(|(t, c)| Node::Branch(t, c))
    });
    prop::collection::vec(node, 0..6)
}

fn write_tree(w: &mut Writer, nodes: &[Node]) {
    for node in nodes {
        match node {
            Node::Leaf(tag, value) => {
                w.tlv(*tag, value).unwrap();
            }
            Node::Branch(tag, children) => {
                w.begin(*tag).unwrap();
                write_tree(w, children);
                w.end().unwrap();
            }
        }
    }
}

/// Read `bytes` back into the shape of `like`: a generated branch is read as nested TLVs, a
/// generated leaf as opaque bytes. Every level must hold exactly as many TLVs as generated.
fn read_tree(bytes: &[u8], like: &[Node]) -> Vec<Node> {
    let level: Vec<Tlv<'_>> = Reader::new(bytes).map(|t| t.unwrap()).collect();
    assert_eq!(level.len(), like.len());
    level
        .iter()
        .zip(like)
        .map(|(t, shape)| match shape {
            Node::Leaf(..) => Node::Leaf(t.tag, t.value.to_vec()),
            Node::Branch(_, children) => Node::Branch(t.tag, read_tree(t.value, children)),
        })
        .collect()
}

#[derive(Debug, Clone)]
enum GenItem {
    Scalar(&'static TagSpec, Vec<u8>),
    Items(Vec<GenItem>),
}

impl GenItem {
    fn tag(&self) -> u16 {
        match self {
            GenItem::Scalar(spec, _) => spec.tag,
            GenItem::Items(_) => 1059,
        }
    }

    fn write(&self, w: &mut Writer) {
        match self {
            GenItem::Scalar(spec, bytes) => {
                w.tlv(spec.tag, bytes).unwrap();
            }
            GenItem::Items(children) => {
                w.begin(1059).unwrap();
                for c in children {
                    c.write(w);
                }
                w.end().unwrap();
            }
        }
    }

    fn check(&self, got: &Value<'_>) -> Result<(), TestCaseError> {
        match (self, got) {
            (GenItem::Scalar(spec, bytes), got) => {
                let ok = match (spec.ty, got) {
                    (
                        DataType::Byte
                        | DataType::U16
                        | DataType::U32
                        | DataType::UnixTime
                        | DataType::Vln,
                        v,
                    ) => {
                        let mut padded = bytes.clone();
                        padded.resize(8, 0);
                        v.as_u64() == Some(u64::from_le_bytes(padded.try_into().unwrap()))
                    }
                    (DataType::String, Value::String(b))
                    | (DataType::ByteArray, Value::Bytes(b)) => b == bytes,
                    (DataType::Fvln, Value::Fvln(f)) => value::decode_fvln(bytes) == Ok(*f),
                    _ => false,
                };
                prop_assert!(ok, "tag {}: {:?} vs {:?}", spec.tag, bytes, got);
            }
            (GenItem::Items(children), Value::Stlv(items)) => {
                prop_assert_eq!(children.len(), items.len());
                for (c, i) in children.iter().zip(items) {
                    prop_assert_eq!(c.tag(), i.tag);
                    c.check(&i.value)?;
                }
            }
            _ => prop_assert!(false, "shape mismatch"),
        }
        Ok(())
    }
}

/// A canonical value for `spec`, in wire bytes.
fn scalar_strategy(spec: &'static TagSpec) -> BoxedStrategy<GenItem> {
    let max = usize::from(spec.max_len);
    let bytes: BoxedStrategy<Vec<u8>> = match spec.ty {
        DataType::Byte => any::<u8>().prop_map(|b| vec![b]).boxed(),
        DataType::U16 => any::<u16>().prop_map(|v| v.to_le_bytes().to_vec()).boxed(),
        DataType::U32 | DataType::UnixTime => {
            any::<u32>().prop_map(|v| v.to_le_bytes().to_vec()).boxed()
        }
        DataType::Vln => any::<u64>()
            .prop_map(move |v| {
                let v = if max >= 8 { v } else { v % (1u64 << (8 * max)) };
                let mut out = Vec::new();
                value::encode_vln(v, max, &mut out).unwrap();
                out
            })
            .boxed(),
        DataType::Fvln => (0u8..=6, 0u64..(1 << 32))
            .prop_map(|(point, mantissa)| {
                let mut out = Vec::new();
                value::encode_fvln(Fvln { point, mantissa }, &mut out).unwrap();
                out
            })
            .boxed(),
        DataType::String if spec.pad_to > 0 => "[0-9]{1,10}"
            .prop_map(move |s| {
                format!("{s:<width$}", width = usize::from(spec.pad_to)).into_bytes()
            })
            .boxed(),
        DataType::String => prop::collection::vec(any::<u8>(), 0..max.min(24)).boxed(),
        DataType::ByteArray if spec.fixed => prop::collection::vec(any::<u8>(), max..=max)
            .prop_map(|mut v| {
                v[..2].fill(0); // the printed fiscal sign keeps bytes 2..6 only
                v
            })
            .boxed(),
        DataType::ByteArray => prop::collection::vec(any::<u8>(), 0..max.min(24)).boxed(),
        DataType::Stlv => unreachable!("scalars only"),
    };
    bytes.prop_map(move |b| GenItem::Scalar(spec, b)).boxed()
}

fn scalar_specs() -> Vec<&'static TagSpec> {
    TAGS.iter().filter(|s| s.ty != DataType::Stlv).collect()
}

fn any_scalar() -> impl Strategy<Value = GenItem> {
    prop::sample::select(scalar_specs()).prop_flat_map(scalar_strategy)
}

fn document_strategy() -> impl Strategy<Value = (u16, Vec<GenItem>)> {
    let item = prop::collection::vec(any_scalar(), 0..8).prop_map(GenItem::Items);
    let entry = prop_oneof![4 => any_scalar(), 1 => item];
    (
        prop::sample::select(vec![1u16, 2, 3, 4, 5, 6, 11, 21, 31, 41]),
        prop::collection::vec(entry, 0..30),
    )
}
