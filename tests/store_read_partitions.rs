//! The read tables by month (PostgreSQL partitions, `migrations/postgres/0017`), on both backends:
//! receipts of several months, stored through the real group-commit writer and projected by the
//! real projector, land in their months' partitions (or the default one) and the months ahead
//! exist; the cabinet's answers — search by register and dates, by ФН and ФД, by shift and by
//! product, one document with its lines, shifts, a month's daily, hourly and product figures,
//! an export — are the same before and after the migration moves a populated database's rows;
//! and retention drops a read month only with the documents it describes, leaving no index row
//! or line of a document that is gone. SQLite has one table each; the same answers are asserted
//! there.

mod common;
mod ingest_support;

use common::{on_each_backend, TestDb};
use futures::StreamExt as _;
use ingest_support::receipt_frame_at;
use ofd::project::{catch_up, rebuild, Projector};
use ofd::store::partitions::{ensure_ahead, month_partitions_of, Month, READ_TABLES};
use ofd::store::reports::{
    DayFigures, DocumentFilter, DocumentLine, DocumentSummary, ProductFigures, RegisterSet,
    ShiftRow,
};
use ofd::store::retention::{delete_delivered_before, drop_delivered_partitions};
use ofd::store::{Actor, Backend, Dialect, NewDocument, NewRegister, Store, Writer, WriterConfig};
use ofd_protocol::ru::SESSION_HEADER_LEN;

const FN: &str = "9999078900017017";
/// 2026-12-02 15:00 UTC, the server's "now" in the first two tests.
const NOW_MS: i64 = 1_796_223_600_000;
/// Local receipt times (naive seconds): October 2026 (no month partition: the default one),
/// December 2026, January and February 2027; three receipts each, an hour apart.
const MONTH_TIMES: [i64; 4] = [1_792_065_600, 1_796_205_600, 1_799_571_600, 1_801_677_600];
/// December 2026 as local seconds and days.
const DECEMBER: (i64, i64) = (1_796_083_200, 1_798_761_600);
const DECEMBER_DAYS: (i64, i64) = (20_788, 20_819);

/// A receipt of [`FN`] made at local `time`, as ingest stores it (the container as `raw`),
/// received a minute later.
fn receipt(fd: i64, total: u32, time: i64, received_at_ms: i64) -> NewDocument {
    let frame = receipt_frame_at(
        FN,
        u32::try_from(fd).unwrap(),
        total,
        u32::try_from(time).unwrap(),
    );
    NewDocument {
        dialect: Dialect::Ru,
        doc_key: ofd::store::ru_doc_key(FN, fd),
        fn_number: Some(FN.to_owned()),
        fd_number: Some(fd),
        system_id: None,
        form_code: 3,
        ffd_version: Some(2),
        doc_time: Some(time),
        received_at: received_at_ms,
        raw: frame[SESSION_HEADER_LEN..].to_vec(),
        json: "{}".to_owned(),
        ack: format!("ack {fd}").into_bytes(),
        flk_errors: None,
        sign_verdict: "unverified".to_owned(),
        unregistered: false,
        peer: None,
    }
}

/// Store `documents` through the writer, then project everything.
async fn store_and_project(store: &Store, documents: Vec<NewDocument>) {
    let (writer, task) = Writer::spawn(store.clone(), WriterConfig::default());
    for document in documents {
        writer.store(document).await.expect("stored");
    }
    drop(writer);
    task.await.expect("writer");
    let projector = Projector::new(store);
    catch_up(&projector, 7, 2).await.expect("projected");
    // On SQLite the next projector of this test must not stand by behind this one's lease.
    projector.release_writer_lease().await.expect("lease");
}

/// The register of [`FN`].
async fn register(store: &Store) -> i64 {
    store
        .add_register(
            Dialect::Ru,
            NewRegister {
                fn_number: Some(FN.to_owned()),
                ..NewRegister::default()
            },
        )
        .await
        .expect("register")
        .id
}

/// Twelve receipts, three in each of [`MONTH_TIMES`]' months, fd 1..=12, totals 100 × fd.
fn twelve_receipts() -> Vec<NewDocument> {
    let mut documents = Vec::new();
    for (m, time) in MONTH_TIMES.iter().enumerate() {
        for k in 0..3 {
            let fd = (m * 3 + k + 1) as i64;
            let at = time + k as i64 * 3_600;
            documents.push(receipt(fd, 100 * fd as u32, at, (at + 60) * 1_000));
        }
    }
    documents
}

