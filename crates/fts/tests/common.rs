//! Shared fixtures: seeded Zipfian corpora, index building, and a brute-force
//! BM25 oracle written independently of the index code.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use infino_fts::{
    Analyzer, AnalyzerConfig, FtsConfig, FtsIndex, FtsIndexBuilder, quantize_doc_len,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A corpus: (doc id, text or null), ids strictly increasing with gaps.
pub(crate) type Corpus = Vec<(u32, Option<String>)>;

/// The word of Zipf rank `r`, with some case and accent variety.
pub(crate) fn word(rank: usize) -> String {
    const SYLLABLES: [&str; 12] = [
        "ka", "lo", "mi", "ne", "su", "ta", "ri", "vo", "zé", "pa", "qu", "dö",
    ];
    let mut out = String::new();
    let mut r = rank + 1;
    while r > 0 {
        out.push_str(SYLLABLES[r % SYLLABLES.len()]);
        r /= SYLLABLES.len();
    }
    out
}

/// Generates `n` documents with Zipf(1.1)-distributed words over `vocab`
/// ranks, lengths 0..=max_len, about 5 % nulls and random id gaps.
pub(crate) fn zipf_corpus(seed: u64, n: usize, vocab: usize, max_len: usize) -> Corpus {
    let mut rng = StdRng::seed_from_u64(seed);
    let weights: Vec<f64> = (1..=vocab).map(|r| 1.0 / (r as f64).powf(1.1)).collect();
    let total: f64 = weights.iter().sum();
    let mut cdf = Vec::with_capacity(vocab);
    let mut acc = 0.0;
    for w in weights {
        acc += w / total;
        cdf.push(acc);
    }
    let mut id = 0u32;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        id += if rng.random_bool(0.1) {
            rng.random_range(2..5)
        } else {
            1
        };
        if rng.random_bool(0.05) {
            out.push((id, None));
            continue;
        }
        let len = rng.random_range(0..=max_len);
        let mut text = String::new();
        for i in 0..len {
            let u: f64 = rng.random();
            let rank = cdf.partition_point(|&c| c < u).min(vocab - 1);
            let mut w = word(rank);
            if rng.random_bool(0.05) {
                w = w.to_uppercase();
            }
            if i > 0 {
                text.push_str(if rng.random_bool(0.1) { ", " } else { " " });
            }
            text.push_str(&w);
        }
        out.push((id, Some(text)));
    }
    out
}

pub(crate) fn build(corpus: &Corpus, config: &FtsConfig) -> FtsIndex {
    let mut builder = FtsIndexBuilder::new(config.clone()).expect("valid config");
    for (doc, text) in corpus {
        builder
            .add_document(*doc, text.as_deref())
            .expect("increasing ids");
    }
    let bytes = builder.finish().expect("finish");
    FtsIndex::open(Bytes::from(bytes)).expect("opens")
}

pub(crate) fn positions_config() -> FtsConfig {
    FtsConfig {
        analyzer: AnalyzerConfig::default(),
        positions: true,
    }
}

/// Brute-force BM25 over analyzed raw strings.
pub(crate) struct Oracle {
    /// (doc, term → tf, token count)
    pub(crate) docs: Vec<(u32, HashMap<String, u32>, u32)>,
    pub(crate) total_tokens: u64,
}

/// External collection statistics for the oracle.
pub(crate) struct OracleStats {
    pub(crate) n: f64,
    pub(crate) avgdl: f64,
    pub(crate) df: HashMap<String, f64>,
}

impl Oracle {
    pub(crate) fn new(corpus: &Corpus, analyzer: &AnalyzerConfig) -> Oracle {
        let analyzer = Analyzer::new(analyzer.clone()).expect("valid");
        let mut docs = Vec::new();
        let mut total_tokens = 0;
        for (doc, text) in corpus {
            let Some(text) = text else { continue };
            let terms = analyzer.terms(text);
            let mut tf = HashMap::new();
            for t in &terms {
                *tf.entry(t.clone()).or_insert(0) += 1;
            }
            total_tokens += terms.len() as u64;
            docs.push((*doc, tf, terms.len() as u32));
        }
        Oracle { docs, total_tokens }
    }

