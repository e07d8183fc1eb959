//! What the RU hot path knows about registers: the admission of a ФН number (its register's
//! gate, and the moment after which its documents are refused), remembered briefly. A ФН is
//! found as a register's current drive or as a replaced one (`register_drives`).
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

use crate::store::registers::{fetch_admission_by_fn, Admission};
use crate::store::{Store, StoreError};

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
    admission: Option<Admission>,
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

    /// The admission of this ФН number (`None`: not provisioned), from memory when read less
    /// than `ttl` ago, else from `store`.
    pub(crate) async fn admission(
        &self,
        store: &Store,
        fn_number: &str,
    ) -> Result<Option<Admission>, StoreError> {
        let now = Instant::now();
        if let Some(admission) = self.fresh(fn_number, now) {
            return Ok(admission);
        }
        let mut conn = store.pool().acquire().await?;
        let admission = fetch_admission_by_fn(&mut conn, fn_number).await?;
        drop(conn);
        if !self.ttl.is_zero() {
            self.remember(fn_number, admission, now);
        }
        Ok(admission)
    }

    fn fresh(&self, fn_number: &str, now: Instant) -> Option<Option<Admission>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(fn_number)?;
        (now.duration_since(entry.read_at) < self.ttl).then_some(entry.admission)
    }

    fn remember(&self, fn_number: &str, admission: Option<Admission>, read_at: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(fn_number) {
            let ttl = self.ttl;
            entries.retain(|_, entry| read_at.duration_since(entry.read_at) < ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(fn_number.to_owned(), Entry { admission, read_at });
    }
}
