//! The file destination, for operators without a link to the authority: each batch becomes one
//! gzip JSON-lines file, `<dir>/<UTC date>/<batch id>.jsonl.gz`, so the directory rotates daily
//! and files can be carried over by hand.
//!
//! The path depends only on the batch (its id and claim date), so a resent batch finds its file
//! and is answered as a duplicate. A file appears only complete: it is written under a temporary
//! name, synced, renamed, and the directory synced, before the answer counts as positive.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use super::{outbox::Batch, send_error::SendError};
use crate::tax_batch::{BatchReply, BatchStatus};

/// A configured output directory.
pub struct FileSink {
    dir: PathBuf,
}

impl FileSink {
    /// Write under `dir` (created as needed).
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The output directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file a batch goes to.
    pub fn path_of(&self, batch: &Batch) -> PathBuf {
        let day = chrono::DateTime::from_timestamp_millis(batch.created_at)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| "undated".into());
        self.dir.join(day).join(format!("{}.jsonl.gz", batch.id))
    }

    /// Write one batch durably.
    pub async fn send(&self, batch: &Batch, body: Vec<u8>) -> Result<BatchReply, SendError> {
        let path = self.path_of(batch);
        let accepted = batch.documents.len() as u64;
        let batch_id = batch.id.clone();
        let status = tokio::task::spawn_blocking(move || write_once(&path, &body))
            .await
            .map_err(|e| SendError::Transient(format!("file writer task: {e}")))?
            .map_err(|e| SendError::Transient(format!("writing the batch file: {e}")))?;
        Ok(BatchReply {
            batch_id,
            status,
            accepted,
            rejected: Vec::new(),
        })
    }
}

fn write_once(path: &Path, body: &[u8]) -> std::io::Result<BatchStatus> {
    if path.exists() {
        return Ok(BatchStatus::Duplicate);
    }
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("batch path has no parent"))?;
    std::fs::create_dir_all(dir)?;
    let temporary = path.with_extension("partial");
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(body)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(BatchStatus::Accepted)
}
