//! The whole path over loopback: registers send RU receipts to a running ingest server, the
//! forwarder passes what it committed to a running `ofd tax-sink`, and every acknowledged
//! document is stored there exactly once — resends by the register included.

mod common;
mod forward_support;
mod ingest_support;
mod kz_support;

use std::collections::BTreeSet;

use common::{on_each_backend, TestDb};
use forward_support::{eventually, fast_options, forward_states, TestForwarder, TestSink};
use ingest_support::{ack_fields, config, fn_number, receipt_frame, send_one};
use ofd::ingest::Server;
use ofd::store::Store;
use sqlx::Connection as _;

/// The path a document takes: a store with an ingest server on it, and a forwarder sending what
/// it commits to a tax sink keeping its own file (`sink_db`, in `_dir`).
struct WholePath {
    store: Store,
    server: Server,
    _dir: tempfile::TempDir,
    sink_db: std::path::PathBuf,
    sink: TestSink,
    forwarder: TestForwarder,
}

impl WholePath {
    async fn start(db: &TestDb) -> WholePath {
        let store = db.open().await;
        let server = Server::start_with_store(config(&db.url), store.clone())
            .await
            .expect("ingest server");
        let dir = tempfile::tempdir().unwrap();
        let sink_db = dir.path().join("sink.db");
        let sink = TestSink::start(&sink_db, 0).await;
        let forwarder = TestForwarder::start(&fast_options(&sink.batches_url()), &store);
        WholePath {
            store,
            server,
            _dir: dir,
            sink_db,
            sink,
            forwarder,
        }
    }

    async fn stop(self) {
        self.forwarder.stop().await;
        self.server.shutdown().await.unwrap();
        self.sink.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_receipts_reach_the_sink_exactly_once() {
    on_each_backend(|db| async move {
        let path = WholePath::start(&db).await;

        let mut expected = BTreeSet::new();
        for register in 1..=4u64 {
            let fn_number = fn_number(register);
            for fd in 1..=15u32 {
                let frame = receipt_frame(&fn_number, fd, 1_000 * fd, None);
                let reply = send_one(path.server.local_addr(), &frame)
                    .await
                    .expect("ack");
                assert_eq!(ack_fields(&reply).code, 0);
                // Every third receipt is resent, as a register does when its ack got lost.
                if fd % 3 == 0 {
                    send_one(path.server.local_addr(), &frame)
                        .await
                        .expect("ack again");
                }
                expected.insert(format!("ru:{fn_number}/{fd}"));
            }
        }

        eventually("every acknowledged receipt marked sent", || async {
            forward_states(&path.store).await == (0, expected.len() as i64, 0)
        })
        .await;
        let stats = path.sink.stats().await;
        assert_eq!(stats.documents, expected.len() as i64, "{stats:?}");
        assert_eq!((stats.duplicates, stats.rejected), (0, 0), "{stats:?}");
        let at_sink: BTreeSet<String> = path.sink.document_ids().await.into_iter().collect();
        assert_eq!(at_sink, expected);

        // Nothing but the container is stored; what arrived is the FNS JSON printed from it,
        // with the raw document, under its root name.
        let stored_json: Vec<String> = sqlx::query_scalar("SELECT json FROM documents")
            .fetch_all(path.store.pool())
            .await
            .unwrap();
        assert_eq!(stored_json.len(), expected.len());
        assert!(stored_json.iter().all(String::is_empty), "{stored_json:?}");
        let mut conn =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.sink_db.display()))
                .await
                .unwrap();
        let line: String = sqlx::query_scalar("SELECT line FROM sink_documents LIMIT 1")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        let line: serde_json::Value = serde_json::from_str(&line).unwrap();
        let root = line["document"].as_object().expect("document object");
        assert_eq!(root.len(), 1, "{line}");
        let body = root.values().next().unwrap();
        assert!(body.get("rawData").is_some(), "{line}");
        conn.close().await.ok();

        path.stop().await;
    })
    .await;
}

