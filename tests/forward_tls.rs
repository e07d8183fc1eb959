//! HTTPS between the forwarder and `ofd tax-sink` with certificates made on the spot: the
//! forwarder trusts only the configured CA and presents a client certificate the sink requires.

mod common;
mod forward_support;

use std::path::Path;

use common::TestDb;
use forward_support::*;
use ofd::sink::{self, SinkConfig};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio_util::sync::CancellationToken;

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    /// A CA, a server certificate for localhost/127.0.0.1 and a client certificate, as PEM files.
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        write("ca.pem", ca.pem());
        for (name, names) in [
            (
                "server",
                vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
            ),
            ("client", vec!["ofd-forwarder".to_owned()]),
        ] {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(names)
                .unwrap()
                .signed_by(&key, &ca)
                .unwrap();
            write(&format!("{name}.pem"), cert.pem());
            write(&format!("{name}.key"), key.serialize_pem());
        }
        Pki { dir }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

async fn start_tls_sink(pki: &Pki, db: &Path) -> (String, CancellationToken) {
    let mut args = SinkConfig::new(([127, 0, 0, 1], 0).into(), db.to_owned());
    args.tls_cert = Some(pki.path("server.pem"));
    args.tls_key = Some(pki.path("server.key"));
    args.tls_client_ca = Some(pki.path("ca.pem"));
    let shutdown = CancellationToken::new();
    let running = sink::spawn(&args, shutdown.clone()).await.unwrap();
    let url = format!(
        "https://localhost:{}{}",
        running.addr.port(),
        ofd::tax_batch::BATCHES_PATH
    );
    (url, shutdown)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_over_mutual_tls() {
    let pki = Pki::new();
    let db = TestDb::sqlite();
    let store = db.open().await;
    let dir = tempfile::tempdir().unwrap();
    let (url, shutdown) = start_tls_sink(&pki, &dir.path().join("sink.db")).await;

    let mut options = fast_options(&url);
    options.sink_ca = Some(pki.path("ca.pem"));
    options.sink_client_cert = Some(pki.path("client.pem"));
    options.sink_client_key = Some(pki.path("client.key"));
    let forwarder = TestForwarder::start(&options, &store);
    ingest(&store, ru_documents("9999078900001234", 1, 25)).await;
    eventually("every document marked sent", || async {
        forward_states(&store).await == (0, 25, 0)
    })
    .await;
    forwarder.stop().await;
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_client_certificate_nothing_is_marked_sent() {
    let pki = Pki::new();
    let db = TestDb::sqlite();
    let store = db.open().await;
    let dir = tempfile::tempdir().unwrap();
    let (url, shutdown) = start_tls_sink(&pki, &dir.path().join("sink.db")).await;

    let mut options = fast_options(&url);
    options.sink_ca = Some(pki.path("ca.pem"));
    let forwarder = TestForwarder::start(&options, &store);
    ingest(&store, ru_documents("9999078900001234", 1, 5)).await;
    eventually("failed sends", || async {
        forwarder.metric("ofd_forward_batches_total") >= 2.0
    })
    .await;
    assert_eq!(forward_states(&store).await, (5, 0, 0));
    forwarder.stop().await;
    shutdown.cancel();
}

#[test]
fn plain_http_only_to_loopback() {
    let mut options = fast_options("http://192.0.2.1/v1/batches");
    let db = TestDb::sqlite();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = db.open().await;
        let registry = prometheus::Registry::new();
        let refused =
            ofd::forward::spawn(&options, &store, &registry, CancellationToken::new()).err();
        assert!(refused.unwrap().to_string().contains("loopback"));
        options.sink_url = "http://[::1]:8480/v1/batches".into();
        assert!(ofd::forward::spawn(
            &options,
            &store,
            &prometheus::Registry::new(),
            CancellationToken::new()
        )
        .is_ok());
    });
}
