//! `EXPLAIN` shows what infino decided before DataFusion's Parquet scan:
//! the predicates the full-text index answered, the files the manifest's
//! summaries or the index ruled out, and the rows left selected — each
//! number checked against the data the test wrote and the rows the query
//! returns.

use std::sync::Arc;

use arrow::array::{AsArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use infino_fts::FtsConfig;
use infino_sql::SqlContext;
use infino_superfile::IndexSpec;
use infino_table::{Connection, RowFilter};

/// Rows per file; three files.
const PER_FILE: i64 = 1_000;
const FILES: i64 = 3;
/// Rows holding the word `needle`, all in the middle file.
const NEEDLES: std::ops::Range<i64> = 1_500..1_510;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("code", DataType::Utf8, false),
    ]))
}

fn rows(range: std::ops::Range<i64>) -> RecordBatch {
    let codes = StringArray::from_iter_values(range.clone().map(|i| {
        if NEEDLES.contains(&i) {
            format!("needle c{}", i % 50)
        } else {
            format!("c{}", i % 50)
        }
    }));
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(range)),
            Arc::new(codes),
        ],
    )
    .expect("rows")
}

/// The physical plan's scan line for `query`, and the query's row count.
async fn scan_line(sql: &SqlContext, query: &str) -> (String, usize) {
    let plan = sql
        .sql(&format!("EXPLAIN {query}"))
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    let text: Vec<String> = plan
        .iter()
        .flat_map(|b| {
            b.column(1)
                .as_string::<i32>()
                .iter()
                .flatten()
                .flat_map(str::lines)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    let line = text
        .iter()
        .find(|l| l.contains("infino: table="))
        .unwrap_or_else(|| panic!("{query}: no scan in {text:#?}"))
        .clone();
    let out = sql.sql(query).await.expect("query");
    (line, out.iter().map(RecordBatch::num_rows).sum())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_labels_index_pushdown_and_manifest_pruning() {
    let conn = Connection::connect("memory://").expect("connect");
    let spec = IndexSpec::default().with_fts("code", FtsConfig::default());
    let mut t = conn
        .create_table("codes", schema(), &spec)
        .await
        .expect("create");
    for f in 0..FILES {
        t = t
            .append(&[rows(f * PER_FILE..(f + 1) * PER_FILE)])
            .await
            .expect("append");
    }
    let sql = SqlContext::new(&conn).await.expect("context");
    let version = t.version();
    let files_holding = |pred: &dyn Fn(i64) -> bool| {
        (0..FILES)
            .filter(|f| (f * PER_FILE..(f + 1) * PER_FILE).any(pred))
            .count()
    };

    // The index answers `matches`: only the middle file holds the word.
    let (line, returned) =
        scan_line(&sql, "SELECT id FROM codes WHERE matches(code, 'needle')").await;
    let holding = files_holding(&|i| NEEDLES.contains(&i));
    assert_eq!(returned, NEEDLES.count());
    for part in [
        format!("infino: table=codes version={version} fts_index_pushdown=[matches("),
        format!("files={holding}/{FILES} pruned_by_manifest=0"),
        format!("no_index_candidates={}", FILES as usize - holding),
        format!("selected_rows={returned} row_selected_files={holding}"),
    ] {
        assert!(line.contains(&part), "{part} not in {line}");
    }

    // The manifest's bounds rule out the files below 2,500; no index.
    let (line, returned) = scan_line(&sql, "SELECT id FROM codes WHERE id >= 2500").await;
    let holding = files_holding(&|i| i >= 2_500);
    assert_eq!(returned, (2_500..FILES * PER_FILE).count());
    for part in [
        "fts_index_pushdown=[]".to_owned(),
        format!(
            "files={holding}/{FILES} pruned_by_manifest={}",
            FILES as usize - holding
        ),
        "no_index_candidates=0 selected_rows=0 row_selected_files=0".to_owned(),
    ] {
        assert!(line.contains(&part), "{part} not in {line}");
    }

    // Deleted rows are a row selection too.
    let t = t
        .delete(RowFilter::from("id < 10"))
        .await
        .expect("delete")
        .table;
    let sql = SqlContext::new(&conn).await.expect("context");
    let (line, returned) = scan_line(&sql, "SELECT id FROM codes WHERE id < 500").await;
    assert_eq!(returned, (10..500).count());
    let part = format!(
        "version={} fts_index_pushdown=[] files=1/{FILES} pruned_by_manifest={} \
         no_index_candidates=0 selected_rows={} row_selected_files=1",
        t.version(),
        FILES - 1,
        PER_FILE - 10
    );
    assert!(line.contains(&part), "{part} not in {line}");
}
