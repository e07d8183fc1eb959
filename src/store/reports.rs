//! Reads of the read tables the projector fills (`0011_read_models.sql`, `0019_drive_reports.sql`): document search, one
//! document, shifts, totals, the drives' unsent documents, delivery status.
//!
//! Every query is scoped as the tenancy rule says: through the registers the actor may see
//! ([`super::tenancy::SCOPE_REGISTER_IDS`], `$1`..`$3`), so a document of another organisation
//! (or, for a cashier, of another register) is never found and answers 404. Operator staff also
//! see documents of no known register.
//!
//! Search is keyset-paginated, newest first, on `(doc_time, document_id)`: the page after a
//! cursor costs the same as the first, and an export walks the same pages in constant memory.
//!
//! On PostgreSQL the index, its lines and the daily tables are partitioned by month of their
//! local time (`migrations/postgres/0017`, plans in `docs/scaling.md`): a query with a time or
//! day range reads only the months it names, a line is found with its document's `doc_time`
//! (`it.doc_time = di.doc_time`), and a document is joined by its whole key
//! (`d.id = di.document_id AND d.received_at = di.received_at`), so each join probe reads one
//! month of `documents`, not every month's index.

use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::documents::document_json;
use super::period_pieces::Piece;
use super::tenancy::SCOPE_REGISTER_IDS;
use super::{StoreError, Tenant};

/// What a receipt did with money (RU tag 1054; KZ ticket operation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Приход / sell.
    Sale,
    /// Возврат прихода / sell return.
    Refund,
    /// Расход / buy.
    Expense,
    /// Возврат расхода / buy return.
    ExpenseRefund,
}

impl Operation {
    /// The stored and API form.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Sale => "sale",
            Operation::Refund => "refund",
            Operation::Expense => "expense",
            Operation::ExpenseRefund => "expense_refund",
        }
    }

    /// Parse the stored and API form.
    pub fn parse(text: &str) -> Option<Operation> {
        Some(match text {
            "sale" => Operation::Sale,
            "refund" => Operation::Refund,
            "expense" => Operation::Expense,
            "expense_refund" => Operation::ExpenseRefund,
            _ => return None,
        })
    }
}

/// Every document kind of the read model (the `kind` column and the API's `kind` filter),
/// written by the projector (`src/project/model.rs`).
pub const KINDS: &[&str] = &[
    "registration",
    "registration_change",
    "open_shift",
    "state_report",
    "receipt",
    "correction",
    "bso",
    "bso_correction",
    "close_shift",
    "close_fn",
    "kz_ticket",
    "kz_close_shift",
    "kz_x_report",
    "kz_money_placement",
    "other",
];

/// `di` rows in scope.
///
/// Operator staff (`$2` = 1) also see documents of no known register. For everyone else the
/// clause is the plain `IN (…)`: an `OR` beside it would keep the planners (SQLite's and
/// PostgreSQL's) from using the `(register_id, …)` indexes and make them scan whole tables.
fn scope_clause(scope: (i64, i64, i64)) -> String {
    if scope.1 == 1 {
        format!("(di.register_id IN {SCOPE_REGISTER_IDS} OR $2 = 1)")
    } else {
        format!("di.register_id IN {SCOPE_REGISTER_IDS}")
    }
}

/// A payment form, for the `payment` filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentForm {
    /// Cash.
    Cash,
    /// Card or other electronic payment.
    Card,
    /// Prepayment set off.
    Prepaid,
    /// Credit (postpayment).
    Credit,
    /// Counter-provision, tare, other.
    Other,
}

impl PaymentForm {
    fn column(self) -> &'static str {
        match self {
            PaymentForm::Cash => "di.cash",
            PaymentForm::Card => "di.card",
            PaymentForm::Prepaid => "di.prepaid",
            PaymentForm::Credit => "di.credit",
            PaymentForm::Other => "di.other_payment",
        }
    }
}

/// `project_daily`'s receipts per hour of the local day, in hour order (`migrations/postgres/0027`).
pub const HOUR_COLUMNS: &str = "h00, h01, h02, h03, h04, h05, h06, h07, h08, h09, h10, h11, \
     h12, h13, h14, h15, h16, h17, h18, h19, h20, h21, h22, h23";

/// `$4`, `$5` of a period report: one register (`-1`: any) and the registers at one point of
/// sale (`-1`: any); `$6`, `$7` are the period's days ([`period_query`]).
const REGISTER_SET: &str = "($4 < 0 OR di.register_id = $4) AND ($5 < 0 OR di.register_id IN \
     (SELECT id FROM registers WHERE pos_id = $5))";

/// `sql` with the scope (`$1`–`$3`), the register set (`$4`, `$5`) and the period (`$6`, `$7`)
/// bound, in that order.
fn period_query<'q>(
    sql: &'q str,
    scope: (i64, i64, i64),
    which: RegisterSet,
    from_day: i64,
    to_day: i64,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    sqlx::query(sql)
        .bind(scope.0)
        .bind(scope.1)
        .bind(scope.2)
        .bind(which.register_id.unwrap_or(-1))
        .bind(which.point_of_sale_id.unwrap_or(-1))
        .bind(from_day)
        .bind(to_day)
}

/// Which registers a report sums: one, those at one point of sale (as they stand now), or every
/// register in scope.
#[derive(Clone, Copy, Debug, Default)]
pub struct RegisterSet {
    /// One register.
    pub register_id: Option<i64>,
    /// The registers at this point of sale.
    pub point_of_sale_id: Option<i64>,
}

