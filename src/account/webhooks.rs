//! Webhook deliveries of client alerts: an organisation's URL gets an HTTP POST with the alert
//! as JSON, signed with HMAC-SHA256 over the exact body bytes with the organisation's secret:
//!
//! ```text
//! POST <url>
//! Content-Type: application/json
//! X-Ofd-Delivery: <delivery id>          (the same on every retry: receivers deduplicate by it)
//! X-Ofd-Signature: sha256=<hex HMAC-SHA256(secret, body)>
//! ```
//!
//! Deliveries are rows written with the alert (`webhook_deliveries`), so none is lost to a
//! restart. A 2xx answer delivers; anything else is retried with a growing delay (the mail
//! sender's, 5 s doubling to 10 min) up to [`MAX_ATTEMPTS`], then given up; every attempt's
//! status and error stay in the delivery log the cabinet shows. Redirects are not followed (a
//! webhook that redirects elsewhere is a misconfiguration, and following it would let a URL
//! point the server at places its owner did not name). The secret never reaches a log.

use std::time::Duration;

use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use tokio_util::sync::CancellationToken;

use super::mailer::retry_delay;
use super::metrics::AccountMetrics;
use crate::clock::unix_millis;
use crate::store::Store;

/// Attempts before a delivery is given up.
pub const MAX_ATTEMPTS: i64 = 12;
/// How often due deliveries are looked for.
const POLL: Duration = Duration::from_millis(500);
/// Deliveries taken per poll.
const BATCH: i64 = 20;
/// Longest wait for one receiver's answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// `sha256=<hex>` of `body` under `secret`: the `X-Ofd-Signature` header.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Why a webhook URL is refused, naming the rule; `allow_http` admits plain http (labs).
pub fn check_url(url: &str, allow_http: bool) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => return Err("must be https (plain http is off on this server)".into()),
        other => return Err(format!("scheme {other:?} is not http(s)")),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("has no host".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry credentials; the signature authenticates us".into());
    }
    Ok(())
}

/// Send due deliveries until `shutdown`.
pub fn spawn(
    store: Store,
    metrics: AccountMetrics,
    shutdown: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let mut builder = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .use_rustls_tls();
    for root in system_roots() {
        builder = builder.add_root_certificate(root);
    }
    let client = builder.build()?;
    Ok(tokio::spawn(async move {
        loop {
            if let Err(error) = send_due(&store, &client, &metrics).await {
                tracing::warn!(%error, "webhook deliveries");
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }))
}

/// The system's trust roots for https webhooks (Debian's bundle).
fn system_roots() -> Vec<reqwest::Certificate> {
    let Ok(pem) = std::fs::read("/etc/ssl/certs/ca-certificates.crt") else {
        return Vec::new();
    };
    reqwest::Certificate::from_pem_bundle(&pem).unwrap_or_default()
}

async fn send_due(
    store: &Store,
    client: &reqwest::Client,
    metrics: &AccountMetrics,
) -> anyhow::Result<()> {
    for (delivery, secret) in store.due_webhooks(unix_millis(), BATCH).await? {
        let mut request = client
            .post(&delivery.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Ofd-Delivery", delivery.id.to_string());
        if let Some(secret) = &secret {
            request = request.header(
                "X-Ofd-Signature",
                signature(secret, delivery.body.as_bytes()),
            );
        }
        let answer = request.body(delivery.body.clone()).send().await;
        let (status, error) = match answer {
            Ok(response) if response.status().is_success() => {
                (Some(i64::from(response.status().as_u16())), None)
            }
            Ok(response) => (
                Some(i64::from(response.status().as_u16())),
                Some(format!("HTTP {}", response.status())),
            ),
            // The error chain names the host and the cause; the URL's query is not in it.
            Err(e) => (None, Some(crate::error_chain::render(&e.without_url()))),
        };
        let now = unix_millis();
        match error {
            None => {
                metrics
                    .webhook_deliveries
                    .with_label_values(&["delivered"])
                    .inc();
                store
                    .webhook_attempted(delivery.id, status, Ok(()), now)
                    .await?;
            }
            Some(error) => {
                let attempts = delivery.attempts + 1;
                let retry_at = (attempts < MAX_ATTEMPTS).then(|| {
                    now + i64::try_from(retry_delay(delivery.attempts).as_millis())
                        .unwrap_or(i64::MAX / 2)
                });
                let result = if retry_at.is_some() {
                    "retried"
                } else {
                    "failed"
                };
                metrics
                    .webhook_deliveries
                    .with_label_values(&[result])
                    .inc();
                tracing::info!(
                    delivery = delivery.id,
                    attempts,
                    error = %error,
                    "webhook delivery failed"
                );
                store
                    .webhook_attempted(delivery.id, status, Err((&error, retry_at)), now)
                    .await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn webhook_urls_are_https_without_credentials() {
        assert_eq!(check_url("https://hooks.example.com/ofd", false), Ok(()));
        assert!(check_url("http://hooks.example.com/ofd", false)
            .expect_err("http off")
            .contains("https"));
        assert_eq!(check_url("http://127.0.0.1:9/hook", true), Ok(()));
        assert!(check_url("ftp://x/y", true).is_err());
        assert!(check_url("https://user:pw@x/y", false)
            .expect_err("credentials")
            .contains("credentials"));
        assert!(check_url("not a url", false).is_err());
    }
}
