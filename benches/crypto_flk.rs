//! Per-document costs of the two content checks on the ingest path: the soft crypto unit
//! (verify ФПД + ФПС, and the ФПО for the ack) and the ФЛК rules, on the real ФФД 1.05 dump and
//! on a ten-item receipt.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ofd::crypto::soft::SoftUnit;
use ofd::crypto::InboundDocument;
use ofd_protocol::ru::flk::{self, FlkLimits};
use ofd_protocol::ru::tlv::Writer;
use ofd_protocol::ru::Frame;

const FIXTURE: &str = include_str!("../fixtures/ru/fiscal_report_correction_1_05.frame.hex");
const NOW: i64 = 1_488_541_080 + 3600;

/// The fixture container re-signed by `unit`: (container bytes, document end, ФПД).
fn signed_fixture(unit: &SoftUnit) -> (Vec<u8>, usize, [u8; 6]) {
    let frame = hex::decode(FIXTURE.trim()).expect("fixture hex");
    let mut container = frame[30..].to_vec();
    let document_end = 32 + 4 + usize::from(u16::from_le_bytes([container[34], container[35]]));
    let fpd = unit
        .sign_document("9999078900005488", &mut container[32..document_end])
        .expect("1077 slot");
    let fps = unit
        .message_sign(
            "9999078900005488",
            &container[..32],
            &container[32..document_end],
        )
        .expect("header");
    container[document_end..document_end + 8].copy_from_slice(&fps);
    (container, document_end, fpd)
}

/// A ФФД 1.2 receipt with ten items that passes every rule.
fn receipt() -> Vec<u8> {
    let mut w = Writer::new();
    w.begin(3).expect("open");
    w.byte(1209, 4).expect("1209");
    w.tlv(1041, b"9999078900005488").expect("1041");
    w.tlv(1037, b"0000000005008570    ").expect("1037");
    for (tag, value) in [
        (1040u16, 7u32),
        (1042, 3),
        (1038, 12),
        (1012, 1_488_541_080),
    ] {
        w.u32(tag, value).expect("u32");
    }
    w.byte(1054, 1).expect("1054");
    w.tlv(1009, b"Moscow").expect("1009");
    w.tlv(1187, b"shop 1").expect("1187");
    w.tlv(1077, &[0; 6]).expect("1077");
    for _ in 0..10 {
        w.begin(1059).expect("item");
        w.tlv(1030, b"tea, green, 100 g").expect("name");
        w.tlv(1079, &[0x10, 0x27]).expect("price 100.00");
        w.tlv(1023, &[3, 0xf4, 0x01]).expect("quantity 0.500");
        w.tlv(1043, &[0x88, 0x13]).expect("cost 50.00");
        w.byte(1199, 1).expect("vat");
        w.end().expect("close");
    }
    w.tlv(1020, &[0x50, 0xc3]).expect("total 500.00");
    w.tlv(1031, &[0x50, 0xc3]).expect("cash");
    w.finish().expect("receipt")
}

fn soft_unit(c: &mut Criterion) {
    let unit = SoftUnit::new(vec![7; 32], 16).expect("unit");
    let (container, end, fpd) = signed_fixture(&unit);
    let inbound = InboundDocument {
        fn_number: "9999078900005488",
        fd_number: 1,
        container: &container,
        document: &container[32..end],
        fpd: Some(fpd),
        fps: &container[end..],
    };
    assert_eq!(unit.verify(&inbound), ofd::crypto::Verdict::Verified);
    c.bench_function("soft_verify_fixture_436B", |b| {
        b.iter(|| unit.verify(black_box(&inbound)))
    });
    let confirmation = [0u8; 61];
    c.bench_function("soft_operator_sign", |b| {
        b.iter(|| unit.operator_sign("9999078900005488", 1, black_box(&confirmation)))
    });
}

fn flk_rules(c: &mut Criterion) {
    let frame_bytes = hex::decode(FIXTURE.trim()).expect("fixture hex");
    let frame = Frame::decode(&frame_bytes).expect("fixture frame");
    let limits = FlkLimits::default();
    assert!(flk::check(frame.container.document, NOW, &limits).is_empty());
    c.bench_function("flk_check_fixture_doc11", |b| {
        b.iter(|| flk::check(black_box(frame.container.document), NOW, &limits))
    });
    let receipt = receipt();
    assert!(flk::check(&receipt, NOW, &limits).is_empty());
    c.bench_function("flk_check_receipt_10_items", |b| {
        b.iter(|| flk::check(black_box(&receipt), NOW, &limits))
    });
}

criterion_group!(benches, soft_unit, flk_rules);
criterion_main!(benches);
