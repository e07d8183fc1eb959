-- Read tables partitioned by month (same meaning as ../sqlite/0017_read_models_partitioned.sql).
--
-- Why: doc_index (one row per document), doc_items (one per receipt line) and the per-day figures
-- (project_daily, project_hourly, project_daily_products: one row per register and day, 24 per
-- day, one per product sold that day) grow with the documents; the cabinet reads them by a
-- time range (doc_time / day), so a month partition lets a query of one month read one month,
-- and retention drop a month whole with the documents it was built from
-- (src/store/retention.rs). project_shifts stays one table: a shift row is keyed by
-- (source, shift_number), is written again when the close report arrives (possibly in another
-- month), is one row per register and day (a few per cent of doc_index), and is read by
-- (register_id, opened_time) through its index.
--
-- Partition keys are the read tables' own local times, not the documents' arrival:
-- doc_index and doc_items by doc_time (register-local naive seconds), the daily tables by day
-- (doc_time / 86400). Month bounds are those of a UTC calendar month applied to the naive local
-- values (what day = doc_time / 86400 already does), so month M of doc_index and month M of
-- project_daily hold the figures of the same documents. Names: <table>_pYYYYMM; each table has
-- a <table>_default partition for any row no month covers; the server makes the current and the
-- next months ahead (src/store/partitions.rs).
--
-- Unique keys must contain the partition key: doc_index's key becomes (document_id, doc_time),
-- doc_items's (document_id, line, doc_time). A document's doc_time is a function of the stored
-- document (its decoded time, else its stored doc_time, else its arrival), so the projector's
-- `ON CONFLICT (document_id, doc_time) DO NOTHING` still applies a document once. doc_items gains
-- doc_time (copied from doc_index here; written by the projector from now on) so lines are
-- pruned with their document. The daily tables' keys already hold day.
--
-- This migration makes the months the existing rows fall in, then copies every row.

ALTER TABLE doc_index RENAME TO doc_index_unpartitioned;
ALTER TABLE doc_index_unpartitioned RENAME CONSTRAINT doc_index_pkey TO doc_index_unpartitioned_pkey;
DROP INDEX doc_index_register_time;
DROP INDEX doc_index_time;
DROP INDEX doc_index_fn;
DROP INDEX doc_index_shift;
DROP INDEX doc_index_unsent;
ALTER TABLE doc_items RENAME TO doc_items_unpartitioned;
ALTER TABLE doc_items_unpartitioned RENAME CONSTRAINT doc_items_pkey TO doc_items_unpartitioned_pkey;
DROP INDEX doc_items_name;
ALTER TABLE project_daily RENAME TO project_daily_unpartitioned;
ALTER TABLE project_daily_unpartitioned
    RENAME CONSTRAINT project_daily_pkey TO project_daily_unpartitioned_pkey;
ALTER TABLE project_hourly RENAME TO project_hourly_unpartitioned;
ALTER TABLE project_hourly_unpartitioned
    RENAME CONSTRAINT project_hourly_pkey TO project_hourly_unpartitioned_pkey;
ALTER TABLE project_daily_products RENAME TO project_daily_products_unpartitioned;
ALTER TABLE project_daily_products_unpartitioned
    RENAME CONSTRAINT project_daily_products_pkey TO project_daily_products_unpartitioned_pkey;

-- Same columns, same meaning as 0011_read_models.sql with 0016's X report counters.
CREATE TABLE doc_index (
    document_id       BIGINT  NOT NULL,
    dialect           TEXT    NOT NULL,
    register_id       BIGINT,
    point_of_sale_id  BIGINT,
    fn_number         TEXT,
    fd_number         BIGINT,
    system_id         BIGINT,
    kz_ticket         TEXT,
    kind              TEXT    NOT NULL,
    form_code         BIGINT  NOT NULL,
    shift_number      BIGINT,
    operation         TEXT,
    doc_time          BIGINT  NOT NULL,
    received_at       BIGINT  NOT NULL,
    total             BIGINT  NOT NULL DEFAULT 0,
    cash              BIGINT  NOT NULL DEFAULT 0,
    card              BIGINT  NOT NULL DEFAULT 0,
    prepaid           BIGINT  NOT NULL DEFAULT 0,
    credit            BIGINT  NOT NULL DEFAULT 0,
    other_payment     BIGINT  NOT NULL DEFAULT 0,
    cashier           TEXT,
    fiscal_sign       TEXT,
    unsent_count      BIGINT,
    unsent_oldest     BIGINT,
    unsent_first      BIGINT,
    -- KZ X report counters (0016).
    x_receipts        BIGINT,
    x_sales           BIGINT,
    x_refunds         BIGINT,
    PRIMARY KEY (document_id, doc_time)
) PARTITION BY RANGE (doc_time);
CREATE INDEX doc_index_register_time ON doc_index (register_id, doc_time, document_id);
CREATE INDEX doc_index_time ON doc_index (doc_time, document_id);
CREATE INDEX doc_index_fn ON doc_index (fn_number, fd_number);
CREATE INDEX doc_index_shift ON doc_index (register_id, shift_number);
CREATE INDEX doc_index_unsent ON doc_index (register_id, unsent_count);
CREATE TABLE doc_index_default PARTITION OF doc_index DEFAULT;