/// What a search asks for; every field narrows it.
#[derive(Clone, Debug, Default)]
pub struct DocumentFilter {
    /// One register.
    pub register_id: Option<i64>,
    /// One point of sale (where the register stood when the document was projected).
    pub point_of_sale_id: Option<i64>,
    /// RU drive number.
    pub fn_number: Option<String>,
    /// RU document number.
    pub fd_number: Option<i64>,
    /// Shift number.
    pub shift_number: Option<i64>,
    /// Document time at or after (local naive seconds).
    pub from_time: Option<i64>,
    /// Document time before (local naive seconds).
    pub to_time: Option<i64>,
    /// Document kind (`receipt`, `close_shift`, `kz_ticket`, …).
    pub kind: Option<String>,
    /// `sale`, `refund`, `expense`, `expense_refund`.
    pub operation: Option<String>,
    /// Paid (partly) in this form.
    pub payment: Option<PaymentForm>,
    /// Total at least (minor units).
    pub min_total: Option<i64>,
    /// Total at most (minor units).
    pub max_total: Option<i64>,
    /// Cashier name contains.
    pub cashier: Option<String>,
    /// A line's product name contains.
    pub product: Option<String>,
    /// Continue after this `(doc_time, document_id)` (the previous page's last).
    pub before: Option<(i64, i64)>,
    /// Page size.
    pub limit: i64,
}

/// One document as search lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct DocumentSummary {
    /// Document id (`documents.id`).
    pub id: i64,
    /// `ru` or `kz`.
    pub dialect: String,
    /// Register id, when the register is known.
    pub register_id: Option<i64>,
    /// Point of sale the register stood at when the document was projected.
    pub point_of_sale_id: Option<i64>,
    /// RU drive number.
    pub fn_number: Option<String>,
    /// RU document number.
    pub fd_number: Option<i64>,
    /// KZ system id.
    pub system_id: Option<i64>,
    /// KZ fiscal sign (ticket number).
    pub kz_ticket: Option<String>,
    /// Kind (`receipt`, `close_shift`, `kz_ticket`, …).
    pub kind: String,
    /// RU form code or KZ command.
    pub form_code: i64,
    /// Shift number.
    pub shift_number: Option<i64>,
    /// `sale`, `refund`, `expense`, `expense_refund` (receipts).
    pub operation: Option<String>,
    /// Document time, register-local, `YYYY-MM-DDTHH:MM:SS`.
    pub doc_time: String,
    /// When the server committed it (unix ms).
    pub received_at: i64,
    /// Total, minor units.
    pub total: i64,
    /// Cash.
    pub cash: i64,
    /// Card / electronic.
    pub card: i64,
    /// Prepayment.
    pub prepaid: i64,
    /// Credit.
    pub credit: i64,
    /// Other forms.
    pub other_payment: i64,
    /// Cashier.
    pub cashier: Option<String>,
    /// Printed fiscal sign (RU ФП; KZ ticket number).
    pub fiscal_sign: Option<String>,
    /// Delivery: `received`, `batched`, `accepted`, `rejected` (absent from an export that
    /// did not ask for it).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub delivery: String,
    /// Sort key, local seconds (the cursor's first half).
    #[serde(skip)]
    pub doc_time_secs: i64,
}

/// Local naive seconds as `YYYY-MM-DDTHH:MM:SS`.
pub fn local_text(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.naive_utc().format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default()
}

const SUMMARY_COLUMNS: &str = "di.document_id, di.dialect, di.register_id, di.point_of_sale_id, \
    di.fn_number, di.fd_number, di.system_id, di.kz_ticket, di.kind, di.form_code, \
    di.shift_number, di.operation, di.doc_time, di.received_at, di.total, di.cash, di.card, \
    di.prepaid, di.credit, di.other_payment, di.cashier, di.fiscal_sign, ob.state, ob.batch_id";

/// The outbox row beside each index row: the delivery state of [`SUMMARY_COLUMNS`] (a narrow
/// row, where `documents` is the frame and the JSON).
const OUTBOX_JOIN: &str = " JOIN outbox ob ON ob.document_id = di.document_id";

/// The stored document beside each index row, for its JSON or frame (its full key, so that on
/// PostgreSQL the probe reads one month's partition).
const DOCUMENTS_JOIN: &str =
    " JOIN documents d ON d.id = di.document_id AND d.received_at = di.received_at";

fn delivery(state: &str, batch_id: Option<&str>) -> &'static str {
    match (state, batch_id) {
        ("sent", _) => "accepted",
        ("rejected", _) => "rejected",
        (_, Some(_)) => "batched",
        _ => "received",
    }
}

/// The `doc_index` half of [`SUMMARY_COLUMNS`], for exports that leave `documents` out.
const INDEX_COLUMNS: &str = "di.document_id, di.dialect, di.register_id, di.point_of_sale_id, \
    di.fn_number, di.fd_number, di.system_id, di.kz_ticket, di.kind, di.form_code, \
    di.shift_number, di.operation, di.doc_time, di.received_at, di.total, di.cash, di.card, \
    di.prepaid, di.credit, di.other_payment, di.cashier, di.fiscal_sign";

