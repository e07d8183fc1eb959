//! Test-side helpers for the account API: an in-process `ofd account` on a test database and a
//! small JSON client over real HTTP on loopback.
#![allow(dead_code)] // each test file uses a different subset

use std::net::SocketAddr;
use std::sync::Arc;

use ofd::account::{spawn_with_esign, AccountOptions, RunningAccount};
use ofd::store::Store;
use reqwest::Method;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

/// A running account API and a key that works on it.
pub struct Account {
    /// Base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    /// A live API key.
    pub key: String,
    http: reqwest::Client,
    shutdown: CancellationToken,
    running: RunningAccount,
}

impl Account {
    /// Serve the API over `store` on an OS-chosen port, with a fresh operator key named `test`.
    pub async fn start(store: &Store) -> Account {
        Account::start_with(store, AccountOptions::default()).await
    }

    /// [`Account::start`] with `options` (its `listen` is replaced by an OS-chosen port).
    pub async fn start_with(store: &Store, options: AccountOptions) -> Account {
        Account::start_with_esign(store, options, Arc::new(ofd::account::esign::NotConfigured))
            .await
    }

    /// [`Account::start`] sending its mail to a fresh [`MailServer`], returned beside it.
    pub async fn start_with_mail(store: &Store) -> (Account, MailServer) {
        let mail = MailServer::start().await;
        let options = AccountOptions {
            smtp_url: Some(mail.url.as_str().into()),
            ..AccountOptions::default()
        };
        (Account::start_with(store, options).await, mail)
    }

    /// [`Account::start_with`] with an electronic-signature verifier.
    pub async fn start_with_esign(
        store: &Store,
        options: AccountOptions,
        esign: Arc<dyn ofd::account::esign::EsignVerifier>,
    ) -> Account {
        let key = store
            .create_api_key("test")
            .await
            .expect("create key")
            .secret
            .expose()
            .to_owned();
        let shutdown = CancellationToken::new();
        let listen: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        let config = AccountOptions {
            listen: Some(listen),
            ..options
        }
        .resolve()
        .expect("valid account options");
        let running = spawn_with_esign(store.clone(), &config, esign, shutdown.clone())
            .await
            .expect("account API starts");
        Account {
            url: format!("http://{}", running.addr),
            key,
            http: reqwest::Client::new(),
            shutdown,
            running,
        }
    }

    /// Send `method path` (under the base URL) with `key` as bearer (none when `None`) and an
    /// optional JSON body; the status and the JSON answer.
    pub async fn call_with(
        &self,
        key: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("HTTP exchange");
        let status = response.status().as_u16();
        let bytes = response.bytes().await.expect("body");
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("{status}: not JSON: {}", String::from_utf8_lossy(&bytes)));
        (status, json)
    }

    /// GET with the test key.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call_with(Some(&self.key), reqwest::Method::GET, path, None)
            .await
    }

    /// POST JSON with the test key.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call_with(Some(&self.key), reqwest::Method::POST, path, Some(body))
            .await
    }

    /// PUT JSON with the test key.
    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call_with(Some(&self.key), reqwest::Method::PUT, path, Some(body))
            .await
    }

    /// Stop the server and wait for it.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.running
            .task
            .await
            .expect("account task")
            .expect("clean stop");
    }
}

/// The machine-readable code of an error answer.
pub fn error_code(answer: &Value) -> &str {
    answer["error"]["code"]
        .as_str()
        .unwrap_or("<no error code>")
}

/// A real SMTP server on loopback (aiosmtpd, from PyPI) that prints every message it receives
/// as one JSON line: `{"to": [...], "subject": "...", "body": "<decoded text>"}`.
pub struct MailServer {
    /// `smtp://127.0.0.1:PORT`.
    pub url: String,
    mails: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<Value>>,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

const SMTP_HANDLER: &str = r#"
import json
from email import message_from_bytes
from email.policy import default

class Handler:
    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content or envelope.content, policy=default)
        body = message.get_body(preferencelist=("plain",)).get_content()
        print(json.dumps({"to": envelope.rcpt_tos, "subject": str(message["subject"]),
                          "body": body}), flush=True)
        return "250 OK"
"#;

