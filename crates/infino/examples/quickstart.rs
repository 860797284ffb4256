//! The infino quickstart: `cargo run --release -p infino --example quickstart [URI]`.
//!
//! Creates a table (on `memory://` unless a URI or directory is given),
//! ingests the Reuters corpus from `../shared/datasets/reuters` when it is
//! there and generated text otherwise, then runs BM25, phrase, boolean and
//! count queries and prints results with timings and storage requests.

#![expect(clippy::print_stdout, reason = "an example prints what it does")]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use infino::arrow::array::{Array, AsArray, Int64Array, RecordBatch, StringArray};
use infino::arrow::datatypes::{DataType, Field, Float32Type, Int64Type, Schema};
use infino::{FtsConfig, IndexSpec};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let uri = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "memory://quickstart".to_owned());
    let db = infino::connect(&uri)?;
    let (source, ids, titles, bodies) = load_corpus()?;
    println!(
        "infino quickstart on {uri}: {} documents from {source}",
        ids.len()
    );

    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("title", DataType::Utf8, true),
        Field::new("body", DataType::Utf8, true),
    ]));
    let spec = IndexSpec::default().with_fts(
        "body",
        FtsConfig {
            positions: true,
            ..FtsConfig::default()
        },
    );
    if db.list_tables().await?.iter().any(|t| t == "news") {
        db.drop_table("news").await?;
    }
    let table = db.create_table("news", Arc::clone(&schema), &spec).await?;

    let started = Instant::now();
    let mut table = table;
    for ((ids, titles), bodies) in ids
        .chunks(2_500)
        .zip(titles.chunks(2_500))
        .zip(bodies.chunks(2_500))
    {
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(ids.to_vec())),
                Arc::new(titles.iter().map(Option::as_deref).collect::<StringArray>()),
                Arc::new(bodies.iter().map(Option::as_deref).collect::<StringArray>()),
            ],
        )?;
        table = table.append(&[batch]).await?;
    }
    println!(
        "ingested {} rows into {} superfiles (version {}) in {:.2?}\n",
        table.num_rows(),
        table.manifest().files.len(),
        table.version(),
        started.elapsed()
    );

    for (label, query) in [
        ("BM25", "oil prices opec"),
        ("phrase", "\"interest rates\""),
        ("boolean", "+bank +dollar -yen"),
        ("prefix", "currenc*"),
        ("fuzzy", "petrolium~1"),
    ] {
        let db_io = db.store().stats();
        let t = Instant::now();
        let hits = table.search("body", query, 3, &["title"]).await?;
        let took = t.elapsed();
        let io = db.store().stats().since(&db_io);
        println!(
            "{label:>8}  {query:<22} {took:>10.2?}  {} requests",
            io.total_requests()
        );
        let ids = hits
            .column(0)
            .as_primitive::<infino::arrow::datatypes::UInt64Type>();
        let scores = hits.column(1).as_primitive::<Float32Type>();
        let titles = hits.column(2).as_string::<i32>();
        for i in 0..hits.num_rows() {
            let title = if titles.is_valid(i) {
                titles.value(i)
            } else {
                ""
            };
            println!(
                "          _id {:>6}  score {:>6.3}  {}",
                ids.value(i),
                scores.value(i),
                title.trim()
            );
        }
    }
    let t = Instant::now();
    let count = table.count("body", "oil OR gas").await?;
    println!(
        "\n   count  oil OR gas → {count} rows in {:.2?}",
        t.elapsed()
    );
    let old = db.open_table_at("news", 1).await?;
    println!(
        "time travel: version 1 has {} rows, version {} has {}",
        old.num_rows(),
        table.version(),
        table.num_rows()
    );
    Ok(())
}

type Loaded = (String, Vec<i64>, Vec<Option<String>>, Vec<Option<String>>);

/// Reuters from the shared datasets when present, else generated text.
fn load_corpus() -> anyhow::Result<Loaded> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/reuters");
    let path = dir.join("docs.parquet");
    if path.exists() {
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path)?)?.build()?;
        let (mut ids, mut titles, mut bodies) = (Vec::new(), Vec::new(), Vec::new());
        for batch in reader {
            let batch = batch?;
            let id = batch
                .column_by_name("id")
                .ok_or_else(|| anyhow::anyhow!("no id"))?
                .as_primitive::<Int64Type>()
                .clone();
            let title = batch
                .column_by_name("title")
                .ok_or_else(|| anyhow::anyhow!("no title"))?
                .as_string::<i32>()
                .clone();
            let body = batch
                .column_by_name("body")
                .ok_or_else(|| anyhow::anyhow!("no body"))?
                .as_string::<i32>()
                .clone();
            for i in 0..batch.num_rows() {
                ids.push(id.value(i));
                titles.push(title.is_valid(i).then(|| title.value(i).to_owned()));
                bodies.push(body.is_valid(i).then(|| body.value(i).to_owned()));
            }
        }
        return Ok(("shared/datasets/reuters".into(), ids, titles, bodies));
    }
    let texts = infino_testkit::corpus::ZipfCorpus::default().generate(20_000);
    let ids = (0..texts.len() as i64).collect();
    let titles = texts
        .iter()
        .map(|t| Some(t.split(' ').take(6).collect::<Vec<_>>().join(" ")))
        .collect();
    Ok((
        "generated Zipfian text".into(),
        ids,
        titles,
        texts.into_iter().map(Some).collect(),
    ))
}
