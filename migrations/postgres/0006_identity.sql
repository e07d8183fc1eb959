-- Cabinet identity (same meaning as ../sqlite/0005_identity.sql): organisations' requisites,
-- users with one role in one organisation, server-side sessions, one-time tokens (e-mail
-- confirmation, password recovery, invitations), login failures for the attempt limits, the
-- audit log, the outgoing mail outbox, and API keys scoped to an organisation and a role.
--
-- Secrets are never stored: sessions, one-time tokens and API keys are kept as hex SHA-256 of
-- the value handed out, passwords as argon2id PHC strings. Keys made before this migration have
-- no organisation: they are operator keys (kind 'operator'), as they always acted on everything.

ALTER TABLE organisations ADD COLUMN country TEXT NOT NULL DEFAULT 'ru';
ALTER TABLE organisations ADD COLUMN kpp TEXT;
ALTER TABLE organisations ADD COLUMN short_name TEXT;
ALTER TABLE organisations ADD COLUMN org_type TEXT;
ALTER TABLE organisations ADD COLUMN legal_address TEXT;
ALTER TABLE organisations ADD COLUMN actual_address TEXT;
ALTER TABLE organisations ADD COLUMN phone TEXT;
ALTER TABLE organisations ADD COLUMN email TEXT;
ALTER TABLE organisations ADD COLUMN bank_name TEXT;
ALTER TABLE organisations ADD COLUMN bank_bik TEXT;
ALTER TABLE organisations ADD COLUMN bank_account TEXT;

-- API keys: 'operator' keys (no organisation) act on every organisation; 'organisation' keys
-- carry the organisation and the role they act with.
ALTER TABLE api_keys ADD COLUMN kind TEXT NOT NULL DEFAULT 'operator';
ALTER TABLE api_keys ADD COLUMN org_id BIGINT REFERENCES organisations (id);
ALTER TABLE api_keys ADD COLUMN role TEXT;
ALTER TABLE api_keys ADD COLUMN last_used_at BIGINT;
DROP INDEX api_keys_live_name;
CREATE UNIQUE INDEX api_keys_live_name_per_org ON api_keys (COALESCE(org_id, 0), name)
    WHERE revoked_at IS NULL;
CREATE INDEX api_keys_org ON api_keys (org_id, id);

CREATE TABLE users (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id         BIGINT  NOT NULL REFERENCES organisations (id),
    -- Lowercased; one account per address across the service.
    email          TEXT    NOT NULL UNIQUE,
    -- Digits only with the country code (e.g. 79991234567).
    phone          TEXT    UNIQUE,
    name           TEXT    NOT NULL DEFAULT '',
    role           TEXT    NOT NULL CHECK (role IN ('owner', 'accountant', 'engineer', 'cashier')),
    -- unconfirmed (signed up, e-mail not confirmed) | invited (no password yet) | active | disabled
    status         TEXT    NOT NULL
                           CHECK (status IN ('unconfirmed', 'invited', 'active', 'disabled')),
    password_hash  TEXT,
    -- When the person consented to the processing of personal data (sign-up).
    consent_at     BIGINT,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL
);
CREATE INDEX users_org ON users (org_id, id);

CREATE TABLE sessions (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash    TEXT    NOT NULL UNIQUE,
    user_id       BIGINT  NOT NULL REFERENCES users (id),
    created_at    BIGINT  NOT NULL,
    expires_at    BIGINT  NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE one_time_tokens (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash    TEXT    NOT NULL UNIQUE,
    purpose       TEXT    NOT NULL CHECK (purpose IN ('confirm', 'reset', 'invite')),
    user_id       BIGINT  NOT NULL REFERENCES users (id),
    created_at    BIGINT  NOT NULL,
    expires_at    BIGINT  NOT NULL,
    used_at       BIGINT
);

-- One row per failed login, by subject 'user:<id>' or 'addr:<ip>'; counted over a window.
CREATE TABLE login_failures (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject   TEXT    NOT NULL,
    at        BIGINT  NOT NULL
);
CREATE INDEX login_failures_subject ON login_failures (subject, at);

-- Who did what to which object. org_id is the organisation acted on (NULL: none, e.g. an
-- operator's own key listing); actor is 'user:<id>', 'key:<id>', 'operator-key:<id>' or
-- 'anonymous'.
CREATE TABLE audit_log (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id    BIGINT,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    object    TEXT,
    detail    TEXT,
    source    TEXT,
    at        BIGINT  NOT NULL
);
CREATE INDEX audit_log_org ON audit_log (org_id, id);

-- Outgoing e-mail, written in the transaction of the change that causes it and sent by SMTP
-- when the service has an SMTP URL. The body is blanked once sent: it may carry a one-time link.
CREATE TABLE mail_outbox (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient        TEXT    NOT NULL,
    subject          TEXT    NOT NULL,
    body             TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL,
    attempts         BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT  NOT NULL,
    sent_at          BIGINT,
    last_error       TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox (sent_at, next_attempt_at);
