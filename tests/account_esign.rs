//! Login by electronic signature over the real account API on loopback and a real database
//! (SQLite, and PostgreSQL when `OFD_TEST_PG` is set): challenges are issued by the service and
//! good once and only until they expire; a logged-in user links the certificate that signed a
//! fresh challenge, lists and unlinks it (audited); the linked identity then logs in with a
//! session exactly like a password login's (same cookie, rotation); an unlinked identity is 401
//! `esign_not_linked`; another organisation can neither take the identity nor unlink the link;
//! and no challenge or signature reaches the log.
//!
//! The verifier is the deployment's crypto provider, outside this project; the tests' own
//! [`DigestSigner`] (`account_support`) stands in for it.

mod account_support;
mod common;

use std::sync::{Arc, Mutex, OnceLock};

use account_support::{error_code, owner, Account, Client, DigestSigner, MailServer, PASSWORD};
use base64::Engine as _;
use common::on_each_backend;
use ofd::account::AccountOptions;
use reqwest::Method;
use serde_json::{json, Value};

const INN_A: &str = "7707083893";
const INN_B: &str = "7736050003";

/// Everything the service logs while this test binary runs (debug level).
fn log() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = Arc::clone(&buffer);
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || LogWriter(Arc::clone(&writer)))
            .try_init();
        buffer
    })
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn start(store: &ofd::store::Store, mail: &MailServer) -> Account {
    Account::start_with_esign(
        store,
        AccountOptions {
            smtp_url: Some(mail.url.as_str().into()),
            ..AccountOptions::default()
        },
        Arc::new(DigestSigner),
    )
    .await
}

/// A fresh challenge from the service: its text and bytes.
async fn challenge(client: &Client) -> (String, Vec<u8>) {
    let (status, answer) = client
        .post("/api/v1/login/esign/challenge", json!({}))
        .await;
    assert_eq!(status, 201, "{answer}");
    let text = answer["challenge"].as_str().expect("challenge").to_owned();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&text)
        .expect("base64 challenge");
    assert_eq!(bytes.len(), 32, "{text}");
    let now = ofd::clock::unix_millis();
    let expires = answer["expires_at"].as_i64().expect("expires_at");
    assert!(
        (now..=now + 10 * 60_000).contains(&expires),
        "{expires} is not a few minutes after {now}"
    );
    (text, bytes)
}

/// The body signing `challenge` as `tax_id`.
fn signed(tax_id: &str, challenge: &(String, Vec<u8>)) -> Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    json!({
        "challenge": challenge.0,
        "signature": b64.encode(DigestSigner::sign(tax_id, &challenge.1)),
    })
}

