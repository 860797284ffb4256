//! The quality cell: nDCG@10 of table-level BM25 against a corpus's
//! relevance judgments (the `shared/datasets` format: `queries.parquet`,
//! `qrels.tsv`), computed exactly as `shared/datasets/baseline_eval.py` does
//! (gain 2^rel − 1, log2 discount, ideal from all judgments of the query),
//! for a few analyzer and BM25 settings. Peers' numbers on the same corpus
//! are in `shared/peers/quality/results/<corpus>.jsonl`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use arrow::array::{
    AsArray, FixedSizeListArray, Float32Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use infino_fts::{AnalyzerConfig, Bm25Params, FtsConfig, Language, StopWords};
use infino_superfile::IndexSpec;
use infino_table::{Connection, Fusion, VectorQuery};
use infino_vector::{BuildParams, Metric};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::corpus::{Corpus, append_embeddings};
use crate::report::{Report, percentile_ms};

const CELL: &str = "quality";

/// Queries and graded judgments.
struct Judgments {
    queries: Vec<(i64, String)>,
    /// Query embeddings, row-major, when present.
    query_vectors: Option<Vec<f32>>,
    qrels: HashMap<i64, HashMap<i64, u32>>,
    /// Exact top-10 neighbours per query (`knn.tsv`), when present.
    knn: HashMap<i64, Vec<i64>>,
}

fn load_judgments(dir: &Path) -> anyhow::Result<Judgments> {
    let file = std::fs::File::open(dir.join("queries.parquet")).context("queries.parquet")?;
    let mut queries = Vec::new();
    let mut query_vectors: Option<(usize, Vec<f32>)> = None;
    for batch in ParquetRecordBatchReaderBuilder::try_new(file)?.build()? {
        let batch = batch?;
        let qid = batch
            .column_by_name("qid")
            .context("qid")?
            .as_primitive::<Int64Type>()
            .clone();
        let text = batch
            .column_by_name("text")
            .context("text")?
            .as_string::<i32>()
            .clone();
        queries.extend((0..batch.num_rows()).map(|i| (qid.value(i), text.value(i).to_owned())));
        append_embeddings(&batch, &mut query_vectors);
    }
    let mut qrels: HashMap<i64, HashMap<i64, u32>> = HashMap::new();
    for line in std::fs::read_to_string(dir.join("qrels.tsv"))
        .context("qrels.tsv")?
        .lines()
        .skip(1)
    {
        let parts: Vec<&str> = line.split('\t').collect();
        if let [q, d, r] = parts[..] {
            qrels
                .entry(q.parse()?)
                .or_default()
                .insert(d.parse()?, r.parse()?);
        }
    }
    let mut knn: HashMap<i64, Vec<i64>> = HashMap::new();
    if let Ok(text) = std::fs::read_to_string(dir.join("knn.tsv")) {
        for line in text.lines().skip(1) {
            let parts: Vec<&str> = line.split('\t').collect();
            if let [q, rank, d, _] = parts[..]
                && rank.parse::<usize>().is_ok_and(|r| r <= 10)
            {
                knn.entry(q.parse()?).or_default().push(d.parse()?);
            }
        }
    }
    Ok(Judgments {
        queries,
        query_vectors: query_vectors.map(|(_, v)| v),
        qrels,
        knn,
    })
}

fn ndcg10(ranked: &[i64], rel: &HashMap<i64, u32>) -> f64 {
    let gain = |r: u32| 2f64.powi(i32::try_from(r).unwrap_or(0)) - 1.0;
    let dcg: f64 = ranked
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, d)| gain(*rel.get(d).unwrap_or(&0)) / (i as f64 + 2.0).log2())
        .sum();
    let mut ideal: Vec<u32> = rel.values().copied().collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, r)| gain(*r) / (i as f64 + 2.0).log2())
        .sum();
    if idcg > 0.0 { dcg / idcg } else { 0.0 }
}

/// Query text without query syntax: lower case (the corpus's headlines are
/// upper case, and `AND`/`OR`/`NOT` would be operators) and the syntax
/// characters `"+-*~^():\` replaced by spaces. Other punctuation stays, so
/// the analyzer sees `u.s.` as it saw it in the documents.
fn plain_words(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .map(|c| if "\"+-*~^():\\".contains(c) { ' ' } else { c })
        .collect()
}

