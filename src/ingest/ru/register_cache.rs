//! What the RU hot path knows about registers: the status of a ФН number, remembered briefly.
//!
//! Every frame needs "is this ФН provisioned, and active?". Asking the database costs a pool
//! round trip per document, which under load was a tenth of the server's CPU (a statement on a
//! driver thread plus two thread hand-offs) for an answer that changes rarely: an operator
//! blocks, deregisters or provisions a register a few times in its life, while it sends
//! thousands of documents.
//!
//! So an answer — including "not provisioned" — is kept for `ttl`. The price, stated in
//! `ofd serve --help`: a status change takes effect on ingest within `ttl` (default 2 s). A
//! storage error is never remembered. `ttl = 0` asks the database every time.
//!
//! The map is bounded: when it reaches [`MAX_ENTRIES`] the expired entries are dropped, and if
//! that frees nothing, all of them (the next frames simply ask the database again).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::store::{RegisterStatus, Store, StoreError};

/// Most ФН numbers remembered at once (a few MiB).
const MAX_ENTRIES: usize = 100_000;

/// Recently read register statuses, keyed by ФН number.
pub(crate) struct RegisterCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Clone, Copy)]
struct Entry {
    /// `None`: the ФН is not provisioned.
    status: Option<RegisterStatus>,
    read_at: Instant,
}

impl RegisterCache {
    /// A cache whose answers live for `ttl` (zero: no caching).
    pub(crate) fn new(ttl: Duration) -> RegisterCache {
        RegisterCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The status of the register with this ФН number (`None`: not provisioned), from memory
    /// when read less than `ttl` ago, else from `store`.
    pub(crate) async fn status(
        &self,
        store: &Store,
        fn_number: &str,
    ) -> Result<Option<RegisterStatus>, StoreError> {
        let now = Instant::now();
        if let Some(status) = self.fresh(fn_number, now) {
            return Ok(status);
        }
        let status = store
            .register_by_fn(fn_number)
            .await?
            .map(|register| register.status);
        if !self.ttl.is_zero() {
            self.remember(fn_number, status, now);
        }
        Ok(status)
    }

    fn fresh(&self, fn_number: &str, now: Instant) -> Option<Option<RegisterStatus>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(fn_number)?;
        (now.duration_since(entry.read_at) < self.ttl).then_some(entry.status)
    }

    fn remember(&self, fn_number: &str, status: Option<RegisterStatus>, read_at: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(fn_number) {
            let ttl = self.ttl;
            entries.retain(|_, entry| read_at.duration_since(entry.read_at) < ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(fn_number.to_owned(), Entry { status, read_at });
    }
}
