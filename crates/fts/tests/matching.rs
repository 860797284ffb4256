//! Unranked matching (token, phrase, prefix, fuzzy, exact) against brute
//! force over the raw strings.

use std::collections::BTreeSet;

use infino_fts::{
    Analyzer, FtsConfig, FtsError, FtsIndex, MatchMode, QueryErrorKind, Token,
    exact_match_candidates, expand_fuzzy, phrase_match, prefix_match, token_match,
};
use proptest::prelude::*;
use roaring::RoaringBitmap;

use crate::common::{Corpus, build, positions_config, word, zipf_corpus};

/// Each document's analyzed tokens, by brute force.
pub(crate) fn analyzed(corpus: &Corpus, index: &FtsIndex) -> Vec<(u32, Vec<Token>)> {
    let analyzer = Analyzer::new(index.analyzer().config().clone()).expect("valid");
    corpus
        .iter()
        .filter_map(|(doc, text)| text.as_ref().map(|t| (*doc, analyzer.analyze(t))))
        .collect()
}

fn set(docs: impl IntoIterator<Item = u32>) -> BTreeSet<u32> {
    docs.into_iter().collect()
}

fn bits(bitmap: &RoaringBitmap) -> BTreeSet<u32> {
    bitmap.iter().collect()
}

pub(crate) fn oracle_phrase(docs: &[(u32, Vec<Token>)], phrase: &[Token]) -> BTreeSet<u32> {
    let Some(first) = phrase.first() else {
        return BTreeSet::new();
    };
    set(docs.iter().filter_map(|(doc, tokens)| {
        let hit = tokens.iter().any(|start| {
            phrase.iter().all(|p| {
                let want = start.position + (p.position - first.position);
                tokens
                    .iter()
                    .any(|t| t.position == want && t.term == p.term)
            }) && start.term == first.term
        });
        hit.then_some(*doc)
    }))
}

/// Character-level Levenshtein distance.
pub(crate) fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn corpus_and_index() -> (Corpus, FtsIndex) {
    let mut corpus = zipf_corpus(21, 1500, 200, 25);
    let last = corpus.last().map_or(0, |(d, _)| *d);
    corpus.push((
        last + 1,
        Some("Crème brûlée, the café's crème! 日本語".to_owned()),
    ));
    corpus.push((last + 2, Some(String::new())));
    let index = build(&corpus, &positions_config());
    (corpus, index)
}

#[test]
fn token_match_equals_brute_force() {
    let (corpus, index) = corpus_and_index();
    let docs = analyzed(&corpus, &index);
    let analyzer = index.analyzer();
    for q in [
        word(0),
        format!("{} {}", word(1), word(2)),
        format!("{} {} {}", word(0), word(5), word(150)),
        "crème CAFE 本".into(),
        "nothing-here".into(),
        String::new(),
    ] {
        let terms = analyzer.terms(&q);
        let any = set(docs
            .iter()
            .filter(|(_, t)| t.iter().any(|t| terms.contains(&t.term)))
            .map(|(d, _)| *d));
        let all = if terms.is_empty() {
            BTreeSet::new()
        } else {
            set(docs
                .iter()
                .filter(|(_, t)| terms.iter().all(|q| t.iter().any(|t| &t.term == q)))
                .map(|(d, _)| *d))
        };
        assert_eq!(
            bits(&token_match(&index, &q, MatchMode::Any).expect("any")),
            any,
            "{q}"
        );
        assert_eq!(
            bits(&token_match(&index, &q, MatchMode::All).expect("all")),
            all,
            "{q}"
        );
    }
}

/// Long unions of one-word groups — what an SQL `IN` list becomes — match
/// the documents holding any of the words, whether they are few (a sorted
/// gather) or many (a bit array over the documents); absent words and
/// groups of two words mix in.
#[test]
fn unions_of_word_groups_equal_brute_force() {
    let (corpus, index) = corpus_and_index();
    let docs = analyzed(&corpus, &index);
    let holding = |words: &[String]| {
        let terms: Vec<String> = words
            .iter()
            .flat_map(|w| index.analyzer().terms(w))
            .collect();
        set(docs
            .iter()
            .filter(|(_, t)| t.iter().any(|t| terms.contains(&t.term)))
            .map(|(d, _)| *d))
    };
    let rare: Vec<String> = (150..200).map(word).collect();
    let common: Vec<String> = (0..60).map(word).collect();
    // One document holds these: few enough for the sorted gather.
    let single: Vec<String> = ["crème", "CAFE", "本"].map(String::from).to_vec();
    assert_eq!(holding(&single).len(), 1);
    for words in [single, rare, common] {
        let mut clauses: Vec<String> = words.iter().map(|w| format!("(+{w})")).collect();
        clauses.push("(+absentword)".into());
        let query = infino_fts::Query::parse(&clauses.join(" OR ")).expect("parses");
        let got = bits(&query.matching_docs(&index).expect("matches"));
        assert_eq!(got, holding(&words), "{} words", words.len());

        // A group of two words needs both.
        let pair = format!("(+{} +{}) OR ({})", words[0], words[1], words[2]);
        let both = holding(&words[..1])
            .intersection(&holding(&words[1..2]))
            .copied()
            .collect::<BTreeSet<u32>>();
        let want: BTreeSet<u32> = both.union(&holding(&words[2..3])).copied().collect();
        let query = infino_fts::Query::parse(&pair).expect("parses");
        assert_eq!(bits(&query.matching_docs(&index).expect("matches")), want);
    }
}

