-- Read tables partitioned by month: PostgreSQL only (../postgres/0017). SQLite keeps one table
-- each; what both backends share is doc_items.doc_time, the document's doc_index.doc_time, which
-- PostgreSQL partitions the lines by and every query that joins lines to their document
-- names (`it.doc_time = di.doc_time`), so the statements are the same on both backends.
ALTER TABLE doc_items ADD COLUMN doc_time BIGINT NOT NULL DEFAULT 0;
UPDATE doc_items SET doc_time = COALESCE(
    (SELECT di.doc_time FROM doc_index di WHERE di.document_id = doc_items.document_id), 0);
