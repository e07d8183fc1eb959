//! Idle-connection mode: open many connections that send nothing, hold them, and report the
//! server's resident memory before and after — the "memory per idle connection" figure.
//!
//! A GPRS register that connected and stalled costs the server a socket, a task and buffers; this
//! mode measures exactly that and nothing else. RSS is read from `/proc/<pid>/status` (Linux).

use std::time::Duration;

use anyhow::Context;
use futures::stream::{self, StreamExt};
use serde::Serialize;
use tokio::net::TcpStream;

/// Connections opened at once while building up the idle set (stays under listen backlogs).
const OPEN_IN_PARALLEL: usize = 256;

/// Result of an idle-connection run.
#[derive(Debug, Serialize)]
struct IdleReport {
    target: String,
    requested: usize,
    opened: usize,
    still_open_at_end: usize,
    held_s: f64,
    server_rss_before_kib: Option<u64>,
    server_rss_held_kib: Option<u64>,
    server_rss_per_connection_bytes: Option<f64>,
}

/// Hold `count` idle connections to `target` for `hold`, then print the report.
pub async fn run(
    target: &str,
    count: usize,
    hold: Duration,
    server_pid: Option<u32>,
    json: bool,
) -> anyhow::Result<()> {
    let rss_before = server_pid.map(resident_kib).transpose()?;
    let connections: Vec<TcpStream> = stream::iter(0..count)
        .map(|_| TcpStream::connect(target))
        .buffer_unordered(OPEN_IN_PARALLEL)
        .filter_map(|connected| async move { connected.ok() })
        .collect()
        .await;
    let opened = connections.len();
    tokio::time::sleep(hold).await;
    let rss_held = server_pid.map(resident_kib).transpose()?;
    let still_open_at_end = connections.iter().filter(|stream| is_open(stream)).count();
    let per_connection = match (rss_before, rss_held) {
        (Some(before), Some(held)) if opened > 0 => {
            Some((held.saturating_sub(before) * 1024) as f64 / opened as f64)
        }
        _ => None,
    };
    let report = IdleReport {
        target: target.to_owned(),
        requested: count,
        opened,
        still_open_at_end,
        held_s: hold.as_secs_f64(),
        server_rss_before_kib: rss_before,
        server_rss_held_kib: rss_held,
        server_rss_per_connection_bytes: per_connection,
    };
    drop(connections);
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "idle connections: {opened}/{count} opened, {still_open_at_end} still open after {:.1} s",
            report.held_s
        );
        if let (Some(before), Some(held)) = (rss_before, rss_held) {
            println!(
                "server RSS: {before} KiB before, {held} KiB held, {:.0} bytes per connection",
                per_connection.unwrap_or(0.0)
            );
        }
    }
    Ok(())
}

/// A connection the server has not closed: reading would block (nothing sent, no EOF).
fn is_open(stream: &TcpStream) -> bool {
    let mut probe = [0u8; 1];
    matches!(stream.try_read(&mut probe), Err(error) if error.kind() == std::io::ErrorKind::WouldBlock)
}

/// Resident set size of a process in KiB, from `/proc/<pid>/status`.
fn resident_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS line in /proc/<pid>/status")
}
