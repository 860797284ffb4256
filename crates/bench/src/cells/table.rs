//! The table cell: ingest throughput (one writer, several writers), warm
//! query latency on a 32-file table versus the same rows in one file, and
//! the time to open a table whose manifest lists 10,000 superfiles.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{FixedSizeListArray, Float32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use infino_fts::FtsConfig;
use infino_store::Path;
use infino_superfile::IndexSpec;
use infino_table::{Connection, FileEntry, FtsSummary, Fusion, Table, TableOptions, VectorQuery};
use infino_vector::{BuildParams, Metric};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::cells::queries::{QuerySpec, query_classes};
use crate::corpus::Corpus;
use crate::report::{Report, peak_rss_bytes, percentile_ms, reset_peak_rss};

const CELL: &str = "table";
pub(crate) const DIM: usize = 64;
const DIM_I32: i32 = 64;

pub(crate) fn schema() -> SchemaRef {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("text", DataType::Utf8, false),
        Field::new("embedding", DataType::FixedSizeList(item, DIM_I32), false),
    ]))
}

pub(crate) fn spec() -> IndexSpec {
    IndexSpec::default()
        .with_fts(
            "text",
            FtsConfig {
                positions: true,
                ..FtsConfig::default()
            },
        )
        .with_vector("embedding", Metric::Cosine, BuildParams::default())
}

/// Random unit-ish vectors around 256 centres (deterministic).
pub(crate) fn vectors(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let centres: Vec<f32> = (0..256 * DIM)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    (0..n)
        .flat_map(|i| {
            let c = (i * 7919) % 256;
            centres[c * DIM..(c + 1) * DIM].to_vec()
        })
        .map(|x| x + rng.random_range(-0.2..0.2))
        .collect()
}

pub(crate) fn batch(
    corpus: &Corpus,
    vecs: &[f32],
    range: std::ops::Range<usize>,
) -> anyhow::Result<RecordBatch> {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let list = FixedSizeListArray::try_new(
        item,
        DIM_I32,
        Arc::new(Float32Array::from(
            vecs[range.start * DIM..range.end * DIM].to_vec(),
        )),
        None,
    )?;
    Ok(RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from(corpus.ids[range.clone()].to_vec())),
            Arc::new(StringArray::from_iter_values(&corpus.texts[range])),
            Arc::new(list),
        ],
    )?)
}