fn summary_from_row(row: &AnyRow) -> Result<DocumentSummary, StoreError> {
    let state: String = row.try_get(22)?;
    let batch: Option<String> = row.try_get(23)?;
    let mut summary = index_summary_from_row(row)?;
    summary.delivery = delivery(&state, batch.as_deref()).to_owned();
    Ok(summary)
}

/// The `doc_index` columns of a row ([`INDEX_COLUMNS`]); `delivery` is left empty.
fn index_summary_from_row(row: &AnyRow) -> Result<DocumentSummary, StoreError> {
    let doc_time: i64 = row.try_get(12)?;
    Ok(DocumentSummary {
        id: row.try_get(0)?,
        dialect: row.try_get(1)?,
        register_id: row.try_get(2)?,
        point_of_sale_id: row.try_get(3)?,
        fn_number: row.try_get(4)?,
        fd_number: row.try_get(5)?,
        system_id: row.try_get(6)?,
        kz_ticket: row.try_get(7)?,
        kind: row.try_get(8)?,
        form_code: row.try_get(9)?,
        shift_number: row.try_get(10)?,
        operation: row.try_get(11)?,
        doc_time: local_text(doc_time),
        received_at: row.try_get(13)?,
        total: row.try_get(14)?,
        cash: row.try_get(15)?,
        card: row.try_get(16)?,
        prepaid: row.try_get(17)?,
        credit: row.try_get(18)?,
        other_payment: row.try_get(19)?,
        cashier: row.try_get(20)?,
        fiscal_sign: row.try_get(21)?,
        delivery: String::new(),
        doc_time_secs: doc_time,
    })
}

/// A bind value of a query built at run time.
enum Bind {
    Int(i64),
    Text(String),
}

/// A WHERE clause built from optional conditions, numbering its parameters after the scope's.
struct Conditions {
    sql: Vec<String>,
    binds: Vec<Bind>,
}

impl Conditions {
    fn new(scope: (i64, i64, i64)) -> Self {
        Self {
            sql: vec![scope_clause(scope)],
            binds: Vec::new(),
        }
    }

    fn next(&self) -> String {
        format!("${}", self.binds.len() + 4)
    }

    fn int(&mut self, template: &str, value: i64) {
        let p = self.next();
        self.sql.push(template.replace('?', &p));
        self.binds.push(Bind::Int(value));
    }

    fn text(&mut self, template: &str, value: String) {
        let p = self.next();
        self.sql.push(template.replace('?', &p));
        self.binds.push(Bind::Text(value));
    }

    fn clause(&self) -> String {
        self.sql.join(" AND ")
    }

    fn query<'q>(
        &'q self,
        sql: &'q str,
        scope: (i64, i64, i64),
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        let mut query = sqlx::query(sql).bind(scope.0).bind(scope.1).bind(scope.2);
        for bind in &self.binds {
            query = match bind {
                Bind::Int(v) => query.bind(*v),
                Bind::Text(v) => query.bind(v.as_str()),
            };
        }
        query
    }
}

/// `%text%` for LIKE, with the wildcards of `text` taken literally.
fn contains(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

fn document_conditions(filter: &DocumentFilter, scope: (i64, i64, i64)) -> Conditions {
    let mut c = Conditions::new(scope);
    if let Some(v) = filter.register_id {
        c.int("di.register_id = ?", v);
    }
    if let Some(v) = filter.point_of_sale_id {
        c.int("di.point_of_sale_id = ?", v);
    }
    if let Some(v) = &filter.fn_number {
        c.text("di.fn_number = ?", v.clone());
    }
    if let Some(v) = filter.fd_number {
        c.int("di.fd_number = ?", v);
    }
    if let Some(v) = filter.shift_number {
        c.int("di.shift_number = ?", v);
    }
    if let Some(v) = filter.from_time {
        c.int("di.doc_time >= ?", v);
    }
    if let Some(v) = filter.to_time {
        c.int("di.doc_time < ?", v);
    }
    if let Some(v) = &filter.kind {
        c.text("di.kind = ?", v.clone());
    }
    if let Some(v) = &filter.operation {
        c.text("di.operation = ?", v.clone());
    }
    if let Some(form) = filter.payment {
        c.sql.push(format!("{} > 0", form.column()));
    }
    if let Some(v) = filter.min_total {
        c.int("di.total >= ?", v);
    }
    if let Some(v) = filter.max_total {
        c.int("di.total <= ?", v);
    }
    if let Some(v) = &filter.cashier {
        c.text("di.cashier LIKE ? ESCAPE '\\'", contains(v));
    }
    if let Some(v) = &filter.product {
        // The names of a document's lines, one per line of `item_names`.
        c.text("di.item_names LIKE ? ESCAPE '\\'", contains(v));
    }
    if let Some((time, id)) = filter.before {
        let p_time = c.next();
        c.binds.push(Bind::Int(time));
        let p_time2 = c.next();
        c.binds.push(Bind::Int(time));
        let p_id = c.next();
        c.binds.push(Bind::Int(id));
        c.sql.push(format!(
            "(di.doc_time < {p_time} OR (di.doc_time = {p_time2} AND di.document_id < {p_id}))"
        ));
    }
    c
}

/// A search's export, read as one stream ([`Tenant::export_documents`]).
pub struct DocumentExport {
    sql: String,
    conditions: Conditions,
    scope: (i64, i64, i64),
    pool: sqlx::AnyPool,
    delivery: bool,
    json: bool,
}

impl DocumentExport {
    /// The documents, newest first, each with its JSON ([`document_json`]) when asked for (else
    /// empty) and its `delivery` when asked for (else empty). One query, one cursor: rows are
    /// decoded as they arrive, so memory stays flat whatever the size.
    pub fn rows(
        &self,
    ) -> impl futures::Stream<Item = Result<(DocumentSummary, String), StoreError>> + Send + '_
    {
        use futures::StreamExt as _;
        let json_index = if self.delivery || self.json { 24 } else { 22 };
        self.conditions
            .query(&self.sql, self.scope)
            .fetch(&self.pool)
            .map(move |row| {
                let row = row?;
                let summary = if self.delivery || self.json {
                    summary_from_row(&row)?
                } else {
                    index_summary_from_row(&row)?
                };
                let json = if self.json {
                    let raw: Vec<u8> = row.try_get(json_index + 1)?;
                    document_json(&summary.dialect, row.try_get(json_index)?, &raw)?
                } else {
                    String::new()
                };
                Ok((summary, json))
            })
    }
}

/// One receipt line.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct DocumentLine {
    /// Product name.
    pub name: String,
    /// Unit price, minor units.
    pub price: i64,
    /// Quantity, exact decimal.
    pub quantity: String,
    /// Line amount.
    pub amount: i64,
    /// VAT rate as printed.
    pub vat_rate: Option<String>,
    /// VAT amount.
    pub vat_amount: Option<i64>,
}

