-- The forwarding state of each document moves from `documents` to `outbox`, a narrow table of
-- its own. The forwarder writes that state twice per document (the batch id at the claim, the
-- answer at the settle), and each write rewrote the whole `documents` row — raw frame, JSON and
-- ack, some 2 KB — inside the one SQLite write turn every ingest commit waits for: about 95 us
-- of the turn per document under `ofd all` (benches/README.md, issue 20, sixth round), against
-- about 17 us for the same two writes on a row of a few dozen bytes.
--
-- `documents` stays as ingest wrote it. Its row in `outbox` is made and removed by triggers, in
-- the statement that inserts or deletes the document, so no code path can store a document
-- without its outbox state or leave the state of a deleted one behind.
CREATE TABLE outbox (
    -- documents.id
    document_id    INTEGER PRIMARY KEY,
    -- documents.received_at, copied: the backlog's age and retention read it here.
    received_at    BIGINT  NOT NULL,
    -- 'pending' -> 'sent' | 'rejected'; leaves 'pending' only in the transaction that records
    -- the tax authority's answer (src/forward/outbox.rs).
    state          TEXT    NOT NULL DEFAULT 'pending'
                           CHECK (state IN ('pending', 'sent', 'rejected')),
    -- Set once, when a forwarder claims the document into a batch (forward_batches).
    batch_id       TEXT,
    attempts       BIGINT  NOT NULL DEFAULT 0,
    reject_reason  TEXT,
    sent_at        BIGINT
);

INSERT INTO outbox (document_id, received_at, state, batch_id, attempts, reject_reason, sent_at)
SELECT id, received_at, forward_state, batch_id, attempts, reject_reason, sent_at FROM documents;

-- The claim's queue and the backlog (covering: COUNT and MIN(received_at) read the index only).
CREATE INDEX outbox_pending ON outbox (document_id, received_at) WHERE state = 'pending';
-- The operator's list of rejected documents and their requeue.
CREATE INDEX outbox_rejected ON outbox (document_id) WHERE state = 'rejected';
-- A batch's documents.
CREATE INDEX outbox_batch ON outbox (batch_id) WHERE batch_id IS NOT NULL;

CREATE TRIGGER documents_outbox_insert AFTER INSERT ON documents
BEGIN
    INSERT INTO outbox (document_id, received_at) VALUES (NEW.id, NEW.received_at);
END;
CREATE TRIGGER documents_outbox_delete AFTER DELETE ON documents
BEGIN
    DELETE FROM outbox WHERE document_id = OLD.id;
END;

-- The old columns and their indexes. Dropping a column rewrites the table once on SQLite (an
-- upgrade of a large store takes a while; CHANGELOG.md).
DROP INDEX documents_outbox;
DROP INDEX documents_batch;
ALTER TABLE documents DROP COLUMN forward_state;
ALTER TABLE documents DROP COLUMN batch_id;
ALTER TABLE documents DROP COLUMN attempts;
ALTER TABLE documents DROP COLUMN reject_reason;
ALTER TABLE documents DROP COLUMN sent_at;