/// Everything the cabinet answers about the twelve receipts.
#[derive(Debug, PartialEq)]
struct Answers {
    by_register_and_dates: Vec<DocumentSummary>,
    by_fn_and_fd: Vec<DocumentSummary>,
    by_shift: Vec<DocumentSummary>,
    by_product: Vec<DocumentSummary>,
    one_document: (DocumentSummary, Vec<DocumentLine>),
    shifts: Vec<ShiftRow>,
    december_days: Vec<DayFigures>,
    december_hours: [i64; 24],
    december_products: Vec<ProductFigures>,
    export: Vec<(DocumentSummary, String)>,
}

async fn answers(store: &Store, register_id: i64) -> Answers {
    let tenant = store.tenant(Actor::Operator { id: 0 }, None);
    let search = |filter: DocumentFilter| {
        let tenant = &tenant;
        async move { tenant.search_documents(&filter).await.expect("search") }
    };
    let one = RegisterSet {
        register_id: Some(register_id),
        ..RegisterSet::default()
    };
    let by_fn_and_fd = search(DocumentFilter {
        fn_number: Some(FN.to_owned()),
        fd_number: Some(5),
        limit: 50,
        ..DocumentFilter::default()
    })
    .await;
    let document = tenant
        .document(by_fn_and_fd[0].id)
        .await
        .expect("document")
        .expect("in scope");
    let export = tenant.export_documents(
        &DocumentFilter {
            register_id: Some(register_id),
            ..DocumentFilter::default()
        },
        1_000,
        true,
        true,
    );
    let export: Vec<(DocumentSummary, String)> = export
        .rows()
        .map(|row| row.expect("export row"))
        .collect()
        .await;
    let december = tenant
        .period_figures(one, DECEMBER_DAYS.0, DECEMBER_DAYS.1, 10)
        .await
        .expect("figures");
    Answers {
        by_register_and_dates: search(DocumentFilter {
            register_id: Some(register_id),
            from_time: Some(DECEMBER.0),
            to_time: Some(DECEMBER.1),
            limit: 50,
            ..DocumentFilter::default()
        })
        .await,
        by_fn_and_fd,
        by_shift: search(DocumentFilter {
            register_id: Some(register_id),
            shift_number: Some(1),
            limit: 50,
            ..DocumentFilter::default()
        })
        .await,
        by_product: search(DocumentFilter {
            product: Some("ест".to_owned()),
            limit: 50,
            ..DocumentFilter::default()
        })
        .await,
        one_document: (document.summary, document.lines),
        shifts: tenant
            .shifts(register_id, None, None, 50)
            .await
            .expect("shifts"),
        december_days: december.days,
        december_hours: december.hours,
        december_products: december.top_products,
        export,
    }
}

/// What the answers must say of the twelve receipts, whatever the layout.
fn check_answers(a: &Answers) {
    let fds = |rows: &[DocumentSummary]| rows.iter().map(|r| r.fd_number).collect::<Vec<_>>();
    assert_eq!(
        fds(&a.by_register_and_dates),
        [Some(6), Some(5), Some(4)],
        "December only, newest first"
    );
    assert_eq!(fds(&a.by_fn_and_fd), [Some(5)]);
    assert_eq!(a.by_shift.len(), 12);
    assert_eq!(a.by_product.len(), 12, "every receipt sold the product");
    assert_eq!(a.one_document.1.len(), 1);
    assert_eq!(a.one_document.1[0].amount, 500);
    assert_eq!(a.shifts.len(), 1);
    assert_eq!(a.shifts[0].receipts, 12);
    assert_eq!(a.december_days.len(), 1);
    assert_eq!(a.december_days[0].receipts, 3);
    assert_eq!(a.december_days[0].revenue, 400 + 500 + 600);
    assert_eq!(a.december_hours.iter().sum::<i64>(), 3);
    assert_eq!(a.december_products.len(), 1);
    assert_eq!(a.december_products[0].revenue, 1_500);
    assert_eq!(a.export.len(), 12);
}

/// `(partition, rows)` of a partitioned table, by partition name.
async fn placement(store: &Store, table: &str) -> Vec<(String, i64)> {
    sqlx::query_as(&format!(
        "SELECT CAST(CAST(tableoid AS regclass) AS TEXT) AS part, COUNT(*) FROM {table} \
         GROUP BY part ORDER BY part"
    ))
    .fetch_all(store.pool())
    .await
    .expect("placement")
}

