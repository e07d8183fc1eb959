-- Fewer index entries written per document, as on SQLite (its 0020 says why it matters most
-- there). Each index below held an entry for every row although its queries only ever look up
-- rows where the key is present: a KZ document has no FN number, a RU document no system id; a
-- document gets its batch id only when the forwarder claims it; nothing reads doc_index by
-- unsent_count since drive_reports (0019). `fn_number = $1` and the like imply the conditions
-- (the operators are strict), so the planner still uses the indexes. On the partitioned tables
-- each statement reaches every partition.
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
