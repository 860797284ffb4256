//! BM25 through a superfile equals a brute-force scorer over the raw strings,
//! on generated text and on the judged Reuters corpus in `shared/datasets`.

use std::collections::HashMap;
use std::path::PathBuf;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use infino_fts::{Analyzer, Bm25Params, MatchMode, quantize_doc_len, search};
use infino_superfile::{OpenOptions, Superfile, WriterOptions};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::common::{build, generated_docs};

/// Exact BM25 (Lucene IDF, quantized lengths) of every document; top `k`
/// by score desc, row asc.
fn oracle_top_k(
    analyzer: &Analyzer,
    docs: &[Option<String>],
    query: &[String],
    mode: MatchMode,
    k: usize,
) -> Vec<(u32, f32)> {
    let (k1, b) = (1.2f64, 0.75f64);
    let analyzed: Vec<Option<Vec<String>>> = docs
        .iter()
        .map(|d| d.as_deref().map(|t| analyzer.terms(t)))
        .collect();
    let n = analyzed.iter().flatten().count() as f64;
    let total: usize = analyzed.iter().flatten().map(Vec::len).sum();
    let avgdl = total as f64 / n.max(1.0);
    let mut unique: Vec<&String> = query.iter().collect();
    unique.sort();
    unique.dedup();
    let df: HashMap<&String, f64> = unique
        .iter()
        .map(|t| {
            (
                *t,
                analyzed
                    .iter()
                    .flatten()
                    .filter(|terms| terms.contains(t))
                    .count() as f64,
            )
        })
        .collect();
    let mut scored = Vec::new();
    for (row, terms) in analyzed.iter().enumerate() {
        let Some(terms) = terms else { continue };
        let dl = f64::from(quantize_doc_len(terms.len() as u32));
        let mut score = 0.0;
        let mut matched = 0;
        for t in &unique {
            let tf = terms.iter().filter(|x| x == t).count() as f64;
            if tf == 0.0 {
                continue;
            }
            matched += 1;
            let idf = (1.0 + (n - df[t] + 0.5) / (df[t] + 0.5)).ln();
            // A term repeated in the query counts once per repetition.
            let weight = query.iter().filter(|q| q == t).count() as f64;
            score += weight * idf * tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * dl / avgdl));
        }
        let all = matched == unique.len();
        if matched > 0 && (mode == MatchMode::Any || all) {
            scored.push((row as u32, score as f32));
        }
    }
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(k);
    scored
}

/// Compare index and oracle; ties at the cut may order differently only in
/// rows of equal score, so compare scores by rank and rows where scores differ.
fn assert_same(index: &[(u32, f32)], oracle: &[(u32, f32)], what: &str) {
    assert_eq!(index.len(), oracle.len(), "{what}: result count");
    for (i, (a, b)) in index.iter().zip(oracle).enumerate() {
        let rel = ((a.1 - b.1) / b.1.abs().max(1e-6)).abs();
        assert!(
            rel < 1e-4,
            "{what}: rank {i} score {} vs oracle {}",
            a.1,
            b.1
        );
        assert_eq!(a.0, b.0, "{what}: rank {i} row (scores {} / {})", a.1, b.1);
    }
}

fn check_queries(file: &Superfile, docs: &[Option<String>], queries: &[String], k: usize) {
    let index = file.fts("body").expect("index");
    let analyzer = index.analyzer();
    let mut checked = 0;
    for q in queries {
        let terms = analyzer.terms(q);
        if terms.is_empty() {
            continue;
        }
        let stats = index
            .local_stats(terms.iter().map(String::as_str))
            .expect("stats");
        let weighted: Vec<(String, f32)> = terms.iter().map(|t| (t.clone(), 1.0)).collect();
        for mode in [MatchMode::Any, MatchMode::All] {
            let got = search(
                index,
                &weighted,
                mode,
                k,
                Bm25Params::default(),
                &stats,
                None,
            )
            .expect("search");
            let want = oracle_top_k(analyzer, docs, &terms, mode, k);
            assert_same(&got, &want, &format!("{q:?} {mode:?}"));
        }
        checked += 1;
    }
    assert!(checked > 0, "no query was checked");
}

#[test]
fn generated_corpus_matches_oracle() {
    let rows = generated_docs(4_000, 11);
    let file = Superfile::open(
        build(&rows, &WriterOptions::default()),
        OpenOptions::default(),
    )
    .expect("open");
    let docs: Vec<Option<String>> = rows.iter().map(|r| r.2.clone()).collect();
    let vocab = |r| infino_testkit::corpus::word(r);
    let queries: Vec<String> = vec![
        vocab(0),
        vocab(2_900),
        format!("{} {}", vocab(3), vocab(40)),
        format!(
            "{} {} {} {} {}",
            vocab(1),
            vocab(7),
            vocab(60),
            vocab(300),
            vocab(1_000)
        ),
        format!("{} {}", vocab(0), vocab(0)),
    ];
    check_queries(&file, &docs, &queries, 10);
}

fn reuters_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/reuters")
}

#[test]
fn reuters_matches_oracle() {
    let dir = reuters_dir();
    if !dir.join("docs.parquet").exists() {
        eprintln!("skipping: {} not present", dir.display());
        return;
    }
    let read = |name: &str| {
        let f = std::fs::File::open(dir.join(name)).expect("open dataset");
        ParquetRecordBatchReaderBuilder::try_new(f)
            .expect("parquet")
            .build()
            .expect("reader")
    };
    let mut rows = Vec::new();
    for batch in read("docs.parquet") {
        let batch = batch.expect("batch");
        let ids = batch
            .column_by_name("id")
            .expect("id")
            .as_primitive::<Int64Type>()
            .clone();
        let titles = batch
            .column_by_name("title")
            .expect("title")
            .as_string::<i32>()
            .clone();
        let bodies = batch
            .column_by_name("body")
            .expect("body")
            .as_string::<i32>()
            .clone();
        for i in 0..batch.num_rows() {
            let body = bodies.is_valid(i).then(|| bodies.value(i).to_owned());
            rows.push((
                ids.value(i),
                titles.is_valid(i).then(|| titles.value(i).to_owned()),
                body,
            ));
        }
    }
    let mut queries = Vec::new();
    for batch in read("queries.parquet") {
        let batch = batch.expect("batch");
        let text = batch
            .column_by_name("text")
            .expect("text")
            .as_string::<i32>()
            .clone();
        queries.extend((0..batch.num_rows()).map(|i| text.value(i).to_owned()));
    }
    let file = Superfile::open(
        build(&rows, &WriterOptions::default()),
        OpenOptions::default(),
    )
    .expect("open");
    let docs: Vec<Option<String>> = rows.iter().map(|r| r.2.clone()).collect();
    queries.truncate(25);
    check_queries(&file, &docs, &queries, 10);
}
