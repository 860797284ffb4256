//! `vector_search` filtered by an arbitrary SQL predicate takes the
//! allow-set path: the `k` nearest rows *among* those where the predicate
//! holds (`min(k, matching)` of them), checked against a brute-force
//! oracle over the live rows, with predicates selective enough that a
//! post-filter of the global top `k` would come back nearly empty.

use std::sync::Arc;

use arrow::array::{AsArray, FixedSizeListArray, Float32Array, Int32Array, Int64Array};
use arrow::array::{RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Float32Type, Schema, SchemaRef, UInt64Type};
use infino_sql::SqlContext;
use infino_superfile::IndexSpec;
use infino_table::{Connection, RowFilter, Table};
use infino_vector::{BuildParams, Metric, Rerank};

const DIM: usize = 8;
const ROWS: i64 = 3_000;

fn schema() -> SchemaRef {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("category", DataType::Utf8, false),
        Field::new("n", DataType::Int32, false),
        Field::new(
            "embedding",
            DataType::FixedSizeList(item, DIM as i32),
            false,
        ),
    ]))
}

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn vector_of(seed: u64) -> Vec<f32> {
    (0..DIM as u64)
        .map(|d| (mix(seed * 31 + d) % 2000) as f32 / 1000.0 - 1.0)
        .collect()
}

/// 1 % of the rows are `rare`.
fn category(i: i64) -> &'static str {
    match i % 100 {
        7 => "rare",
        x if x % 2 == 0 => "even",
        _ => "odd",
    }
}

/// One row as the oracle sees it.
struct Row {
    id: u64,
    item: i64,
    category: &'static str,
    n: i32,
    vector: Vec<f32>,
}

fn batch(range: std::ops::Range<i64>) -> RecordBatch {
    let flat: Vec<f32> = range.clone().flat_map(|i| vector_of(i as u64)).collect();
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let vectors =
        FixedSizeListArray::try_new(item, DIM as i32, Arc::new(Float32Array::from(flat)), None)
            .expect("vectors");
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(range.clone())),
            Arc::new(StringArray::from_iter_values(range.clone().map(category))),
            Arc::new(Int32Array::from_iter_values(range.map(|i| (i % 5) as i32))),
            Arc::new(vectors),
        ],
    )
    .expect("batch")
}

