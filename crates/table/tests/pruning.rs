//! Manifest summaries prune files before they are opened: vector search
//! skips files whose centroid and radius put every vector beyond the k-th
//! best, and predicates skip files whose column bounds rule them out.

use std::sync::Arc;

use arrow::array::{FixedSizeListArray, Float32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::DFSchema;
use datafusion::prelude::SessionContext;
use infino_store::RequestKind;
use infino_superfile::IndexSpec;
use infino_table::{Connection, FileStatistics, VectorQuery};
use infino_vector::{BuildParams, Metric, Rerank};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DIM: usize = 16;

fn schema() -> SchemaRef {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("tag", DataType::Utf8, true),
        Field::new("v", DataType::FixedSizeList(item, DIM as i32), false),
    ]))
}

fn batch(first: i64, vectors: &[Vec<f32>]) -> RecordBatch {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let flat: Vec<f32> = vectors.iter().flatten().copied().collect();
    let list =
        FixedSizeListArray::try_new(item, DIM as i32, Arc::new(Float32Array::from(flat)), None)
            .expect("list");
    let n = vectors.len() as i64;
    let tags: StringArray = (0..n)
        .map(|i| Some(format!("t{}", (first + i) % 3)))
        .collect();
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(first..first + n)),
            Arc::new(tags),
            Arc::new(list),
        ],
    )
    .expect("batch")
}

/// 12 files, each holding vectors around its own far-apart centre.
async fn clustered() -> (Connection, infino_table::Table, Vec<Vec<f32>>) {
    let mut rng = StdRng::seed_from_u64(5);
    let conn = Connection::connect("memory://").expect("connect");
    let spec = IndexSpec::default().with_vector(
        "v",
        Metric::L2,
        BuildParams {
            rerank: Rerank::F32,
            ..BuildParams::default()
        },
    );
    let mut t = conn
        .create_table("p", schema(), &spec)
        .await
        .expect("create");
    let mut all = Vec::new();
    for f in 0..12 {
        let centre: Vec<f32> = (0..DIM)
            .map(|d| {
                if d == f % DIM {
                    50.0 * (1 + f / DIM) as f32
                } else {
                    0.0
                }
            })
            .collect();
        let vectors: Vec<Vec<f32>> = (0..100)
            .map(|_| {
                centre
                    .iter()
                    .map(|c| c + rng.random_range(-1.0..1.0))
                    .collect()
            })
            .collect();
        t = t
            .append(&[batch(f as i64 * 100, &vectors)])
            .await
            .expect("append");
        all.extend(vectors);
    }
    (conn, t, all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vector_search_skips_files_beyond_the_kth_best() {
    let (conn, t, all) = clustered().await;
    let query = all[3].clone();
    let before = conn.store().stats();
    let got: Vec<u64> = t
        .vector_search_hits(&VectorQuery {
            exact: true,
            ..VectorQuery::new("v", &query, 5)
        })
        .await
        .expect("search")
        .iter()
        .map(|h| h.id)
        .collect();
    let reads = conn
        .store()
        .stats()
        .since(&before)
        .requests(RequestKind::Get);
    let mut brute: Vec<(f32, u64)> = all
        .iter()
        .enumerate()
        .map(|(i, v)| {
            (
                v.iter().zip(&query).map(|(a, b)| (a - b) * (a - b)).sum(),
                i as u64,
            )
        })
        .collect();
    brute.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let want: Vec<u64> = brute.iter().take(5).map(|p| p.1).collect();
    assert_eq!(got, want);
    // One wave of 4 files is read (each: its index header, then its
    // planned clusters), not all 12.
    assert!(reads <= 8, "one wave of files read, not 12: {reads} GETs");
    // Warm: the same query again reads nothing.
    let before = conn.store().stats();
    t.vector_search_hits(&VectorQuery {
        exact: true,
        ..VectorQuery::new("v", &query, 5)
    })
    .await
    .expect("search");
    assert_eq!(conn.store().stats().since(&before).total_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn column_bounds_prune_files_for_predicates() {
    let (conn, t, _) = clustered().await;
    let ctx = SessionContext::new();
    let file_schema = t.file_schema();
    let df = DFSchema::try_from(file_schema.as_ref().clone()).expect("schema");
    let keep_for = |sql: &str| {
        let expr = ctx.parse_sql_expr(sql, &df).expect("parse");
        let physical = ctx.create_physical_expr(expr, &df).expect("plan");
        FileStatistics::new(&t, Arc::clone(&file_schema)).keep(&physical)
    };
    let keep = keep_for("id >= 1150");
    assert_eq!(keep.iter().filter(|k| **k).count(), 1);
    assert!(keep[11]);
    assert_eq!(keep_for("_id < 150").iter().filter(|k| **k).count(), 2);
    assert_eq!(keep_for("tag = 't9'").iter().filter(|k| **k).count(), 0);
    assert_eq!(keep_for("tag = 't1'").iter().filter(|k| **k).count(), 12);

    // A delete by a prunable predicate reads one file's column, not twelve.
    let before = conn.store().stats();
    let m = t.delete("id >= 1150").await.expect("delete");
    let pruned = conn
        .store()
        .stats()
        .since(&before)
        .requests(RequestKind::Get);
    assert_eq!(m.deleted, 50);
    let before = conn.store().stats();
    let m2 = m.table.delete("id % 1000 = 2000").await.expect("delete");
    let full = conn
        .store()
        .stats()
        .since(&before)
        .requests(RequestKind::Get);
    assert_eq!(m2.deleted, 0);
    assert!(
        pruned < full,
        "pruned delete {pruned} GETs vs unpruned {full}"
    );
}
