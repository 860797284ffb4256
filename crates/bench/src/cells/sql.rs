//! The SQL cell, on as many rows as the corpus has documents (`--synthetic
//! 1000000` for the 1M-row numbers):
//!
//! - an indexed text equality at 0.1 % selectivity against the same query
//!   on an unindexed copy of the column (a full scan) — goal ≥ 10× faster —
//!   and `IN` lists selecting 3 % and 15 % of the rows, likewise;
//! - filter + GROUP BY over infino against DataFusion over the same rows as
//!   plain Parquet on the same disk — goal ratio ≤ 1.1 — and against DuckDB
//!   (from the peers' Python venv, when it is there) over that same file;
//! - hybrid retrieval joined to a second table and aggregated.
//!
//! Both engines read local files from one temporary directory, written with
//! the same row groups, pages and codec, so the comparison is the engines
//! (dictionaries excepted: each writer chooses its own), not the media.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use infino_fts::FtsConfig;
use infino_sql::SqlContext;
use infino_superfile::IndexSpec;
use infino_table::Connection;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::cells::table::{DIM, batch, schema, spec, vectors};
use crate::corpus::Corpus;
use crate::report::{Report, percentile_ms};

const CELL: &str = "sql";
/// Distinct codes: one code selects 0.1 % of the rows.
const CODES: u64 = 1000;
const CATEGORIES: [&str; 8] = [
    "news", "sport", "music", "film", "tech", "food", "travel", "art",
];

fn events_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("code", DataType::Utf8, false),
        Field::new("code_copy", DataType::Utf8, false),
        Field::new("category", DataType::Utf8, false),
        Field::new("amount", DataType::Float64, false),
    ]))
}

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Rows `range` of the events table; `id` is the corpus id of the same row,
/// so events join the documents on it.
fn events(corpus: &Corpus, range: std::ops::Range<usize>) -> anyhow::Result<RecordBatch> {
    let codes: Vec<String> = range
        .clone()
        .map(|i| format!("c{}", mix(i as u64) % CODES))
        .collect();
    Ok(RecordBatch::try_new(
        events_schema(),
        vec![
            Arc::new(Int64Array::from(corpus.ids[range.clone()].to_vec())),
            Arc::new(StringArray::from_iter_values(&codes)),
            Arc::new(StringArray::from_iter_values(&codes)),
            Arc::new(StringArray::from_iter_values(
                range
                    .clone()
                    .map(|i| CATEGORIES[(mix(i as u64 + 1) % 8) as usize]),
            )),
            Arc::new(Float64Array::from_iter_values(
                range.map(|i| (mix(i as u64 + 2) % 10_000) as f64 / 100.0),
            )),
        ],
    )?)
}

/// Median latency of each query over five timed runs after one warm-up.
async fn median(
    queries: &[String],
    run: impl AsyncFn(&str) -> anyhow::Result<()>,
) -> anyhow::Result<f64> {
    let mut samples: Vec<Duration> = Vec::new();
    for q in queries {
        run(q).await?;
        for _ in 0..5 {
            let t = Instant::now();
            run(q).await?;
            samples.push(t.elapsed());
        }
    }
    Ok(percentile_ms(&mut samples, 50.0))
}

