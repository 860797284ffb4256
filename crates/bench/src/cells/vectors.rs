//! The vectors cell: our IVF index beside exact brute force and an
//! in-process HNSW peer, in the same run, on the corpus's embeddings or
//! clustered synthetic vectors.
//!
//! Per engine: build time, the build's peak RSS above the process's
//! resident set before it, index size against the raw f32 vectors, and
//! recall@10 against exact top-10 versus warm single-query p50 (ours over
//! nprobe and rerank breadth, the peer over `ef`). Then, through a table on
//! `memory://`, the bytes and requests of a cold query (a freshly opened
//! handle, so every index read counts) as a share of the vector column's
//! raw bytes. Queries are the corpus's query embeddings when it has them
//! (`queries.parquet`), else stored vectors moved slightly; exact top-10
//! comes from brute force over the same rows. Ours is built once per rerank
//! payload (SQ8, SQ4, and none: `column`, reranked from the stored vectors,
//! which the in-memory curve holds decoded as a warm table would) so their
//! size and curves sit side by side; the cold table runs SQ8 and `column`.
//! The peer may run
//! on a prefix of the data when the whole would take too long to insert
//! (`--peer-max`), and then ours is built on that prefix too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{FixedSizeListArray, Float32Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use bytes::Bytes;
use infino_superfile::IndexSpec;
use infino_table::{Connection, Table, VectorQuery};
use infino_testkit::vectors::{clustered, queries_near};
use infino_vector::{
    BuildParams, Metric, Rerank, RowVectors, SearchOptions, VectorIndex, VectorIndexBuilder,
};

use crate::cells::hnsw_peer::HnswPeer;
use crate::report::{Report, peak_rss_bytes, percentile_ms, reset_peak_rss, rss_bytes};

const CELL: &str = "vectors";
/// Queries at most (the corpus's first ones, or moved stored vectors).
const QUERIES: usize = 200;
const K: usize = 10;
/// Timed repetitions of each query (after one untimed warm-up).
const REPEATS: usize = 3;

/// What the cell runs on and how far.
#[derive(Debug, Clone)]
pub(crate) struct VectorsArgs {
    /// Rows of the peer's index (and of our same-size comparison).
    pub(crate) peer_max: usize,
    /// Threads inserting into the peer (our build uses the rayon pool).
    pub(crate) threads: usize,
}

fn normalized(v: &[f32]) -> Vec<f32> {
    let norm = infino_vector::norm_sq(v).sqrt().max(f32::MIN_POSITIVE);
    v.iter().map(|x| x / norm).collect()
}

/// Row ordinals of the `k` most cosine-similar rows of `unit` (normalized
/// rows), best first: the brute-force oracle and the exact peer.
fn exact_top_k(unit: &[f32], dim: usize, query: &[f32], k: usize) -> Vec<u64> {
    let q = normalized(query);
    let mut scored: Vec<(f32, u64)> = unit
        .chunks_exact(dim)
        .enumerate()
        .map(|(row, v)| (infino_vector::dot(v, &q), row as u64))
        .collect();
    let k = k.min(scored.len());
    if k == 0 {
        return Vec::new();
    }
    let cmp = |a: &(f32, u64), b: &(f32, u64)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    scored.select_nth_unstable_by(k - 1, cmp);
    scored.truncate(k);
    scored.sort_by(cmp);
    scored.into_iter().map(|(_, row)| row).collect()
}

fn recall(got: &[u64], want: &[u64]) -> usize {
    got.iter().filter(|g| want.contains(g)).count()
}

/// Runs `search` on every query once untimed (its result scored against
/// `truth`), then [`REPEATS`] times timed: (recall@10, p50 ms).
fn curve_point(
    queries: &[Vec<f32>],
    truth: &[Vec<u64>],
    mut search: impl FnMut(&[f32]) -> anyhow::Result<Vec<u64>>,
) -> anyhow::Result<(f64, f64)> {
    let mut found = 0;
    let mut times: Vec<Duration> = Vec::new();
    for (q, want) in queries.iter().zip(truth) {
        found += recall(&search(q)?, want);
        for _ in 0..REPEATS {
            let t = Instant::now();
            search(q)?;
            times.push(t.elapsed());
        }
    }
    let recall = found as f64 / (queries.len() * K) as f64;
    Ok((recall, percentile_ms(&mut times, 50.0)))
}

