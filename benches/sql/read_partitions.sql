-- Read tables by month (issue 18, migration 0017): the synthetic data, the plans and the lookup
-- loop behind benches/README.md "Read tables by month on PostgreSQL" and docs/scaling.md
-- section 4 "Read-table plans". Run on an empty database that has every migration applied:
--   createdb parts_explain
--   for f in migrations/postgres/*.sql; do psql -d parts_explain -q -f $f; done
--   psql -d parts_explain -f benches/sql/read_partitions.sql
-- 480,000 receipts of 500 registers in 5 organisations, about 131 s apart over 2025-2026,
-- one line each; the daily (two hours of the day filled), product and shift rows are what they
-- add up to.

-- 24 months of every partitioned table: 2025-01 .. 2026-12.
DO $$
DECLARE m TIMESTAMP; sfx TEXT; s BIGINT; e BIGINT;
BEGIN
  FOR m IN SELECT generate_series(TIMESTAMP '2025-01-01', TIMESTAMP '2026-12-01', INTERVAL '1 month') LOOP
    sfx := '_p' || to_char(m, 'YYYYMM');
    s := extract(epoch FROM m)::BIGINT; e := extract(epoch FROM m + INTERVAL '1 month')::BIGINT;
    EXECUTE format('CREATE TABLE %I PARTITION OF documents FOR VALUES FROM (%s) TO (%s)', 'documents'||sfx, s*1000, e*1000);
    EXECUTE format('CREATE TABLE %I PARTITION OF doc_index FOR VALUES FROM (%s) TO (%s)', 'doc_index'||sfx, s, e);
    EXECUTE format('CREATE TABLE %I PARTITION OF doc_items FOR VALUES FROM (%s) TO (%s)', 'doc_items'||sfx, s, e);
    EXECUTE format('CREATE TABLE %I PARTITION OF project_daily FOR VALUES FROM (%s) TO (%s)', 'project_daily'||sfx, s/86400, e/86400);
    EXECUTE format('CREATE TABLE %I PARTITION OF project_daily_products FOR VALUES FROM (%s) TO (%s)', 'project_daily_products'||sfx, s/86400, e/86400);
    EXECUTE format('CREATE TABLE %I PARTITION OF project_monthly_products FOR VALUES FROM (%s) TO (%s)', 'project_monthly_products'||sfx, s/86400, e/86400);
  END LOOP;
END $$;
INSERT INTO organisations (inn, name, created_at, updated_at)
  SELECT '77000000' || lpad(o::text, 2, '0'), 'Org ' || o, 0, 0 FROM generate_series(1, 5) o;
INSERT INTO registers (dialect, fn_number, org_inn, created_at, updated_at)
  SELECT 'ru', '9999' || lpad(r::text, 12, '0'), '77000000' || lpad((1 + (r - 1) / 100)::text, 2, '0'), 0, 0
  FROM generate_series(1, 500) r;
-- 480,000 receipts: register r = (g-1) % 500 + 1, about 131 s apart over 2025-2026.
CREATE TEMP TABLE gen AS SELECT g, (g - 1) % 500 + 1 AS r, (g - 1) / 500 + 1 AS fd,
  1735689600 + (g - 1) * 131 AS t FROM generate_series(1::bigint, 480000::bigint) g;
INSERT INTO documents (id, dialect, doc_key, fn_number, fd_number, form_code, doc_time, received_at, raw, json, ack)
  OVERRIDING SYSTEM VALUE
  SELECT g, 'ru', '9999' || lpad(r::text, 12, '0') || '/' || fd, '9999' || lpad(r::text, 12, '0'), fd, 3, t, (t + 30) * 1000,
    '\x00', '{}', '\x00' FROM gen;
UPDATE outbox SET state = 'sent', sent_at = received_at;
INSERT INTO doc_index (document_id, dialect, register_id, fn_number, fd_number, kind, form_code, shift_number, operation, doc_time, received_at, total, cash, card, item_names)
  SELECT g, 'ru', r, '9999' || lpad(r::text, 12, '0'), fd, 'receipt', 3, t / 86400, 'sale', t, (t + 30) * 1000, 100 + g % 900, 100 + g % 900, 0, 'Product ' || (g % 50) FROM gen;
-- One row a document, its lines as JSON (migration 0026).
INSERT INTO doc_items SELECT g, t, json_build_array(json_build_array('Product ' || (g % 50), 100 + g % 900, '1', 100 + g % 900, NULL, NULL))::text FROM gen;
INSERT INTO project_daily (register_id, day, receipts, sales_count, revenue, cash, h00, h12)
  SELECT register_id, doc_time / 86400, COUNT(*), COUNT(*), SUM(total), SUM(total),
    COUNT(*) FILTER (WHERE doc_time % 86400 < 43200), COUNT(*) FILTER (WHERE doc_time % 86400 >= 43200)
  FROM doc_index GROUP BY 1, 2;
INSERT INTO project_daily_products SELECT register_id, doc_time / 86400, item_names, COUNT(*), SUM(total)
  FROM doc_index GROUP BY 1, 2, 3;
INSERT INTO project_monthly_products SELECT register_id,
    CAST(EXTRACT(EPOCH FROM date_trunc('month', to_timestamp(day * 86400) AT TIME ZONE 'UTC')) AS BIGINT) / 86400,
    name, SUM(lines), SUM(revenue)
  FROM project_daily_products GROUP BY 1, 2, 3;
INSERT INTO project_shifts (source, shift_number, register_id, opened_time, receipts)
  SELECT fn_number, shift_number, register_id, MIN(doc_time), COUNT(*) FROM doc_index GROUP BY 1, 2, 3;
VACUUM ANALYZE;

-- The plans.
SET plan_cache_mode = force_custom_plan;
PREPARE by_register(bigint, bigint, bigint, bigint, bigint, bigint) AS
SELECT di.document_id, di.doc_time, di.total, ob.state, ob.batch_id
FROM doc_index di JOIN outbox ob ON ob.document_id = di.document_id
WHERE di.register_id IN (SELECT id FROM registers WHERE
     (org_inn IN (SELECT inn FROM organisations WHERE id = $1) OR $2 = 1) AND
     ($3 < 0 OR id IN (SELECT register_id FROM cashier_registers WHERE user_id = $3)))
  AND di.register_id = $4 AND di.doc_time >= $5 AND di.doc_time < $6
ORDER BY di.doc_time DESC, di.document_id DESC LIMIT 50;
\echo '=== A. register + December 2025, custom plan'
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE by_register(1, 0, -1, 1, 1764547200, 1767225600);
SET plan_cache_mode = force_generic_plan;
\echo '=== A. register + December 2025, generic plan (bound parameters, run-time pruning)'
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE by_register(1, 0, -1, 1, 1764547200, 1767225600);
SET plan_cache_mode = force_custom_plan;
PREPARE by_fn(bigint, bigint, bigint, text, bigint) AS
SELECT di.document_id, di.doc_time, ob.state
FROM doc_index di JOIN outbox ob ON ob.document_id = di.document_id
WHERE di.register_id IN (SELECT id FROM registers WHERE
     (org_inn IN (SELECT inn FROM organisations WHERE id = $1) OR $2 = 1) AND
     ($3 < 0 OR id IN (SELECT register_id FROM cashier_registers WHERE user_id = $3)))
  AND di.fn_number = $4 AND di.fd_number = $5
ORDER BY di.doc_time DESC, di.document_id DESC LIMIT 50;
\echo '=== B. FN + FD number'
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE by_fn(1, 0, -1, '9999000000000001', 500);
PREPARE by_shift(bigint, bigint, bigint, bigint, bigint) AS
SELECT di.document_id, di.doc_time
FROM doc_index di
WHERE di.register_id IN (SELECT id FROM registers WHERE
     (org_inn IN (SELECT inn FROM organisations WHERE id = $1) OR $2 = 1) AND
     ($3 < 0 OR id IN (SELECT register_id FROM cashier_registers WHERE user_id = $3)))
  AND di.register_id = $4 AND di.shift_number = $5
ORDER BY di.doc_time DESC, di.document_id DESC LIMIT 50;
\echo '=== C. register + shift number'
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE by_shift(1, 0, -1, 1, 20400);
PREPARE month_days(bigint, bigint, bigint, bigint, bigint, bigint, bigint) AS
SELECT di.day, CAST(SUM(di.receipts) AS BIGINT), CAST(SUM(di.revenue) AS BIGINT)
FROM project_daily di WHERE di.register_id IN (SELECT id FROM registers WHERE
     (org_inn IN (SELECT inn FROM organisations WHERE id = $1) OR $2 = 1) AND
     ($3 < 0 OR id IN (SELECT register_id FROM cashier_registers WHERE user_id = $3)))
  AND ($4 < 0 OR di.register_id = $4) AND ($5 < 0 OR di.register_id IN (SELECT id FROM registers WHERE pos_id = $5))
  AND di.day >= $6 AND di.day < $7 GROUP BY di.day ORDER BY di.day;
\echo '=== D. a month of daily totals, every register of the organisation'
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE month_days(1, 0, -1, -1, -1, 20423, 20454);
\echo '=== E. one document lines'
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT lines FROM doc_items WHERE document_id = 460001 AND doc_time = 1735689600 + 460000 * 131;

-- ФН + ФД lookups: one table against the partitioned doc_index.
CREATE TABLE doc_index_flat AS SELECT * FROM doc_index;
CREATE INDEX doc_index_flat_fn ON doc_index_flat (fn_number, fd_number);
ANALYZE doc_index_flat;
CREATE OR REPLACE FUNCTION time_static(partitioned BOOLEAN, n INT) RETURNS TEXT LANGUAGE plpgsql AS $$
DECLARE started TIMESTAMPTZ; found BIGINT := 0; x BIGINT; i INT; f TEXT; d BIGINT;
BEGIN
  PERFORM setseed(0.18);
  started := clock_timestamp();
  FOR i IN 1..n LOOP
    f := '9999' || lpad((1 + (random() * 499)::int)::text, 12, '0');
    d := 1 + (random() * 958)::bigint;
    IF partitioned THEN
      SELECT document_id INTO x FROM doc_index WHERE fn_number = f AND fd_number = d;
    ELSE
      SELECT document_id INTO x FROM doc_index_flat WHERE fn_number = f AND fd_number = d;
    END IF;
    IF x IS NOT NULL THEN found := found + 1; END IF;
  END LOOP;
  RETURN format('%s: %s lookups, %s found, %s us each', CASE WHEN partitioned THEN 'doc_index (25 partitions)' ELSE 'one table' END, n, found,
    round(extract(epoch FROM clock_timestamp() - started) * 1e6 / n, 1));
END $$;
SELECT time_static(false, 5000);
SELECT time_static(true, 5000);
SELECT time_static(false, 5000);
SELECT time_static(true, 5000);
SELECT time_static(false, 5000);
SELECT time_static(true, 5000);
