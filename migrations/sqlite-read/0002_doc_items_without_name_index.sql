-- Why: as migrations/postgres/0025 — doc_items_name answered no query (the product filter is a
-- substring LIKE), and every receipt line the projector wrote paid an entry in it.
DROP INDEX IF EXISTS doc_items_name;
