-- The outbox rows of a multi-row insert in one statement instead of one per document.
--
-- 0021 made each document's outbox row inside the per-row key trigger: a second INSERT run by
-- PL/pgSQL for every document. Measured on two cores (`ofd serve`, RU closed loop, three runs
-- each, CPU of the whole machine per document: ofd, the emulator and PostgreSQL), that per-row
-- insert cost 352-369 us per document against 311-339 without it; an AFTER INSERT trigger per
-- statement that reads the statement's new rows (a transition table) and inserts all their
-- outbox rows at once cost 295-351 us. Ingest's bulk insert writes up to 64 documents per
-- statement, so one call replaces up to 64.
--
-- The rows the key trigger skips (a key already stored: BEFORE INSERT returned NULL) are not in
-- the transition table, so they get no outbox row, as before. The delete side stays per row
-- (retention's deletes, off the ack path). SQLite keeps its row trigger: there a trigger is part
-- of the statement's own program, not a call into another language.
CREATE OR REPLACE FUNCTION documents_claim_key() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE FUNCTION documents_queue_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox (document_id, received_at) SELECT id, received_at FROM inserted;
    RETURN NULL;
END
$$;

CREATE TRIGGER documents_queue_outbox AFTER INSERT ON documents
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION documents_queue_outbox();
