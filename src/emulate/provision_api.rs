//! Provisioning the emulated fleet through the account API (`--account-url`, `--api-key`), for a
//! server whose database the emulator cannot reach: the same registers as the direct database
//! path ([`super::provision`]), entered the way an operator's tooling would.
//!
//! Each register's owner is entered first (an organisation that already exists is fine). A RU
//! register whose ФН is already registered (409) counts as provisioned, so a fleet can be run
//! again; KZ registers are new each run, and the system id and first token come from the answer.

use std::time::Duration;

use anyhow::{bail, Context as _};
use futures::stream::{self, StreamExt as _, TryStreamExt as _};
use reqwest::{header, StatusCode};

use super::kz::Credentials;
use super::model::serial;
use super::provision::{kz_owner_bin, MODEL, PARALLEL_INSERTS};
use super::ru;
use crate::secret::Secret;

/// How long one API call may take before provisioning fails.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A client of the account API holding its key.
pub struct AccountClient {
    http: reqwest::Client,
    base: String,
    /// `Bearer <key>`.
    authorization: Secret,
}

impl AccountClient {
    /// A client of the API at `url` (e.g. `http://127.0.0.1:8088`) using API key `key`.
    pub fn new(url: &str, key: &Secret) -> anyhow::Result<Self> {
        let parsed = url::Url::parse(url).with_context(|| format!("--account-url {url:?}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            bail!("--account-url must be http:// or https://");
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            http,
            base: url.trim_end_matches('/').to_owned(),
            authorization: Secret::from(format!("Bearer {}", key.expose().trim())),
        })
    }

    /// POST `body` to `/api/v1{path}`; the status and the decoded JSON answer.
    async fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<(StatusCode, serde_json::Value)> {
        let url = format!("{}/api/v1{path}", self.base);
        let response = self
            .http
            .post(&url)
            .header(header::AUTHORIZATION, self.authorization.expose())
            .header(header::CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(body)?)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .with_context(|| format!("POST {url}"))?;
        let json = serde_json::from_slice(&bytes)
            .with_context(|| format!("POST {url}: {status} with a body that is not JSON"))?;
        Ok((status, json))
    }

    /// Enter organisation `inn` of `country` unless it exists already.
    async fn ensure_organisation(
        &self,
        country: &str,
        inn: &str,
        name: &str,
    ) -> anyhow::Result<()> {
        let body = serde_json::json!({ "inn": inn, "name": name, "country": country });
        match self.post("/organisations", &body).await? {
            (StatusCode::CREATED | StatusCode::CONFLICT, _) => Ok(()),
            (status, answer) => bail!("creating organisation {inn}: {}", refusal(status, &answer)),
        }
    }
}

/// Register ФН numbers `0..count` of `fleet` (and their owners) through the API.
pub async fn ru_fleet(client: &AccountClient, fleet: u32, count: u64) -> anyhow::Result<()> {
    stream::iter(0..count)
        .map(|index| async move {
            let identity = ru::identity(fleet, index);
            client
                .ensure_organisation("ru", &identity.inn, &identity.user)
                .await?;
            let body = serde_json::json!({
                "dialect": "ru",
                "fn_number": identity.fn_number,
                "serial": serial(fleet, index),
                "model": MODEL,
                "reg_number": identity.reg_number,
                "org_inn": identity.inn,
            });
            match client.post("/registers", &body).await? {
                // Already registered by an earlier run: that is what provisioning wants.
                (StatusCode::CREATED | StatusCode::CONFLICT, _) => Ok(()),
                (status, answer) => bail!(
                    "registering ФН {}: {}",
                    identity.fn_number,
                    refusal(status, &answer)
                ),
            }
        })
        .buffer_unordered(PARALLEL_INSERTS)
        .try_collect::<()>()
        .await
}

/// Provision `count` new KZ registers of `fleet` through the API; their credentials.
pub async fn kz_fleet(
    client: &AccountClient,
    fleet: u32,
    count: u64,
) -> anyhow::Result<Vec<Credentials>> {
    let owner = kz_owner_bin(fleet);
    client
        .ensure_organisation("kz", &owner, &format!("ТОО \"Эмулятор-{fleet}\""))
        .await?;
    let owner = &owner;
    stream::iter(0..count)
        .map(|index| async move {
            let body = serde_json::json!({
                "dialect": "kz",
                "serial": serial(fleet, index),
                "model": MODEL,
                "org_inn": owner,
            });
            match client.post("/registers", &body).await? {
                (StatusCode::CREATED, answer) => serde_json::from_value::<Credentials>(answer)
                    .context("the provisioning answer lacks system_id or token"),
                (status, answer) => {
                    bail!("provisioning a KZ register: {}", refusal(status, &answer))
                }
            }
        })
        .buffer_unordered(PARALLEL_INSERTS)
        .try_collect()
        .await
}

/// The API's error answer in one line.
fn refusal(status: StatusCode, answer: &serde_json::Value) -> String {
    let code = answer["error"]["code"].as_str().unwrap_or("?");
    let message = answer["error"]["message"].as_str().unwrap_or("");
    format!("{status} {code}: {message}")
}
