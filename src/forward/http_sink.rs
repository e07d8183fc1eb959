//! The HTTP(S) destination: POST a gzip JSON-lines batch, read the per-batch reply.
//!
//! TLS is rustls on the ring provider with no built-in roots: the authority's CA is configured
//! explicitly (`--sink-ca`), and a client certificate can be presented (`--sink-client-cert`,
//! `--sink-client-key`). Plain HTTP is accepted only for loopback addresses, i.e. tests and a
//! local `ofd tax-sink`.

use std::{net::IpAddr, path::PathBuf, time::Duration};

use anyhow::{bail, Context};
use reqwest::{StatusCode, Url};

use super::send_error::SendError;
use crate::error_chain;
use crate::secret::Secret;
use crate::tax_batch::{BatchReply, BATCH_ID_HEADER, CONTENT_TYPE};

/// TLS material for the HTTP destination (PEM files).
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    /// CA certificates that sign the receiver's certificate.
    pub ca: Option<PathBuf>,
    /// Our client certificate chain, for mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// The private key of the client certificate.
    pub client_key: Option<PathBuf>,
}

/// A configured HTTP(S) receiver.
pub struct HttpSink {
    client: reqwest::Client,
    url: Url,
    token: Option<Secret>,
}

impl HttpSink {
    /// Build the client. Fails on unreadable TLS files or plain HTTP to a non-loopback host.
    /// `token`, if any, goes out as `Authorization: Bearer …` (a header marked sensitive).
    pub fn new(
        url: &str,
        tls: &TlsFiles,
        timeout: Duration,
        token: Option<Secret>,
    ) -> anyhow::Result<Self> {
        let url = Url::parse(url)
            .with_context(|| format!("sink URL {}", crate::url_redact::redact_url(url)))?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => bail!(
                "plain HTTP is only allowed to loopback hosts; use https for {}",
                crate::url_redact::redacted(&url)
            ),
            other => bail!("unsupported sink URL scheme {other:?}"),
        }
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(30));
        if let Some(path) = &tls.ca {
            let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("parsing CA bundle {}", path.display()))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        match (&tls.client_cert, &tls.client_key) {
            (Some(cert), Some(key)) => {
                let mut pem =
                    std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?;
                pem.push(b'\n');
                pem.extend(
                    std::fs::read(key).with_context(|| format!("reading {}", key.display()))?,
                );
                let identity = reqwest::Identity::from_pem(&pem)
                    .context("parsing the client certificate and key")?;
                builder = builder.identity(identity);
            }
            (None, None) => {}
            _ => bail!("a client certificate needs both --sink-client-cert and --sink-client-key"),
        }
        let client = builder.build().context("building the HTTPS client")?;
        Ok(Self { client, url, token })
    }

    /// The endpoint.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// POST one compressed batch; a positive answer is a 200 whose body parses and names this
    /// batch. Anything short of that (including a body cut off after the status line) is not an
    /// answer, and the batch will be resent under the same id.
    pub async fn send(&self, batch_id: &str, body: Vec<u8>) -> Result<BatchReply, SendError> {
        let mut request = self.client.post(self.url.clone());
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose());
        }
        let response = request
            .header(BATCH_ID_HEADER, batch_id)
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .header(reqwest::header::CONTENT_ENCODING, "gzip")
            .body(body)
            .send()
            .await
            .map_err(|e| SendError::Transient(error_chain::render(&e.without_url())))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| {
            SendError::Transient(format!(
                "reading the answer: {}",
                error_chain::render(&e.without_url())
            ))
        })?;
        if status == StatusCode::OK {
            let reply: BatchReply = serde_json::from_slice(&bytes)
                .map_err(|e| SendError::Transient(format!("unreadable answer: {e}")))?;
            if reply.batch_id != batch_id {
                return Err(SendError::Transient(format!(
                    "answer names batch {} instead",
                    reply.batch_id
                )));
            }
            return Ok(reply);
        }
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(500)]).into_owned();
        let message = format!("HTTP {status}: {text}");
        if status.is_server_error()
            || status == StatusCode::REQUEST_TIMEOUT
            || status == StatusCode::TOO_MANY_REQUESTS
            || !status.is_client_error()
        {
            Err(SendError::Transient(message))
        } else {
            Err(SendError::Refused {
                status: status.as_u16(),
                message: text,
            })
        }
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}
