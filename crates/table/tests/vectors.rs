//! Vector and hybrid search over many superfiles, against exact oracles.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{FixedSizeListArray, Float32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use infino_fts::FtsConfig;
use infino_superfile::IndexSpec;
use infino_table::{Connection, Fusion, Hit, Table, VectorQuery};
use infino_testkit::corpus::word;
use infino_vector::{BuildParams, Metric, Rerank};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::common::bodies;

const DIM: usize = 32;

pub(crate) fn schema() -> SchemaRef {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("body", DataType::Utf8, true),
        Field::new(
            "embedding",
            DataType::FixedSizeList(item, DIM as i32),
            false,
        ),
    ]))
}

/// Vectors around 40 random centres.
pub(crate) fn vectors(n: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let centres: Vec<Vec<f32>> = (0..40)
        .map(|_| (0..DIM).map(|_| rng.random_range(-1.0..1.0)).collect())
        .collect();
    (0..n)
        .map(|i| {
            centres[i % 40]
                .iter()
                .map(|c| c + rng.random_range(-0.15..0.15))
                .collect()
        })
        .collect()
}

pub(crate) fn batch(first: i64, bodies: &[Option<String>], vectors: &[Vec<f32>]) -> RecordBatch {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let flat: Vec<f32> = vectors.iter().flatten().copied().collect();
    let list =
        FixedSizeListArray::try_new(item, DIM as i32, Arc::new(Float32Array::from(flat)), None)
            .expect("list");
    let ids = Int64Array::from_iter_values(first..first + bodies.len() as i64);
    let texts: StringArray = bodies.iter().map(Option::as_deref).collect();
    RecordBatch::try_new(
        schema(),
        vec![Arc::new(ids), Arc::new(texts), Arc::new(list)],
    )
    .expect("batch")
}

pub(crate) async fn table(
    files: usize,
    per_file: usize,
) -> (Table, Vec<Option<String>>, Vec<Vec<f32>>) {
    table_with(files, per_file, Rerank::F32).await
}

