-- Why: doc_items_name (a btree over every receipt line's name) served no query. The one read
-- by name is the search's product filter, `name LIKE '%…%'`, a substring match a btree cannot
-- answer; it reads a document's lines by its key. Each line the projector wrote still paid an
-- index entry: with about seven lines a document that was a sixth of the projector's time in
-- PostgreSQL (benches/README.md, tenth round). Dropping it on the partitioned table drops it on
-- every partition.
DROP INDEX IF EXISTS doc_items_name;
