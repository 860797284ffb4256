//! The mutations cell: delete, update and upsert throughput; query latency
//! with 1% and 10% of rows deleted versus none; compaction throughput and
//! peak RSS; garbage collection of 10,000 unreferenced files.

use std::time::{Duration, Instant};

use infino_store::Path;
use infino_table::{Connection, GcOptions, OptimizeOptions, Table, TableOptions};

use crate::cells::table::{DIM, batch, schema, spec, time_each, time_vectors, vectors};
use crate::corpus::Corpus;
use crate::report::{Report, peak_rss_bytes, percentile_ms, reset_peak_rss};

const CELL: &str = "mutations";

pub(crate) async fn run(report: &mut Report, corpus: &Corpus) -> anyhow::Result<()> {
    let n = corpus.texts.len();
    let vecs = vectors(n, 1);
    let conn = Connection::connect("memory://")?;
    let keyed = TableOptions::default().with_key("id");
    let base = conn
        .create_table_with("m", schema(), &spec(), &keyed)
        .await?
        .append(&[batch(corpus, &vecs, 0..n)?])
        .await?;
    // Queries: the corpus's most frequent words, alone and in pairs.
    let words = frequent_words(corpus, 20);
    let text_queries: Vec<String> = words
        .chunks(2)
        .flat_map(|w| [w[0].clone(), w.join(" ")])
        .collect();
    let probes: Vec<Vec<f32>> = vectors(20, 2).chunks(DIM).map(<[f32]>::to_vec).collect();

    let none = latencies(&base, &text_queries, &probes).await?;
    record_latency(report, "0% deleted", none);

    // 1% deleted: ids are the corpus's row numbers.
    let started = Instant::now();
    let one = base.delete("id % 100 = 0").await?;
    throughput(report, "delete 1%", one.deleted, started.elapsed());
    let at_one = latencies(&one.table, &text_queries, &probes).await?;
    record_latency(report, "1% deleted", at_one);
    ratio(report, "1% deleted", at_one, none);

    let started = Instant::now();
    let ten = one.table.delete("id % 100 BETWEEN 1 AND 9").await?;
    throughput(report, "delete 9% more", ten.deleted, started.elapsed());
    let at_ten = latencies(&ten.table, &text_queries, &probes).await?;
    record_latency(report, "10% deleted", at_ten);
    ratio(report, "10% deleted", at_ten, none);

    let started = Instant::now();
    let updated = ten
        .table
        .update("id % 100 = 50", &[("text", "concat(text, ' revised')")])
        .await?;
    throughput(report, "update 1%", updated.deleted, started.elapsed());

    let rows: Vec<usize> = (0..n).filter(|i| i % 100 == 60).collect();
    let replacement = arrow::compute::concat_batches(
        &schema(),
        &rows
            .iter()
            .map(|&i| batch(corpus, &vecs, i..i + 1))
            .collect::<anyhow::Result<Vec<_>>>()?,
    )?;
    let started = Instant::now();
    let upserted = updated.table.upsert(&[replacement]).await?;
    throughput(report, "upsert 1%", upserted.inserted, started.elapsed());

    reset_peak_rss();
    let started = Instant::now();
    let compacted = upserted.table.optimize(&OptimizeOptions::default()).await?;
    let took = started.elapsed();
    report.record(
        CELL,
        "optimize",
        "rows_per_s",
        compacted.rows_written as f64 / took.as_secs_f64(),
        "rows/s",
    );
    report.record(
        CELL,
        "optimize",
        "peak_rss",
        peak_rss_bytes().unwrap_or(0) as f64 / 1e6,
        "MB",
    );
    let after = latencies(&compacted.table, &text_queries, &probes).await?;
    record_latency(report, "after optimize", after);
    gc_many(report).await
}

/// p50 of BM25 and of vector search, in milliseconds.
async fn latencies(
    table: &Table,
    text: &[String],
    probes: &[Vec<f32>],
) -> anyhow::Result<(f64, f64)> {
    let mut bm25 = time_each(text, |q| async move {
        table.search_hits("text", q, 10).await.map(drop)
    })
    .await?;
    let mut dense = time_vectors(table, probes, None).await?;
    Ok((
        percentile_ms(&mut bm25, 50.0),
        percentile_ms(&mut dense, 50.0),
    ))
}

fn record_latency(report: &mut Report, label: &str, (bm25, vector): (f64, f64)) {
    report.record(CELL, &format!("bm25 {label}"), "p50", bm25, "ms");
    report.record(CELL, &format!("vector {label}"), "p50", vector, "ms");
}

fn ratio(report: &mut Report, label: &str, with: (f64, f64), without: (f64, f64)) {
    report.record(
        CELL,
        &format!("bm25 {label} / none"),
        "ratio",
        with.0 / without.0,
        "x",
    );
    report.record(
        CELL,
        &format!("vector {label} / none"),
        "ratio",
        with.1 / without.1,
        "x",
    );
}

fn throughput(report: &mut Report, label: &str, rows: u64, took: Duration) {
    report.record(
        CELL,
        label,
        "rows_per_s",
        rows as f64 / took.as_secs_f64(),
        "rows/s",
    );
    report.record(CELL, label, "time", took.as_secs_f64() * 1e3, "ms");
}

/// The `k` most frequent whitespace words of the corpus.
fn frequent_words(corpus: &Corpus, k: usize) -> Vec<String> {
    let mut counts = std::collections::HashMap::<String, usize>::new();
    for text in corpus.texts.iter().take(20_000) {
        for w in text.split_whitespace() {
            let w: String = w.chars().filter(|c| c.is_alphanumeric()).collect();
            if w.len() > 3 {
                *counts.entry(w.to_lowercase()).or_default() += 1;
            }
        }
    }
    let mut words: Vec<(String, usize)> = counts.into_iter().collect();
    words.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    words.into_iter().take(k).map(|(w, _)| w).collect()
}

/// Time garbage collection of 10,000 unreferenced data files in a local
/// directory.
async fn gc_many(report: &mut Report) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let conn = Connection::connect(dir.path().to_str().ok_or_else(|| anyhow::anyhow!("path"))?)?;
    let table = conn.create_table("g", schema(), &spec()).await?;
    let payload = bytes::Bytes::from(vec![7u8; 1024]);
    for i in 0..10_000 {
        let path = Path::from(format!("g/data/orphan-{i:05}.sf.parquet"));
        conn.store().put(&path, payload.clone()).await?;
    }
    let started = Instant::now();
    let done = table
        .gc(&GcOptions::new(Duration::ZERO, Duration::ZERO))
        .await?;
    let took = started.elapsed();
    anyhow::ensure!(
        done.files_deleted == 10_000,
        "gc deleted {}",
        done.files_deleted
    );
    report.record(
        CELL,
        "gc 10,000 unreferenced files",
        "time",
        took.as_secs_f64() * 1e3,
        "ms",
    );
    Ok(())
}
