-- Why: as migrations/postgres/0027 — a day's receipts per hour of day as 24 columns of its
-- project_daily row instead of project_hourly, and each register's month of product sales in
-- project_monthly_products (month_day: the month's first day, days since 1970-01-01), so a
-- period's figures read whole months and at most half a month of days at each edge
-- (src/store/period_pieces.rs).
ALTER TABLE project_daily ADD COLUMN h00 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE project_daily ADD COLUMN h01 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE project_daily ADD COLUMN h02 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE project_daily ADD COLUMN h03 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE project_daily ADD COLUMN h04 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE project_daily ADD COLUMN h05 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE project_daily ADD COLUMN h06 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE project_daily ADD COLUMN h07 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE project_daily ADD COLUMN h08 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE project_daily ADD COLUMN h09 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE project_daily ADD COLUMN h10 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE project_daily ADD COLUMN h11 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE project_daily ADD COLUMN h12 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE project_daily ADD COLUMN h13 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE project_daily ADD COLUMN h14 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE project_daily ADD COLUMN h15 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE project_daily ADD COLUMN h16 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE project_daily ADD COLUMN h17 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE project_daily ADD COLUMN h18 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE project_daily ADD COLUMN h19 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE project_daily ADD COLUMN h20 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE project_daily ADD COLUMN h21 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE project_daily ADD COLUMN h22 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE project_daily ADD COLUMN h23 BIGINT NOT NULL DEFAULT 0;
UPDATE project_daily SET
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
           SUM(CASE WHEN hour = 0 THEN receipts ELSE 0 END) AS h00,
           SUM(CASE WHEN hour = 1 THEN receipts ELSE 0 END) AS h01,
           SUM(CASE WHEN hour = 2 THEN receipts ELSE 0 END) AS h02,
           SUM(CASE WHEN hour = 3 THEN receipts ELSE 0 END) AS h03,
           SUM(CASE WHEN hour = 4 THEN receipts ELSE 0 END) AS h04,
           SUM(CASE WHEN hour = 5 THEN receipts ELSE 0 END) AS h05,
           SUM(CASE WHEN hour = 6 THEN receipts ELSE 0 END) AS h06,
           SUM(CASE WHEN hour = 7 THEN receipts ELSE 0 END) AS h07,
           SUM(CASE WHEN hour = 8 THEN receipts ELSE 0 END) AS h08,
           SUM(CASE WHEN hour = 9 THEN receipts ELSE 0 END) AS h09,
           SUM(CASE WHEN hour = 10 THEN receipts ELSE 0 END) AS h10,
           SUM(CASE WHEN hour = 11 THEN receipts ELSE 0 END) AS h11,
           SUM(CASE WHEN hour = 12 THEN receipts ELSE 0 END) AS h12,
           SUM(CASE WHEN hour = 13 THEN receipts ELSE 0 END) AS h13,
           SUM(CASE WHEN hour = 14 THEN receipts ELSE 0 END) AS h14,
           SUM(CASE WHEN hour = 15 THEN receipts ELSE 0 END) AS h15,
           SUM(CASE WHEN hour = 16 THEN receipts ELSE 0 END) AS h16,
           SUM(CASE WHEN hour = 17 THEN receipts ELSE 0 END) AS h17,
           SUM(CASE WHEN hour = 18 THEN receipts ELSE 0 END) AS h18,
           SUM(CASE WHEN hour = 19 THEN receipts ELSE 0 END) AS h19,
           SUM(CASE WHEN hour = 20 THEN receipts ELSE 0 END) AS h20,
           SUM(CASE WHEN hour = 21 THEN receipts ELSE 0 END) AS h21,
           SUM(CASE WHEN hour = 22 THEN receipts ELSE 0 END) AS h22,
           SUM(CASE WHEN hour = 23 THEN receipts ELSE 0 END) AS h23
          FROM project_hourly GROUP BY register_id, day) s
    WHERE project_daily.register_id = s.register_id AND project_daily.day = s.day;
DROP TABLE project_hourly;

CREATE TABLE project_monthly_products (
    register_id  BIGINT  NOT NULL,
    month_day    BIGINT  NOT NULL,
    name         TEXT    NOT NULL,
    lines        BIGINT  NOT NULL DEFAULT 0,
    revenue      BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (register_id, month_day, name)
);
INSERT INTO project_monthly_products (register_id, month_day, name, lines, revenue)
    SELECT register_id,
           CAST(strftime('%s', date(day * 86400, 'unixepoch', 'start of month')) AS INTEGER) / 86400,
           name, SUM(lines), SUM(revenue)
    FROM project_daily_products
    GROUP BY 1, 2, 3;