impl MailServer {
    /// Start `python3 -m aiosmtpd` on a free loopback port and wait until it greets.
    ///
    /// The port is chosen by binding port 0 and letting it go, so another process may take it
    /// before aiosmtpd binds it (seen in CI: "address already in use", and the connect check
    /// then reached the other process). So readiness is aiosmtpd's own greeting, and a server
    /// that exits or never greets is replaced on another port, a few times over.
    pub async fn start() -> MailServer {
        for _ in 0..5 {
            if let Some(server) = MailServer::try_start().await {
                return server;
            }
        }
        panic!("aiosmtpd did not start on any of five ports (pip install aiosmtpd)");
    }

    async fn try_start() -> Option<MailServer> {
        use tokio::io::AsyncBufReadExt as _;
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("ofd_test_smtp.py"), SMTP_HANDLER).expect("handler");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("free port")
            .local_addr()
            .expect("addr")
            .port();
        let mut child = tokio::process::Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "ofd_test_smtp.Handler"])
            .env("PYTHONPATH", dir.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 -m aiosmtpd (pip install aiosmtpd)");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !greets_as_aiosmtpd(port).await {
            if child.try_wait().expect("aiosmtpd status").is_some()
                || std::time::Instant::now() >= deadline
            {
                return None;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(mail) = serde_json::from_str::<Value>(&line) {
                    let _ = sender.send(mail);
                }
            }
        });
        Some(MailServer {
            url: format!("smtp://127.0.0.1:{port}"),
            mails: tokio::sync::Mutex::new(receiver),
            _child: child,
            _dir: dir,
        })
    }

    /// The next message received (within 20 s): recipient, subject, body.
    pub async fn next(&self) -> (String, String, String) {
        let mut mails = self.mails.lock().await;
        let mail = tokio::time::timeout(std::time::Duration::from_secs(20), mails.recv())
            .await
            .expect("a mail arrived in time")
            .expect("SMTP server running");
        (
            mail["to"][0].as_str().unwrap_or_default().to_owned(),
            mail["subject"].as_str().unwrap_or_default().to_owned(),
            mail["body"].as_str().unwrap_or_default().to_owned(),
        )
    }
}

/// Whether the listener on `port` answers with aiosmtpd's greeting ("220 <host> Python SMTP …").
async fn greets_as_aiosmtpd(port: u16) -> bool {
    use tokio::io::AsyncReadExt as _;
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let mut greeting = [0u8; 256];
    match tokio::time::timeout(
        std::time::Duration::from_secs(2),
        stream.read(&mut greeting),
    )
    .await
    {
        Ok(Ok(read)) => {
            let text = String::from_utf8_lossy(&greeting[..read]);
            text.starts_with("220 ") && text.contains("Python SMTP")
        }
        _ => false,
    }
}

/// The first http(s) link in a mail body.
pub fn link_in(body: &str) -> String {
    let start = body.find("http").expect("a link in the mail");
    body[start..]
        .split_whitespace()
        .next()
        .expect("link")
        .to_owned()
}

/// The `token` of a link.
pub fn token_of(link: &str) -> String {
    link.split("token=")
        .nth(1)
        .expect("token in link")
        .to_owned()
}

/// A JSON client for one caller: a session cookie (kept from login answers) or a bearer key.
pub struct Client {
    /// Base URL.
    pub url: String,
    /// Bearer key, if any.
    pub bearer: Option<String>,
    /// Session cookie value, if any.
    pub session: std::sync::Mutex<Option<String>>,
    http: reqwest::Client,
}

impl Client {
    /// A client without credentials.
    pub fn anonymous(url: &str) -> Client {
        Client {
            url: url.to_owned(),
            bearer: None,
            session: std::sync::Mutex::new(None),
            http: reqwest::Client::new(),
        }
    }

    /// A client with bearer `key`.
    pub fn with_key(url: &str, key: &str) -> Client {
        Client {
            bearer: Some(key.to_owned()),
            ..Client::anonymous(url)
        }
    }

    /// The current session cookie value.
    pub fn session(&self) -> Option<String> {
        self.session.lock().expect("lock").clone()
    }

