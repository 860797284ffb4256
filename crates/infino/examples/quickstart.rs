//! The infino quickstart: `cargo run --release -p infino --example quickstart [URI]`.
//!
//! Creates a table (on `memory://` unless a URI or directory is given),
//! ingests the Reuters corpus with its embeddings from
//! `../shared/datasets/reuters` when it is there, and generated text with
//! hashed bag-of-words vectors otherwise. Then it runs BM25, phrase,
//! boolean, prefix, fuzzy, vector, filtered vector, hybrid and count queries
//! and prints results with timings and storage requests.

#![expect(clippy::print_stdout, reason = "an example prints what it does")]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use infino::arrow::array::{
    Array, AsArray, FixedSizeListArray, Float32Array, Int64Array, RecordBatch, StringArray,
};
use infino::arrow::datatypes::{DataType, Field, Float32Type, Int64Type, Schema, UInt64Type};
use infino::{BuildParams, FtsConfig, Fusion, IndexSpec, Metric, Table, VectorQuery};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// Documents, their vectors, and one query with its vector.
struct Corpus {
    source: String,
    ids: Vec<i64>,
    titles: Vec<Option<String>>,
    bodies: Vec<Option<String>>,
    dim: usize,
    vectors: Vec<f32>,
    query: (String, Vec<f32>),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let uri = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "memory://quickstart".to_owned());
    let db = infino::connect(&uri)?;
    let corpus = load_corpus()?;
    println!(
        "infino quickstart on {uri}: {} documents from {}",
        corpus.ids.len(),
        corpus.source
    );

    let dim = i32::try_from(corpus.dim)?;
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("title", DataType::Utf8, true),
        Field::new("body", DataType::Utf8, true),
        Field::new(
            "embedding",
            DataType::FixedSizeList(Arc::clone(&item), dim),
            false,
        ),
    ]));
    let spec = IndexSpec::default()
        .with_fts(
            "body",
            FtsConfig {
                positions: true,
                ..FtsConfig::default()
            },
        )
        .with_vector("embedding", Metric::Cosine, BuildParams::default());
    if db.list_tables().await?.iter().any(|t| t == "news") {
        db.drop_table("news").await?;
    }
    let mut table = db.create_table("news", Arc::clone(&schema), &spec).await?;

    let started = Instant::now();
    let chunk = 2_500;
    for start in (0..corpus.ids.len()).step_by(chunk) {
        let end = (start + chunk).min(corpus.ids.len());
        let vectors =
            Float32Array::from(corpus.vectors[start * corpus.dim..end * corpus.dim].to_vec());
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(corpus.ids[start..end].to_vec())),
                Arc::new(
                    corpus.titles[start..end]
                        .iter()
                        .map(Option::as_deref)
                        .collect::<StringArray>(),
                ),
                Arc::new(
                    corpus.bodies[start..end]
                        .iter()
                        .map(Option::as_deref)
                        .collect::<StringArray>(),
                ),
                Arc::new(FixedSizeListArray::try_new(
                    Arc::clone(&item),
                    dim,
                    Arc::new(vectors),
                    None,
                )?),
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
        let io = db.store().stats();
        let t = Instant::now();
        let hits = table.search("body", query, 3, &["title"]).await?;
        print_hits(label, query, &db, io, t, &hits);
    }

    let (text, vector) = (&corpus.query.0, &corpus.query.1);
    println!("\nquery text for the vector and hybrid rows below: {text:?}");
    let io = db.store().stats();
    let t = Instant::now();
    let hits = table
        .vector_search(&VectorQuery::new("embedding", vector, 3), &["title"])
        .await?;
    print_hits("vector", "(its embedding)", &db, io, t, &hits);
    let io = db.store().stats();
    let t = Instant::now();
    let filtered = VectorQuery {
        filter: Some(("body", "dollar")),
        ..VectorQuery::new("embedding", vector, 3)
    };
    let hits = table.vector_search(&filtered, &["title"]).await?;
    print_hits("filtered", "(embedding) ∩ dollar", &db, io, t, &hits);
    let io = db.store().stats();
    let t = Instant::now();
    let words = plain_words(text);
    let vq = VectorQuery::new("embedding", vector, 10);
    let hits = table
        .hybrid_search("body", &words, &vq, 3, Fusion::default(), &["title"])
        .await?;
    print_hits("hybrid", "(text + embedding)", &db, io, t, &hits);

    let t = Instant::now();
    let count = table.count("body", "oil OR gas").await?;
    println!(
        "\n   count  oil OR gas → {count} rows in {:.2?}",
        t.elapsed()
    );
    show_time_travel(&db, &table).await?;

    let sql = infino::SqlContext::new(&db).await?;
    let query = "SELECT count(*) AS docs, count(DISTINCT title) AS titles, max(_id) AS last_id, \
                 sum(CASE WHEN body LIKE '%cocoa%' THEN 1 ELSE 0 END) AS cocoa FROM news";
    let t = Instant::now();
    let out = sql.sql(query).await?;
    println!("\n     SQL  {query}  ({:.2?})", t.elapsed());
    println!(
        "{}",
        infino::arrow::util::pretty::pretty_format_batches(&out)?
    );
    show_mutations(&table).await
}

