-- `kz_tickets_offline_sign` maps a register's autonomous (offline) sign to the number the OFD
-- gave it, and keeps that pair unique. It held an entry for every ticket, `(system id, NULL)` for
-- each one sent online — most of them — although only rows with an offline sign are ever looked
-- up (`offline_sign = ?` implies the condition, so both engines still use the index) and NULLs
-- were never unique anyway. Under load each entry was one more page of the index written per KZ
-- ticket, at the register's place in it (benches/README.md, issue 20, sixth round: 6-7 pages of
-- each group commit). The register's last ticket time, which read this index by system id, now
-- comes from `documents_system_received` (src/store/alert_facts.rs).
DROP INDEX kz_tickets_offline_sign;
CREATE UNIQUE INDEX kz_tickets_offline_sign ON kz_tickets (system_id, offline_sign)
    WHERE offline_sign IS NOT NULL;
