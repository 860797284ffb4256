//! BM25 top-k against the brute-force oracle, on Zipfian corpora.

use std::collections::{HashMap, HashSet};

use infino_fts::{Bm25Params, CollectionStats, FtsConfig, MatchMode, search};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use roaring::RoaringBitmap;

use crate::common::{Oracle, OracleStats, assert_top_k, build, word, zipf_corpus};

/// Analyzed form of a generated word (the default analyzer lowercases and
/// folds).
fn term(rank: usize) -> String {
    infino_fts::Analyzer::new(Default::default())
        .expect("valid")
        .terms(&word(rank))
        .remove(0)
}

fn queries(rng: &mut StdRng, vocab: usize) -> Vec<Vec<(String, f32)>> {
    let mut out = vec![
        vec![(term(0), 1.0)],                   // most common
        vec![(term(vocab - 1), 1.0)],           // rare
        vec![(term(0), 1.0), (term(1), 1.0)],   // common pair
        vec![(term(0), 1.0), (term(200), 2.5)], // common + rare, boosted
        vec![(term(3), 1.0), (term(3), 0.5)],   // duplicate merges
        vec![("absent".to_owned(), 1.0), (term(5), 1.0)],
        vec![(term(0), 0.0), (term(7), 1.0)], // zero boost still matches
    ];
    for _ in 0..12 {
        let n = rng.random_range(1..=6);
        let q = (0..n)
            .map(|_| {
                let rank = if rng.random_bool(0.5) {
                    rng.random_range(0..20)
                } else {
                    rng.random_range(0..vocab)
                };
                let boost = if rng.random_bool(0.3) {
                    rng.random_range(0.0..4.0)
                } else {
                    1.0
                };
                (term(rank), boost)
            })
            .collect();
        out.push(q);
    }
    out
}

fn to_stats(stats: &OracleStats, total_tokens: u64) -> CollectionStats {
    CollectionStats {
        doc_count: stats.n as u64,
        total_tokens,
        doc_freqs: stats
            .df
            .iter()
            .map(|(t, df)| (t.clone(), *df as u64))
            .collect(),
    }
}

fn check_corpus(seed: u64, n: usize, vocab: usize, max_len: usize) {
    let corpus = zipf_corpus(seed, n, vocab, max_len);
    let config = FtsConfig::default();
    let index = build(&corpus, &config);
    let oracle = Oracle::new(&corpus, &config.analyzer);
    let mut rng = StdRng::seed_from_u64(seed ^ 0xABCD);
    let params = Bm25Params::default();
    let (mut checks, mut non_empty) = (0, 0);
    for (qi, query) in queries(&mut rng, vocab).into_iter().enumerate() {
        let refs: Vec<(&str, f32)> = query.iter().map(|(t, b)| (t.as_str(), *b)).collect();
        let terms: Vec<&str> = refs.iter().map(|(t, _)| *t).collect();
        // Local statistics, from the index and from the oracle.
        let local = index.local_stats(terms.iter().copied()).expect("stats");
        let ostats = oracle.local_stats(&terms);
        assert_eq!(
            local,
            to_stats(&ostats, oracle.total_tokens),
            "seed {seed} q{qi} local stats"
        );
        // Table-wide statistics bigger than this one file.
        let external = OracleStats {
            n: ostats.n * 3.0 + 11.0,
            avgdl: 0.0,
            df: ostats
                .df
                .iter()
                .map(|(t, df)| (t.clone(), df * 2.0 + 7.0))
                .collect(),
        };
        let ext_tokens = oracle.total_tokens * 4 + 5;
        let external = OracleStats {
            avgdl: ext_tokens as f64 / external.n,
            ..external
        };
        let allow: HashSet<u32> = corpus
            .iter()
            .map(|(d, _)| *d)
            .filter(|d| d % 3 != 1)
            .collect();
        let allow_bitmap: RoaringBitmap = allow.iter().copied().collect();
        for (stats_name, ostats, total) in [
            ("local", &ostats, oracle.total_tokens),
            ("external", &external, ext_tokens),
        ] {
            let stats = to_stats(ostats, total);
            for mode in [MatchMode::Any, MatchMode::All] {
                for k in [1, 3, 10, 100, 100_000] {
                    for filtered in [false, true] {
                        let allow = filtered.then_some(&allow);
                        let got = search(
                            &index,
                            &query,
                            mode,
                            k,
                            params,
                            &stats,
                            filtered.then_some(&allow_bitmap),
                        )
                        .expect("search");
                        let expected =
                            oracle.rank(&refs, mode == MatchMode::All, 1.2, 0.75, ostats, allow);
                        let context = format!(
                            "seed {seed} q{qi} {query:?} {stats_name} {mode:?} k={k} filtered={filtered}"
                        );
                        assert_top_k(&got, &expected, k, &context);
                        checks += 1;
                        non_empty += usize::from(!got.is_empty());
                    }
                }
            }
        }
    }
    assert!(
        non_empty * 2 > checks,
        "seed {seed}: only {non_empty} of {checks} non-empty"
    );
}