/// KZ documents keep only their frame (no JSON is printed on the ack path); what reaches the
/// tax authority is the message rendered from that frame: header without the token, the
/// decoded request, wrapped with the register's numbers and the fiscal sign.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kz_tickets_reach_the_sink_with_their_message_rendered_from_the_frame() {
    use kz_support::{register_kz, ticket, Kkm};
    use ofd_protocol::kz::OperationTypeEnum;
    use sqlx::Row as _;
    on_each_backend(|db| async move {
        let (system_id, token) = register_kz(&db.url, "KZ-FORWARD-1");
        let path = WholePath::start(&db).await;

        let mut kkm = Kkm::new(path.server.local_addr(), system_id, token);
        let mut signs = Vec::new();
        for tenge in [120u64, 345] {
            let reply = kkm.send(&ticket(OperationTypeEnum::Sell, tenge)).await;
            let answer = reply.response.ticket.expect("ticket response");
            signs.push((answer.ticket_number.expect("fiscal sign"), tenge));
        }
        eventually("both tickets marked sent", || async {
            forward_states(&path.store).await == (0, 2, 0)
        })
        .await;

        let rows = sqlx::query("SELECT doc_key, json, raw FROM documents WHERE dialect = 'kz'")
            .fetch_all(path.store.pool())
            .await
            .unwrap();
        assert_eq!(rows.len(), 2);
        for row in &rows {
            assert_eq!(
                row.get::<String, _>(1),
                "",
                "no JSON stored with a KZ frame"
            );
        }
        let mut conn =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.sink_db.display()))
                .await
                .unwrap();
        for (sign, tenge) in signs {
            let id = format!("kz:{system_id}/{sign}");
            let line: String =
                sqlx::query_scalar("SELECT line FROM sink_documents WHERE doc_id = $1")
                    .bind(&id)
                    .fetch_one(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{id} at the sink: {e}"));
            let line: serde_json::Value = serde_json::from_str(&line).unwrap();
            let document = &line["document"];
            assert_eq!(document["fiscalSign"], sign.as_str(), "{line}");
            assert_eq!(document["taxNumber"], "123456789012", "{line}");
            let message = &document["message"];
            assert_eq!(message["header"]["system_id"], system_id, "{line}");
            assert!(message["header"].get("token").is_none(), "{line}");
            assert_eq!(message["request"]["command"], 1, "{line}");
            assert_eq!(
                message["request"]["ticket"]["amounts"]["total"]["bills"], tenge,
                "{line}"
            );
            // The same text the protocol crate prints for the stored frame.
            let raw: Vec<u8> = rows
                .iter()
                .find(|r| r.get::<String, _>(0) == format!("{system_id}/{sign}"))
                .expect("stored document")
                .get(2);
            let rendered: serde_json::Value =
                serde_json::from_str(&ofd_protocol::kz::document_json(&raw).unwrap()).unwrap();
            assert_eq!(message, &rendered);
        }
        conn.close().await.ok();

        path.stop().await;
    })
    .await;
}

/// A loopback port with nothing listening on it.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ofd_all_ingests_forwards_and_sinks_in_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let (ingest, metrics, sink, forward_metrics, account) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let database = format!("sqlite://{}", dir.path().join("ofd.db").display());
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ofd"))
        .args(["all", "--accept-unregistered", "true", "--source-rate", "0"])
        .args(["--listen", &format!("127.0.0.1:{ingest}")])
        .args(["--metrics-listen", &format!("127.0.0.1:{metrics}")])
        .args(["--database", &database])
        .args(["--tax-sink-listen", &format!("127.0.0.1:{sink}")])
        .args([
            "--tax-sink-db",
            &dir.path().join("sink.db").display().to_string(),
        ])
        .args([
            "--forward-metrics-listen",
            &format!("127.0.0.1:{forward_metrics}"),
        ])
        .args(["--account-listen", &format!("127.0.0.1:{account}")])
        .env_remove("OFD_SINK_URL")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], ingest).into();
    eventually("ofd all to listen", || async {
        tokio::net::TcpStream::connect(addr).await.is_ok()
    })
    .await;
    for fd in 1..=10u32 {
        let reply = send_one(addr, &receipt_frame(&fn_number(9), fd, 100, None))
            .await
            .expect("ack");
        assert_eq!(ack_fields(&reply).code, 0);
    }
    let stats_url = format!("http://127.0.0.1:{sink}/stats");
    eventually("ten documents at the bundled sink", || async {
        let Ok(response) = reqwest::get(&stats_url).await else {
            return false;
        };
        let stats: ofd::sink::Stats =
            serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert_eq!((stats.duplicates, stats.rejected), (0, 0), "{stats:?}");
        stats.documents == 10
    })
    .await;
    let scrape = reqwest::get(format!("http://127.0.0.1:{forward_metrics}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        scrape.contains("ofd_forward_oldest_pending_age_seconds"),
        "{scrape}"
    );
    // The account API runs in the same process and refuses calls without a key.
    let registers = reqwest::get(format!("http://127.0.0.1:{account}/api/v1/registers"))
        .await
        .unwrap();
    assert_eq!(registers.status().as_u16(), 401);

    let pid = child.id().unwrap() as i32;
    std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait())
        .await
        .expect("ofd all stops on SIGINT")
        .unwrap();
    assert!(status.success(), "{status:?}");
}