/// Delete by predicate, then compact: searches skip deleted rows at once,
/// and compaction drops them for good while keeping every `_id`.
async fn show_mutations(table: &Table) -> anyhow::Result<()> {
    let before = table.count("body", "cocoa").await?;
    let t = Instant::now();
    let deleted = table.delete("lower(body) LIKE '%cocoa%'").await?;
    let after = deleted.table.count("body", "cocoa").await?;
    println!(
        "\n  delete  lower(body) LIKE '%cocoa%' → {} rows deleted in {:.2?}; `cocoa` matched {before}, now {after}",
        deleted.deleted,
        t.elapsed()
    );
    let t = Instant::now();
    let compacted = deleted
        .table
        .optimize(&infino::OptimizeOptions::default())
        .await?;
    println!(
        "optimize  {} files → {} files, {} deleted rows dropped, in {:.2?}",
        deleted.table.manifest().files.len(),
        compacted.table.manifest().files.len(),
        compacted.rows_dropped,
        t.elapsed()
    );
    Ok(())
}

fn print_hits(
    label: &str,
    query: &str,
    db: &infino::Connection,
    io: infino::IoStats,
    t: Instant,
    hits: &RecordBatch,
) {
    let took = t.elapsed();
    let requests = db.store().stats().since(&io).total_requests();
    println!("{label:>8}  {query:<24} {took:>10.2?}  {requests} requests");
    let ids = hits.column(0).as_primitive::<UInt64Type>();
    let scores = hits.column(1).as_primitive::<Float32Type>();
    let titles = hits.column(2).as_string::<i32>();
    for i in 0..hits.num_rows() {
        let title = if titles.is_valid(i) {
            titles.value(i)
        } else {
            ""
        };
        println!(
            "          _id {:>6}  score {:>7.3}  {}",
            ids.value(i),
            scores.value(i),
            title.trim()
        );
    }
}

async fn show_time_travel(db: &infino::Connection, table: &Table) -> anyhow::Result<()> {
    let old = db.open_table_at("news", 1).await?;
    println!(
        "time travel: version 1 has {} rows, version {} has {}",
        old.num_rows(),
        table.version(),
        table.num_rows()
    );
    Ok(())
}

/// Query text without query syntax (headlines are upper case: `AND` would be an operator).
fn plain_words(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .map(|c| if "\"+-*~^():\\".contains(c) { ' ' } else { c })
        .collect()
}

/// Reuters with embeddings when present, else generated text.
fn load_corpus() -> anyhow::Result<Corpus> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/reuters");
    if dir.join("docs.parquet").exists() {
        return load_reuters(&dir);
    }
    let texts = infino_testkit::corpus::ZipfCorpus::default().generate(20_000);
    let dim = 64;
    let vectors = texts
        .iter()
        .flat_map(|t| hashed_embedding(t, dim))
        .collect();
    let query = texts[0].split(' ').take(4).collect::<Vec<_>>().join(" ");
    let query_vector = hashed_embedding(&query, dim);
    Ok(Corpus {
        source: "generated Zipfian text, hashed bag-of-words vectors".into(),
        ids: (0..texts.len() as i64).collect(),
        titles: texts
            .iter()
            .map(|t| Some(t.split(' ').take(6).collect::<Vec<_>>().join(" ")))
            .collect(),
        bodies: texts.into_iter().map(Some).collect(),
        dim,
        vectors,
        query: (query, query_vector),
    })
}

/// A stand-in embedding: each word adds ±1 to a few hashed dimensions.
fn hashed_embedding(text: &str, dim: usize) -> Vec<f32> {
    let mut v = vec![0.0; dim];
    for word in text.split_whitespace() {
        let h = word.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        for k in 0..3 {
            let bits = h >> (k * 16);
            let slot = usize::try_from(bits % dim as u64).unwrap_or(0);
            v[slot] += if bits & 0x8000 == 0 { 1.0 } else { -1.0 };
        }
    }
    v[0] += 1e-3; // never the zero vector, which cosine rejects
    v
}

fn load_reuters(dir: &Path) -> anyhow::Result<Corpus> {
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(dir.join("docs.parquet"))?)?
            .build()?;
    let (mut ids, mut titles, mut bodies, mut vectors) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut dim = 0;
    for batch in reader {
        let batch = batch?;
        let column = |name: &str| {
            batch
                .column_by_name(name)
                .ok_or_else(|| anyhow::anyhow!("docs.parquet has no `{name}`"))
        };
        let id = column("id")?.as_primitive::<Int64Type>().clone();
        let title = column("title")?.as_string::<i32>().clone();
        let body = column("body")?.as_string::<i32>().clone();
        let embedding = column("embedding")?.as_fixed_size_list().clone();
        dim = usize::try_from(embedding.value_length())?;
        for i in 0..batch.num_rows() {
            ids.push(id.value(i));
            titles.push(title.is_valid(i).then(|| title.value(i).to_owned()));
            bodies.push(body.is_valid(i).then(|| body.value(i).to_owned()));
            vectors.extend_from_slice(embedding.value(i).as_primitive::<Float32Type>().values());
        }
    }
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(
        dir.join("queries.parquet"),
    )?)?
    .build()?;
    let mut query = None;
    if let Some(batch) = reader.into_iter().next() {
        let batch = batch?;
        let text = batch
            .column_by_name("text")
            .ok_or_else(|| anyhow::anyhow!("no query text"))?
            .as_string::<i32>()
            .value(0)
            .to_owned();
        let list = batch
            .column_by_name("embedding")
            .ok_or_else(|| anyhow::anyhow!("no query embedding"))?
            .as_fixed_size_list();
        query = Some((
            text,
            list.value(0)
                .as_primitive::<Float32Type>()
                .values()
                .to_vec(),
        ));
    }
    let query = query.ok_or_else(|| anyhow::anyhow!("queries.parquet is empty"))?;
    Ok(Corpus {
        source: "shared/datasets/reuters (with embeddings)".into(),
        ids,
        titles,
        bodies,
        dim,
        vectors,
        query,
    })
}
