mod common;
mod ingest_support;
use ingest_support::*;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe() {
    let db = common::TestDb::sqlite();
    let mut o = options(&db.url);
    o.batch_max_wait_us = Some(std::env::var("WAIT").ok().and_then(|v| v.parse().ok()).unwrap_or(2000));
    let server = ofd::ingest::Server::start(o.resolve().unwrap()).await.unwrap();
    let addr = server.local_addr();
    let next = Arc::new(AtomicU32::new(1));
    let n = 20000u32;
    let start = std::time::Instant::now();
    let mut tasks = vec![];
    for c in 0..200u64 {
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let f = fn_number(1000 + c);
            let mut lat = vec![];
            loop {
                let fd = next.fetch_add(1, Ordering::Relaxed);
                if fd > n { break; }
                let frame = receipt_frame(&f, fd, 100, None);
                let t = std::time::Instant::now();
                let r = send_one(addr, &frame).await.unwrap();
                lat.push(t.elapsed());
                assert_eq!(ack_fields(&r).code, 0);
            }
            lat
        }));
    }
    let mut lat = vec![];
    for t in tasks { lat.extend(t.await.unwrap()); }
    let el = start.elapsed();
    lat.sort();
    eprintln!("{} docs in {:?}: {:.0}/s p50 {:?} p99 {:?}", lat.len(), el, lat.len() as f64 / el.as_secs_f64(), lat[lat.len()/2], lat[lat.len()*99/100]);
    eprintln!("{}", scrape(server.metrics_addr()).await.lines().filter(|l| l.contains("batch_size_documents_sum") || l.contains("batch_size_documents_count")).collect::<Vec<_>>().join("\n"));
    server.shutdown().await.unwrap();
}
