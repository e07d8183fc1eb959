-- KZ dialect state (same meaning as ../sqlite/0003_kz.sql). The register's current token lives
-- in registers.kz_token; everything else the KZ exchange needs is here, one row per register,
-- rewritten in the same transaction as the document that changed it.

CREATE TABLE kz_state (
    system_id            BIGINT  PRIMARY KEY,
    -- Bumped by every committed exchange; writers check it (optimistic concurrency).
    version              BIGINT  NOT NULL,
    -- The last request that passed the token check: REQNUM, token in, command, exact response.
    last_reqnum          BIGINT,
    last_token           BIGINT,
    last_command         BIGINT,
    last_response        BYTEA,
    -- The last successful token-rotating exchange (a register repairs its token by replaying it).
    ok_reqnum            BIGINT,
    ok_token             BIGINT,
    ok_command           BIGINT,
    ok_response          BYTEA,
    -- Current shift (or the last closed one): number, open flag, server UTC ms and register-local
    -- naive seconds of the opening document.
    shift_number         BIGINT  NOT NULL DEFAULT 0,
    shift_open           BIGINT  NOT NULL DEFAULT 0,
    shift_opened_at      BIGINT,
    shift_opened_local   BIGINT,
    -- Shift counters and lifetime (non-nullable) sums as JSON, amounts in tiyn.
    shift_counters       TEXT    NOT NULL,
    lifetime             TEXT    NOT NULL,
    -- Cash in the drawer, tiyn.
    cash_tiyn            BIGINT  NOT NULL DEFAULT 0,
    -- service.offline_period of the last replayed offline document, as JSON.
    last_offline_period  TEXT,
    updated_at           BIGINT  NOT NULL
);

-- Every fiscal sign the server assigned. Primary key = global uniqueness of ticket numbers;
-- (system_id, offline_sign) maps a register's autonomous sign to the assigned number.
CREATE TABLE kz_tickets (
    ticket_number   TEXT    PRIMARY KEY,
    system_id       BIGINT  NOT NULL,
    shift_number    BIGINT  NOT NULL,
    -- Position of the document within its shift (arrival order = original order on replay).
    shift_seq       BIGINT  NOT NULL,
    offline_sign    BIGINT,
    offline_period  TEXT,
    qr_code         BYTEA    NOT NULL,
    doc_key         TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL
);
CREATE UNIQUE INDEX kz_tickets_offline_sign ON kz_tickets (system_id, offline_sign);