/// The plan of `sql` (PostgreSQL), as text.
async fn plan(store: &Store, sql: &str) -> String {
    let rows: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {sql}"))
        .fetch_all(store.pool())
        .await
        .expect("explain");
    rows.join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_of_several_months_land_in_their_months_and_dated_queries_read_only_those() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let postgres = store.backend() == Backend::Postgres;
        ensure_ahead(&store, NOW_MS).await.expect("months ahead");
        if postgres {
            for table in READ_TABLES {
                let months = month_partitions_of(&store, table).await.expect("months");
                assert_eq!(
                    months
                        .iter()
                        .map(|m| m.partition_of(table))
                        .collect::<Vec<_>>(),
                    [
                        format!("{}_p202612", table.table),
                        format!("{}_p202701", table.table),
                        format!("{}_p202702", table.table)
                    ]
                );
            }
        }
        let register_id = register(&store).await;
        store_and_project(&store, twelve_receipts()).await;
        check_answers(&answers(&store, register_id).await);

        if postgres {
            let by_month = |prefix: &str, rows: [i64; 4]| {
                let names = ["default", "p202612", "p202701", "p202702"];
                names
                    .iter()
                    .zip(rows)
                    .map(|(n, r)| (format!("{prefix}_{n}"), r))
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                placement(&store, "doc_index").await,
                by_month("doc_index", [3, 3, 3, 3])
            );
            assert_eq!(
                placement(&store, "doc_items").await,
                by_month("doc_items", [3, 3, 3, 3])
            );
            // One day of receipts a month (its three hours on the day's row); one product, on
            // its day's row and its month's.
            assert_eq!(
                placement(&store, "project_daily").await,
                by_month("project_daily", [1, 1, 1, 1])
            );
            assert_eq!(
                placement(&store, "project_daily_products").await,
                by_month("project_daily_products", [1, 1, 1, 1])
            );
            assert_eq!(
                placement(&store, "project_monthly_products").await,
                by_month("project_monthly_products", [1, 1, 1, 1])
            );
            // A register and a month read December's partition only; a month's days too.
            let search = plan(
                &store,
                &format!(
                    "SELECT document_id FROM doc_index di WHERE di.register_id = {register_id} \
                     AND di.doc_time >= {} AND di.doc_time < {} \
                     ORDER BY di.doc_time DESC, di.document_id DESC LIMIT 50",
                    DECEMBER.0, DECEMBER.1
                ),
            )
            .await;
            assert!(search.contains("doc_index_p202612"), "{search}");
            assert!(
                !search.contains("doc_index_p202701") && !search.contains("doc_index_default"),
                "{search}"
            );
            let days = plan(
                &store,
                &format!(
                    "SELECT day, SUM(revenue) FROM project_daily WHERE register_id = \
                     {register_id} AND day >= {} AND day < {} GROUP BY day",
                    DECEMBER_DAYS.0, DECEMBER_DAYS.1
                ),
            )
            .await;
            assert!(days.contains("project_daily_p202612"), "{days}");
            assert!(!days.contains("project_daily_p202701"), "{days}");
            // A line is read in its document's month.
            let lines = plan(
                &store,
                &format!(
                    "SELECT lines FROM doc_items WHERE document_id = 1 AND doc_time = {}",
                    MONTH_TIMES[1]
                ),
            )
            .await;
            assert!(lines.contains("doc_items_p202612"), "{lines}");
            assert!(!lines.contains("doc_items_default"), "{lines}");
        }
        store.close().await;
    })
    .await;
}

/// Every partitioned read table's rows, in a fixed order, as text (project_shifts is one table
/// on both backends and is compared through the answers). A document's lines are compared as
/// JSON values: the projector writes them compactly, 0026 with PostgreSQL's spacing.
async fn read_tables(store: &Store, tables: &[(&str, &str)]) -> Vec<String> {
    let lines = match store.backend() {
        Backend::Postgres => "document_id, doc_time, CAST(CAST(lines AS jsonb) AS text)",
        _ => "document_id, doc_time, json(lines)",
    };
    let mut out = Vec::new();
    for (table, order) in tables {
        let columns = if *table == "doc_items" { lines } else { "*" };
        let rows = sqlx::query(&format!("SELECT {columns} FROM {table} ORDER BY {order}"))
            .fetch_all(store.read_pool())
            .await
            .expect("read table");
        out.extend(rows.iter().map(|row| common::row_text(table, row)));
    }
    out
}

