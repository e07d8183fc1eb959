//! TLS for every listener that serves it: the ingest server's TLS port, the account API and the
//! stand-in tax sink. A leaf: it knows no role.
//!
//! - rustls on the ring provider, TLS 1.2 and 1.3 with rustls' safe defaults.
//! - The certificate chain and key are PEM files, read at start and again on every SIGHUP
//!   ([`ReloadableCert`], [`reload_on_sighup`]): a handshake picks whichever pair is current, so
//!   new connections get the new certificate while connections already open keep theirs and
//!   are never dropped. A pair that fails to load (unreadable, key does not match) is logged
//!   and the previous pair stays in service.
//! - With a client CA bundle, a client must present a certificate chaining to it; the bundle is
//!   read at start only. [`client_name`] gives the leaf certificate's subject common name, which
//!   the ingest server compares with the register each frame names.
//! - [`TlsListener`] turns a TCP listener into one axum can serve: handshakes run in tasks of
//!   their own and finished streams are handed over through a channel, so one slow or broken
//!   client cannot hold up the accept loop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::{net::TcpListener, sync::mpsc};
use tokio_rustls::{server::TlsStream, TlsAcceptor};
use tokio_util::sync::CancellationToken;

/// How long a client may take to finish its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The PEM files of one TLS listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Our certificate chain, leaf first.
    pub cert: PathBuf,
    /// The leaf's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CA certificates a client certificate must chain to; `None`: no client certificates.
    pub client_ca: Option<PathBuf>,
}

impl TlsFiles {
    /// The files from a role's three options: `cert` and `key` together or neither, and a client
    /// CA only with them. `Err` carries the missing option's name as the role spells it.
    pub fn from_options(
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
        client_ca: Option<PathBuf>,
    ) -> Result<Option<TlsFiles>, &'static str> {
        match (cert, key) {
            (Some(cert), Some(key)) => Ok(Some(TlsFiles {
                cert,
                key,
                client_ca,
            })),
            (None, None) if client_ca.is_none() => Ok(None),
            (Some(_), None) => Err("tls_key"),
            (None, _) => Err("tls_cert"),
        }
    }
}

/// The certificate and key a handshake uses, swapped whole on reload.
#[derive(Debug)]
pub struct ReloadableCert {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

impl ReloadableCert {
    /// Load the pair now.
    pub fn load(cert: &Path, key: &Path) -> anyhow::Result<ReloadableCert> {
        Ok(ReloadableCert {
            current: RwLock::new(Arc::new(certified_key(cert, key)?)),
            cert: cert.to_owned(),
            key: key.to_owned(),
        })
    }

    /// Read the files again and serve the new pair to handshakes from now on. On failure the
    /// pair in service stays.
    pub fn reload(&self) -> anyhow::Result<()> {
        let fresh = Arc::new(certified_key(&self.cert, &self.key)?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }

    /// The certificate file, for log lines.
    pub fn cert_path(&self) -> &Path {
        &self.cert
    }
}

impl ResolvesServerCert for ReloadableCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

fn certified_key(cert: &Path, key: &Path) -> anyhow::Result<CertifiedKey> {
    let chain = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("parsing {}", cert.display()))?;
    anyhow::ensure!(!chain.is_empty(), "{} holds no certificate", cert.display());
    // The key's path is named, never its contents.
    let der =
        PrivateKeyDer::from_pem_file(key).with_context(|| format!("reading {}", key.display()))?;
    let signing = rustls::crypto::ring::default_provider()
        .key_provider
        .load_private_key(der)
        .with_context(|| format!("loading the key in {}", key.display()))?;
    let pair = CertifiedKey::new(chain, signing);
    pair.keys_match().with_context(|| {
        format!(
            "the key in {} does not belong to the certificate in {}",
            key.display(),
            cert.display()
        )
    })?;
    Ok(pair)
}

/// A server configuration and the handle that reloads its certificate.
pub struct ServerTls {
    /// For the acceptor.
    pub config: Arc<rustls::ServerConfig>,
    /// Swap the certificate and key ([`reload_on_sighup`]).
    pub cert: Arc<ReloadableCert>,
}

impl ServerTls {
    /// Build from the files; `alpn` lists the application protocols offered (`http/1.1` for the
    /// HTTP listeners, none for the register port).
    pub fn new(files: &TlsFiles, alpn: &[&[u8]]) -> anyhow::Result<ServerTls> {
        let cert = Arc::new(ReloadableCert::load(&files.cert, &files.key)?);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let builder = match &files.client_ca {
            None => builder.with_no_client_auth(),
            Some(path) => {
                let mut roots = rustls::RootCertStore::empty();
                for ca in CertificateDer::pem_file_iter(path)
                    .with_context(|| format!("reading {}", path.display()))?
                {
                    roots.add(ca.with_context(|| format!("parsing {}", path.display()))?)?;
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .with_context(|| format!("client CA bundle {}", path.display()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_cert_resolver(cert.clone());
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(ServerTls {
            config: Arc::new(config),
            cert,
        })
    }

    /// An acceptor over this configuration.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.config.clone())
    }
}

/// Reload `cert` on every SIGHUP until `stop` is cancelled; `listener` names it in the log.
/// Without a certificate the signal is only logged: `systemctl reload` must never kill a role
/// (SIGHUP's default action) that happens to serve no TLS.
pub fn reload_on_sighup(
    cert: Option<Arc<ReloadableCert>>,
    listener: &'static str,
    stop: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangup = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
        Ok(tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    received = hangup.recv() => if received.is_none() { return },
                }
                let Some(cert) = &cert else {
                    tracing::info!(listener, "SIGHUP: no TLS certificate to reload");
                    continue;
                };
                match cert.reload() {
                    Ok(()) => tracing::info!(
                        listener,
                        cert = %cert.cert_path().display(),
                        "TLS certificate reloaded"
                    ),
                    Err(error) => tracing::error!(
                        listener,
                        error = %crate::error_chain::render(error.as_ref()),
                        "TLS certificate reload failed; the previous certificate stays in service"
                    ),
                }
            }
        }))
    }
    #[cfg(not(unix))]
    {
        let _ = (cert, listener);
        Ok(tokio::spawn(async move { stop.cancelled().await }))
    }
}

