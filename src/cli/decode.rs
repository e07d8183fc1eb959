//! `ofd decode`: print one captured frame as JSON — the first tool to reach for with a dump
//! from a register.
//!
//! The dialect is sniffed from the first bytes with the listener's own [`sniff`]: `2A 08 41 0A` is
//! RU, `A2 81` is KZ. Input is binary or hex text (whitespace and `0x`-free hex dumps are
//! accepted); hex is detected automatically because a binary RU or KZ frame never starts with
//! a hex digit. Bad input prints the typed error on stderr and exits non-zero; a frame that
//! decodes but fails a cross-check is printed and then reported as an error.

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use ofd_protocol::ru::{self, check, document::Document, json};
use ofd_protocol::{sniff, Dialect, Sniff};
use serde_json::{json, Value as Json};

/// Arguments of the subcommand.
#[derive(clap::Args, Debug)]
pub struct DecodeArgs {
    /// File holding one frame; `-` or nothing reads standard input.
    pub file: Option<PathBuf>,
    /// Treat the input as hex text even if it does not look like it.
    #[arg(long)]
    pub hex: bool,
}

/// Run the subcommand.
pub async fn run(args: DecodeArgs) -> anyhow::Result<()> {
    let input = read_input(args.file.as_deref())?;
    let bytes = if args.hex || looks_like_hex(&input) {
        parse_hex(&input)?
    } else {
        input
    };
    let (json, verdict) = match sniff(&bytes) {
        Sniff::Known(Dialect::Ru) => decode_ru(&bytes)?,
        Sniff::Known(Dialect::Kz) => (decode_kz(&bytes)?, Ok(())),
        Sniff::NeedMore | Sniff::Unknown => bail!(
            "unknown dialect: first bytes {:02x?} are neither RU (2a 08 41 0a) nor KZ (a2 81)",
            &bytes[..bytes.len().min(4)]
        ),
    };
    println!("{}", serde_json::to_string_pretty(&json)?);
    verdict
}

fn read_input(file: Option<&std::path::Path>) -> anyhow::Result<Vec<u8>> {
    let mut input = Vec::new();
    match file {
        None => std::io::stdin().read_to_end(&mut input)?,
        Some(path) if path.as_os_str() == "-" => std::io::stdin().read_to_end(&mut input)?,
        Some(path) => {
            input = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            input.len()
        }
    };
    Ok(input)
}

fn looks_like_hex(input: &[u8]) -> bool {
    input.iter().any(u8::is_ascii_hexdigit)
        && input
            .iter()
            .all(|b| b.is_ascii_hexdigit() || b.is_ascii_whitespace())
}

fn parse_hex(input: &[u8]) -> anyhow::Result<Vec<u8>> {
    let digits: Vec<u8> = input
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    hex::decode(digits).context("input is not valid hex")
}

/// Decode an RU frame to JSON; the second value is the cross-check verdict.
fn decode_ru(bytes: &[u8]) -> anyhow::Result<(Json, anyhow::Result<()>)> {
    let frame = ru::Frame::decode(bytes).context("RU frame")?;
    let s = &frame.session;
    let c = &frame.container.header;
    let session = json!({
        "sVersion": hex::encode(s.s_version.0),
        "aVersion": hex::encode(s.a_version.0),
        "fnNumber": s.fn_number.as_str(),
        "bodyLen": s.body_len,
        "flags": format!("{:#06x}", s.flags.0),
        "crcMode": format!("{:?}", s.flags.crc_mode()),
        "hasContainer": s.flags.has_container(),
        "expectsReply": s.flags.expects_reply(),
        "crc": s.crc,
        "crcOk": frame.session_crc_ok,
    });
    let container = json!({
        "len": c.len,
        "crc": format!("{:#06x}", c.crc),
        "containerType": format!("{:#04x}", c.container_type),
        "docType": c.doc_type,
        "headerVersion": c.version,
        "serviceData1": hex::encode(c.service1),
        "fnNumber": c.fn_number.as_str(),
        "fdNumber": c.fd_number,
        "serviceData2": hex::encode(c.service2),
        "trailer": hex::encode(frame.container.trailer),
    });
    let verdict = check::cross_check(&frame).context("cross-check");
    let cross_check = match &verdict {
        Ok(()) => json!("ok"),
        Err(e) => json!(format!("{e:#}")),
    };
    let document = Document::decode(frame.container.document).context("document")?;
    let out = json!({
        "dialect": "ru",
        "session": session,
        "container": container,
        "crossCheck": cross_check,
        "ffdVersion": document.ffd_version().map(|v| format!("{v:?}")),
        "document": json::to_json(&document, frame.container.trailer),
    });
    Ok((out, verdict))
}

/// Decode a KZ frame (request or response) to JSON.
///
/// The header does not say which direction a frame goes, so the body is tried as a `Response`
/// first (its required `result` does not validate as a request's body) and then as a `Request`.
/// The token is printed: the dump is the operator's own, and telling tokens apart is usually
/// why one decodes a KZ frame.
fn decode_kz(bytes: &[u8]) -> anyhow::Result<Json> {
    use ofd_protocol::kz;
    let (header, body) = kz::split_frame(bytes, u32::MAX).context("KZ frame")?;
    let header_json = json!({
        "version": header.version,
        "size": header.size,
        "systemId": header.system_id,
        "token": header.token,
        "requestNumber": header.request_number,
    });
    let (kind, message) = match kz::decode_response(body) {
        Ok(response) => ("response", serde_json::to_value(&response)?),
        Err(_) => {
            let request = kz::decode_request(body)
                .context("KZ body (neither a valid response nor a valid request)")?;
            ("request", serde_json::to_value(&request)?)
        }
    };
    let command = message["command"]
        .as_i64()
        .and_then(|c| i32::try_from(c).ok())
        .and_then(|c| kz::CommandTypeEnum::try_from(c).ok())
        .map(|c| format!("{c:?}"));
    Ok(json!({
        "dialect": "kz",
        "kind": kind,
        "header": header_json,
        "command": command,
        "message": message,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_hex_from_binary() {
        assert!(looks_like_hex(b"2a08 410a\n"));
        assert!(!looks_like_hex(b"*\x08A\n"));
    }

    #[test]
    fn decodes_kz_requests_and_responses() {
        use ofd_protocol::kz::{
            encode_frame, CommandTypeEnum, Header, Request, Response, ResultTypeEnum,
            TicketResponse,
        };
        let header = Header {
            version: 203,
            size: 0,
            system_id: 42,
            token: 7,
            request_number: 3,
        };
        let request = Request {
            command: Some(CommandTypeEnum::Info as i32),
            ..Default::default()
        };
        let json = decode_kz(&encode_frame(header, &request).expect("frame")).expect("decodes");
        assert_eq!(json["kind"], "request");
        assert_eq!(json["command"], "Info");
        assert_eq!(json["header"]["systemId"], 42);
        let response = Response {
            ticket: Some(TicketResponse {
                ticket_number: Some("1234567890".into()),
                qr_code: Some(b"http://check?i=1234567890".to_vec()),
            }),
            ..Response::result_only(CommandTypeEnum::Ticket as i32, ResultTypeEnum::Ok, "")
        };
        let json = decode_kz(&encode_frame(header, &response).expect("frame")).expect("decodes");
        assert_eq!(json["kind"], "response");
        assert_eq!(
            json["message"]["ticket"]["qr_code"],
            "http://check?i=1234567890"
        );
        assert!(decode_kz(&[0xA2, 0x81, 203, 0, 17, 0, 0, 0]).is_err());
    }
}