const INDEX_AND_LINES: [(&str, &str); 2] =
    [("doc_index", "document_id"), ("doc_items", "document_id")];
const DAILY_TABLES: [(&str, &str); 3] = [
    ("project_daily", "register_id, day"),
    ("project_daily_products", "register_id, day, name"),
    ("project_monthly_products", "register_id, month_day, name"),
];

/// project_daily's columns before 0027 (0027 added the hours).
const DAILY_COLUMNS: &str =
    "register_id, day, point_of_sale_id, receipts, sales_count, refunds_count, revenue, refunds, cash, card";

/// project_hourly's rows (as before 0027) from project_daily's hour columns in `keep`.
fn hourly_rows_from(keep: &str) -> String {
    (0..24)
        .map(|h| {
            format!(
                "SELECT register_id, day, {h} AS hour, h{h:02} AS receipts FROM {keep} WHERE h{h:02} <> 0"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// Put the read tables back as the release before 0017 had them, with their rows: PostgreSQL
/// runs 0011's statements for the five tables (with 0016's doc_index columns) and copies the rows in
/// (PostgreSQL only: SQLite's read models have a file of their own since 0024), a row per receipt
/// line as doc_items was before 0026, the hours as project_hourly rows and no monthly products
/// as before 0027. Then the database records 0017, 0026 and 0027 as not applied, so opening it
/// runs them over the rows. On SQLite the read file goes back to before `sqlite-read/0003`, its
/// one-row-per-document lines, and `0004`, its hours and monthly products.
async fn back_to_before_0017_0026_and_0027(db: &TestDb, store: &Store) {
    let tables = [
        "doc_index",
        "doc_items",
        "project_daily",
        "project_hourly",
        "project_daily_products",
    ];
    if db.backend == Backend::Postgres {
        sqlx::query("DROP TABLE project_monthly_products")
            .execute(store.pool())
            .await
            .expect("without monthly products");
        for table in tables.iter().filter(|t| **t != "project_hourly") {
            for sql in [
                format!("CREATE TABLE keep_{table} AS SELECT * FROM {table}"),
                format!("DROP TABLE {table}"),
            ] {
                sqlx::query(&sql).execute(store.pool()).await.expect(&sql);
            }
        }
        let file = include_str!("../migrations/postgres/0011_read_models.sql");
        let code: String = file
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        for statement in code.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            if statement.contains("project_cursor") || statement.contains("project_shifts") {
                continue;
            }
            sqlx::query(statement)
                .execute(store.pool())
                .await
                .expect(statement);
        }
        // …and the X report counters 0016 added to doc_index before 0017.
        for column in ["x_receipts", "x_sales", "x_refunds"] {
            let sql = format!("ALTER TABLE doc_index ADD COLUMN {column} BIGINT");
            sqlx::query(&sql).execute(store.pool()).await.expect(&sql);
        }
        // 0026's doc_index column goes; its one-row-per-document lines become a row per line.
        sqlx::query("ALTER TABLE keep_doc_index DROP COLUMN item_names")
            .execute(store.pool())
            .await
            .expect("without item_names");
        for table in tables {
            let (columns, select) = match table {
                "doc_items" => (
                    "",
                    "SELECT k.document_id, e.n - 1, e.v->>0, (e.v->>1)::bigint, e.v->>2, \
                     (e.v->>3)::bigint, e.v->>4, (e.v->>5)::bigint FROM keep_doc_items k, \
                     jsonb_array_elements(k.lines::jsonb) WITH ORDINALITY e(v, n)"
                        .to_owned(),
                ),
                "project_daily" => (
                    DAILY_COLUMNS,
                    format!("SELECT {DAILY_COLUMNS} FROM keep_project_daily"),
                ),
                "project_hourly" => ("", hourly_rows_from("keep_project_daily")),
                _ => ("", format!("SELECT * FROM keep_{table}")),
            };
            let columns = if columns.is_empty() {
                String::new()
            } else {
                format!("({columns})")
            };
            let sql = format!("INSERT INTO {table} {columns} {select}");
            sqlx::query(&sql).execute(store.pool()).await.expect(&sql);
        }
        for table in tables.iter().filter(|t| **t != "project_hourly") {
            let sql = format!("DROP TABLE keep_{table}");
            sqlx::query(&sql).execute(store.pool()).await.expect(&sql);
        }
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version IN (17, 26, 27)")
            .execute(store.pool())
            .await
            .expect("forget 0017, 0026 and 0027");
        return;
    }
    // SQLite: the read file goes back to before sqlite-read/0004, project_hourly rows and no
    // monthly products…
    let hourly = format!(
        "CREATE TABLE project_hourly AS SELECT * FROM ({}) ORDER BY register_id, day, hour",
        hourly_rows_from("project_daily")
    );
    let mut statements = vec!["DROP TABLE project_monthly_products".to_owned(), hourly];
    statements.extend((0..24).map(|h| format!("ALTER TABLE project_daily DROP COLUMN h{h:02}")));
    statements.push("DELETE FROM _sqlx_migrations WHERE version = 4".to_owned());
    // One connection for every change of schema: another pooled connection may still have
    // read the tables as they were and prepare a statement against that.
    let mut read = store
        .read_pool()
        .acquire()
        .await
        .expect("a read connection");
    for sql in &statements {
        sqlx::query(sql).execute(&mut *read).await.expect(sql);
    }
    // …and (made at its latest shape, so there is no 0017 to run again) to before
    // sqlite-read/0003, a row per receipt line and no item_names.
    for sql in [
        "CREATE TABLE keep_doc_items AS SELECT * FROM doc_items",
        "DROP TABLE doc_items",
        "CREATE TABLE doc_items (document_id BIGINT NOT NULL, line BIGINT NOT NULL, \
         name TEXT NOT NULL, price BIGINT NOT NULL, quantity TEXT NOT NULL, \
         amount BIGINT NOT NULL, vat_rate TEXT, vat_amount BIGINT, \
         doc_time BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (document_id, line))",
        "INSERT INTO doc_items SELECT k.document_id, e.key, e.value ->> 0, e.value ->> 1, \
         e.value ->> 2, e.value ->> 3, e.value ->> 4, e.value ->> 5, k.doc_time \
         FROM keep_doc_items k, json_each(k.lines) e",
        "DROP TABLE keep_doc_items",
        "ALTER TABLE doc_index DROP COLUMN item_names",
        "DELETE FROM _sqlx_migrations WHERE version = 3",
    ] {
        sqlx::query(sql).execute(&mut *read).await.expect(sql);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_migration_keeps_every_row_and_every_answer_of_a_populated_database() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        ensure_ahead(&store, NOW_MS).await.expect("months ahead");
        let register_id = register(&store).await;
        store_and_project(&store, twelve_receipts()).await;
        let all: Vec<_> = INDEX_AND_LINES
            .iter()
            .chain(&DAILY_TABLES)
            .copied()
            .collect();
        let before = (
            answers(&store, register_id).await,
            read_tables(&store, &all).await,
        );
        check_answers(&before.0);
        assert_eq!(before.1.len(), 12 + 12 + 4 + 4 + 4);

        back_to_before_0017_0026_and_0027(&db, &store).await;
        store.close().await;
        // The real upgrade path: opening the database runs 0017, 0026 and 0027 (SQLite: the
        // read file's 0003 and 0004) over the rows.
        let store = db.open().await;
        let after = (
            answers(&store, register_id).await,
            read_tables(&store, &all).await,
        );
        assert_eq!(after.0, before.0);
        assert_eq!(
            after.1, before.1,
            "every row, doc_items.doc_time restored, the lines one row a document"
        );
        if db.backend == Backend::Postgres {
            // The migration made the months the rows fall in, October's too (its rows had been
            // in the default partition, which now holds nothing).
            let index = placement(&store, "doc_index").await;
            assert_eq!(
                index,
                [
                    ("doc_index_p202610".to_owned(), 3),
                    ("doc_index_p202612".to_owned(), 3),
                    ("doc_index_p202701".to_owned(), 3),
                    ("doc_index_p202702".to_owned(), 3)
                ]
            );
            let items = placement(&store, "doc_items").await;
            assert_eq!(items.iter().map(|(_, n)| n).sum::<i64>(), 12, "{items:?}");
            assert!(items.iter().all(|(p, _)| p != "doc_items_default"));
            // New documents still project after the upgrade, into their month.
            store_and_project(
                &store,
                vec![receipt(13, 1_300, MONTH_TIMES[1] + 7_200, NOW_MS)],
            )
            .await;
            let index = placement(&store, "doc_index").await;
            assert!(
                index.contains(&("doc_index_p202612".to_owned(), 4)),
                "{index:?}"
            );
        }
        // Projecting every document again (the cursors moved back, as after a crash or by a
        // second projector) applies none twice: the index's key holds doc_time now.
        let rows_before = read_tables(&store, &all).await;
        sqlx::query("UPDATE project_cursor SET last_id = 0")
            .execute(store.read_pool())
            .await
            .expect("cursors back");
        let projector = Projector::new(&store);
        let again = catch_up(&projector, 5, 2).await.expect("replayed");
        projector.release_writer_lease().await.expect("lease");
        let documents = count(&store, "documents").await;
        assert_eq!((again.read, again.applied), (documents as u64, 0));
        assert_eq!(read_tables(&store, &all).await, rows_before);
        store.close().await;
    })
    .await;
}

/// Receipts on days of November, December and January (days since 1970-01-01, total): the
/// edges of months and their middles.
const SPREAD_DAYS: [(i64, u32); 8] = [
    (20_759, 101),
    (20_767, 203),
    (20_782, 307),
    (20_787, 401),
    (20_788, 503),
    (20_802, 601),
    (20_818, 709),
    (20_821, 809),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_period_of_any_days_sums_its_products_and_hours_as_its_days_do() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        ensure_ahead(&store, NOW_MS).await.expect("months ahead");
        let register_id = register(&store).await;
        let documents = SPREAD_DAYS
            .iter()
            .enumerate()
            .map(|(k, (day, total))| {
                // At 10:00 + k hours local time, so each receipt has an hour of its own.
                let at = day * 86_400 + (10 + k as i64) * 3_600;
                receipt(k as i64 + 1, *total, at, (at + 60) * 1_000)
            })
            .collect();
        store_and_project(&store, documents).await;
        let tenant = store.tenant(Actor::Operator { id: 0 }, None);
        let one = RegisterSet {
            register_id: Some(register_id),
            ..RegisterSet::default()
        };
        // Every period between these bounds: whole months, a month less its edges, a month's
        // middle, across two and three months, and empty.
        let bounds = [
            20_758, 20_760, 20_768, 20_783, 20_788, 20_789, 20_803, 20_818, 20_819, 20_822, 20_850,
        ];
        let mut periods = 0;
        for (i, from) in bounds.iter().enumerate() {
            for to in &bounds[i..] {
                let inside: Vec<_> = SPREAD_DAYS
                    .iter()
                    .enumerate()
                    .filter(|(_, (day, _))| (*from..*to).contains(day))
                    .collect();
                let revenue: i64 = inside.iter().map(|(_, (_, total))| i64::from(*total)).sum();
                let products = tenant
                    .top_products(one, *from, *to, 10)
                    .await
                    .expect("products");
                if inside.is_empty() {
                    assert_eq!(products, [], "[{from}, {to}) sold nothing");
                } else {
                    assert_eq!(products.len(), 1, "[{from}, {to}): {products:?}");
                    assert_eq!(
                        (products[0].lines, products[0].revenue),
                        (inside.len() as i64, revenue),
                        "[{from}, {to})"
                    );
                }
                let figures = tenant
                    .period_figures(one, *from, *to, 10)
                    .await
                    .expect("figures");
                assert_eq!(figures.top_products, products);
                let mut hours = [0i64; 24];
                for (k, _) in &inside {
                    hours[10 + k] += 1;
                }
                assert_eq!(figures.hours, hours, "[{from}, {to})");
                assert_eq!(
                    figures.days.iter().map(|d| d.revenue).sum::<i64>(),
                    revenue,
                    "[{from}, {to})"
                );
                periods += 1;
            }
        }
        assert_eq!(periods, 66);
        store.close().await;
    })
    .await;
}