/// One line as `doc_items.lines` holds it: a JSON array in [`DocumentLine`]'s field order
/// (`migrations/postgres/0026` writes the same shape with `json_build_array`).
type StoredLine<S> = (S, i64, S, i64, Option<S>, Option<i64>);

/// A document's lines as its one `doc_items` row holds them: a JSON array of [`StoredLine`]s.
pub fn lines_to_json(lines: &[DocumentLine]) -> String {
    let rows: Vec<StoredLine<&str>> = lines
        .iter()
        .map(|l| {
            (
                l.name.as_str(),
                l.price,
                l.quantity.as_str(),
                l.amount,
                l.vat_rate.as_deref(),
                l.vat_amount,
            )
        })
        .collect();
    serde_json::to_string(&rows).expect("strings and integers always serialise")
}

/// The lines [`lines_to_json`] wrote.
fn lines_from_json(json: &str) -> Result<Vec<DocumentLine>, serde_json::Error> {
    let rows: Vec<StoredLine<String>> = serde_json::from_str(json)?;
    Ok(rows
        .into_iter()
        .map(
            |(name, price, quantity, amount, vat_rate, vat_amount)| DocumentLine {
                name,
                price,
                quantity,
                amount,
                vat_rate,
                vat_amount,
            },
        )
        .collect())
}

/// One document in full, as stored.
#[derive(Clone, Debug)]
pub struct StoredDocument {
    /// The index row.
    pub summary: DocumentSummary,
    /// Lines.
    pub lines: Vec<DocumentLine>,
    /// The document's JSON (RU FNS JSON; KZ header and request), [`document_json`].
    pub json: String,
    /// The bytes as received.
    pub raw: Vec<u8>,
    /// KZ: the check URL the server answered with.
    pub kz_qr: Option<String>,
    /// The register's owner: name, taxpayer number, address (from the cabinet).
    pub owner: Option<(String, String, Option<String>)>,
    /// The register's registration number.
    pub reg_number: Option<String>,
}

/// A shift of a register.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ShiftRow {
    /// Shift number.
    pub shift_number: i64,
    /// Register id.
    pub register_id: Option<i64>,
    /// Opened (local time), when known.
    pub opened: Option<String>,
    /// Closed (local time); absent while open.
    pub closed: Option<String>,
    /// Receipts computed from the documents.
    pub receipts: i64,
    /// Sales total.
    pub sales: i64,
    /// Sales in cash.
    pub sales_cash: i64,
    /// Sales by card.
    pub sales_card: i64,
    /// Refunds total.
    pub refunds: i64,
    /// Refunds in cash.
    pub refunds_cash: i64,
    /// Refunds by card.
    pub refunds_card: i64,
    /// Expenses.
    pub expenses: i64,
    /// Expense refunds.
    pub expense_refunds: i64,
    /// The close report's receipt counter.
    pub z_receipts: Option<i64>,
    /// The close report's sales total, when it states one.
    pub z_sales: Option<i64>,
    /// The close report's refunds total, when it states one.
    pub z_refunds: Option<i64>,
    /// The close report's counters differ from the computed figures.
    pub mismatch: bool,
    /// The shift's X reports with their own counters, oldest first (KZ; RU has none).
    pub x_reports: Vec<XReportRow>,
}

/// An X report (a KZ register's mid-shift report) with the counters the server answered.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct XReportRow {
    /// The document (`GET /api/v1/documents/{id}`).
    pub document_id: i64,
    /// When (local time).
    pub time: String,
    /// Receipts so far in the shift; absent for reports projected before the figures were kept.
    pub receipts: Option<i64>,
    /// Sales total so far.
    pub sales: Option<i64>,
    /// Refunds total so far.
    pub refunds: Option<i64>,
}