/// Build-phase costs: the closure's time and its peak RSS above the
/// resident set before it.
fn measured<T>(build: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<(T, f64, f64)> {
    reset_peak_rss();
    let before = rss_bytes().unwrap_or(0);
    let started = Instant::now();
    let out = build()?;
    let secs = started.elapsed().as_secs_f64();
    let peak = peak_rss_bytes().unwrap_or(0).saturating_sub(before);
    Ok((out, secs, peak as f64 / 1e6))
}

/// Everything the in-memory comparison needs about one data set.
struct Set<'a> {
    name: String,
    data: &'a [f32],
    dim: usize,
    queries: &'a [Vec<f32>],
    truth: Vec<Vec<u64>>,
}

impl Set<'_> {
    fn rows(&self) -> usize {
        self.data.len() / self.dim
    }

    fn raw_mb(&self) -> f64 {
        (self.data.len() * 4) as f64 / 1e6
    }
}

fn record_build(
    report: &mut Report,
    subject: &str,
    set: &Set<'_>,
    secs: f64,
    rss: f64,
    bytes: usize,
) {
    report.record(CELL, subject, "build", secs, "s");
    report.record(CELL, subject, "build_peak_rss", rss, "MB");
    report.record(CELL, subject, "index_size", bytes as f64 / 1e6, "MB");
    report.record(
        CELL,
        subject,
        "raw_over_index",
        set.raw_mb() / (bytes as f64 / 1e6),
        "x",
    );
}

/// The stored vector column held decoded in memory, as a table keeps it
/// for reranking from the column (row `r` is `data[r·D..(r+1)·D]`).
struct Column<'a> {
    data: &'a [f32],
    dim: usize,
}

impl RowVectors for Column<'_> {
    fn vector(&self, row: u32) -> Option<&[f32]> {
        let start = usize::try_from(row).ok()?.checked_mul(self.dim)?;
        self.data.get(start..start + self.dim)
    }
}

/// Our index built alone (no Parquet) with `rerank` payloads, then its
/// recall/latency curve. Without a payload ([`Rerank::None`]) the shortlist
/// is reranked from the stored column, decoded in memory.
fn ours(report: &mut Report, set: &Set<'_>, rerank: Rerank) -> anyhow::Result<()> {
    let name = format!("{} {}", set.name, rerank_name(rerank));
    let column = Column {
        data: set.data,
        dim: set.dim,
    };
    let exact: Option<&dyn RowVectors> = (rerank == Rerank::None).then_some(&column as _);
    let subject = format!("infino ivf {name}");
    let params = BuildParams {
        rerank,
        ..BuildParams::default()
    };
    let (region, secs, rss) = measured(|| {
        let mut builder = VectorIndexBuilder::new(set.dim, Metric::Cosine, params)?;
        let rows: Vec<u32> = (0..u32::try_from(set.rows())?).collect();
        builder.add_batch(&rows, set.data)?;
        Ok(builder.finish()?)
    })?;
    record_build(report, &subject, set, secs, rss, region.len());
    let index = VectorIndex::open(Bytes::from(region))?;
    report.record(CELL, &subject, "lists", index.lists() as f64, "");
    // Each labelled setting is one point of the curve; the exact mode (a
    // scan of every payload) is the last.
    let with = |nprobe, rerank_breadth| SearchOptions {
        nprobe,
        rerank_breadth,
        ..SearchOptions::new(K)
    };
    let mut settings: Vec<(String, SearchOptions)> = Vec::new();
    for p in [8, 16, 24, 32, 48, 64] {
        settings.push((format!("nprobe {p}"), with(Some(p), None)));
    }
    for p in [8, 16, 32] {
        for b in [50, 200, 400] {
            settings.push((format!("nprobe {p} breadth {b}"), with(Some(p), Some(b))));
        }
    }
    settings.push(("nprobe default".to_owned(), with(None, None)));
    settings.push((
        "exact (payload scan)".to_owned(),
        SearchOptions {
            exact: true,
            ..SearchOptions::new(K)
        },
    ));
    for (label, opts) in settings {
        let (r, p50) = curve_point(set.queries, &set.truth, |q| {
            Ok(index
                .search_with(q, &opts, None, exact)?
                .iter()
                .map(|h| u64::from(h.0))
                .collect())
        })?;
        let subject = format!("infino {name} {label}");
        report.record(CELL, &subject, "recall_at_10", r, "");
        report.record(CELL, &subject, "p50", p50, "ms");
    }
    Ok(())
}

fn rerank_name(rerank: Rerank) -> &'static str {
    match rerank {
        Rerank::Sq8 => "sq8",
        Rerank::Sq4 => "sq4",
        Rerank::F32 => "f32",
        _ => "column",
    }
}

