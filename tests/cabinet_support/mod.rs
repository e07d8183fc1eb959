//! Test-side helpers for the web cabinet: a real headless chromium driven over WebDriver
//! (Debian's `chromium` and `chromium-driver`; tests skip with a message when chromedriver is
//! absent), and a small form-posting HTTP client that keeps cookies and sends each page's CSRF
//! token back, for the plain HTTP tests.
#![allow(dead_code)] // each test file uses a different subset

use std::collections::BTreeMap;
use std::time::Duration;

use fantoccini::{Client as Driver, ClientBuilder, Locator};

/// A chromedriver process and a browser session on it.
pub struct Browser {
    /// The WebDriver session.
    pub driver: Driver,
    /// Base URL of the cabinet.
    pub base: String,
    _chromedriver: tokio::process::Child,
    shots: std::path::PathBuf,
}

/// Where screenshots go: `target/screenshots/` of this workspace.
fn screenshot_dir() -> std::path::PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".to_owned());
    std::path::Path::new(&target).join("screenshots")
}

impl Browser {
    /// Start chromedriver on a free loopback port and open a headless chromium on `base`;
    /// `None` (after saying why) when chromedriver is not installed.
    pub async fn start(base: &str) -> Option<Browser> {
        let Ok(path) = which("chromedriver") else {
            eprintln!(
                "SKIPPED: chromedriver is not installed (apt-get install -y chromium chromium-driver)"
            );
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("free port")
            .local_addr()
            .expect("addr")
            .port();
        let child = tokio::process::Command::new(path)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // fantoccini's TLS stack would otherwise find two crypto providers and pick neither.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            serde_json::json!({
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1200,900", "--lang=ru-RU"]
            }),
        );
        let driver = ClientBuilder::rustls()
            .expect("TLS roots")
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a chromium session");
        let shots = screenshot_dir();
        std::fs::create_dir_all(&shots).expect("screenshot dir");
        Some(Browser {
            driver,
            base: base.to_owned(),
            _chromedriver: child,
            shots,
        })
    }

    /// Open `path` (or a full URL).
    pub async fn open(&self, path: &str) {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        self.driver.goto(&url).await.expect("page opens");
    }

    /// The element matching CSS `selector` (waiting for it up to the driver's default).
    pub async fn el(&self, selector: &str) -> fantoccini::elements::Element {
        match self
            .driver
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(selector))
            .await
        {
            Ok(element) => element,
            Err(error) => panic!("{selector}: {error}\n{}", self.source().await),
        }
    }

    /// Wait (up to 10 s) until exactly `expected` elements match CSS `selector`. After a
    /// click that submits a form, the old page's elements are still there for a moment: a
    /// count taken at once may be the old page's, or the new page's before it has rendered.
    pub async fn expect_count(&self, selector: &str, expected: usize) {
        let found = self
            .poll_until(
                async || {
                    self.driver
                        .find_all(Locator::Css(selector))
                        .await
                        .map(|all| all.len())
                        .unwrap_or(usize::MAX)
                },
                |found| *found == expected,
            )
            .await;
        if let Err(found) = found {
            panic!(
                "{found} elements match {selector:?}, not {expected}\n{}",
                self.source().await
            );
        }
    }

    /// Read the page with `read` every 100 ms until `done` holds for a reading (`Ok` with it) or
    /// 10 s have passed (`Err` with the last reading): the one wait of the `expect_*` helpers.
    async fn poll_until<T>(
        &self,
        read: impl AsyncFn() -> T,
        done: impl Fn(&T) -> bool,
    ) -> Result<T, T> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let reading = read().await;
            if done(&reading) {
                return Ok(reading);
            }
            if std::time::Instant::now() >= deadline {
                return Err(reading);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether nothing on the page matches CSS `selector` (no waiting).
    pub async fn find_none(&self, selector: &str) -> bool {
        self.driver
            .find_all(Locator::Css(selector))
            .await
            .expect("find_all")
            .is_empty()
    }

    /// Type `text` into the field named `name`.
    pub async fn fill(&self, name: &str, text: &str) {
        self.el(&format!("[name=\"{name}\"]"))
            .await
            .send_keys(text)
            .await
            .expect("typing");
    }

    /// Choose `value` in the select named `name` (within `scope`, a CSS prefix, or the page).
    pub async fn choose(&self, scope: &str, name: &str, value: &str) {
        self.el(&format!("{scope} select[name=\"{name}\"]"))
            .await
            .select_by_value(value)
            .await
            .expect("choosing");
    }

    /// Click the element matching `selector`.
    pub async fn click(&self, selector: &str) {
        self.el(selector).await.click().await.expect("click");
    }

    /// The page's `h1` text. A click may still be replacing the page when the `h1` is found;
    /// an element of the page that went away is looked up again on the new one.
    pub async fn title(&self) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match self.el("h1").await.text().await {
                Ok(text) => return text,
                Err(_) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(error) => panic!("h1 text: {error}"),
            }
        }
    }

    /// Wait (up to 10 s, as a page loads after a click) until the `h1` is `expected`.
    pub async fn expect_title(&self, expected: &str) {
        let title = self
            .poll_until(async || self.title_now().await, |title| title == expected)
            .await;
        if let Err(title) = title {
            panic!("h1 {title:?}, not {expected:?}\n{}", self.source().await);
        }
    }

    /// Wait (up to 10 s) until the page's text contains `expected`; the text.
    pub async fn expect_text(&self, expected: &str) -> String {
        let text = self
            .poll_until(
                async || match self.driver.find(Locator::Css("body")).await {
                    Ok(body) => body.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                },
                |text| text.contains(expected),
            )
            .await;
        text.unwrap_or_else(|text| panic!("no {expected:?} in the page:\n{text}"))
    }

    async fn title_now(&self) -> String {
        match self.driver.find(Locator::Css("h1")).await {
            Ok(h1) => h1.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// The page's visible text.
    pub async fn text(&self) -> String {
        self.el("body").await.text().await.expect("body text")
    }

    /// The page's HTML.
    pub async fn source(&self) -> String {
        self.driver.source().await.unwrap_or_default()
    }

    /// The path of the current page.
    pub async fn path(&self) -> String {
        self.driver
            .current_url()
            .await
            .expect("url")
            .path()
            .to_owned()
    }

    /// Write a screenshot of the page as `target/screenshots/<name>.png`.
    pub async fn shot(&self, name: &str) {
        let png = self.driver.screenshot().await.expect("screenshot");
        std::fs::write(self.shots.join(format!("{name}.png")), png).expect("write screenshot");
    }

    /// End the session.
    pub async fn close(self) {
        self.driver.close().await.expect("session closes");
    }
}

fn which(program: &str) -> Result<std::path::PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .ok_or(())
}

