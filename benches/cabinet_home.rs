//! The web cabinet's home page under load of data (issue 16): an organisation with 100 RU
//! registers and a year of their documents (the generator of `read_models`, projected by the real
//! projector), and `GET /` timed through the real account service over HTTP on loopback with an
//! owner's session — logged in the way a person is: invited by operator staff through the API,
//! the invitation accepted with the mailed token, then `POST /api/v1/login`. The target is
//! p99 ≤ 100 ms; the figures go into `benches/README.md` with the command, commit and load.
//!
//! `OFD_BENCH_DOCS` documents in all (default 438000: 100 registers × 365 days × 12, one
//! shift a day); `OFD_BENCH_DB` names the database (default: a SQLite file in a temporary
//! directory; a `postgres://` URL works too, and a database already holding documents is
//! measured as it is); `OFD_BENCH_RUNS` timed requests (default 300).
//!
//! Run: `cargo bench --bench cabinet_home`.

#[path = "support/read_data.rs"]
mod read_data;

use std::time::Instant;

use ofd::account::AccountOptions;
use ofd::project::{catch_up, Projector};
use ofd::store::Store;
use read_data::{env_or, generate, ms, percentiles, REGISTERS_PER_ORG};
use serde_json::json;

const PASSWORD: &str = "bench-owl-42-lantern";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let documents = env_or("OFD_BENCH_DOCS", 438_000) as usize;
    let runs = env_or("OFD_BENCH_RUNS", 300) as usize;
    let dir = tempfile::tempdir().expect("temp dir");
    let url = std::env::var("OFD_BENCH_DB")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let store = Store::open(&url).await.expect("open store");
    let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM documents")
        .fetch_one(store.pool())
        .await
        .expect("count");
    if existing == 0 {
        generate(&store, REGISTERS_PER_ORG, documents).await;
    } else {
        println!("generate: skipped, {existing} documents already stored");
    }
    let projector = Projector::new(&store);
    let started = Instant::now();
    let step = catch_up(&projector, 1000, 2).await.expect("projects");
    if step.read > 0 {
        println!(
            "project: {} documents in {:.1} s",
            step.read,
            started.elapsed().as_secs_f64()
        );
    }
    let org_id: i64 = sqlx::query_scalar("SELECT MIN(id) FROM organisations")
        .fetch_one(store.pool())
        .await
        .expect("org");
    let (registers, indexed): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM registers r JOIN organisations o ON o.inn = r.org_inn \
         WHERE o.id = $1), (SELECT COUNT(*) FROM doc_index)",
    )
    .bind(org_id)
    .fetch_one(store.read_pool())
    .await
    .expect("counts");
    println!("organisation {org_id}: {registers} registers, {indexed} documents indexed");

    let operator_key = store
        .create_api_key(&format!("bench-{}", std::process::id()))
        .await
        .expect("operator key")
        .secret
        .expose()
        .to_owned();
    let config = AccountOptions {
        listen: Some("127.0.0.1:0".parse().expect("addr")),
        ..AccountOptions::default()
    }
    .resolve()
    .expect("account config");
    let shutdown = tokio_util::sync::CancellationToken::new();
    let account = ofd::account::spawn(store.clone(), &config, shutdown.clone())
        .await
        .expect("account service");
    let base = format!("http://{}", account.addr);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");

    // An owner of the organisation, logged in as a person is.
    let email = format!("owner-{}@bench.test", std::process::id());
    let invited = http
        .post(format!("{base}/api/v1/users"))
        .bearer_auth(&operator_key)
        .header("content-type", "application/json")
        .body(json!({ "email": email, "role": "owner", "org_id": org_id }).to_string())
        .send()
        .await
        .expect("invite");
    assert_eq!(invited.status().as_u16(), 202, "invitation");
    let mail = store
        .due_mail(i64::MAX / 2, 1000)
        .await
        .expect("queued mail")
        .into_iter()
        .find(|m| m.to == email)
        .expect("the invitation mail");
    let token = mail
        .body
        .split("token=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a token in the mail")
        .to_owned();
    let accepted = http
        .post(format!("{base}/api/v1/invitations/accept"))
        .header("content-type", "application/json")
        .body(
            json!({ "token": token, "password": PASSWORD, "password_repeat": PASSWORD })
                .to_string(),
        )
        .send()
        .await
        .expect("accept");
    assert_eq!(accepted.status().as_u16(), 200, "accepted");
    let login = http
        .post(format!("{base}/api/v1/login"))
        .header("content-type", "application/json")
        .body(json!({ "login": email, "password": PASSWORD }).to_string())
        .send()
        .await
        .expect("login");
    let session = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("ofd_session="))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let cookie = format!("ofd_session={session}; ofd_csrf=bench");

    let get_home = || {
        let request = http
            .get(format!("{base}/"))
            .header("cookie", cookie.clone())
            .send();
        async move {
            let response = request.await.expect("GET /");
            assert_eq!(response.status().as_u16(), 200);
            let body = response.text().await.expect("body");
            assert!(body.contains("id=\"h-registers\""), "the home page");
        }
    };
    for _ in 0..10 {
        get_home().await;
    }
    let (p50, p99) = percentiles(runs, |_| get_home()).await;
    println!(
        "GET / ({registers} registers, {indexed} documents), {runs} requests: p50 {} p99 {}",
        ms(p50),
        ms(p99)
    );
    shutdown.cancel();
    let _ = account.task.await;
}
