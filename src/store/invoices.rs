//! Invoices: what an organisation owes for its registers' tariffs, and their payment.
//!
//! An invoice has a number (`INV-<id>`, unique, the reference a bank payment quotes), lines and
//! an amount that is the sum of its lines, in one currency. A line either pays `periods` periods
//! of a register's current plan (amount = plan price × periods) or is a free-text charge.
//! Status: `unpaid` → `paid` (operator staff, by hand or from a bank statement) or `cancelled`.
//!
//! Paying is one transaction: the invoice turns `paid` (only from `unpaid`: paying twice is a
//! conflict), each register line moves the register's `paid_until` to
//! max(paid_until, now) + periods × period_days, a register the tariff check had blocked for
//! nonpayment becomes active again, and every step writes its audit line.

use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::identity::audit_in;
use super::register_lifecycle::{Change, Lifecycle};
use super::registers::transition;
use super::tariffs::{plan_in, register_tariff_in, DAY_MS};
use super::tenancy::SCOPE_ORG_ID;
use super::{RegisterStatus, StoreError, Tenant};
use crate::clock::unix_millis;

/// Most lines one invoice may have.
const MAX_LINES: usize = 500;
/// Most periods one line may pay for.
const MAX_PERIODS: i64 = 120;

const INVOICE_COLUMNS: &str = "id, number, org_id, amount_minor, currency, due_at, status, \
     paid_at, payment_ref, created_at, updated_at";
const LINE_COLUMNS: &str = "id, register_id, plan_id, description, periods, amount_minor";

/// Where an invoice stands.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum InvoiceStatus {
    /// Issued, not paid yet.
    Unpaid,
    /// Paid.
    Paid,
    /// Withdrawn.
    Cancelled,
}

impl InvoiceStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Unpaid => "unpaid",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        Ok(match text {
            "unpaid" => InvoiceStatus::Unpaid,
            "paid" => InvoiceStatus::Paid,
            "cancelled" => InvoiceStatus::Cancelled,
            other => return Err(StoreError::Corrupt(format!("invoice status {other:?}"))),
        })
    }
}

/// One line of an invoice.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct InvoiceLine {
    /// Row id.
    pub id: i64,
    /// The register whose tariff the line pays, if any.
    pub register_id: Option<i64>,
    /// The plan it was priced with.
    pub plan_id: Option<i64>,
    /// For people.
    pub description: String,
    /// Periods paid.
    pub periods: i64,
    /// Amount in minor units.
    pub amount_minor: i64,
}

/// An invoice with its lines.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Invoice {
    /// Row id.
    pub id: i64,
    /// The number a payment quotes.
    pub number: String,
    /// The organisation billed.
    pub org_id: i64,
    /// Sum of the lines, minor units.
    pub amount_minor: i64,
    /// Currency code.
    pub currency: String,
    /// Due (unix ms).
    pub due_at: i64,
    /// Status.
    pub status: InvoiceStatus,
    /// When it was paid (unix ms).
    pub paid_at: Option<i64>,
    /// The bank's payment reference or the operator's note.
    pub payment_ref: Option<String>,
    /// The lines.
    pub lines: Vec<InvoiceLine>,
    /// Created (unix ms).
    pub created_at: i64,
    /// Last changed (unix ms).
    pub updated_at: i64,
}

/// A line to bill.
#[derive(Clone, Debug)]
pub struct NewInvoiceLine {
    /// Pay this register's current plan…
    pub register_id: Option<i64>,
    /// …for this many periods (1 for a free-text line).
    pub periods: i64,
    /// Free-text line: its description…
    pub description: Option<String>,
    /// …and amount in minor units.
    pub amount_minor: Option<i64>,
}

/// A new invoice.
#[derive(Clone, Debug)]
pub struct NewInvoice {
    /// The organisation billed.
    pub org_id: i64,
    /// Due (unix ms).
    pub due_at: i64,
    /// Currency; required when no line names a register (otherwise the plans' currency).
    pub currency: Option<String>,
    /// The lines (at least one).
    pub lines: Vec<NewInvoiceLine>,
}

/// Why a payment could not be applied.
#[derive(Debug)]
pub enum PaymentRefusal {
    /// No invoice has the number (or it is out of scope).
    Unknown,
    /// The amount paid is not the amount billed.
    AmountMismatch {
        /// Billed, minor units.
        billed: i64,
    },
    /// Already paid or cancelled.
    NotUnpaid(InvoiceStatus),
}

