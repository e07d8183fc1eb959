-- The read models leave the documents' file for a file of their own (`<database>-read`, its
-- schema in ../sqlite-read/, src/store/read_file.rs). SQLite lets one transaction write a file
-- at a time, so while the projector wrote its batches here every ingest commit waited behind
-- them: under `ofd all` at 2,000 KZ requests/s the projector held the write turn about 40 % of
-- the time (benches/README.md, issue 20, eighth round). In a file of their own they are
-- written under that file's lock, and ingest never waits for them.
--
-- Nothing is copied: every row here is computed from the documents, and the projector, whose
-- cursors leave with these tables, projects every document again into the new file after the
-- upgrade (docs/operations.md, "Upgrade": the cabinet's search and reports fill up again at
-- the projector's rate, about 8,000-13,000 documents/s on two cores).
DROP TABLE doc_index;
DROP TABLE doc_items;
DROP TABLE project_shifts;
DROP TABLE project_daily;
DROP TABLE project_hourly;
DROP TABLE project_daily_products;
DROP TABLE drive_reports;
DROP TABLE project_cursor;

-- This file's identity, so that a read-model file knows whether it was computed from this
-- file or from another (a file restored from a backup keeps its identity; read_file.rs also
-- compares the projector's cursors with the documents here).
CREATE TABLE store_identity (
    id  TEXT  NOT NULL
);
INSERT INTO store_identity (id) VALUES (lower(hex(randomblob(16))));
