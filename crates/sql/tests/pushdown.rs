//! Index pushdown: predicates on full-text indexed columns give the same
//! rows as a scan without the index, read only the candidate rows, and
//! open no file when a term is absent. Deleted rows are never read.

use std::sync::Arc;

use arrow::array::{Array, AsArray, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt64Type};
use datafusion::physical_plan::{ExecutionPlan, collect};
use infino_fts::{FtsConfig, MatchMode};
use infino_sql::{SqlContext, SqlError};
use infino_superfile::IndexSpec;
use infino_table::{Connection, Table};

use crate::common::{lines, physical_plan};

const WORDS: [&str; 8] = [
    "alpha", "beta", "gamma", "delta", "error", "warn", "disk", "net",
];

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("code", DataType::Utf8, true),
        Field::new("code_copy", DataType::Utf8, true),
        Field::new("msg", DataType::Utf8, true),
        Field::new("n", DataType::Int32, false),
    ]))
}

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Codes scattered over `c0`..`c999`, except rows `target` which hold
/// `c500 zz` (inside every page's min/max, so statistics cannot prune it).
fn rows(range: std::ops::Range<i64>, target: &std::ops::Range<i64>) -> RecordBatch {
    let codes: Vec<Option<String>> = range
        .clone()
        .map(|i| {
            if target.contains(&i) {
                Some("c500 zz".to_owned())
            } else if i % 23 == 0 {
                None
            } else {
                Some(format!("c{}", mix(i as u64) % 1000))
            }
        })
        .collect();
    let msgs: StringArray = range
        .clone()
        .map(|i| {
            (i % 19 != 0).then(|| {
                let h = mix(i as u64 + 7);
                format!(
                    "{} {} {}",
                    WORDS[(h % 8) as usize],
                    WORDS[(h / 8 % 8) as usize],
                    if i % 2 == 0 { "Even" } else { "odd" }
                )
            })
        })
        .collect();
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(range.clone())),
            Arc::new(StringArray::from(codes.clone())),
            Arc::new(StringArray::from(codes)),
            Arc::new(msgs),
            Arc::new(Int32Array::from_iter_values(range.map(|i| (i % 7) as i32))),
        ],
    )
    .expect("rows")
}

async fn table(
    conn: &Connection,
    files: i64,
    per_file: i64,
    target: std::ops::Range<i64>,
) -> Table {
    let spec = IndexSpec::default()
        .with_fts("code", FtsConfig::default())
        .with_fts("msg", FtsConfig::default());
    let mut t = conn
        .create_table("logs", schema(), &spec)
        .await
        .expect("create");
    for f in 0..files {
        t = t
            .append(&[rows(f * per_file..(f + 1) * per_file, &target)])
            .await
            .expect("append");
    }
    t
}