/// One day's figures (summed over the registers asked for).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DayFigures {
    /// Local day (days since 1970-01-01).
    pub day: i64,
    /// Receipts.
    pub receipts: i64,
    /// Sale receipts.
    pub sales_count: i64,
    /// Refund receipts.
    pub refunds_count: i64,
    /// Sales total.
    pub revenue: i64,
    /// Refunds total.
    pub refunds: i64,
    /// Cash, net of refunds.
    pub cash: i64,
    /// Card, net of refunds.
    pub card: i64,
}

/// A product's sales in a period.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ProductFigures {
    /// Product name.
    pub name: String,
    /// Receipt lines sold.
    pub lines: i64,
    /// Sales amount.
    pub revenue: i64,
}

/// A period's figures for the totals report: its days, receipts per hour of day, top products.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeriodFigures {
    /// One entry per day that had documents, oldest first.
    pub days: Vec<DayFigures>,
    /// Receipts per local hour of day.
    pub hours: [i64; 24],
    /// The best-selling products by revenue (at most the number asked for).
    pub top_products: Vec<ProductFigures>,
}

/// What a drive said last about its unsent documents.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct UnsentRow {
    /// Register id.
    pub register_id: i64,
    /// Drive number.
    pub fn_number: String,
    /// Documents not yet sent (tag 1097).
    pub count: i64,
    /// Time of the oldest of them (tag 1098), local.
    pub oldest: Option<String>,
    /// Number of the first of them (tag 1116).
    pub first_number: Option<i64>,
    /// Time of the report that said so, local.
    pub reported: String,
    /// Oldest unsent time, local seconds (for the day count).
    #[serde(skip)]
    pub oldest_secs: Option<i64>,
}

/// Delivery counts of one register on one day.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct DeliveryDay {
    /// Register id.
    pub register_id: Option<i64>,
    /// Local date, `YYYY-MM-DD`.
    pub date: String,
    /// Documents received.
    pub received: i64,
    /// Of them, in a batch to the tax authority (sent or not yet answered).
    pub batched: i64,
    /// Of them, accepted by the tax authority.
    pub accepted: i64,
    /// Of them, refused by it.
    pub rejected: i64,
}

/// Days since 1970-01-01 as `YYYY-MM-DD`.
pub fn day_text(day: i64) -> String {
    local_text(day * 86_400)[..10].to_owned()
}

fn opt_time(secs: Option<i64>) -> Option<String> {
    secs.map(local_text)
}

impl Tenant {
    /// One page of the documents in scope matching `filter`, newest first.
    pub async fn search_documents(
        &self,
        filter: &DocumentFilter,
    ) -> Result<Vec<DocumentSummary>, StoreError> {
        let rows = self.search_rows(filter, "").await?;
        rows.iter().map(summary_from_row).collect()
    }

    /// [`Tenant::search_documents`] with each document's JSON ([`document_json`]) (RU: FNS JSON).
    pub async fn search_documents_json(
        &self,
        filter: &DocumentFilter,
    ) -> Result<Vec<(DocumentSummary, String)>, StoreError> {
        let rows = self.search_rows(filter, ", d.json, d.raw").await?;
        rows.iter()
            .map(|row| {
                let summary = summary_from_row(row)?;
                let raw: Vec<u8> = row.try_get(25)?;
                let json = document_json(&summary.dialect, row.try_get(24)?, &raw)?;
                Ok((summary, json))
            })
            .collect()
    }

