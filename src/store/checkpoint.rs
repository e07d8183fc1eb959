//! Moving SQLite's WAL checkpoints off the group-commit writer's path.
//!
//! In WAL mode a commit only appends pages to the `-wal` file; a *checkpoint* copies them into
//! the database file and fsyncs it. By default the connection that commits when the WAL passes
//! 1,000 pages runs the checkpoint inside its COMMIT — on the ingest path that is the writer, so
//! every few batches one of them waited for a copy and an extra fsync that its documents did
//! not need.
//!
//! Instead a background task checkpoints every [`INTERVAL`] with `PASSIVE` mode, which never
//! takes the write lock, so the writer commits while it copies. It cannot always finish (the
//! writer keeps appending), and only a fully copied WAL is rewound to its start, so the writer
//! keeps its own automatic checkpoint ([`WRITER_AUTOCHECKPOINT_PAGES`]): by the time it fires
//! the background task has copied nearly everything, so it costs the writer little, and it
//! rewinds the WAL. That rewind matters more than the copy: measured with the writer's
//! threshold at 20,000 pages, the WAL kept growing, every commit became an append to an ever
//! longer file, and p99 at 2,000 documents/s went from 15 ms to 71 ms.
//!
//! The two figures are a pair. A short interval keeps what the writer's checkpoint finds left
//! to copy small; a threshold well above what a few intervals add lets it fire seldom. With
//! SQLite's default of 1,000 pages (4 MiB) and a 250 ms interval, at 11,620 RU documents/s
//! (about 25,000 WAL pages a second) the writer's checkpoint fired every few commits, copied
//! what the background task had not reached and fsynced the database file inside the one serial
//! step every ack waits for: delivery p99 83–330 ms in three runs. At 8,000 pages and 25 ms it
//! was 31 and 35 ms, and at 4,000/s 9–11 ms in three runs of four (the fourth 91 ms with every
//! commit within 5 ms) against 14–34 ms (benches/README.md, "Eighteenth session"). An idle
//! server pays for the short interval with one cheap `PASSIVE` call per tick.
//!
//! Durability does not depend on any of this: a committed transaction is durable in the WAL.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Store;

/// How often the background task checkpoints.
pub const INTERVAL: Duration = Duration::from_millis(25);

/// The writer connection's `wal_autocheckpoint`: 8,000 pages of 4 KiB (32 MiB of WAL), eight
/// times SQLite's default; set explicitly because the rewind it triggers is part of this design.
pub const WRITER_AUTOCHECKPOINT_PAGES: u32 = 8_000;

/// Checkpoint `store` (SQLite) every [`INTERVAL`] until `stop` is cancelled.
pub async fn run(store: Store, stop: CancellationToken) {
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        // A failure (e.g. the database is briefly unavailable) is retried at the next tick; the
        // writer's own automatic checkpoint still bounds the WAL meanwhile.
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_optional(store.pool())
            .await
        {
            tracing::debug!(%error, "background WAL checkpoint failed");
        }
    }
}
