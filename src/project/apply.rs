//! Reading committed documents after the cursor and writing their rows into the read tables.
//!
//! Invariants:
//! - A document is applied at most once: its `doc_index` row is inserted first with
//!   `ON CONFLICT (document_id) DO NOTHING RETURNING`, and the shift, daily, hourly and product
//!   figures are added only when that insert took. Replaying a batch (a crash between the writes
//!   and the cursor move, two projectors, a sweep) therefore changes nothing.
//! - A document is applied at least once: the cursor (`project_cursor.last_id`) moves only in the
//!   transaction that wrote the rows up to it. PostgreSQL hands out ids before commit, so a
//!   document can become visible after a higher id was already projected; [`Projector::sweep`]
//!   looks back over a window of ids below the cursor for documents without a `doc_index` row.
//!   SQLite has one writer at a time, so there ids become visible in order.
//! - Reading the documents and decoding them happens outside the write transaction; the write
//!   transaction holds only the inserts, so on SQLite the ingest writer waits for the projector
//!   no longer than one batch of small writes.
//! - A document that does not decode still gets a `doc_index` row (kind `other`, its stored
//!   columns), so it never blocks the cursor, and the reason is logged and counted.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row as _};

use super::model::{project_kz, project_ru, KzTicketFacts, Operation, Projected, ShiftEvent};
use crate::store::{Backend, Store};

/// The cursor's row name.
const CURSOR: &str = "documents";

/// One stored document as the projector reads it.
struct Stored {
    id: i64,
    dialect: String,
    doc_key: String,
    fn_number: Option<String>,
    fd_number: Option<i64>,
    system_id: Option<i64>,
    form_code: i64,
    doc_time: Option<i64>,
    received_at: i64,
    raw: Vec<u8>,
    ack: Vec<u8>,
    register_id: Option<i64>,
}

const STORED_COLUMNS: &str = "SELECT d.id, d.dialect, d.doc_key, d.fn_number, d.fd_number, \
    d.system_id, d.form_code, d.doc_time, d.received_at, d.raw, d.ack, \
    COALESCE(rf.id, rs.id) AS register_id \
    FROM documents d \
    LEFT JOIN registers rf ON d.dialect = 'ru' AND rf.fn_number = d.fn_number \
    LEFT JOIN registers rs ON d.dialect = 'kz' AND rs.system_id = d.system_id";

fn stored(row: &AnyRow) -> Result<Stored, sqlx::Error> {
    Ok(Stored {
        id: row.try_get(0)?,
        dialect: row.try_get(1)?,
        doc_key: row.try_get(2)?,
        fn_number: row.try_get(3)?,
        fd_number: row.try_get(4)?,
        system_id: row.try_get(5)?,
        form_code: row.try_get(6)?,
        doc_time: row.try_get(7)?,
        received_at: row.try_get(8)?,
        raw: row.try_get(9)?,
        ack: row.try_get(10)?,
        register_id: row.try_get(11)?,
    })
}

/// What one step did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Documents read after the cursor.
    pub read: u64,
    /// Documents newly applied (not seen before).
    pub applied: u64,
    /// Documents that did not decode (indexed as `other`).
    pub undecodable: u64,
}

/// How far behind the projector is.
#[derive(Debug, Default, Clone, Copy)]
pub struct Lag {
    /// Documents after the cursor.
    pub documents: i64,
    /// `received_at` of the first document after the cursor (unix ms).
    pub oldest_received_at: Option<i64>,
}

/// The projector's view of the database.
#[derive(Clone)]
pub struct Projector {
    store: Store,
}

impl Projector {
    /// A projector over `store`.
    pub fn new(store: &Store) -> Self {
        Self {
            store: store.clone(),
        }
    }

    /// The last document id projected (0 before the first).
    pub async fn cursor(&self) -> Result<i64, sqlx::Error> {
        let last: Option<i64> =
            sqlx::query_scalar("SELECT last_id FROM project_cursor WHERE name = $1")
                .bind(CURSOR)
                .fetch_optional(self.store.pool())
                .await?;
        Ok(last.unwrap_or(0))
    }

    /// Documents after the cursor and the oldest one's commit time.
    pub async fn lag(&self) -> Result<Lag, sqlx::Error> {
        let cursor = self.cursor().await?;
        let row = sqlx::query("SELECT COUNT(*), MIN(received_at) FROM documents WHERE id > $1")
            .bind(cursor)
            .fetch_one(self.store.pool())
            .await?;
        Ok(Lag {
            documents: row.try_get(0)?,
            oldest_received_at: row.try_get(1)?,
        })
    }