/// Three files of 1,000 rows, every row with `id % 200 = 7` deleted (half
/// the `rare` ones). Returns the table and its live rows (`_id` = row
/// number: one append per file, nothing compacted).
async fn setup() -> (SqlContext, Table, Vec<Row>) {
    let conn = Connection::connect("memory://").expect("connect");
    let spec = IndexSpec::default().with_vector(
        "embedding",
        Metric::Cosine,
        BuildParams {
            rerank: Rerank::F32,
            ..BuildParams::default()
        },
    );
    let mut t = conn
        .create_table("items", schema(), &spec)
        .await
        .expect("create");
    for f in 0..3 {
        t = t
            .append(&[batch(f * 1_000..(f + 1) * 1_000)])
            .await
            .expect("append");
    }
    let t = t
        .delete(RowFilter::from("id % 200 = 7"))
        .await
        .expect("delete")
        .table;
    let live = (0..ROWS)
        .filter(|i| i % 200 != 7)
        .map(|i| Row {
            id: i as u64,
            item: i,
            category: category(i),
            n: (i % 5) as i32,
            vector: vector_of(i as u64),
        })
        .collect();
    (SqlContext::new(&conn).await.expect("context"), t, live)
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

/// The exact `k` nearest live rows where `keep` holds: (`_id`, similarity),
/// best first, ties to the lower `_id`.
fn oracle(rows: &[Row], q: &[f32], k: usize, keep: impl Fn(&Row) -> bool) -> Vec<(u64, f64)> {
    let mut scored: Vec<(u64, f64)> = rows
        .iter()
        .filter(|r| keep(r))
        .map(|r| (r.id, cosine(q, &r.vector)))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(k);
    scored
}

fn sql_vector(v: &[f32]) -> String {
    let parts: Vec<String> = v.iter().map(|x| format!("{x:?}")).collect();
    format!("[{}]", parts.join(", "))
}

/// (`_id`, `_score`) of a query selecting those first.
async fn hits(sql: &SqlContext, query: &str) -> Vec<(u64, f64)> {
    let batches = sql
        .sql(query)
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    let mut out = Vec::new();
    for b in &batches {
        let ids = b.column(0).as_primitive::<UInt64Type>();
        let scores = b.column(1).as_primitive::<Float32Type>();
        out.extend(
            ids.values()
                .iter()
                .zip(scores.values())
                .map(|(&id, &s)| (id, f64::from(s))),
        );
    }
    out
}

fn assert_same(got: &[(u64, f64)], expected: &[(u64, f64)], what: &str) {
    let ids = |v: &[(u64, f64)]| v.iter().map(|h| h.0).collect::<Vec<_>>();
    assert_eq!(ids(got), ids(expected), "{what}");
    for (g, e) in got.iter().zip(expected) {
        assert!((g.1 - e.1).abs() < 1e-4, "{what}: {g:?} vs {e:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sql_predicate_is_the_vector_search_allow_set() {
    let (sql, t, live) = setup().await;
    let rare = |r: &Row| r.category == "rare";
    assert_eq!(live.iter().filter(|r| rare(r)).count(), 15);
    for seed in [1_u64, 77, 4_242] {
        let q = vector_of(seed + 1_000_000);
        let v = sql_vector(&q);
        let call = |k: usize| format!("vector_search('items', 'embedding', {v}, {k})");

        // A post-filter would keep only the rare rows of the global top 10.
        let global = hits(&sql, &format!("SELECT _id, _score FROM {}", call(10))).await;
        let thinned = global
            .iter()
            .filter(|(id, _)| category(*id as i64) == "rare")
            .count();
        assert!(thinned < 10, "seed {seed}: {thinned}");

        let cases: Vec<(String, Vec<(u64, f64)>)> = vec![
            (
                format!(
                    "SELECT _id, _score FROM {} WHERE category = 'rare'",
                    call(10)
                ),
                oracle(&live, &q, 10, rare),
            ),
            // Qualified by the call's alias, two conjuncts.
            (
                format!(
                    "SELECT s._id, s._score FROM {} AS s WHERE s.category = 'rare' AND s.n < 3",
                    call(10)
                ),
                oracle(&live, &q, 10, |r| rare(r) && r.n < 3),
            ),
            // Fewer matching rows than k: every one of them.
            (
                format!(
                    "SELECT _id, _score FROM {} WHERE category = 'rare'",
                    call(50)
                ),
                oracle(&live, &q, 50, rare),
            ),
            // On `_id`, with a predicate on another column.
            (
                format!(
                    "SELECT _id, _score FROM {} WHERE _id BETWEEN 1000 AND 1099 AND n = 0",
                    call(10)
                ),
                oracle(&live, &q, 10, |r| (1000..=1099).contains(&r.id) && r.n == 0),
            ),
            // The filter argument, alone and after nprobe, and with a WHERE.
            (
                format!(
                    "SELECT _id, _score FROM vector_search('items', 'embedding', {v}, 10, \
                     'category = ''rare'' OR id < 20')"
                ),
                oracle(&live, &q, 10, |r| rare(r) || r.item < 20),
            ),
            (
                format!(
                    "SELECT _id, _score FROM vector_search('items', 'embedding', {v}, 10, 2, \
                     'category = ''rare''')"
                ),
                oracle(&live, &q, 10, rare),
            ),
            (
                format!(
                    "SELECT _id, _score FROM vector_search('items', 'embedding', {v}, 10, \
                     'category = ''rare''') WHERE n <> 4"
                ),
                oracle(&live, &q, 10, |r| rare(r) && r.n != 4),
            ),
        ];
        for (query, expected) in &cases {
            assert_same(&hits(&sql, query).await, expected, query);
        }

        // A filter on `_score` stays above the search: it filters the k
        // nearest matching rows.
        let top = oracle(&live, &q, 10, rare);
        // Midway between the 5th and 6th, clear of f32 rounding.
        assert!(top[4].1 - top[5].1 > 1e-4, "seed {seed}: {top:?}");
        let cut = f64::midpoint(top[4].1, top[5].1);
        let query = format!(
            "SELECT _id, _score FROM {} WHERE category = 'rare' AND _score > {cut}",
            call(10)
        );
        let expected: Vec<(u64, f64)> = top.iter().copied().filter(|h| h.1 > cut).collect();
        assert_same(&hits(&sql, &query).await, &expected, &query);
    }

    // The table layer's allow set: the live matching ids, ascending.
    let expected: Vec<u64> = live.iter().filter(|r| rare(r)).map(|r| r.id).collect();
    assert_eq!(
        t.ids_matching("category = 'rare'").await.expect("ids"),
        expected
    );
    // Deleted (7, 2407), unknown and repeated ids are left out.
    let asked: Vec<u64> = vec![2_407, 7, 8, 99_999, 2_408, 2_408];
    assert_eq!(
        t.ids_matching(RowFilter::Ids(asked)).await.expect("ids"),
        vec![8, 2_408]
    );

    // A bad filter argument is a plan error naming it.
    let v = sql_vector(&vector_of(5));
    for (filter, needle) in [("nosuch = 1", "nosuch"), ("category +", "filter")] {
        let query =
            format!("SELECT _id FROM vector_search('items', 'embedding', {v}, 5, '{filter}')");
        let err = sql.sql(&query).await.expect_err("bad filter");
        assert!(err.to_string().contains(needle), "{query}: {err}");
    }
}
