//! `infino-bench`: run named benchmark cells, print a table, append JSON lines.
//!
//! ```text
//! cargo run --release -p infino-bench -- storage
//! cargo run --release -p infino-bench -- storage --corpus ../shared/datasets/reuters
//! cargo run --release -p infino-bench -- cold --synthetic 1000000 --delay-ms 20
//! cargo run --release -p infino-bench -- vectors --corpus ~/.cache/peers-data/syn100k_d384
//! cargo run --release -p infino-bench -- vectors --synthetic 1000000 --dim 384
//! ```
//!
//! Each row of the results file is one number: cell, subject, metric, value,
//! unit, corpus, git revision and timestamp. Peak RSS is recorded per run.

#![expect(clippy::print_stdout, reason = "a benchmark binary reports on stdout")]
#![expect(
    clippy::cast_precision_loss,
    reason = "measurements are reported as f64"
)]

mod cells;
mod corpus;
mod report;

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use crate::corpus::Corpus;
use crate::report::{Report, peak_rss_bytes};

/// The cells this binary knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Cell {
    /// Ranged reads per storage backend.
    Storage,
    /// Full-text build and query classes, beside tantivy.
    Fts,
    /// nDCG@10 against the corpus's judgments (needs `--corpus`).
    Quality,
    /// Table ingest, 1 vs 32 files query latency, 10,000-file manifest open.
    Table,
    /// Delete, update, upsert throughput; latency with deletions; compaction; GC.
    Mutations,
    /// SQL: indexed equality vs full scan, filter+GROUP BY vs plain Parquet, hybrid + join.
    Sql,
    /// Beside the engines of `shared/peers` on their corpus (needs `--corpus`
    /// with `queries.parquet` and embeddings, and the peers' Python venv).
    Peers,
    /// Cold and warm reads of a table on the S3 server through a delaying proxy.
    Cold,
    /// Vector recall@10 against latency and cold bytes, per probe count.
    Vectors,
}

