-- Why: as migrations/postgres/0026 — one doc_items row per document (its lines as a JSON array
-- in the order of store::reports::StoredLine) instead of one per receipt line, and the names on
-- the document's index row for the search's product filter.
ALTER TABLE doc_index ADD COLUMN item_names TEXT;
UPDATE doc_index SET item_names = (
    SELECT group_concat(name, char(10)) FROM (
        SELECT name FROM doc_items it WHERE it.document_id = doc_index.document_id ORDER BY line));

CREATE TABLE doc_items_by_document (
    document_id  BIGINT  NOT NULL PRIMARY KEY,
    -- The document's doc_index.doc_time (the partition key on PostgreSQL).
    doc_time     BIGINT  NOT NULL DEFAULT 0,
    -- JSON: [[name, price, quantity, amount, vat_rate, vat_amount], ...] in line order.
    lines        TEXT    NOT NULL
);
INSERT INTO doc_items_by_document (document_id, doc_time, lines)
    SELECT d.document_id, d.doc_time, (
        SELECT json_group_array(json_array(name, price, quantity, amount, vat_rate, vat_amount))
        FROM (SELECT * FROM doc_items it WHERE it.document_id = d.document_id ORDER BY line))
    FROM (SELECT document_id, MAX(doc_time) AS doc_time FROM doc_items GROUP BY document_id) d;
DROP TABLE doc_items;
ALTER TABLE doc_items_by_document RENAME TO doc_items;
