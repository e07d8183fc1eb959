//! The stop signal every long-running role obeys: ctrl-c, or SIGTERM (what systemd and container
//! runtimes send) where there are signals.
//!
//! [`install`] catches both from the moment it is called and remembers that one came, so a
//! signal that arrives while a role is still starting — after it has said it is listening, before
//! it waits for the signal — neither kills the process unannounced nor is lost: the role drains
//! as soon as it gets to [`shutdown_signal`]. `ofd` installs it at start for the long-running
//! roles only; the tools keep ctrl-c's default.

use std::sync::OnceLock;

use tokio_util::sync::CancellationToken;

/// Cancelled once a stop signal has arrived.
static STOP: OnceLock<CancellationToken> = OnceLock::new();

/// Catch ctrl-c and SIGTERM from now on (inside a tokio runtime); calling it again does nothing.
pub fn install() -> anyhow::Result<()> {
    let token = CancellationToken::new();
    if STOP.set(token.clone()).is_err() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = interrupt.recv() => {}
            }
            token.cancel();
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        token.cancel();
    });
    Ok(())
}

/// Resolves once ctrl-c or SIGTERM has arrived (since [`install`], which this calls if needed).
pub async fn shutdown_signal() -> anyhow::Result<()> {
    install()?;
    if let Some(stop) = STOP.get() {
        stop.cancelled().await;
    }
    Ok(())
}
