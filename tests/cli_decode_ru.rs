//! `ofd decode` on the RU fixtures, run as the built binary.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

const FRAME_HEX: &str = include_str!("../fixtures/ru/fiscal_report_correction_1_05.frame.hex");

fn decode(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ofd"))
        .arg("decode")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn decodes_the_fixture_file_as_hex() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/ru/fiscal_report_correction_1_05.frame.hex"
    );
    let out = decode(&[path], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["dialect"], "ru");
    assert_eq!(json["session"]["fnNumber"], "9999078900005488");
    assert_eq!(json["session"]["bodyLen"], 436);
    assert_eq!(json["container"]["crc"], "0x7825");
    assert_eq!(json["container"]["fdNumber"], 1);
    assert_eq!(json["crossCheck"], "ok");
    let doc = &json["document"]["fiscalReportCorrection"];
    assert_eq!(doc["fiscalSign"], 2853205313u32);
    assert_eq!(doc["user"], "ООО РАПКАТ-центр ");
}

#[test]
fn decodes_binary_and_spaced_hex_from_stdin() {
    let binary = hex::decode(FRAME_HEX.trim()).unwrap();
    let out = decode(&["-"], &binary);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let spaced: String = FRAME_HEX
        .trim()
        .as_bytes()
        .chunks(8)
        .map(|c| std::str::from_utf8(c).unwrap().to_owned() + " \n")
        .collect();
    let out2 = decode(&["--hex"], spaced.as_bytes());
    assert!(
        out2.status.success(),
        "{}",
        String::from_utf8_lossy(&out2.stderr)
    );
    assert_eq!(out.stdout, out2.stdout);
}

#[test]
fn bad_input_is_a_typed_error_and_non_zero_exit() {
    let mut binary = hex::decode(FRAME_HEX.trim()).unwrap();
    binary[200] ^= 0xFF;
    let out = decode(&[], &binary);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CRC mismatch"), "{err}");

    let out = decode(&[], b"2a08410a81");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated"));

    let out = decode(&[], b"not a frame");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown dialect"));
}
