-- The read models in a SQLite file of their own (`<database>-read`, src/store/read_file.rs):
-- the tables main's migrations 0011, 0016, 0017, 0019 and 0020 built in the documents' file,
-- at their shape after 0020, which main's 0024 drops there. Same meaning as
-- ../postgres/0011_read_models.sql; only the projector (src/project/) writes them, from the
-- documents, and every row can be recomputed (`ofd project --rebuild`).
--
-- This file has its own migrations and numbering: its connections attach the documents' file,
-- but nothing here may refer to a table there (a read file is made empty beside any store).

-- Which documents' file these rows were computed from (`store_identity.id` there), and so
-- whether they still describe it (src/store/read_file.rs, `prepare`).
CREATE TABLE read_source (
    store_id  TEXT  NOT NULL
);

-- How far the projector got, per shard: the last documents.id it projected. Moved only in the
-- transaction that wrote that document's rows.
CREATE TABLE project_cursor (
    name        TEXT    PRIMARY KEY,
    last_id     BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

-- One row per projected document, both dialects in one model.
CREATE TABLE doc_index (
    document_id       BIGINT  PRIMARY KEY,
    dialect           TEXT    NOT NULL,
    register_id       BIGINT,
    point_of_sale_id  BIGINT,
    fn_number         TEXT,
    fd_number         BIGINT,
    system_id         BIGINT,
    -- KZ: the fiscal sign (ticket number) the server assigned.
    kz_ticket         TEXT,
    kind              TEXT    NOT NULL,
    form_code         BIGINT  NOT NULL,
    shift_number      BIGINT,
    -- sale, refund, expense, expense_refund; NULL for reports.
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
    -- RU drive's own view of what it has not sent (tags 1097, 1098, 1116).
    unsent_count      BIGINT,
    unsent_oldest     BIGINT,
    unsent_first      BIGINT,
    -- An X report's own counters (KZ X reports are stored as events).
    x_receipts        BIGINT,
    x_sales           BIGINT,
    x_refunds         BIGINT
);
CREATE INDEX doc_index_register_time ON doc_index (register_id, doc_time, document_id);
CREATE INDEX doc_index_time ON doc_index (doc_time, document_id);
CREATE INDEX doc_index_shift ON doc_index (register_id, shift_number);
CREATE INDEX doc_index_fn ON doc_index (fn_number, fd_number) WHERE fn_number IS NOT NULL;

-- Receipt lines.
CREATE TABLE doc_items (
    document_id  BIGINT  NOT NULL,
    line         BIGINT  NOT NULL,
    name         TEXT    NOT NULL,
    price        BIGINT  NOT NULL,
    -- Exact decimal as printed ("1", "0.750").
    quantity     TEXT    NOT NULL,
    amount       BIGINT  NOT NULL,
    vat_rate     TEXT,
    vat_amount   BIGINT,
    doc_time     BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (document_id, line)
);
CREATE INDEX doc_items_name ON doc_items (name);

-- One row per shift of a register (RU: per drive; KZ: per system id); the Z figures come from
-- the close report; mismatch = 1 when they differ from what the documents add up to.
CREATE TABLE project_shifts (
    source            TEXT    NOT NULL,
    shift_number      BIGINT  NOT NULL,
    register_id       BIGINT,
    point_of_sale_id  BIGINT,
    opened_time       BIGINT,
    closed_time       BIGINT,
    receipts          BIGINT  NOT NULL DEFAULT 0,
    sales             BIGINT  NOT NULL DEFAULT 0,
    sales_cash        BIGINT  NOT NULL DEFAULT 0,
    sales_card        BIGINT  NOT NULL DEFAULT 0,
    refunds           BIGINT  NOT NULL DEFAULT 0,
    refunds_cash      BIGINT  NOT NULL DEFAULT 0,
    refunds_card      BIGINT  NOT NULL DEFAULT 0,
    expenses          BIGINT  NOT NULL DEFAULT 0,
    expense_refunds   BIGINT  NOT NULL DEFAULT 0,
    z_receipts        BIGINT,
    z_sales           BIGINT,
    z_refunds         BIGINT,
    mismatch          BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (source, shift_number)
);
CREATE INDEX project_shifts_register ON project_shifts (register_id, opened_time);

-- Per register and local day; hourly receipt counts; per product.
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
);
CREATE TABLE project_hourly (
    register_id  BIGINT  NOT NULL,
    day          BIGINT  NOT NULL,
    hour         BIGINT  NOT NULL,
    receipts     BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (register_id, day, hour)
);
CREATE TABLE project_daily_products (
    register_id  BIGINT  NOT NULL,
    day          BIGINT  NOT NULL,
    name         TEXT    NOT NULL,
    lines        BIGINT  NOT NULL DEFAULT 0,
    revenue      BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (register_id, day, name)
);

-- What each RU fiscal drive said last about its unsent documents (tags 1097, 1098, 1116).
CREATE TABLE drive_reports (
    fn_number     TEXT    PRIMARY KEY,
    register_id   BIGINT,
    -- The report the figures come from; a later report (higher id) replaces them.
    document_id   BIGINT  NOT NULL,
    doc_time      BIGINT,
    unsent_count  BIGINT  NOT NULL,
    unsent_oldest BIGINT,
    unsent_first  BIGINT
);
CREATE INDEX drive_reports_register ON drive_reports (register_id);
