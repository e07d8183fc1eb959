//! Test-side helpers for the ingest tests: RU documents built with the protocol crate's writers
//! (optionally signed by the soft crypto unit), a register-like TCP client, a `/metrics`
//! scraper, and an in-process server on port 0.
#![allow(dead_code)] // each test file uses a different subset

use std::net::SocketAddr;
use std::time::Duration;

use ofd::crypto::soft::SoftUnit;
use ofd::ingest::config::{ServeConfig, ServeOptions};
use ofd_protocol::ru::session::{AVersion, Flags, SVersion};
use ofd_protocol::ru::tlv::{Tlv, Writer};
use ofd_protocol::ru::value::{decode_byte, decode_u32};
use ofd_protocol::ru::{
    Container, ContainerHeader, FnNumber, Frame, SessionHeader, SESSION_HEADER_LEN,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for any single network step before failing instead of hanging.
pub const STEP: Duration = Duration::from_secs(10);

/// The real ФФД 1.05 device dump (doc 11, ФН 9999078900005488, ФД 1).
pub fn fixture_frame() -> Vec<u8> {
    let text = include_str!("../../fixtures/ru/fiscal_report_correction_1_05.frame.hex");
    hex::decode(text.trim()).expect("fixture hex")
}

/// The 305-byte doc-1 container fixture, put behind a session header as a register would.
pub fn fixture_container_frame() -> Vec<u8> {
    let text = include_str!("../../fixtures/ru/crc_example.container.hex");
    let container = hex::decode(text.trim()).expect("fixture hex");
    let header = ContainerHeader::decode(&container).expect("fixture header");
    let session = SessionHeader {
        s_version: SVersion::NORMAL,
        a_version: AVersion::V1_0,
        fn_number: header.fn_number,
        body_len: container.len() as u16,
        flags: Flags::CONTAINER_EXPECTS_REPLY,
        crc: 0,
    };
    let mut frame = session.encode().to_vec();
    frame.extend_from_slice(&container);
    frame
}

/// A 16-digit test ФН number (test drives start with 9999).
pub fn fn_number(n: u64) -> String {
    format!("9999{n:012}")
}

/// A cash receipt (form 3, ФФД 1.05) with one item of `total` kopecks and a zero ФПД slot.
pub fn receipt_document(fn_number: &str, fd: u32, total: u32) -> Vec<u8> {
    receipt_document_money_width(fn_number, fd, total, None)
}

/// [`receipt_document`] with every money tag (1079, 1043, 1020, 1031) zero-padded to `width`
/// bytes as fixed-width devices send them (`None`: the fewest bytes).
pub fn receipt_document_money_width(
    fn_number: &str,
    fd: u32,
    total: u32,
    width: Option<usize>,
) -> Vec<u8> {
    receipt_document_full(fn_number, fd, total, width, 1_700_000_000 + fd)
}

/// A whole session frame carrying a receipt made at `time` (tag 1012, the register's local
/// wall clock, unix seconds), unsigned.
pub fn receipt_frame_at(fn_number: &str, fd: u32, total: u32, time: u32) -> Vec<u8> {
    receipt_frame_of(
        receipt_document_full(fn_number, fd, total, None, time),
        fn_number,
        fd,
        None,
    )
}

/// The current time as a document time a second or more in the future of every change made so
/// far (document times have whole seconds; `secs_ahead` keeps "made after" unambiguous).
pub fn doc_time_after_now(secs_ahead: u32) -> u32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    u32::try_from(now).expect("fits u32") + secs_ahead
}

fn receipt_document_full(
    fn_number: &str,
    fd: u32,
    total: u32,
    width: Option<usize>,
    time: u32,
) -> Vec<u8> {
    let vln = |v: u32| {
        let bytes = v.to_le_bytes();
        let len = 4 - bytes.iter().rev().take_while(|b| **b == 0).count();
        let mut out = bytes[..len].to_vec();
        if let Some(width) = width {
            out.resize(width.max(len), 0);
        }
        out
    };
    let mut w = Writer::new();
    w.begin(3).expect("begin");
    w.byte(1209, 2).expect("1209");
    w.tlv(1041, fn_number.as_bytes()).expect("1041");
    w.u32(1040, fd).expect("1040");
    w.u32(1012, time).expect("1012");
    w.u32(1042, fd).expect("1042");
    w.u32(1038, 1).expect("1038");
    w.byte(1054, 1).expect("1054");
    w.tlv(1037, b"0000000001000001    ").expect("1037");
    w.tlv(1018, b"7700000000  ").expect("1018");
    w.byte(1055, 1).expect("1055");
    w.begin(1059).expect("1059");
    w.tlv(1030, &[0x92, 0xa5, 0xe1, 0xe2]).expect("1030"); // "Тест" in CP866
    w.tlv(1079, &vln(total)).expect("1079");
    w.tlv(1023, &[0, 1]).expect("1023"); // FVLN: point 0, mantissa 1
    w.byte(1199, 6).expect("1199");
    w.tlv(1043, &vln(total)).expect("1043");
    w.byte(1214, 4).expect("1214");
    w.byte(1212, 1).expect("1212");
    w.end().expect("end 1059");
    w.tlv(1020, &vln(total)).expect("1020");
    w.tlv(1031, &vln(total)).expect("1031");
    w.tlv(1081, &[]).expect("1081");
    w.tlv(1077, &[0; 6]).expect("1077");
    w.end().expect("end doc");
    w.finish().expect("finish")
}

