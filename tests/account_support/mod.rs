//! Test-side helpers for the account API: an in-process `ofd account` on a test database and a
//! small JSON client over real HTTP on loopback.
#![allow(dead_code)] // each test file uses a different subset

use std::net::SocketAddr;

use ofd::account::{spawn, AccountOptions, RunningAccount};
use ofd::store::Store;
use serde_json::Value;
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
        .resolve();
        let running = spawn(store.clone(), &config, shutdown.clone())
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
