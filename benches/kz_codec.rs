//! KZ codec benchmarks: split + decode + validate a TICKET request frame, the same to JSON (what
//! `ofd decode` and the stored document hold), and encode a TICKET response frame — the KZ
//! counterpart of the RU acknowledgement. The per-request codec cost on the ingest hot path.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ofd_protocol::kz::{
    decode_request, encode_frame, split_frame, Amounts, CommandTypeEnum, Date, DateTime, Header,
    Item, ItemCommodity, ItemTypeEnum, Money, OperationTypeEnum, Operator, Payment,
    PaymentTypeEnum, Request, Response, ResultTypeEnum, Tax, TicketRequest, TicketResponse, Time,
    DEFAULT_MAX_FRAME,
};

fn money(bills: u64, coins: u32) -> Option<Money> {
    Some(Money {
        bills: Some(bills),
        coins: Some(coins),
    })
}

/// A realistic receipt: five commodity lines with VAT, one cash payment.
fn ticket_request() -> Request {
    let item = |n: u64| Item {
        r#type: Some(ItemTypeEnum::Commodity as i32),
        commodity: Some(ItemCommodity {
            code: Some(n),
            name: Some(format!("Товар номер {n}")),
            section_code: Some("1".into()),
            quantity: Some(1000),
            price: money(200, 0),
            sum: money(200, 0),
            taxes: vec![Tax {
                tax_type: Some(100),
                taxation_type: Some(100),
                percent: Some(12000),
                sum: money(21, 43),
                is_in_total_sum: Some(true),
            }],
            measure_unit_code: Some("796".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    Request {
        command: Some(CommandTypeEnum::Ticket as i32),
        ticket: Some(TicketRequest {
            operation: Some(OperationTypeEnum::Sell as i32),
            date_time: Some(DateTime {
                date: Some(Date {
                    year: Some(2026),
                    month: Some(11),
                    day: Some(23),
                }),
                time: Some(Time {
                    hour: Some(12),
                    minute: Some(30),
                    second: Some(5),
                }),
            }),
            operator: Some(Operator {
                code: Some(1),
                name: Some("Кассир".into()),
            }),
            items: (1..=5).map(item).collect(),
            payments: vec![Payment {
                r#type: Some(PaymentTypeEnum::Cash as i32),
                sum: money(1000, 0),
                ..Default::default()
            }],
            amounts: Some(Amounts {
                total: money(1000, 0),
                taken: money(1000, 0),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn header() -> Header {
    Header {
        version: 203,
        size: 0,
        system_id: 201_873,
        token: 208_627_316,
        request_number: 1,
    }
}

fn bench(c: &mut Criterion) {
    let frame = encode_frame(header(), &ticket_request()).expect("bench frame encodes");
    let mut group = c.benchmark_group("kz");
    group.throughput(Throughput::Bytes(frame.len() as u64));
    group.bench_function("decode_ticket_request_frame", |b| {
        b.iter(|| {
            let (_, body) = split_frame(black_box(&frame), DEFAULT_MAX_FRAME).expect("valid");
            decode_request(body).expect("valid")
        })
    });
    group.bench_function("decode_ticket_request_frame_to_json", |b| {
        b.iter(|| {
            let (_, body) = split_frame(black_box(&frame), DEFAULT_MAX_FRAME).expect("valid");
            serde_json::to_string(&decode_request(body).expect("valid")).expect("serialises")
        })
    });
    let response = Response {
        ticket: Some(TicketResponse {
            ticket_number: Some("4829105736".into()),
            qr_code: Some(b"http://consumer.example.kz?i=4829105736&f=010101010101&s=1000.00&t=20261123T123005".to_vec()),
        }),
        ..Response::result_only(CommandTypeEnum::Ticket as i32, ResultTypeEnum::Ok, "")
    };
    group.bench_function("encode_ticket_response_frame", |b| {
        b.iter(|| encode_frame(black_box(header()), black_box(&response)).expect("encodes"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
