//! PostgreSQL's reserve of WAL segments, looked at once when ingest starts (docs/operations.md,
//! section 6).
//!
//! While WAL is written faster than the segments the last checkpoints kept in reserve,
//! PostgreSQL makes each new 16 MB segment by writing zeros through it (`wal_init_zero`, on by
//! default), and the group commit that crosses into it waits. At 4,000 documents/s (≈ 8 MB/s of
//! WAL) that was one commit of 50–100 ms every two seconds, and the acknowledgement p99 went
//! from ≈ 12 to 50–70 ms; `min_wal_size = 2GB` or `wal_init_zero = off` removed it
//! (benches/README.md, issue 18). The server's settings are its operator's, so ingest only says
//! so, once, in its log at start.

use super::{Backend, Store, StoreError};

/// The `min_wal_size` (MB) below which ingest's start advises more, when `wal_init_zero` is on.
pub const ADVISED_MIN_WAL_MB: i64 = 1024;

/// The advice for these settings, if any: `min_wal_size` in MB and whether `wal_init_zero` is on.
pub fn advice(min_wal_size_mb: i64, wal_init_zero: bool) -> Option<String> {
    (wal_init_zero && min_wal_size_mb < ADVISED_MIN_WAL_MB).then(|| {
        format!(
            "PostgreSQL keeps min_wal_size = {min_wal_size_mb} MB of WAL in reserve and zero-fills \
             each new segment (wal_init_zero = on): under a rising load a group commit waits for \
             that every 16 MB of WAL; set min_wal_size to the WAL of one checkpoint cycle at peak \
             (at least {ADVISED_MIN_WAL_MB} MB), or wal_init_zero = off on a copy-on-write \
             filesystem (docs/operations.md, section 6)"
        )
    })
}

/// The advice for the server `store` talks to: `None` on SQLite, when the settings are good, or
/// when PostgreSQL reports them in units other than the ones read here.
pub async fn check(store: &Store) -> Result<Option<String>, StoreError> {
    if store.backend() != Backend::Postgres {
        return Ok(None);
    }
    let min_wal: Option<String> = sqlx::query_scalar(
        "SELECT setting FROM pg_settings WHERE name = 'min_wal_size' AND unit = 'MB'",
    )
    .fetch_optional(store.pool())
    .await?;
    let init_zero: Option<String> =
        sqlx::query_scalar("SELECT setting FROM pg_settings WHERE name = 'wal_init_zero'")
            .fetch_optional(store.pool())
            .await?;
    let Some(min_wal) = min_wal.and_then(|text| text.parse::<i64>().ok()) else {
        return Ok(None);
    };
    // `wal_init_zero` exists since PostgreSQL 12; before it, segments were always zero-filled.
    let init_zero = init_zero.is_none_or(|setting| setting == "on");
    Ok(advice(min_wal, init_zero))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_get_advice_and_either_remedy_silences_it() {
        let text = advice(80, true).expect("PostgreSQL's defaults");
        assert!(text.contains("min_wal_size = 80 MB"), "{text}");
        assert!(text.contains("wal_init_zero = off"), "{text}");
        assert_eq!(advice(2048, true), None);
        assert_eq!(advice(ADVISED_MIN_WAL_MB, true), None);
        assert_eq!(advice(80, false), None);
    }
}
