//! A quick recall@10-versus-p50 curve for profiling the query path without
//! building the whole bench (no HNSW peer, no table): the bench `vectors`
//! cell's queries, oracle and timing loop over the Reuters embeddings or
//! its clustered synthetic data.
//!
//! ```text
//! cargo run --release -p infino-vector --example curve -- reuters [nprobe...]
//! cargo run --release -p infino-vector --example curve -- 200000 [nprobe...]
//! ```
//!
//! An nprobe of 0 means the default. `CURVE_LOOPS=n` repeats the timed
//! pass `n` times (for `perf record`); `CURVE_RERANK=sq4` builds SQ4
//! payloads instead of SQ8.

#![expect(clippy::print_stdout, reason = "a command-line measurement")]

use std::fs::File;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray};
use arrow::datatypes::Float32Type;
use bytes::Bytes;
use infino_testkit::vectors::{clustered, queries_near};
use infino_vector::{
    BuildParams, Metric, Rerank, SearchOptions, VectorIndex, VectorIndexBuilder, dot,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const K: usize = 10;
const QUERIES: usize = 200;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Every `embedding` of a Parquet file, flattened, and its dimension.
fn embeddings(path: PathBuf) -> Res<(Vec<f32>, usize)> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path)?)?.build()?;
    let (mut out, mut dim) = (Vec::new(), 0);
    for batch in reader {
        let batch = batch?;
        let emb = batch.column_by_name("embedding").ok_or("no embedding")?;
        let emb = emb.as_fixed_size_list();
        dim = usize::try_from(emb.value_length())?;
        let values = emb.values().as_primitive::<Float32Type>();
        let start = emb.offset() * dim;
        out.extend_from_slice(&values.values()[start..start + emb.len() * dim]);
    }
    Ok((out, dim))
}

fn normalized(v: &[f32]) -> Vec<f32> {
    let norm = dot(v, v).sqrt().max(f32::MIN_POSITIVE);
    v.iter().map(|x| x / norm).collect()
}

fn exact_top_k(unit: &[f32], dim: usize, q: &[f32]) -> Vec<u32> {
    let q = normalized(q);
    let mut scored: Vec<(f32, u32)> = unit
        .chunks_exact(dim)
        .zip(0u32..)
        .map(|(v, row)| (dot(v, &q), row))
        .collect();
    let cmp = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    scored.select_nth_unstable_by(K - 1, cmp);
    scored.truncate(K);
    scored.into_iter().map(|(_, r)| r).collect()
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().ok_or("usage: curve reuters|N [nprobe...]")?;
    let dim = 384;
    let (data, queries) = if which == "reuters" {
        let dir =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/reuters");
        let (data, dim) = embeddings(dir.join("docs.parquet"))?;
        let (q, _) = embeddings(dir.join("queries.parquet"))?;
        let queries: Vec<Vec<f32>> = q
            .chunks_exact(dim)
            .take(QUERIES)
            .map(<[f32]>::to_vec)
            .collect();
        (data, queries)
    } else {
        let n: usize = which.parse()?;
        let data = clustered(n, dim, 7);
        let queries = queries_near(&data, dim, QUERIES);
        (data, queries)
    };
    let n = data.len() / dim;
    let unit: Vec<f32> = data.chunks_exact(dim).flat_map(normalized).collect();
    let truth: Vec<Vec<u32>> = queries.iter().map(|q| exact_top_k(&unit, dim, q)).collect();
    let started = Instant::now();
    let params = BuildParams {
        rerank: match std::env::var("CURVE_RERANK").as_deref() {
            Ok("sq4") => Rerank::Sq4,
            _ => Rerank::Sq8,
        },
        ..BuildParams::default()
    };
    let mut b = VectorIndexBuilder::new(dim, Metric::Cosine, params)?;
    let rows: Vec<u32> = (0..u32::try_from(n)?).collect();
    b.add_batch(&rows, &data)?;
    let index = VectorIndex::open(Bytes::from(b.finish()?))?;
    println!(
        "{n} x {dim}: lists {}, build {:?}",
        index.lists(),
        started.elapsed()
    );
    let loops: usize = std::env::var("CURVE_LOOPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let probes: Vec<usize> = if args.len() > 1 {
        args[1..]
            .iter()
            .map(|a| a.parse())
            .collect::<Result<_, _>>()?
    } else {
        vec![8, 16, 24, 32, 48, 0]
    };
    for p in probes {
        let opts = SearchOptions {
            nprobe: (p > 0).then_some(p),
            ..SearchOptions::new(K)
        };
        let mut found = 0;
        let mut times: Vec<Duration> = Vec::new();
        for (q, want) in queries.iter().zip(&truth) {
            let got = index.search(q, &opts)?;
            found += got.iter().filter(|h| want.contains(&h.0)).count();
        }
        for _ in 0..loops {
            for q in &queries {
                for _ in 0..3 {
                    let t = Instant::now();
                    index.search(q, &opts)?;
                    times.push(t.elapsed());
                }
            }
        }
        times.sort_unstable();
        let p50 = times[times.len() / 2].as_secs_f64() * 1e3;
        let recall = found as f64 / (queries.len() * K) as f64;
        println!("nprobe {p:>3}: recall@10 {recall:.3}  p50 {p50:.3} ms");
    }
    Ok(())
}
