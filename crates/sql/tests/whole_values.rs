//! Equality on a whole-values column (every value one term, spelled as the
//! value): the index alone answers it, so no filter runs above the scan and
//! the column is not read to re-check it. The rows are those of the same
//! predicate on an unindexed copy of the column, whether the scan takes
//! rows one by one or reads whole row groups (and then re-checks), with
//! deletions and limits; one file with other values keeps the re-check.

use std::sync::Arc;

use arrow::array::{Int32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::physical_plan::displayable;
use infino_fts::FtsConfig;
use infino_sql::SqlContext;
use infino_superfile::IndexSpec;
use infino_table::{Connection, Table};

use crate::common::{lines, physical_plan};

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("code", DataType::Utf8, true),
        Field::new("code_copy", DataType::Utf8, true),
        Field::new("n", DataType::Int32, false),
    ]))
}

/// Codes `{prefix}0`..`{prefix}299` in a scattered order, a null every 23
/// rows; with `odd`, one row holds `C7 x`, which is not its own term.
fn rows(range: std::ops::Range<i64>, odd: bool, prefix: char) -> RecordBatch {
    let codes: Vec<Option<String>> = range
        .clone()
        .map(|i| {
            if odd && i == range.start + 5 {
                Some("C7 x".to_owned())
            } else if i % 23 == 0 {
                None
            } else {
                Some(format!("{prefix}{}", (i * 7_919 + 13) % 300))
            }
        })
        .collect();
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(range.clone())),
            Arc::new(StringArray::from(codes.clone())),
            Arc::new(StringArray::from(codes)),
            Arc::new(Int32Array::from_iter_values(range.map(|i| (i % 7) as i32))),
        ],
    )
    .expect("rows")
}

/// Table `tags`: `files` appends of 3,000 rows; file `odd` (if any) holds
/// one value that is not its own term.
async fn tags(conn: &Connection, files: i64, odd: Option<i64>) -> Table {
    let spec = IndexSpec::default().with_fts("code", FtsConfig::default());
    let mut t = conn
        .create_table("tags", schema(), &spec)
        .await
        .expect("create");
    for f in 0..files {
        t = t
            .append(&[rows(f * 3_000..(f + 1) * 3_000, odd == Some(f), 'c')])
            .await
            .expect("append");
    }
    t
}

async fn run(sql: &SqlContext, query: &str) -> Vec<String> {
    lines(
        &sql.sql(query)
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}")),
    )
}

/// `select` under `predicate`, checked equal to the same on `code_copy`.
async fn same_as_copy(sql: &SqlContext, select: &str, predicate: &str) -> Vec<String> {
    let indexed = run(sql, &format!("{select} WHERE {predicate}")).await;
    let copy = predicate.replace("code ", "code_copy ");
    let plain = run(sql, &format!("{select} WHERE {copy}")).await;
    assert_eq!(indexed, plain, "{select} WHERE {predicate}");
    indexed
}

/// The physical plan of `query`, as EXPLAIN prints it.
async fn plan(sql: &SqlContext, query: &str) -> String {
    displayable(physical_plan(sql, query).await.as_ref())
        .indent(true)
        .to_string()
}

