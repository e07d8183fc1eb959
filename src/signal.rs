//! The stop signal every long-running role obeys: ctrl-c, or SIGTERM (what systemd and container
//! runtimes send) where there are signals.

/// Resolves on ctrl-c, or on SIGTERM where there are signals.
pub async fn shutdown_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    Ok(())
}
