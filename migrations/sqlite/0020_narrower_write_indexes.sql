-- Fewer index entries written per document on the ack path and the projector's, where the
-- SQLite writer is the bottleneck under `ofd all` (benches/README.md, issue 20, sixth round:
-- the write turn busy 92-94 % of a paced 2,000/s KZ run). Each index below held an entry for
-- every row although its queries only ever look up rows where the key is present:
-- - a KZ document has no FN number, a RU document no system id;
-- - a document gets its batch id only when the forwarder claims it, never at ingest;
-- - nothing reads doc_index by unsent_count since drive_reports (0019) keeps each drive's
--   latest figures.
-- The lookups (`fn_number = ?`, `system_id = ?`, `batch_id = ?`) imply the partial indexes'
-- conditions, so both engines still use them.
DROP INDEX documents_fn;
CREATE INDEX documents_fn ON documents (fn_number, fd_number) WHERE fn_number IS NOT NULL;
DROP INDEX documents_fn_received;
CREATE INDEX documents_fn_received ON documents (fn_number, received_at) WHERE fn_number IS NOT NULL;
DROP INDEX documents_system_received;
CREATE INDEX documents_system_received ON documents (system_id, received_at)
    WHERE system_id IS NOT NULL;
DROP INDEX documents_batch;
CREATE INDEX documents_batch ON documents (batch_id) WHERE batch_id IS NOT NULL;
DROP INDEX doc_index_fn;
CREATE INDEX doc_index_fn ON doc_index (fn_number, fd_number) WHERE fn_number IS NOT NULL;
DROP INDEX doc_index_unsent;
