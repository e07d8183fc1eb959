-- As on SQLite (its 0029 says why): `documents_fn` is dropped, on every partition, and a drive's
-- newest document and report are read from `doc_index_fn`.
DROP INDEX documents_fn;
