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
                    WORDS[(i * 7 % 6) as usize]
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

const QUERIES: &[&str] = &[
    "SELECT count(*) FROM orders",
    "SELECT name, region FROM customers",
    "SELECT id, customer FROM orders WHERE id < 20",
    "SELECT id FROM orders WHERE customer = 'bob' AND qty > 5",
    "SELECT id FROM orders WHERE customer IN ('ada', 'eve') OR amount > 99",
    "SELECT id FROM orders WHERE customer IS NULL",
    "SELECT id FROM orders WHERE amount IS NULL AND qty = 3",
    "SELECT id FROM orders WHERE note LIKE '%fragile%'",
    "SELECT id FROM orders WHERE NOT (qty BETWEEN 2 AND 8)",
    "SELECT customer, count(*) AS n FROM orders GROUP BY customer",
    "SELECT customer, sum(amount) AS s, avg(qty) AS q FROM orders GROUP BY customer",
    "SELECT customer, max(amount), min(amount) FROM orders WHERE qty > 4 GROUP BY customer",
    "SELECT customer, count(*) FROM orders GROUP BY customer HAVING count(*) > 160",
    "SELECT count(DISTINCT customer), count(customer), count(amount) FROM orders",
    "SELECT qty, count(*) FROM orders GROUP BY qty ORDER BY qty",
    "SELECT id, amount FROM orders ORDER BY amount DESC NULLS LAST, id LIMIT 15",
    "SELECT id FROM orders ORDER BY id DESC LIMIT 5 OFFSET 10",
    "SELECT o.id, c.region FROM orders o JOIN customers c ON o.customer = c.name WHERE o.id < 50",
    "SELECT c.region, count(*) FROM orders o JOIN customers c ON o.customer = c.name GROUP BY c.region",
    "SELECT c.name, count(o.id) FROM customers c LEFT JOIN orders o ON o.customer = c.name GROUP BY c.name",
    "SELECT o.customer, c.name FROM orders o FULL OUTER JOIN customers c ON o.customer = c.name WHERE o.id IS NULL OR o.id < 10",
    "SELECT id FROM orders WHERE customer IN (SELECT name FROM customers WHERE region = 'north')",
    "SELECT name FROM customers c WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer = c.name AND o.qty = 9)",
    "WITH big AS (SELECT * FROM orders WHERE amount > 90) SELECT customer, count(*) FROM big GROUP BY customer",
    "SELECT id, row_number() OVER (PARTITION BY customer ORDER BY id) AS rn FROM orders WHERE id < 100",
    "SELECT id, sum(qty) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM orders WHERE id < 60",
    "SELECT customer, rank() OVER (ORDER BY sum(amount) DESC) FROM orders GROUP BY customer",
    "SELECT name FROM customers UNION SELECT customer FROM orders WHERE customer IS NOT NULL",
    "SELECT customer FROM orders INTERSECT SELECT name FROM customers",
    "SELECT name FROM customers EXCEPT SELECT customer FROM orders WHERE qty > 8",
    "SELECT CASE WHEN amount > 50 THEN 'high' WHEN amount IS NULL THEN 'none' ELSE 'low' END AS band, count(*) FROM orders GROUP BY band",
    "SELECT upper(customer), length(note), coalesce(amount, -1) FROM orders WHERE id % 97 = 0",
    "SELECT DISTINCT qty % 3 FROM orders",
    "SELECT name, region FROM empty",
    "SELECT count(*) FROM empty",
    "SELECT count(*), sum(qty) FROM orders o, customers c WHERE o.customer = c.name AND c.region IS NULL",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_rows_as_datafusion_over_plain_parquet() {
    let (ours, plain, _dir) = setup().await;
    for sql in QUERIES {
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