impl ReloadableCert {
    /// When the leaf certificate now in service expires (Unix seconds).
    pub fn not_after(&self) -> Option<i64> {
        let current = self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let leaf = current.cert.first()?;
        let (_, parsed) = x509_parser::parse_x509_certificate(leaf.as_ref()).ok()?;
        Some(parsed.validity().not_after.timestamp())
    }
}

/// `ofd_tls_certificate_expiry_timestamp_seconds{listener}`: read from the certificate in
/// service at every scrape, so a SIGHUP reload shows at once and the expiry alert clears.
pub struct CertificateExpiry {
    cert: Arc<ReloadableCert>,
    gauge: prometheus::IntGaugeVec,
    listener: &'static str,
}

impl CertificateExpiry {
    /// Export the expiry of `cert`, served on `listener` (a fixed name such as `ingest`).
    pub fn new(
        cert: Arc<ReloadableCert>,
        listener: &'static str,
    ) -> prometheus::Result<CertificateExpiry> {
        let gauge = prometheus::IntGaugeVec::new(
            prometheus::Opts::new(
                "ofd_tls_certificate_expiry_timestamp_seconds",
                "When the TLS certificate in service expires (Unix time).",
            ),
            &["listener"],
        )?;
        Ok(CertificateExpiry {
            cert,
            gauge,
            listener,
        })
    }
}

impl prometheus::core::Collector for CertificateExpiry {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        self.gauge.desc()
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        if let Some(at) = self.cert.not_after() {
            self.gauge.with_label_values(&[self.listener]).set(at);
        }
        self.gauge.collect()
    }
}

/// The subject common name of the client's leaf certificate, when it sent one.
pub fn client_name<S>(stream: &TlsStream<S>) -> Option<String> {
    let leaf = stream.get_ref().1.peer_certificates()?.first()?;
    let (_, parsed) = x509_parser::parse_x509_certificate(leaf.as_ref()).ok()?;
    let name = parsed
        .subject()
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_owned();
    Some(name)
}

/// A listener that yields TLS streams whose handshake has completed.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<tokio::net::TcpStream>, SocketAddr)>,
    local_addr: SocketAddr,
}

impl TlsListener {
    /// Accept on `tcp` and handshake with `acceptor` in the background.
    pub fn new(tcp: TcpListener, acceptor: TlsAcceptor) -> std::io::Result<Self> {
        let local_addr = tcp.local_addr()?;
        let (sender, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                // Stop (and free the port) as soon as the server side is gone.
                let accepted = tokio::select! {
                    _ = sender.closed() => return,
                    accepted = tcp.accept() => accepted,
                };
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let handoff = sender.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = handoff.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::info!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::info!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self { ready, local_addr })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accept task ends only when this listener is gone; nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}
