//! Table-wide BM25: the same rows rank identically in 1 file or 40, and
//! equal a brute-force scorer over all rows.

use std::collections::HashMap;

use arrow::array::AsArray;
use arrow::datatypes::UInt64Type;
use infino_fts::{Analyzer, AnalyzerConfig, quantize_doc_len};
use infino_table::{Connection, Hit};
use infino_testkit::corpus::word;

use crate::common::{batch, bodies, schema, spec};

/// BM25 (k1 1.2, b 0.75, Lucene IDF, quantized lengths) over all rows.
pub(crate) fn oracle(docs: &[Option<String>], terms: &[String], k: usize) -> Vec<(u64, f32)> {
    let analyzer = Analyzer::new(AnalyzerConfig::default()).expect("analyzer");
    let analyzed: Vec<Option<Vec<String>>> = docs
        .iter()
        .map(|d| d.as_deref().map(|t| analyzer.terms(t)))
        .collect();
    let n = analyzed.iter().flatten().count() as f64;
    let avgdl = analyzed.iter().flatten().map(Vec::len).sum::<usize>() as f64 / n;
    let df: HashMap<&String, f64> = terms
        .iter()
        .map(|t| {
            (
                t,
                analyzed.iter().flatten().filter(|d| d.contains(t)).count() as f64,
            )
        })
        .collect();
    let mut scored: Vec<(u64, f32)> = analyzed
        .iter()
        .enumerate()
        .filter_map(|(row, d)| {
            let d = d.as_ref()?;
            let dl = f64::from(quantize_doc_len(d.len() as u32));
            let mut score = 0.0;
            for t in terms {
                let tf = d.iter().filter(|x| *x == t).count() as f64;
                if tf > 0.0 {
                    let idf = (1.0 + (n - df[t] + 0.5) / (df[t] + 0.5)).ln();
                    score += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * dl / avgdl));
                }
            }
            (score > 0.0).then_some((row as u64, score as f32))
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(k);
    scored
}

pub(crate) fn same(a: &[Hit], b: &[(u64, f32)], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: count");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            ((x.score - y.1) / y.1).abs() < 1e-4,
            "{what}: rank {i} score {} vs {}",
            x.score,
            y.1
        );
        assert_eq!(x.id, y.0, "{what}: rank {i} id");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_files_rank_like_one_and_like_the_oracle() {
    let docs = bodies(4_000, 21);
    let conn = Connection::connect("memory://").expect("connect");
    let one = conn
        .create_table("one", schema(), &spec())
        .await
        .expect("create");
    let one = one.append(&[batch(0, &docs)]).await.expect("append");
    let mut forty = conn
        .create_table("forty", schema(), &spec())
        .await
        .expect("create");
    for (i, chunk) in docs.chunks(100).enumerate() {
        forty = forty
            .append(&[batch(i as i64 * 100, chunk)])
            .await
            .expect("append");
    }
    assert_eq!(
        (one.manifest().files.len(), forty.manifest().files.len()),
        (1, 40)
    );
    assert_eq!(forty.version(), 40);

    let queries = [
        vec![word(0)],
        vec![word(1_500)],
        vec![word(2), word(30)],
        vec![word(0), word(5), word(50), word(500), word(1_999)],
    ];
    for terms in &queries {
        let text = terms.join(" ");
        let a = one
            .search_hits("body", &text, 10)
            .await
            .expect("search one");
        let b = forty
            .search_hits("body", &text, 10)
            .await
            .expect("search forty");
        let want = oracle(&docs, terms, 10);
        same(&a, &want, &format!("1 file, {text}"));
        same(&b, &want, &format!("40 files, {text}"));
    }
    let count_one = one.count("body", &word(3)).await.expect("count");
    let count_forty = forty.count("body", &word(3)).await.expect("count");
    let expected = docs
        .iter()
        .flatten()
        .filter(|d| d.split(' ').any(|w| w == word(3)))
        .count() as u64;
    assert_eq!((count_one, count_forty), (expected, expected));
}

#[tokio::test]
async fn results_carry_projected_columns_of_the_hits_only() {
    let docs = bodies(600, 4);
    let conn = Connection::connect("memory://").expect("connect");
    let mut t = conn
        .create_table("docs", schema(), &spec())
        .await
        .expect("create");
    for (i, chunk) in docs.chunks(150).enumerate() {
        t = t
            .append(&[batch(i as i64 * 150, chunk)])
            .await
            .expect("append");
    }
    let out = t
        .search(
            "body",
            &format!("{} {}", word(1), word(20)),
            7,
            &["body", "id"],
        )
        .await
        .expect("search");
    assert_eq!(out.num_rows(), 7);
    assert_eq!(out.schema().field(0).name(), "_id");
    assert_eq!(out.schema().field(1).name(), "_score");
    let ids = out.column(0).as_primitive::<UInt64Type>();
    let bodies_out = out.column(2).as_string::<i32>();
    for i in 0..out.num_rows() {
        let id = ids.value(i) as usize;
        assert_eq!(
            Some(bodies_out.value(i).to_owned()),
            docs[id],
            "row {i} carries the body of _id {id}"
        );
    }
    let err = t
        .search("body", "x", 3, &["nope"])
        .await
        .expect_err("unknown column");
    assert!(err.to_string().contains("nope"), "{err}");
    let err = t
        .search_hits("id", "x", 3)
        .await
        .expect_err("unindexed column");
    assert!(err.to_string().contains("full-text"), "{err}");
    assert!(t.search_hits("body", "(unbalanced", 3).await.is_err());
}

#[tokio::test]
async fn a_term_in_one_of_forty_files_opens_one_file() {
    let conn = Connection::connect("memory://").expect("connect");
    let mut table = conn
        .create_table("pruned", schema(), &spec())
        .await
        .expect("create");
    let mut all = Vec::new();
    for i in 0..40 {
        let mut docs = bodies(50, i);
        docs[7] = Some(format!("marker{i} {}", docs[7].clone().unwrap_or_default()));
        all.extend(docs.clone());
        table = table
            .append(&[batch(i as i64 * 50, &docs)])
            .await
            .expect("append");
    }
    let cold = conn.open_table("pruned").await.expect("open");
    let before = conn.store().stats();
    let hits = cold
        .search_hits("body", "marker17", 10)
        .await
        .expect("search");
    let cost = conn.store().stats().since(&before);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].id, 17 * 50 + 7);
    assert_eq!(
        cost.total_requests(),
        1,
        "one region read; the footer comes from the manifest: {cost}"
    );
    // Pruning keeps the statistics exact: same score as the oracle.
    let want = oracle(&all, &["marker17".to_owned()], 10);
    same(&hits, &want, "pruned search");
    assert_eq!(
        cold.count("body", "marker3 OR marker30")
            .await
            .expect("count"),
        2
    );
    // Prefix queries cannot use the filters and still find everything.
    assert_eq!(cold.count("body", "marker1*").await.expect("count"), 11);
}