#[test]
fn matches_oracle_small_corpus() {
    check_corpus(1, 300, 50, 12);
}

#[test]
fn matches_oracle_zipfian_corpus_many_blocks() {
    check_corpus(7, 4000, 2000, 40);
}

#[test]
fn matches_oracle_long_documents() {
    check_corpus(11, 600, 300, 400);
}

#[test]
fn other_params_match_oracle() {
    let corpus = zipf_corpus(3, 1500, 500, 30);
    let config = FtsConfig::default();
    let index = build(&corpus, &config);
    let oracle = Oracle::new(&corpus, &config.analyzer);
    let query = vec![(term(0), 1.0), (term(2), 1.5), (term(40), 1.0)];
    let refs: Vec<(&str, f32)> = query.iter().map(|(t, b)| (t.as_str(), *b)).collect();
    let terms: Vec<&str> = refs.iter().map(|(t, _)| *t).collect();
    let ostats = oracle.local_stats(&terms);
    let stats = to_stats(&ostats, oracle.total_tokens);
    for (k1, b) in [(0.0, 0.0), (2.0, 1.0), (0.5, 0.3), (1.2, 0.0)] {
        let params = Bm25Params { k1, b };
        let got = search(&index, &query, MatchMode::Any, 20, params, &stats, None).expect("search");
        let expected = oracle.rank(&refs, false, f64::from(k1), f64::from(b), &ostats, None);
        assert_top_k(&got, &expected, 20, &format!("k1={k1} b={b}"));
    }
}

#[test]
fn rejects_bad_arguments() {
    let corpus = zipf_corpus(5, 50, 20, 5);
    let index = build(&corpus, &FtsConfig::default());
    let stats = index.local_stats([]).expect("stats");
    let q = vec![(term(0), -1.0)];
    assert!(
        search(
            &index,
            &q,
            MatchMode::Any,
            5,
            Bm25Params::default(),
            &stats,
            None
        )
        .is_err()
    );
    let q = vec![(term(0), 1.0)];
    let bad = Bm25Params {
        k1: f32::NAN,
        b: 0.5,
    };
    assert!(search(&index, &q, MatchMode::Any, 5, bad, &stats, None).is_err());
    let bad = Bm25Params { k1: 1.0, b: 1.5 };
    assert!(search(&index, &q, MatchMode::Any, 5, bad, &stats, None).is_err());
    let empty = CollectionStats::default();
    assert!(
        search(
            &index,
            &q,
            MatchMode::Any,
            5,
            Bm25Params::default(),
            &empty,
            None
        )
        .expect("ok")
        .is_empty()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_small_corpora_match_oracle(
        docs in proptest::collection::vec(
            proptest::option::weighted(0.9, proptest::collection::vec(0usize..12, 0..30)),
            1..300,
        ),
        query in proptest::collection::vec((0usize..14, 0.0f32..3.0), 1..5),
        all in any::<bool>(),
        k in 1usize..40,
    ) {
        let corpus: Vec<(u32, Option<String>)> = docs
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let text = d.as_ref().map(|ws| ws.iter().map(|&w| word(w)).collect::<Vec<_>>().join(" "));
                (i as u32 * 2, text)
            })
            .collect();
        let config = FtsConfig::default();
        let index = build(&corpus, &config);
        let oracle = Oracle::new(&corpus, &config.analyzer);
        let query: Vec<(String, f32)> = query.into_iter().map(|(r, b)| (term(r), b)).collect();
        let refs: Vec<(&str, f32)> = query.iter().map(|(t, b)| (t.as_str(), *b)).collect();
        let terms: Vec<&str> = refs.iter().map(|(t, _)| *t).collect();
        let ostats = oracle.local_stats(&terms);
        let stats = to_stats(&ostats, oracle.total_tokens);
        let mode = if all { MatchMode::All } else { MatchMode::Any };
        let got = search(&index, &query, mode, k, Bm25Params::default(), &stats, None).expect("search");
        let expected = oracle.rank(&refs, all, 1.2, 0.75, &ostats, None);
        assert_top_k(&got, &expected, k, "proptest");
    }
}

