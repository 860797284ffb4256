//! A SQL query's cost: `SqlContext::sql_with_cost` reports exactly what the
//! store-wide counter saw for the query (kind by kind, bytes, round trips),
//! although DataFusion reads in tasks of its own, and a budget too small
//! for the query stops it with a typed error before the refused request is
//! sent. On memory and on SeaweedFS (S3).

use std::sync::Arc;

use arrow::array::{Int32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use infino_fts::FtsConfig;
use infino_sql::{SqlContext, SqlError};
use infino_store::{Budget, BudgetExceeded, BudgetLimit, CostScope, PriceTable, RequestKind};
use infino_superfile::IndexSpec;
use infino_table::{Connection, RowFilter};
use infino_testkit::server::{ObjectStoreServer, ServerKind};

use crate::common::lines;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("tag", DataType::Utf8, true),
        Field::new("n", DataType::Int32, false),
    ]))
}

fn rows(range: std::ops::Range<i64>) -> RecordBatch {
    let tags: StringArray = range
        .clone()
        .map(|i| Some(format!("w{} w{}", i % 97, i % 13)))
        .collect();
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(range.clone())),
            Arc::new(tags),
            Arc::new(Int32Array::from_iter_values(range.map(|i| (i % 7) as i32))),
        ],
    )
    .expect("rows")
}

/// Four files of 1,500 rows, some rows deleted (so deletion vectors are
/// read too).
async fn fill(conn: &Connection) {
    let spec = IndexSpec::default().with_fts("tag", FtsConfig::default());
    let mut t = conn
        .create_table("notes", schema(), &spec)
        .await
        .expect("create");
    for f in 0..4 {
        t = t
            .append(&[rows(f * 1_500..(f + 1) * 1_500)])
            .await
            .expect("append");
    }
    t.delete(RowFilter::from("id % 10 = 3"))
        .await
        .expect("delete");
}

/// A scan whose reads run in DataFusion's partition tasks, an index
/// pushdown, and a table function joined with the table.
const QUERIES: [&str; 3] = [
    "SELECT n, count(*) AS c, sum(id) AS s FROM notes WHERE id % 3 = 0 GROUP BY n ORDER BY n",
    "SELECT id, n FROM notes WHERE tag = 'w17' ORDER BY id",
    "SELECT b._id, b._score, t.n FROM bm25_search('notes', 'tag', 'w3 w5', 20) b \
     JOIN notes t ON b._id = t._id ORDER BY b._score DESC, b._id",
];

/// Every query's reported cost equals the store-wide counter's delta, on
/// a context made just for it (so it reads cold); its rows equal the plain
/// query's. Then budgets: one request short fails with the typed error
/// before sending more than the budget, exactly enough passes.
async fn check(conn: &Connection) {
    for query in QUERIES {
        let oracle = SqlContext::new(conn).await.expect("context");
        let expected = lines(&oracle.sql(query).await.expect("plain query"));

        let sql = SqlContext::new(conn).await.expect("context");
        let before = conn.store().stats();
        let (batches, cost) = sql
            .sql_with_cost(query, Budget::UNLIMITED, PriceTable::default())
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"));
        let seen = conn.store().stats().since(&before);
        assert_eq!(lines(&batches), expected, "{query}");
        assert!(cost.io.requests(RequestKind::Get) > 0, "{query}: {cost}");
        for kind in [
            RequestKind::Get,
            RequestKind::Head,
            RequestKind::Put,
            RequestKind::List,
            RequestKind::Delete,
            RequestKind::Copy,
        ] {
            assert_eq!(
                cost.io.requests(kind),
                seen.requests(kind),
                "{query}: {kind:?}"
            );
        }
        // Bytes and cache counts too; round trips are timing (the scope's
        // layer wraps the store-wide one, so it can only see more overlap).
        assert_eq!(
            (cost.io.bytes_read, cost.io.bytes_written),
            (seen.bytes_read, seen.bytes_written),
            "{query}"
        );
        assert_eq!(
            (cost.io.cache_hits, cost.io.cache_misses),
            (seen.cache_hits, seen.cache_misses),
            "{query}"
        );
        assert!(cost.io.round_trips <= seen.round_trips, "{query}");
        assert_eq!(
            cost.estimated_usd,
            PriceTable::default().estimate(&seen),
            "{query}"
        );

        let n = cost.io.total_requests();
        let tight = Budget {
            max_requests: Some(n - 1),
            max_bytes: None,
        };
        let cold = SqlContext::new(conn).await.expect("context");
        let before = conn.store().stats();
        let err = cold
            .sql_with_cost(query, tight, PriceTable::default())
            .await
            .expect_err("one request short of the budget");
        let sent = conn.store().stats().since(&before);
        match &err {
            SqlError::BudgetExceeded { exceeded, cost } => {
                assert_eq!(exceeded.limit, BudgetLimit::Requests, "{query}");
                assert_eq!(exceeded.max, n - 1, "{query}");
                assert!(cost.io.total_requests() < n, "{query}: {cost}");
            }
            other => panic!("{query}: not a budget error: {other}"),
        }
        assert!(sent.total_requests() < n, "{query}: {sent}");
        assert_eq!(BudgetExceeded::find(&err).map(|e| e.max), Some(n - 1));

        let enough = Budget {
            max_requests: Some(n),
            max_bytes: Some(cost.io.bytes_read + cost.io.bytes_written),
        };
        let cold = SqlContext::new(conn).await.expect("context");
        let (batches, again) = cold
            .sql_with_cost(query, enough, PriceTable::default())
            .await
            .unwrap_or_else(|e| panic!("{query} within its budget: {e}"));
        assert_eq!(lines(&batches), expected, "{query}");
        assert_eq!(again.io.total_requests(), n, "{query}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_cost_is_exact_and_budgets_stop_queries_on_memory() {
    let conn = Connection::connect("memory://").expect("connect");
    fill(&conn).await;
    check(&conn).await;

    // Why the query carries its own store handle: a scope around the plain
    // query misses the reads DataFusion makes on its partition tasks.
    let sql = SqlContext::new(&conn).await.expect("context");
    let scope = CostScope::default();
    let before = conn.store().stats();
    scope.run(sql.sql(QUERIES[0])).await.expect("query");
    let seen = conn.store().stats().since(&before);
    assert!(
        scope.stats().total_requests() < seen.total_requests(),
        "{} vs {seen}",
        scope.cost()
    );

    // A budget of no requests stops a plain scan (refused in a partition
    // task, through Parquet) and a table function (refused in the table
    // layer) alike.
    let none = Budget {
        max_requests: Some(0),
        max_bytes: None,
    };
    for query in [
        "SELECT count(*) FROM notes WHERE n = 3",
        "SELECT _id FROM bm25_search('notes', 'tag', 'w1', 5)",
    ] {
        let sql = SqlContext::new(&conn).await.expect("context");
        let before = conn.store().stats();
        let err = sql
            .sql_with_cost(query, none, PriceTable::default())
            .await
            .expect_err("no request allowed");
        assert!(
            matches!(err, SqlError::BudgetExceeded { cost, .. } if cost.io.total_requests() == 0),
            "{query}: {err}"
        );
        assert_eq!(conn.store().stats().since(&before).total_requests(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_cost_is_exact_and_budgets_stop_queries_on_seaweedfs() {
    let Some(server) = ObjectStoreServer::start_or_skip(ServerKind::SeaweedFs) else {
        return;
    };
    let conn =
        Connection::connect_with(&server.uri("sql-cost"), server.options()).expect("connect");
    fill(&conn).await;
    check(&conn).await;
}
