-- Client alerts (same meaning as ../postgres/0012_alerts.sql): what the periodic evaluator
-- found wrong with an organisation's registers, drives, shifts or contract, each raised once
-- and followed until it clears; who wants which kinds by e-mail; the organisation's webhook;
-- and the webhook deliveries with their log.

CREATE TABLE alerts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id           BIGINT  NOT NULL REFERENCES organisations (id),
    kind             TEXT    NOT NULL,
    severity         TEXT    NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    -- The register it is about; NULL for organisation-wide alerts (tariff, invoice).
    register_id      BIGINT  REFERENCES registers (id),
    -- What makes two findings the same alert within (org, kind): e.g. 'register:12'.
    subject          TEXT    NOT NULL,
    -- The figures behind it, as JSON (hours silent, days left …), refreshed while it fires.
    detail           TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('firing', 'acknowledged', 'resolved')),
    first_seen       BIGINT  NOT NULL,
    last_seen        BIGINT  NOT NULL,
    acknowledged_by  TEXT,
    acknowledged_at  BIGINT,
    resolved_at      BIGINT
);
-- At most one open alert per finding: raised once, not once per evaluation, even with two
-- evaluators on one database.
CREATE UNIQUE INDEX alerts_open ON alerts (org_id, kind, subject) WHERE state <> 'resolved';
CREATE INDEX alerts_org ON alerts (org_id, id);

-- Per organisation: thresholds (JSON, missing keys take the defaults) and the webhook.
CREATE TABLE alert_settings (
    org_id          BIGINT  PRIMARY KEY REFERENCES organisations (id),
    thresholds      TEXT    NOT NULL DEFAULT '{}',
    webhook_url     TEXT,
    -- The HMAC-SHA256 key webhook bodies are signed with; shown once when set or rotated.
    webhook_secret  TEXT,
    -- JSON array of kinds sent to the webhook; NULL: every kind.
    webhook_kinds   TEXT,
    updated_at      BIGINT  NOT NULL
);

-- A user's choice for one kind; no row: the role's default (owners, accountants and engineers
-- get warning and critical alerts by e-mail, cashiers none).
CREATE TABLE alert_subscriptions (
    user_id  BIGINT  NOT NULL REFERENCES users (id),
    kind     TEXT    NOT NULL,
    email    BIGINT  NOT NULL,
    PRIMARY KEY (user_id, kind)
);

-- Webhook deliveries: written in the evaluator's transaction, sent by the webhook sender with
-- retries; kept afterwards as the delivery log.
CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id           BIGINT  NOT NULL REFERENCES organisations (id),
    alert_id         BIGINT  NOT NULL REFERENCES alerts (id),
    url              TEXT    NOT NULL,
    body             TEXT    NOT NULL,
    attempts         BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT  NOT NULL,
    delivered_at     BIGINT,
    -- Set once retries are given up.
    failed_at        BIGINT,
    last_status      BIGINT,
    last_error       TEXT,
    created_at       BIGINT  NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (delivered_at, failed_at, next_attempt_at);
CREATE INDEX webhook_deliveries_org ON webhook_deliveries (org_id, id);