#[derive(Debug, Parser)]
#[command(about = "infino benchmarks: run cells by name")]
struct Args {
    /// Cells to run.
    #[arg(required = true, value_enum)]
    cells: Vec<Cell>,
    /// A corpus directory in the shared dataset format (docs.parquet, …).
    #[arg(long, conflicts_with = "synthetic")]
    corpus: Option<PathBuf>,
    /// Generate this many synthetic Zipfian documents instead.
    #[arg(long, default_value_t = 100_000)]
    synthetic: usize,
    /// Dimension of the `vectors` cell's synthetic clustered vectors (when
    /// the corpus has no embeddings).
    #[arg(long, default_value_t = 384)]
    dim: usize,
    /// Rows the `vectors` cell's HNSW peer indexes at most (its build is
    /// slow at millions of rows on few cores); above, both engines are
    /// also compared on that prefix.
    #[arg(long, default_value_t = 200_000)]
    peer_max: usize,
    /// Results file (JSON lines, appended).
    #[arg(long, default_value = "bench-results/results.jsonl")]
    results: PathBuf,
    /// Skip cells parts that need the S3 server on loopback.
    #[arg(long)]
    no_server: bool,
    /// Delay the `cold` cell's proxy adds to every request, in milliseconds.
    #[arg(long, default_value_t = 20)]
    delay_ms: u64,
    /// Python of the peers' venv (the `peers` cell).
    #[arg(long, default_value = "~/.cache/peers-venv/bin/python")]
    peers_python: String,
    /// The peers' driver script.
    #[arg(long, default_value = "../shared/peers/bench_peers.py")]
    peers_driver: PathBuf,
    /// Peers to run: `engine[:variant][+pylance]`, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "tantivy,lancedb:ivf_hnsw_sq+pylance,infino,duckdb,faiss:hnsw"
    )]
    peers: Vec<String>,
    /// The `fts` cell's query classes to time (`phrase`, `or_2`, …),
    /// comma-separated, with each query's medians printed; all classes
    /// (class medians only) when absent.
    #[arg(long, value_delimiter = ',')]
    classes: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // The vectors cell generates its own vectors without `--corpus`.
    let needs_corpus = args
        .cells
        .iter()
        .any(|c| !matches!(c, Cell::Storage | Cell::Vectors));
    let corpus = match (&args.corpus, needs_corpus) {
        (Some(dir), _) => Some(Corpus::load(dir)?),
        (None, true) => Some(Corpus::synthetic(args.synthetic)),
        (None, false) => None,
    };
    let corpus_name = corpus.as_ref().map_or_else(
        || match args.cells.contains(&Cell::Vectors) {
            true => format!("synthetic_vectors_{}x{}", args.synthetic, args.dim),
            false => "none".to_owned(),
        },
        |c| c.name.clone(),
    );
    if let Some(c) = &corpus {
        println!(
            "corpus {}: {} docs, {} MB of text",
            c.name,
            c.ids.len(),
            c.text_bytes() / 1_000_000
        );
    }
    let mut report = Report::new(&corpus_name);
    let runtime = tokio::runtime::Runtime::new()?;
    for cell in &args.cells {
        match cell {
            Cell::Storage => runtime.block_on(cells::storage::run(&mut report, !args.no_server))?,
            Cell::Fts => cells::fts::run(
                &mut report,
                corpus
                    .as_ref()
                    .ok_or_else(|| anyhow::anyhow!("no corpus"))?,
                &args.classes,
            )?,
            Cell::Table => {
                let corpus = corpus
                    .as_ref()
                    .ok_or_else(|| anyhow::anyhow!("no corpus"))?;
                runtime.block_on(cells::table::run(&mut report, corpus))?;
            }
            Cell::Mutations => {
                let corpus = corpus
                    .as_ref()
                    .ok_or_else(|| anyhow::anyhow!("no corpus"))?;
                runtime.block_on(cells::mutations::run(&mut report, corpus))?;
            }
            Cell::Sql => {
                let corpus = corpus
                    .as_ref()
                    .ok_or_else(|| anyhow::anyhow!("no corpus"))?;
                let python = peers_python(&args.peers_python)?;
                runtime.block_on(cells::sql::run(&mut report, corpus, &python))?;
            }
            Cell::Peers => {
                let Some(dir) = args.corpus.as_ref() else {
                    anyhow::bail!(
                        "the peers cell needs --corpus DIR (docs.parquet, queries.parquet)"
                    );
                };
                let setup = cells::peers::PeerSetup {
                    python: peers_python(&args.peers_python)?,
                    driver: args.peers_driver.clone(),
                    engines: args.peers.clone(),
                };
                runtime.block_on(cells::peers::run(&mut report, dir, &setup))?;
            }
            Cell::Cold => {
                let corpus = corpus
                    .as_ref()
                    .ok_or_else(|| anyhow::anyhow!("no corpus"))?;
                runtime.block_on(cells::cold::run(&mut report, corpus, args.delay_ms))?;
            }
            Cell::Vectors => {
                let embeddings = corpus.as_ref().and_then(|c| c.embeddings.clone());
                let query_embeddings = match (&args.corpus, &embeddings) {
                    (Some(dir), Some(_)) => crate::corpus::load_query_embeddings(dir)?,
                    _ => None,
                };
                let vector_args = cells::vectors::VectorsArgs {
                    peer_max: args.peer_max,
                    threads: std::thread::available_parallelism().map_or(1, usize::from),
                };
                runtime.block_on(cells::vectors::run(
                    &mut report,
                    embeddings,
                    query_embeddings,
                    (args.synthetic, args.dim),
                    &vector_args,
                ))?;
            }
            Cell::Quality => {
                let (Some(corpus), Some(dir)) = (corpus.as_ref(), args.corpus.as_ref()) else {
                    anyhow::bail!(
                        "the quality cell needs --corpus DIR with queries.parquet and qrels.tsv"
                    );
                };
                runtime.block_on(cells::quality::run(&mut report, corpus, dir))?;
            }
        }
    }
    if let Some(rss) = peak_rss_bytes() {
        report.record("run", "process", "peak_rss", rss as f64 / 1e6, "MB");
    }
    println!("{}", report.table());
    report.append_jsonl(&args.results)?;
    println!("appended to {}", args.results.display());
    Ok(())
}

/// The peers' Python, `~/` expanded.
fn peers_python(arg: &str) -> anyhow::Result<PathBuf> {
    Ok(match arg.strip_prefix("~/") {
        Some(rest) => PathBuf::from(std::env::var("HOME")?).join(rest),
        None => PathBuf::from(arg),
    })
}