    async fn search_rows(
        &self,
        filter: &DocumentFilter,
        extra_columns: &str,
    ) -> Result<Vec<AnyRow>, StoreError> {
        let c = document_conditions(filter, self.read_scope());
        // `documents` only for the extra columns (its JSON).
        let documents = if extra_columns.is_empty() {
            ""
        } else {
            DOCUMENTS_JOIN
        };
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS}{extra_columns} FROM doc_index di{OUTBOX_JOIN}{documents} \
             WHERE {} ORDER BY di.doc_time DESC, di.document_id DESC LIMIT {}",
            c.clause(),
            filter.limit.max(1)
        );
        Ok(c.query(&sql, self.read_scope())
            .fetch_all(self.store().read_pool())
            .await?)
    }

    /// An export of the search `filter` (its `limit` ignored): at most `rows` documents, newest
    /// first, read by [`DocumentExport::rows`] as one streaming cursor. `outbox` is joined only
    /// when the delivery state (`delivery`) is wanted, `documents` only for the JSON and the frame
    /// (`json`).
    pub fn export_documents(
        &self,
        filter: &DocumentFilter,
        rows: u64,
        delivery: bool,
        json: bool,
    ) -> DocumentExport {
        let scope = self.read_scope();
        let conditions = document_conditions(filter, scope);
        let (columns, outbox) = if delivery || json {
            (SUMMARY_COLUMNS, OUTBOX_JOIN)
        } else {
            (INDEX_COLUMNS, "")
        };
        let documents = if json { DOCUMENTS_JOIN } else { "" };
        let sql = format!(
            "SELECT {columns}{} FROM doc_index di{outbox}{documents} WHERE {} \
             ORDER BY di.doc_time DESC, di.document_id DESC LIMIT {}",
            if json { ", d.json, d.raw" } else { "" },
            conditions.clause(),
            rows.min(i64::MAX as u64)
        );
        DocumentExport {
            sql,
            conditions,
            scope,
            pool: self.store().read_pool().clone(),
            delivery,
            json,
        }
    }

    /// Document `id` in scope, with its lines and stored forms; `None` when out of scope.
    pub async fn document(&self, id: i64) -> Result<Option<StoredDocument>, StoreError> {
        let scope = self.read_scope();
        let pool = self.store().read_pool();
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS}, d.json, d.raw, d.doc_key, r.reg_number, o.name, o.inn, \
             COALESCE(o.actual_address, o.legal_address) \
             FROM doc_index di{OUTBOX_JOIN}{DOCUMENTS_JOIN} \
             LEFT JOIN registers r ON r.id = di.register_id \
             LEFT JOIN organisations o ON o.inn = r.org_inn \
             WHERE {} AND di.document_id = $4",
            scope_clause(scope)
        );
        let Some(row) = sqlx::query(&sql)
            .bind(scope.0)
            .bind(scope.1)
            .bind(scope.2)
            .bind(id)
            .fetch_optional(pool)
            .await?
        else {
            return Ok(None);
        };
        let summary = summary_from_row(&row)?;
        let raw: Vec<u8> = row.try_get(25)?;
        let json = document_json(&summary.dialect, row.try_get(24)?, &raw)?;
        let reg_number: Option<String> = row.try_get(27)?;
        let owner_name: Option<String> = row.try_get(28)?;
        let owner_inn: Option<String> = row.try_get(29)?;
        let owner_address: Option<String> = row.try_get(30)?;
        // With its doc_time (the lines' partition key), so one month's lines are read.
        let doc_time: i64 = row.try_get(12)?;
        let stored_lines: Option<String> = sqlx::query_scalar(
            "SELECT lines FROM doc_items WHERE document_id = $1 AND doc_time = $2",
        )
        .bind(id)
        .bind(doc_time)
        .fetch_optional(pool)
        .await?;
        let lines = match stored_lines {
            Some(json) => lines_from_json(&json).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            None => Vec::new(),
        };
        let kz_qr = match &summary.kz_ticket {
            Some(ticket) => {
                let qr: Option<Vec<u8>> =
                    sqlx::query_scalar("SELECT qr_code FROM kz_tickets WHERE ticket_number = $1")
                        .bind(ticket)
                        .fetch_optional(pool)
                        .await?;
                qr.map(|q| String::from_utf8_lossy(&q).into_owned())
            }
            None => None,
        };
        Ok(Some(StoredDocument {
            summary,
            lines,
            json,
            raw,
            kz_qr,
            owner: owner_name
                .zip(owner_inn)
                .map(|(n, i)| (n, i, owner_address)),
            reg_number,
        }))
    }

    /// The shifts of register `register_id` opened in `[from, to)` (local seconds), newest
    /// first; `NotFound` when the register is out of scope.
    pub async fn shifts(
        &self,
        register_id: i64,
        from: Option<i64>,
        to: Option<i64>,
        limit: i64,
    ) -> Result<Vec<ShiftRow>, StoreError> {
        if self.register(register_id).await?.is_none() {
            return Err(StoreError::NotFound(format!("register {register_id}")));
        }
        let rows = sqlx::query(
            "SELECT shift_number, register_id, opened_time, closed_time, receipts, sales, \
             sales_cash, sales_card, refunds, refunds_cash, refunds_card, expenses, \
             expense_refunds, z_receipts, z_sales, z_refunds, mismatch FROM project_shifts \
             WHERE register_id = $1 AND COALESCE(opened_time, closed_time, 0) >= $2 \
             AND COALESCE(opened_time, closed_time, 0) < $3 \
             ORDER BY opened_time DESC, shift_number DESC LIMIT $4",
        )
        .bind(register_id)
        .bind(from.unwrap_or(i64::MIN))
        .bind(to.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(self.store().read_pool())
        .await?;
        let mut shifts = rows
            .iter()
            .map(|r| {
                Ok(ShiftRow {
                    shift_number: r.try_get(0)?,
                    register_id: r.try_get(1)?,
                    opened: opt_time(r.try_get(2)?),
                    closed: opt_time(r.try_get(3)?),
                    receipts: r.try_get(4)?,
                    sales: r.try_get(5)?,
                    sales_cash: r.try_get(6)?,
                    sales_card: r.try_get(7)?,
                    refunds: r.try_get(8)?,
                    refunds_cash: r.try_get(9)?,
                    refunds_card: r.try_get(10)?,
                    expenses: r.try_get(11)?,
                    expense_refunds: r.try_get(12)?,
                    z_receipts: r.try_get(13)?,
                    z_sales: r.try_get(14)?,
                    z_refunds: r.try_get(15)?,
                    mismatch: r.try_get::<i64, _>(16)? != 0,
                    x_reports: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let (Some(low), Some(high)) = (
            shifts.iter().map(|s| s.shift_number).min(),
            shifts.iter().map(|s| s.shift_number).max(),
        ) else {
            return Ok(shifts);
        };
        let reports = sqlx::query(
            "SELECT shift_number, document_id, doc_time, x_receipts, x_sales, x_refunds \
             FROM doc_index WHERE register_id = $1 AND kind = 'kz_x_report' \
             AND shift_number >= $2 AND shift_number <= $3 ORDER BY doc_time, document_id",
        )
        .bind(register_id)
        .bind(low)
        .bind(high)
        .fetch_all(self.store().read_pool())
        .await?;
        for r in &reports {
            let shift: i64 = r.try_get(0)?;
            if let Some(row) = shifts.iter_mut().find(|s| s.shift_number == shift) {
                row.x_reports.push(XReportRow {
                    document_id: r.try_get(1)?,
                    time: local_text(r.try_get(2)?),
                    receipts: r.try_get(3)?,
                    sales: r.try_get(4)?,
                    refunds: r.try_get(5)?,
                });
            }
        }
        Ok(shifts)
    }

    /// Everything the totals report shows for `[from_day, to_day)`: the days with their hours,
    /// and the top products, queried at once, each on a pool connection of its own, so the
    /// answer takes as long as the slower of them rather than their sum (on PostgreSQL each
    /// runs in its own backend).
    pub async fn period_figures(
        &self,
        which: RegisterSet,
        from_day: i64,
        to_day: i64,
        top: i64,
    ) -> Result<PeriodFigures, StoreError> {
        let products = async {
            if top > 0 {
                self.top_products(which, from_day, to_day, top).await
            } else {
                Ok(Vec::new())
            }
        };
        let ((days, hours), top_products) =
            futures::try_join!(self.days_and_hours(which, from_day, to_day), products,)?;
        Ok(PeriodFigures {
            days,
            hours,
            top_products,
        })
    }

    /// The daily figures in `[from_day, to_day)` summed over the registers in scope (or one),
    /// and the receipts per hour of day, from the same daily rows (a day's hours are 24 columns
    /// of its row, `migrations/postgres/0027`).
    async fn days_and_hours(
        &self,
        which: RegisterSet,
        from_day: i64,
        to_day: i64,
    ) -> Result<(Vec<DayFigures>, [i64; 24]), StoreError> {
        let scope = self.read_scope();
        let hour_sums = HOUR_COLUMNS
            .split(", ")
            .map(|c| format!("CAST(SUM(di.{c}) AS BIGINT)"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT di.day, CAST(SUM(di.receipts) AS BIGINT), CAST(SUM(di.sales_count) AS BIGINT), CAST(SUM(di.refunds_count) AS BIGINT), \
             CAST(SUM(di.revenue) AS BIGINT), CAST(SUM(di.refunds) AS BIGINT), CAST(SUM(di.cash) AS BIGINT), CAST(SUM(di.card) AS BIGINT), \
             {hour_sums} \
             FROM project_daily di WHERE {} AND {REGISTER_SET} \
             AND di.day >= $6 AND di.day < $7 GROUP BY di.day ORDER BY di.day",
            scope_clause(scope)
        );
        let rows = period_query(&sql, scope, which, from_day, to_day)
            .fetch_all(self.store().read_pool())
            .await?;
        let mut hours = [0i64; 24];
        let mut days = Vec::with_capacity(rows.len());
        for r in &rows {
            days.push(DayFigures {
                day: r.try_get(0)?,
                receipts: sum(r, 1)?,
                sales_count: sum(r, 2)?,
                refunds_count: sum(r, 3)?,
                revenue: sum(r, 4)?,
                refunds: sum(r, 5)?,
                cash: sum(r, 6)?,
                card: sum(r, 7)?,
            });
            for (hour, slot) in hours.iter_mut().enumerate() {
                *slot += sum(r, 8 + hour)?;
            }
        }
        Ok((days, hours))
    }

    /// The best-selling products by revenue in `[from_day, to_day)`: whole months from
    /// `project_monthly_products`, the other days from `project_daily_products`, a partly asked
    /// month read as the month less the days not asked for when that reads fewer days
    /// ([`super::period_pieces`]).
    pub async fn top_products(
        &self,
        which: RegisterSet,
        from_day: i64,
        to_day: i64,
        limit: i64,
    ) -> Result<Vec<ProductFigures>, StoreError> {
        let scope = self.read_scope();
        let pieces = super::period_pieces::pieces(from_day, to_day);
        if pieces.is_empty() {
            return Ok(Vec::new());
        }
        // $1..$5 scope and register set, $6 the limit, then each piece's days from $7 on.
        let mut parts = Vec::with_capacity(pieces.len());
        let mut next = 7;
        for piece in &pieces {
            let (table, sign, period) = match piece {
                Piece::Month(_) => (
                    "project_monthly_products",
                    "",
                    format!("di.month_day = ${next}"),
                ),
                Piece::Days { sign, .. } => (
                    "project_daily_products",
                    if *sign < 0 { "-" } else { "" },
                    format!("di.day >= ${next} AND di.day < ${}", next + 1),
                ),
            };
            next += if matches!(piece, Piece::Month(_)) {
                1
            } else {
                2
            };
            parts.push(format!(
                "SELECT di.name, {sign}di.lines AS lines, {sign}di.revenue AS revenue \
                 FROM {table} di WHERE {} AND {REGISTER_SET} AND {period}",
                scope_clause(scope)
            ));
        }
        let sql = format!(
            "SELECT p.name, CAST(SUM(p.lines) AS BIGINT), CAST(SUM(p.revenue) AS BIGINT) \
             FROM ({}) p GROUP BY p.name HAVING SUM(p.lines) > 0 \
             ORDER BY CAST(SUM(p.revenue) AS BIGINT) DESC, p.name LIMIT $6",
            parts.join(" UNION ALL ")
        );
        let mut query = sqlx::query(&sql)
            .bind(scope.0)
            .bind(scope.1)
            .bind(scope.2)
            .bind(which.register_id.unwrap_or(-1))
            .bind(which.point_of_sale_id.unwrap_or(-1))
            .bind(limit);
        for piece in &pieces {
            query = match *piece {
                Piece::Month(first) => query.bind(first),
                Piece::Days { from, to, .. } => query.bind(from).bind(to),
            };
        }
        let rows = query.fetch_all(self.store().read_pool()).await?;
        rows.iter()
            .map(|r| {
                Ok(ProductFigures {
                    name: r.try_get(0)?,
                    lines: sum(r, 1)?,
                    revenue: sum(r, 2)?,
                })
            })
            .collect()
    }

    /// For each RU drive in scope, what its latest shift or state report said about unsent
    /// documents.
    pub async fn unsent(&self) -> Result<Vec<UnsentRow>, StoreError> {
        let scope = self.read_scope();
        let sql = format!(
            "SELECT di.register_id, di.fn_number, di.unsent_count, di.unsent_oldest, \
             di.unsent_first, di.doc_time FROM drive_reports di WHERE {} \
             AND di.register_id IS NOT NULL ORDER BY di.register_id, di.fn_number",
            scope_clause(scope)
        );
        let rows = sqlx::query(&sql)
            .bind(scope.0)
            .bind(scope.1)
            .bind(scope.2)
            .fetch_all(self.store().read_pool())
            .await?;
        rows.iter()
            .map(|r| {
                let oldest: Option<i64> = r.try_get(3)?;
                Ok(UnsentRow {
                    register_id: r.try_get(0)?,
                    fn_number: r.try_get(1)?,
                    count: r.try_get(2)?,
                    oldest: opt_time(oldest),
                    first_number: r.try_get(4)?,
                    reported: local_text(r.try_get(5)?),
                    oldest_secs: oldest,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Delivery counts per register and local day in `[from_day, to_day)`.
    pub async fn delivery_days(
        &self,
        register_id: Option<i64>,
        from_day: i64,
        to_day: i64,
    ) -> Result<Vec<DeliveryDay>, StoreError> {
        let scope = self.read_scope();
        let sql = format!(
            "SELECT di.register_id, di.doc_time / 86400, COUNT(*), \
             CAST(SUM(CASE WHEN ob.batch_id IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT), \
             CAST(SUM(CASE WHEN ob.state = 'sent' THEN 1 ELSE 0 END) AS BIGINT), \
             CAST(SUM(CASE WHEN ob.state = 'rejected' THEN 1 ELSE 0 END) AS BIGINT) \
             FROM doc_index di{OUTBOX_JOIN} \
             WHERE {} AND ($4 < 0 OR di.register_id = $4) \
             AND di.doc_time >= $5 AND di.doc_time < $6 \
             GROUP BY di.register_id, di.doc_time / 86400 \
             ORDER BY di.doc_time / 86400 DESC, di.register_id",
            scope_clause(scope)
        );
        let rows = sqlx::query(&sql)
            .bind(scope.0)
            .bind(scope.1)
            .bind(scope.2)
            .bind(register_id.unwrap_or(-1))
            .bind(from_day.saturating_mul(86_400))
            .bind(to_day.saturating_mul(86_400))
            .fetch_all(self.store().read_pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DeliveryDay {
                    register_id: r.try_get(0)?,
                    date: day_text(r.try_get(1)?),
                    received: r.try_get(2)?,
                    batched: sum(r, 3)?,
                    accepted: sum(r, 4)?,
                    rejected: sum(r, 5)?,
                })
            })
            .collect()
    }
}

/// A `CAST(SUM(…) AS BIGINT)` column (PostgreSQL sums BIGINT as NUMERIC otherwise); NULL when
/// no row was summed.
fn sum(row: &AnyRow, index: usize) -> Result<i64, StoreError> {
    Ok(row.try_get::<Option<i64>, _>(index)?.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_round_trip_their_names() {
        for op in [
            Operation::Sale,
            Operation::Refund,
            Operation::Expense,
            Operation::ExpenseRefund,
        ] {
            assert_eq!(Operation::parse(op.as_str()), Some(op));
        }
        assert_eq!(Operation::parse("gift"), None);
    }

    #[test]
    fn stored_lines_are_arrays_in_field_order_and_read_back() {
        let lines = vec![
            DocumentLine {
                name: "Хлеб \"Бородинский\"".to_owned(),
                price: 5_990,
                quantity: "0.750".to_owned(),
                amount: 4_493,
                vat_rate: Some("10%".to_owned()),
                vat_amount: Some(408),
            },
            DocumentLine {
                name: "Пакет".to_owned(),
                price: 500,
                quantity: "1".to_owned(),
                amount: 500,
                vat_rate: None,
                vat_amount: None,
            },
        ];
        let json = lines_to_json(&lines);
        // The order `migrations/postgres/0026` and `sqlite-read/0003` build with their arrays.
        assert_eq!(
            json,
            r#"[["Хлеб \"Бородинский\"",5990,"0.750",4493,"10%",408],["Пакет",500,"1",500,null,null]]"#
        );
        assert_eq!(lines_from_json(&json).expect("reads back"), lines);
        // PostgreSQL's spacing (what 0026 wrote) reads the same.
        let spaced = r#"[["Пакет", 500, "1", 500, null, null]]"#;
        assert_eq!(lines_from_json(spaced).expect("spaced"), lines[1..]);
        assert!(lines_from_json(r#"[["Пакет", "500"]]"#).is_err());
    }
}
