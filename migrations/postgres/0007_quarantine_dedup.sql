-- A register that gets no usable answer resends the same frame, sometimes thousands of times;
-- each copy used to add a quarantine row. Now one open row per distinct frame: the same bytes
-- again only count up on it. Same meaning as ../sqlite/0007_quarantine_dedup.sql.
--
-- raw_sha256: hex SHA-256 of raw; NULL on rows written before this migration (never merged).
-- times_seen: how many times these bytes arrived while the row was open.
-- last_seen_at: arrival time (unix ms) of the latest copy.
ALTER TABLE quarantine ADD COLUMN raw_sha256 TEXT;
ALTER TABLE quarantine ADD COLUMN times_seen BIGINT NOT NULL DEFAULT 1;
ALTER TABLE quarantine ADD COLUMN last_seen_at BIGINT;
CREATE UNIQUE INDEX quarantine_open_raw ON quarantine (dialect, raw_sha256)
    WHERE resolved_at IS NULL;
