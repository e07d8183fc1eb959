//! `ofd quarantine list|show|retry`: the operator's view of the frames the ingest server kept
//! instead of taking them as documents (bad fiscal sign, a document the decoder refused, a
//! cross-check or register refusal), and the way back once the cause is fixed.
//!
//! `retry` runs each open RU row through the *current* decoder and checks, exactly as the server
//! would have on arrival (register status as it is now). A row that passes becomes a document
//! with its original received time, peer and reply, joins the forwarding outbox, and the row is
//! marked resolved — in one transaction. Rows whose fiscal sign failed are not retried (the
//! decoder is not what refused them), nor KZ rows: a KZ request changes the register's counters
//! and token, which only the register's own retry can replay. Both stay listed.

use anyhow::Context as _;
use clap::{Args, Subcommand};

use crate::config_file::ConfigArg;
use crate::store::config::{DatabaseArgs, StoreOptions};
use crate::store::{
    Dialect, InsertOutcome, QuarantineFilter, QuarantineRow, Resolved, Store, StoreError,
};

/// Arguments of `ofd quarantine`.
#[derive(Args, Debug)]
pub struct QuarantineArgs {
    #[command(subcommand)]
    command: QuarantineCommand,
    /// `--config` (its `[store] database`).
    #[command(flatten)]
    file: ConfigArg,
    /// `--database`.
    #[command(flatten)]
    database: DatabaseArgs,
}

#[derive(Subcommand, Debug)]
enum QuarantineCommand {
    /// List quarantined frames (open ones unless --all), oldest first.
    List(ListArgs),
    /// Show one quarantined frame: why it was refused, and its bytes in hex.
    Show(ShowArgs),
    /// Run open RU rows through the current decoder; those that pass become documents.
    Retry(RetryArgs),
}

#[derive(Args, Debug)]
struct ListArgs {
    /// Resolved rows too.
    #[arg(long)]
    all: bool,
    /// Print a JSON array on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct ShowArgs {
    /// Row id (as listed).
    id: i64,
    /// Print JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct RetryArgs {
    /// Row ids to retry.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    ids: Vec<i64>,
    /// Every open row.
    #[arg(long)]
    all: bool,
    /// Take documents of unknown ФН (flagged unregistered), as `serve --accept-unregistered`.
    #[arg(long)]
    accept_unregistered: bool,
    /// Print one JSON object per row on stdout.
    #[arg(long)]
    json: bool,
}

/// Run `ofd quarantine …`.
pub async fn run(args: QuarantineArgs) -> anyhow::Result<()> {
    let store_file: StoreOptions = args.file.load()?.table("store")?;
    let store = Store::open(&args.database.resolve(store_file.database)).await?;
    let result = match args.command {
        QuarantineCommand::List(list) => list_rows(&store, list).await,
        QuarantineCommand::Show(show) => show_row(&store, show).await,
        QuarantineCommand::Retry(retry) => retry_rows(&store, retry).await,
    };
    store.close().await;
    result
}

async fn list_rows(store: &Store, list: ListArgs) -> anyhow::Result<()> {
    let rows = store
        .list_quarantine(QuarantineFilter {
            include_resolved: list.all,
            ..QuarantineFilter::default()
        })
        .await?;
    if list.json {
        println!("{}", serde_json::to_string(&rows)?);
    } else {
        for row in &rows {
            println!("{}", describe(row));
        }
    }
    Ok(())
}

async fn show_row(store: &Store, show: ShowArgs) -> anyhow::Result<()> {
    let row = match store.quarantine_row(show.id).await {
        Err(StoreError::NotFound(what)) => anyhow::bail!("no {what}"),
        other => other?,
    };
    let detail = serde_json::json!({
        "row": &row,
        "session_hex": row.session.as_deref().map(hex::encode),
        "raw_hex": hex::encode(&row.raw),
        "ack_hex": row.ack.as_deref().map(hex::encode),
    });
    if show.json {
        println!("{detail}");
    } else {
        println!("{}", describe(&row));
        println!("error: {}", row.error.as_deref().unwrap_or("-"));
        if let Some(retry) = &row.retry_error {
            println!("last retry: {retry}");
        }
        if let Some(session) = &row.session {
            println!("session: {}", hex::encode(session));
        }
        println!("raw ({} bytes): {}", row.raw.len(), hex::encode(&row.raw));
    }
    Ok(())
}

