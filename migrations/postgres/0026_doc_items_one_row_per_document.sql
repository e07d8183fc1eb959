-- Why: doc_items held one row per receipt line (about seven a receipt), each with a heap tuple
-- and a key entry, and no query reads a line on its own: the receipt view reads a document's
-- lines by its key, and the search's product filter is a substring match over the names. With
-- one row per document (its lines as a JSON array, in the order of store::reports::StoredLine)
-- and the names on the document's index row (`doc_index.item_names`, one name per line), the
-- projector writes one row where it wrote seven; without any line rows it projected about twice
-- as fast on PostgreSQL (benches/README.md, eleventh round).
-- The table keeps its name, partitions and partition key, so the months made ahead and the
-- retention that drops them need no change.
ALTER TABLE doc_index ADD COLUMN item_names TEXT;
UPDATE doc_index di SET item_names = s.names
    FROM (SELECT document_id, doc_time, string_agg(name, E'\n' ORDER BY line) AS names
          FROM doc_items GROUP BY document_id, doc_time) s
    WHERE di.document_id = s.document_id AND di.doc_time = s.doc_time;

ALTER TABLE doc_items ADD COLUMN lines TEXT;
UPDATE doc_items it SET lines = s.lines
    FROM (SELECT document_id, doc_time, MIN(line) AS first_line,
                 json_agg(json_build_array(name, price, quantity, amount, vat_rate, vat_amount)
                          ORDER BY line)::text AS lines
          FROM doc_items GROUP BY document_id, doc_time) s
    WHERE it.document_id = s.document_id AND it.doc_time = s.doc_time
      AND it.line = s.first_line;
DELETE FROM doc_items WHERE lines IS NULL;
ALTER TABLE doc_items DROP CONSTRAINT doc_items_pkey;
ALTER TABLE doc_items ADD PRIMARY KEY (document_id, doc_time);
ALTER TABLE doc_items DROP COLUMN line, DROP COLUMN name, DROP COLUMN price,
    DROP COLUMN quantity, DROP COLUMN amount, DROP COLUMN vat_rate, DROP COLUMN vat_amount;
ALTER TABLE doc_items ALTER COLUMN lines SET NOT NULL;