pub(crate) async fn run(report: &mut Report, corpus: &Corpus, python: &Path) -> anyhow::Result<()> {
    let n = corpus.texts.len();
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("infino");
    std::fs::create_dir_all(&root)?;
    let conn = Connection::connect(&root.to_string_lossy())?;
    let chunks: Vec<RecordBatch> = (0..n)
        .step_by(65_536)
        .map(|s| events(corpus, s..(s + 65_536).min(n)))
        .collect::<anyhow::Result<_>>()?;
    let indexed = IndexSpec::default().with_fts("code", FtsConfig::default());
    conn.create_table("events", events_schema(), &indexed)
        .await?
        .append(&chunks)
        .await?;
    let vecs = vectors(n, 1);
    conn.create_table("docs", schema(), &spec())
        .await?
        .append(&[batch(corpus, &vecs, 0..n)?])
        .await?;

    // The plain copy: the superfiles' row groups (64 Ki rows), pages (at
    // most 4 Ki rows) and codec (Snappy), dictionaries up to 1 MiB (the
    // parquet crate's and pyarrow's default), as a user's own file would
    // likely be written.
    let plain_path = dir.path().join("events.parquet");
    write_plain(&plain_path, &chunks)?;
    let plain = plain_context(&plain_path).await?;
    let sql = SqlContext::new(&conn).await?;
    let ours = async |q: &str| -> anyhow::Result<()> {
        sql.sql(q).await?;
        Ok(())
    };
    let theirs = async |q: &str| -> anyhow::Result<()> {
        plain.sql(q).await?.collect().await?;
        Ok(())
    };

    // Indexed equality at 0.1 % against the same predicate on a copy of
    // the column that has no index.
    let codes: Vec<u64> = (0..10).map(|i| i * 97 % CODES).collect();
    let by = |column: &str| -> Vec<String> {
        codes
            .iter()
            .map(|c| format!("SELECT id, category, amount FROM events WHERE {column} = 'c{c}'"))
            .collect()
    };
    let index_ms = median(&by("code"), ours).await?;
    let scan_ms = median(&by("code_copy"), ours).await?;
    report.record(CELL, "indexed equality 0.1%", "p50", index_ms, "ms");
    report.record(CELL, "same query, full scan", "p50", scan_ms, "ms");
    report.record(
        CELL,
        "indexed equality 0.1%",
        "speedup",
        scan_ms / index_ms,
        "x",
    );

    // Broader selections: IN lists of 30 codes (3 %, read by a take) and
    // 150 codes (15 %, past the take's share: whole row groups), against
    // the same lists on the unindexed copy.
    for (codes_in, label) in [(30_u64, "indexed IN 3%"), (150, "indexed IN 15%")] {
        let lists = |column: &str| -> Vec<String> {
            (0..3)
                .map(|q| {
                    let list: Vec<String> = (0..codes_in)
                        .map(|i| format!("'c{}'", (q * 331 + i * 37) % CODES))
                        .collect();
                    format!(
                        "SELECT id, category, amount FROM events WHERE {column} IN ({})",
                        list.join(", ")
                    )
                })
                .collect()
        };
        let index_ms = median(&lists("code"), ours).await?;
        let scan_ms = median(&lists("code_copy"), ours).await?;
        report.record(CELL, label, "p50", index_ms, "ms");
        report.record(CELL, &format!("{label}, full scan"), "p50", scan_ms, "ms");
        report.record(CELL, label, "speedup", scan_ms / index_ms, "x");
    }

    // Filter + GROUP BY: infino against DataFusion over plain Parquet.
    let grouped = [
        "SELECT category, count(*), avg(amount) FROM events WHERE amount > 50 GROUP BY category",
        "SELECT category, max(amount), min(code_copy) FROM events WHERE code_copy LIKE 'c1%' GROUP BY category",
    ]
    .map(str::to_owned);
    let ours_ms = median(&grouped, ours).await?;
    let theirs_ms = median(&grouped, theirs).await?;
    report.record(CELL, "filter+group by (infino)", "p50", ours_ms, "ms");
    report.record(
        CELL,
        "filter+group by (plain parquet, 1 MiB dictionaries)",
        "p50",
        theirs_ms,
        "ms",
    );
    report.record(CELL, "filter+group by", "ratio", ours_ms / theirs_ms, "x");
    match duckdb_median(python, &plain_path, &grouped)? {
        Some(duck_ms) => {
            report.record(CELL, "filter+group by (duckdb)", "p50", duck_ms, "ms");
            report.record(
                CELL,
                "filter+group by vs duckdb",
                "ratio",
                ours_ms / duck_ms,
                "x",
            );
        }
        None => println!(
            "  (no DuckDB: {} is not the peers' venv; see shared/peers/README.md)",
            python.display()
        ),
    }

    // Hybrid retrieval joined to the events and aggregated.
    // A word of each of the first documents, letters and digits only (no
    // query syntax).
    let words: Vec<String> = corpus
        .texts
        .iter()
        .filter_map(|t| {
            let w: String = t
                .split_whitespace()
                .nth(1)?
                .chars()
                .filter(|c| c.is_alphanumeric())
                .collect();
            (!w.is_empty()).then_some(w)
        })
        .take(10)
        .collect();
    let hybrid: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let v = &vecs[i * DIM..(i + 1) * DIM];
            let v: Vec<String> = v.iter().map(|x| format!("{x:?}")).collect();
            format!(
                "SELECT e.category, count(*), avg(h._score) FROM hybrid_search('docs', 'text', '{}', \
                 'embedding', '[{}]', 100) h JOIN events e ON h.id = e.id GROUP BY e.category",
                w,
                v.join(",")
            )
        })
        .collect();
    let hybrid_ms = median(&hybrid, ours).await?;
    report.record(
        CELL,
        "hybrid top 100 + join + group by",
        "p50",
        hybrid_ms,
        "ms",
    );
    Ok(())
}

/// Writes `chunks` as one plain Parquet file with the superfiles' layout and
/// the default dictionary limit.
fn write_plain(path: &Path, chunks: &[RecordBatch]) -> anyhow::Result<()> {
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(65_536))
        .set_data_page_row_count_limit(4096)
        .build();
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(path)?, events_schema(), Some(props))?;
    for chunk in chunks {
        writer.write(chunk)?;
    }
    writer.close()?;
    Ok(())
}

/// A DataFusion session with `path` registered as `events`.
async fn plain_context(path: &Path) -> anyhow::Result<SessionContext> {
    let context = SessionContext::new();
    context
        .register_parquet(
            "events",
            path.to_string_lossy().as_ref(),
            ParquetReadOptions::default(),
        )
        .await?;
    Ok(context)
}

/// DuckDB's median over `queries` (a view `events` over the plain Parquet
/// file), timed like [`median`]: one warm-up, then five runs each. `None`
/// when `python` is absent.
fn duckdb_median(python: &Path, parquet: &Path, queries: &[String]) -> anyhow::Result<Option<f64>> {
    if !python.exists() {
        return Ok(None);
    }
    const SCRIPT: &str = r#"
import statistics, sys, time
import duckdb
con = duckdb.connect()
path = sys.argv[1].replace("'", "''")
con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{path}')")
samples = []
for q in sys.argv[2:]:
    con.execute(q).fetchall()
    for _ in range(5):
        t = time.perf_counter()
        con.execute(q).fetchall()
        samples.append((time.perf_counter() - t) * 1e3)
print(statistics.median(samples))
"#;
    let out = Command::new(python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(parquet)
        .args(queries)
        .output()?;
    if !out.status.success() {
        anyhow::bail!(
            "duckdb run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(Some(String::from_utf8(out.stdout)?.trim().parse()?))
}
