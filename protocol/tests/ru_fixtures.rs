//! Every RU fixture (yandex/ofd test suite, see fixtures/README.md) decodes to the values its
//! README lists, CRCs match, and encoding reproduces the bytes.

use ofd_protocol::ru::check::cross_check;
use ofd_protocol::ru::container::container_crc;
use ofd_protocol::ru::document::{Document, Value};
use ofd_protocol::ru::json::{to_json, to_tlv};
use ofd_protocol::ru::session::{AVersion, CrcMode, Flags, SVersion};
use ofd_protocol::ru::tlv::{Tlv, Writer};
use ofd_protocol::ru::value::{self, Fvln};
use ofd_protocol::ru::{Container, ContainerHeader, FfdVersion, Frame, SessionHeader};
use serde_json::json;

macro_rules! fixture {
    ($name:literal) => {
        hex::decode(include_str!(concat!("../../fixtures/ru/", $name)).trim()).unwrap()
    };
}

fn text(v: Option<&Value<'_>>) -> String {
    v.and_then(|v| v.text())
        .expect("a string value")
        .into_owned()
}

#[test]
fn fiscal_report_correction_frame() {
    let bytes = fixture!("fiscal_report_correction_1_05.frame.hex");
    assert_eq!(bytes.len(), 466);
    let frame = Frame::decode(&bytes).unwrap();
    let s = &frame.session;
    assert_eq!(s.s_version, SVersion::NORMAL);
    assert_eq!(s.a_version, AVersion([0x00, 0x01]));
    assert_eq!(s.fn_number.as_str(), "9999078900005488");
    assert_eq!((s.body_len, s.flags, s.crc), (436, Flags(0x0014), 0));
    assert_eq!(s.flags.crc_mode(), Some(CrcMode::None));

    let h = &frame.container.header;
    assert_eq!(
        (h.len, h.crc, h.container_type, h.doc_type, h.version),
        (436, 0x7825, 0xA5, 11, 1)
    );
    assert_eq!(h.service1, [0x10, 0x09]);
    assert_eq!(
        h.fn_number.to_bcd(),
        [0x99, 0x99, 0x07, 0x89, 0x00, 0x00, 0x54, 0x88]
    );
    assert_eq!(h.fd_number, 1);
    assert_eq!(
        h.service2.to_vec(),
        hex::decode("84ec4c14c20000010004018a").unwrap()
    );
    assert_eq!(container_crc(&bytes[30..]), 0x7825);
    assert_eq!(
        frame.container.trailer,
        hex::decode("8106a55ae10c4d750000").unwrap()
    );
    cross_check(&frame).unwrap();
    assert_eq!(frame.to_bytes().unwrap(), bytes);

    let doc = Document::decode(frame.container.document).unwrap();
    assert_eq!(doc.form, 11);
    assert_eq!(doc.raw.len(), 4 + 390);
    let tags: Vec<u16> = doc.items.iter().map(|i| i.tag).collect();
    assert_eq!(
        tags,
        [
            1041, 1037, 1018, 1040, 1012, 1077, 1056, 1002, 1001, 1109, 1110, 1108, 1062, 1101,
            1013, 1048, 1009, 1017, 1060, 1117, 1021, 1046, 1189, 1209, 1188, 1187, 1203, 1221,
            1207
        ]
    );
    let g = |tag| doc.get(tag);
    assert_eq!(text(g(1041)), "9999078900005488");
    assert_eq!(text(g(1037)), "0000000005008570    ");
    assert_eq!(text(g(1018)), "7702203276  ");
    assert_eq!(g(1040), Some(&Value::U32(1)));
    assert_eq!(g(1012), Some(&Value::UnixTime(1488541080)));
    assert_eq!(
        g(1077),
        Some(&Value::Bytes(&hex::decode("2104aa107541").unwrap()))
    );
    assert_eq!(doc.fiscal_sign(), Some(2853205313));
    for (tag, v) in [
        (1056, 0),
        (1002, 0),
        (1001, 0),
        (1109, 1),
        (1110, 0),
        (1108, 0),
        (1062, 6),
    ] {
        assert_eq!(g(tag), Some(&Value::Byte(v)), "tag {tag}");
    }
    assert_eq!(g(1101), Some(&Value::Byte(1)));
    assert_eq!(text(g(1013)), "000000000002");
    assert_eq!(text(g(1048)), "ООО РАПКАТ-центр ");
    assert_eq!(
        text(g(1009)),
        "111141 г.Москва, ул. Кусковская д.20А офис В-202"
    );
    assert_eq!(text(g(1017)), "7704358518  ");
    assert_eq!(text(g(1060)), "nalog.ru");
    assert_eq!(text(g(1117)), "example@example.com");
    assert_eq!(text(g(1021)), "Шеннон К. ");
    assert_eq!(text(g(1046)), "OOO TAXCOM");
    assert_eq!(g(1189), Some(&Value::Byte(2)));
    assert_eq!(g(1209), Some(&Value::Byte(2)));
    assert_eq!(doc.ffd_version(), Some(FfdVersion::V1_05));
    assert_eq!(text(g(1188)), "2.0");
    assert_eq!(
        text(g(1187)),
        "111141 г.Москва, ул. Кусковская\r\nд.20А офис В-202"
    );
    assert_eq!(text(g(1203)), "771234567890");
    assert_eq!(g(1221), Some(&Value::Byte(0)));
    assert_eq!(g(1207), Some(&Value::Byte(1)));

    let json = to_json(&doc, frame.container.trailer);
    assert_eq!(
        ofd_protocol::ru::json_text::to_json_string(&doc, frame.container.trailer),
        json.to_string(),
        "the direct text writer prints what the tree prints"
    );
    let root = &json["fiscalReportCorrection"];
    assert_eq!(root["code"], json!(11));
    assert_eq!(root["fiscalDriveNumber"], json!("9999078900005488"));
    assert_eq!(root["kktRegId"], json!("0000000005008570"));
    assert_eq!(root["userInn"], json!("7702203276"));
    assert_eq!(root["fiscalDocumentNumber"], json!(1));
    assert_eq!(root["dateTime"], json!(1488541080));
    assert_eq!(root["fiscalSign"], json!(2853205313u32));
    assert_eq!(root["messageFiscalSign"], json!(0x8106_a55a_e10c_4d75u64));
    assert_eq!(root["taxationType"], json!(6));
    assert_eq!(root["correctionReasonCode"], json!([1]));
    assert_eq!(root["fiscalDocumentFormatVer"], json!(2));
    let raw = base64_decode(root["rawData"].as_str().unwrap());
    assert_eq!(raw.len(), 394 + 8);
    assert_eq!(&raw[..394], doc.raw);

    // JSON → TLV → JSON gives the same JSON (rawData aside: it carries the original order).
    let back = to_tlv(&json).unwrap();
    assert_eq!(
        back.message_fiscal_sign,
        Some(hex::decode("8106a55ae10c4d75").unwrap().try_into().unwrap())
    );
    let doc2 = Document::decode(&back.document).unwrap();
    let mut json2 = to_json(&doc2, &back.message_fiscal_sign.unwrap());
    let mut json1 = json.clone();
    json1["fiscalReportCorrection"]
        .as_object_mut()
        .unwrap()
        .remove("rawData");
    json2["fiscalReportCorrection"]
        .as_object_mut()
        .unwrap()
        .remove("rawData");
    assert_eq!(json1, json2);
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

#[test]
fn crc_example_container() {
    let bytes = fixture!("crc_example.container.hex");
    let header_only = fixture!("crc_example.container_header.hex");
    let body = fixture!("crc_example.body.hex");
    assert_eq!(bytes.len(), 305);
    assert_eq!([header_only.as_slice(), body.as_slice()].concat(), bytes);

    let c = Container::decode(&bytes).unwrap();
    assert_eq!(ContainerHeader::decode(&header_only).unwrap(), c.header);
    assert_eq!(
        (c.header.len, c.header.crc, c.header.doc_type),
        (305, 0xEC03, 1)
    );
    assert_eq!(c.header.fn_number.as_str(), "999907891234567 ");
    assert_eq!(c.header.fn_number.to_bcd()[7], 0x7F);
    assert_eq!(c.header.fd_number, 1);
    assert_eq!(
        c.header.service2.to_vec(),
        hex::decode("00230982c400000100020107").unwrap()
    );
    // The CRC field is excluded: zeroing it changes nothing.
    let mut zeroed = bytes.clone();
    zeroed[2..4].fill(0);
    assert_eq!(container_crc(&zeroed), 0xEC03);
    assert_eq!(c.to_bytes().unwrap(), bytes);
    assert_eq!(c.trailer, hex::decode("810673fca34b28720000").unwrap());

    let doc = Document::decode(c.document).unwrap();
    assert_eq!(doc.raw.len(), 4 + 259);
    let tags: Vec<u16> = doc.items.iter().map(|i| i.tag).collect();
    assert_eq!(
        tags,
        [
            1041, 1037, 1018, 1040, 1012, 1077, 1001, 1002, 1056, 1062, 1048, 1057, 1058, 1009,
            1046, 1061, 1060, 1049, 1021, 1013
        ]
    );
    let g = |tag| doc.get(tag);
    assert_eq!(text(g(1041)), "999907891234567 ");
    assert_eq!(text(g(1037)), "120000130000        ");
    assert_eq!(text(g(1018)), "112233445566");
    assert_eq!(g(1040), Some(&Value::U32(1)));
    assert_eq!(g(1012), Some(&Value::UnixTime(1460556840)));
    assert_eq!(doc.fiscal_sign(), Some(476807588));
    for (tag, v) in [
        (1001, 0),
        (1002, 0),
        (1056, 0),
        (1062, 1),
        (1057, 0),
        (1058, 0),
    ] {
        assert_eq!(g(tag), Some(&Value::Byte(v)), "tag {tag}");
    }
    assert_eq!(text(g(1048)), "ООО \"МММ\"");
    assert_eq!(text(g(1009)), "Москва, Зеленый проспект, д.66 корп. 2");
    assert_eq!(text(g(1046)), "ОФД-тест");
    assert_eq!(text(g(1061)), "www.ofd.ru");
    assert_eq!(text(g(1060)), "www.nalog.ru");
    assert_eq!(text(g(1049)), "111234");
    assert_eq!(text(g(1021)), "СИС. АДМИНИСТРАТОР");
    assert_eq!(text(g(1013)), "0620000001");
}

#[test]
fn session_header_example() {
    let bytes = fixture!("session_header_example.hex");
    let h = SessionHeader::decode(&bytes).unwrap();
    assert_eq!(h.a_version, AVersion::V1_0);
    assert_eq!(h.fn_number.as_str(), "9999078950      ");
    assert_eq!((h.body_len, h.flags, h.crc), (305, Flags(0b10100), 0));
    assert_eq!(h.encode().to_vec(), bytes);
}

#[test]
fn tlv_packing_vectors() {
    let mut w = Writer::new();
    w.begin(11)
        .unwrap()
        .u32(1205, 12)
        .unwrap()
        .u32(1205, 9)
        .unwrap();
    assert_eq!(
        w.finish().unwrap(),
        fixture!("tlv_doc11_1205_repeated.tlv.hex")
    );

    let bytes = fixture!("tlv_1022_byte_42.tlv.hex");
    let t = Tlv::read_exact(&bytes).unwrap();
    assert_eq!((t.tag, value::decode_byte(t.value)), (1022, Ok(42)));

    let bytes = fixture!("tlv_1047_one_item.tlv.hex");
    let t = Tlv::read_exact(&bytes).unwrap();
    let inner = t.children().find(1015).unwrap().unwrap();
    assert_eq!((t.tag, value::decode_u32(inner.value)), (1047, Ok(42)));

    let bytes = fixture!("tlv_1047_two_items.tlv.hex");
    let values: Vec<u32> = ofd_protocol::ru::tlv::Reader::new(&bytes)
        .map(|t| {
            let t = t.unwrap();
            assert_eq!(t.tag, 1047);
            value::decode_u32(t.children().find(1015).unwrap().unwrap().value).unwrap()
        })
        .collect();
    assert_eq!(values, [42, 315]);

    let bytes = fixture!("tlv_doc7_1068_1047_1015.tlv.hex");
    let mut w = Writer::new();
    w.begin(7)
        .unwrap()
        .begin(1068)
        .unwrap()
        .begin(1047)
        .unwrap()
        .u32(1015, 42)
        .unwrap();
    assert_eq!(w.finish().unwrap(), bytes);
}

#[test]
fn scalar_vectors() {
    assert_eq!(value::decode_u32(&fixture!("value_u32_1.hex")), Ok(1));
    assert_eq!(
        value::decode_vln(&fixture!("value_vln_404969.hex")),
        Ok(404969)
    );
    let bytes = fixture!("value_vln_87892227523633.hex");
    assert_eq!(value::decode_vln(&bytes), Ok(87892227523633));
    let mut out = Vec::new();
    value::encode_vln(87892227523633, 6, &mut out).unwrap();
    assert_eq!(out, bytes);
    assert!(value::encode_vln(87892227523633222, 6, &mut Vec::new()).is_err());
    let f = value::decode_fvln(&fixture!("value_fvln_1234567_89.hex")).unwrap();
    assert_eq!(
        f,
        Fvln {
            point: 2,
            mantissa: 123456789
        }
    );
    let f = value::decode_fvln(&fixture!("value_fvln_1453_67.hex")).unwrap();
    assert_eq!(
        (f.point, f.mantissa, f.to_string()),
        (2, 145367, "1453.67".to_owned())
    );
    assert_eq!(
        value::decode_string(&fixture!("value_string_test.hex")),
        "Тест"
    );
    assert_eq!(
        value::decode_u32(&fixture!("value_unixtime_1436418698.hex")),
        Ok(1436418698)
    );
    assert_eq!(value::decode_byte(&fixture!("value_byte_3.hex")), Ok(3));
    assert!(
        u8::try_from(256u16).is_err(),
        "256 cannot be packed as a Byte"
    );
}

#[test]
fn expected_reply_to_the_real_dump() {
    use ofd_protocol::ru::ack::{Ack, ResponseCode};
    let bytes = fixture!("fiscal_report_correction_1_05.frame.hex");
    let request = Frame::decode(&bytes).unwrap();
    let ack = Ack::for_request(
        &request.container.header,
        request.session.a_version,
        "7704358518",
        1488541080,
        ResponseCode::Accepted,
    );
    let reply = ack.frame().unwrap();
    let frame = Frame::decode(&reply).unwrap();
    cross_check(&frame).unwrap();
    assert_eq!(frame.session.a_version, request.session.a_version);
    assert_eq!(
        frame.container.header.service1,
        request.container.header.service1
    );
    let doc = Document::decode(frame.container.document).unwrap();
    let json = to_json(&doc, frame.container.trailer);
    let ack = &json["operatorAck"];
    assert_eq!(ack["fiscalDriveNumber"], json!("9999078900005488"));
    assert_eq!(ack["fiscalDocumentNumber"], json!(1));
    assert_eq!(ack["ofdInn"], json!("7704358518"));
    assert_eq!(text(doc.get(1017)), "7704358518  ");
    assert_eq!(ack["messageToFn"], json!({"ofdResponseCode": 0}));
}

/// What the OFD keeps of a RU document is its container; the JSON printed from it later is
/// the text the ingest path's decode (with ФЛК) prints, for every whole frame among the
/// fixtures; a damaged container is refused, not printed.
#[test]
fn document_json_of_a_stored_container_is_what_ingest_decoded() {
    use ofd_protocol::ru::flk::{decode_and_check, FlkLimits};
    use ofd_protocol::ru::json_text::{document_json, to_json_string, DocumentJsonError};
    for bytes in [
        fixture!("fiscal_report_correction_1_05.frame.hex"),
        fixture!("receipt_money_padded_8_1_05.frame.hex"),
    ] {
        let frame = Frame::decode(&bytes).unwrap();
        let container = &bytes[ofd_protocol::ru::SESSION_HEADER_LEN..];
        let (document, _) =
            decode_and_check(frame.container.document, 0, &FlkLimits::default()).unwrap();
        let rendered = document_json(container).unwrap();
        assert_eq!(rendered, to_json_string(&document, frame.container.trailer));
        assert!(rendered.contains("rawData"), "{rendered}");

        let mut damaged = container.to_vec();
        let last = damaged.len() - 1;
        damaged[last] ^= 0xFF;
        assert!(matches!(
            document_json(&damaged),
            Err(DocumentJsonError::Container(_))
        ));
    }
}
