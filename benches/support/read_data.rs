//! The generated data the read-side benches share (`read_models`, `cabinet_home`): RU
//! documents built as real containers with their FNS JSON, stored through the real multi-row
//! insert the group-commit writer uses — organisations of 100 registers, each sending one shift
//! a day of receipts (1–3 lines, cash or card, one in ten a refund) over up to a year — and the
//! timing helpers. Included by each bench with `#[path]` (a bench is its own crate).
#![allow(dead_code)] // each bench uses a different subset

use std::time::{Duration, Instant};

use ofd::store::{
    insert_new_documents, ru_doc_key, Dialect, InsertOutcome, NewDocument, NewOrganisation,
    NewRegister, Store,
};
use ofd_protocol::ru::container::{ContainerHeader, CONTAINER_TYPE, HEADER_VERSION};
use ofd_protocol::ru::tlv::Writer;
use ofd_protocol::ru::value::{encode_fvln, encode_string, encode_vln, Fvln};
use ofd_protocol::ru::{Container, Document, FnNumber};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// 2026-01-01T00:00:00 as local naive seconds.
pub const YEAR_START: i64 = 1_767_225_600;
pub const REGISTERS_PER_ORG: usize = 100;
const PRODUCTS: [&str; 8] = [
    "Хлеб ржаной 500 г",
    "Молоко 3,2% 1 л",
    "Сыр Российский",
    "Кофе молотый 250 г",
    "Чай чёрный 100 пак.",
    "Сахар 1 кг",
    "Вода питьевая 1,5 л",
    "Пакет-майка",
];

pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A 10-digit ИНН with a valid check digit.
pub fn inn(seed: u64) -> String {
    const WEIGHTS: [u32; 9] = [2, 4, 10, 3, 5, 9, 4, 6, 8];
    let body = format!("77{:07}", seed % 10_000_000);
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    format!("{body}{}", sum % 11 % 10)
}

pub fn fn_of(register: usize) -> String {
    format!("9999880{register:09}")
}

fn money(w: &mut Writer, tag: u16, value: u64) {
    w.tlv_with::<anyhow::Error>(tag, |out| Ok(encode_vln(value, 6, out)?))
        .expect("money");
}

fn text(w: &mut Writer, tag: u16, value: &str) {
    w.tlv_with::<anyhow::Error>(tag, |out| Ok(encode_string(value, out)?))
        .expect("string");
}

/// One document of a register: form, its numbers, the receipt's operation and lines.
struct Draft {
    form: u8,
    fd: u32,
    time: i64,
    shift: u32,
    receipts_in_shift: u32,
}

/// The stored row of `draft` for drive `fn_text`: container bytes and FNS JSON as ingest keeps
/// them.
fn document(fn_text: &str, draft: &Draft, rng: &mut StdRng) -> NewDocument {
    let mut w = Writer::new();
    w.begin(u16::from(draft.form)).expect("form");
    w.byte(1209, 4).expect("ffd");
    text(&mut w, 1048, "ООО Ромашка");
    w.tlv(1041, fn_text.as_bytes()).expect("fn");
    w.u32(1040, draft.fd).expect("fd");
    w.u32(1012, draft.time as u32).expect("time");
    w.u32(1038, draft.shift).expect("shift");
    text(&mut w, 1021, "Иванова А.");
    w.tlv(1077, &[0, 0, 1, 2, 3, 4]).expect("fpd");
    match draft.form {
        3 => {
            let refund = rng.gen_ratio(1, 10);
            w.byte(1054, if refund { 2 } else { 1 }).expect("operation");
            let mut total = 0;
            for _ in 0..rng.gen_range(1..=3) {
                let price = rng.gen_range(50..5_000) * 10;
                let quantity = rng.gen_range(1..=3u64);
                w.begin(1059).expect("item");
                text(&mut w, 1030, PRODUCTS[rng.gen_range(0..PRODUCTS.len())]);
                money(&mut w, 1079, price);
                w.tlv_with::<anyhow::Error>(1023, |out| {
                    Ok(encode_fvln(
                        Fvln {
                            point: 0,
                            mantissa: quantity,
                        },
                        out,
                    )?)
                })
                .expect("quantity");
                w.byte(1199, 1).expect("vat");
                money(&mut w, 1043, price * quantity);
                w.end().expect("item end");
                total += price * quantity;
            }
            let cash = if rng.gen_bool(0.4) { total } else { 0 };
            money(&mut w, 1020, total);
            money(&mut w, 1031, cash);
            money(&mut w, 1081, total - cash);
        }
        5 => {
            w.u32(1118, draft.receipts_in_shift).expect("receipts");
            w.u32(1097, 0).expect("unsent");
        }
        _ => {}
    }
    w.end().expect("end");
    let stlv = w.finish().expect("finish");
    let header = ContainerHeader {
        len: 0,
        crc: 0,
        container_type: CONTAINER_TYPE,
        doc_type: draft.form,
        version: HEADER_VERSION,
        service1: [0x10, 0x09],
        fn_number: FnNumber::parse(fn_text.as_bytes()).expect("fn number"),
        fd_number: draft.fd,
        service2: [0; 12],
    };
    let trailer = [0u8; 10];
    let raw = Container::encode(&header, &stlv, &trailer).expect("container");
    let json = {
        let decoded = Document::decode(&stlv).expect("decodes");
        ofd_protocol::ru::json::to_json(&decoded, &trailer).to_string()
    };
    NewDocument {
        dialect: Dialect::Ru,
        doc_key: ru_doc_key(fn_text, i64::from(draft.fd)),
        fn_number: Some(fn_text.to_owned()),
        fd_number: Some(i64::from(draft.fd)),
        system_id: None,
        form_code: i64::from(draft.form),
        ffd_version: Some(4),
        doc_time: Some(draft.time),
        received_at: (draft.time - 3 * 3600) * 1000,
        raw,
        json,
        ack: vec![0; 48],
        flk_errors: None,
        sign_verdict: "unverified".to_owned(),
        unregistered: false,
        peer: None,
    }
}

