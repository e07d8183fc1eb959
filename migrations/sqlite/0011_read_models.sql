-- Read models (same meaning as ../postgres/0011_read_models.sql): the tables the cabinet's
-- search, shifts and totals read. Only the projector (`ofd project`, src/project/) writes them,
-- after the documents committed, from the documents themselves; `ofd project --rebuild` empties
-- them and builds them again, so nothing here is evidence and every row can be recomputed.
-- Money is in minor units (kopecks / tiyn). Times named *_time / day are register-local
-- (naive) like documents.doc_time; day = local seconds / 86400.
-- point_of_sale_id is NULL until points of sale exist; the column is here so that "per point of
-- sale" is a filter and a GROUP BY, not a migration of ten million rows.

-- How far the projector got: the last documents.id it projected. Moved only in the transaction
-- that wrote that document's rows, guarded by its old value (two projectors never apply a
-- document twice).
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
    unsent_first      BIGINT
);
CREATE INDEX doc_index_register_time ON doc_index (register_id, doc_time, document_id);
CREATE INDEX doc_index_time ON doc_index (doc_time, document_id);
CREATE INDEX doc_index_fn ON doc_index (fn_number, fd_number);
CREATE INDEX doc_index_shift ON doc_index (register_id, shift_number);
CREATE INDEX doc_index_unsent ON doc_index (register_id, unsent_count);

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
    PRIMARY KEY (document_id, line)
);
CREATE INDEX doc_items_name ON doc_items (name);

-- One row per shift of a register (RU: per drive; KZ: per system id). The computed figures grow
-- with every receipt projected; the Z figures come from the close report; mismatch = 1 when the
-- close report's counters differ from what the documents add up to.
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