/// The audit actions of `client`'s organisation.
async fn audit_actions(client: &Client) -> Vec<String> {
    let (status, page) = client.get("/api/v1/audit?limit=1000").await;
    assert_eq!(status, 200, "{page}");
    page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The cookie's attributes without its value.
fn attributes(cookie: &str) -> String {
    cookie
        .split_once(';')
        .map(|(_, rest)| rest)
        .unwrap_or("")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linked_signature_logs_in_and_nothing_else_does() {
    let log = log();
    on_each_backend(|db| async move {
        let store = db.open().await;
        let mail = MailServer::start().await;
        let account = start(&store, &mail).await;
        let email_a = format!("owner-a-{:?}@esign.test", db.backend).to_lowercase();
        let email_b = format!("owner-b-{:?}@esign.test", db.backend).to_lowercase();
        let (a, _) = owner(&account, &mail, INN_A, &email_a).await;
        let (b, _) = owner(&account, &mail, INN_B, &email_b).await;
        let anonymous = Client::anonymous(&account.url);
        let mut secrets: Vec<String> = Vec::new();

        // Unlinked: a verified signature alone logs nobody in; the challenge is then spent.
        let first = challenge(&anonymous).await;
        let body = signed(INN_A, &first);
        secrets.extend([
            first.0.clone(),
            body["signature"].as_str().unwrap().to_owned(),
        ]);
        let (status, answer) = anonymous.post("/api/v1/login/esign", body.clone()).await;
        assert_eq!(
            (status, error_code(&answer)),
            (401, "esign_not_linked"),
            "{answer}"
        );
        let (status, answer) = anonymous.post("/api/v1/login/esign", body).await;
        assert_eq!(
            (status, error_code(&answer)),
            (401, "invalid_challenge"),
            "{answer}"
        );
        // A challenge the service never issued, and one that has expired.
        let made_up = (
            base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
            vec![7u8; 32],
        );
        let (status, answer) = anonymous
            .post("/api/v1/login/esign", signed(INN_A, &made_up))
            .await;
        assert_eq!((status, error_code(&answer)), (401, "invalid_challenge"));
        let now = ofd::clock::unix_millis();
        let old = (
            base64::engine::general_purpose::STANDARD.encode([9u8; 32]),
            vec![9u8; 32],
        );
        store
            .issue_esign_challenge(
                &ofd::account::password::token_hash(&old.0),
                now - 10 * 60_000,
                now - 1,
            )
            .await
            .expect("an expired challenge");
        // Not base64: 400 naming the field.
        let (status, answer) = anonymous
            .post(
                "/api/v1/login/esign",
                json!({ "challenge": first.0, "signature": "%%%" }),
            )
            .await;
        assert_eq!(status, 400, "{answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("signature:"),
            "{answer}"
        );

        // Linking: the owner of A signs a fresh challenge while logged in.
        let (status, answer) = a.post("/api/v1/me/esign", signed(INN_A, &first)).await;
        assert_eq!((status, error_code(&answer)), (401, "invalid_challenge"));
        let to_link = challenge(&anonymous).await;
        let wrong = json!({ "challenge": to_link.0, "signature":
            base64::engine::general_purpose::STANDARD.encode(b"7707083893:00") });
        let (status, answer) = a.post("/api/v1/me/esign", wrong).await;
        assert_eq!((status, error_code(&answer)), (401, "invalid_signature"));
        let to_link = challenge(&anonymous).await;
        let body = signed(INN_A, &to_link);
        secrets.extend([
            to_link.0.clone(),
            body["signature"].as_str().unwrap().to_owned(),
        ]);
        let (status, link) = a.post("/api/v1/me/esign", body).await;
        assert_eq!(status, 201, "{link}");
        assert_eq!(link["tax_id"], INN_A);
        assert_eq!(link["name"], format!("Директор {INN_A}"));
        let link_id = link["id"].as_i64().expect("link id");
        let (_, list) = a.get("/api/v1/me/esign").await;
        assert_eq!(list["links"].as_array().map(Vec::len), Some(1), "{list}");
        assert_eq!(b.get("/api/v1/me/esign").await.1["links"], json!([]));
        // The identity is A's: B cannot link it too, and a key links nothing.
        let (status, answer) = b
            .post(
                "/api/v1/me/esign",
                signed(INN_A, &challenge(&anonymous).await),
            )
            .await;
        assert_eq!((status, error_code(&answer)), (409, "conflict"), "{answer}");
        let (status, _) = account
            .post(
                "/api/v1/me/esign",
                signed(INN_B, &challenge(&anonymous).await),
            )
            .await;
        assert_eq!(status, 403);
        // B cannot unlink it: the link is not found for them.
        let (status, answer) = b
            .call(Method::DELETE, &format!("/api/v1/me/esign/{link_id}"), None)
            .await;
        assert_eq!(
            (status, error_code(&answer)),
            (404, "not_found"),
            "{answer}"
        );
        assert_eq!(a.get("/api/v1/me/esign").await.1["links"][0]["id"], link_id);

        // The expired challenge is refused even with a good signature of a linked identity.
        let (status, answer) = anonymous
            .post("/api/v1/login/esign", signed(INN_A, &old))
            .await;
        assert_eq!((status, error_code(&answer)), (401, "invalid_challenge"));

        // Login: a session exactly as a password login makes, rotating the one it carried.
        let browser = Client::anonymous(&account.url);
        let (status, _, password_cookie) = browser
            .call_raw(
                Method::POST,
                "/api/v1/login",
                Some(json!({ "login": email_a, "password": PASSWORD })),
            )
            .await;
        assert_eq!(status, 200);
        let password_cookie = password_cookie.expect("password login cookie");
        let old_session = browser.session().expect("a session");
        let login = challenge(&anonymous).await;
        let body = signed(INN_A, &login);
        secrets.extend([
            login.0.clone(),
            body["signature"].as_str().unwrap().to_owned(),
        ]);
        let (status, user, cookie) = browser
            .call_raw(Method::POST, "/api/v1/login/esign", Some(body))
            .await;
        assert_eq!(status, 200, "{user}");
        assert_eq!(user["email"], email_a);
        let cookie = cookie.expect("esign login cookie");
        assert_eq!(attributes(&cookie), attributes(&password_cookie));
        let new_session = browser.session().expect("a new session");
        assert_ne!(new_session, old_session);
        let (status, me) = browser.get("/api/v1/me").await;
        assert_eq!(status, 200);
        assert_eq!(me["user"]["email"], email_a);
        *browser.session.lock().unwrap() = Some(old_session);
        assert_eq!(browser.get("/api/v1/me").await.0, 401, "rotated away");
        let actions = audit_actions(&a).await;
        assert!(actions.iter().any(|a| a == "esign.link"), "{actions:?}");
        assert!(
            actions.iter().filter(|a| *a == "login").count() >= 3,
            "{actions:?}"
        );

        // Unlinked again (audited): the identity no longer logs in.
        let (status, removed) = a
            .call(Method::DELETE, &format!("/api/v1/me/esign/{link_id}"), None)
            .await;
        assert_eq!((status, removed["id"].as_i64()), (200, Some(link_id)));
        assert_eq!(a.get("/api/v1/me/esign").await.1["links"], json!([]));
        let (status, answer) = anonymous
            .post(
                "/api/v1/login/esign",
                signed(INN_A, &challenge(&anonymous).await),
            )
            .await;
        assert_eq!((status, error_code(&answer)), (401, "esign_not_linked"));
        let actions = audit_actions(&a).await;
        assert!(actions.iter().any(|a| a == "esign.unlink"), "{actions:?}");

        // Nothing above left a challenge or a signature in the log (which did record the flow).
        let text = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
        assert!(text.contains("e-signature linked"), "the log is captured");
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{secret} is in the log");
        }
        account.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_refusals_lock_the_address_as_password_logins_do() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let mail = MailServer::start().await;
        let account = Account::start_with_esign(
            &store,
            AccountOptions {
                smtp_url: Some(mail.url.as_str().into()),
                max_failures_per_address: Some(3),
                ..AccountOptions::default()
            },
            Arc::new(DigestSigner),
        )
        .await;
        let (a, _) = owner(&account, &mail, INN_A, "locked@esign.test").await;
        let anonymous = Client::anonymous(&account.url);
        let (status, _) = a
            .post(
                "/api/v1/me/esign",
                signed(INN_A, &challenge(&anonymous).await),
            )
            .await;
        assert_eq!(status, 201);
        for _ in 0..3 {
            let (status, answer) = anonymous
                .post(
                    "/api/v1/login/esign",
                    signed(INN_B, &challenge(&anonymous).await),
                )
                .await;
            assert_eq!((status, error_code(&answer)), (401, "esign_not_linked"));
        }
        // The address is locked now: even the linked identity is refused, as a password is.
        let (status, answer) = anonymous
            .post(
                "/api/v1/login/esign",
                signed(INN_A, &challenge(&anonymous).await),
            )
            .await;
        assert_eq!((status, error_code(&answer)), (401, "invalid_credentials"));
        let (status, answer) = anonymous
            .post(
                "/api/v1/login",
                json!({ "login": "locked@esign.test", "password": PASSWORD }),
            )
            .await;
        assert_eq!((status, error_code(&answer)), (401, "invalid_credentials"));
        account.stop().await;
    })
    .await;
}
