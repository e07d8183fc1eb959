//! Read-side benchmark (issue 14): generate RU documents through the real store (the same
//! multi-row insert the group-commit writer uses), run the projector over them, then time the
//! cabinet's queries — search, shifts, a month's totals — through the tenancy-scoped store
//! functions, and a CSV export through the real account API over HTTP. Not a timed test: the
//! figures go into `benches/README.md` with the command, commit and load average.
//!
//! Shape: `OFD_BENCH_REGISTERS` registers (default 1000) in organisations of 100, each sending
//! shifts of receipts (1–3 lines, cash or card, one in ten a refund) over up to a year, with
//! `OFD_BENCH_DOCS` documents in all (default 200000). `OFD_BENCH_DB` names the database (default:
//! a SQLite file in a temporary directory; a `postgres://` URL works too); when that database
//! already holds documents, generation is skipped and the existing ones are measured.
//! `OFD_BENCH_EXPORT` caps the exported rows (default 1000000), `OFD_BENCH_XLSX` the XLSX
//! export's (default 200000); `OFD_BENCH_BATCH` is the projector's batch (default 1000).
//!
//! Run: `cargo bench --bench read_models` (release build; one run, a few minutes at the default
//! size on 2 cores).

use std::time::{Duration, Instant};

use ofd::account::AccountOptions;
use ofd::project::{catch_up, Projector};
use ofd::store::reports::{DocumentFilter, RegisterSet};
use ofd::store::{
    insert_new_documents, ru_doc_key, Actor, Dialect, NewDocument, NewOrganisation, NewRegister,
    Role, Store, Tenant,
};
use ofd_protocol::ru::container::{ContainerHeader, CONTAINER_TYPE, HEADER_VERSION};
use ofd_protocol::ru::tlv::Writer;
use ofd_protocol::ru::value::{encode_fvln, encode_string, encode_vln, Fvln};
use ofd_protocol::ru::{Container, Document, FnNumber};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// 2026-01-01T00:00:00 as local naive seconds.
const YEAR_START: i64 = 1_767_225_600;
const REGISTERS_PER_ORG: usize = 100;
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

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A 10-digit ИНН with a valid check digit.
fn inn(seed: u64) -> String {
    const WEIGHTS: [u32; 9] = [2, 4, 10, 3, 5, 9, 4, 6, 8];
    let body = format!("77{:07}", seed % 10_000_000);
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    format!("{body}{}", sum % 11 % 10)
}