/// Our index once per compared rerank payload.
fn ours_each(report: &mut Report, set: &Set<'_>) -> anyhow::Result<()> {
    for rerank in [Rerank::Sq8, Rerank::Sq4, Rerank::None] {
        ours(report, set, rerank)?;
    }
    Ok(())
}

/// The HNSW peer's build and curve.
fn peer(report: &mut Report, set: &Set<'_>, threads: usize) -> anyhow::Result<()> {
    let subject = format!("hnsw usearch {}", set.name);
    let (peer, _, rss) = measured(|| HnswPeer::build(set.data, set.dim, threads))?;
    record_build(
        report,
        &subject,
        set,
        peer.build.as_secs_f64(),
        rss,
        peer.bytes,
    );
    for ef in [16, 32, 64, 128, 256] {
        let (r, p50) = curve_point(set.queries, &set.truth, |q| peer.search(q, K, ef))?;
        let subject = format!("hnsw usearch {} ef {ef}", set.name);
        report.record(CELL, &subject, "recall_at_10", r, "");
        report.record(CELL, &subject, "p50", p50, "ms");
    }
    Ok(())
}

/// Exact brute force over normalized f32 rows (the oracle itself, timed).
fn brute(report: &mut Report, set: &Set<'_>, unit: &[f32]) -> anyhow::Result<()> {
    let (r, p50) = curve_point(set.queries, &set.truth, |q| {
        Ok(exact_top_k(unit, set.dim, q, K))
    })?;
    let subject = format!("brute force f32 {}", set.name);
    report.record(CELL, &subject, "recall_at_10", r, "");
    report.record(CELL, &subject, "p50", p50, "ms");
    Ok(())
}

pub(crate) async fn run(
    report: &mut Report,
    embeddings: Option<(usize, Vec<f32>)>,
    query_embeddings: Option<(usize, Vec<f32>)>,
    synthetic: (usize, usize),
    args: &VectorsArgs,
) -> anyhow::Result<()> {
    let (dim, data) = match embeddings {
        Some(e) => e,
        None => (synthetic.1, clustered(synthetic.0, synthetic.1, 7)),
    };
    let n = data.len() / dim;
    anyhow::ensure!(n > 0, "no vectors");
    println!("vectors: {n} x {dim}-d");
    let unit: Vec<f32> = data.chunks_exact(dim).flat_map(normalized).collect();
    // The corpus's queries, else queries like the data: stored vectors,
    // slightly moved.
    let real: Option<Vec<Vec<f32>>> = query_embeddings.filter(|(d, _)| *d == dim).map(|(_, q)| {
        q.chunks_exact(dim)
            .take(QUERIES)
            .map(<[f32]>::to_vec)
            .collect()
    });
    if let Some(q) = &real {
        println!("vectors: {} corpus queries", q.len());
    }
    let queries: Vec<Vec<f32>> = real.unwrap_or_else(|| queries_near(&data, dim, QUERIES));
    let truth_of = |rows: usize| -> Vec<Vec<u64>> {
        queries
            .iter()
            .map(|q| exact_top_k(&unit[..rows * dim], dim, q, K))
            .collect()
    };
    let full = Set {
        name: format!("{n}"),
        data: &data,
        dim,
        queries: &queries,
        truth: truth_of(n),
    };
    brute(report, &full, &unit)?;
    ours_each(report, &full)?;
    let m = n.min(args.peer_max);
    if m < n {
        // The peer at a size it finishes; ours beside it at that size.
        let prefix = Set {
            name: format!("{m}"),
            data: &data[..m * dim],
            dim,
            queries: &queries,
            truth: truth_of(m),
        };
        ours_each(report, &prefix)?;
        peer(report, &prefix, args.threads)?;
    } else {
        peer(report, &full, args.threads)?;
    }
    drop(unit);
    cold(report, &data, dim, &queries, &full.truth).await
}

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

/// Through a table: build time with Parquet, warm p50, and the bytes and
/// requests of a cold query per probe count.
async fn cold(
    report: &mut Report,
    data: &[f32],
    dim: usize,
    queries: &[Vec<f32>],
    truth: &[Vec<u64>],
) -> anyhow::Result<()> {
    let conn = Connection::connect("memory://")?;
    for rerank in [Rerank::Sq8, Rerank::None] {
        cold_one(report, &conn, rerank, data, dim, queries, truth).await?;
    }
    Ok(())
}