    /// `method path` with an optional JSON body; status, JSON answer (Null when empty) and the
    /// raw `Set-Cookie` header. A session cookie set by the answer is kept.
    pub async fn call_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value, Option<String>) {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.url)
        };
        let mut request = self.http.request(method, url);
        if let Some(key) = &self.bearer {
            request = request.bearer_auth(key);
        }
        if let Some(session) = self.session() {
            request = request.header("cookie", format!("ofd_session={session}"));
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("HTTP exchange");
        let status = response.status().as_u16();
        let set_cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if let Some(value) = set_cookie
            .as_deref()
            .and_then(|c| c.strip_prefix("ofd_session="))
            .and_then(|c| c.split(';').next())
        {
            *self.session.lock().expect("lock") = (!value.is_empty()).then(|| value.to_owned());
        }
        let bytes = response.bytes().await.expect("body");
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!("{status}: not JSON: {}", String::from_utf8_lossy(&bytes))
            })
        };
        (status, json, set_cookie)
    }

    /// `method path` with an optional JSON body; status and JSON answer.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let (status, json, _) = self.call_raw(method, path, body).await;
        (status, json)
    }

    /// GET.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// POST JSON.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// PUT JSON.
    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }

    /// POST a CSV file (`text/csv`); status and JSON answer.
    pub async fn post_csv(&self, path: &str, csv: &str) -> (u16, Value) {
        let mut request = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "text/csv")
            .body(csv.to_owned());
        if let Some(key) = &self.bearer {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.expect("HTTP exchange");
        let status = response.status().as_u16();
        let bytes = response.bytes().await.expect("body");
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("{status}: not JSON: {}", String::from_utf8_lossy(&bytes)));
        (status, json)
    }
}

/// The password every test user gets.
pub const PASSWORD: &str = "sturdy-owl-42-lantern";

/// A sign-up body for organisation `inn` in `country` with owner `email`.
pub fn signup_body(inn: &str, country: &str, email: &str) -> Value {
    json!({
        "organisation": { "inn": inn, "name": format!("Org {inn}"), "country": country },
        "email": email,
        "password": PASSWORD,
        "password_repeat": PASSWORD,
        "consent": true,
    })
}

/// Sign up `email` for organisation `inn`, follow the confirmation link from the mail, log in;
/// the logged-in client and the organisation's id.
pub async fn owner(account: &Account, mail: &MailServer, inn: &str, email: &str) -> (Client, i64) {
    let anonymous = Client::anonymous(&account.url);
    let (status, answer) = anonymous
        .post("/api/v1/signup", signup_body(inn, "ru", email))
        .await;
    assert_eq!(
        (status, answer),
        (202, json!({ "status": "confirmation_sent" }))
    );

    // Not before the e-mail is confirmed.
    let (status, answer) = anonymous
        .post(
            "/api/v1/login",
            json!({ "login": email, "password": PASSWORD }),
        )
        .await;
    assert_eq!((status, error_code(&answer)), (403, "email_not_confirmed"));

    let (to, _, body) = mail.next().await;
    assert_eq!(to, email);
    // The mail links to the cabinet's page; the API confirms the same token.
    let link = format!("/api/v1/signup/confirm?token={}", token_of(&link_in(&body)));
    let (status, answer) = anonymous.get(&link).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "active");
    // One-time: the same link again does nothing.
    let (status, answer) = anonymous.get(&link).await;
    assert_eq!((status, error_code(&answer)), (400, "invalid_token"));

    let client = Client::anonymous(&account.url);
    let (status, _, cookie) = client
        .call_raw(
            Method::POST,
            "/api/v1/login",
            Some(json!({ "login": email.to_uppercase(), "password": PASSWORD })),
        )
        .await;
    assert_eq!(status, 200);
    let cookie = cookie.expect("session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    let (_, me) = client.get("/api/v1/me").await;
    assert_eq!(me["user"]["role"], "owner");
    assert!(me["user"]["consent_at"].as_i64().is_some(), "{me}");
    let org_id = me["organisation"]["id"].as_i64().expect("org id");
    (client, org_id)
}