pub(crate) async fn run(report: &mut Report, corpus: &Corpus, dir: &Path) -> anyhow::Result<()> {
    let judgments = load_judgments(dir)?;
    let stemmed = AnalyzerConfig {
        stemmer: Some(Language::English),
        stop_words: StopWords::English,
        ..AnalyzerConfig::default()
    };
    let variants = [
        (
            "plain k1=1.2 b=0.75",
            AnalyzerConfig::default(),
            Bm25Params::default(),
        ),
        (
            "plain k1=0.9 b=0.4",
            AnalyzerConfig::default(),
            Bm25Params { k1: 0.9, b: 0.4 },
        ),
        (
            "english-stem+stop k1=1.2 b=0.75",
            stemmed.clone(),
            Bm25Params::default(),
        ),
        (
            "english-stem+stop k1=0.9 b=0.4",
            stemmed,
            Bm25Params { k1: 0.9, b: 0.4 },
        ),
    ];
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("text", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(Int64Array::from(corpus.ids.clone())),
            Arc::new(StringArray::from_iter_values(&corpus.texts)),
        ],
    )?;
    for (name, analyzer, params) in variants {
        let conn = Connection::connect("memory://")?;
        let spec = IndexSpec::default().with_fts(
            "text",
            FtsConfig {
                analyzer,
                positions: false,
            },
        );
        let table = conn
            .create_table("q", Arc::clone(&schema), &spec)
            .await?
            .append(std::slice::from_ref(&batch))
            .await?;
        let mut scores = Vec::with_capacity(judgments.queries.len());
        let mut latency: Vec<Duration> = Vec::with_capacity(judgments.queries.len());
        for (qid, text) in &judgments.queries {
            let started = Instant::now();
            let hits = table
                .search_hits_with("text", &plain_words(text), 10, params)
                .await?;
            latency.push(started.elapsed());
            // `_id`s are assigned in append order from 0, so they index the corpus.
            let ranked: Vec<i64> = hits
                .iter()
                .filter_map(|h| corpus.ids.get(usize::try_from(h.id).ok()?).copied())
                .collect();
            scores.push(ndcg10(
                &ranked,
                judgments.qrels.get(qid).unwrap_or(&HashMap::new()),
            ));
        }
        let mean = scores.iter().sum::<f64>() / scores.len().max(1) as f64;
        report.record(CELL, &format!("infino bm25 {name}"), "ndcg@10", mean, "");
        report.record(
            CELL,
            &format!("infino bm25 {name}"),
            "p50",
            percentile_ms(&mut latency, 50.0),
            "ms",
        );
    }
    if let (Some((dim, vectors)), Some(query_vectors)) =
        (&corpus.embeddings, &judgments.query_vectors)
    {
        dense_and_hybrid(report, corpus, &judgments, *dim, vectors, query_vectors).await?;
    }
    Ok(())
}

/// Vector and hybrid modes over a table with the text and its embeddings.
async fn dense_and_hybrid(
    report: &mut Report,
    corpus: &Corpus,
    judgments: &Judgments,
    dim: usize,
    vectors: &[f32],
    query_vectors: &[f32],
) -> anyhow::Result<()> {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let dim32 = i32::try_from(dim)?;
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("text", DataType::Utf8, false),
        Field::new(
            "embedding",
            DataType::FixedSizeList(Arc::clone(&item), dim32),
            false,
        ),
    ]));
    let list = FixedSizeListArray::try_new(
        item,
        dim32,
        Arc::new(Float32Array::from(vectors.to_vec())),
        None,
    )?;
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(Int64Array::from(corpus.ids.clone())),
            Arc::new(StringArray::from_iter_values(&corpus.texts)),
            Arc::new(list),
        ],
    )?;
    let spec = IndexSpec::default()
        .with_fts("text", FtsConfig::default())
        .with_vector("embedding", Metric::Cosine, BuildParams::default());
    let conn = Connection::connect("memory://")?;
    let started = Instant::now();
    let table = conn
        .create_table("dense", schema, &spec)
        .await?
        .append(&[batch])
        .await?;
    report.record(
        CELL,
        "infino table text+vector",
        "build",
        started.elapsed().as_secs_f64(),
        "s",
    );

    let to_ids = |hits: &[infino_table::Hit]| -> Vec<i64> {
        hits.iter()
            .filter_map(|h| corpus.ids.get(usize::try_from(h.id).ok()?).copied())
            .collect()
    };
    let empty = HashMap::new();
    let modes: [(&str, Option<Fusion>, bool); 7] = [
        ("vector", None, false),
        ("vector exact", None, true),
        ("hybrid rrf depth=100", Some(Fusion::default()), false),
        (
            "hybrid rrf depth=10",
            Some(Fusion {
                depth: 10,
                ..Fusion::default()
            }),
            false,
        ),
        (
            "hybrid w_text=1 w_vec=0.5",
            Some(Fusion {
                vector_weight: 0.5,
                ..Fusion::default()
            }),
            false,
        ),
        (
            "hybrid w_text=1 w_vec=1.5",
            Some(Fusion {
                vector_weight: 1.5,
                ..Fusion::default()
            }),
            false,
        ),
        (
            "hybrid w_text=1 w_vec=2",
            Some(Fusion {
                vector_weight: 2.0,
                ..Fusion::default()
            }),
            false,
        ),
    ];
    for (name, fusion, exact) in modes {
        let (mut ndcg, mut recall) = (0.0, 0.0);
        let mut latency = Vec::new();
        for (i, (qid, text)) in judgments.queries.iter().enumerate() {
            let q = &query_vectors[i * dim..(i + 1) * dim];
            let vq = VectorQuery {
                exact,
                ..VectorQuery::new("embedding", q, 10)
            };
            let t = Instant::now();
            let hits = match fusion {
                None => table.vector_search_hits(&vq).await?,
                Some(f) => {
                    table
                        .hybrid_search_hits("text", &plain_words(text), &vq, 10, f)
                        .await?
                }
            };
            latency.push(t.elapsed());
            let ranked = to_ids(&hits);
            ndcg += ndcg10(&ranked, judgments.qrels.get(qid).unwrap_or(&empty));
            if let Some(truth) = judgments.knn.get(qid) {
                recall += ranked.iter().filter(|d| truth.contains(d)).count() as f64
                    / truth.len().max(1) as f64;
            }
        }
        let n = judgments.queries.len().max(1) as f64;
        report.record(CELL, &format!("infino {name}"), "ndcg@10", ndcg / n, "");
        if fusion.is_none() && !judgments.knn.is_empty() {
            report.record(CELL, &format!("infino {name}"), "recall@10", recall / n, "");
        }
        report.record(
            CELL,
            &format!("infino {name}"),
            "p50",
            percentile_ms(&mut latency, 50.0),
            "ms",
        );
    }
    Ok(())
}
