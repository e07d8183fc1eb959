-- Login by electronic signature, and the figures of KZ X reports (same meaning as
-- ../postgres/0016_esign_links_x_figures.sql).
--
-- esign_challenges: the challenges the service hands out to be signed, kept as hex SHA-256 of
-- the challenge, each good for a few minutes and for one use (login or linking).
-- esign_links: which user a signing certificate's identity (taxpayer id + name, as the
-- verifier reads them) logs in as; one user per identity, a user may link several.

CREATE TABLE esign_challenges (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    challenge_hash  TEXT    NOT NULL UNIQUE,
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    used_at         BIGINT
);
CREATE INDEX esign_challenges_expiry ON esign_challenges (expires_at);

CREATE TABLE esign_links (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      BIGINT  NOT NULL REFERENCES users (id),
    org_id       BIGINT  NOT NULL REFERENCES organisations (id),
    tax_id       TEXT    NOT NULL,
    signer_name  TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    UNIQUE (tax_id, signer_name)
);
CREATE INDEX esign_links_user ON esign_links (user_id, id);

-- A KZ X report's own counters (receipts, sales total, refunds total, in tiyn) as the server
-- answered it, beside the shift's computed figures on the shifts report. NULL for every other
-- kind, and for X reports projected before this migration until `ofd project --rebuild`.
ALTER TABLE doc_index ADD COLUMN x_receipts BIGINT;
ALTER TABLE doc_index ADD COLUMN x_sales BIGINT;
ALTER TABLE doc_index ADD COLUMN x_refunds BIGINT;
