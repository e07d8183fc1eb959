//! RU codec throughput on the 466-byte real device dump (fixtures/ru): decode to the structured
//! form, decode to FNS JSON, encode back, and build the operator acknowledgement.
//!
//! Run: `cargo bench --bench ru_codec -- --quick` (figures in benches/README.md).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ofd_protocol::ru::ack::{Ack, ResponseCode};
use ofd_protocol::ru::check::cross_check;
use ofd_protocol::ru::document::Document;
use ofd_protocol::ru::flk::{self, FlkLimits};
use ofd_protocol::ru::json::{to_json, to_tlv};
use ofd_protocol::ru::json_text::to_json_string;
use ofd_protocol::ru::Frame;

const FRAME_HEX: &str = include_str!("../fixtures/ru/fiscal_report_correction_1_05.frame.hex");

fn ru_codec(c: &mut Criterion) {
    let bytes = hex::decode(FRAME_HEX.trim()).expect("fixture is hex");
    let frame = Frame::decode(&bytes).expect("fixture decodes");
    let document = Document::decode(frame.container.document).expect("fixture document decodes");
    let json = to_json(&document, frame.container.trailer);

    let mut group = c.benchmark_group("ru_466b_frame");
    group.throughput(Throughput::Elements(1));
    group.bench_function("decode_structured", |b| {
        b.iter(|| {
            let frame = Frame::decode(black_box(&bytes)).unwrap();
            let doc = Document::decode(frame.container.document).unwrap();
            black_box((frame.session.body_len, doc.items.len()))
        })
    });
    group.bench_function("decode_structured_cross_checked", |b| {
        b.iter(|| {
            let frame = Frame::decode(black_box(&bytes)).unwrap();
            cross_check(&frame).unwrap();
            let doc = Document::decode(frame.container.document).unwrap();
            black_box(doc.items.len())
        })
    });
    group.bench_function("decode_to_json", |b| {
        b.iter(|| {
            let frame = Frame::decode(black_box(&bytes)).unwrap();
            let doc = Document::decode(frame.container.document).unwrap();
            black_box(to_json(&doc, frame.container.trailer))
        })
    });
    group.bench_function("decode_to_json_text", |b| {
        b.iter(|| {
            let frame = Frame::decode(black_box(&bytes)).unwrap();
            let doc = Document::decode(frame.container.document).unwrap();
            black_box(to_json_string(&doc, frame.container.trailer))
        })
    });
    // The ingest path's document work: ФЛК and the FNS JSON text. Before `scale`, the document
    // was walked twice (Document::decode, then flk::check over the bytes); now once.
    let now = 1_488_541_080 + 3600;
    group.bench_function("ingest_flk_json_two_walks", |b| {
        b.iter(|| {
            let frame = Frame::decode(black_box(&bytes)).unwrap();
            let doc = Document::decode(frame.container.document).unwrap();
            let violations = flk::check(frame.container.document, now, &FlkLimits::default());
            black_box((violations, to_json_string(&doc, frame.container.trailer)))
        })
    });
    group.bench_function("ingest_flk_json_one_walk", |b| {
        b.iter(|| {
            let frame = Frame::decode(black_box(&bytes)).unwrap();
            let (doc, violations) =
                flk::decode_and_check(frame.container.document, now, &FlkLimits::default())
                    .unwrap();
            black_box((violations, to_json_string(&doc, frame.container.trailer)))
        })
    });
    group.bench_function("decode_to_json_tree_text", |b| {
        b.iter(|| {
            let frame = Frame::decode(black_box(&bytes)).unwrap();
            let doc = Document::decode(frame.container.document).unwrap();
            black_box(to_json(&doc, frame.container.trailer).to_string())
        })
    });
    group.bench_function("encode_frame", |b| {
        b.iter(|| black_box(black_box(&frame).to_bytes().unwrap()))
    });
    group.bench_function("encode_json_to_tlv", |b| {
        b.iter(|| black_box(to_tlv(black_box(&json)).unwrap()))
    });
    group.bench_function("build_ack_frame", |b| {
        b.iter(|| {
            let ack = Ack::for_request(
                &frame.container.header,
                frame.session.a_version,
                "7704358518",
                black_box(1_700_000_000),
                ResponseCode::Accepted,
            );
            black_box(ack.frame().unwrap())
        })
    });
    group.finish();
}

criterion_group!(benches, ru_codec);
criterion_main!(benches);
