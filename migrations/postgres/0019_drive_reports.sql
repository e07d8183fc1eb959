-- What each RU fiscal drive said last about its unsent documents (tags 1097 count, 1098 oldest,
-- 1116 first number), one row per drive, kept by the projector beside doc_index. The cabinet's
-- unsent view and home page read this instead of looking for each drive's latest report among
-- all of doc_index: that search visited every shift report of every drive of the organisation
-- and, for each, every document of its drive (111 s for 100 registers and a year on SQLite).
CREATE TABLE drive_reports (
    fn_number     TEXT    PRIMARY KEY,
    register_id   BIGINT,
    -- The report the figures come from; a later report (higher id) replaces them.
    document_id   BIGINT  NOT NULL,
    doc_time      BIGINT,
    unsent_count  BIGINT  NOT NULL,
    unsent_oldest BIGINT,
    unsent_first  BIGINT
);
CREATE INDEX drive_reports_register ON drive_reports (register_id);

-- Filled from what the projector already wrote: each drive's latest report.
INSERT INTO drive_reports (fn_number, register_id, document_id, doc_time, unsent_count,
                           unsent_oldest, unsent_first)
SELECT DISTINCT ON (fn_number) fn_number, register_id, document_id, doc_time, unsent_count,
       unsent_oldest, unsent_first
FROM doc_index
WHERE dialect = 'ru' AND fn_number IS NOT NULL AND unsent_count IS NOT NULL
ORDER BY fn_number, document_id DESC;
