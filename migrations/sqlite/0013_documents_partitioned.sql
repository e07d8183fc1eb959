-- Documents partitioned by month of arrival: PostgreSQL only (../postgres/0013). SQLite keeps one
-- documents table with its UNIQUE (dialect, doc_key) and retention's bounded batch deletes; this
-- file keeps the migration numbers of both backends in step.
SELECT 1;