/// An answer of a page: status, headers and HTML.
pub struct Page {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body.
    pub body: String,
}

impl Page {
    /// A header's value ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The value of the first hidden `csrf` field.
    pub fn csrf(&self) -> String {
        let start = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form with a csrf field");
        let rest = &self.body[start + "name=\"csrf\" value=\"".len()..];
        rest.split('"').next().expect("value").to_owned()
    }
}

/// A browser-like HTTP client: keeps cookies, does not follow redirects, posts forms.
pub struct PageClient {
    /// Base URL.
    pub base: String,
    http: reqwest::Client,
    cookies: std::sync::Mutex<BTreeMap<String, String>>,
}

impl PageClient {
    /// A client without cookies.
    pub fn new(base: &str) -> PageClient {
        PageClient {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: std::sync::Mutex::new(BTreeMap::new()),
        }
    }

    /// Set cookie `name` by hand (as a browser would keep it).
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .lock()
            .expect("lock")
            .insert(name.to_owned(), value.to_owned());
    }

    /// The value of cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().expect("lock").get(name).cloned()
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Page {
        let cookie = self
            .cookies
            .lock()
            .expect("lock")
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let request = if cookie.is_empty() {
            request
        } else {
            request.header("cookie", cookie)
        };
        let response = request.send().await.expect("HTTP exchange");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        for set in headers.get_all("set-cookie") {
            let set = set.to_str().expect("ASCII cookie");
            let pair = set.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                let mut cookies = self.cookies.lock().expect("lock");
                if value.is_empty() || set.contains("Max-Age=0") {
                    cookies.remove(name);
                } else {
                    cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        let body = response.text().await.expect("body");
        Page {
            status,
            headers,
            body,
        }
    }

    /// GET `path`.
    pub async fn get(&self, path: &str) -> Page {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    /// POST `fields` as a form to `path`, exactly as given (no CSRF added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await
    }

    /// Open `form_page`, then POST `fields` and its CSRF token to `path`.
    pub async fn submit(&self, form_page: &str, path: &str, fields: &[(&str, &str)]) -> Page {
        let page = self.get(form_page).await;
        assert_eq!(page.status, 200, "{form_page}: {}", page.body);
        let csrf = page.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Log in through the login form; panics unless it leads home.
    pub async fn login(&self, login: &str, password: &str) {
        let page = self
            .submit(
                "/login",
                "/login",
                &[("login", login), ("password", password)],
            )
            .await;
        assert_eq!(
            (page.status, page.header("location")),
            (303, "/"),
            "{}",
            page.body
        );
    }
}
