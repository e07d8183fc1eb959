//! `GET /api/v1/documents/export`: any search as a file — CSV (UTF-8, optional BOM, comma,
//! semicolon or tab), JSON lines of the index rows, FNS JSON (one stored document per line) or
//! XLSX.
//!
//! CSV and the JSON forms are streamed: the body is produced page by page (the search's keyset
//! pages of [`PAGE`] rows), so memory stays flat whatever the size. XLSX is a zip container that
//! `rust_xlsxwriter` assembles whole, so it is built in memory, page by page, and sent at the
//! end; its row limit is the same. A `cursor` from a search page starts the export there. The operator caps the rows of one export
//! (`[account] export_max_rows`); a request may ask for fewer with `limit`.

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;

use super::auth::{Caller, Permission};
use super::documents::{filter_of, SearchQuery};
use super::error::ApiError;
use super::AppState;
use crate::store::reports::{DocumentFilter, DocumentSummary};
use crate::store::Tenant;

/// Rows fetched per page of an export.
const PAGE: i64 = 1000;

/// Column names of the CSV and XLSX forms, in order.
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
    "delivery",
    "received_at",
];

fn opt<T: ToString>(value: &Option<T>) -> String {
    value.as_ref().map(ToString::to_string).unwrap_or_default()
}

/// One document as CSV / XLSX cells, in [`COLUMNS`] order.
fn cells(d: &DocumentSummary) -> [String; 22] {
    [
        d.id.to_string(),
        d.dialect.clone(),
        opt(&d.register_id),
        opt(&d.fn_number),
        opt(&d.fd_number),
        opt(&d.system_id),
        opt(&d.kz_ticket),
        d.kind.clone(),
        d.form_code.to_string(),
        opt(&d.shift_number),
        opt(&d.operation),
        d.doc_time.clone(),
        d.total.to_string(),
        d.cash.to_string(),
        d.card.to_string(),
        d.prepaid.to_string(),
        d.credit.to_string(),
        d.other_payment.to_string(),
        opt(&d.cashier),
        opt(&d.fiscal_sign),
        d.delivery.clone(),
        d.received_at.to_string(),
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

/// Where an export stands between pages.
struct Walk {
    tenant: Tenant,
    filter: DocumentFilter,
    remaining: u64,
    format: Format,
    started: bool,
    done: bool,
}

impl Walk {
    /// The next chunk of the body, or `None` at the end.
    async fn next_chunk(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        if self.done {
            return None;
        }
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            if let Format::Csv { bom, separator } = self.format {
                if bom {
                    out.extend_from_slice("\u{feff}".as_bytes());
                }
                out.extend(csv_rows(
                    separator,
                    std::iter::once(COLUMNS.map(str::to_owned)),
                ));
            }
        }
        self.filter.limit = PAGE.min(i64::try_from(self.remaining).unwrap_or(PAGE));
        if self.filter.limit == 0 {
            self.done = true;
            return (!out.is_empty()).then(|| Ok(Bytes::from(out)));
        }
        let page = match self.format {
            Format::FnsJson => self.tenant.search_documents_json(&self.filter).await,
            _ => self
                .tenant
                .search_documents(&self.filter)
                .await
                .map(|rows| rows.into_iter().map(|d| (d, String::new())).collect()),
        };
        let page = match page {
            Ok(page) => page,
            Err(error) => {
                // The status line is gone already; cut the body short so the client sees an
                // incomplete file, and say why in the log.
                tracing::error!(error = %error, "export failed part way");
                self.done = true;
                return Some(Err(std::io::Error::other("export failed")));
            }
        };
        if (page.len() as i64) < self.filter.limit {
            self.done = true;
        }
        self.remaining = self.remaining.saturating_sub(page.len() as u64);
        if let Some((last, _)) = page.last() {
            self.filter.before = Some((last.doc_time_secs, last.id));
        }
        match self.format {
            Format::Csv { separator, .. } => {
                out.extend(csv_rows(separator, page.iter().map(|(d, _)| cells(d))));
            }
            Format::JsonLines => {
                for (document, _) in &page {
                    if serde_json::to_writer(&mut out, document).is_ok() {
                        out.push(b'\n');
                    }
                }
            }
            Format::FnsJson => {
                for (_, json) in &page {
                    out.extend_from_slice(json.as_bytes());
                    out.push(b'\n');
                }
            }
            Format::Xlsx => unreachable!("XLSX is not streamed"),
        }
        Some(Ok(Bytes::from(out)))
    }
}

/// `rows` as CSV with `separator`.
fn csv_rows<R, I>(separator: u8, rows: I) -> Vec<u8>
where
    R: AsRef<[String]>,
    I: IntoIterator<Item = R>,
{
    let mut writer = csv::WriterBuilder::new()
        .delimiter(separator)
        .from_writer(Vec::new());
    for row in rows {
        // Writing to a Vec cannot fail.
        let _ = writer.write_record(row.as_ref());
    }
    writer.into_inner().unwrap_or_default()
}

/// Build the XLSX workbook of the whole export (at most `remaining` rows).
async fn xlsx(
    tenant: &Tenant,
    mut filter: DocumentFilter,
    mut remaining: u64,
) -> Result<Vec<u8>, ApiError> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    let internal = |e: rust_xlsxwriter::XlsxError| {
        tracing::error!(error = %e, "building an XLSX export failed");
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the export could not be built; see the server log",
        )
    };
    for (column, name) in COLUMNS.iter().enumerate() {
        sheet
            .write_string(0, column as u16, *name)
            .map_err(internal)?;
    }
    let mut row = 1u32;
    loop {
        filter.limit = PAGE.min(i64::try_from(remaining).unwrap_or(PAGE));
        if filter.limit == 0 {
            break;
        }
        let page = tenant.search_documents(&filter).await?;
        for document in &page {
            for (column, value) in cells(document).iter().enumerate() {
                sheet
                    .write_string(row, column as u16, value)
                    .map_err(internal)?;
            }
            row += 1;
        }
        remaining = remaining.saturating_sub(page.len() as u64);
        match page.last() {
            Some(last) if page.len() as i64 == filter.limit => {
                filter.before = Some((last.doc_time_secs, last.id));
            }
            _ => break,
        }
    }
    workbook.save_to_buffer().map_err(internal)
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
    let tenant = caller.0.clone();
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
        Body::from(xlsx(&tenant, filter, remaining).await?)
    } else {
        let walk = Walk {
            tenant,
            filter,
            remaining,
            format,
            started: false,
            done: false,
        };
        Body::from_stream(futures::stream::unfold(walk, |mut walk| async move {
            walk.next_chunk().await.map(|chunk| (chunk, walk))
        }))
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
