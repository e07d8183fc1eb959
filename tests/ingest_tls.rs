//! The TLS register port: registers through a real TLS handshake with certificates made by the
//! test (rcgen), client certificates that name registers, and a certificate reload on SIGHUP
//! that new connections see while an open connection carries on.

mod common;
mod ingest_support;
mod kz_support;
mod roles_support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::TestDb;
use ingest_support::*;
use ofd::ingest::Server;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use roles_support::Role;
use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// A CA with its key, able to sign further certificates.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let issuer =
            CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA");
        Ca { issuer }
    }

    /// A leaf for `names` (SANs) with subject CN `cn`: (certificate PEM, key PEM).
    fn leaf(&self, cn: &str, names: &[&str]) -> (String, String) {
        self.leaf_until(cn, names, 4096)
    }

    /// [`Ca::leaf`] valid until 1 January of `year`.
    fn leaf_until(&self, cn: &str, names: &[&str], year: i32) -> (String, String) {
        let key = KeyPair::generate().expect("key");
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("params");
        params.not_after = rcgen::date_time_ymd(year, 1, 1);
        params.distinguished_name.push(DnType::CommonName, cn);
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        (cert.pem(), key.serialize_pem())
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }
}

/// Write PEM files into `dir`: `name.pem` and `name.key`.
fn write_pair(dir: &Path, name: &str, (cert, key): &(String, String)) -> (PathBuf, PathBuf) {
    let cert_path = dir.join(format!("{name}.pem"));
    let key_path = dir.join(format!("{name}.key"));
    std::fs::write(&cert_path, cert).expect("write cert");
    std::fs::write(&key_path, key).expect("write key");
    (cert_path, key_path)
}

/// A TLS client that trusts `ca_pem` and presents `identity` when given.
fn connector(ca_pem: &str, identity: Option<&(String, String)>) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("root");
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(cert.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .expect("cert PEM"),
                PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key PEM"),
            )
            .expect("client auth"),
    };
    TlsConnector::from(Arc::new(config))
}

async fn tls_connect(
    connector: &TlsConnector,
    addr: std::net::SocketAddr,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").expect("name");
    tokio::time::timeout(STEP, connector.connect(name, tcp))
        .await
        .expect("handshake in time")
}

/// Send one RU frame and read its reply; `None` when the server closed instead.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    frame: &[u8],
) -> Option<Vec<u8>> {
    stream.write_all(frame).await.ok()?;
    tokio::time::timeout(STEP, async {
        let mut reply = vec![0u8; 30];
        stream.read_exact(&mut reply).await.ok()?;
        let len = usize::from(u16::from_le_bytes([reply[24], reply[25]]));
        reply.resize(30 + len, 0);
        stream.read_exact(&mut reply[30..]).await.ok()?;
        Some(reply)
    })
    .await
    .expect("answered or closed in time")
}

/// The DER of the certificate the server presented.
fn served_cert(stream: &TlsStream<TcpStream>) -> Vec<u8> {
    stream.get_ref().1.peer_certificates().expect("server cert")[0].to_vec()
}

fn pem_der(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .expect("PEM")
        .to_vec()
}

