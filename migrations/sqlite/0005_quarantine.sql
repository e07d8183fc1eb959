-- Quarantine keeps every frame a fiscal drive or register signed that we could not take as a
-- document: a bad fiscal sign, a document the decoder refuses, a cross-check or register
-- refusal. Same meaning as ../postgres/0005_quarantine.sql.
--
-- check_name: the check that failed (`sign`, `tlv`, `document_type`, `cross_check`, `register`,
--   `kz_body`); NULL on rows written before this migration (all of them bad fiscal signs).
-- error: the decoder's (or check's) error text, as it was at arrival.
-- session: RU: the 30-byte session header the container came in (raw stays the container, as
--   in documents.raw), so `ofd quarantine retry` replays the frame exactly.
-- system_id: KZ: the register's system id (raw is then the whole KZ frame).
-- ack: the reply sent for it, when one was sent.
-- resolved_at / doc_key: set once a retry turned it into a document.
-- retry_error: the error of the last retry that still failed.
ALTER TABLE quarantine ADD COLUMN check_name TEXT;
ALTER TABLE quarantine ADD COLUMN error TEXT;
ALTER TABLE quarantine ADD COLUMN session BLOB;
ALTER TABLE quarantine ADD COLUMN system_id BIGINT;
ALTER TABLE quarantine ADD COLUMN ack BLOB;
ALTER TABLE quarantine ADD COLUMN resolved_at BIGINT;
ALTER TABLE quarantine ADD COLUMN doc_key TEXT;
ALTER TABLE quarantine ADD COLUMN retry_error TEXT;
CREATE INDEX quarantine_open ON quarantine (resolved_at, id);