pub(crate) async fn run(report: &mut Report, corpus: &Corpus) -> anyhow::Result<()> {
    let n = corpus.texts.len();
    let vecs = vectors(n, 1);

    // One writer, one append (superfiles of 256 Ki rows built in parallel).
    reset_peak_rss();
    let conn = Connection::connect("memory://")?;
    let started = Instant::now();
    let one = conn
        .create_table("one", schema(), &spec())
        .await?
        .append(&[batch(corpus, &vecs, 0..n)?])
        .await?;
    let took = started.elapsed();
    report.record(
        CELL,
        "ingest 1 writer",
        "docs_per_s",
        n as f64 / took.as_secs_f64(),
        "docs/s",
    );
    report.record(
        CELL,
        "ingest 1 writer",
        "peak_rss",
        peak_rss_bytes().unwrap_or(0) as f64 / 1e6,
        "MB",
    );

    // Four writers racing, 32 appends in all: a 32-file table.
    reset_peak_rss();
    let writers = 4;
    let files = 32;
    let table = conn.create_table("many", schema(), &spec()).await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let table = table.clone();
        let batches: Vec<RecordBatch> = (0..files / writers)
            .map(|f| {
                let part = w * (files / writers) + f;
                batch(corpus, &vecs, part * n / files..(part + 1) * n / files)
            })
            .collect::<anyhow::Result<_>>()?;
        tasks.push(tokio::spawn(async move {
            for b in batches {
                table.append(std::slice::from_ref(&b)).await?;
            }
            Ok::<(), infino_table::TableError>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let took = started.elapsed();
    let many = conn.open_table("many").await?;
    report.record(
        CELL,
        "ingest 4 writers, 32 commits",
        "docs_per_s",
        n as f64 / took.as_secs_f64(),
        "docs/s",
    );
    report.record(
        CELL,
        "ingest 4 writers, 32 commits",
        "peak_rss",
        peak_rss_bytes().unwrap_or(0) as f64 / 1e6,
        "MB",
    );

    let index = infino_superfile::Superfile::open(
        conn.store()
            .get(&Path::from(one.manifest().files[0].path.as_str()))
            .await?,
        infino_superfile::OpenOptions::default(),
    )?;
    let classes = query_classes(index.fts("text")?, &corpus.texts, 10);
    let text_queries: Vec<String> = classes
        .iter()
        .filter(|(name, _)| ["single_common", "or_2", "phrase"].contains(name))
        .flat_map(|(_, qs)| qs.iter().map(QuerySpec::to_infino))
        .collect();
    let probes = vectors(20, 2);
    // The same rows in one superfile: the layout the 32-file table is
    // compared against.
    let single = conn
        .create_table_with(
            "single",
            schema(),
            &spec(),
            &TableOptions::default().with_target_rows(n as u64),
        )
        .await?
        .append(&[batch(corpus, &vecs, 0..n)?])
        .await?;
    let single_label = format!("one superfile ({} file)", single.manifest().files.len());
    let one_label = format!("1 append ({} files)", one.manifest().files.len());
    let many_label = format!("32 appends ({} files)", many.manifest().files.len());
    let mut p50s: Vec<(String, String, f64)> = Vec::new();
    for (label, t) in [
        (single_label.as_str(), &single),
        (one_label.as_str(), &one),
        (many_label.as_str(), &many),
    ] {
        let bm25 = time_each(&text_queries, |q| async move {
            t.search_hits("text", q, 10).await.map(drop)
        })
        .await?;
        let vq: Vec<Vec<f32>> = probes.chunks(DIM).map(<[f32]>::to_vec).collect();
        let dense = time_vectors(t, &vq, None).await?;
        let hybrid = time_vectors(
            t,
            &vq,
            Some(text_queries.first().cloned().unwrap_or_default()),
        )
        .await?;
        for (what, mut samples) in [("bm25", bm25), ("vector", dense), ("hybrid", hybrid)] {
            let p50 = percentile_ms(&mut samples, 50.0);
            p50s.push((what.to_owned(), label.to_owned(), p50));
            report.record(CELL, &format!("{what} {label}"), "p50", p50, "ms");
            report.record(
                CELL,
                &format!("{what} {label}"),
                "p95",
                percentile_ms(&mut samples, 95.0),
                "ms",
            );
        }
    }
    for what in ["bm25", "vector", "hybrid"] {
        let p50 = |label: &str| {
            p50s.iter()
                .find(|(w, l, _)| w == what && l == label)
                .map_or(f64::NAN, |(_, _, v)| *v)
        };
        report.record(
            CELL,
            &format!("{what} 32 files / one superfile"),
            "ratio",
            p50(&many_label) / p50(&single_label),
            "x",
        );
    }
    manifest_open(report).await
}

pub(crate) async fn time_each<'a, F, Fut>(
    queries: &'a [String],
    f: F,
) -> anyhow::Result<Vec<Duration>>
where
    F: Fn(&'a str) -> Fut,
    Fut: std::future::Future<Output = infino_table::Result<()>>,
{
    let mut out = Vec::new();
    for q in queries {
        f(q).await?;
        for _ in 0..5 {
            let t = Instant::now();
            f(q).await?;
            out.push(t.elapsed());
        }
    }
    Ok(out)
}

pub(crate) async fn time_vectors(
    table: &Table,
    queries: &[Vec<f32>],
    text: Option<String>,
) -> anyhow::Result<Vec<Duration>> {
    let mut out = Vec::new();
    for q in queries {
        let vq = VectorQuery::new("embedding", q, 10);
        for i in 0..6 {
            let t = Instant::now();
            match &text {
                None => drop(table.vector_search_hits(&vq).await?),
                Some(text) => drop(
                    table
                        .hybrid_search_hits("text", text, &vq, 10, Fusion::default())
                        .await?,
                ),
            }
            if i > 0 {
                out.push(t.elapsed());
            }
        }
    }
    Ok(out)
}

/// Open a table whose latest manifest lists 10,000 superfiles (entries
/// shaped like real ones, with 8 KiB term filters and kept footers), from a
/// local directory.
async fn manifest_open(report: &mut Report) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let conn = Connection::connect(dir.path().to_str().ok_or_else(|| anyhow::anyhow!("path"))?)?;
    let table = conn.create_table("wide", schema(), &spec()).await?;
    let mut manifest = table.manifest().clone();
    let filler = "A".repeat(10_924); // base64 of 8 KiB
    let footer = "B".repeat(4_000);
    manifest.files = (0..10_000u64)
        .map(|i| FileEntry {
            path: format!("wide/data/{i:08}.sf.parquet"),
            rows: 100_000,
            first_id: i * 100_000,
            size: 50_000_000,
            fts: [(
                "text".to_owned(),
                FtsSummary {
                    doc_count: 100_000,
                    total_tokens: 10_000_000,
                },
            )]
            .into(),
            term_blooms: [("text".to_owned(), filler.clone())].into(),
            footer: Some(footer.clone()),
            max_id: None,
            deletes: None,
            columns: Default::default(),
            term_ranges: Default::default(),
            vectors: Default::default(),
            fts_lookup: [("text".to_owned(), 1_000_000)].into(),
            vector_lookup: Default::default(),
            whole_values: Default::default(),
        })
        .collect();
    manifest.version = 1;
    let bytes = serde_json::to_vec(&manifest)?;
    conn.store()
        .put(
            &Path::from("wide/_versions/00000000000000000001.manifest"),
            bytes.clone().into(),
        )
        .await?;
    let mut samples = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let opened = conn.open_table("wide").await?;
        samples.push(t.elapsed());
        anyhow::ensure!(
            opened.manifest().files.len() == 10_000,
            "manifest round trip"
        );
    }
    report.record(
        CELL,
        "open 10,000-file manifest",
        "size",
        bytes.len() as f64 / 1e6,
        "MB",
    );
    report.record(
        CELL,
        "open 10,000-file manifest",
        "p50",
        percentile_ms(&mut samples, 50.0),
        "ms",
    );
    Ok(())
}
