-- Core schema: registers, documents (with the forwarding outbox state beside each document),
-- conflicts and quarantine. Same meaning as ../sqlite/0001_core.sql; every integer is 64-bit
-- (BIGINT) so that the sqlx Any driver decodes it as i64 on both backends.

CREATE TABLE registers (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dialect     TEXT    NOT NULL CHECK (dialect IN ('ru', 'kz')),
    -- RU: the 16-digit fiscal drive (ФН) number; NULL for KZ.
    fn_number   TEXT    UNIQUE,
    -- KZ: the OFD-issued system id sent in every frame header; NULL for RU.
    system_id   BIGINT  UNIQUE,
    serial      TEXT,
    model       TEXT,
    -- Registration number given by the tax authority (РН ККТ / KGD RNM).
    reg_number  TEXT,
    org_inn     TEXT,
    status      TEXT    NOT NULL DEFAULT 'active'
                        CHECK (status IN ('active', 'blocked', 'deregistered')),
    -- KZ: the token the register must send next (a short-lived shared secret; never logged).
    kz_token    BIGINT,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

-- One row per accepted document. (dialect, doc_key) is the idempotency key:
-- RU "<fn>/<fd>", KZ "<system_id>/<ticket number or exchange id>".
CREATE TABLE documents (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dialect        TEXT    NOT NULL,
    doc_key        TEXT    NOT NULL,
    fn_number      TEXT,
    fd_number      BIGINT,
    system_id      BIGINT,
    -- RU form code (3 = receipt …) or KZ command code.
    form_code      BIGINT  NOT NULL,
    ffd_version    BIGINT,
    -- Document time as the register sent it (naive local wall clock, unix seconds).
    doc_time       BIGINT,
    -- When the server committed it (UTC, unix milliseconds).
    received_at    BIGINT  NOT NULL,
    raw            BYTEA    NOT NULL,
    json           TEXT    NOT NULL,
    -- The exact acknowledgement / response bytes sent; a resend gets these again.
    ack            BYTEA    NOT NULL,
    -- 0 when format-logical control passed, else 1; flk_errors lists the failed rules.
    flk_failed     BIGINT  NOT NULL DEFAULT 0,
    flk_errors     TEXT,
    -- 'verified', 'unverified' (crypto unit off) …
    sign_verdict   TEXT    NOT NULL DEFAULT 'unverified',
    -- 1 when accepted from a register that is not in `registers` (--accept-unregistered).
    unregistered   BIGINT  NOT NULL DEFAULT 0,
    -- Remote address the document arrived from (operator diagnostics).
    peer           TEXT,
    -- Outbox: 'pending' → 'sent' | 'rejected'. Written in the ingest transaction.
    forward_state  TEXT    NOT NULL DEFAULT 'pending'
                           CHECK (forward_state IN ('pending', 'sent', 'rejected')),
    batch_id       TEXT,
    attempts       BIGINT  NOT NULL DEFAULT 0,
    reject_reason  TEXT,
    sent_at        BIGINT,
    UNIQUE (dialect, doc_key)
);
CREATE INDEX documents_outbox ON documents (forward_state, id);
CREATE INDEX documents_fn ON documents (fn_number, fd_number);

-- A second, different document under an existing key. Never overwrites the first.
CREATE TABLE conflicts (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dialect      TEXT    NOT NULL,
    doc_key      TEXT    NOT NULL,
    received_at  BIGINT  NOT NULL,
    peer         TEXT,
    raw          BYTEA    NOT NULL
);
CREATE INDEX conflicts_key ON conflicts (dialect, doc_key);

-- Documents refused after parsing (e.g. a fiscal sign that does not verify), kept for the operator.
CREATE TABLE quarantine (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dialect      TEXT    NOT NULL,
    fn_number    TEXT,
    fd_number    BIGINT,
    reason       TEXT    NOT NULL,
    received_at  BIGINT  NOT NULL,
    peer         TEXT,
    raw          BYTEA    NOT NULL
);
