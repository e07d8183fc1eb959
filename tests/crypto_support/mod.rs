//! Shared by the crypto tests: the real ФФД 1.05 device dump from the fixtures, re-signed by the
//! soft unit so that it verifies; and a stand-in for an external certified unit — a small HTTP
//! server speaking the documented protocol (parsed as plain JSON, not through the adapter's own
//! types) that signs with the soft unit.
#![allow(dead_code)] // each test file uses a different subset

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ofd::crypto::soft::SoftUnit;
use ofd::crypto::{InboundDocument, Verdict};
use serde_json::{json, Value};

/// The master secret every crypto test uses.
pub const SECRET_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// A soft unit over [`SECRET_HEX`] with 16-byte ФПО.
pub fn soft_unit() -> SoftUnit {
    SoftUnit::new(hex::decode(SECRET_HEX).expect("hex"), 16).expect("soft unit")
}

/// One container with the offsets a crypto unit needs.
#[derive(Clone)]
pub struct Container {
    pub fn_number: String,
    pub fd_number: u32,
    pub bytes: Vec<u8>,
    /// End of the document STLV (start of the trailer).
    pub document_end: usize,
}

/// Offset of the document's tag 1077 value inside the container (found by hand in the fixture
/// README's tag list; asserted by [`fixture_container`]).
pub const FPD_AT: usize = 32 + 4 + (4 + 16) + (4 + 20) + (4 + 12) + (4 + 4) + (4 + 4) + 4;

impl Container {
    pub fn inbound(&self) -> InboundDocument<'_> {
        let mut fpd = [0u8; 6];
        fpd.copy_from_slice(&self.bytes[FPD_AT..FPD_AT + 6]);
        InboundDocument {
            fn_number: &self.fn_number,
            fd_number: self.fd_number,
            container: &self.bytes,
            document: &self.bytes[32..self.document_end],
            fpd: Some(fpd),
            fps: &self.bytes[self.document_end..],
        }
    }
}

/// The real device dump `fiscal_report_correction_1_05.frame.hex`, as sent (ГОСТ-signed).
pub fn fixture_container() -> Container {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/ru/fiscal_report_correction_1_05.frame.hex"
    );
    let text = std::fs::read_to_string(path).expect("fixture readable");
    let frame = hex::decode(text.trim()).expect("fixture is hex");
    let fn_number = String::from_utf8(frame[8..24].to_vec()).expect("ascii ФН");
    let bytes = frame[30..].to_vec();
    let doc_len = u16::from_le_bytes([bytes[34], bytes[35]]) as usize;
    let container = Container {
        fn_number,
        fd_number: 1,
        document_end: 32 + 4 + doc_len,
        bytes,
    };
    assert_eq!(container.fn_number, "9999078900005488");
    assert_eq!(
        &container.bytes[FPD_AT - 4..FPD_AT],
        &[0x35, 0x04, 0x06, 0x00]
    );
    assert_eq!(
        &container.bytes[FPD_AT..FPD_AT + 6],
        &hex::decode("2104aa107541").expect("hex")[..]
    );
    container
}

/// The fixture re-signed by `unit`, the way the emulator does it: ФПД into 1077, then the ФПС
/// into the first 8 trailer bytes. (The container CRC is not a crypto matter and is left stale.)
pub fn soft_signed(unit: &SoftUnit) -> Container {
    let mut container = fixture_container();
    let end = container.document_end;
    let fn_number = container.fn_number.clone();
    unit.sign_document(&fn_number, &mut container.bytes[32..end])
        .expect("document has a 1077 slot");
    let fps = unit
        .message_sign(
            &fn_number,
            &container.bytes[..32],
            &container.bytes[32..end],
        )
        .expect("32-byte header");
    container.bytes[end..end + 8].copy_from_slice(&fps);
    container
}

fn bytes_field(body: &Value, name: &str) -> Result<Vec<u8>, StatusCode> {
    let text = body[name].as_str().ok_or(StatusCode::BAD_REQUEST)?;
    BASE64.decode(text).map_err(|_| StatusCode::BAD_REQUEST)
}

fn fd_field(body: &Value) -> Result<u32, StatusCode> {
    body["fd_number"]
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or(StatusCode::BAD_REQUEST)
}

async fn stand_in_verify(
    State(unit): State<Arc<SoftUnit>>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, StatusCode> {
    let fn_number = body["fn_number"].as_str().ok_or(StatusCode::BAD_REQUEST)?;
    let container = bytes_field(&body, "container")?;
    let document = bytes_field(&body, "document")?;
    let fps = bytes_field(&body, "fps")?;
    let fpd = match &body["fpd"] {
        Value::Null => None,
        _ => Some(
            <[u8; 6]>::try_from(bytes_field(&body, "fpd")?).map_err(|_| StatusCode::BAD_REQUEST)?,
        ),
    };
    let inbound = InboundDocument {
        fn_number,
        fd_number: fd_field(&body)?,
        container: &container,
        document: &document,
        fpd,
        fps: &fps,
    };
    Ok(Json(match unit.verify(&inbound) {
        Verdict::Invalid(reason) => json!({"verdict": "invalid", "reason": reason.label()}),
        other => json!({"verdict": other.label()}),
    }))
}

async fn stand_in_sign(
    State(unit): State<Arc<SoftUnit>>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, StatusCode> {
    let fn_number = body["fn_number"].as_str().ok_or(StatusCode::BAD_REQUEST)?;
    let confirmation = bytes_field(&body, "confirmation")?;
    let fpo = unit.operator_sign(fn_number, fd_field(&body)?, &confirmation);
    Ok(Json(json!({"fpo": BASE64.encode(fpo)})))
}

/// Serve `routes` under `/hsm` on a fresh loopback port; returns the base URL.
pub async fn serve(routes: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    serve_on(listener, routes)
}

/// Serve `routes` under `/hsm` on `listener`; returns the base URL.
pub fn serve_on(listener: tokio::net::TcpListener, routes: Router) -> String {
    let addr = listener.local_addr().expect("addr");
    let app = Router::new().nest("/hsm", routes);
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/hsm")
}

/// The stand-in's routes: `/verify` and `/sign` backed by [`soft_unit`].
pub fn stand_in_routes() -> Router {
    Router::new()
        .route("/verify", post(stand_in_verify))
        .route("/sign", post(stand_in_sign))
        .with_state(Arc::new(soft_unit()))
}

/// A stand-in unit on a fresh loopback port; returns its base URL.
pub async fn stand_in_unit() -> String {
    serve(stand_in_routes()).await
}
