//! The full-text cell: build a superfile with a full-text region over the
//! corpus and query it warm, beside tantivy on the same documents and
//! queries in the same run.
//!
//! Reported: build time (the median of up to five alternating builds per
//! engine while they are short), docs/s and MB/s of text, peak RSS of the
//! first build (the kernel's high-water mark is reset between phases), index size, and
//! p50/p95 latency per query class with the infino/tantivy ratio.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use infino_fts::{Bm25Params, FtsConfig, Query};
use infino_superfile::{IndexSpec, OpenOptions, Superfile, SuperfileWriter, WriterOptions};

use crate::cells::queries::query_classes;
use crate::cells::tantivy_peer::TantivyPeer;
use crate::corpus::Corpus;
use crate::report::{Report, peak_rss_bytes, percentile_ms, reset_peak_rss};

const CELL: &str = "fts";
const QUERIES_PER_CLASS: usize = 20;
const RUNS_PER_QUERY: usize = 10;
/// Builds per engine at most, and the total build time of ours after which
/// no further build starts (a 1M-document corpus builds once).
const BUILD_RUNS: usize = 5;
const REPEAT_BUILDS_UNDER: Duration = Duration::from_secs(5);
/// The full-text memory budget of the extra, spilling build.
const SPILL_BUDGET: usize = 16 << 20;

/// Runs the cell; `classes` names the query classes to time (all when
/// empty), and then each query's medians are printed too.
pub(crate) fn run(report: &mut Report, corpus: &Corpus, classes: &[String]) -> anyhow::Result<()> {
    let text_mb = corpus.text_bytes() as f64 / 1e6;
    let docs = corpus.texts.len() as f64;

    // First, while the process holds only the corpus, one build whose
    // postings spill to temporary files past a small budget: its time and
    // peak RSS, beside the in-memory builds' below. (Run later, its peak
    // would count memory the allocator kept from them.)
    let started = Instant::now();
    drop(build_superfile(corpus, Some(SPILL_BUDGET))?);
    let spilled_time = started.elapsed().as_secs_f64();
    let spilled_rss = peak_rss_bytes().unwrap_or(0) as f64 / 1e6;
    report.record(
        CELL,
        "infino",
        "build_time_spilling_16mib",
        spilled_time,
        "s",
    );
    report.record(
        CELL,
        "infino",
        "build_peak_rss_spilling_16mib",
        spilled_rss,
        "MB",
    );

    // Builds alternate between the engines, repeated while they are short
    // (a sub-second build on a shared machine swings by a third between
    // runs); the medians are reported. Peak RSS is each engine's first
    // build's: later ones start with memory the allocator kept from earlier
    // builds, which the kernel's mark counts.
    let mut ours_builds = Vec::new();
    let mut theirs_builds = Vec::new();
    let (mut rss, mut peer_rss) = (0f64, 0f64);
    let mut built = None;
    let mut peer = None;
    while ours_builds.len() < BUILD_RUNS {
        reset_peak_rss();
        let started = Instant::now();
        let file = build_superfile(corpus, WriterOptions::default().fts_memory_budget)?;
        ours_builds.push(started.elapsed());
        if ours_builds.len() == 1 {
            rss = peak_rss_bytes().unwrap_or(0) as f64 / 1e6;
        }
        built = Some(file);
        drop(peer.take());
        reset_peak_rss();
        let next = TantivyPeer::build(&corpus.texts)?;
        theirs_builds.push(next.build_time);
        if theirs_builds.len() == 1 {
            peer_rss = peak_rss_bytes().unwrap_or(0) as f64 / 1e6;
        }
        peer = Some(next);
        if ours_builds.iter().sum::<Duration>() > REPEAT_BUILDS_UNDER {
            break;
        }
    }
    let (Some(file), Some(peer)) = (built, peer) else {
        anyhow::bail!("no build ran");
    };
    let build = percentile_ms(&mut ours_builds, 50.0) / 1e3;
    let peer_build = percentile_ms(&mut theirs_builds, 50.0) / 1e3;
    let superfile = Superfile::open(file, OpenOptions::default())?;
    let index = superfile.fts("text")?;
    let region = superfile.directory().regions[0].length as f64;
    report.record(CELL, "infino", "builds", ours_builds.len() as f64, "runs");
    for (engine, time, peak) in [("infino", build, rss), ("tantivy", peer_build, peer_rss)] {
        report.record(CELL, engine, "build_time", time, "s");
        report.record(CELL, engine, "build_docs_per_s", docs / time, "docs/s");
        report.record(CELL, engine, "build_text_mb_per_s", text_mb / time, "MB/s");
        report.record(CELL, engine, "build_peak_rss", peak, "MB");
    }
    report.record(CELL, "infino", "index_size", region / 1e6, "MB");
    report.record(
        CELL,
        "infino",
        "superfile_size",
        superfile.bytes().len() as f64 / 1e6,
        "MB",
    );
    report.record(
        CELL,
        "tantivy",
        "index_size",
        peer.index_bytes as f64 / 1e6,
        "MB",
    );
    report.record(
        CELL,
        "infino/tantivy",
        "build_throughput_ratio",
        peer_build / build,
        "x",
    );
    report.record(
        CELL,
        "infino/tantivy",
        "index_size_ratio",
        region / peer.index_bytes as f64,
        "x",
    );

    for (class, queries) in query_classes(index, &corpus.texts, QUERIES_PER_CLASS) {
        if queries.is_empty() || !(classes.is_empty() || classes.iter().any(|c| c == class)) {
            continue;
        }
        // Rounds: each runs every query once on one engine, then once on
        // the other, so neither answers a query straight after itself (our
        // recent-term memo then helps only within a query, as in a mixed
        // workload), and each meets its caches as its own previous query
        // left them — as in a deployment, which runs one engine, and as
        // `../shared/peers/bench_peers.py` runs its peers. (Alternating the
        // engines query by query made each engine's cache state the
        // other's doing: a light query run straight after the other
        // engine's 100 ms phrase paid for that engine's evictions.)
        let specs: Vec<(String, _)> = queries.iter().map(|q| (q.to_infino(), q)).collect();
        let mut ours_by: Vec<Vec<Duration>> = vec![Vec::new(); specs.len()];
        let mut theirs_by: Vec<Vec<Duration>> = vec![Vec::new(); specs.len()];
        for (query, spec) in &specs {
            infino_top10(&superfile, query)?;
            peer.search(spec)?;
        }
        for _ in 0..RUNS_PER_QUERY {
            for (i, (query, _)) in specs.iter().enumerate() {
                ours_by[i].push(time(|| infino_top10(&superfile, query))?);
            }
            for (i, (_, spec)) in specs.iter().enumerate() {
                theirs_by[i].push(time(|| peer.search(spec))?);
            }
        }
        if !classes.is_empty() {
            // Chosen classes also show each query's medians, to find the
            // queries a class's ratio comes from.
            for (i, (query, _)) in specs.iter().enumerate() {
                let (a, b) = (
                    percentile_ms(&mut ours_by[i].clone(), 50.0),
                    percentile_ms(&mut theirs_by[i].clone(), 50.0),
                );
                println!(
                    "  {class} {query:?}: {a:.4} ms vs tantivy {b:.4} ms ({:.2}x)",
                    a / b
                );
            }
        }
        let mut ours: Vec<Duration> = ours_by.concat();
        let mut theirs: Vec<Duration> = theirs_by.concat();
        let (p50, p95) = (
            percentile_ms(&mut ours, 50.0),
            percentile_ms(&mut ours, 95.0),
        );
        let (t50, t95) = (
            percentile_ms(&mut theirs, 50.0),
            percentile_ms(&mut theirs, 95.0),
        );
        report.record(CELL, "infino", &format!("{class}_p50"), p50, "ms");
        report.record(CELL, "infino", &format!("{class}_p95"), p95, "ms");
        report.record(CELL, "tantivy", &format!("{class}_p50"), t50, "ms");
        report.record(CELL, "tantivy", &format!("{class}_p95"), t95, "ms");
        report.record(
            CELL,
            "infino/tantivy",
            &format!("{class}_p50_ratio"),
            p50 / t50,
            "x",
        );
    }
    Ok(())
}

