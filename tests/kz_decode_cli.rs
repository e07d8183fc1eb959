//! `ofd decode` on KZ frames, through the built binary: a request as binary, a response as hex.

mod kz_support;

use kz_support::*;
use ofd_protocol::kz::{
    encode_frame, CommandTypeEnum, OperationTypeEnum, Response, ResultTypeEnum,
};

fn decode(path: &std::path::Path) -> serde_json::Value {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ofd"))
        .arg("decode")
        .arg(path)
        .output()
        .expect("run ofd decode");
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

#[test]
fn prints_kz_requests_and_responses_as_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let request = frame(
        201_873,
        208_627_316,
        1,
        &ticket(OperationTypeEnum::Sell, 150),
    );
    let path = dir.path().join("request.bin");
    std::fs::write(&path, &request).expect("write");
    let json = decode(&path);
    assert_eq!(json["dialect"], "kz");
    assert_eq!(json["kind"], "request");
    assert_eq!(json["command"], "Ticket");
    assert_eq!(json["header"]["systemId"], 201_873);
    assert_eq!(json["message"]["ticket"]["amounts"]["total"]["bills"], 150);

    let header = ofd_protocol::kz::Header::decode(&request).expect("header");
    let response = Response::result_only(
        CommandTypeEnum::Ticket as i32,
        ResultTypeEnum::InvalidToken,
        "invalid token",
    );
    let path = dir.path().join("response.hex");
    std::fs::write(
        &path,
        hex::encode(encode_frame(header, &response).expect("frame")),
    )
    .expect("write");
    let json = decode(&path);
    assert_eq!(json["kind"], "response");
    assert_eq!(json["message"]["result"]["result_code"], 2);

    std::fs::write(&path, "a281cb00").expect("write");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ofd"))
        .arg("decode")
        .arg(&path)
        .output()
        .expect("run ofd decode");
    assert!(!output.status.success(), "a truncated frame is an error");
}
