//! The peers cell: infino beside the engines of `shared/peers`, on the same
//! corpus, in the same run.
//!
//! Our side: the corpus's `docs.parquet` goes into a table in a local
//! directory (full-text `body`, cosine vector `embedding`), the table is
//! re-opened, then BM25 top-10 over `queries.parquet`'s texts, vector
//! top-10 over its embeddings (recall@10 against exact cosine, computed
//! here), and the SQL filter + aggregate of the peers' driver are timed —
//! one warm-up pass, then a timed pass, one query at a time, as the driver
//! does. Then `bench_peers.py` runs each peer on the same corpus and its
//! JSON lines are read back, so every ratio compares numbers taken minutes
//! apart on the same machine.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use std::time::{Duration, Instant};

use anyhow::Context;
use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use infino_fts::FtsConfig;
use infino_superfile::IndexSpec;
use infino_table::{Connection, VectorQuery};
use infino_vector::{BuildParams, Metric};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

use crate::report::{Report, percentile_ms};

const CELL: &str = "peers";
const K: usize = 10;
const SQL: &str = "SELECT category, count(*) AS n FROM docs WHERE year >= 2000 GROUP BY category";

/// Where the peers' driver and its Python live.
pub(crate) struct PeerSetup {
    pub(crate) python: PathBuf,
    pub(crate) driver: PathBuf,
    /// `engine[:variant][+pylance]`, run one after another.
    pub(crate) engines: Vec<String>,
}

fn read_parquet(path: &Path) -> anyhow::Result<Vec<RecordBatch>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)?
        .with_batch_size(8192)
        .build()?;
    Ok(reader.collect::<Result<Vec<_>, _>>()?)
}

fn embeddings(batches: &[RecordBatch]) -> anyhow::Result<(usize, Vec<f32>)> {
    let mut out = None;
    for b in batches {
        crate::corpus::append_embeddings(b, &mut out);
    }
    out.context("no `embedding` column")
}

/// Our numbers: (build s, BM25 p50/p95, vector p50/p95, recall@10, SQL p50).
struct Ours {
    build_s: f64,
    disk_mb: f64,
    bm25: (f64, f64),
    vector: (f64, f64),
    recall: f64,
    sql: f64,
}

pub(crate) async fn run(report: &mut Report, dir: &Path, peers: &PeerSetup) -> anyhow::Result<()> {
    let ours = measure_ours(dir).await?;
    let label = "infino (this build)";
    report.record(CELL, label, "build", ours.build_s, "s");
    report.record(CELL, label, "disk", ours.disk_mb, "MB");
    report.record(CELL, label, "bm25_p50", ours.bm25.0, "ms");
    report.record(CELL, label, "bm25_p95", ours.bm25.1, "ms");
    report.record(CELL, label, "vector_p50", ours.vector.0, "ms");
    report.record(CELL, label, "vector_p95", ours.vector.1, "ms");
    report.record(CELL, label, "recall_at_10", ours.recall, "");
    report.record(CELL, label, "sql_p50", ours.sql, "ms");
    for engine in &peers.engines {
        match run_peer(dir, peers, engine) {
            Ok(lines) => record_peer(report, engine, &lines, &ours),
            Err(e) => {
                println!("peer {engine} failed: {e:#}");
                report.record(CELL, engine, "failed", 1.0, "");
            }
        }
    }
    Ok(())
}