async fn count(store: &Store, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(store.pool())
        .await
        .expect("count")
}

/// Confirm the documents with these fd numbers.
async fn confirm(store: &Store, fds: &[i64]) {
    for fd in fds {
        sqlx::query(
            "UPDATE outbox SET state = 'sent' \
             WHERE document_id IN (SELECT id FROM documents WHERE fd_number = $1)",
        )
        .bind(fd)
        .execute(store.pool())
        .await
        .expect("confirm");
    }
}

/// The fd numbers the index lists, and whether every index row and line still has its document.
async fn listed_and_consistent(store: &Store) -> Vec<i64> {
    let orphans: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM doc_index di WHERE NOT EXISTS (SELECT 1 FROM documents d \
         WHERE d.id = di.document_id)) + (SELECT COUNT(*) FROM doc_items it WHERE NOT EXISTS \
         (SELECT 1 FROM doc_index di WHERE di.document_id = it.document_id))",
    )
    .fetch_one(store.read_pool())
    .await
    .expect("orphans");
    assert_eq!(
        orphans, 0,
        "an index row or line of a document that is gone"
    );
    sqlx::query_scalar("SELECT fd_number FROM doc_index ORDER BY fd_number")
        .fetch_all(store.read_pool())
        .await
        .expect("listed")
}

