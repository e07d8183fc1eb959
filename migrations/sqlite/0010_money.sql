-- Money, wired connections and the KZ catalogue (same meaning as ../postgres/0010_money.sql).
--
-- Amounts are integers in minor units (kopecks, tiyn) with their currency; times are UTC unix
-- milliseconds. Nothing here is deleted but catalogue items: a plan is archived, an invoice is
-- cancelled, a wired-connection request is cancelled.

-- Tariff plans, managed by operator staff. trial_days: the free trial a register gets when a
-- plan is first activated on it (the reference cabinets give 5 days).
CREATE TABLE tariff_plans (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    price_minor   BIGINT  NOT NULL,
    currency      TEXT    NOT NULL,
    period_days   BIGINT  NOT NULL,
    includes      TEXT    NOT NULL DEFAULT '',
    trial_days    BIGINT  NOT NULL DEFAULT 5,
    archived      BIGINT  NOT NULL DEFAULT 0,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

-- The plan active on a register and how long it is paid for. blocked_for_nonpayment is set when
-- the tariff check blocked the register, so that a payment re-activates only those registers.
CREATE TABLE register_tariffs (
    register_id             BIGINT  PRIMARY KEY REFERENCES registers (id),
    plan_id                 BIGINT  NOT NULL REFERENCES tariff_plans (id),
    org_id                  BIGINT  NOT NULL REFERENCES organisations (id),
    activated_at            BIGINT  NOT NULL,
    paid_until              BIGINT  NOT NULL,
    blocked_for_nonpayment  BIGINT  NOT NULL DEFAULT 0,
    updated_at              BIGINT  NOT NULL
);
CREATE INDEX register_tariffs_paid_until ON register_tariffs (paid_until);
CREATE INDEX register_tariffs_org ON register_tariffs (org_id, register_id);

-- Invoices: status 'unpaid', 'paid' or 'cancelled'. Bank payments are matched by number.
CREATE TABLE invoices (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    number        TEXT    NOT NULL UNIQUE,
    org_id        BIGINT  NOT NULL REFERENCES organisations (id),
    amount_minor  BIGINT  NOT NULL,
    currency      TEXT    NOT NULL,
    due_at        BIGINT  NOT NULL,
    status        TEXT    NOT NULL DEFAULT 'unpaid',
    paid_at       BIGINT,
    payment_ref   TEXT,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);
CREATE INDEX invoices_org ON invoices (org_id, id);

-- An invoice line pays `periods` periods of a register's plan (or is a free-text charge).
CREATE TABLE invoice_lines (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    invoice_id    BIGINT  NOT NULL REFERENCES invoices (id),
    register_id   BIGINT  REFERENCES registers (id),
    plan_id       BIGINT  REFERENCES tariff_plans (id),
    description   TEXT    NOT NULL,
    periods       BIGINT  NOT NULL,
    amount_minor  BIGINT  NOT NULL
);
CREATE INDEX invoice_lines_invoice ON invoice_lines (invoice_id, id);

-- Wired-connection requests: status 'new', 'scheduled', 'done' or 'cancelled'. Dates are
-- calendar dates (YYYY-MM-DD), the window local times (HH:MM) at the address.
CREATE TABLE wired_requests (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id          BIGINT  NOT NULL REFERENCES organisations (id),
    register_id     BIGINT  REFERENCES registers (id),
    address         TEXT    NOT NULL,
    contact_person  TEXT    NOT NULL,
    phone           TEXT    NOT NULL,
    preferred_date  TEXT    NOT NULL,
    window_from     TEXT    NOT NULL,
    window_to       TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'new',
    scheduled_date  TEXT,
    note            TEXT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX wired_requests_org ON wired_requests (org_id, id);

-- An organisation's product catalogue as KZ registers read it (NOMENCLATURE). Every change
-- bumps catalogues.version in the same transaction; a register asks with the version it has.
CREATE TABLE catalogues (
    org_id      BIGINT  PRIMARY KEY REFERENCES organisations (id),
    version     BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
CREATE TABLE catalogue_items (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id       BIGINT  NOT NULL REFERENCES organisations (id),
    name         TEXT    NOT NULL,
    barcode      TEXT,
    price_minor  BIGINT  NOT NULL,
    vat_percent  BIGINT,
    section      TEXT,
    unit         TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);
CREATE INDEX catalogue_items_org ON catalogue_items (org_id, id);
CREATE UNIQUE INDEX catalogue_items_barcode ON catalogue_items (org_id, barcode)
    WHERE barcode IS NOT NULL;