#[test]
fn stats_merge_sums() {
    let mut a = CollectionStats {
        doc_count: 2,
        total_tokens: 10,
        doc_freqs: HashMap::from([("x".to_owned(), 1)]),
    };
    let b = CollectionStats {
        doc_count: 3,
        total_tokens: 5,
        doc_freqs: HashMap::from([("x".to_owned(), 2), ("y".to_owned(), 1)]),
    };
    a.merge(&b);
    assert_eq!(a.doc_count, 5);
    assert_eq!(a.total_tokens, 15);
    assert_eq!(a.doc_freq("x"), 3);
    assert_eq!(a.doc_freq("y"), 1);
    assert_eq!(a.doc_freq("z"), 0);
}

/// A table split over several regions, searched region by region with
/// summed statistics and merged, ranks exactly like the oracle over all rows.
#[test]
fn split_table_with_global_stats_matches_single_oracle() {
    let corpus = zipf_corpus(17, 3000, 400, 30);
    let config = FtsConfig {
        analyzer: infino_fts::AnalyzerConfig {
            stemmer: Some(infino_fts::Language::English),
            stop_words: infino_fts::StopWords::English,
            ..Default::default()
        },
        positions: false,
    };
    let oracle = Oracle::new(&corpus, &config.analyzer);
    // Five regions with file-local row ids; remember each one's global ids.
    let parts: Vec<(Vec<u32>, infino_fts::FtsIndex)> = corpus
        .chunks(corpus.len().div_ceil(5))
        .map(|chunk| {
            let local: Vec<(u32, Option<String>)> = chunk
                .iter()
                .enumerate()
                .map(|(i, (_, t))| (i as u32, t.clone()))
                .collect();
            (
                chunk.iter().map(|(d, _)| *d).collect(),
                build(&local, &config),
            )
        })
        .collect();
    let mut rng = StdRng::seed_from_u64(5);
    let mut non_empty = 0;
    for query in queries(&mut rng, 400) {
        let mut stats = CollectionStats::default();
        for (_, index) in &parts {
            stats.merge(
                &index
                    .local_stats(query.iter().map(|(t, _)| t.as_str()))
                    .expect("stats"),
            );
        }
        let refs: Vec<(&str, f32)> = query.iter().map(|(t, b)| (t.as_str(), *b)).collect();
        let terms: Vec<&str> = refs.iter().map(|(t, _)| *t).collect();
        let ostats = oracle.local_stats(&terms);
        for mode in [MatchMode::Any, MatchMode::All] {
            let k = 25;
            let mut merged: Vec<(u32, f32)> = Vec::new();
            for (ids, index) in &parts {
                let hits = search(index, &query, mode, k, Bm25Params::default(), &stats, None)
                    .expect("search");
                merged.extend(
                    hits.into_iter()
                        .map(|(local, score)| (ids[local as usize], score)),
                );
            }
            merged.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            merged.truncate(k);
            let expected = oracle.rank(&refs, mode == MatchMode::All, 1.2, 0.75, &ostats, None);
            assert_top_k(&merged, &expected, k, &format!("{query:?} {mode:?}"));
            non_empty += usize::from(!merged.is_empty());
        }
    }
    assert!(non_empty >= 15, "{non_empty}");
}