async fn run(sql: &SqlContext, query: &str) -> Vec<RecordBatch> {
    sql.sql(query)
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

/// Predicates on `code` and the same on the unindexed `code_copy`.
const NARROWED: &[(&str, bool)] = &[
    ("code = 'c17'", true),
    ("code IN ('c17', 'c400', 'nothing')", true),
    ("code = 'c17' OR code = 'c18'", true),
    ("code = 'c17' AND n > 3", true),
    ("(code = 'c17' OR n = 2) AND id < 500", true),
    ("code = 'C17'", false),
    ("code = 'c500'", true),
    ("code = 'c500 zz'", true),
    ("code = 'zz c500'", false),
    ("code = ''", false),
    ("code = 'absent'", false),
    ("code = 'c17' AND code = 'c18'", false),
    ("NOT (code = 'c17') AND id < 40", true),
    ("code = 'c17' AND msg = 'alpha beta odd'", false),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexed_predicates_equal_a_scan_without_the_index() {
    let conn = Connection::connect("memory://").expect("connect");
    table(&conn, 3, 2_000, 1_000..1_010).await;
    let sql = SqlContext::new(&conn).await.expect("context");
    for (predicate, nonempty) in NARROWED {
        let indexed = same_as_unindexed(&sql, predicate).await;
        assert_eq!(!indexed.is_empty(), *nonempty, "{predicate}");
    }
    // An IN list longer than one merged index query holds.
    let values: Vec<String> = (0..1_200)
        .map(|i| format!("'c{}'", i * 7 % 1_300))
        .collect();
    let long_in = format!("code IN ({})", values.join(", "));
    assert!(!same_as_unindexed(&sql, &long_in).await.is_empty());
    // Both scans answered above: a few candidates are taken row by row, a
    // large share of the rows goes through the Parquet scan.
    for (predicate, scan) in [
        ("code = 'c17'", "TakeScan"),
        ("code = 'c500 zz' AND n > 1", "TakeScan"),
        ("matches(msg, 'alpha')", "DataSourceExec"),
        ("n = 3", "DataSourceExec"),
    ] {
        let query = format!("SELECT * FROM logs WHERE {predicate}");
        assert_eq!(scan_kind(&sql, &query).await, scan, "{predicate}");
    }
    // Multi-word values on a text column, any case in the data.
    for predicate in [
        "msg = 'alpha beta Even'",
        "msg IN ('disk net odd', 'warn warn Even')",
    ] {
        let indexed = lines(&run(&sql, &format!("SELECT id FROM logs WHERE {predicate}")).await);
        let plain = lines(
            &run(
                &sql,
                &format!(
                    "SELECT id FROM logs WHERE {}",
                    predicate.replace("msg ", "concat(msg, '') ")
                ),
            )
            .await,
        );
        assert_eq!(indexed, plain, "{predicate}");
        assert!(!indexed.is_empty(), "{predicate}");
    }
}

fn sorted_ids(batches: &[RecordBatch]) -> Vec<u64> {
    let mut ids: Vec<u64> = batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<UInt64Type>().values().to_vec())
        .collect();
    ids.sort_unstable();
    ids
}

async fn search_ids(t: &Table, column: &str, query: &str) -> Vec<u64> {
    let mut ids: Vec<u64> = t
        .search_hits(column, query, usize::MAX >> 1)
        .await
        .expect("search")
        .into_iter()
        .map(|h| h.id)
        .collect();
    ids.sort_unstable();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matches_is_the_index_answer() {
    let conn = Connection::connect("memory://").expect("connect");
    let t = table(&conn, 3, 2_000, 0..0).await;
    let sql = SqlContext::new(&conn).await.expect("context");
    for query in [
        "alpha",
        "alpha AND NOT beta",
        "disk OR net",
        "+even gamma",
        "nothing",
    ] {
        let got = sorted_ids(
            &run(
                &sql,
                &format!("SELECT _id FROM logs WHERE matches(msg, '{query}')"),
            )
            .await,
        );
        assert_eq!(got, search_ids(&t, "msg", query).await, "{query}");
    }
    let mut either = search_ids(&t, "msg", "delta").await;
    either.extend(search_ids(&t, "code", "c5").await);
    either.sort_unstable();
    either.dedup();
    let got = run(
        &sql,
        "SELECT _id FROM logs WHERE matches(msg, 'delta') OR matches(code, 'c5')",
    )
    .await;
    assert_eq!(sorted_ids(&got), either);

    // With an ordinary predicate beside it.
    let alpha = search_ids(&t, "msg", "alpha").await;
    let small_n = sorted_ids(&run(&sql, "SELECT _id FROM logs WHERE n > 4").await);
    let both: Vec<u64> = alpha
        .iter()
        .copied()
        .filter(|id| small_n.binary_search(id).is_ok())
        .collect();
    let got = run(
        &sql,
        "SELECT _id FROM logs WHERE matches(msg, 'alpha') AND n > 4",
    )
    .await;
    assert_eq!(sorted_ids(&got), both);
    assert!(!both.is_empty());

    for bad in [
        "SELECT matches(msg, 'alpha') FROM logs",
        "SELECT _id FROM logs WHERE matches(msg, 'alpha') OR n > 4",
        "SELECT _id FROM logs WHERE matches(code_copy, 'c5')",
    ] {
        let err = sql.sql(bad).await.expect_err(bad);
        assert!(matches!(err, SqlError::DataFusion(_)), "{bad}: {err}");
        assert!(err.to_string().contains("full-text index"), "{bad}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_rows_are_not_read() {
    let conn = Connection::connect("memory://").expect("connect");
    let t = table(&conn, 3, 1_000, 0..0).await;
    let before = SqlContext::new(&conn).await.expect("context");
    let expected = lines(&run(&before, "SELECT * FROM logs WHERE n <> 3 OR id % 2 = 1").await);
    let kept_c17 = lines(
        &run(
            &before,
            "SELECT id FROM logs WHERE code = 'c17' AND (n <> 3 OR id % 2 = 1)",
        )
        .await,
    );
    // A fifth of the rows: too many to take one by one, so the scan reads
    // the row groups holding them — less the deleted rows.
    let list: Vec<String> = (0..200).map(|i| format!("'c{}'", i * 5)).collect();
    let broad = format!("code IN ({})", list.join(", "));
    let kept_broad = lines(
        &run(
            &before,
            &format!("SELECT * FROM logs WHERE {broad} AND (n <> 3 OR id % 2 = 1)"),
        )
        .await,
    );
    t.delete("n = 3 AND id % 2 = 0").await.expect("delete");
    let after = SqlContext::new(&conn).await.expect("context");
    assert_eq!(lines(&run(&after, "SELECT * FROM logs").await), expected);
    assert_eq!(
        lines(&run(&after, "SELECT id FROM logs WHERE code = 'c17'").await),
        kept_c17
    );
    let query = format!("SELECT * FROM logs WHERE {broad}");
    assert_eq!(scan_kind(&after, &query).await, "DataSourceExec");
    assert_eq!(lines(&run(&after, &query).await), kept_broad);
    assert!(kept_broad.len() > 100, "{}", kept_broad.len());
    assert_eq!(
        lines(&run(&after, "SELECT count(*) FROM logs").await),
        [expected.len().to_string()]
    );
    // The earlier context still reads its own snapshot.
    assert_eq!(
        lines(&run(&before, "SELECT count(*) FROM logs").await),
        ["3000"]
    );
}

/// The rows of `SELECT *` under `predicate` on `code`, checked equal to
/// the same predicate on the unindexed copy of the column — twice, as a
/// second take reads the page directory the first one filled.
async fn same_as_unindexed(sql: &SqlContext, predicate: &str) -> Vec<String> {
    let query = format!("SELECT * FROM logs WHERE {predicate}");
    let indexed = lines(&run(sql, &query).await);
    let copy = predicate.replace("code ", "code_copy ");
    let plain = lines(&run(sql, &format!("SELECT * FROM logs WHERE {copy}")).await);
    assert_eq!(indexed, plain, "{predicate}");
    assert_eq!(lines(&run(sql, &query).await), plain, "again: {predicate}");
    indexed
}

/// The name of the scan that reads the table in `query`'s plan.
async fn scan_kind(sql: &SqlContext, query: &str) -> String {
    fn find(plan: &Arc<dyn ExecutionPlan>) -> Option<String> {
        if matches!(plan.name(), "DataSourceExec" | "TakeScan") {
            return Some(plan.name().to_owned());
        }
        plan.children().into_iter().find_map(find)
    }
    find(&physical_plan(sql, query).await).unwrap_or_default()
}

/// Rows the scans of `plan` produced.
fn scanned_rows(plan: &Arc<dyn ExecutionPlan>) -> usize {
    // The Parquet scan, or the scan that reads rows value by value.
    let own = if matches!(plan.name(), "DataSourceExec" | "TakeScan") {
        plan.metrics().and_then(|m| m.output_rows()).unwrap_or(0)
    } else {
        0
    };
    own + plan.children().into_iter().map(scanned_rows).sum::<usize>()
}

/// (rows out, rows the scan decoded, store bytes read, store requests).
async fn measure(sql: &SqlContext, conn: &Connection, query: &str) -> (usize, usize, u64, u64) {
    let before = conn.store().stats();
    let plan = physical_plan(sql, query).await;
    let out = collect(Arc::clone(&plan), sql.session().task_ctx())
        .await
        .expect("run");
    let io = conn.store().stats().since(&before);
    let rows = out.iter().map(RecordBatch::num_rows).sum();
    (
        rows,
        scanned_rows(&plan),
        io.bytes_read,
        io.total_requests(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushdown_reads_only_candidates() {
    // No coalescing of near ranges, so the bytes read are the pages asked for.
    let conn = Connection::connect_with("memory://", [("coalesce_gap", "0")]).expect("connect");
    // 0.1 % selectivity: 80 of 80,000 rows, in consecutive rows of one file.
    table(&conn, 2, 40_000, 10_000..10_080).await;
    let sql = SqlContext::new(&conn).await.expect("context");
    // Warm DataFusion's footer cache so both queries pay only for data.
    run(&sql, "SELECT count(*) FROM logs WHERE n = 99").await;

    // (Not `id`: its 40,000 distinct values make one dictionary page that
    // any read of the column fetches whole.)
    let query = "SELECT msg, n FROM logs WHERE code = 'c500 zz'";
    // The first run also fetches the full-text regions of the files whose
    // term filters may hold the value; the snapshot keeps them.
    let cold = measure(&sql, &conn, query).await;
    let indexed = measure(&sql, &conn, query).await;
    let scan = measure(
        &sql,
        &conn,
        "SELECT msg, n FROM logs WHERE code_copy = 'c500 zz'",
    )
    .await;
    eprintln!(
        "(rows, decoded, bytes, requests): indexed cold {cold:?}, warm {indexed:?}; full scan {scan:?}"
    );
    assert_eq!((cold.0, indexed.0, scan.0), (80, 80, 80));
    // The index decodes exactly the candidate rows; the scan decodes all.
    assert_eq!((cold.1, indexed.1), (80, 80));
    assert_eq!(scan.1, 80_000);
    // And reads only the pages holding them.
    assert!(indexed.2 * 5 < scan.2, "{indexed:?} vs {scan:?}");

    // An absent term opens no superfile: not one request.
    let absent = measure(&sql, &conn, "SELECT id FROM logs WHERE code = 'c1234'").await;
    assert_eq!(absent, (0, 0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_and_token_match() {
    let conn = Connection::connect("memory://").expect("connect");
    let t = table(&conn, 3, 1_500, 700..720).await;
    let sql = SqlContext::new(&conn).await.expect("context");
    // The same rows as the Table methods (which return them in `_id` order).
    for value in ["c500 zz", "c17", "C17", "nothing"] {
        let hits = t
            .exact_match_hits("code", value, usize::MAX)
            .await
            .expect("exact");
        let want: Vec<u64> = hits.iter().map(|h| h.id).collect();
        let got = run(
            &sql,
            &format!("SELECT _id FROM exact_match('logs', 'code', '{value}') ORDER BY _id"),
        )
        .await;
        assert_eq!(sorted_ids(&got), want, "{value}");
    }
    for (text, mode) in [("alpha beta", MatchMode::All), ("disk net", MatchMode::Any)] {
        let hits = t
            .token_match_hits("msg", text, mode, usize::MAX)
            .await
            .expect("tokens");
        let want: Vec<u64> = hits.iter().map(|h| h.id).collect();
        let name = if mode == MatchMode::All { "all" } else { "any" };
        let got = run(
            &sql,
            &format!("SELECT _id FROM token_match('logs', 'msg', '{text}', '{name}')"),
        )
        .await;
        assert_eq!(sorted_ids(&got), want, "{text} {name}");
    }
    for (call, oracle) in [
        (
            "exact_match('logs', 'code', 'c500 zz')",
            "logs WHERE code_copy = 'c500 zz'",
        ),
        (
            "exact_match(logs, code, 'c17')",
            "logs WHERE code_copy = 'c17'",
        ),
        ("exact_match('logs', 'n', 3)", "logs WHERE n = 3"),
        ("exact_match('logs', 'code', 'nothing')", "logs WHERE false"),
    ] {
        let got = lines(&run(&sql, &format!("SELECT _id, _score, id, code FROM {call}")).await);
        let expected = lines(
            &run(
                &sql,
                &format!("SELECT _id, CAST(1 AS REAL), id, code FROM {oracle}"),
            )
            .await,
        );
        assert_eq!(got, expected, "{call}");
    }

    // token_match against the analyzer applied to every row.
    let analyzer = infino_fts::Analyzer::new(FtsConfig::default().analyzer).expect("analyzer");
    let all_rows = run(&sql, "SELECT _id, msg FROM logs").await;
    let mut rows: Vec<(u64, Vec<String>)> = Vec::new();
    for b in &all_rows {
        let ids = b.column(0).as_primitive::<UInt64Type>();
        let msgs = b.column(1).as_string_view();
        for i in 0..b.num_rows() {
            let terms = msgs.is_valid(i).then(|| analyzer.terms(msgs.value(i)));
            rows.push((ids.value(i), terms.unwrap_or_default()));
        }
    }
    for (text, mode) in [
        ("alpha beta", "all"),
        ("Alpha, beta!", "any"),
        ("disk even", "ALL"),
        ("the", "any"),
        ("zebra", "any"),
    ] {
        let wanted = analyzer.terms(text);
        let mut expected: Vec<u64> = rows
            .iter()
            .filter(|(_, terms)| {
                let has = |w: &String| terms.contains(w);
                !wanted.is_empty()
                    && if mode.eq_ignore_ascii_case("all") {
                        wanted.iter().all(has)
                    } else {
                        wanted.iter().any(has)
                    }
            })
            .map(|(id, _)| *id)
            .collect();
        expected.sort_unstable();
        let got = run(
            &sql,
            &format!("SELECT _id FROM token_match('logs', 'msg', '{text}', '{mode}')"),
        )
        .await;
        assert_eq!(sorted_ids(&got), expected, "{text} {mode}");
    }
    // Composes: a join back to the table.
    let joined = run(
        &sql,
        "SELECT l.n, count(*) FROM token_match('logs', 'msg', 'disk', 'any') t \
         JOIN logs l ON t._id = l._id GROUP BY l.n",
    )
    .await;
    let plain = run(
        &sql,
        "SELECT n, count(*) FROM logs WHERE matches(msg, 'disk') GROUP BY n",
    )
    .await;
    assert_eq!(lines(&joined), lines(&plain));

    for (bad, needle) in [
        (
            "SELECT * FROM token_match('logs', 'msg', 'a', 'some')",
            "mode must be",
        ),
        (
            "SELECT * FROM token_match('logs', 'code_copy', 'a', 'any')",
            "no full-text index",
        ),
        (
            "SELECT * FROM exact_match('logs', 'nope', 'a')",
            "no column nope",
        ),
        (
            "SELECT * FROM exact_match('logs', 'code')",
            "takes (table, column, value)",
        ),
    ] {
        let err = sql.sql(bad).await.expect_err(bad);
        assert!(matches!(err, SqlError::DataFusion(_)), "{bad}: {err}");
        assert!(err.to_string().contains(needle), "{bad}: {err}");
    }
}

#[tokio::test]
async fn a_dropped_table_is_a_typed_error() {
    let conn = Connection::connect("memory://").expect("connect");
    table(&conn, 1, 100, 0..0).await;
    conn.drop_table("logs").await.expect("drop");
    let sql = SqlContext::new(&conn).await.expect("context");
    for (query, needle) in [
        ("SELECT count(*) FROM logs", "logs"),
        (
            "SELECT * FROM bm25_search('logs', 'msg', 'alpha', 3)",
            "no table named logs",
        ),
        (
            "SELECT * FROM exact_match('logs', 'code', 'c1')",
            "no table named logs",
        ),
    ] {
        let err = sql.sql(query).await.expect_err(query);
        assert!(matches!(err, SqlError::DataFusion(_)), "{query}: {err}");
        assert!(err.to_string().contains(needle), "{query}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compacted_files_answer_by_id() {
    let conn = Connection::connect("memory://").expect("connect");
    let t = table(&conn, 3, 1_000, 0..0).await;
    let t = t
        .delete("id % 5 = 0 AND n <> 6")
        .await
        .expect("delete")
        .table;
    let before = SqlContext::new(&conn).await.expect("context");
    let queries = [
        "SELECT _id, id, code FROM logs WHERE code = 'c17'",
        "SELECT _id, id FROM logs WHERE code IN ('c5', 'c900') OR code = 'c41'",
        "SELECT _id, msg FROM logs WHERE matches(msg, 'alpha AND NOT odd')",
        "SELECT count(*), sum(n) FROM logs",
    ];
    let mut expected = Vec::new();
    for q in queries {
        expected.push(lines(&run(&before, q).await));
    }
    let compacted = t
        .optimize(&infino_table::OptimizeOptions::with_target_rows(10_000))
        .await
        .expect("optimize")
        .table;
    assert!(
        compacted
            .manifest()
            .files
            .iter()
            .any(|f| f.max_id.is_some()),
        "compaction should leave a file with gaps in its ids"
    );
    let after = SqlContext::new(&conn).await.expect("context");
    for (q, want) in queries.iter().zip(&expected) {
        assert_eq!(&lines(&run(&after, q).await), want, "{q}");
        assert!(!want.is_empty(), "{q}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_summaries_skip_files_before_opening_them() {
    let conn = Connection::connect("memory://").expect("connect");
    table(&conn, 3, 1_000, 0..0).await;
    // A fresh context per query, so no file's metadata is cached yet.
    let cost = async |query: &str| {
        let sql = SqlContext::new(&conn).await.expect("context");
        measure(&sql, &conn, query).await
    };
    let one = cost("SELECT count(*) FROM logs WHERE id >= 2500").await;
    let all = cost("SELECT count(*) FROM logs WHERE n = 3").await;
    let by_id = cost("SELECT count(*) FROM logs WHERE _id < 10").await;
    let none = cost("SELECT count(*) FROM logs WHERE id > 1000000").await;
    eprintln!(
        "(rows, decoded, bytes, requests): one file {one:?}, all {all:?}, _id {by_id:?}, none {none:?}"
    );
    assert_eq!(
        (one.1, all.1),
        (1_000, 3_000),
        "rows decoded: one file vs all"
    );
    assert!(one.3 > 0 && one.3 * 2 < all.3, "{one:?} vs {all:?}");
    assert_eq!(by_id.1, 1_000);
    assert_eq!((none.1, none.2, none.3), (0, 0, 0));
}
