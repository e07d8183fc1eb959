//! `GET /api/v1/documents/export`: any search as a file — CSV (UTF-8, optional BOM, comma,
//! semicolon or tab), JSON lines of the index rows, FNS JSON (one stored document per line) or
//! XLSX.
//!
//! Every form reads the search as **one streaming query** ([`Tenant::export_documents`]), not as
//! pages: rows are decoded and written as they arrive. CSV and the JSON forms go to the client
//! in chunks of about [`CHUNK`] bytes through a channel of [`CHANNEL`] chunks, written by a task
//! that stops (and drops the query) when the client goes away, so memory stays flat whatever
//! the size. XLSX is a zip container assembled at the end; its sheet is written with
//! `rust_xlsxwriter`'s constant-memory worksheet (rows go to a temporary file as they come) and
//! the workbook is saved to a temporary file that is then streamed, so memory is flat there too.
//! `documents` is read only when the delivery column (`delivery=true`) or the FNS JSON is asked
//! for; the rest is the read model's `doc_index`. A `cursor` from a search page starts the
//! export there. The operator caps the rows of one export (`[account] export_max_rows`); a
//! request may ask for fewer with `limit`.

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::StreamExt as _;

use super::auth::{Caller, Permission};
use super::documents::{filter_of, SearchQuery};
use super::error::ApiError;
use super::AppState;
use crate::store::reports::{DocumentExport, DocumentSummary};

/// Bytes of body gathered before a chunk is handed to the client.
const CHUNK: usize = 256 * 1024;
/// Chunks written ahead of the client at most.
const CHANNEL: usize = 4;

/// Column names of the CSV and XLSX forms, in order; the last is there with `delivery=true`.
const COLUMNS: [&str; 22] = [
    "id",
    "dialect",
    "register_id",
    "fn_number",
    "fd_number",
    "system_id",
    "kz_ticket",
    "kind",
    "form_code",
    "shift_number",
    "operation",
    "doc_time",
    "total",
    "cash",
    "card",
    "prepaid",
    "credit",
    "other_payment",
    "cashier",
    "fiscal_sign",
    "received_at",
    "delivery",
];

/// One CSV / XLSX cell.
enum Cell<'a> {
    Int(i64),
    Text(&'a str),
    Empty,
}

fn int(value: Option<i64>) -> Cell<'static> {
    value.map_or(Cell::Empty, Cell::Int)
}

fn text(value: &Option<String>) -> Cell<'_> {
    value.as_deref().map_or(Cell::Empty, Cell::Text)
}

/// One document as CSV / XLSX cells, in [`COLUMNS`] order.
fn cells(d: &DocumentSummary) -> [Cell<'_>; 22] {
    [
        Cell::Int(d.id),
        Cell::Text(&d.dialect),
        int(d.register_id),
        text(&d.fn_number),
        int(d.fd_number),
        int(d.system_id),
        text(&d.kz_ticket),
        Cell::Text(&d.kind),
        Cell::Int(d.form_code),
        int(d.shift_number),
        text(&d.operation),
        Cell::Text(&d.doc_time),
        Cell::Int(d.total),
        Cell::Int(d.cash),
        Cell::Int(d.card),
        Cell::Int(d.prepaid),
        Cell::Int(d.credit),
        Cell::Int(d.other_payment),
        text(&d.cashier),
        text(&d.fiscal_sign),
        Cell::Int(d.received_at),
        Cell::Text(&d.delivery),
    ]
}

/// The export forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Csv { bom: bool, separator: u8 },
    JsonLines,
    FnsJson,
    Xlsx,
}

fn format_of(query: &SearchQuery) -> Result<Format, ApiError> {
    let bad = |field: &str, message: &str| {
        ApiError::bad_request("invalid_query", format!("{field}: {message}"))
    };
    let format = query.format.as_deref().unwrap_or("csv");
    if format != "csv" && (query.bom.is_some() || query.separator.is_some()) {
        return Err(bad("bom", "bom and separator are for format=csv only"));
    }
    if format == "fns" && query.delivery.is_some() {
        return Err(bad("delivery", "not for format=fns"));
    }
    Ok(match format {
        "csv" => Format::Csv {
            bom: query.bom.unwrap_or(false),
            separator: match query.separator.as_deref().unwrap_or("comma") {
                "comma" => b',',
                "semicolon" => b';',
                "tab" => b'\t',
                _ => return Err(bad("separator", "one of comma, semicolon, tab")),
            },
        },
        "jsonl" => Format::JsonLines,
        "fns" => Format::FnsJson,
        "xlsx" => Format::Xlsx,
        _ => return Err(bad("format", "one of csv, jsonl, fns, xlsx")),
    })
}