#[test]
fn phrase_match_equals_brute_force() {
    let (corpus, index) = corpus_and_index();
    let docs = analyzed(&corpus, &index);
    let analyzer = index.analyzer();
    let mut phrases: Vec<String> = vec![
        "crème brûlée".into(),
        "cafe s creme".into(),
        "日本".into(),
        "brûlée crème".into(),
    ];
    // Phrases cut from real documents, plus their reversals.
    for (_, text) in corpus.iter().step_by(37) {
        let Some(text) = text else { continue };
        let words: Vec<&str> = text.split_whitespace().collect();
        for len in 2..=4 {
            if words.len() > len {
                phrases.push(words[1..=len].join(" "));
                phrases.push(
                    words[1..=len]
                        .iter()
                        .rev()
                        .copied()
                        .collect::<Vec<_>>()
                        .join(" "),
                );
            }
        }
    }
    let mut non_empty = 0;
    for phrase in &phrases {
        let expected = oracle_phrase(&docs, &analyzer.analyze(phrase));
        let got = bits(&phrase_match(&index, phrase).expect("phrase"));
        assert_eq!(got, expected, "{phrase}");
        non_empty += usize::from(!got.is_empty());
    }
    assert!(non_empty > phrases.len() / 3);
}

#[test]
fn phrase_needs_positions() {
    let corpus = zipf_corpus(2, 50, 10, 5);
    let index = build(&corpus, &FtsConfig::default());
    let err = phrase_match(&index, &format!("{} {}", word(0), word(1))).expect_err("no positions");
    assert!(matches!(
        err,
        FtsError::Query {
            kind: QueryErrorKind::PositionsNotIndexed,
            ..
        }
    ));
    // A single word needs no positions.
    assert!(phrase_match(&index, &word(0)).is_ok());
}

#[test]
fn prefix_and_fuzzy_equal_brute_force() {
    let (corpus, index) = corpus_and_index();
    let docs = analyzed(&corpus, &index);
    for prefix in ["k", "ka", "KAL", "zé", "ze", "crè", "日", "qqq", "lomi"] {
        let p = index.analyzer().normalize(prefix);
        let expected = set(docs
            .iter()
            .filter(|(_, t)| t.iter().any(|t| t.term.starts_with(&p)))
            .map(|(d, _)| *d));
        assert_eq!(
            bits(&prefix_match(&index, prefix).expect("prefix")),
            expected,
            "{prefix}"
        );
    }
    for (q, d) in [
        ("kalo", 1u8),
        ("kalo", 2),
        ("mine", 1),
        ("creme", 0),
        ("crme", 1),
        ("日本", 1),
    ] {
        let n = index.analyzer().normalize(q);
        let terms: BTreeSet<String> = docs
            .iter()
            .flat_map(|(_, t)| t.iter())
            .filter(|t| levenshtein(&t.term, &n) <= usize::from(d))
            .map(|t| t.term.clone())
            .collect();
        let got: BTreeSet<String> = expand_fuzzy(&index, q, d)
            .expect("fuzzy")
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        assert_eq!(got, terms, "{q}~{d}");
    }
}

#[test]
fn exact_match_candidates_cover_exact_values() {
    let (corpus, index) = corpus_and_index();
    for (doc, text) in corpus.iter().step_by(13) {
        let Some(text) = text else { continue };
        let candidates = exact_match_candidates(&index, text).expect("exact");
        assert!(candidates.contains(*doc), "doc {doc} {text:?}");
        // Every document with an identical value is a candidate.
        for (other, other_text) in &corpus {
            if other_text.as_deref() == Some(text.as_str()) {
                assert!(candidates.contains(*other));
            }
        }
    }
    let empty = exact_match_candidates(&index, "").expect("exact");
    assert_eq!(empty, index.present_docs());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn random_phrases_match_brute_force(
        docs in proptest::collection::vec(proptest::collection::vec(0usize..6, 0..25), 1..60),
        phrase in proptest::collection::vec(0usize..6, 1..4),
    ) {
        let corpus: Corpus = docs
            .iter()
            .enumerate()
            .map(|(i, ws)| (i as u32, Some(ws.iter().map(|&w| word(w)).collect::<Vec<_>>().join(" "))))
            .collect();
        let index = build(&corpus, &positions_config());
        let analyzed = analyzed(&corpus, &index);
        let text = phrase.iter().map(|&w| word(w)).collect::<Vec<_>>().join(" ");
        let expected = oracle_phrase(&analyzed, &index.analyzer().analyze(&text));
        prop_assert_eq!(bits(&phrase_match(&index, &text).expect("phrase")), expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(60))]

    #[test]
    fn fuzzy_expansion_matches_brute_force(
        words in proptest::collection::vec("[abé日ß]{1,6}", 1..40),
        query in "[abé日ß]{0,6}",
        distance in 0u8..=2,
    ) {
        let config = FtsConfig {
            analyzer: infino_fts::AnalyzerConfig {
                lowercase: false,
                ascii_folding: false,
                ..Default::default()
            },
            positions: false,
        };
        let corpus: Corpus = words.iter().enumerate().map(|(i, w)| (i as u32, Some(w.clone()))).collect();
        let index = build(&corpus, &config);
        let docs = analyzed(&corpus, &index);
        let expected: BTreeSet<String> = docs
            .iter()
            .flat_map(|(_, t)| t.iter())
            .filter(|t| levenshtein(&t.term, &query) <= usize::from(distance))
            .map(|t| t.term.clone())
            .collect();
        let got: BTreeSet<String> = expand_fuzzy(&index, &query, distance)
            .expect("fuzzy")
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        prop_assert_eq!(got, expected);
    }
}