    /// Project up to `batch` documents after the cursor, in one write transaction.
    pub async fn step(&self, batch: i64, now_ms: i64) -> Result<Step, sqlx::Error> {
        let cursor = self.cursor().await?;
        let rows = sqlx::query(&format!(
            "{STORED_COLUMNS} WHERE d.id > $1 ORDER BY d.id LIMIT $2"
        ))
        .bind(cursor)
        .bind(batch)
        .fetch_all(self.store.pool())
        .await?;
        let documents = rows.iter().map(stored).collect::<Result<Vec<_>, _>>()?;
        let Some(last) = documents.last().map(|d| d.id) else {
            return Ok(Step::default());
        };
        let mut step = self.apply(&documents, Some((last, now_ms))).await?;
        step.read = documents.len() as u64;
        Ok(step)
    }

    /// Apply documents below the cursor (within `window` ids of it) that have no `doc_index`
    /// row: on PostgreSQL, those whose transaction committed after a higher id was projected.
    pub async fn sweep(&self, window: i64) -> Result<Step, sqlx::Error> {
        let cursor = self.cursor().await?;
        let rows = sqlx::query(&format!(
            "{STORED_COLUMNS} WHERE d.id > $1 AND d.id <= $2 AND NOT EXISTS \
             (SELECT 1 FROM doc_index i WHERE i.document_id = d.id) ORDER BY d.id LIMIT 1000"
        ))
        .bind(cursor - window)
        .bind(cursor)
        .fetch_all(self.store.pool())
        .await?;
        let documents = rows.iter().map(stored).collect::<Result<Vec<_>, _>>()?;
        if documents.is_empty() {
            return Ok(Step::default());
        }
        tracing::info!(
            documents = documents.len(),
            "projecting documents committed after later ones"
        );
        let mut step = self.apply(&documents, None).await?;
        step.read = documents.len() as u64;
        Ok(step)
    }