/// Invite `email` as `role` with `by`, accept from the mailed link, log in; the client and the
/// user id.
pub async fn staff(
    account: &Account,
    mail: &MailServer,
    by: &Client,
    email: &str,
    role: &str,
) -> (Client, i64) {
    let (status, answer) = by
        .post("/api/v1/users", json!({ "email": email, "role": role }))
        .await;
    assert_eq!(
        (status, answer),
        (202, json!({ "status": "invitation_sent" }))
    );
    let (_, users) = by.get("/api/v1/users").await;
    let user = users["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["email"] == email)
        .cloned()
        .expect("the invited user is listed");
    assert_eq!(user["status"], "invited");
    let (to, _, body) = mail.next().await;
    assert_eq!(to, email);
    let token = token_of(&link_in(&body));
    let anonymous = Client::anonymous(&account.url);
    let (status, answer) = anonymous
        .post(
            "/api/v1/invitations/accept",
            json!({ "token": token, "password": PASSWORD, "password_repeat": PASSWORD }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["role"], role);
    let client = Client::anonymous(&account.url);
    let (status, _) = client
        .post(
            "/api/v1/login",
            json!({ "login": email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 200);
    (client, user["id"].as_i64().expect("id"))
}

/// Operator staff enter organisation `inn` (`country` `ru` or `kz`) with an actual address;
/// its id.
pub async fn enter_organisation(account: &Account, inn: &str, country: &str) -> i64 {
    let (status, answer) = account
        .post(
            "/api/v1/organisations",
            serde_json::json!({
                "inn": inn,
                "name": format!("Org {inn}"),
                "country": country,
                "actual_address": format!("Street {inn}, 1"),
            }),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    answer["id"].as_i64().expect("organisation id")
}

/// A client with a fresh API key of organisation `org_id` acting as `role` (`owner`,
/// `accountant`, `engineer`, `cashier`), issued by operator staff.
pub async fn org_client(account: &Account, org_id: i64, role: &str) -> Client {
    let (status, answer) = account
        .post(
            "/api/v1/api-keys",
            serde_json::json!({
                "name": format!("{role}-{}", uuid::Uuid::new_v4().simple()),
                "role": role,
                "org_id": org_id,
            }),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    Client::with_key(&account.url, answer["secret"].as_str().expect("secret"))
}

/// The operator's own client (the test key).
pub fn operator(account: &Account) -> Client {
    Client::with_key(&account.url, &account.key)
}

/// Operator staff provision a register of organisation `inn`: KZ when `fn_number` is `None`;
/// the answer (with `id`, and for KZ `system_id` and the first `token`).
pub async fn provision(account: &Account, inn: &str, fn_number: Option<&str>) -> Value {
    let body = match fn_number {
        Some(fn_number) => {
            serde_json::json!({ "dialect": "ru", "fn_number": fn_number, "org_inn": inn })
        }
        None => serde_json::json!({ "dialect": "kz", "serial": "S-1", "reg_number": "010101010101",
            "org_inn": inn }),
    };
    let (status, answer) = account.post("/api/v1/registers", body).await;
    assert_eq!(status, 201, "{answer}");
    answer
}

/// The tests' stand-in for a deployment's e-signature verifier (the real one is an external
/// crypto provider): a "signature" is `<taxpayer id>:` and the SHA-256 of the signed bytes in
/// hex, and the certificate's name is `Директор <taxpayer id>`.
#[derive(Debug)]
pub struct DigestSigner;

impl DigestSigner {
    /// What the signing tool of `tax_id` makes of `bytes`.
    pub fn sign(tax_id: &str, bytes: &[u8]) -> Vec<u8> {
        use sha2::Digest as _;
        format!("{tax_id}:{}", hex::encode(sha2::Sha256::digest(bytes))).into_bytes()
    }
}

impl ofd::account::esign::EsignVerifier for DigestSigner {
    fn verify(
        &self,
        challenge: &[u8],
        signature: &[u8],
    ) -> Result<ofd::account::esign::SignerIdentity, ofd::account::esign::EsignError> {
        use ofd::account::esign::{EsignError, SignerIdentity};
        let text = String::from_utf8_lossy(signature);
        let (tax_id, _) = text
            .split_once(':')
            .ok_or_else(|| EsignError::Invalid("no taxpayer id".into()))?;
        if DigestSigner::sign(tax_id, challenge) != signature {
            return Err(EsignError::Invalid("digest mismatch".into()));
        }
        Ok(SignerIdentity {
            tax_id: tax_id.to_owned(),
            name: format!("Директор {tax_id}"),
        })
    }
}