fn build_superfile(
    corpus: &Corpus,
    fts_memory_budget: Option<usize>,
) -> anyhow::Result<bytes::Bytes> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("text", DataType::Utf8, false),
    ]));
    let spec = IndexSpec::default().with_fts(
        "text",
        FtsConfig {
            positions: true,
            ..FtsConfig::default()
        },
    );
    let options = WriterOptions {
        row_group_rows: 128 * 1024,
        fts_memory_budget,
        ..WriterOptions::default()
    };
    let mut writer = SuperfileWriter::new(Arc::clone(&schema), &spec, &options)?;
    for (ids, texts) in corpus.ids.chunks(8192).zip(corpus.texts.chunks(8192)) {
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(ids.to_vec())),
                Arc::new(StringArray::from_iter_values(texts)),
            ],
        )?;
        writer.write(&batch)?;
    }
    Ok(writer.finish()?)
}

/// Parse, gather this file's statistics, score, take the top 10.
fn infino_top10(file: &Superfile, query: &str) -> anyhow::Result<usize> {
    let index = file.fts("text")?;
    let parsed = Query::parse(query)?;
    let terms = parsed.scoring_terms(index)?;
    let stats = index.local_stats(terms.iter().map(|(t, _)| t.as_str()))?;
    Ok(parsed
        .top_k(index, 10, Bm25Params::default(), &stats, None)?
        .len())
}

fn time(f: impl FnOnce() -> anyhow::Result<usize>) -> anyhow::Result<Duration> {
    let t = Instant::now();
    f()?;
    Ok(t.elapsed())
}