async fn measure_ours(dir: &Path) -> anyhow::Result<Ours> {
    let docs = read_parquet(&dir.join("docs.parquet"))?;
    let queries = read_parquet(&dir.join("queries.parquet"))?;
    let schema = docs.first().context("empty docs.parquet")?.schema();
    let work = tempfile::tempdir()?;
    let root = work.path().to_str().context("utf-8 path")?.to_owned();
    let spec = IndexSpec::default()
        .with_fts("body", FtsConfig::default())
        .with_vector("embedding", Metric::Cosine, BuildParams::default());
    let started = Instant::now();
    {
        let conn = Connection::connect(&root)?;
        let table = conn.create_table("docs", schema, &spec).await?;
        table.append(&docs).await?;
    }
    let build_s = started.elapsed().as_secs_f64();
    let disk_mb = dir_bytes(work.path()) as f64 / 1e6;

    // Re-open, as the peers' driver does, with a disk cache (as the driver
    // gives infino 0.11 its `cache_dir`): the warm-up pass fills it, the
    // timed pass reads memory-mapped files.
    let cache = tempfile::tempdir()?;
    let cache_dir = cache.path().to_str().context("utf-8 path")?.to_owned();
    let conn = Connection::connect_with(&root, [("cache_dir", cache_dir.as_str())])?;
    let table = conn.open_table("docs").await?;
    let texts: Vec<String> = queries
        .iter()
        .flat_map(|b| {
            b.column_by_name("text")
                .map(|c| {
                    c.as_string::<i32>()
                        .iter()
                        .map(|t| plain(t.unwrap_or_default()))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
        .collect();
    let mut bm25 = Vec::new();
    for pass in 0..2 {
        if pass == 1 {
            conn.store().wait_for_cache_fills().await;
        }
        for q in &texts {
            let t = Instant::now();
            let hits = table.search("body", q, K, &["id"]).await?;
            if pass == 1 {
                bm25.push(t.elapsed());
            }
            drop(hits);
        }
    }
    let (dim, qv) = embeddings(&queries)?;
    let (_, dv) = embeddings(&docs)?;
    let ids: Vec<i64> = docs
        .iter()
        .flat_map(|b| {
            b.column_by_name("id")
                .and_then(|c| {
                    c.as_primitive_opt::<Int64Type>()
                        .map(|a| a.values().to_vec())
                })
                .unwrap_or_default()
        })
        .collect();
    let truth = exact_top_k(&dv, &qv, dim, &ids);
    let mut vector = Vec::new();
    let mut found = 0usize;
    for pass in 0..2 {
        for (i, q) in qv.chunks(dim).enumerate() {
            let t = Instant::now();
            let out = table
                .vector_search(&VectorQuery::new("embedding", q, K), &["id"])
                .await?;
            if pass == 1 {
                vector.push(t.elapsed());
                let got = out
                    .column_by_name("id")
                    .and_then(|c| {
                        c.as_primitive_opt::<Int64Type>()
                            .map(|a| a.values().to_vec())
                    })
                    .unwrap_or_default();
                let want: HashSet<i64> = truth[i].iter().copied().collect();
                found += got.iter().filter(|id| want.contains(id)).count();
            }
        }
    }
    let recall = found as f64 / (K * truth.len()).max(1) as f64;
    let sql = infino_sql::SqlContext::new(&conn).await?;
    let mut sql_times = Vec::new();
    for rep in 0..21 {
        let t = Instant::now();
        let out = sql.sql(SQL).await?;
        if rep > 0 {
            sql_times.push(t.elapsed());
        }
        anyhow::ensure!(!out.is_empty(), "the SQL aggregate returned nothing");
    }
    let pair = |mut v: Vec<Duration>| (percentile_ms(&mut v, 50.0), percentile_ms(&mut v, 95.0));
    Ok(Ours {
        build_s,
        disk_mb,
        bm25: pair(bm25),
        vector: pair(vector),
        recall,
        sql: pair(sql_times).0,
    })
}

/// Query text without our query syntax: the peers take plain words (OR).
fn plain(text: &str) -> String {
    text.chars()
        .map(|c| if "\"+-*~^():\\".contains(c) { ' ' } else { c })
        .collect()
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    for e in entries.flatten() {
        let path = e.path();
        total += if path.is_dir() {
            dir_bytes(&path)
        } else {
            e.metadata().map_or(0, |m| m.len())
        };
    }
    total
}

/// Exact cosine top-k ids per query.
fn exact_top_k(docs: &[f32], queries: &[f32], dim: usize, ids: &[i64]) -> Vec<Vec<i64>> {
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    let doc_norms: Vec<f32> = docs.chunks(dim).map(norm).collect();
    queries
        .chunks(dim)
        .map(|q| {
            let qn = norm(q);
            let mut scored: Vec<(f32, i64)> = docs
                .chunks(dim)
                .zip(&doc_norms)
                .zip(ids)
                .map(|((d, dn), id)| {
                    let dot: f32 = d.iter().zip(q).map(|(a, b)| a * b).sum();
                    (dot / (dn * qn), *id)
                })
                .collect();
            let k = K.min(scored.len());
            if k == 0 {
                return Vec::new();
            }
            scored.select_nth_unstable_by(k.saturating_sub(1), |a, b| b.0.total_cmp(&a.0));
            scored.truncate(k);
            scored.into_iter().map(|(_, id)| id).collect()
        })
        .collect()
}

/// Run one peer through the driver; its JSON lines.
fn run_peer(dir: &Path, setup: &PeerSetup, spec: &str) -> anyhow::Result<Vec<Value>> {
    let (engine_variant, pylance) = match spec.strip_suffix("+pylance") {
        Some(rest) => (rest, true),
        None => (spec, false),
    };
    let (engine, variant) = match engine_variant.split_once(':') {
        Some((e, v)) => (e, Some(v)),
        None => (engine_variant, None),
    };
    let mut cmd = Command::new(&setup.python);
    cmd.arg(&setup.driver)
        .arg("--corpus")
        .arg(dir)
        .args(["--engine", engine]);
    if let Some(v) = variant {
        cmd.args(["--variant", v]);
    }
    if pylance {
        cmd.args(["--lance-api", "pylance"]);
    }
    let out = cmd
        .output()
        .with_context(|| format!("running {}", setup.driver.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "{spec}: {}",
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or("failed")
    );
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

/// The driver's records of operation `name`.
fn ops<'a>(lines: &'a [Value], name: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    lines.iter().filter(move |l| l["op"] == name)
}

fn record_peer(report: &mut Report, spec: &str, lines: &[Value], ours: &Ours) {
    let num = |v: &Value, key: &str| v.get(key).and_then(Value::as_f64);
    let version = lines
        .first()
        .and_then(|l| l["version"].as_str())
        .unwrap_or("?");
    let label = format!("{spec} {version}");
    if let Some(build) = ops(lines, "build").next().and_then(|l| num(l, "seconds")) {
        report.record(CELL, &label, "build", build, "s");
        report.record(CELL, &label, "build ours/peer", ours.build_s / build, "x");
    }
    if let Some(p50) = ops(lines, "bm25_top10")
        .next()
        .and_then(|l| num(l, "p50_ms"))
    {
        report.record(CELL, &label, "bm25_p50", p50, "ms");
        report.record(CELL, &label, "bm25 ours/peer", ours.bm25.0 / p50, "x");
    }
    // The vector point to compare: the fastest with recall at least ours
    // (less 0.005), else the most accurate the peer reached.
    let points: Vec<(f64, f64)> = ops(lines, "vector_top10")
        .filter_map(|l| Some((num(l, "p50_ms")?, num(l, "recall_at_k")?)))
        .collect();
    let pick = points
        .iter()
        .filter(|(_, r)| *r >= ours.recall - 0.005)
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .or_else(|| points.iter().max_by(|a, b| a.1.total_cmp(&b.1)));
    if let Some(&(p50, recall)) = pick {
        report.record(CELL, &label, "vector_p50", p50, "ms");
        report.record(CELL, &label, "recall_at_10", recall, "");
        report.record(CELL, &label, "vector ours/peer", ours.vector.0 / p50, "x");
    }
    if let Some(p50) = ops(lines, "sql_filter_agg")
        .next()
        .and_then(|l| num(l, "p50_ms"))
    {
        report.record(CELL, &label, "sql_p50", p50, "ms");
        report.record(CELL, &label, "sql ours/peer", ours.sql / p50, "x");
    }
}