    pub(crate) fn local_stats(&self, terms: &[&str]) -> OracleStats {
        let mut df = HashMap::new();
        for t in terms {
            let count = self
                .docs
                .iter()
                .filter(|(_, tf, _)| tf.contains_key(*t))
                .count();
            df.insert((*t).to_owned(), count as f64);
        }
        OracleStats {
            n: self.docs.len() as f64,
            avgdl: if self.total_tokens == 0 || self.docs.is_empty() {
                1.0
            } else {
                self.total_tokens as f64 / self.docs.len() as f64
            },
            df,
        }
    }

    /// Every matching document with its score, best first (score desc, doc asc).
    pub(crate) fn rank(
        &self,
        terms: &[(&str, f32)],
        all: bool,
        k1: f64,
        b: f64,
        stats: &OracleStats,
        allow: Option<&HashSet<u32>>,
    ) -> Vec<(u32, f64)> {
        let mut merged: Vec<(&str, f64)> = Vec::new();
        for (t, boost) in terms {
            match merged.iter_mut().find(|(m, _)| m == t) {
                Some(m) => m.1 += f64::from(*boost),
                None => merged.push((t, f64::from(*boost))),
            }
        }
        let mut out = Vec::new();
        for (doc, tf, len) in &self.docs {
            if allow.is_some_and(|a| !a.contains(doc)) {
                continue;
            }
            let present = merged.iter().filter(|(t, _)| tf.contains_key(*t)).count();
            if present == 0 || (all && present < merged.len()) {
                continue;
            }
            let dl = f64::from(quantize_doc_len(*len));
            let mut score = 0.0;
            for (t, boost) in &merged {
                let Some(&f) = tf.get(*t) else { continue };
                let df = stats.df.get(*t).copied().unwrap_or(0.0).min(stats.n);
                let idf = (1.0 + (stats.n - df + 0.5) / (df + 0.5)).ln();
                let f = f64::from(f);
                score += idf * boost * f * (k1 + 1.0) / (f + k1 * (1.0 - b + b * dl / stats.avgdl));
            }
            out.push((*doc, score));
        }
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-4 * a.abs().max(b.abs()).max(1e-6)
}

/// Asserts `actual` is the oracle's top-k: same length, scores agree within
/// 1e-4 relative at every rank and per document, and ids agree wherever the
/// oracle's scores are not within tolerance of a neighbour (near-ties may
/// legitimately swap under f32 vs f64 arithmetic).
pub(crate) fn assert_top_k(actual: &[(u32, f32)], oracle: &[(u32, f64)], k: usize, context: &str) {
    let expected = &oracle[..oracle.len().min(k)];
    assert_eq!(actual.len(), expected.len(), "{context}: result count");
    let by_doc: HashMap<u32, f64> = oracle.iter().copied().collect();
    for (rank, ((doc, score), (edoc, escore))) in actual.iter().zip(expected).enumerate() {
        let score = f64::from(*score);
        assert!(
            close(score, *escore),
            "{context}: rank {rank} score {score} vs {escore}"
        );
        let own = by_doc
            .get(doc)
            .unwrap_or_else(|| panic!("{context}: doc {doc} not a match"));
        assert!(
            close(score, *own),
            "{context}: doc {doc} score {score} vs oracle {own}"
        );
        let tied_before = rank > 0 && close(oracle[rank - 1].1, *escore);
        let tied_after = oracle.get(rank + 1).is_some_and(|n| close(n.1, *escore));
        if !tied_before && !tied_after {
            assert_eq!(doc, edoc, "{context}: rank {rank}");
        }
    }
    let mut seen = HashSet::new();
    assert!(
        actual.iter().all(|(d, _)| seen.insert(*d)),
        "{context}: duplicate docs"
    );
    for w in actual.windows(2) {
        assert!(
            w[0].1 > w[1].1 || (w[0].1 == w[1].1 && w[0].0 < w[1].0),
            "{context}: order {:?}",
            w
        );
    }
}