/// Writes rows of one text form into a buffer that is taken chunk by chunk.
enum TextWriter {
    Csv {
        out: Vec<u8>,
        separator: u8,
        columns: usize,
    },
    JsonLines(Vec<u8>),
    FnsJson(Vec<u8>),
}

impl TextWriter {
    fn new(format: Format, delivery: bool) -> Self {
        let columns = if delivery {
            COLUMNS.len()
        } else {
            COLUMNS.len() - 1
        };
        match format {
            Format::Csv { bom, separator } => {
                let mut out = Vec::with_capacity(CHUNK + 4096);
                if bom {
                    out.extend_from_slice("\u{feff}".as_bytes());
                }
                for (i, name) in COLUMNS[..columns].iter().enumerate() {
                    if i > 0 {
                        out.push(separator);
                    }
                    out.extend_from_slice(name.as_bytes());
                }
                out.extend_from_slice(b"\r\n");
                TextWriter::Csv {
                    out,
                    separator,
                    columns,
                }
            }
            Format::JsonLines => TextWriter::JsonLines(Vec::with_capacity(CHUNK + 4096)),
            Format::FnsJson | Format::Xlsx => TextWriter::FnsJson(Vec::with_capacity(CHUNK + 4096)),
        }
    }

    fn row(&mut self, document: &DocumentSummary, json: &str) {
        match self {
            TextWriter::Csv {
                out,
                separator,
                columns,
            } => {
                let mut number = itoa::Buffer::new();
                for (i, cell) in cells(document).iter().take(*columns).enumerate() {
                    if i > 0 {
                        out.push(*separator);
                    }
                    match cell {
                        Cell::Int(v) => out.extend_from_slice(number.format(*v).as_bytes()),
                        Cell::Text(v) => csv_field(out, v, *separator),
                        Cell::Empty => {}
                    }
                }
                out.extend_from_slice(b"\r\n");
            }
            TextWriter::JsonLines(out) => {
                if serde_json::to_writer(&mut *out, document).is_ok() {
                    out.push(b'\n');
                }
            }
            TextWriter::FnsJson(out) => {
                out.extend_from_slice(json.as_bytes());
                out.push(b'\n');
            }
        }
    }

    /// What is written so far (the CSV writer's own buffer counts once it reaches the Vec).
    fn len(&self) -> usize {
        match self {
            TextWriter::Csv { out, .. } | TextWriter::JsonLines(out) | TextWriter::FnsJson(out) => {
                out.len()
            }
        }
    }

    fn take(&mut self) -> Bytes {
        match self {
            TextWriter::Csv { out, .. } | TextWriter::JsonLines(out) | TextWriter::FnsJson(out) => {
                Bytes::from(std::mem::replace(out, Vec::with_capacity(CHUNK + 4096)))
            }
        }
    }
}

