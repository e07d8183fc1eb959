-- As on SQLite (its 0028 says why): `documents_fn_received` is dropped, on every partition, and a
-- register's last document time reads `documents_fn`.
DROP INDEX documents_fn_received;