CREATE TABLE doc_items (
    document_id  BIGINT  NOT NULL,
    line         BIGINT  NOT NULL,
    name         TEXT    NOT NULL,
    price        BIGINT  NOT NULL,
    quantity     TEXT    NOT NULL,
    amount       BIGINT  NOT NULL,
    vat_rate     TEXT,
    vat_amount   BIGINT,
    -- The document's doc_index.doc_time (the partition key).
    doc_time     BIGINT  NOT NULL,
    PRIMARY KEY (document_id, line, doc_time)
) PARTITION BY RANGE (doc_time);
CREATE INDEX doc_items_name ON doc_items (name);
CREATE TABLE doc_items_default PARTITION OF doc_items DEFAULT;

CREATE TABLE project_daily (
    register_id       BIGINT  NOT NULL,
    day               BIGINT  NOT NULL,
    point_of_sale_id  BIGINT,
    receipts          BIGINT  NOT NULL DEFAULT 0,
    sales_count       BIGINT  NOT NULL DEFAULT 0,
    refunds_count     BIGINT  NOT NULL DEFAULT 0,
    revenue           BIGINT  NOT NULL DEFAULT 0,
    refunds           BIGINT  NOT NULL DEFAULT 0,
    cash              BIGINT  NOT NULL DEFAULT 0,
    card              BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (register_id, day)
) PARTITION BY RANGE (day);
CREATE TABLE project_daily_default PARTITION OF project_daily DEFAULT;

CREATE TABLE project_hourly (
    register_id  BIGINT  NOT NULL,
    day          BIGINT  NOT NULL,
    hour         BIGINT  NOT NULL,
    receipts     BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (register_id, day, hour)
) PARTITION BY RANGE (day);
CREATE TABLE project_hourly_default PARTITION OF project_hourly DEFAULT;

CREATE TABLE project_daily_products (
    register_id  BIGINT  NOT NULL,
    day          BIGINT  NOT NULL,
    name         TEXT    NOT NULL,
    lines        BIGINT  NOT NULL DEFAULT 0,
    revenue      BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (register_id, day, name)
) PARTITION BY RANGE (day);
CREATE TABLE project_daily_products_default PARTITION OF project_daily_products DEFAULT;

-- A month partition of every read table for every month that holds existing rows (the same
-- months in every table, so retention finds them side by side).
DO $$
DECLARE
    month_start TIMESTAMP;
    suffix TEXT;
    start_s BIGINT;
    end_s BIGINT;
BEGIN
    FOR month_start IN
        SELECT date_trunc('month', to_timestamp(doc_time) AT TIME ZONE 'UTC')
        FROM doc_index_unpartitioned
        UNION
        SELECT date_trunc('month', to_timestamp(day * 86400) AT TIME ZONE 'UTC')
        FROM project_daily_unpartitioned
        UNION
        SELECT date_trunc('month', to_timestamp(day * 86400) AT TIME ZONE 'UTC')
        FROM project_hourly_unpartitioned
        UNION
        SELECT date_trunc('month', to_timestamp(day * 86400) AT TIME ZONE 'UTC')
        FROM project_daily_products_unpartitioned
    LOOP
        suffix := '_p' || to_char(month_start, 'YYYYMM');
        start_s := extract(epoch FROM month_start)::BIGINT;
        end_s := extract(epoch FROM month_start + INTERVAL '1 month')::BIGINT;
        EXECUTE format('CREATE TABLE %I PARTITION OF doc_index FOR VALUES FROM (%s) TO (%s)',
            'doc_index' || suffix, start_s, end_s);
        EXECUTE format('CREATE TABLE %I PARTITION OF doc_items FOR VALUES FROM (%s) TO (%s)',
            'doc_items' || suffix, start_s, end_s);
        EXECUTE format('CREATE TABLE %I PARTITION OF project_daily FOR VALUES FROM (%s) TO (%s)',
            'project_daily' || suffix, start_s / 86400, end_s / 86400);
        EXECUTE format('CREATE TABLE %I PARTITION OF project_hourly FOR VALUES FROM (%s) TO (%s)',
            'project_hourly' || suffix, start_s / 86400, end_s / 86400);
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF project_daily_products FOR VALUES FROM (%s) TO (%s)',
            'project_daily_products' || suffix, start_s / 86400, end_s / 86400);
    END LOOP;
END
$$;

INSERT INTO doc_index SELECT document_id, dialect, register_id, point_of_sale_id, fn_number,
        fd_number, system_id, kz_ticket, kind, form_code, shift_number, operation, doc_time,
        received_at, total, cash, card, prepaid, credit, other_payment, cashier, fiscal_sign,
        unsent_count, unsent_oldest, unsent_first, x_receipts, x_sales, x_refunds
    FROM doc_index_unpartitioned;
-- Every line has its document's doc_index row (both are written in one transaction).
INSERT INTO doc_items SELECT it.document_id, it.line, it.name, it.price, it.quantity, it.amount,
        it.vat_rate, it.vat_amount, di.doc_time
    FROM doc_items_unpartitioned it
    JOIN doc_index_unpartitioned di ON di.document_id = it.document_id;
INSERT INTO project_daily SELECT register_id, day, point_of_sale_id, receipts, sales_count,
        refunds_count, revenue, refunds, cash, card
    FROM project_daily_unpartitioned;
INSERT INTO project_hourly SELECT register_id, day, hour, receipts FROM project_hourly_unpartitioned;
INSERT INTO project_daily_products SELECT register_id, day, name, lines, revenue
    FROM project_daily_products_unpartitioned;

DROP TABLE doc_items_unpartitioned;
DROP TABLE doc_index_unpartitioned;
DROP TABLE project_daily_unpartitioned;
DROP TABLE project_hourly_unpartitioned;
DROP TABLE project_daily_products_unpartitioned;
