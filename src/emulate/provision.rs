//! Provisioning the emulated fleet: what the operator's cabinet would do for real registers.
//!
//! RU registers are entered by ФН number (skipped when already known, so a fleet can be run
//! again against the same database); KZ registers get a fresh system id and first token each,
//! which the emulator then keeps rotating exactly like a register would. Credentials can also
//! come from a file of `ofd register add --dialect kz --json` lines, for a server whose database
//! the emulator cannot reach, or from the account API ([`super::provision_api`]), which makes
//! the same registers with the same names and owners.

use std::path::Path;

use anyhow::Context;
use futures::stream::{self, StreamExt, TryStreamExt};

use super::kz::Credentials;
use super::model::serial;
use super::ru;
use crate::store::{Dialect, NewRegister, Store};

/// Inserts in flight at once (SQLite serialises them anyway; PostgreSQL overlaps them).
pub(super) const PARALLEL_INSERTS: usize = 8;

/// Model name of every emulated register.
pub(super) const MODEL: &str = "ofd-emulate";

/// The БИН of the one organisation that owns a KZ fleet: eleven digits from the fleet number
/// and a valid check digit (the account service checks it). Bodies that can have no check digit
/// are stepped over.
pub(super) fn kz_owner_bin(fleet: u32) -> String {
    let mut body = 10_000_000_000u64 + u64::from(fleet) * 2;
    loop {
        let text = format!("{body:011}");
        let digits: Vec<u32> = text.bytes().map(|b| u32::from(b - b'0')).collect();
        if let Some(check) = crate::store::tax_id::kz_check_digit(&digits) {
            return format!("{text}{check}");
        }
        body += 1;
    }
}

/// Register RU ФН numbers `0..count` of `fleet` in the database at `url`.
pub async fn ru_fleet(url: &str, fleet: u32, count: u64) -> anyhow::Result<()> {
    let store = Store::open(url).await?;
    stream::iter(0..count)
        .map(|index| {
            let store = store.clone();
            async move {
                let identity = ru::identity(fleet, index);
                if store.register_by_fn(&identity.fn_number).await?.is_some() {
                    return Ok(());
                }
                let new = NewRegister {
                    fn_number: Some(identity.fn_number.clone()),
                    serial: Some(serial(fleet, index)),
                    model: Some(MODEL.to_owned()),
                    reg_number: Some(identity.reg_number.clone()),
                    org_inn: Some(identity.inn.clone()),
                };
                store
                    .add_register(Dialect::Ru, new)
                    .await
                    .with_context(|| format!("registering ФН {}", identity.fn_number))?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(PARALLEL_INSERTS)
        .try_collect::<()>()
        .await?;
    store.close().await;
    Ok(())
}

/// Provision `count` new KZ registers in the database at `url` and return their credentials.
pub async fn kz_fleet(url: &str, fleet: u32, count: u64) -> anyhow::Result<Vec<Credentials>> {
    let store = Store::open(url).await?;
    let credentials = stream::iter(0..count)
        .map(|index| {
            let store = store.clone();
            async move {
                let new = NewRegister {
                    fn_number: None,
                    serial: Some(serial(fleet, index)),
                    model: Some(MODEL.to_owned()),
                    reg_number: None,
                    org_inn: Some(kz_owner_bin(fleet)),
                };
                let register = store.add_register(Dialect::Kz, new).await?;
                let system_id = register
                    .system_id
                    .context("KZ register without a system id")?;
                let token = register.kz_token.context("KZ register without a token")?;
                anyhow::Ok(Credentials {
                    system_id: u32::try_from(system_id).context("system id out of range")?,
                    token: u32::try_from(token).context("token out of range")?,
                })
            }
        })
        .buffer_unordered(PARALLEL_INSERTS)
        .try_collect::<Vec<_>>()
        .await?;
    store.close().await;
    Ok(credentials)
}

/// Read KZ credentials from JSON lines (`{"system_id": …, "token": …}`, other keys ignored), as
/// `ofd register add --dialect kz --json` prints them.
pub fn kz_credentials_file(path: &Path) -> anyhow::Result<Vec<Credentials>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(number, line)| {
            serde_json::from_str(line).with_context(|| {
                format!("{}:{}: not a credentials line", path.display(), number + 1)
            })
        })
        .collect()
}