/// `text` as one CSV field (RFC 4180): quoted, with quotes doubled, when it holds the
/// separator, a quote or a line break.
fn csv_field(out: &mut Vec<u8>, text: &str, separator: u8) {
    let bytes = text.as_bytes();
    if !bytes
        .iter()
        .any(|&b| b == separator || b == b'"' || b == b'\n' || b == b'\r')
    {
        out.extend_from_slice(bytes);
        return;
    }
    out.push(b'"');
    for &b in bytes {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// The body of a CSV or JSON export: a task reads the query and writes chunks into a bounded
/// channel, which the body drains; when the client goes away the channel closes and the task
/// stops, dropping the query.
fn text_body(export: DocumentExport, format: Format, delivery: bool) -> Body {
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(CHANNEL);
    tokio::spawn(async move {
        let mut out = TextWriter::new(format, delivery);
        let rows = export.rows();
        futures::pin_mut!(rows);
        while let Some(row) = rows.next().await {
            match row {
                Ok((document, json)) => out.row(&document, &json),
                Err(error) => {
                    // The status line is gone already; cut the body short so the client sees
                    // an incomplete file, and say why in the log.
                    tracing::error!(error = %error, "export failed part way");
                    let _ = sender
                        .send(Err(std::io::Error::other("export failed")))
                        .await;
                    return;
                }
            }
            if out.len() >= CHUNK && sender.send(Ok(out.take())).await.is_err() {
                return;
            }
        }
        let last = out.take();
        if !last.is_empty() {
            let _ = sender.send(Ok(last)).await;
        }
    });
    Body::from_stream(futures::stream::unfold(
        receiver,
        |mut receiver| async move { receiver.recv().await.map(|chunk| (chunk, receiver)) },
    ))
}

/// The XLSX workbook of the whole export, in a temporary file (deleted when dropped).
async fn xlsx(export: DocumentExport, delivery: bool) -> Result<std::fs::File, ApiError> {
    let internal = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "building an XLSX export failed");
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the export could not be built; see the server log",
        )
    };
    let columns = if delivery {
        COLUMNS.len()
    } else {
        COLUMNS.len() - 1
    };
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet_with_constant_memory();
    for (column, name) in COLUMNS.iter().take(columns).enumerate() {
        sheet
            .write_string(0, column as u16, *name)
            .map_err(|e| internal(&e))?;
    }
    let mut row = 1u32;
    let rows = export.rows();
    futures::pin_mut!(rows);
    while let Some(document) = rows.next().await {
        let (document, _) = document?;
        for (column, cell) in cells(&document).iter().take(columns).enumerate() {
            let column = column as u16;
            match cell {
                // Money in minor units and ids stay exact below 2^53.
                Cell::Int(v) => sheet.write_number(row, column, *v as f64),
                Cell::Text(v) => sheet.write_string(row, column, *v),
                Cell::Empty => Ok(&mut *sheet),
            }
            .map_err(|e| internal(&e))?;
        }
        row += 1;
    }
    tokio::task::spawn_blocking(move || {
        let mut file = tempfile::tempfile().map_err(|e| internal(&e))?;
        workbook
            .save_to_writer(&mut file)
            .map_err(|e| internal(&e))?;
        std::io::Seek::rewind(&mut file).map_err(|e| internal(&e))?;
        Ok(file)
    })
    .await
    .map_err(|e| internal(&e))?
}

/// A file's bytes as a body, read in chunks.
fn file_body(file: std::fs::File) -> Body {
    let file = tokio::fs::File::from_std(file);
    Body::from_stream(futures::stream::unfold(file, |mut file| async move {
        let mut buffer = vec![0u8; 64 * 1024];
        match tokio::io::AsyncReadExt::read(&mut file, &mut buffer).await {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buffer)), file))
            }
            Err(error) => Some((Err(error), file)),
        }
    }))
}

/// `GET /api/v1/documents/export?format=csv|jsonl|fns|xlsx&bom=&separator=&limit=&<search>` →
/// the documents of the search, newest first, as a file.
#[utoipa::path(get, path = "/api/v1/documents/export", params(SearchQuery),
    responses((status = 200, description = "the file (text/csv, application/x-ndjson or XLSX)"),
        (status = 400), (status = 403)))]
pub async fn export(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    caller.require(Permission::ExportDocuments)?;
    let format = format_of(&query)?;
    let cap = state.config.export_max_rows;
    let remaining = match query.limit {
        Some(limit) if limit < 1 => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "limit: must be at least 1",
            ))
        }
        Some(limit) => u64::try_from(limit).unwrap_or(cap).min(cap),
        None => cap,
    };
    let filter = filter_of(&query)?;
    let delivery = query.delivery.unwrap_or(false);
    let export = caller
        .0
        .export_documents(&filter, remaining, delivery, format == Format::FnsJson);
    let (content_type, extension) = match format {
        Format::Csv { .. } => ("text/csv; charset=utf-8", "csv"),
        Format::JsonLines => ("application/x-ndjson", "jsonl"),
        Format::FnsJson => ("application/x-ndjson", "fns.jsonl"),
        Format::Xlsx => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
    };
    let disposition = format!("attachment; filename=\"documents.{extension}\"");
    let body = if format == Format::Xlsx {
        file_body(xlsx(export, delivery).await?)
    } else {
        text_body(export, format, delivery)
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_only_when_they_must_be() {
        let read = |text: &str, separator: u8| {
            let mut out = Vec::new();
            csv_field(&mut out, text, separator);
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .delimiter(separator)
                .from_reader(out.as_slice());
            let record = reader.records().next().expect("a row").expect("valid");
            (
                String::from_utf8(out.clone()).unwrap(),
                record[0].to_owned(),
            )
        };
        assert_eq!(read("Хлеб", b','), ("Хлеб".into(), "Хлеб".into()));
        for (text, separator) in [
            ("a,b", b','),
            ("a;b", b';'),
            ("a\tb", b'\t'),
            ("say \"hi\"", b','),
            ("two\nlines", b';'),
        ] {
            let (written, parsed) = read(text, separator);
            assert!(written.starts_with('"'), "{written}");
            assert_eq!(parsed, text);
        }
    }
}