/// [`cold`] for one rerank payload: SQ8 (the default; subjects `table N
/// …`) or none, reranked from the stored column (`table N column …`).
async fn cold_one(
    report: &mut Report,
    conn: &Connection,
    rerank: Rerank,
    data: &[f32],
    dim: usize,
    queries: &[Vec<f32>],
    truth: &[Vec<u64>],
) -> anyhow::Result<()> {
    let n = data.len() / dim;
    let params = BuildParams {
        rerank,
        ..BuildParams::default()
    };
    let spec = IndexSpec::default().with_vector("embedding", Metric::Cosine, params);
    let (name, tag) = match rerank {
        Rerank::Sq8 => ("v", String::new()),
        other => ("v_column", format!("{} ", rerank_name(other))),
    };
    let list = FixedSizeListArray::try_new(
        Arc::new(Field::new("item", DataType::Float32, false)),
        i32::try_from(dim)?,
        Arc::new(Float32Array::from(data.to_vec())),
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
        .create_table(name, schema(dim)?, &spec)
        .await?
        .append(&[batch])
        .await?;
    let subject = format!("table {n} {tag}({} files)", table.manifest().files.len());
    report.record(
        CELL,
        &subject,
        "build_with_parquet",
        started.elapsed().as_secs_f64(),
        "s",
    );
    // One append reserves one contiguous run of `_id`s, in row order.
    let base = table
        .manifest()
        .files
        .iter()
        .map(|f| f.first_id)
        .min()
        .unwrap_or(0);
    let truth: Vec<Vec<u64>> = truth
        .iter()
        .map(|t| t.iter().map(|r| base + r).collect())
        .collect();
    let column_mb = (data.len() * 4) as f64 / 1e6;
    let mut settings: Vec<(String, Option<usize>)> = [8, 16, 32, 64]
        .into_iter()
        .map(|p| (format!("nprobe {p}"), Some(p)))
        .collect();
    settings.push(("nprobe default".to_owned(), None));
    for (label, nprobe) in settings {
        // Cold: a fresh handle per query reads its index afresh.
        let mut cold_bytes = Vec::new();
        let mut cold_requests = Vec::new();
        let mut cold_trips = Vec::new();
        for q in queries.iter().take(5) {
            let fresh = conn.open_table(name).await?;
            let before = conn.store().stats();
            fresh.vector_search_hits(&query_of(q, nprobe)).await?;
            let io = conn.store().stats().since(&before);
            cold_bytes.push(io.bytes_read as f64);
            cold_requests.push(io.total_requests() as f64);
            cold_trips.push(io.round_trips as f64);
        }
        let (recall, mut times) = measure(&table, queries, &truth, nprobe).await?;
        let subject = format!("table {n} {tag}{label}");
        report.record(CELL, &subject, "recall_at_10", recall, "");
        report.record(CELL, &subject, "p50", percentile_ms(&mut times, 50.0), "ms");
        cold_bytes.sort_by(f64::total_cmp);
        cold_requests.sort_by(f64::total_cmp);
        cold_trips.sort_by(f64::total_cmp);
        let bytes = cold_bytes[cold_bytes.len() / 2] / 1e6;
        report.record(CELL, &subject, "cold_bytes", bytes, "MB");
        report.record(
            CELL,
            &subject,
            "cold_share_of_column",
            100.0 * bytes / column_mb,
            "%",
        );
        report.record(
            CELL,
            &subject,
            "cold_requests",
            cold_requests[cold_requests.len() / 2],
            "",
        );
        report.record(
            CELL,
            &subject,
            "cold_round_trips",
            cold_trips[cold_trips.len() / 2],
            "",
        );
    }
    Ok(())
}

fn query_of(vector: &[f32], nprobe: Option<usize>) -> VectorQuery<'_> {
    VectorQuery {
        nprobe,
        ..VectorQuery::new("embedding", vector, K)
    }
}

/// Mean recall@10 and warm latencies (each query once to warm, then timed).
async fn measure(
    table: &Table,
    queries: &[Vec<f32>],
    truth: &[Vec<u64>],
    nprobe: Option<usize>,
) -> anyhow::Result<(f64, Vec<Duration>)> {
    let mut found = 0usize;
    let mut times = Vec::new();
    for (q, want) in queries.iter().zip(truth) {
        let query = query_of(q, nprobe);
        let hits = table.vector_search_hits(&query).await?;
        found += hits.iter().filter(|h| want.contains(&h.id)).count();
        for _ in 0..REPEATS {
            let t = Instant::now();
            table.vector_search_hits(&query).await?;
            times.push(t.elapsed());
        }
    }
    Ok((found as f64 / (queries.len() * K) as f64, times))
}