fn fn_of(register: usize) -> String {
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
fn register_documents(register: usize, count: usize, rng: &mut StdRng) -> Vec<NewDocument> {
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

/// One export through the account API: (bytes, lines, seconds, RSS before, RSS peak in KiB),
/// the RSS sampled after every chunk received.
async fn export(addr: &std::net::SocketAddr, key: &str, query: &str) -> (u64, u64, f64, u64, u64) {
    let rss_before = rss_kib();
    let started = Instant::now();
    let mut response = reqwest::Client::new()
        .get(format!("http://{addr}/api/v1/documents/export?{query}"))
        .bearer_auth(key)
        .send()
        .await
        .expect("export");
    assert!(response.status().is_success(), "{}", response.status());
    let (mut bytes, mut lines) = (0u64, 0u64);
    let mut peak = rss_before;
    while let Some(chunk) = response.chunk().await.expect("chunk") {
        bytes += chunk.len() as u64;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        peak = peak.max(rss_kib());
    }
    (
        bytes,
        lines,
        started.elapsed().as_secs_f64(),
        rss_before,
        peak,
    )
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// p50 and p99 of `runs` timings of `f`.
async fn percentiles<F, Fut>(runs: usize, mut f: F) -> (Duration, Duration)
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

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn generate(store: &Store, registers: usize, documents: usize) {
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
            stored += inserted.iter().filter(|s| **s).count();
        }
        if register % 100 == 99 {
            eprintln!(
                "generated {stored} documents in {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "generate: {stored} documents in {seconds:.1} s = {:.0} documents/s",
        stored as f64 / seconds
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes --bench; nothing else is taken from the command line.
    let registers = env_or("OFD_BENCH_REGISTERS", 1000) as usize;
    let documents = env_or("OFD_BENCH_DOCS", 200_000) as usize;
    let export_rows = env_or("OFD_BENCH_EXPORT", 1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let url = std::env::var("OFD_BENCH_DB")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let store = Store::open(&url).await.expect("open store");
    let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM documents")
        .fetch_one(store.pool())
        .await
        .expect("count");
    if existing == 0 {
        generate(&store, registers, documents).await;
    } else {
        println!("generate: skipped, {existing} documents already stored");
    }

    let projector = Projector::new(&store);
    let started = Instant::now();
    let batch = env_or("OFD_BENCH_BATCH", 1000) as i64;
    let step = catch_up(&projector, batch).await.expect("projects");
    let seconds = started.elapsed().as_secs_f64();
    if step.read > 0 {
        println!(
            "project: {} documents in {seconds:.1} s = {:.0} documents/s ({} undecodable)",
            step.read,
            step.read as f64 / seconds,
            step.undecodable
        );
    }

    // An accountant of the first organisation (100 registers), and that organisation's data.
    let org_id: i64 = sqlx::query_scalar("SELECT MIN(id) FROM organisations")
        .fetch_one(store.pool())
        .await
        .expect("org");
    let tenant: Tenant = store.tenant(
        Actor::Key {
            id: 0,
            org_id,
            role: Role::Accountant,
        },
        None,
    );
    let register_ids: Vec<i64> = sqlx::query_scalar(
        "SELECT r.id FROM registers r JOIN organisations o ON o.inn = r.org_inn \
         WHERE o.id = $1 ORDER BY r.id",
    )
    .bind(org_id)
    .fetch_all(store.pool())
    .await
    .expect("registers");
    let keys: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT fn_number, fd_number, register_id, shift_number FROM doc_index \
         WHERE register_id IN (SELECT r.id FROM registers r JOIN organisations o \
         ON o.inn = r.org_inn WHERE o.id = $1) AND kind = 'receipt' \
         ORDER BY document_id LIMIT 500",
    )
    .bind(org_id)
    .fetch_all(store.pool())
    .await
    .expect("keys");
    let (first_day, last_day): (i64, i64) =
        sqlx::query_as("SELECT MIN(doc_time) / 86400, MAX(doc_time) / 86400 FROM doc_index")
            .fetch_one(store.pool())
            .await
            .expect("days");
    let month_from = (last_day - 30).max(first_day);
    let runs = 200;
    let rid = |i: usize| register_ids[i * 7 % register_ids.len()];

    let (p50, p99) = percentiles(runs, |i| {
        let filter = DocumentFilter {
            register_id: Some(rid(i)),
            from_time: Some(month_from * 86_400),
            to_time: Some((last_day + 1) * 86_400),
            limit: 50,
            ..DocumentFilter::default()
        };
        let tenant = tenant.clone();
        async move {
            let page = tenant.search_documents(&filter).await.expect("search");
            assert!(!page.is_empty());
        }
    })
    .await;
    println!(
        "search register + month, first page of 50: p50 {} p99 {}",
        ms(p50),
        ms(p99)
    );

    let (p50, p99) = percentiles(runs, |i| {
        let (fn_number, fd, _, _) = keys[i % keys.len()].clone();
        let filter = DocumentFilter {
            fn_number: Some(fn_number),
            fd_number: Some(fd),
            limit: 50,
            ..DocumentFilter::default()
        };
        let tenant = tenant.clone();
        async move {
            assert_eq!(
                tenant
                    .search_documents(&filter)
                    .await
                    .expect("search")
                    .len(),
                1
            );
        }
    })
    .await;
    println!("search FN + FD: p50 {} p99 {}", ms(p50), ms(p99));

    let (p50, p99) = percentiles(runs, |i| {
        let (_, _, register, shift) = keys[i % keys.len()].clone();
        let filter = DocumentFilter {
            register_id: Some(register),
            shift_number: Some(shift),
            limit: 50,
            ..DocumentFilter::default()
        };
        let tenant = tenant.clone();
        async move {
            assert!(!tenant
                .search_documents(&filter)
                .await
                .expect("search")
                .is_empty());
        }
    })
    .await;
    println!("search register + shift: p50 {} p99 {}", ms(p50), ms(p99));

    let (p50, p99) = percentiles(runs, |i| {
        let tenant = tenant.clone();
        async move {
            tenant
                .shifts(
                    rid(i),
                    Some(month_from * 86_400),
                    Some((last_day + 1) * 86_400),
                    100,
                )
                .await
                .expect("shifts");
        }
    })
    .await;
    println!(
        "shifts of a register for a month: p50 {} p99 {}",
        ms(p50),
        ms(p99)
    );

    let (p50, p99) = percentiles(runs / 4, |_| {
        let tenant = tenant.clone();
        async move {
            let days = tenant
                .daily_figures(RegisterSet::default(), month_from, last_day + 1)
                .await
                .expect("daily");
            assert!(!days.is_empty());
            tenant
                .hourly_receipts(RegisterSet::default(), month_from, last_day + 1)
                .await
                .expect("hourly");
            tenant
                .top_products(RegisterSet::default(), month_from, last_day + 1, 10)
                .await
                .expect("top");
        }
    })
    .await;
    println!(
        "a month's daily totals + hours + top products, organisation of {} registers: p50 {} p99 {}",
        register_ids.len(),
        ms(p50),
        ms(p99)
    );

    // CSV export through the real account API, as an operator (every organisation).
    let key = store
        .create_api_key("bench")
        .await
        .expect("key")
        .secret
        .expose()
        .to_owned();
    let config = AccountOptions {
        listen: Some("127.0.0.1:0".parse().expect("addr")),
        export_max_rows: Some(export_rows),
        ..AccountOptions::default()
    }
    .resolve()
    .expect("account config");
    let shutdown = tokio_util::sync::CancellationToken::new();
    let account = ofd::account::spawn(store.clone(), &config, shutdown.clone())
        .await
        .expect("account API");
    for (name, query) in [
        ("CSV", "format=csv"),
        ("CSV with the delivery column", "format=csv&delivery=true"),
    ] {
        let (bytes, lines, seconds, before, peak) = export(&account.addr, &key, query).await;
        let rows = lines.saturating_sub(1);
        println!(
            "export {name}: {rows} documents ({} MiB) in {seconds:.1} s = {:.0} documents/s; \
             RSS {} MiB before, {} MiB peak",
            bytes >> 20,
            rows as f64 / seconds,
            before / 1024,
            peak / 1024
        );
    }
    let xlsx_rows = env_or("OFD_BENCH_XLSX", 200_000);
    let (bytes, _, seconds, before, peak) = export(
        &account.addr,
        &key,
        &format!("format=xlsx&limit={xlsx_rows}"),
    )
    .await;
    println!(
        "export XLSX: {xlsx_rows} documents asked ({} MiB) in {seconds:.1} s = {:.0} documents/s; \
         RSS {} MiB before, {} MiB peak",
        bytes >> 20,
        xlsx_rows as f64 / seconds,
        before / 1024,
        peak / 1024
    );
    shutdown.cancel();
    let _ = account.task.await;
    store.close().await;
}