/// A whole session frame carrying a receipt; signed with `signer` when given (else the ФПД and
/// ФПС are arbitrary bytes, fine for the `off` unit).
pub fn receipt_frame(fn_number: &str, fd: u32, total: u32, signer: Option<&SoftUnit>) -> Vec<u8> {
    receipt_frame_of(
        receipt_document(fn_number, fd, total),
        fn_number,
        fd,
        signer,
    )
}

/// A whole session frame around `document` (a receipt of `fn_number`, ФД `fd`).
pub fn receipt_frame_of(
    document: Vec<u8>,
    fn_number: &str,
    fd: u32,
    signer: Option<&SoftUnit>,
) -> Vec<u8> {
    document_frame_of(document, 3, fn_number, fd, signer)
}

/// A whole session frame around `document` of form `form` (its container's document type).
pub fn document_frame_of(
    mut document: Vec<u8>,
    form: u8,
    fn_number: &str,
    fd: u32,
    signer: Option<&SoftUnit>,
) -> Vec<u8> {
    let fn_parsed = FnNumber::parse(fn_number.as_bytes()).expect("16-digit ФН");
    let mut header = ContainerHeader {
        len: (32 + document.len() + 10) as u16,
        crc: 0,
        container_type: 0xA5,
        doc_type: form,
        version: 1,
        service1: [0x10, 0x09],
        fn_number: fn_parsed,
        fd_number: fd,
        service2: [0; 12],
    };
    let mut trailer = vec![0x81, 0x06, 1, 2, 3, 4, 5, 6, 0, 0];
    if let Some(unit) = signer {
        unit.sign_document(fn_number, &mut document)
            .expect("ФПД slot");
        header.len = (32 + document.len() + 10) as u16;
        let encoded = header.encode().expect("header");
        let fps = unit
            .message_sign(fn_number, &encoded, &document)
            .expect("32-byte header");
        trailer[..8].copy_from_slice(&fps);
    }
    let container = Container::encode(&header, &document, &trailer).expect("container");
    session_wrap(&container)
}

/// Put a container behind a session header (reply expected, no session CRC).
pub fn session_wrap(container: &[u8]) -> Vec<u8> {
    let header = ContainerHeader::decode(container).expect("container header");
    let session = SessionHeader {
        s_version: SVersion::NORMAL,
        a_version: AVersion::V1_05,
        fn_number: header.fn_number,
        body_len: container.len() as u16,
        flags: Flags::CONTAINER_EXPECTS_REPLY,
        crc: 0,
    };
    let mut frame = session.encode().to_vec();
    frame.extend_from_slice(container);
    frame
}

/// Re-encode a frame's container after `edit` changed its document bytes (valid CRC again).
pub fn edit_document(frame: &[u8], edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let decoded = Frame::decode(frame).expect("valid frame");
    let mut document = decoded.container.document.to_vec();
    edit(&mut document);
    let container = Container::encode(
        &decoded.container.header,
        &document,
        decoded.container.trailer,
    )
    .expect("container");
    session_wrap(&container)
}

/// What a confirmation says.
#[derive(Debug, PartialEq, Eq)]
pub struct AckFields {
    /// Tag 1041.
    pub fn_number: String,
    /// Tag 1040.
    pub fd: u32,
    /// Tag 1022 inside 1068.
    pub code: u8,
}

/// Decode a reply frame into the fields tests assert on.
pub fn ack_fields(reply: &[u8]) -> AckFields {
    let frame = Frame::decode(reply).expect("reply is a valid RU frame");
    assert_eq!(
        frame.container.header.doc_type, 7,
        "reply is an operator confirmation"
    );
    let doc = Tlv::read_exact(frame.container.document).expect("reply document");
    let find = |tag| {
        doc.children()
            .find(tag)
            .expect("well-formed")
            .expect("tag present")
    };
    let message = find(1068);
    let code = message.children().find(1022).expect("ok").expect("1022");
    AckFields {
        fn_number: String::from_utf8(find(1041).value.to_vec()).expect("ascii"),
        fd: decode_u32(find(1040).value).expect("u32"),
        code: decode_byte(code.value).expect("byte"),
    }
}

/// A register connection.
pub struct Client {
    pub stream: TcpStream,
}

impl Client {
    /// Connect to the server.
    pub async fn connect(addr: SocketAddr) -> Client {
        let stream = tokio::time::timeout(STEP, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        Client { stream }
    }

    /// Send bytes.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("send");
    }

