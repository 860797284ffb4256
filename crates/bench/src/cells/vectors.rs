//! The vectors cell: recall against latency. A table of the corpus's
//! embeddings (or clustered synthetic 64-d vectors) on `memory://`, queries
//! drawn from the data and moved slightly, exact top-10 by brute force;
//! then, per probe count, the warm p50 latency, recall@10 and the bytes a
//! cold query reads (a freshly opened handle, so every index read counts).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{FixedSizeListArray, Float32Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use infino_superfile::IndexSpec;
use infino_table::{Connection, Table, VectorQuery};
use infino_vector::{BuildParams, Metric};

use crate::cells::table::{DIM, vectors};
use crate::corpus::Corpus;
use crate::report::{Report, percentile_ms};

const CELL: &str = "vectors";
const QUERIES: usize = 50;
const K: usize = 10;

fn schema(dim: usize) -> anyhow::Result<SchemaRef> {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    Ok(Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new(
            "embedding",
            DataType::FixedSizeList(item, i32::try_from(dim)?),
            false,
        ),
    ])))
}

fn normalized(v: &[f32]) -> Vec<f32> {
    let norm = v
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::MIN_POSITIVE);
    v.iter().map(|x| x / norm).collect()
}

/// Row ordinals of the `k` most cosine-similar rows, best first.
fn exact_top_k(data: &[f32], dim: usize, query: &[f32], k: usize) -> Vec<usize> {
    let q = normalized(query);
    let mut scored: Vec<(f32, usize)> = data
        .chunks_exact(dim)
        .enumerate()
        .map(|(row, v)| {
            let dot: f32 = v.iter().zip(&q).map(|(a, b)| a * b).sum();
            let norm = v
                .iter()
                .map(|x| x * x)
                .sum::<f32>()
                .sqrt()
                .max(f32::MIN_POSITIVE);
            (dot / norm, row)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(k).map(|(_, row)| row).collect()
}

pub(crate) async fn run(report: &mut Report, corpus: &Corpus) -> anyhow::Result<()> {
    let n = corpus.ids.len();
    let (dim, data) = match &corpus.embeddings {
        Some((dim, data)) => (*dim, data.clone()),
        None => (DIM, vectors(n, 1)),
    };
    let conn = Connection::connect("memory://")?;
    let spec =
        IndexSpec::default().with_vector("embedding", Metric::Cosine, BuildParams::default());
    let list = FixedSizeListArray::try_new(
        Arc::new(Field::new("item", DataType::Float32, false)),
        i32::try_from(dim)?,
        Arc::new(Float32Array::from(data.clone())),
        None,
    )?;
    let batch = RecordBatch::try_new(
        schema(dim)?,
        vec![
            Arc::new(Int64Array::from_iter_values(0..i64::try_from(n)?)),
            Arc::new(list),
        ],
    )?;
    let started = Instant::now();
    let table = conn
        .create_table("v", schema(dim)?, &spec)
        .await?
        .append(&[batch])
        .await?;
    report.record(
        CELL,
        &format!(
            "build {n} x {dim}-d ({} files)",
            table.manifest().files.len()
        ),
        "seconds",
        started.elapsed().as_secs_f64(),
        "s",
    );

    // Queries like the data: stored vectors, slightly moved; exact answers.
    let step = (n / QUERIES).max(1);
    let queries: Vec<Vec<f32>> = (0..QUERIES)
        .map(|i| {
            let row = (i * step + step / 2).min(n - 1);
            data[row * dim..(row + 1) * dim]
                .iter()
                .enumerate()
                .map(|(d, x)| x + if d % 2 == 0 { 0.01 } else { -0.01 })
                .collect()
        })
        .collect();
    // One append reserves one contiguous run of `_id`s, in row order.
    let base = table
        .manifest()
        .files
        .iter()
        .map(|f| f.first_id)
        .min()
        .unwrap_or(0);
    let truth: Vec<Vec<u64>> = queries
        .iter()
        .map(|q| {
            exact_top_k(&data, dim, q, K)
                .into_iter()
                .map(|r| base + r as u64)
                .collect()
        })
        .collect();

    let mut settings: Vec<(String, Option<usize>, bool)> = [2, 4, 8, 16, 32, 64, 128]
        .into_iter()
        .map(|p| (format!("nprobe {p}"), Some(p), false))
        .collect();
    settings.push(("nprobe default".to_owned(), None, false));
    settings.push(("exact".to_owned(), None, true));
    for (label, nprobe, exact) in settings {
        // Cold bytes: a fresh handle per query reads its index afresh.
        let mut cold_bytes = Vec::new();
        for q in queries.iter().take(5) {
            let fresh = conn.open_table("v").await?;
            let before = conn.store().stats();
            fresh
                .vector_search_hits(&query_of(q, nprobe, exact))
                .await?;
            cold_bytes.push(conn.store().stats().since(&before).bytes_read as f64);
        }
        let (recall, mut times) = measure(&table, &queries, &truth, nprobe, exact).await?;
        report.record(CELL, &label, "recall_at_10", recall, "");
        report.record(CELL, &label, "p50", percentile_ms(&mut times, 50.0), "ms");
        cold_bytes.sort_by(f64::total_cmp);
        report.record(
            CELL,
            &label,
            "cold_bytes",
            cold_bytes[cold_bytes.len() / 2] / 1e3,
            "KB",
        );
    }
    Ok(())
}

fn query_of(vector: &[f32], nprobe: Option<usize>, exact: bool) -> VectorQuery<'_> {
    VectorQuery {
        nprobe,
        exact,
        ..VectorQuery::new("embedding", vector, K)
    }
}

/// Mean recall@10 and warm latencies (each query once to warm, then timed).
async fn measure(
    table: &Table,
    queries: &[Vec<f32>],
    truth: &[Vec<u64>],
    nprobe: Option<usize>,
    exact: bool,
) -> anyhow::Result<(f64, Vec<Duration>)> {
    let mut found = 0usize;
    let mut times = Vec::new();
    for (q, want) in queries.iter().zip(truth) {
        let query = query_of(q, nprobe, exact);
        let hits = table.vector_search_hits(&query).await?;
        found += hits.iter().filter(|h| want.contains(&h.id)).count();
        for _ in 0..3 {
            let t = Instant::now();
            table.vector_search_hits(&query).await?;
            times.push(t.elapsed());
        }
    }
    Ok((found as f64 / (queries.len() * K) as f64, times))
}