fn invoice_from_row(row: &AnyRow, lines: Vec<InvoiceLine>) -> Result<Invoice, StoreError> {
    Ok(Invoice {
        id: row.try_get("id")?,
        number: row.try_get("number")?,
        org_id: row.try_get("org_id")?,
        amount_minor: row.try_get("amount_minor")?,
        currency: row.try_get("currency")?,
        due_at: row.try_get("due_at")?,
        status: InvoiceStatus::parse(&row.try_get::<String, _>("status")?)?,
        paid_at: row.try_get("paid_at")?,
        payment_ref: row.try_get("payment_ref")?,
        lines,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn line_from_row(row: &AnyRow) -> Result<InvoiceLine, StoreError> {
    Ok(InvoiceLine {
        id: row.try_get("id")?,
        register_id: row.try_get("register_id")?,
        plan_id: row.try_get("plan_id")?,
        description: row.try_get("description")?,
        periods: row.try_get("periods")?,
        amount_minor: row.try_get("amount_minor")?,
    })
}

async fn lines_in(
    conn: &mut sqlx::AnyConnection,
    invoice_id: i64,
) -> Result<Vec<InvoiceLine>, StoreError> {
    let sql = format!("SELECT {LINE_COLUMNS} FROM invoice_lines WHERE invoice_id = $1 ORDER BY id");
    let rows = sqlx::query(&sql)
        .bind(invoice_id)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(line_from_row).collect()
}

impl Tenant {
    /// The invoice `id` in scope with its lines.
    pub async fn invoice(&self, id: i64) -> Result<Option<Invoice>, StoreError> {
        let (org, all) = self.scope();
        let mut conn = self.store().pool().acquire().await?;
        let sql =
            format!("SELECT {INVOICE_COLUMNS} FROM invoices WHERE {SCOPE_ORG_ID} AND id = $3");
        let row = sqlx::query(&sql)
            .bind(org)
            .bind(all)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let lines = lines_in(&mut conn, id).await?;
        Ok(Some(invoice_from_row(&row, lines)?))
    }

    /// The invoices in scope, newest first, with their lines.
    pub async fn invoices(
        &self,
        status: Option<InvoiceStatus>,
    ) -> Result<Vec<Invoice>, StoreError> {
        let (org, all) = self.scope();
        let mut conn = self.store().pool().acquire().await?;
        let sql = format!(
            "SELECT {INVOICE_COLUMNS} FROM invoices WHERE {SCOPE_ORG_ID} \
             AND ($3 = '' OR status = $3) ORDER BY id DESC LIMIT 1000"
        );
        let rows = sqlx::query(&sql)
            .bind(org)
            .bind(all)
            .bind(status.map(InvoiceStatus::as_str).unwrap_or(""))
            .fetch_all(&mut *conn)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let lines = lines_in(&mut conn, row.try_get("id")?).await?;
            out.push(invoice_from_row(row, lines)?);
        }
        Ok(out)
    }

    /// Issue an invoice to organisation `new.org_id` (in scope, else 404). Register lines are
    /// priced from the register's current plan; a register out of the organisation or without
    /// a plan is refused naming `lines`.
    pub async fn create_invoice(&self, new: &NewInvoice) -> Result<Invoice, StoreError> {
        if self.organisation(new.org_id).await?.is_none() {
            return Err(StoreError::NotFound(format!("organisation {}", new.org_id)));
        }
        if new.lines.is_empty() || new.lines.len() > MAX_LINES {
            return Err(StoreError::Invalid(format!(
                "lines: 1 to {MAX_LINES} lines"
            )));
        }
        let now = unix_millis();
        let mut tx = self.store().begin_write().await?;
        let mut priced = Vec::with_capacity(new.lines.len());
        let mut currency = new.currency.clone();
        for (n, line) in new.lines.iter().enumerate() {
            if !(1..=MAX_PERIODS).contains(&line.periods) {
                return Err(StoreError::Invalid(format!(
                    "lines[{n}].periods: 1 to {MAX_PERIODS}"
                )));
            }
            match line.register_id {
                Some(register_id) => {
                    let tariff = register_tariff_in(&mut tx, register_id)
                        .await?
                        .filter(|t| t.org_id == new.org_id)
                        .ok_or_else(|| {
                            StoreError::Invalid(format!(
                                "lines[{n}].register_id: register {register_id} of this \
                                 organisation has no tariff plan"
                            ))
                        })?;
                    let plan = plan_in(&mut tx, tariff.plan_id).await?.ok_or_else(|| {
                        StoreError::Corrupt(format!("tariff plan {}", tariff.plan_id))
                    })?;
                    if currency.get_or_insert_with(|| plan.currency.clone()) != &plan.currency {
                        return Err(StoreError::Invalid(format!(
                            "lines[{n}]: plan {} is billed in {}, the invoice in another currency",
                            plan.id, plan.currency
                        )));
                    }
                    let amount = plan
                        .price_minor
                        .checked_mul(line.periods)
                        .ok_or_else(|| StoreError::Invalid(format!("lines[{n}]: too large")))?;
                    priced.push((
                        Some(register_id),
                        Some(plan.id),
                        format!(
                            "{} × {} ({} days each), register {register_id}",
                            plan.name, line.periods, plan.period_days
                        ),
                        line.periods,
                        amount,
                    ));
                }
                None => {
                    let description = line
                        .description
                        .as_deref()
                        .map(str::trim)
                        .filter(|d| !d.is_empty())
                        .ok_or_else(|| {
                            StoreError::Invalid(format!(
                                "lines[{n}].description: a line without register_id needs one"
                            ))
                        })?;
                    let amount = line.amount_minor.filter(|a| *a >= 0).ok_or_else(|| {
                        StoreError::Invalid(format!(
                            "lines[{n}].amount_minor: a line without register_id needs a \
                             non-negative amount"
                        ))
                    })?;
                    priced.push((None, None, description.to_owned(), line.periods, amount));
                }
            }
        }
        let currency = currency.ok_or_else(|| {
            StoreError::Invalid("currency: required when no line names a register".to_owned())
        })?;
        let total = priced
            .iter()
            .try_fold(0i64, |sum, line| sum.checked_add(line.4))
            .ok_or_else(|| StoreError::Invalid("lines: the total is too large".to_owned()))?;
        // The number is made from the row id, so the row is inserted under a unique placeholder.
        let placeholder = format!("pending-{}", uuid::Uuid::new_v4().simple());
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO invoices (number, org_id, amount_minor, currency, due_at, status, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'unpaid', $6, $6) RETURNING id",
        )
        .bind(&placeholder)
        .bind(new.org_id)
        .bind(total)
        .bind(&currency)
        .bind(new.due_at)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("UPDATE invoices SET number = $1 WHERE id = $2")
            .bind(format!("INV-{id:06}"))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for (register_id, plan_id, description, periods, amount) in &priced {
            sqlx::query(
                "INSERT INTO invoice_lines (invoice_id, register_id, plan_id, description, \
                 periods, amount_minor) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(*register_id)
            .bind(*plan_id)
            .bind(description)
            .bind(*periods)
            .bind(*amount)
            .execute(&mut *tx)
            .await?;
        }
        let mut entry = self.entry(Some(new.org_id), "invoice.create", format!("invoice:{id}"));
        entry.detail = Some(format!("{total} {currency}"));
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        self.invoice(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("invoice {id}")))
    }

    /// Mark invoice `id` paid (operator staff: the caller checks the role); 404 out of scope,
    /// 409 unless it is unpaid. See the module notes for what paying does.
    pub async fn mark_invoice_paid(
        &self,
        id: i64,
        payment_ref: Option<&str>,
    ) -> Result<Invoice, StoreError> {
        let invoice = self
            .invoice(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("invoice {id}")))?;
        match self.pay(&invoice, None, payment_ref).await? {
            Ok(paid) => Ok(paid),
            Err(PaymentRefusal::NotUnpaid(status)) => Err(StoreError::Conflict(format!(
                "invoice {} is {}, not unpaid",
                invoice.number,
                status.as_str()
            ))),
            Err(PaymentRefusal::Unknown) => Err(StoreError::NotFound(format!("invoice {id}"))),
            Err(PaymentRefusal::AmountMismatch { .. }) => {
                unreachable!("no amount was given to compare")
            }
        }
    }

    /// Withdraw unpaid invoice `id` (operator staff: the caller checks the role); 404 out of
    /// scope, 409 unless it is unpaid.
    pub async fn cancel_invoice(
        &self,
        id: i64,
        reason: Option<&str>,
    ) -> Result<Invoice, StoreError> {
        let invoice = self
            .invoice(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("invoice {id}")))?;
        let now = unix_millis();
        let mut tx = self.store().begin_write().await?;
        let cancelled = sqlx::query(
            "UPDATE invoices SET status = 'cancelled', updated_at = $1 \
             WHERE id = $2 AND status = 'unpaid'",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if cancelled == 0 {
            return Err(StoreError::Conflict(format!(
                "invoice {} is {}, not unpaid",
                invoice.number,
                invoice.status.as_str()
            )));
        }
        let mut entry = self.entry(
            Some(invoice.org_id),
            "invoice.cancel",
            format!("invoice:{id}"),
        );
        entry.detail = reason.map(str::to_owned);
        audit_in(&mut tx, &entry, now).await?;
        tx.commit().await?;
        self.invoice(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("invoice {id}")))
    }

    /// Apply a bank payment of `amount_minor` quoting invoice `number` (one row of a bank
    /// statement); the paid invoice, or why the payment does not apply.
    pub async fn apply_bank_payment(
        &self,
        number: &str,
        amount_minor: i64,
        payment_ref: Option<&str>,
    ) -> Result<Result<Invoice, PaymentRefusal>, StoreError> {
        let (org, all) = self.scope();
        let id: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT id FROM invoices WHERE {SCOPE_ORG_ID} AND number = $3"
        ))
        .bind(org)
        .bind(all)
        .bind(number)
        .fetch_optional(self.store().pool())
        .await?;
        let Some(invoice) = (match id {
            Some(id) => self.invoice(id).await?,
            None => None,
        }) else {
            return Ok(Err(PaymentRefusal::Unknown));
        };
        self.pay(&invoice, Some(amount_minor), payment_ref).await
    }

    /// The payment of `invoice` in one transaction (see the module notes).
    async fn pay(
        &self,
        invoice: &Invoice,
        amount_minor: Option<i64>,
        payment_ref: Option<&str>,
    ) -> Result<Result<Invoice, PaymentRefusal>, StoreError> {
        if amount_minor.is_some_and(|amount| amount != invoice.amount_minor) {
            return Ok(Err(PaymentRefusal::AmountMismatch {
                billed: invoice.amount_minor,
            }));
        }
        let now = unix_millis();
        let mut tx = self.store().begin_write().await?;
        let paid = sqlx::query(
            "UPDATE invoices SET status = 'paid', paid_at = $1, payment_ref = $2, updated_at = $1 \
             WHERE id = $3 AND status = 'unpaid'",
        )
        .bind(now)
        .bind(payment_ref)
        .bind(invoice.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if paid == 0 {
            let status: String = sqlx::query_scalar("SELECT status FROM invoices WHERE id = $1")
                .bind(invoice.id)
                .fetch_one(&mut *tx)
                .await?;
            return Ok(Err(PaymentRefusal::NotUnpaid(InvoiceStatus::parse(
                &status,
            )?)));
        }
        let mut entry = self.entry(
            Some(invoice.org_id),
            "invoice.paid",
            format!("invoice:{}", invoice.id),
        );
        entry.detail = Some(format!(
            "{} {} {}",
            invoice.number, invoice.amount_minor, invoice.currency
        ));
        audit_in(&mut tx, &entry, now).await?;
        for line in &invoice.lines {
            let (Some(register_id), Some(plan_id)) = (line.register_id, line.plan_id) else {
                continue;
            };
            let Some(tariff) = register_tariff_in(&mut tx, register_id).await? else {
                continue;
            };
            let plan = plan_in(&mut tx, plan_id)
                .await?
                .ok_or_else(|| StoreError::Corrupt(format!("tariff plan {plan_id}")))?;
            let paid_until = tariff
                .paid_until
                .max(now)
                .saturating_add(line.periods.saturating_mul(plan.period_days * DAY_MS));
            sqlx::query(
                "UPDATE register_tariffs SET paid_until = $1, blocked_for_nonpayment = 0, \
                 updated_at = $2 WHERE register_id = $3",
            )
            .bind(paid_until)
            .bind(now)
            .bind(register_id)
            .execute(&mut *tx)
            .await?;
            let mut entry = self.entry(
                Some(invoice.org_id),
                "register.tariff_paid",
                format!("register:{register_id}"),
            );
            entry.detail = Some(format!("paid until {paid_until} by {}", invoice.number));
            audit_in(&mut tx, &entry, now).await?;
            let status: String = sqlx::query_scalar("SELECT status FROM registers WHERE id = $1")
                .bind(register_id)
                .fetch_one(&mut *tx)
                .await?;
            if tariff.blocked_for_nonpayment && status == RegisterStatus::Blocked.as_str() {
                // Through the register state machine, as every status change is.
                transition(
                    &mut tx,
                    register_id,
                    &Change::To(Lifecycle::Active),
                    &self.actor().label(),
                    now,
                )
                .await?;
                let mut entry = self.entry(
                    Some(invoice.org_id),
                    "register.status",
                    format!("register:{register_id}"),
                );
                entry.detail = Some(format!("status active (paid by {})", invoice.number));
                audit_in(&mut tx, &entry, now).await?;
            }
        }
        tx.commit().await?;
        let invoice = self
            .invoice(invoice.id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("invoice {}", invoice.id)))?;
        Ok(Ok(invoice))
    }
}
