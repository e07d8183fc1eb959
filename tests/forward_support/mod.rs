//! Helpers for the forwarder tests: documents stored the way ingest stores them (through the
//! store's group-commit writer), a real `ofd tax-sink` on a loopback port, and a forwarder
//! started through the same `forward::spawn` that `ofd forward` and `ofd all` use.
#![allow(dead_code)] // each test file uses a different subset

use std::{
    future::Future,
    net::SocketAddr,
    path::Path,
    time::{Duration, Instant},
};

use ofd::{
    forward::{self, ForwardConfig},
    sink::{self, SinkConfig, Stats},
    store::{Dialect, InsertOutcome, NewDocument, Store, Writer, WriterConfig},
};
use tokio_util::sync::CancellationToken;

/// A RU document with FNS JSON (`{"receipt": {…}}`) as ingest writes it.
pub fn ru_document(fn_number: &str, fd: i64) -> NewDocument {
    let json = serde_json::json!({"receipt": {
        "code": 3, "fiscalDriveNumber": fn_number, "fiscalDocumentNumber": fd,
        "totalSum": 10_000 + fd, "rawData": "AAEC"
    }});
    NewDocument {
        dialect: Dialect::Ru,
        doc_key: ofd::store::ru_doc_key(fn_number, fd),
        fn_number: Some(fn_number.to_owned()),
        fd_number: Some(fd),
        system_id: None,
        form_code: 3,
        ffd_version: Some(4),
        doc_time: Some(1_700_000_000),
        received_at: ofd::clock::unix_millis(),
        raw: format!("raw {fn_number}/{fd}").into_bytes(),
        json: json.to_string(),
        ack: b"ack".to_vec(),
        flk_errors: None,
        sign_verdict: "unverified".to_owned(),
        unregistered: false,
        peer: Some("127.0.0.1:40000".to_owned()),
    }
}

/// A KZ ticket with the register's tax number and the fiscal sign the OFD assigned.
pub fn kz_document(system_id: i64, number: i64) -> NewDocument {
    let json = serde_json::json!({
        "command": "COMMAND_TICKET", "systemId": system_id, "taxNumber": "123456789012",
        "fiscalSign": format!("{:010}", number), "ticket": {"operation": 2, "total": 500}
    });
    NewDocument {
        dialect: Dialect::Kz,
        doc_key: format!("{system_id}/{number}"),
        fn_number: None,
        fd_number: None,
        system_id: Some(system_id),
        form_code: 1,
        ffd_version: None,
        doc_time: Some(1_700_000_000),
        received_at: ofd::clock::unix_millis(),
        raw: format!("raw kz {system_id}/{number}").into_bytes(),
        json: json.to_string(),
        ack: b"response".to_vec(),
        flk_errors: None,
        sign_verdict: "unverified".to_owned(),
        unregistered: false,
        peer: None,
    }
}

/// Store documents through the writer, as ingest does; returns their sink ids.
pub async fn ingest(store: &Store, documents: Vec<NewDocument>) -> Vec<String> {
    let (writer, task) = Writer::spawn(store.clone(), WriterConfig::default());
    let mut ids = Vec::new();
    let mut pending = Vec::new();
    for document in documents {
        ids.push(format!("{}:{}", document.dialect, document.doc_key));
        let writer: Writer = writer.clone();
        pending.push(tokio::spawn(async move { writer.store(document).await }));
    }
    for handle in pending {
        let outcome = handle.await.unwrap().unwrap();
        assert_eq!(outcome, InsertOutcome::Stored);
    }
    drop(writer);
    task.await.unwrap();
    ids
}

/// `count` RU documents of one ФН, fd numbers from `first`.
pub fn ru_documents(fn_number: &str, first: i64, count: i64) -> Vec<NewDocument> {
    (first..first + count)
        .map(|fd| ru_document(fn_number, fd))
        .collect()
}

