-- The forwarding state of each document moves from `documents` to `outbox`, a narrow table of
-- its own, as on SQLite (its 0021 gives the figures). Here an update of `documents` was worse
-- still: every claim and every settle wrote a new version of the wide row and, the columns being
-- indexed, an entry in each of the table's indexes.
--
-- Unpartitioned, like document_keys: its rows are made and removed with the document by the
-- same triggers that keep the key (one trigger call per row, not two); when retention drops a
-- whole month of documents, the outbox rows of that month are deleted after it, by arrival
-- time, as the keys are (src/store/retention.rs).
CREATE TABLE outbox (
    document_id    BIGINT  PRIMARY KEY,
    received_at    BIGINT  NOT NULL,
    state          TEXT    NOT NULL DEFAULT 'pending'
                           CHECK (state IN ('pending', 'sent', 'rejected')),
    batch_id       TEXT,
    attempts       BIGINT  NOT NULL DEFAULT 0,
    reject_reason  TEXT,
    sent_at        BIGINT
);

INSERT INTO outbox (document_id, received_at, state, batch_id, attempts, reject_reason, sent_at)
SELECT id, received_at, forward_state, batch_id, attempts, reject_reason, sent_at FROM documents;

CREATE INDEX outbox_pending ON outbox (document_id, received_at) WHERE state = 'pending';
CREATE INDEX outbox_rejected ON outbox (document_id) WHERE state = 'rejected';
CREATE INDEX outbox_batch ON outbox (batch_id) WHERE batch_id IS NOT NULL;
-- Retention's sweep after a month is dropped.
CREATE INDEX outbox_received ON outbox (received_at);

CREATE OR REPLACE FUNCTION documents_claim_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO document_keys (dialect, doc_key, document_id, received_at)
    VALUES (NEW.dialect, NEW.doc_key, NEW.id, NEW.received_at)
    ON CONFLICT DO NOTHING;
    IF FOUND THEN
        INSERT INTO outbox (document_id, received_at) VALUES (NEW.id, NEW.received_at);
        RETURN NEW;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION documents_release_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM document_keys
    WHERE dialect = OLD.dialect AND doc_key = OLD.doc_key AND document_id = OLD.id;
    DELETE FROM outbox WHERE document_id = OLD.id;
    RETURN NULL;
END
$$;

-- The old columns; their indexes go with them.
ALTER TABLE documents DROP COLUMN forward_state;
ALTER TABLE documents DROP COLUMN batch_id;
ALTER TABLE documents DROP COLUMN attempts;
ALTER TABLE documents DROP COLUMN reject_reason;
ALTER TABLE documents DROP COLUMN sent_at;
