-- `documents_fn_received` (FN number, arrival time) was one more index entry written for every
-- RU document, at its drive's place in the index: with a thousand registers sending, a page of
-- its own per document of a group commit, inside the one writer every acknowledgement waits
-- for. Its one reader, a register's last document time in the cabinet, now reads
-- `documents_fn` instead: a drive sends its documents in the order it numbered them, so its
-- highest-numbered document is its last (src/store/register_cabinet.rs, as alert_facts.rs
-- already did). Paced at 11,620 RU documents/s on two cores, delivery p99 went from 52-65 ms to
-- 25-27 ms without it (benches/README.md, issue 18, eighteenth session).
DROP INDEX documents_fn_received;