    /// Read one reply frame; `None` when the server closed the connection instead.
    pub async fn reply(&mut self) -> Option<Vec<u8>> {
        tokio::time::timeout(STEP, read_frame(&mut self.stream))
            .await
            .expect("server answered or closed in time")
    }

    /// Send one frame and read its reply.
    pub async fn exchange(&mut self, frame: &[u8]) -> Option<Vec<u8>> {
        self.send(frame).await;
        self.reply().await
    }
}

async fn read_frame(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut frame = vec![0u8; SESSION_HEADER_LEN];
    stream.read_exact(&mut frame).await.ok()?;
    let len = usize::from(u16::from_le_bytes([frame[24], frame[25]]));
    frame.resize(SESSION_HEADER_LEN + len, 0);
    stream
        .read_exact(&mut frame[SESSION_HEADER_LEN..])
        .await
        .ok()?;
    Some(frame)
}

/// One frame on a fresh connection, as most registers do.
pub async fn send_one(addr: SocketAddr, frame: &[u8]) -> Option<Vec<u8>> {
    Client::connect(addr).await.exchange(frame).await
}

/// `GET /metrics` over plain HTTP/1.0.
pub async fn scrape(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("metrics port");
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: test\r\n\r\n")
        .await
        .expect("request");
    let mut response = String::new();
    tokio::time::timeout(STEP, stream.read_to_string(&mut response))
        .await
        .expect("scrape in time")
        .expect("read");
    assert!(
        response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200"),
        "{response}"
    );
    response
}

/// The value of the sample `series` (name with labels exactly as exposed), 0 when absent.
pub fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().expect("numeric sample"))
        })
        .unwrap_or(0.0)
}

/// Scrape and read one series.
pub async fn metric(addr: SocketAddr, series: &str) -> f64 {
    sample(&scrape(addr).await, series)
}

/// Options for an in-process test server on loopback port 0 with `database`.
pub fn options(database: &str) -> ServeOptions {
    let mut options = ServeOptions::default();
    options.store.database.url = Some(database.to_owned());
    options.ingest.listen = Some("127.0.0.1:0".parse().expect("addr"));
    options.metrics.listen = Some("127.0.0.1:0".parse().expect("addr"));
    options.ingest.accept_unregistered = Some(true);
    options.ingest.source_rate = Some(0);
    options.ingest.ofd_inn = Some("7704358518".to_owned());
    options
}

/// Resolved test configuration.
pub fn config(database: &str) -> ServeConfig {
    options(database).resolve().expect("valid test config")
}

/// The soft unit's master secret the tests share with the server.
pub const SOFT_SECRET_HEX: &str =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// The test-side soft unit (the register's signing half).
pub fn soft_unit() -> SoftUnit {
    SoftUnit::new(hex::decode(SOFT_SECRET_HEX).expect("hex"), 16).expect("soft unit")
}

/// A TCP connection to `addr` from the loopback address `from` (any 127.x.y.z works on Linux),
/// to play several sources from one host.
pub async fn connect_from(from: std::net::Ipv4Addr, addr: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind((from, 0).into())
        .expect("bind a loopback source");
    tokio::time::timeout(STEP, socket.connect(addr))
        .await
        .expect("connect in time")
        .expect("connect")
}

/// Whether the server closes `stream` within `within` (reads and discards whatever it sends).
pub async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut sink = [0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// A shift-close report (form 5) of `fn_number` in ФФД `ffd` (tag 1209: 2 = 1.05, 4 = 1.2),
/// made at `at` (tag 1012), with the drive's own state (1050 exhausted, 1097/1098 unsent) and,
/// when given, a Z report that counts `receipts` receipts in the
/// shift (tag 1118).
#[allow(clippy::too_many_arguments)]
pub fn close_shift_counting(
    ffd: u8,
    fn_number: &str,
    fd: u32,
    at: u32,
    exhausted: bool,
    unsent: u32,
    oldest_unsent_s: u32,
    receipts: Option<u32>,
) -> Vec<u8> {
    let mut w = Writer::new();
    w.begin(5).expect("begin");
    w.byte(1209, ffd).expect("1209");
    w.tlv(1041, fn_number.as_bytes()).expect("1041");
    w.u32(1040, fd).expect("1040");
    w.u32(1012, at).expect("1012");
    w.u32(1038, 1).expect("1038");
    w.byte(1050, u8::from(exhausted)).expect("1050");
    w.byte(1051, 0).expect("1051");
    w.byte(1052, 0).expect("1052");
    w.u32(1097, unsent).expect("1097");
    w.u32(1098, oldest_unsent_s).expect("1098");
    if let Some(receipts) = receipts {
        w.u32(1118, receipts).expect("1118");
    }
    w.tlv(1077, &[0; 6]).expect("1077");
    w.end().expect("end doc");
    let document = w.finish().expect("finish");
    document_frame_of(document, 5, fn_number, fd, None)
}