/// An `IN` list of 60 of the 300 codes: a fifth of the rows, too many to
/// take one by one.
fn broad() -> String {
    let list: Vec<String> = (0..60).map(|i| format!("'c{}'", i * 5)).collect();
    format!("code IN ({})", list.join(", "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn equality_on_whole_values_needs_no_recheck() {
    let conn = Connection::connect("memory://").expect("connect");
    let t = tags(&conn, 3, None).await;
    assert!(t.manifest().whole_values("code"));
    let sql = SqlContext::new(&conn).await.expect("context");
    // An absent value opens no file: its terms' row bound reads only the
    // files whose term blooms admit it.
    let before = conn.store().stats();
    assert!(
        run(&sql, "SELECT id FROM tags WHERE code = 'c999'")
            .await
            .is_empty()
    );
    assert_eq!(conn.store().stats().since(&before).total_requests(), 0);
    let broad = broad();
    let predicates = [
        ("code = 'c17'", true),
        ("code IN ('c17', 'c40', 'nothing')", true),
        ("code = 'c17' OR code = 'c18'", true),
        ("code = 'c17' AND n > 3", true),
        ("(code = 'c17' OR n = 2) AND id < 500", true),
        ("NOT (code = 'c17') AND id < 40", true),
        ("code = 'C17'", false),
        ("code = 'c17 c18'", false),
        ("code = ''", false),
        ("code = 'c17' AND code = 'c18'", false),
        (broad.as_str(), true),
        (&format!("{broad} AND n = 2"), true),
    ];
    for (predicate, nonempty) in predicates {
        for select in [
            "SELECT * FROM tags",
            "SELECT id, n FROM tags",
            "SELECT count(*) FROM tags",
        ] {
            let rows = same_as_copy(&sql, select, predicate).await;
            if select.contains("count") {
                assert_eq!(rows != ["0"], nonempty, "{predicate}");
            } else {
                assert_eq!(!rows.is_empty(), nonempty, "{predicate}");
            }
        }
    }
    assert!(
        run(&sql, &format!("SELECT id FROM tags WHERE {broad}"))
            .await
            .len()
            > 1_000
    );

    // Few rows: a take of `id` alone, nothing above it.
    let few = plan(&sql, "SELECT id FROM tags WHERE code IN ('c17', 'c18')").await;
    assert!(few.contains("TakeScan"), "{few}");
    assert!(few.contains("projection=[id]"), "{few}");
    assert!(!few.contains("FilterExec"), "{few}");
    // Many rows, by the terms' document counts alone: no index lookup, a
    // plain scan re-checked by its own filter.
    let query = format!("SELECT id FROM tags WHERE {broad}");
    let many = plan(&sql, &query).await;
    assert!(many.contains("index_skipped=broad"), "{many}");
    assert!(many.contains("fts_index_pushdown=[]"), "{many}");
    assert!(many.contains("FilterExec"), "{many}");
    // A limit is applied after that re-check, not before.
    let all = run(&sql, &query).await;
    let limited = run(&sql, &format!("{query} LIMIT 7")).await;
    assert_eq!(limited.len(), 7);
    assert!(limited.iter().all(|id| all.contains(id)), "{limited:?}");
    // A value that is not its own term is re-checked above the scan.
    let cased = plan(&sql, "SELECT id FROM tags WHERE code = 'C17'").await;
    assert!(cased.contains("FilterExec"), "{cased}");

    // Deleted rows stay out of both scans.
    let kept = |p: &str| format!("{p} AND (n <> 3 OR id % 2 = 1)");
    let expected = [
        run(
            &sql,
            &format!("SELECT * FROM tags WHERE {}", kept("code = 'c17'")),
        )
        .await,
        run(&sql, &format!("SELECT * FROM tags WHERE {}", kept(&broad))).await,
    ];
    t.delete("n = 3 AND id % 2 = 0").await.expect("delete");
    let after = SqlContext::new(&conn).await.expect("context");
    for (predicate, expected) in ["code = 'c17'", broad.as_str()].iter().zip(expected) {
        let rows = same_as_copy(&after, "SELECT * FROM tags", predicate).await;
        assert_eq!(rows, expected, "{predicate}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_rows_of_few_files_are_read_by_row_group_and_re_checked() {
    // The `c` codes live in one file of four: few rows of the table, too
    // many of that file for a take.
    let conn = Connection::connect("memory://").expect("connect");
    let t = tags(&conn, 1, None).await;
    for f in 1..4 {
        t.append(&[rows(f * 3_000..(f + 1) * 3_000, false, 'd')])
            .await
            .expect("append");
    }
    let sql = SqlContext::new(&conn).await.expect("context");
    let broad = broad();
    let query = format!("SELECT id FROM tags WHERE {broad}");
    let many = plan(&sql, &query).await;
    assert!(many.contains("whole_row_groups=true"), "{many}");
    assert!(!many.contains("index_skipped"), "{many}");
    assert!(many.contains("FilterExec"), "{many}");
    for select in [
        "SELECT * FROM tags",
        "SELECT id FROM tags",
        "SELECT count(*) FROM tags",
    ] {
        same_as_copy(&sql, select, &broad).await;
        same_as_copy(&sql, select, &format!("{broad} AND n = 2")).await;
    }
    assert!(run(&sql, &query).await.len() > 400);
    let limited = run(&sql, &format!("{query} LIMIT 7")).await;
    let all = run(&sql, &query).await;
    assert_eq!(limited.len(), 7);
    assert!(limited.iter().all(|id| all.contains(id)), "{limited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_file_with_other_values_keeps_the_recheck() {
    let conn = Connection::connect("memory://").expect("connect");
    let t = tags(&conn, 3, Some(1)).await;
    let files = &t.manifest().files;
    let whole: Vec<bool> = files
        .iter()
        .map(|f| f.whole_values.contains("code"))
        .collect();
    assert_eq!(whole, [true, false, true]);
    assert!(!t.manifest().whole_values("code"));
    let sql = SqlContext::new(&conn).await.expect("context");
    let query = "SELECT id FROM tags WHERE code = 'c7'";
    assert!(plan(&sql, query).await.contains("FilterExec"));
    for predicate in ["code = 'c7'", "code IN ('c7', 'x')", "code = 'C7 x'"] {
        assert!(
            !same_as_copy(&sql, "SELECT id FROM tags", predicate)
                .await
                .is_empty()
        );
    }
}
