-- Account service (same meaning as ../sqlite/0004_account.sql): API keys and organisations.
--
-- An API key is stored only as the hex SHA-256 of the key, so a copy of the database does not
-- hand out working keys. A key is never deleted: revoking sets revoked_at, which keeps the
-- record of who could act when. Names are unique among live keys only, so a revoked key's name
-- can be given to its replacement.

CREATE TABLE api_keys (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT    NOT NULL,
    key_hash    TEXT    NOT NULL UNIQUE,
    created_at  BIGINT  NOT NULL,
    revoked_at  BIGINT
);
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (name) WHERE revoked_at IS NULL;

-- Taxpayers that own registers (ИНН in RU, БИН/ИИН in KZ). registers.org_inn names one; the
-- link is checked by the account API, not by a foreign key, because `ofd register add` may
-- provision a register before its organisation is entered.
CREATE TABLE organisations (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    inn         TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

-- The account API lists registers by organisation and by dialect and status.
CREATE INDEX registers_org ON registers (org_inn, id);
CREATE INDEX registers_dialect_status ON registers (dialect, status, id);