/// What a retry did with one row.
#[derive(Debug, serde::Serialize)]
struct RetryOutcome {
    id: i64,
    /// `resolved`, `still_failing`, `skipped`, `already_resolved`.
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    doc_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

async fn retry_rows(store: &Store, retry: RetryArgs) -> anyhow::Result<()> {
    let rows = if retry.all {
        store.list_quarantine(QuarantineFilter::default()).await?
    } else {
        let mut rows = Vec::with_capacity(retry.ids.len());
        for id in &retry.ids {
            let row = match store.quarantine_row(*id).await {
                Err(StoreError::NotFound(what)) => anyhow::bail!("no {what}"),
                other => other?,
            };
            rows.push(row);
        }
        rows
    };
    let mut resolved = 0usize;
    let mut failing = 0usize;
    for row in &rows {
        let outcome = retry_row(store, row, retry.accept_unregistered).await?;
        match outcome.outcome {
            "resolved" => resolved += 1,
            "still_failing" => failing += 1,
            _ => {}
        }
        if retry.json {
            println!("{}", serde_json::to_string(&outcome)?);
        } else {
            let mut line = format!("#{} {}", outcome.id, outcome.outcome);
            for part in [&outcome.doc_key, &outcome.detail].into_iter().flatten() {
                line.push(' ');
                line.push_str(part);
            }
            println!("{line}");
        }
    }
    tracing::info!(
        rows = rows.len(),
        resolved,
        still_failing = failing,
        "quarantine retry done"
    );
    Ok(())
}

async fn retry_row(
    store: &Store,
    row: &QuarantineRow,
    accept_unregistered: bool,
) -> anyhow::Result<RetryOutcome> {
    let outcome = |outcome, doc_key, detail| RetryOutcome {
        id: row.id,
        outcome,
        doc_key,
        detail,
    };
    if row.resolved_at.is_some() {
        return Ok(outcome("already_resolved", row.doc_key.clone(), None));
    }
    if row.dialect == Dialect::Kz {
        let why = "KZ requests are replayed by the register itself";
        return Ok(outcome("skipped", None, Some(why.to_owned())));
    }
    if row.check == "sign" {
        let why = "the fiscal sign failed, not the decoder";
        return Ok(outcome("skipped", None, Some(why.to_owned())));
    }
    let admission = match &row.fn_number {
        Some(fn_number) => {
            let mut conn = store.pool().acquire().await?;
            crate::store::registers::fetch_admission_by_fn(&mut conn, fn_number).await?
        }
        None => None,
    };
    let now_utc = crate::clock::unix_seconds();
    let document = match super::ru::replay(row, now_utc, admission, accept_unregistered) {
        Ok(document) => document,
        Err(error) => {
            store.note_quarantine_retry(row.id, &error).await?;
            return Ok(outcome("still_failing", None, Some(error)));
        }
    };
    let doc_key = document.doc_key.clone();
    let result = store
        .resolve_quarantine(row.id, &document, crate::clock::unix_millis())
        .await
        .with_context(|| format!("storing the document of quarantine row {}", row.id))?;
    Ok(match result {
        Resolved::AlreadyResolved => outcome("already_resolved", None, None),
        Resolved::Stored(InsertOutcome::Stored) => outcome("resolved", Some(doc_key), None),
        Resolved::Stored(InsertOutcome::Duplicate { .. }) => outcome(
            "resolved",
            Some(doc_key),
            Some("the same document was already stored".to_owned()),
        ),
        Resolved::Stored(InsertOutcome::Conflict { .. }) => outcome(
            "resolved",
            Some(doc_key),
            Some("CONFLICT: another document is stored under this key; kept in conflicts".into()),
        ),
    })
}

/// One line per row for people.
fn describe(row: &QuarantineRow) -> String {
    let identity = match (&row.fn_number, row.fd_number, row.system_id) {
        (Some(fn_number), Some(fd), _) => format!("fn {fn_number} fd {fd}"),
        (Some(fn_number), None, _) => format!("fn {fn_number}"),
        (None, _, Some(system_id)) => format!("system id {system_id}"),
        _ => "no identity".to_owned(),
    };
    let state = match (&row.resolved_at, &row.doc_key) {
        (Some(_), Some(key)) => format!("resolved as {key}"),
        (Some(_), None) => "resolved".to_owned(),
        _ => "open".to_owned(),
    };
    format!(
        "#{} {} {} received {} check {} reason {} {} — {}",
        row.id,
        row.dialect,
        identity,
        row.received_at,
        row.check,
        row.reason,
        state,
        row.error.as_deref().unwrap_or("-")
    )
}
