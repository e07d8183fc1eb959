//! Logging set-up shared by every subcommand.

use tracing_subscriber::EnvFilter;

/// Install the global tracing subscriber: `RUST_LOG` filters (default `info`), text or JSON lines
/// on stderr so that stdout stays free for a tool's own output (`decode`, `register --json`).
pub fn init_logging(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
