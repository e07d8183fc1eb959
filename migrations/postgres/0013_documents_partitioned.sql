-- Documents partitioned by month of arrival (PostgreSQL only; ../sqlite/0013 keeps one table).
--
-- Why: five years of documents at a national operator's rate are hundreds of billions of rows;
-- retention then drops a whole confirmed month instead of deleting rows one by one (bloat,
-- vacuum), and queries that name a time range read only its months (docs/scaling.md §4).
--
-- The partition key, received_at (server time, UTC ms), must be in every unique constraint of a
-- partitioned table, so the idempotency key (dialect, doc_key) -- what gives a resend its stored
-- ack on any node, and what tells a conflict from a resend -- can no longer be the documents
-- table's own UNIQUE. It moves to document_keys, a small unpartitioned table filled by a BEFORE
-- INSERT trigger in the inserting transaction: a key already present (or being inserted by a
-- transaction not yet committed, which the trigger waits for, exactly as ON CONFLICT did) makes
-- the trigger skip the document row, so `INSERT … ON CONFLICT DO NOTHING RETURNING` behaves as
-- before: the row is not inserted and not returned. Deleting a document deletes its key; dropping
-- a partition deletes its keys explicitly (src/store/retention.rs).
--
-- Partitions: documents_default takes any row no month partition covers (nothing is ever refused
-- for its date); the server makes the current and the next months ahead
-- (src/store/partitions.rs), named documents_pYYYYMM, bounds [first ms of the month, first ms of
-- the next) in UTC. This migration makes the months the existing rows fall in, then copies them
-- with their ids.

ALTER TABLE documents RENAME TO documents_unpartitioned;
ALTER TABLE documents_unpartitioned RENAME CONSTRAINT documents_pkey TO documents_unpartitioned_pkey;
ALTER TABLE documents_unpartitioned
    RENAME CONSTRAINT documents_dialect_doc_key_key TO documents_unpartitioned_key;
DROP INDEX documents_outbox;
DROP INDEX documents_fn;
DROP INDEX documents_batch;
DROP INDEX documents_fn_received;
DROP INDEX documents_system_received;

-- Same columns, same meaning as 0001_core.sql.
CREATE TABLE documents (
    id             BIGINT GENERATED ALWAYS AS IDENTITY,
    dialect        TEXT    NOT NULL,
    doc_key        TEXT    NOT NULL,
    fn_number      TEXT,
    fd_number      BIGINT,
    system_id      BIGINT,
    form_code      BIGINT  NOT NULL,
    ffd_version    BIGINT,
    doc_time       BIGINT,
    received_at    BIGINT  NOT NULL,
    raw            BYTEA    NOT NULL,
    json           TEXT    NOT NULL,
    ack            BYTEA    NOT NULL,
    flk_failed     BIGINT  NOT NULL DEFAULT 0,
    flk_errors     TEXT,
    sign_verdict   TEXT    NOT NULL DEFAULT 'unverified',
    unregistered   BIGINT  NOT NULL DEFAULT 0,
    peer           TEXT,
    forward_state  TEXT    NOT NULL DEFAULT 'pending'
                           CHECK (forward_state IN ('pending', 'sent', 'rejected')),
    batch_id       TEXT,
    attempts       BIGINT  NOT NULL DEFAULT 0,
    reject_reason  TEXT,
    sent_at        BIGINT,
    PRIMARY KEY (id, received_at)
) PARTITION BY RANGE (received_at);
CREATE INDEX documents_outbox ON documents (forward_state, id);
CREATE INDEX documents_fn ON documents (fn_number, fd_number);
CREATE INDEX documents_batch ON documents (batch_id);
CREATE INDEX documents_fn_received ON documents (fn_number, received_at);
CREATE INDEX documents_system_received ON documents (system_id, received_at);
CREATE TABLE documents_default PARTITION OF documents DEFAULT;

-- The idempotency key: one row per document, unpartitioned.
CREATE TABLE document_keys (
    dialect      TEXT    NOT NULL,
    doc_key      TEXT    NOT NULL,
    document_id  BIGINT  NOT NULL,
    received_at  BIGINT  NOT NULL,
    PRIMARY KEY (dialect, doc_key)
);
CREATE INDEX document_keys_received ON document_keys (received_at);

CREATE FUNCTION documents_claim_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO document_keys (dialect, doc_key, document_id, received_at)
    VALUES (NEW.dialect, NEW.doc_key, NEW.id, NEW.received_at)
    ON CONFLICT DO NOTHING;
    IF FOUND THEN
        RETURN NEW;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER documents_claim_key BEFORE INSERT ON documents
    FOR EACH ROW EXECUTE FUNCTION documents_claim_key();

CREATE FUNCTION documents_release_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM document_keys
    WHERE dialect = OLD.dialect AND doc_key = OLD.doc_key AND document_id = OLD.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER documents_release_key AFTER DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION documents_release_key();

-- A month partition for every month that holds existing rows.
DO $$
DECLARE
    month_start TIMESTAMP;
BEGIN
    FOR month_start IN
        SELECT DISTINCT date_trunc('month', to_timestamp(received_at / 1000.0) AT TIME ZONE 'UTC')
        FROM documents_unpartitioned
    LOOP
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF documents FOR VALUES FROM (%s) TO (%s)',
            'documents_p' || to_char(month_start, 'YYYYMM'),
            (extract(epoch FROM month_start) * 1000)::BIGINT,
            (extract(epoch FROM month_start + INTERVAL '1 month') * 1000)::BIGINT
        );
    END LOOP;
END
$$;

INSERT INTO documents (id, dialect, doc_key, fn_number, fd_number, system_id, form_code,
        ffd_version, doc_time, received_at, raw, json, ack, flk_failed, flk_errors,
        sign_verdict, unregistered, peer, forward_state, batch_id, attempts, reject_reason,
        sent_at)
    OVERRIDING SYSTEM VALUE
    SELECT id, dialect, doc_key, fn_number, fd_number, system_id, form_code, ffd_version,
        doc_time, received_at, raw, json, ack, flk_failed, flk_errors, sign_verdict,
        unregistered, peer, forward_state, batch_id, attempts, reject_reason, sent_at
    FROM documents_unpartitioned;

-- New ids continue after the copied ones (the old table's identity goes with it).
SELECT setval(pg_get_serial_sequence('documents', 'id'),
              COALESCE((SELECT MAX(id) FROM documents_unpartitioned), 0) + 1, false);

DROP TABLE documents_unpartitioned;
