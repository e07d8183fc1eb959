-- Operator actions that change what is sent to the tax authority, for later audit. Same meaning
-- as ../postgres/0006_audit.sql.
--
-- The first: `ofd forward requeue --rejected` puts rejected documents back in the outbox. Such a
-- document leaves its old batch (documents.batch_id back to NULL) and goes out in a new one: the
-- old batch's answer refused it, so it was never accepted under that id.
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      BIGINT  NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    detail  TEXT    NOT NULL
);
