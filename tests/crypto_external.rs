//! The `external` adapter against a stand-in for a certified unit (see `crypto_support`): a small
//! HTTP server on a real loopback port that speaks the documented protocol and signs with the
//! soft unit; plus stand-ins that fail in each way a real unit can.

mod crypto_support;

use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use crypto_support::{serve, soft_signed, soft_unit, stand_in_unit};
use ofd::crypto::{Crypto, CryptoConfig, CryptoError, CryptoMode, InvalidSign, Verdict};
use serde_json::{json, Value};

fn external(url: String, timeout_ms: u64) -> Crypto {
    let config = CryptoConfig {
        mode: CryptoMode::External,
        external_url: Some(url),
        external_timeout_ms: timeout_ms,
        ..CryptoConfig::default()
    };
    Crypto::from_config(&config).expect("external unit config")
}

#[tokio::test]
async fn verify_round_trip_through_the_stand_in() {
    let crypto = external(stand_in_unit().await, 5_000);
    let signed = soft_signed(&soft_unit());
    assert_eq!(
        crypto.verify(&signed.inbound()).await.expect("unit up"),
        Verdict::Verified
    );

    let mut tampered = signed.clone();
    let end = tampered.document_end;
    tampered.bytes[end + 3] ^= 0x10;
    assert_eq!(
        crypto.verify(&tampered.inbound()).await.expect("unit up"),
        Verdict::Invalid(InvalidSign::FpsMismatch)
    );

    let mut inbound = signed.inbound();
    inbound.fpd = None;
    assert_eq!(
        crypto.verify(&inbound).await.expect("unit up"),
        Verdict::Invalid(InvalidSign::FpdMissing),
        "a null fpd travels and comes back as the shared reason"
    );
}

#[tokio::test]
async fn sign_round_trip_matches_the_unit_behind_it() {
    // A trailing slash on the configured URL must not change the endpoints.
    let crypto = external(format!("{}/", stand_in_unit().await), 5_000);
    let confirmation = b"\x07\x00\x05\x00\xfe\x03\x01\x00\x00";
    let fpo = crypto
        .operator_sign("9999078900005488", 42, confirmation)
        .await
        .expect("unit up");
    assert_eq!(
        fpo,
        soft_unit().operator_sign("9999078900005488", 42, confirmation)
    );
}

#[tokio::test]
async fn a_unit_that_is_down_is_a_transient_error_not_a_verdict() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let crypto = external(format!("http://{addr}"), 2_000);
    let signed = soft_signed(&soft_unit());
    assert!(matches!(
        crypto.verify(&signed.inbound()).await,
        Err(CryptoError::Unavailable(_))
    ));
    assert!(matches!(
        crypto.operator_sign("9999078900005488", 1, b"x").await,
        Err(CryptoError::Unavailable(_))
    ));
}

#[tokio::test]
async fn a_unit_slower_than_the_timeout_is_unavailable() {
    async fn stall() -> Json<Value> {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Json(json!({"verdict": "verified"}))
    }
    let crypto = external(
        serve(Router::new().route("/verify", post(stall))).await,
        200,
    );
    let signed = soft_signed(&soft_unit());
    assert!(matches!(
        crypto.verify(&signed.inbound()).await,
        Err(CryptoError::Unavailable(_))
    ));
}

#[tokio::test]
async fn error_statuses_and_garbled_replies_are_bad_replies() {
    async fn fail() -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }
    async fn garbled() -> &'static str {
        "{\"verdict\": \"maybe\"}"
    }
    async fn not_base64() -> Json<Value> {
        Json(json!({"fpo": "***"}))
    }
    let crypto = external(
        serve(
            Router::new()
                .route("/verify", post(fail))
                .route("/sign", post(not_base64)),
        )
        .await,
        2_000,
    );
    let signed = soft_signed(&soft_unit());
    assert!(matches!(
        crypto.verify(&signed.inbound()).await,
        Err(CryptoError::BadReply(_))
    ));
    assert!(matches!(
        crypto.operator_sign("9999078900005488", 1, b"x").await,
        Err(CryptoError::BadReply(_))
    ));

    let crypto = external(
        serve(Router::new().route("/verify", post(garbled))).await,
        2_000,
    );
    assert!(matches!(
        crypto.verify(&signed.inbound()).await,
        Err(CryptoError::BadReply(_))
    ));
}

#[test]
fn external_mode_without_a_url_is_a_config_error() {
    let config = CryptoConfig {
        mode: CryptoMode::External,
        ..CryptoConfig::default()
    };
    assert!(matches!(
        Crypto::from_config(&config),
        Err(CryptoError::Config(_))
    ));
}
