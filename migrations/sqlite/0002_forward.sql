-- Forwarder state: batches (the idempotency keys sent to the tax authority) and lease rows.
-- Same meaning on SQLite and PostgreSQL; every integer is BIGINT.
--
-- A document belongs to at most one batch for ever: documents.batch_id is set once, when a
-- forwarder claims the document, and a batch is resent with the same id and the same documents
-- until the tax authority answers. documents.forward_state turns 'sent' / 'rejected' only in the
-- transaction that records that answer.

CREATE TABLE forward_batches (
    batch_id     TEXT    PRIMARY KEY,
    -- 'open' (claimed, not yet answered) → 'done' (answered; documents updated).
    state        TEXT    NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'done')),
    created_at   BIGINT  NOT NULL,
    -- The forwarder instance working on the batch and until when its claim holds (unix ms); an
    -- open batch whose lease ran out may be taken over and resent under the same id.
    owner        TEXT    NOT NULL,
    lease_until  BIGINT  NOT NULL,
    documents    BIGINT  NOT NULL DEFAULT 0,
    attempts     BIGINT  NOT NULL DEFAULT 0,
    last_error   TEXT,
    sent_at      BIGINT,
    -- The tax authority's answer, as received.
    reply        TEXT
);
CREATE INDEX forward_batches_open ON forward_batches (state, lease_until);
CREATE INDEX documents_batch ON documents (batch_id);

-- Named leases. On SQLite one row ('forwarder') makes a single forwarder process the writer;
-- others wait until its lease expires.
CREATE TABLE forward_leases (
    name        TEXT    PRIMARY KEY,
    owner       TEXT    NOT NULL,
    expires_at  BIGINT  NOT NULL
);
