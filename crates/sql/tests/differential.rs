//! The same SQL over infino tables and over the same rows written as plain
//! Parquet files gives the same rows.

use std::sync::Arc;

use arrow::array::{Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use infino_fts::FtsConfig;
use infino_sql::{SqlContext, SqlError};
use infino_superfile::IndexSpec;
use infino_table::Connection;

use crate::common::lines;

fn orders_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("customer", DataType::Utf8, true),
        Field::new("amount", DataType::Float64, true),
        Field::new("qty", DataType::Int32, false),
        Field::new("note", DataType::Utf8, true),
    ]))
}

fn customers_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("region", DataType::Utf8, true),
    ]))
}

const CUSTOMERS: [&str; 7] = ["ada", "bob", "cy", "dee", "eve", "fay", "gus"];
const WORDS: [&str; 6] = ["rush", "gift", "fragile", "late", "bulk", "repeat"];

fn orders(range: std::ops::Range<i64>) -> RecordBatch {
    let ids = Int64Array::from_iter_values(range.clone());
    let customers: StringArray = range
        .clone()
        .map(|i| (i % 11 != 3).then(|| CUSTOMERS[(i % 7) as usize]))
        .collect();
    let amounts: Float64Array = range
        .clone()
        .map(|i| (i % 13 != 0).then(|| (i * 37 % 1000) as f64 / 10.0))
        .collect();
    let qty = Int32Array::from_iter_values(range.clone().map(|i| (i % 9) as i32 + 1));
    let notes: StringArray = range
        .map(|i| {
            (i % 5 != 0).then(|| {
                format!(
                    "{} {}",
                    WORDS[(i % 6) as usize],
                    WORDS[(i / 6 % 6) as usize]
                )
            })
        })
        .collect();
    RecordBatch::try_new(
        orders_schema(),
        vec![
            Arc::new(ids),
            Arc::new(customers),
            Arc::new(amounts),
            Arc::new(qty),
            Arc::new(notes),
        ],
    )
    .expect("orders")
}

fn customers() -> RecordBatch {
    let names = StringArray::from_iter_values(CUSTOMERS.iter().take(6));
    let regions: StringArray = (0..6)
        .map(|i| (i != 4).then_some(if i % 2 == 0 { "north" } else { "south" }))
        .collect();
    RecordBatch::try_new(customers_schema(), vec![Arc::new(names), Arc::new(regions)])
        .expect("customers")
}

/// Both engines loaded with the same rows.
async fn setup() -> (SqlContext, SessionContext, tempfile::TempDir) {
    let conn = Connection::connect("memory://").expect("connect");
    let spec = IndexSpec::default().with_fts("note", FtsConfig::default());
    let mut t = conn
        .create_table("orders", orders_schema(), &spec)
        .await
        .expect("create");
    for part in [0..400, 400..900, 900..1200] {
        t = t.append(&[orders(part)]).await.expect("append");
    }
    let c = conn
        .create_table("customers", customers_schema(), &IndexSpec::default())
        .await
        .expect("create");
    c.append(&[customers()]).await.expect("append");
    conn.create_table("empty", customers_schema(), &IndexSpec::default())
        .await
        .expect("create");
    let ours = SqlContext::new(&conn).await.expect("sql context");

    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, batches: Vec<RecordBatch>| {
        let path = dir.path().join(format!("{name}.parquet"));
        let file = std::fs::File::create(&path).expect("file");
        let mut w =
            parquet::arrow::ArrowWriter::try_new(file, batches[0].schema(), None).expect("writer");
        for b in &batches {
            w.write(b).expect("write");
        }
        w.close().expect("close");
        path
    };
    let plain = SessionContext::new();
    let o = write(
        "orders",
        vec![orders(0..400), orders(400..900), orders(900..1200)],
    );
    let c = write("customers", vec![customers()]);
    let e = write("empty", vec![RecordBatch::new_empty(customers_schema())]);
    for (name, path) in [("orders", o), ("customers", c), ("empty", e)] {
        plain
            .register_parquet(
                name,
                path.to_str().expect("utf8"),
                ParquetReadOptions::default(),
            )
            .await
            .expect("register");
    }
    (ours, plain, dir)
}

/// The `query` records of `differential.slt` (sqllogictest's record
/// format, without expected rows: the plain-Parquet session is the oracle).
fn queries() -> Vec<String> {
    let mut out = Vec::new();
    for record in include_str!("differential.slt").split("\n\n") {
        let lines: Vec<&str> = record
            .lines()
            .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
            .collect();
        match lines.split_first() {
            None => {}
            Some((&"query", sql)) if !sql.is_empty() => out.push(sql.join("\n")),
            Some((head, _)) => panic!("differential.slt: unknown record {head:?}"),
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_rows_as_datafusion_over_plain_parquet() {
    let (ours, plain, _dir) = setup().await;
    let queries = queries();
    assert!(queries.len() >= 60, "{} queries", queries.len());
    for sql in &queries {
        let a = lines(
            &ours
                .sql(sql)
                .await
                .unwrap_or_else(|e| panic!("infino: {sql}: {e}")),
        );
        let b = lines(
            &plain
                .sql(sql)
                .await
                .expect("plain plan")
                .collect()
                .await
                .expect("plain run"),
        );
        assert_eq!(a, b, "{sql}");
    }
}

#[tokio::test]
async fn ids_are_columns_and_errors_are_typed() {
    let (ours, _plain, _dir) = setup().await;
    let out = lines(
        &ours
            .sql("SELECT count(DISTINCT _id), min(_id), max(_id) FROM orders")
            .await
            .expect("ids"),
    );
    assert_eq!(out, ["1200|0|1199"]);
    let out = lines(
        &ours
            .sql("SELECT id FROM orders WHERE _id = 417")
            .await
            .expect("by id"),
    );
    assert_eq!(out, ["417"]);
    for bad in [
        "SELECT * FROM nowhere",
        "SELECT nope FROM orders",
        "SELEC 1",
        "SELECT customer + 1 FROM orders",
    ] {
        let err = ours.sql(bad).await.expect_err(bad);
        assert!(matches!(err, SqlError::DataFusion(_)), "{bad}: {err}");
        assert!(!err.to_string().is_empty());
    }
    let explain = lines(
        &ours
            .sql("EXPLAIN SELECT id FROM orders WHERE qty = 3")
            .await
            .expect("explain"),
    );
    assert!(
        explain
            .iter()
            .any(|l| l.contains("DataSourceExec") || l.contains("ParquetExec")),
        "{explain:?}"
    );
}
