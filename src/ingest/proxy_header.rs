//! The PROXY protocol v2 header a TCP load balancer puts before a register's first byte
//! (`[ingest] proxy_protocol`), so that the register's own address, not the balancer's, reaches
//! the per-source limits ([`super::limits`]), the KZ token guard and the logs.
//!
//! Invariants:
//! - Read before anything else on the connection (before the TLS handshake and the dialect
//!   sniff), exactly the header's bytes and no more: the 16-byte fixed part, then the length it
//!   declares, which must not exceed [`MAX_ADDRESS_BLOCK`] (addresses and TLVs; the largest
//!   address block, AF_UNIX, is 216 bytes), so a header can never make us allocate more.
//! - The whole header must arrive within [`HEADER_TIMEOUT`], or the connection is refused.
//! - Parsing is the `ppp` crate's; this module only bounds the reading and picks the address.
//! - `LOCAL` (the balancer's own health check) keeps the connection's real peer address; `PROXY`
//!   must carry an IPv4 or IPv6 source, anything else (UNIX, unspecified) is refused: a register
//!   without an address could not be limited per source.

use std::net::SocketAddr;
use std::time::Duration;

use ppp::v2::{Addresses, Command, Header};
use tokio::io::{AsyncRead, AsyncReadExt as _};

/// Time for the whole header to arrive.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest address block (addresses and TLVs) accepted after the 16-byte fixed part.
pub const MAX_ADDRESS_BLOCK: usize = 512;

/// Length of the fixed part: signature (12), version and command, family and protocol, length.
const FIXED: usize = 16;

/// Why a connection's PROXY header was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProxyRefusal {
    #[error("no complete PROXY v2 header within {0:?}")]
    Timeout(Duration),
    #[error("connection closed or failed before the PROXY v2 header was complete: {0}")]
    Io(#[from] std::io::Error),
    #[error("PROXY v2 header declares {0} bytes of addresses, more than {MAX_ADDRESS_BLOCK}")]
    TooLong(usize),
    #[error("not a PROXY v2 header: {0}")]
    Invalid(#[from] ppp::v2::ParseError),
    #[error("PROXY v2 header without an IP source address")]
    NoSource,
}

/// Read the header from `stream` within [`HEADER_TIMEOUT`]; the register's address (`peer`
/// itself for a `LOCAL` header).
pub async fn read_source<S: AsyncRead + Unpin>(
    stream: &mut S,
    peer: SocketAddr,
) -> Result<SocketAddr, ProxyRefusal> {
    tokio::time::timeout(HEADER_TIMEOUT, read_unbounded(stream, peer))
        .await
        .map_err(|_elapsed| ProxyRefusal::Timeout(HEADER_TIMEOUT))?
}

async fn read_unbounded<S: AsyncRead + Unpin>(
    stream: &mut S,
    peer: SocketAddr,
) -> Result<SocketAddr, ProxyRefusal> {
    let mut bytes = vec![0u8; FIXED];
    stream.read_exact(&mut bytes).await?;
    // The fixed part alone: the signature, version, command and family are judged by `ppp`
    // before the declared length is trusted for anything.
    match Header::try_from(bytes.as_slice()) {
        Ok(_) | Err(ppp::v2::ParseError::Partial(..)) => {}
        Err(error) => return Err(error.into()),
    }
    let declared = usize::from(u16::from_be_bytes([bytes[14], bytes[15]]));
    if declared > MAX_ADDRESS_BLOCK {
        return Err(ProxyRefusal::TooLong(declared));
    }
    bytes.resize(FIXED + declared, 0);
    stream.read_exact(&mut bytes[FIXED..]).await?;
    let header = Header::try_from(bytes.as_slice())?;
    source_of(&header, peer)
}

/// The register's address named by `header`.
fn source_of(header: &Header<'_>, peer: SocketAddr) -> Result<SocketAddr, ProxyRefusal> {
    if header.command == Command::Local {
        return Ok(peer);
    }
    match header.addresses {
        Addresses::IPv4(a) => Ok(SocketAddr::from((a.source_address, a.source_port))),
        Addresses::IPv6(a) => Ok(SocketAddr::from((a.source_address, a.source_port))),
        Addresses::Unspecified | Addresses::Unix(_) => Err(ProxyRefusal::NoSource),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ppp::v2::{Builder, Protocol, Version};

    fn header(command: Command, addresses: impl Into<Addresses>) -> Vec<u8> {
        Builder::with_addresses(Version::Two | command, Protocol::Stream, addresses)
            .build()
            .expect("header")
    }

    fn peer() -> SocketAddr {
        "192.0.2.1:5000".parse().unwrap()
    }

    #[tokio::test]
    async fn reads_exactly_the_header_and_names_its_source() {
        let from: SocketAddr = "203.0.113.7:40001".parse().unwrap();
        let to: SocketAddr = "198.51.100.2:7777".parse().unwrap();
        let mut bytes = header(Command::Proxy, (from, to));
        bytes.extend_from_slice(b"first frame");
        let mut stream = bytes.as_slice();
        assert_eq!(read_source(&mut stream, peer()).await.unwrap(), from);
        assert_eq!(stream, b"first frame", "not a byte of the frame consumed");

        let from6: SocketAddr = "[2001:db8::7]:40001".parse().unwrap();
        let to6: SocketAddr = "[2001:db8::1]:7777".parse().unwrap();
        let bytes = header(Command::Proxy, (from6, to6));
        assert_eq!(
            read_source(&mut bytes.as_slice(), peer()).await.unwrap(),
            from6
        );
    }

    #[tokio::test]
    async fn a_local_header_keeps_the_peer() {
        let bytes = header(Command::Local, Addresses::Unspecified);
        assert_eq!(
            read_source(&mut bytes.as_slice(), peer()).await.unwrap(),
            peer()
        );
    }

    #[tokio::test]
    async fn refuses_frames_without_a_header_long_headers_and_no_address() {
        let frame = b"\x2a\x08\x41\x0a\x81\xa2\x00\x01 a RU session header and more";
        let refused = read_source(&mut frame.as_slice(), peer()).await;
        assert!(
            matches!(refused, Err(ProxyRefusal::Invalid(_))),
            "{refused:?}"
        );

        let mut long = header(Command::Proxy, Addresses::Unspecified);
        long[14..16].copy_from_slice(&4000u16.to_be_bytes());
        let refused = read_source(&mut long.as_slice(), peer()).await;
        assert!(
            matches!(refused, Err(ProxyRefusal::TooLong(4000))),
            "{refused:?}"
        );

        let unspecified = header(Command::Proxy, Addresses::Unspecified);
        let refused = read_source(&mut unspecified.as_slice(), peer()).await;
        assert!(
            matches!(refused, Err(ProxyRefusal::NoSource)),
            "{refused:?}"
        );

        let cut = &header(Command::Proxy, (peer(), peer()))[..20];
        let refused = read_source(&mut &cut[..], peer()).await;
        assert!(matches!(refused, Err(ProxyRefusal::Io(_))), "{refused:?}");
    }
}