/// One retention run at `cutoff_ms`, as the forwarder's task does it.
async fn retention(store: &Store, cutoff_ms: i64) -> ofd::store::retention::PartitionStep {
    let step = drop_delivered_partitions(store, cutoff_ms)
        .await
        .expect("months");
    while delete_delivered_before(store, cutoff_ms, 2)
        .await
        .expect("batch")
        .more(2)
    {}
    step
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_drops_a_read_month_only_with_every_document_it_describes() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let postgres = store.backend() == Backend::Postgres;
        // September, October and November 2020.
        ensure_ahead(&store, 1_600_000_000_000)
            .await
            .expect("months");
        register(&store).await;
        let september = 1_600_077_600;
        let late = 1_600_599_600; // 2020-09-20, received 2020-10-05 (an offline register)
        let november = 1_605_009_600;
        let mut documents: Vec<NewDocument> = (1..=3)
            .map(|fd| {
                let at = september + fd * 3_600;
                receipt(fd, 100, at, (at + 60) * 1_000)
            })
            .collect();
        documents.push(receipt(4, 400, late, 1_601_884_800_000));
        for fd in 5..=6 {
            let at = november + fd * 60;
            documents.push(receipt(fd, 100, at, (at + 60) * 1_000));
        }
        store_and_project(&store, documents).await;
        assert_eq!(listed_and_consistent(&store).await, [1, 2, 3, 4, 5, 6]);
        let daily_before = read_tables(&store, &DAILY_TABLES).await;

        // September's documents confirmed; the late one and November's not yet.
        confirm(&store, &[1, 2, 3]).await;
        let step = retention(&store, 1_604_188_800_000).await; // 2020-11-01
        assert_eq!(listed_and_consistent(&store).await, [4, 5, 6]);
        if postgres {
            assert_eq!(step.dropped, [("documents_p202009".to_owned(), 3)]);
            // September's read month still describes the late document: kept, less the rows
            // of the documents that are gone, its daily figures whole; October's describes
            // nothing and goes.
            assert_eq!(step.read_kept, ["doc_index_p202009"]);
            assert_eq!(step.read_dropped, [("doc_index_p202010".to_owned(), 0)]);
            assert_eq!(read_tables(&store, &DAILY_TABLES).await, daily_before);
        }

        // The late one confirmed: September's read month describes nothing stored any more.
        confirm(&store, &[4]).await;
        let step = retention(&store, 1_606_780_800_000).await; // 2020-12-01
        assert_eq!(listed_and_consistent(&store).await, [5, 6]);
        let kept_tables: Vec<_> = if postgres {
            assert_eq!(step.dropped, [("documents_p202010".to_owned(), 1)]);
            assert_eq!(step.read_dropped, [("doc_index_p202009".to_owned(), 1)]);
            assert_eq!(step.read_kept, ["doc_index_p202011"]);
            for table in READ_TABLES {
                let months = month_partitions_of(&store, table).await.expect("months");
                assert_eq!(
                    months,
                    [Month {
                        year: 2020,
                        month: 11
                    }],
                    "{}",
                    table.table
                );
            }
            INDEX_AND_LINES
                .iter()
                .chain(&DAILY_TABLES)
                .copied()
                .collect()
        } else {
            // SQLite keeps the daily totals of deleted documents (no months to drop).
            INDEX_AND_LINES.to_vec()
        };
        // What is left is what the remaining documents make.
        let left = read_tables(&store, &kept_tables).await;
        rebuild(&store, 5, 2).await.expect("rebuild");
        assert_eq!(read_tables(&store, &kept_tables).await, left);
        store.close().await;
    })
    .await;
}
