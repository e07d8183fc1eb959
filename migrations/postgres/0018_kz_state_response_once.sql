-- The cached response of a KZ register's last exchange is stored once (same meaning as
-- ../sqlite/0018_kz_state_response_once.sql). After a token-rotating exchange the last
-- exchange is also the last successful one, and `ok_response` held the same bytes as
-- `last_response`. From this version on, `ok_response` IS NULL beside a set `ok_reqnum` means
-- "the same bytes as `last_response`" (src/ingest/kz/commit.rs, load_state); a release that
-- predates it would read such a row as having no last successful exchange, so the schema
-- version moves and an older release refuses to start on it. Rows written before are shrunk to
-- that form here.
UPDATE kz_state SET ok_response = NULL
WHERE ok_response IS NOT NULL
  AND ok_reqnum = last_reqnum AND ok_token = last_token AND ok_command = last_command
  AND ok_response = last_response;