/// The documents of one register: one shift a day, over as many days as the count allows.
pub fn register_documents(register: usize, count: usize, rng: &mut StdRng) -> Vec<NewDocument> {
    let fn_text = fn_of(register);
    let days = (count / 12).clamp(1, 365);
    let per_day = count.div_ceil(days).max(3);
    let mut out = Vec::with_capacity(count);
    let mut fd = 0u32;
    for day in 0..days as i64 {
        let shift = day as u32 + 1;
        let start = YEAR_START + day * 86_400 + 8 * 3600;
        let receipts = per_day - 2;
        for n in 0..per_day {
            if out.len() == count {
                return out;
            }
            fd += 1;
            let form = if n == 0 {
                2
            } else if n + 1 == per_day {
                5
            } else {
                3
            };
            let draft = Draft {
                form,
                fd,
                time: start + (n as i64) * (12 * 3600 / per_day as i64),
                shift,
                receipts_in_shift: receipts as u32,
            };
            out.push(document(&fn_text, &draft, rng));
        }
    }
    out
}

/// p50 and p99 of `runs` timings of `f`.
pub async fn percentiles<F, Fut>(runs: usize, mut f: F) -> (Duration, Duration)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        let started = Instant::now();
        f(i).await;
        times.push(started.elapsed());
    }
    times.sort();
    (times[runs / 2], times[(runs * 99 / 100).min(runs - 1)])
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Organisations of 100 registers and `documents` documents spread over `registers`.
pub async fn generate(store: &Store, registers: usize, documents: usize) {
    let mut org_ids = Vec::new();
    for org in 0..registers.div_ceil(REGISTERS_PER_ORG) {
        let created = store
            .add_organisation(&NewOrganisation {
                inn: inn(org as u64 + 1),
                name: format!("Bench {org}"),
                ..NewOrganisation::default()
            })
            .await
            .expect("organisation");
        org_ids.push((created.id, created.inn));
    }
    for register in 0..registers {
        let (_, inn) = &org_ids[register / REGISTERS_PER_ORG];
        store
            .add_register(
                Dialect::Ru,
                NewRegister {
                    fn_number: Some(fn_of(register)),
                    org_inn: Some(inn.clone()),
                    ..NewRegister::default()
                },
            )
            .await
            .expect("register");
    }
    // PostgreSQL: the month partitions the server would have made ahead as the year went by
    // (a month before it too: documents are partitioned by their received time, UTC, hours
    // behind the registers' local time), so the rows land in months and not in the default
    // partitions. A no-op on SQLite.
    let mut month = (YEAR_START - 31 * 86_400) * 1000;
    while month < (YEAR_START + 366 * 86_400) * 1000 {
        let made = ofd::store::partitions::ensure_ahead(store, month)
            .await
            .expect("partitions");
        assert!(made.failed.is_empty(), "{:?}", made.failed);
        month += 28 * 86_400 * 1000;
    }
    let per_register = documents / registers;
    let started = Instant::now();
    let mut stored = 0usize;
    let mut rng = StdRng::seed_from_u64(14);
    for register in 0..registers {
        let docs = register_documents(register, per_register, &mut rng);
        for chunk in docs.chunks(2_000) {
            let refs: Vec<&NewDocument> = chunk.iter().collect();
            let mut tx = store.begin_write().await.expect("begin");
            let inserted = insert_new_documents(&mut tx, &refs).await.expect("insert");
            tx.commit().await.expect("commit");
            stored += inserted
                .iter()
                .filter(|s| matches!(s, Some(InsertOutcome::Stored)))
                .count();
        }
        if register % 100 == 99 {
            eprintln!(
                "generated {stored} documents in {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    if store.backend() == ofd::store::Backend::Postgres {
        // What autovacuum does in a running installation, and had not yet done after a bulk
        // load that kept its workers on the documents: without statistics the planner takes
        // `registers` for a few rows and joins it by scanning it for each document.
        sqlx::query("ANALYZE")
            .execute(store.pool())
            .await
            .expect("analyze");
    }
    println!(
        "generate: {stored} documents in {seconds:.1} s = {:.0} documents/s",
        stored as f64 / seconds
    );
}