/// A running `ofd tax-sink`.
pub struct TestSink {
    pub addr: SocketAddr,
    pub base: String,
    client: reqwest::Client,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestSink {
    /// Start on `port` (0 for any) with its database at `db`.
    pub async fn start(db: &Path, port: u16) -> TestSink {
        let args = SinkConfig::new(([127, 0, 0, 1], port).into(), db.to_owned());
        TestSink::start_config(&args, None).await
    }

    /// Start with `args`; with HTTPS (`tls_cert`), the test's own requests trust `ca`.
    pub async fn start_config(args: &SinkConfig, ca: Option<&Path>) -> TestSink {
        let shutdown = CancellationToken::new();
        let running = sink::spawn(args, shutdown.clone()).await.unwrap();
        let mut client = reqwest::Client::builder().use_rustls_tls();
        if let Some(ca) = ca {
            let pem = std::fs::read(ca).unwrap();
            client = client.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
        }
        let base = match args.tls_cert {
            Some(_) => format!("https://localhost:{}", running.addr.port()),
            None => format!("http://{}", running.addr),
        };
        TestSink {
            addr: running.addr,
            base,
            client: client.build().unwrap(),
            shutdown,
            task: running.task,
        }
    }

    pub fn batches_url(&self) -> String {
        format!("{}{}", self.base, ofd::tax_batch::BATCHES_PATH)
    }

    pub async fn stats(&self) -> Stats {
        let body = self
            .client
            .get(format!("{}/stats", self.base))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    pub async fn document_ids(&self) -> Vec<String> {
        let body = self
            .client
            .get(format!("{}/documents", self.base))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    /// The stored line of one document, read from the sink's SQLite file.
    pub async fn line(&self, id: &str, db: &Path) -> serde_json::Value {
        use sqlx::Connection as _;
        let url = format!("sqlite://{}", db.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let line: String = sqlx::query_scalar("SELECT line FROM sink_documents WHERE doc_id = $1")
            .bind(id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        conn.close().await.ok();
        serde_json::from_str(&line).unwrap()
    }

    pub async fn faults(&self, plan: serde_json::Value) {
        let response = self
            .client
            .post(format!("{}/faults", self.base))
            .header("content-type", "application/json")
            .body(plan.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}

/// Forwarder options for tests: small batches, short waits, a quick breaker.
pub fn fast_options(sink_url: &str) -> ForwardConfig {
    ForwardConfig {
        sink_url: sink_url.to_owned(),
        batch_max_documents: 50,
        batch_max_age_ms: 50,
        poll_ms: 20,
        lease_ms: 5_000,
        request_timeout_ms: 2_000,
        backoff_base_ms: 20,
        backoff_cap_ms: 200,
        breaker_threshold: 3,
        breaker_cooldown_ms: 200,
        ..ForwardConfig::default()
    }
}

/// A running forwarder.
pub struct TestForwarder {
    pub registry: prometheus::Registry,
    pub health: forward::readiness::Health,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl TestForwarder {
    pub fn start(options: &ForwardConfig, store: &Store) -> TestForwarder {
        let registry = prometheus::Registry::new();
        let shutdown = CancellationToken::new();
        let running = forward::spawn(options, store, &registry, shutdown.clone()).unwrap();
        TestForwarder {
            registry,
            health: running.health,
            task: running.task,
            shutdown,
        }
    }

    /// Sum of a metric family's samples (counters and gauges).
    pub fn metric(&self, name: &str) -> f64 {
        self.registry
            .gather()
            .iter()
            .filter(|family| family.name() == name)
            .flat_map(|family| family.get_metric())
            .map(|m| m.get_counter().get_value() + m.get_gauge().get_value())
            .sum()
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap();
    }
}

/// Wait until `condition` holds; panics after a generous bound (liveness, not speed).
pub async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Documents per forward state.
pub async fn forward_states(store: &Store) -> (i64, i64, i64) {
    let count = |state: &'static str| async move {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM outbox WHERE state = $1")
            .bind(state)
            .fetch_one(store.pool())
            .await
            .unwrap()
    };
    (
        count("pending").await,
        count("sent").await,
        count("rejected").await,
    )
}
