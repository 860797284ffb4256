//! A table search's cost through the whole stack: a `CostScope` around
//! `Table::search` reports exactly the requests the store-wide counter saw
//! (less the cache's own background fills), and with a disk cache a second
//! search on a freshly opened table is served without any request.

use std::sync::Arc;

use infino::arrow::array::{Int64Array, RecordBatch, StringArray};
use infino::arrow::datatypes::{DataType, Field, Schema};
use infino::{CostScope, FtsConfig, IndexSpec, RequestKind};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_search_reports_its_exact_cost_and_then_hits_the_cache() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let uri = format!("memory://query-cost-{}", std::process::id());
    let db = infino::connect_with(&uri, [("cache_dir", dir.path().display().to_string())])?;
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("text", DataType::Utf8, true),
    ]));
    let spec = IndexSpec::default().with_fts("text", FtsConfig::default());
    let mut table = db.create_table("notes", schema.clone(), &spec).await?;
    for (ids, texts) in [
        ([1, 2], ["object storage is cheap", "search must be fast"]),
        ([3, 4], ["fast search over parquet", "nothing to see"]),
    ] {
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(ids.to_vec())),
                Arc::new(StringArray::from(texts.to_vec())),
            ],
        )?;
        table = table.append(&[batch]).await?;
    }
    let store = db.store();
    store.wait_for_cache_fills().await;

    // Cold: a freshly opened table, every superfile read through the scope.
    let table = db.open_table("notes").await?;
    let fills_before = store.cache_stats().expect("cache").fill_requests;
    let before = store.stats();
    let cold = CostScope::default();
    let first = cold
        .run(table.search("text", "fast search", 10, &["id"]))
        .await?;
    store.wait_for_cache_fills().await;
    let fills = store.cache_stats().expect("cache").fill_requests - fills_before;
    let seen = store.stats().since(&before);
    let cost = cold.cost();
    assert_eq!(first.num_rows(), 2);
    assert!(cost.io.requests(RequestKind::Get) > 0, "{cost}");
    assert!(cost.io.cache_misses > 0, "{cost}");
    assert_eq!(
        cost.io.total_requests(),
        seen.total_requests() - fills,
        "{cost} vs {seen}"
    );
    assert_eq!(
        cost.io.requests(RequestKind::Get),
        seen.requests(RequestKind::Get) - fills
    );

    // Warm: another fresh table handle; the superfiles come from the cache.
    let table = db.open_table("notes").await?;
    let before = store.stats();
    let warm = CostScope::default();
    let second = warm
        .run(table.search("text", "fast search", 10, &["id"]))
        .await?;
    assert_eq!(second, first);
    let io = warm.stats();
    assert_eq!(io.total_requests(), 0, "{io}");
    assert!(io.cache_hits > 0);
    assert_eq!(store.stats().since(&before).total_requests(), 0);
    Ok(())
}

/// The blocking facade's SQL reports the query's cost and obeys a budget.
#[test]
fn blocking_sql_reports_its_cost_and_obeys_a_budget() -> anyhow::Result<()> {
    use infino::{Budget, PriceTable, SqlError};

    let db = infino::blocking::connect("memory://")?;
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
    let mut table = db.create_table("numbers", schema.clone(), &IndexSpec::default())?;
    for part in [0..100_i64, 100..200] {
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from_iter_values(part))],
        )?;
        table = table.append(&[batch])?;
    }
    let query = "SELECT sum(x) AS s FROM numbers WHERE x % 2 = 0";
    let before = db.0.store().stats();
    let (out, cost) = db.sql_with_cost(query, Budget::UNLIMITED, PriceTable::default())?;
    let seen = db.0.store().stats().since(&before);
    assert_eq!(out, db.sql(query)?);
    // Both files' pages; the catalog reads are the call's, not the query's.
    assert!(cost.io.requests(RequestKind::Get) >= 2, "{cost}");
    assert!(
        cost.io.total_requests() < seen.total_requests(),
        "{cost} vs {seen}"
    );
    let (_, again) = db.sql_with_cost(query, Budget::UNLIMITED, PriceTable::default())?;
    // The same requests and bytes again (round trips are timing).
    assert_eq!(again.io.total_requests(), cost.io.total_requests());
    assert_eq!(again.io.bytes_read, cost.io.bytes_read);

    let short = Budget {
        max_requests: Some(cost.io.total_requests() - 1),
        max_bytes: None,
    };
    match db.sql_with_cost(query, short, PriceTable::default()) {
        Err(SqlError::BudgetExceeded { exceeded, .. }) => {
            assert_eq!(exceeded.max, cost.io.total_requests() - 1);
        }
        other => panic!("expected a budget error, got {other:?}"),
    }
    Ok(())
}