#[tokio::test]
async fn a_register_with_its_certificate_is_served_and_others_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new("ofd test registers CA");
    let server_ca = Ca::new("ofd test server CA");
    let (cert, key) = write_pair(dir.path(), "server", &server_ca.leaf("ofd", &["localhost"]));
    let ca_path = dir.path().join("clients.pem");
    std::fs::write(&ca_path, ca.pem()).expect("write CA");

    let db = TestDb::sqlite();
    let mut options = options(&db.url);
    options.ingest.tls_listen = Some("127.0.0.1:0".parse().expect("addr"));
    options.ingest.tls_cert = Some(cert);
    options.ingest.tls_key = Some(key);
    options.ingest.tls_client_ca = Some(ca_path);
    let server = Server::start(options.resolve().expect("valid"))
        .await
        .expect("start");
    let tls_addr = server.tls_addr().expect("TLS port");
    let register = fn_number(1);

    // The register's own certificate: the dialect sniff runs on the decrypted bytes.
    let own = ca.leaf(&register, &[]);
    let mut stream = tls_connect(&connector(&server_ca.pem(), Some(&own)), tls_addr)
        .await
        .expect("handshake");
    let ack = exchange(&mut stream, &receipt_frame(&register, 1, 100, None))
        .await
        .expect("acknowledged over TLS");
    assert_eq!(
        ack_fields(&ack),
        AckFields {
            fn_number: register.clone(),
            fd: 1,
            code: 0
        }
    );
    // The same connection carries the register's next document.
    let ack = exchange(&mut stream, &receipt_frame(&register, 2, 100, None))
        .await
        .expect("second document");
    assert_eq!(ack_fields(&ack).fd, 2);

    // A certificate from a CA the server does not trust: the handshake fails.
    let stranger = Ca::new("someone else").leaf(&register, &[]);
    let refused = match tls_connect(&connector(&server_ca.pem(), Some(&stranger)), tls_addr).await {
        Err(_) => true,
        // TLS 1.3: the client finishes first and learns of the refusal on its first read.
        Ok(mut stream) => exchange(&mut stream, &receipt_frame(&register, 3, 100, None))
            .await
            .is_none(),
    };
    assert!(refused, "a certificate of an untrusted CA was accepted");

    // No certificate at all: refused the same way.
    let refused = match tls_connect(&connector(&server_ca.pem(), None), tls_addr).await {
        Err(_) => true,
        Ok(mut stream) => exchange(&mut stream, &receipt_frame(&register, 3, 100, None))
            .await
            .is_none(),
    };
    assert!(refused, "a register without a certificate was accepted");

    // A trusted certificate of another register: the frame is dropped, the connection closed.
    let other = ca.leaf(&fn_number(2), &[]);
    let mut stream = tls_connect(&connector(&server_ca.pem(), Some(&other)), tls_addr)
        .await
        .expect("handshake with a trusted certificate");
    assert!(
        exchange(&mut stream, &receipt_frame(&register, 4, 100, None))
            .await
            .is_none(),
        "a frame of another register was answered"
    );

    let metrics = server.metrics_addr();
    assert_eq!(
        metric(
            metrics,
            r#"ofd_ingest_check_failures_total{check="client_certificate",dialect="ru"}"#
        )
        .await,
        1.0
    );
    assert!(
        metric(
            metrics,
            r#"ofd_ingest_connections_rejected_total{reason="tls_handshake"}"#
        )
        .await
            >= 2.0
    );
    assert_eq!(
        metric(
            metrics,
            r#"ofd_ingest_frames_total{dialect="ru",result="accepted"}"#
        )
        .await,
        2.0
    );
    // The plain port still serves hardware registers.
    let ack = send_one(
        server.local_addr(),
        &receipt_frame(&fn_number(3), 1, 100, None),
    )
    .await
    .expect("plain TCP");
    assert_eq!(ack_fields(&ack).code, 0);
    server.shutdown().await.expect("shutdown");
}

/// Send one KZ frame and read the reply's result code; `None` when the server closed instead.
async fn kz_exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    frame: &[u8],
) -> Option<u32> {
    use ofd_protocol::kz::{decode_response, Header, HEADER_LEN};
    stream.write_all(frame).await.ok()?;
    tokio::time::timeout(STEP, async {
        let mut head = [0u8; HEADER_LEN];
        stream.read_exact(&mut head).await.ok()?;
        let size = Header::decode(&head).expect("reply header").size as usize;
        let mut body = vec![0u8; size - HEADER_LEN];
        stream.read_exact(&mut body).await.ok()?;
        decode_response(&body).expect("response").result_code()
    })
    .await
    .expect("answered or closed in time")
}