    /// Empty every read table and reset the cursor, in one transaction (`ofd project --rebuild`).
    pub async fn reset(&self) -> Result<(), sqlx::Error> {
        let mut tx = self.store.begin_write().await?;
        for table in [
            "doc_index",
            "doc_items",
            "project_shifts",
            "project_daily",
            "project_hourly",
            "project_daily_products",
            "project_cursor",
        ] {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }

    /// Decode `documents` and write them in one transaction, which also moves the cursor to
    /// `cursor.0` (at time `cursor.1`) when given.
    async fn apply(
        &self,
        documents: &[Stored],
        cursor: Option<(i64, i64)>,
    ) -> Result<Step, sqlx::Error> {
        let facts = self.kz_facts(documents).await?;
        let mut step = Step::default();
        let projected: Vec<Projected> = documents
            .iter()
            .map(|d| {
                let result = if d.dialect == "kz" {
                    let facts = ticket_number(&d.doc_key)
                        .and_then(|t| facts.iter().find(|(n, _)| n == t))
                        .map(|(n, shift)| KzTicketFacts {
                            ticket_number: Some(n.clone()),
                            shift_number: Some(*shift),
                        })
                        .unwrap_or_default();
                    project_kz(&d.raw, &d.ack, &facts)
                } else {
                    project_ru(&d.raw)
                };
                result.unwrap_or_else(|reason| {
                    tracing::warn!(document = d.id, %reason, "document does not project");
                    step.undecodable += 1;
                    Projected {
                        kind: "other",
                        ..Projected::default()
                    }
                })
            })
            .collect();
        let mut tx = self.store.begin_write().await?;
        for (document, projected) in documents.iter().zip(&projected) {
            if write_document(&mut tx, document, projected).await? {
                step.applied += 1;
            }
        }
        if let Some((last, now_ms)) = cursor {
            sqlx::query(
                "INSERT INTO project_cursor (name, last_id, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET last_id = excluded.last_id, \
                 updated_at = excluded.updated_at WHERE project_cursor.last_id < excluded.last_id",
            )
            .bind(CURSOR)
            .bind(last)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(step)
    }

    /// `(ticket number, shift number)` of the KZ tickets among `documents`.
    async fn kz_facts(&self, documents: &[Stored]) -> Result<Vec<(String, i64)>, sqlx::Error> {
        let numbers: Vec<&str> = documents
            .iter()
            .filter(|d| d.dialect == "kz")
            .filter_map(|d| ticket_number(&d.doc_key))
            .collect();
        let mut facts = Vec::with_capacity(numbers.len());
        for chunk in numbers.chunks(200) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT ticket_number, shift_number FROM kz_tickets WHERE ticket_number IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for number in chunk {
                query = query.bind(*number);
            }
            for row in query.fetch_all(self.store.pool()).await? {
                facts.push((row.try_get(0)?, row.try_get(1)?));
            }
        }
        Ok(facts)
    }

    /// Which backend (for the sweep's need).
    pub fn backend(&self) -> Backend {
        self.store.backend()
    }
}

/// The ticket number in a KZ ticket's key `"<system id>/<ticket number>"`.
fn ticket_number(doc_key: &str) -> Option<&str> {
    doc_key
        .split_once('/')
        .map(|(_, rest)| rest)
        .filter(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
}

/// The shift's key: RU per drive, KZ per system id.
fn shift_source(document: &Stored) -> Option<String> {
    match document.dialect.as_str() {
        "ru" => document.fn_number.as_ref().map(|f| format!("ru:{f}")),
        _ => document.system_id.map(|s| format!("kz:{s}")),
    }
}

/// Write one document's rows; `false` when it had been applied before.
async fn write_document(
    tx: &mut AnyConnection,
    document: &Stored,
    projected: &Projected,
) -> Result<bool, sqlx::Error> {
    let doc_time = projected
        .doc_time
        .or(document.doc_time)
        .unwrap_or(document.received_at / 1000);
    let unsent = projected.unsent;
    let inserted = sqlx::query(
        "INSERT INTO doc_index (document_id, dialect, register_id, fn_number, fd_number, \
         system_id, kz_ticket, kind, form_code, shift_number, operation, doc_time, received_at, \
         total, cash, card, prepaid, credit, other_payment, cashier, fiscal_sign, unsent_count, \
         unsent_oldest, unsent_first) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
         $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24) \
         ON CONFLICT (document_id) DO NOTHING RETURNING document_id",
    )
    .bind(document.id)
    .bind(&document.dialect)
    .bind(document.register_id)
    .bind(&document.fn_number)
    .bind(document.fd_number)
    .bind(document.system_id)
    .bind(ticket_number(&document.doc_key).filter(|_| document.dialect == "kz"))
    .bind(projected.kind)
    .bind(document.form_code)
    .bind(projected.shift_number)
    .bind(projected.operation.map(Operation::as_str))
    .bind(doc_time)
    .bind(document.received_at)
    .bind(projected.total)
    .bind(projected.cash)
    .bind(projected.card)
    .bind(projected.prepaid)
    .bind(projected.credit)
    .bind(projected.other_payment)
    .bind(&projected.cashier)
    .bind(&projected.fiscal_sign)
    .bind(unsent.map(|u| u.0))
    .bind(unsent.and_then(|u| u.1))
    .bind(unsent.and_then(|u| u.2))
    .fetch_optional(&mut *tx)
    .await?;
    if inserted.is_none() {
        return Ok(false);
    }
    for (line, item) in projected.lines.iter().enumerate() {
        sqlx::query(
            "INSERT INTO doc_items (document_id, line, name, price, quantity, amount, vat_rate, \
             vat_amount) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(document.id)
        .bind(line as i64)
        .bind(&item.name)
        .bind(item.price)
        .bind(&item.quantity)
        .bind(item.amount)
        .bind(&item.vat_rate)
        .bind(item.vat_amount)
        .execute(&mut *tx)
        .await?;
    }
    if let (Some(source), Some(shift)) = (shift_source(document), projected.shift_number) {
        write_shift(
            tx,
            &source,
            shift,
            document.register_id,
            doc_time,
            projected,
        )
        .await?;
    }
    if projected.is_receipt {
        write_daily(tx, document.register_id.unwrap_or(0), doc_time, projected).await?;
    }
    Ok(true)
}

/// Signed contributions of a receipt: (sales, sales cash, sales card, refunds, refunds cash,
/// refunds card, expenses, expense refunds).
fn shift_figures(p: &Projected) -> [i64; 8] {
    match p.operation {
        Some(Operation::Sale) => [p.total, p.cash, p.card, 0, 0, 0, 0, 0],
        Some(Operation::Refund) => [0, 0, 0, p.total, p.cash, p.card, 0, 0],
        Some(Operation::Expense) => [0, 0, 0, 0, 0, 0, p.total, 0],
        Some(Operation::ExpenseRefund) => [0, 0, 0, 0, 0, 0, 0, p.total],
        None => [0; 8],
    }
}

async fn write_shift(
    tx: &mut AnyConnection,
    source: &str,
    shift: i64,
    register_id: Option<i64>,
    doc_time: i64,
    projected: &Projected,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO project_shifts (source, shift_number, register_id) VALUES ($1, $2, $3) \
         ON CONFLICT (source, shift_number) DO NOTHING",
    )
    .bind(source)
    .bind(shift)
    .bind(register_id)
    .execute(&mut *tx)
    .await?;
    match projected.shift_event {
        Some(ShiftEvent::Close) => {
            let z = projected.z.clone().unwrap_or_default();
            sqlx::query(
                "UPDATE project_shifts SET closed_time = $3, z_receipts = $4, z_sales = $5, \
                 z_refunds = $6 WHERE source = $1 AND shift_number = $2",
            )
            .bind(source)
            .bind(shift)
            .bind(doc_time)
            .bind(z.receipts)
            .bind(z.sales)
            .bind(z.refunds)
            .execute(&mut *tx)
            .await?;
        }
        _ => {
            let receipt = i64::from(projected.is_receipt);
            let f = shift_figures(projected);
            sqlx::query(
                "UPDATE project_shifts SET \
                 opened_time = CASE WHEN opened_time IS NULL OR opened_time > $3 THEN $3 \
                 ELSE opened_time END, receipts = receipts + $4, sales = sales + $5, \
                 sales_cash = sales_cash + $6, sales_card = sales_card + $7, \
                 refunds = refunds + $8, refunds_cash = refunds_cash + $9, \
                 refunds_card = refunds_card + $10, expenses = expenses + $11, \
                 expense_refunds = expense_refunds + $12 \
                 WHERE source = $1 AND shift_number = $2",
            )
            .bind(source)
            .bind(shift)
            .bind(doc_time)
            .bind(receipt)
            .bind(f[0])
            .bind(f[1])
            .bind(f[2])
            .bind(f[3])
            .bind(f[4])
            .bind(f[5])
            .bind(f[6])
            .bind(f[7])
            .execute(&mut *tx)
            .await?;
        }
    }
    // A late receipt after the close report changes the verdict too.
    sqlx::query(
        "UPDATE project_shifts SET mismatch = CASE WHEN closed_time IS NOT NULL AND \
         ((z_receipts IS NOT NULL AND z_receipts <> receipts) \
         OR (z_sales IS NOT NULL AND z_sales <> sales) \
         OR (z_refunds IS NOT NULL AND z_refunds <> refunds)) THEN 1 ELSE 0 END \
         WHERE source = $1 AND shift_number = $2",
    )
    .bind(source)
    .bind(shift)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn write_daily(
    tx: &mut AnyConnection,
    register_id: i64,
    doc_time: i64,
    projected: &Projected,
) -> Result<(), sqlx::Error> {
    let day = doc_time.div_euclid(86_400);
    let hour = doc_time.rem_euclid(86_400) / 3_600;
    let (sales_count, refunds_count, revenue, refunds, cash, card) = match projected.operation {
        Some(Operation::Sale) => (1, 0, projected.total, 0, projected.cash, projected.card),
        Some(Operation::Refund) => (0, 1, 0, projected.total, -projected.cash, -projected.card),
        _ => (0, 0, 0, 0, 0, 0),
    };
    sqlx::query(
        "INSERT INTO project_daily (register_id, day, receipts, sales_count, refunds_count, \
         revenue, refunds, cash, card) VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (register_id, day) DO UPDATE SET \
         receipts = project_daily.receipts + 1, \
         sales_count = project_daily.sales_count + excluded.sales_count, \
         refunds_count = project_daily.refunds_count + excluded.refunds_count, \
         revenue = project_daily.revenue + excluded.revenue, \
         refunds = project_daily.refunds + excluded.refunds, \
         cash = project_daily.cash + excluded.cash, card = project_daily.card + excluded.card",
    )
    .bind(register_id)
    .bind(day)
    .bind(sales_count)
    .bind(refunds_count)
    .bind(revenue)
    .bind(refunds)
    .bind(cash)
    .bind(card)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO project_hourly (register_id, day, hour, receipts) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (register_id, day, hour) DO UPDATE SET \
         receipts = project_hourly.receipts + 1",
    )
    .bind(register_id)
    .bind(day)
    .bind(hour)
    .execute(&mut *tx)
    .await?;
    if projected.operation == Some(Operation::Sale) {
        for line in &projected.lines {
            sqlx::query(
                "INSERT INTO project_daily_products (register_id, day, name, lines, revenue) \
                 VALUES ($1, $2, $3, 1, $4) ON CONFLICT (register_id, day, name) DO UPDATE SET \
                 lines = project_daily_products.lines + 1, \
                 revenue = project_daily_products.revenue + excluded.revenue",
            )
            .bind(register_id)
            .bind(day)
            .bind(&line.name)
            .bind(line.amount)
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}
