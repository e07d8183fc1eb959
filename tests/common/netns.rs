//! Separate hosts on one machine: each [`Host`] is a Linux network namespace joined to the test's
//! own namespace by a veth pair on a /30 of its own (the test side is `.1`, the host `.2`), so
//! processes started in it ([`Host::command`]) have their own address, their own loopback and
//! their own ports, and reach the test only through that link. [`Relay`] plays the database
//! host: the shared PostgreSQL listens on loopback only, so each namespace reaches it through a
//! byte relay bound to the test side of its link.
//!
//! A process in a namespace that must see a peer on its own loopback (the forwarder sends plain
//! HTTP only to loopback hosts) gets one through [`Host::loopback_relay`].
//!
//! Needs `ip netns` (root or CAP_NET_ADMIN); [`available`] says whether it works here, and tests
//! skip with a message when it does not. A namespace and its veth pair are removed on drop.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command as StdCommand;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::net::TcpListener;

static NEXT: AtomicU32 = AtomicU32::new(0);

fn ip(args: &[&str]) -> bool {
    StdCommand::new("ip")
        .args(args)
        .output()
        .map(|out| out.status.success())
        .unwrap_or(false)
}

fn ip_ok(args: &[&str]) {
    let out = StdCommand::new("ip").args(args).output().expect("run ip");
    assert!(out.status.success(), "ip {args:?}: {out:?}");
}

/// Whether network namespaces can be made here (tries one and removes it).
pub fn available() -> bool {
    let probe = format!("ofdprobe{}", std::process::id());
    if !ip(&["netns", "add", &probe]) {
        return false;
    }
    ip(&["netns", "delete", &probe]);
    true
}

/// One simulated host: a network namespace with one address.
pub struct Host {
    /// Namespace name.
    pub name: String,
    /// The host's own address (inside the namespace).
    pub addr: Ipv4Addr,
    /// The test side of the link (reachable from inside the namespace).
    pub gateway: Ipv4Addr,
    outer: String,
}

impl Host {
    /// Make a namespace with a veth link to the test's namespace.
    pub fn create() -> Host {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let name = format!("ofd{pid}n{n}");
        // Interface names are at most 15 bytes.
        let outer = format!("ofo{}x{n}", pid % 100_000);
        let inner = format!("ofi{}x{n}", pid % 100_000);
        // A /30 per host: 10.(100 + pid % 100).(n / 64).(n % 64 * 4).
        let (b, c, d) = (100 + (pid % 100) as u8, (n / 64) as u8, (n % 64 * 4) as u8);
        let gateway = Ipv4Addr::new(10, b, c, d + 1);
        let addr = Ipv4Addr::new(10, b, c, d + 2);
        ip_ok(&["netns", "add", &name]);
        let host = Host {
            name: name.clone(),
            addr,
            gateway,
            outer: outer.clone(),
        };
        ip_ok(&[
            "link", "add", &outer, "type", "veth", "peer", "name", &inner,
        ]);
        ip_ok(&["link", "set", &inner, "netns", &name]);
        ip_ok(&["addr", "add", &format!("{gateway}/30"), "dev", &outer]);
        ip_ok(&["link", "set", &outer, "up"]);
        let inside = |args: &[&str]| {
            let mut all = vec!["netns", "exec", &name, "ip"];
            all.extend_from_slice(args);
            ip_ok(&all);
        };
        inside(&["addr", "add", &format!("{addr}/30"), "dev", &inner]);
        inside(&["link", "set", &inner, "up"]);
        inside(&["link", "set", "lo", "up"]);
        host
    }

    /// `program` to be run inside this host's namespace.
    pub fn command(&self, program: &str) -> tokio::process::Command {
        let mut command = tokio::process::Command::new("ip");
        // `ip netns exec` execs the program: the child's pid is the program's own.
        command.args(["netns", "exec", &self.name, program]);
        command
    }
}

impl Host {
    /// A listener on this host's own loopback (127.0.0.1, any port) whose connections the test
    /// relays to `target` in the test's namespace; returns the port. The socket is made by a
    /// thread that joins the namespace (setns(2)) for just that: a socket stays in the
    /// namespace it was made in.
    pub fn loopback_relay(&self, target: SocketAddr) -> u16 {
        let path = format!("/var/run/netns/{}", self.name);
        let listener = std::thread::spawn(move || {
            use std::os::fd::AsRawFd as _;
            let file = std::fs::File::open(&path).expect("namespace file");
            // SAFETY: setns on a valid namespace fd affects only this (short-lived) thread.
            let joined = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(joined, 0, "setns: {}", std::io::Error::last_os_error());
            std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind in namespace")
        })
        .join()
        .expect("setns thread");
        let port = listener.local_addr().expect("address").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let listener = TcpListener::from_std(listener).expect("tokio listener");
        tokio::spawn(serve_relay(listener, target));
        port
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // Deleting the namespace removes the inner end, and with it the pair.
        ip(&["netns", "delete", &self.name]);
        ip(&["link", "delete", &self.outer]);
    }
}

/// A TCP relay on `bind` (port 0: any) to `target`, running until the test's runtime ends;
/// returns the bound address.
pub async fn relay(bind: Ipv4Addr, target: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind((bind, 0)).await.expect("bind relay");
    let addr = listener.local_addr().expect("relay address");
    tokio::spawn(serve_relay(listener, target));
    addr
}

async fn serve_relay(listener: TcpListener, target: SocketAddr) {
    while let Ok((mut inbound, _)) = listener.accept().await {
        tokio::spawn(async move {
            let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                return;
            };
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
        });
    }
}
