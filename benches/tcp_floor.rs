//! The ceiling that loopback TCP itself puts on "one connection per document" on this machine:
//! a server that does nothing but accept, read a 466-byte frame, answer 100 bytes and close,
//! and a client of 1,000 concurrent connections doing the same exchange 20,000 times, both in
//! this process on the same cores — the shape of `ofd emulate` against `ofd serve`, without
//! parsing, storage or acknowledgements. What it prints is an upper bound for the end-to-end
//! figure in benches/README.md: no server can ack faster than this machine can connect.
//!
//!     cargo bench --bench tcp_floor
//!
//! Not a criterion bench: one run takes seconds and the figure of interest is connections per
//! second together with the CPU time (user and kernel) each connection cost.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

const CONNECTIONS: usize = 20_000;
const CONCURRENCY: usize = 1_000;
const REQUEST: usize = 466;
const REPLY: usize = 100;

fn main() -> std::io::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(run())
}

async fn run() -> std::io::Result<()> {
    let socket = TcpSocket::new_v4()?;
    socket.bind("127.0.0.1:0".parse().map_err(std::io::Error::other)?)?;
    let listener = socket.listen(4096)?;
    let addr = listener.local_addr()?;
    tokio::spawn(serve(listener));

    let cpu_before = cpu_seconds()?;
    let started = Instant::now();
    let remaining = Arc::new(AtomicUsize::new(CONNECTIONS));
    let clients: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let remaining = Arc::clone(&remaining);
            tokio::spawn(async move {
                while take_one(&remaining) {
                    exchange(addr).await?;
                }
                std::io::Result::Ok(())
            })
        })
        .collect();
    for client in clients {
        client.await.map_err(std::io::Error::other)??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (user, system) = cpu_seconds()?;
    let (user, system) = (user - cpu_before.0, system - cpu_before.1);
    let per_connection_us = |seconds: f64| seconds / CONNECTIONS as f64 * 1e6;
    println!(
        "tcp_floor: {CONNECTIONS} connections, {CONCURRENCY} concurrent, {elapsed:.2} s = \
         {:.0} connections/s; CPU user {user:.2} s + kernel {system:.2} s = {:.0} µs user + {:.0} µs \
         kernel per connection (client and server together)",
        CONNECTIONS as f64 / elapsed,
        per_connection_us(user),
        per_connection_us(system),
    );
    Ok(())
}

fn take_one(remaining: &AtomicUsize) -> bool {
    remaining
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok()
}

/// One register's visit: connect, send a frame, read the answer, close.
async fn exchange(addr: std::net::SocketAddr) -> std::io::Result<()> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    stream.write_all(&[0x2a; REQUEST]).await?;
    let mut reply = [0u8; REPLY];
    stream.read_exact(&mut reply).await?;
    stream.shutdown().await
}

/// The server side: accept, read the frame, answer, wait for the client's close.
async fn serve(listener: TcpListener) {
    while let Ok((mut stream, _)) = listener.accept().await {
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let mut frame = [0u8; REQUEST];
            if stream.read_exact(&mut frame).await.is_ok() {
                let _ = stream.write_all(&[0x07; REPLY]).await;
                let mut rest = [0u8; 16];
                let _ = stream.read(&mut rest).await;
            }
        });
    }
}

/// User and kernel CPU seconds of this process so far (from /proc/self/stat, Linux).
fn cpu_seconds() -> std::io::Result<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| -> std::io::Result<f64> {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .ok_or_else(|| std::io::Error::other("unexpected /proc/self/stat"))
    };
    // Field 14 is at index 11 after the name (fields 3.. start at index 0); 100 ticks/s.
    Ok((ticks(11)? / 100.0, ticks(12)? / 100.0))
}
