-- Why: a period's figures read the daily rows for the day chart, the hourly rows for the
-- receipts-per-hour chart and the daily product rows for the top products. At ten million
-- documents, a month for an organisation of 100 registers read 3,000 daily rows but about
-- 36,000 hourly ones and 24,000 product ones, each statement scanning its months' partitions of
-- every register: p99 149-203 ms on this project's 2-core machine against issue 14's 100 ms
-- (benches/README.md, eleventh round). Now:
-- - a day's receipts per hour of day are 24 columns of its project_daily row (h00 .. h23), so
--   the day chart and the hour chart are one statement over the same 3,000 rows, and the
--   projector writes one row per register and day where it wrote one per hour as well;
-- - project_monthly_products holds each register's month of product sales (month_day: the
--   first day of the month, days since 1970-01-01), written with the daily product rows from
--   the same deltas; a period is read as whole months and at most half a month of days at each
--   edge, added or taken off (src/store/period_pieces.rs).
-- Partitioned by month like the other read tables (0017): month_day falls in the month it
-- starts, so a month partition holds that month's rows and retention drops it with the others.

ALTER TABLE project_daily
    ADD COLUMN h00 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN h01 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN h02 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN h03 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN h04 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN h05 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN h06 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN h07 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN h08 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN h09 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN h10 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN h11 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN h12 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN h13 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN h14 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN h15 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN h16 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN h17 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN h18 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN h19 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN h20 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN h21 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN h22 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN h23 BIGINT NOT NULL DEFAULT 0;
UPDATE project_daily d SET
       h00 = s.h00,
       h01 = s.h01,
       h02 = s.h02,
       h03 = s.h03,
       h04 = s.h04,
       h05 = s.h05,
       h06 = s.h06,
       h07 = s.h07,
       h08 = s.h08,
       h09 = s.h09,
       h10 = s.h10,
       h11 = s.h11,
       h12 = s.h12,
       h13 = s.h13,
       h14 = s.h14,
       h15 = s.h15,
       h16 = s.h16,
       h17 = s.h17,
       h18 = s.h18,
       h19 = s.h19,
       h20 = s.h20,
       h21 = s.h21,
       h22 = s.h22,
       h23 = s.h23
    FROM (SELECT register_id, day,
           COALESCE(SUM(receipts) FILTER (WHERE hour = 0), 0) AS h00,
           COALESCE(SUM(receipts) FILTER (WHERE hour = 1), 0) AS h01,
           COALESCE(SUM(receipts) FILTER (WHERE hour = 2), 0) AS h02,
           COALESCE(SUM(receipts) FILTER (WHERE hour = 3), 0) AS h03,
           COALESCE(SUM(receipts) FILTER (WHERE hour = 4), 0) AS h04,
           COALESCE(SUM(receipts) FILTER (WHERE hour = 5), 0) AS h05,
           COALESCE(SUM(receipts) FILTER (WHERE hour = 6), 0) AS h06,
           COALESCE(SUM(receipts) FILTER (WHERE hour = 7), 0) AS h07,
           COALESCE(SUM(receipts) FILTER (WHERE hour = 8), 0) AS h08,
           COALESCE(SUM(receipts) FILTER (WHERE hour = 9), 0) AS h09,
           COALESCE(SUM(receipts) FILTER (WHERE hour = 10), 0) AS h10,
           COALESCE(SUM(receipts) FILTER (WHERE hour = 11), 0) AS h11,
           COALESCE(SUM(receipts) FILTER (WHERE hour = 12), 0) AS h12,
           COALESCE(SUM(receipts) FILTER (WHERE hour = 13), 0) AS h13,
           COALESCE(SUM(receipts) FILTER (WHERE hour = 14), 0) AS h14,
           COALESCE(SUM(receipts) FILTER (WHERE hour = 15), 0) AS h15,
           COALESCE(SUM(receipts) FILTER (WHERE hour = 16), 0) AS h16,
           COALESCE(SUM(receipts) FILTER (WHERE hour = 17), 0) AS h17,
           COALESCE(SUM(receipts) FILTER (WHERE hour = 18), 0) AS h18,
           COALESCE(SUM(receipts) FILTER (WHERE hour = 19), 0) AS h19,
           COALESCE(SUM(receipts) FILTER (WHERE hour = 20), 0) AS h20,
           COALESCE(SUM(receipts) FILTER (WHERE hour = 21), 0) AS h21,
           COALESCE(SUM(receipts) FILTER (WHERE hour = 22), 0) AS h22,
           COALESCE(SUM(receipts) FILTER (WHERE hour = 23), 0) AS h23
          FROM project_hourly GROUP BY register_id, day) s
    WHERE d.register_id = s.register_id AND d.day = s.day;
DROP TABLE project_hourly;

CREATE TABLE project_monthly_products (
    register_id  BIGINT  NOT NULL,
    month_day    BIGINT  NOT NULL,
    name         TEXT    NOT NULL,
    lines        BIGINT  NOT NULL DEFAULT 0,
    revenue      BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (register_id, month_day, name)
) PARTITION BY RANGE (month_day);

-- The same months as project_daily_products, with the same bounds (its default partition too).
DO $$
DECLARE
    part RECORD;
BEGIN
    FOR part IN
        SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'project_daily_products'::regclass
    LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF project_monthly_products %s',
                       replace(part.name, 'project_daily_products', 'project_monthly_products'),
                       part.bound);
    END LOOP;
END $$;

INSERT INTO project_monthly_products (register_id, month_day, name, lines, revenue)
    SELECT register_id,
           CAST(EXTRACT(EPOCH FROM date_trunc('month', to_timestamp(day * 86400) AT TIME ZONE 'UTC'))
                AS BIGINT) / 86400,
           name, SUM(lines), SUM(revenue)
    FROM project_daily_products
    GROUP BY 1, 2, 3;