/// [`table`] with the given rerank payload.
async fn table_with(
    files: usize,
    per_file: usize,
    rerank: Rerank,
) -> (Table, Vec<Option<String>>, Vec<Vec<f32>>) {
    let docs = bodies(files * per_file, 8);
    let vecs = vectors(files * per_file, 9);
    let spec = IndexSpec::default()
        .with_fts("body", FtsConfig::default())
        .with_vector(
            "embedding",
            Metric::Cosine,
            BuildParams {
                rerank,
                ..BuildParams::default()
            },
        );
    let conn = Connection::connect("memory://").expect("connect");
    let mut t = conn
        .create_table("v", schema(), &spec)
        .await
        .expect("create");
    for f in 0..files {
        let r = f * per_file..(f + 1) * per_file;
        t = t
            .append(&[batch(r.start as i64, &docs[r.clone()], &vecs[r])])
            .await
            .expect("append");
    }
    (t, docs, vecs)
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

/// Exact cosine ranking of the rows `allowed` keeps, best first.
pub(crate) fn exact(
    vecs: &[Vec<f32>],
    q: &[f32],
    k: usize,
    allowed: impl Fn(usize) -> bool,
) -> Vec<u64> {
    let mut s: Vec<(f32, u64)> = (0..vecs.len())
        .filter(|&i| allowed(i))
        .map(|i| (cosine(&vecs[i], q), i as u64))
        .collect();
    s.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    s.into_iter().take(k).map(|(_, i)| i).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_across_files_at_defaults() {
    let (t, _, vecs) = table(8, 1_000).await;
    let queries = vectors(50, 77);
    let mut found = 0;
    for q in &queries {
        let hits = t
            .vector_search_hits(&VectorQuery::new("embedding", q, 10))
            .await
            .expect("search");
        assert_eq!(hits.len(), 10);
        assert!(
            hits.windows(2).all(|w| w[0].score >= w[1].score),
            "best first"
        );
        let truth = exact(&vecs, q, 10, |_| true);
        found += hits.iter().filter(|h| truth.contains(&h.id)).count();
    }
    let recall = found as f64 / (queries.len() * 10) as f64;
    assert!(recall >= 0.95, "recall@10 {recall}");
    // Exact mode is exact.
    let q = &queries[0];
    let hits = t
        .vector_search_hits(&VectorQuery {
            exact: true,
            ..VectorQuery::new("embedding", q, 10)
        })
        .await
        .expect("exact");
    assert_eq!(
        hits.iter().map(|h| h.id).collect::<Vec<_>>(),
        exact(&vecs, q, 10, |_| true)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_filtered_vector_search_returns_min_k_allowed() {
    let (t, docs, vecs) = table(4, 500).await;
    let has = |i: usize, w: &str| {
        docs[i]
            .as_deref()
            .is_some_and(|d| d.split(' ').any(|x| x == w))
    };
    let count = |w: &str| (0..docs.len()).filter(|&i| has(i, w)).count();
    let rare = (0..2_000)
        .rev()
        .map(word)
        .find(|w| (1..10).contains(&count(w)))
        .expect("a rare word");
    let allowed = |i: usize| has(i, &rare);
    let n_allowed = count(&rare);
    assert!(n_allowed > 0 && n_allowed < 10, "a rare word: {n_allowed}");
    let q = &vectors(1, 5)[0];
    let query = VectorQuery {
        filter: Some(("body", rare.as_str())),
        ..VectorQuery::new("embedding", q, 10)
    };
    let hits = t.vector_search_hits(&query).await.expect("filtered");
    assert_eq!(hits.len(), n_allowed, "min(k, allowed) rows");
    assert_eq!(
        hits.iter().map(|h| h.id).collect::<Vec<_>>(),
        exact(&vecs, q, 10, allowed)
    );
    let err = t
        .vector_search_hits(&VectorQuery::new("embedding", &[1.0, 2.0], 3))
        .await
        .expect_err("dimension");
    assert!(err.to_string().contains("dimension"), "{err}");
    assert!(
        t.vector_search_hits(&VectorQuery::new("body", q, 3))
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hybrid_equals_rrf_by_hand() {
    let (t, _, vecs) = table(5, 400).await;
    let q = &vectors(1, 6)[0];
    let text = format!("{} {}", word(3), word(40));
    let fusion = Fusion {
        depth: 50,
        text_weight: 1.0,
        vector_weight: 0.7,
        rrf_k: 60.0,
    };
    let vq = VectorQuery {
        exact: true,
        ..VectorQuery::new("embedding", q, 10)
    };
    let got: Vec<Hit> = t
        .hybrid_search_hits("body", &text, &vq, 10, fusion)
        .await
        .expect("hybrid");

    let bm25 = t.search_hits("body", &text, 50).await.expect("bm25");
    let dense = exact(&vecs, q, 50, |_| true);
    let mut fused: HashMap<u64, f32> = HashMap::new();
    for (rank, h) in bm25.iter().enumerate() {
        *fused.entry(h.id).or_default() += 1.0 / (60.0 + rank as f32 + 1.0);
    }
    for (rank, id) in dense.iter().enumerate() {
        *fused.entry(*id).or_default() += 0.7 / (60.0 + rank as f32 + 1.0);
    }
    let mut want: Vec<(u64, f32)> = fused.into_iter().collect();
    want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    want.truncate(10);
    assert_eq!(
        got.iter().map(|h| h.id).collect::<Vec<_>>(),
        want.iter().map(|w| w.0).collect::<Vec<_>>()
    );
    for (g, w) in got.iter().zip(&want) {
        assert!((g.score - w.1).abs() < 1e-6);
    }
    let batch = t
        .hybrid_search("body", &text, &vq, 5, fusion, &["id"])
        .await
        .expect("batch");
    assert_eq!(batch.num_rows(), 5);
}

/// Without a rerank payload the shortlist is reranked from the stored
/// column: scores are the exact cosines, recall holds at defaults, exact
/// and brute-force filtered searches match the oracle, and a payload index
/// asked to rerank from the column agrees with its own F32 payload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerank_from_the_column() {
    let (t, _, vecs) = table_with(4, 1_000, Rerank::None).await;
    let queries = vectors(40, 78);
    let mut found = 0;
    for q in &queries {
        let hits = t
            .vector_search_hits(&VectorQuery::new("embedding", q, 10))
            .await
            .expect("search");
        assert_eq!(hits.len(), 10);
        for h in &hits {
            let want = cosine(&vecs[h.id as usize], q);
            assert!((h.score - want).abs() < 1e-5, "{} vs {want}", h.score);
        }
        let truth = exact(&vecs, q, 10, |_| true);
        found += hits.iter().filter(|h| truth.contains(&h.id)).count();

        let exact_hits = t
            .vector_search_hits(&VectorQuery {
                exact: true,
                ..VectorQuery::new("embedding", q, 10)
            })
            .await
            .expect("exact");
        let ids: Vec<u64> = exact_hits.iter().map(|h| h.id).collect();
        assert_eq!(ids, truth);

        // A small allow set is scanned by brute force.
        let allowed: Vec<u64> = (0..vecs.len() as u64).step_by(97).collect();
        let filtered = t
            .vector_search_hits(&VectorQuery {
                ids: Some(&allowed),
                ..VectorQuery::new("embedding", q, 10)
            })
            .await
            .expect("filtered");
        let ids: Vec<u64> = filtered.iter().map(|h| h.id).collect();
        assert_eq!(ids, exact(&vecs, q, 10, |i| i % 97 == 0));
    }
    let recall = found as f64 / (queries.len() * 10) as f64;
    assert!(recall >= 0.95, "recall@10 {recall}");

    let (t, _, _) = table_with(2, 1_000, Rerank::F32).await;
    for q in &queries[..10] {
        let payload = t
            .vector_search_hits(&VectorQuery::new("embedding", q, 10))
            .await
            .expect("payload");
        let column = t
            .vector_search_hits(&VectorQuery {
                rerank_from_column: true,
                ..VectorQuery::new("embedding", q, 10)
            })
            .await
            .expect("column");
        let ids = |h: &[Hit]| h.iter().map(|h| h.id).collect::<Vec<_>>();
        assert_eq!(ids(&payload), ids(&column));
    }
}

/// A repeated column-reranked search reads nothing: the heads and the
/// shortlisted rows' vectors are kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_column_rerank_reads_nothing() {
    let docs = bodies(3_000, 8);
    let vecs = vectors(3_000, 9);
    let params = BuildParams {
        rerank: Rerank::None,
        ..BuildParams::default()
    };
    let spec = IndexSpec::default().with_vector("embedding", Metric::Cosine, params);
    let conn = Connection::connect("memory://").expect("connect");
    conn.create_table("v", schema(), &spec)
        .await
        .expect("create")
        .append(&[batch(0, &docs, &vecs)])
        .await
        .expect("append");
    let t = conn.open_table("v").await.expect("open");
    let q = vectors(1, 5).remove(0);
    let query = VectorQuery::new("embedding", &q, 10);
    let before = conn.store().stats();
    let first = t.vector_search_hits(&query).await.expect("cold");
    assert!(conn.store().stats().since(&before).total_requests() > 0);
    let before = conn.store().stats();
    let again = t.vector_search_hits(&query).await.expect("warm");
    assert_eq!(conn.store().stats().since(&before).total_requests(), 0);
    let ids = |h: &[Hit]| h.iter().map(|h| h.id).collect::<Vec<_>>();
    assert_eq!(ids(&first), ids(&again));
}
