//! The one read loop both dialects share, over loopback TCP against a real server: every frame
//! ends in exactly one `ofd_ingest_frames_total` increment, a failed check is counted once, and
//! bytes and ack latency are counted once per frame and per reply, the same way for RU and KZ.

mod common;
mod ingest_support;

use common::on_each_backend;
use ingest_support::{fixture_frame, metric, options, sample, scrape, Client, STEP};
use ofd::ingest::Server;
use ofd_protocol::kz::{
    decode_response, encode_frame, CommandTypeEnum, Header, Request, ResultTypeEnum, HEADER_LEN,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const KZ_FRAMES: &str = "ofd_ingest_frames_total";

fn kz_header(size: u32, system_id: u32) -> Header {
    Header {
        version: 203,
        size,
        system_id,
        token: 0x1234_5678,
        request_number: 9,
    }
}

/// Read until the server closes; everything it sent.
async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    tokio::time::timeout(STEP, stream.read_to_end(&mut out))
        .await
        .expect("server closes in time")
        .expect("read");
    out
}

/// Wait until `series` reaches `at_least` (the server counts after the socket closes).
async fn settled(addr: std::net::SocketAddr, series: &str, at_least: f64) -> String {
    for _ in 0..100 {
        let text = scrape(addr).await;
        if sample(&text, series) >= at_least {
            return text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    scrape(addr).await
}

#[tokio::test]
async fn kz_connection_closed_mid_frame_is_counted_once_as_truncated() {
    on_each_backend(|db| async move {
        let server = Server::start(options(&db.url).resolve().expect("config"))
            .await
            .expect("server");
        let mut stream = TcpStream::connect(server.local_addr())
            .await
            .expect("connect");
        let mut bytes = kz_header(100, 1).encode().to_vec();
        bytes.extend_from_slice(&[0u8; 10]);
        stream.write_all(&bytes).await.expect("send");
        stream.shutdown().await.expect("half-close");
        assert!(
            read_to_close(&mut stream).await.is_empty(),
            "no reply to half a frame"
        );

        let dropped = format!(r#"{KZ_FRAMES}{{dialect="kz",result="dropped"}}"#);
        let text = settled(server.metrics_addr(), &dropped, 1.0).await;
        assert_eq!(sample(&text, &dropped), 1.0);
        assert_eq!(
            sample(
                &text,
                r#"ofd_ingest_check_failures_total{check="truncated",dialect="kz"}"#
            ),
            1.0
        );
        assert_eq!(sample(&text, "ofd_ingest_received_bytes_total"), 28.0);
        server.shutdown().await.expect("shutdown");
    })
    .await;
}

#[tokio::test]
async fn kz_header_refusal_is_answered_once_and_counted_once() {
    on_each_backend(|db| async move {
        let server = Server::start(options(&db.url).resolve().expect("config"))
            .await
            .expect("server");
        let mut stream = TcpStream::connect(server.local_addr())
            .await
            .expect("connect");
        stream
            .write_all(&kz_header(1 << 24, 77).encode())
            .await
            .expect("send");
        let reply = read_to_close(&mut stream).await;
        let header = Header::decode(&reply).expect("a PROTOCOL_ERROR reply");
        assert_eq!(header.size as usize, reply.len());
        assert_eq!(
            (header.system_id, header.token, header.request_number),
            (77, 0x1234_5678, 9),
            "the refusal echoes the header as sent"
        );
        let response = decode_response(&reply[HEADER_LEN..]).expect("response");
        assert_eq!(
            response.result_code(),
            Some(ResultTypeEnum::ProtocolError.code())
        );

        let refused = format!(r#"{KZ_FRAMES}{{dialect="kz",result="refused"}}"#);
        let text = settled(server.metrics_addr(), &refused, 1.0).await;
        assert_eq!(sample(&text, &refused), 1.0);
        assert_eq!(
            sample(
                &text,
                r#"ofd_ingest_check_failures_total{check="oversize",dialect="kz"}"#
            ),
            1.0
        );
        assert_eq!(
            sample(
                &text,
                r#"ofd_ingest_check_failures_total{check="session_header",dialect="kz"}"#
            ),
            0.0,
            "one refusal, one check"
        );
        assert_eq!(
            sample(&text, "ofd_ingest_sent_bytes_total"),
            reply.len() as f64
        );
        server.shutdown().await.expect("shutdown");
    })
    .await;
}

#[tokio::test]
async fn bytes_and_ack_latency_are_counted_once_per_frame_in_both_dialects() {
    on_each_backend(|db| async move {
        let server = Server::start(options(&db.url).resolve().expect("config"))
            .await
            .expect("server");
        let addr = server.local_addr();

        let ru_frame = fixture_frame();
        let ru_reply = Client::connect(addr)
            .await
            .exchange(&ru_frame)
            .await
            .expect("RU ack");

        // A KZ request from a system id nobody registered: answered UNKNOWN_ID.
        let request = Request {
            command: Some(CommandTypeEnum::Info as i32),
            ..Default::default()
        };
        let kz_frame = encode_frame(kz_header(0, 4242), &request).expect("encode");
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(&kz_frame).await.expect("send");
        let mut head = [0u8; HEADER_LEN];
        tokio::time::timeout(STEP, stream.read_exact(&mut head))
            .await
            .expect("in time")
            .expect("KZ reply header");
        let size = Header::decode(&head).expect("header").size as usize;
        let mut body = vec![0u8; size - HEADER_LEN];
        stream.read_exact(&mut body).await.expect("KZ reply body");
        let response = decode_response(&body).expect("response");
        assert_eq!(
            response.result_code(),
            Some(ResultTypeEnum::UnknownId.code())
        );
        drop(stream);

        let m = server.metrics_addr();
        let text = settled(m, "ofd_ingest_ack_latency_seconds_count", 2.0).await;
        assert_eq!(
            sample(&text, "ofd_ingest_received_bytes_total"),
            (ru_frame.len() + kz_frame.len()) as f64
        );
        assert_eq!(
            sample(&text, "ofd_ingest_sent_bytes_total"),
            (ru_reply.len() + size) as f64
        );
        assert_eq!(sample(&text, "ofd_ingest_ack_latency_seconds_count"), 2.0);
        assert_eq!(
            metric(
                m,
                r#"ofd_ingest_frames_total{dialect="kz",result="refused"}"#
            )
            .await,
            1.0
        );
        server.shutdown().await.expect("shutdown");
    })
    .await;
}
