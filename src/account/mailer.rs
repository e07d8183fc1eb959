//! The outgoing mail sender: takes due messages from the `mail_outbox` table and sends them by
//! SMTP (`lettre`) when the service has `--smtp-url`; without one, messages wait in the table.
//! A message that fails is tried again with a growing delay. Mail bodies may hold one-time
//! links, so they are never logged, and the store blanks them once sent.

use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use tokio_util::sync::CancellationToken;

use crate::clock::unix_millis;
use crate::secret::Secret;
use crate::store::{QueuedMail, Store};

/// How often the outbox is polled.
const POLL: Duration = Duration::from_millis(500);
/// Messages taken per poll.
const BATCH: i64 = 20;
/// Longest delay between two attempts at one message.
const MAX_RETRY: Duration = Duration::from_secs(600);

/// The delay before attempt `attempts + 1` of a message: 5 s doubling, at most [`MAX_RETRY`].
pub fn retry_delay(attempts: i64) -> Duration {
    let exponent = u32::try_from(attempts.clamp(0, 16)).unwrap_or(16);
    (Duration::from_secs(5) * 2u32.pow(exponent)).min(MAX_RETRY)
}

/// Send the outbox by SMTP until `shutdown`; `None` when no SMTP URL is set.
pub fn spawn(
    store: Store,
    smtp_url: Option<&Secret>,
    from: &str,
    shutdown: CancellationToken,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(url) = smtp_url else {
        return Ok(None);
    };
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
        .map_err(|e| anyhow::anyhow!("--smtp-url: {e}"))?
        .build();
    let from: Mailbox = from
        .parse()
        .map_err(|e| anyhow::anyhow!("--mail-from: {e}"))?;
    Ok(Some(tokio::spawn(async move {
        loop {
            if let Err(error) = send_due(&store, &transport, &from).await {
                tracing::warn!(error = %error, "mail outbox");
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    })))
}

async fn send_due(
    store: &Store,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    from: &Mailbox,
) -> anyhow::Result<()> {
    for mail in store.due_mail(unix_millis(), BATCH).await? {
        match send_one(transport, from, &mail).await {
            Ok(()) => {
                store.mail_sent(mail.id, unix_millis()).await?;
                tracing::info!(mail_id = mail.id, "mail sent");
            }
            Err(error) => {
                let retry = retry_delay(mail.attempts);
                let retry_at = unix_millis() + i64::try_from(retry.as_millis()).unwrap_or(0);
                store
                    .mail_failed(mail.id, &error.to_string(), retry_at)
                    .await?;
                tracing::warn!(mail_id = mail.id, error = %error, "mail not sent; will retry");
            }
        }
    }
    Ok(())
}

async fn send_one(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    from: &Mailbox,
    mail: &QueuedMail,
) -> anyhow::Result<()> {
    let message = Message::builder()
        .from(from.clone())
        .to(mail.to.parse()?)
        .subject(&mail.subject)
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body.clone())?;
    transport.send(message).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_a_ceiling() {
        assert_eq!(retry_delay(0), Duration::from_secs(5));
        assert_eq!(retry_delay(1), Duration::from_secs(10));
        assert_eq!(retry_delay(50), MAX_RETRY);
    }
}