#[tokio::test]
async fn a_kz_register_is_named_by_its_system_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new("ofd test registers CA");
    let server_ca = Ca::new("ofd test server CA");
    let (cert, key) = write_pair(dir.path(), "server", &server_ca.leaf("ofd", &["localhost"]));
    let ca_path = dir.path().join("clients.pem");
    std::fs::write(&ca_path, ca.pem()).expect("write CA");

    let db = TestDb::sqlite();
    let (system_id, token) = kz_support::register_kz(&db.url, "KZ-TLS-1");
    let mut options = options(&db.url);
    options.ingest.tls_listen = Some("127.0.0.1:0".parse().expect("addr"));
    options.ingest.tls_cert = Some(cert);
    options.ingest.tls_key = Some(key);
    options.ingest.tls_client_ca = Some(ca_path);
    let server = Server::start(options.resolve().expect("valid"))
        .await
        .expect("start");
    let tls_addr = server.tls_addr().expect("TLS port");
    let frame = kz_support::frame(system_id, token, 1, &kz_support::system(false));

    // A certificate naming another system id: dropped unanswered, nothing processed.
    let other = ca.leaf(&system_id.wrapping_add(1).to_string(), &[]);
    let mut stream = tls_connect(&connector(&server_ca.pem(), Some(&other)), tls_addr)
        .await
        .expect("handshake with a trusted certificate");
    assert_eq!(kz_exchange(&mut stream, &frame).await, None);

    // Its own certificate: the KZ exchange runs over TLS.
    let own = ca.leaf(&system_id.to_string(), &[]);
    let mut stream = tls_connect(&connector(&server_ca.pem(), Some(&own)), tls_addr)
        .await
        .expect("handshake");
    assert_eq!(
        kz_exchange(&mut stream, &frame).await,
        Some(ofd_protocol::kz::ResultTypeEnum::Ok.code())
    );
    assert_eq!(
        metric(
            server.metrics_addr(),
            r#"ofd_ingest_check_failures_total{check="client_certificate",dialect="kz"}"#
        )
        .await,
        1.0
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn sighup_serves_the_new_certificate_to_new_connections_while_an_old_one_finishes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new("ofd test server CA");
    let first = ca.leaf_until("ofd first", &["localhost"], 2030);
    let second = ca.leaf_until("ofd second", &["localhost"], 2031);
    let (cert, key) = write_pair(dir.path(), "server", &first);
    let db = TestDb::sqlite();
    let mut role = Role::spawn(
        &[
            "serve",
            "--database",
            &db.url,
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--tls-listen",
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().expect("utf-8"),
            "--tls-key",
            key.to_str().expect("utf-8"),
            "--accept-unregistered",
            "--source-rate",
            "0",
            "--ofd-inn",
            "7704358518",
        ],
        &[],
    );
    let tls_addr = role.logged_addr("ofd ingest serving", "tls_listen").await;
    let metrics = role.logged_addr("ofd ingest serving", "metrics").await;
    let client = connector(&ca.pem(), None);
    let register = fn_number(7);
    // The expiry alert reads the certificate in service: 2030-01-01T00:00:00Z.
    const EXPIRY: &str = r#"ofd_tls_certificate_expiry_timestamp_seconds{listener="ingest"}"#;
    assert_eq!(metric(metrics, EXPIRY).await, 1_893_456_000.0);

    let mut old = tls_connect(&client, tls_addr).await.expect("handshake");
    assert_eq!(served_cert(&old), pem_der(&first.0));
    let ack = exchange(&mut old, &receipt_frame(&register, 1, 100, None))
        .await
        .expect("first document");
    assert_eq!(ack_fields(&ack).fd, 1);

    // Replace the files, then SIGHUP, as certbot's deploy hook would.
    write_pair(dir.path(), "server", &second);
    let sent = std::process::Command::new("kill")
        .args(["-HUP", &role.pid().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    role.wait_for("TLS certificate reloaded", Duration::from_secs(10))
        .await;

    // A fresh client, so that no resumed session stands in for a full handshake.
    let mut new = tls_connect(&connector(&ca.pem(), None), tls_addr)
        .await
        .expect("handshake");
    assert_eq!(served_cert(&new), pem_der(&second.0), "new certificate");
    assert_eq!(metric(metrics, EXPIRY).await, 1_924_992_000.0, "2031-01-01");
    let ack = exchange(&mut new, &receipt_frame(&fn_number(8), 1, 100, None))
        .await
        .expect("new connection served");
    assert_eq!(ack_fields(&ack).code, 0);

    // The connection opened before the reload was not dropped and finishes its work.
    let ack = exchange(&mut old, &receipt_frame(&register, 2, 100, None))
        .await
        .expect("old connection still served");
    assert_eq!(ack_fields(&ack).fd, 2);
    assert_eq!(served_cert(&old), pem_der(&first.0));

    // A broken pair on reload keeps the current certificate in service.
    std::fs::write(&key, first.1.as_bytes()).expect("mismatched key");
    let sent = std::process::Command::new("kill")
        .args(["-HUP", &role.pid().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    role.wait_for(
        "TLS certificate reload failed; the previous certificate stays in service",
        Duration::from_secs(10),
    )
    .await;
    let mut after = tls_connect(&connector(&ca.pem(), None), tls_addr)
        .await
        .expect("handshake");
    assert_eq!(served_cert(&after), pem_der(&second.0));
    drop(after.shutdown().await);
    drop((old, new));

    let (status, _logs) = role.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");
}
