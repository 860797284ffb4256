//! The query language: parsing, hostile input, and boolean matching and
//! top-k against brute force over the raw strings.

use std::collections::{BTreeSet, HashMap, HashSet};

use infino_fts::{
    Bm25Params, FtsError, FtsIndex, MAX_CLAUSES, Query, QueryErrorKind, QueryNode, Token,
};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use roaring::RoaringBitmap;

use crate::common::{Corpus, Oracle, assert_top_k, build, positions_config, word, zipf_corpus};
use crate::matching::{analyzed, levenshtein, oracle_phrase};

fn term(text: &str, boost: f32) -> QueryNode {
    QueryNode::Term {
        text: text.into(),
        boost,
    }
}

#[test]
fn parses_the_documented_syntax() {
    let q = Query::parse("+a -b c^2 \"d e\" f* g~1 h~").expect("parses");
    let QueryNode::Bool {
        must,
        should,
        must_not,
    } = q.root()
    else {
        panic!("{q:?}");
    };
    assert_eq!(must, &[term("a", 1.0)]);
    assert_eq!(must_not, &[term("b", 1.0)]);
    assert_eq!(
        should,
        &[
            term("c", 2.0),
            QueryNode::Phrase {
                text: "d e".into(),
                boost: 1.0
            },
            QueryNode::Prefix {
                prefix: "f".into(),
                boost: 1.0
            },
            QueryNode::Fuzzy {
                text: "g".into(),
                distance: 1,
                boost: 1.0
            },
            QueryNode::Fuzzy {
                text: "h".into(),
                distance: 2,
                boost: 1.0
            },
        ]
    );
    let q = Query::parse("a AND NOT b OR c").expect("parses");
    assert_eq!(
        q.root(),
        &QueryNode::Bool {
            must: vec![],
            should: vec![
                QueryNode::Bool {
                    must: vec![term("a", 1.0)],
                    should: vec![],
                    must_not: vec![term("b", 1.0)]
                },
                term("c", 1.0),
            ],
            must_not: vec![],
        }
    );
    let q = Query::parse("(a b)^3").expect("parses");
    assert_eq!(
        q.root(),
        &QueryNode::Bool {
            must: vec![],
            should: vec![term("a", 3.0), term("b", 3.0)],
            must_not: vec![]
        }
    );
}

fn query_error(input: &str) -> QueryErrorKind {
    match Query::parse(input) {
        Err(FtsError::Query { kind, .. }) => kind,
        other => panic!("{input:?}: expected a query error, got {other:?}"),
    }
}

#[test]
fn malformed_queries_are_typed_errors() {
    assert_eq!(query_error("(a b"), QueryErrorKind::UnbalancedParenthesis);
    assert_eq!(query_error("a b)"), QueryErrorKind::UnbalancedParenthesis);
    assert_eq!(query_error("\"a b"), QueryErrorKind::UnterminatedPhrase);
    assert_eq!(query_error("a AND"), QueryErrorKind::MissingOperand);
    assert_eq!(query_error("OR a"), QueryErrorKind::MissingOperand);
    assert_eq!(query_error("a^x"), QueryErrorKind::InvalidBoost);
    assert_eq!(query_error("a^-1"), QueryErrorKind::InvalidBoost);
    assert_eq!(query_error("a~3"), QueryErrorKind::InvalidFuzzyDistance);
    assert!(matches!(
        query_error(&"(".repeat(100_000)),
        QueryErrorKind::TooDeep { .. }
    ));
    assert!(matches!(
        query_error(&"NOT ".repeat(100_000)),
        QueryErrorKind::TooDeep { .. }
    ));
    assert!(matches!(
        query_error(&"-".repeat(100_000)),
        QueryErrorKind::TooDeep { .. } | QueryErrorKind::MissingOperand
    ));
    let many = (0..10_000)
        .map(|i| format!("t{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(
        query_error(&many),
        QueryErrorKind::TooManyClauses { limit: MAX_CLAUSES }
    );
}

fn small_index() -> (Corpus, FtsIndex) {
    let corpus = zipf_corpus(31, 800, 120, 20);
    let index = build(&corpus, &positions_config());
    (corpus, index)
}

/// Parses and runs every evaluation path; must not panic.
fn run_all(index: &FtsIndex, input: &str) {
    let Ok(query) = Query::parse(input) else {
        return;
    };
    let _ = query.count(index);
    if let Ok(terms) = query.scoring_terms(index) {
        let stats = index
            .local_stats(terms.iter().map(|(t, _)| t.as_str()))
            .expect("stats");
        let _ = query.top_k(index, 10, Bm25Params::default(), &stats, None);
    }
}

#[test]
fn hostile_queries_never_panic() {
    let (_, index) = small_index();
    let huge = "x".repeat(1 << 20);
    let inputs = [
        String::new(),
        "   \t\n".into(),
        "\u{0}\u{1}\u{7f}a\u{202e}b".into(),
        huge.clone(),
        format!("{huge}*"),
        format!("{huge}~1"),
        format!("\"{huge} {huge}\""),
        "*".into(),
        "**".into(),
        "~".into(),
        "^".into(),
        "a^1e39".into(),
        "(a)^1e30 (b)^1e30".into(),
        "((((a))))^2^3".into(),
        "- + NOT".into(),
        "\"\"".into(),
        "\"   \"".into(),
        "NOT a".into(),
        "-a -b".into(),
        "k* OR *".into(),
        (0..1500).map(|i| format!("{} ", word(i % 120))).collect(),
        "(".repeat(63) + "a" + &")".repeat(63),
    ];
    for input in &inputs {
        run_all(&index, input);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_strings_never_panic(input in "\\PC{0,40}|[()\"+\\-*~^ ANDORTkalo0-9.]{0,40}") {
        thread_local! {
            static INDEX: FtsIndex = small_index().1;
        }
        INDEX.with(|index| run_all(index, &input));
    }
}

/// A generated query tree, rendered to a string and evaluated by brute force.
#[derive(Debug, Clone)]
enum T {
    Word(usize),
    Phrase(Vec<usize>),
    Prefix(String),
    Fuzzy(usize, u8),
    And(Vec<T>),
    Or(Vec<T>),
    Seq(Vec<(char, T)>),
    AndNot(Box<T>, Box<T>),
}

fn gen_tree(rng: &mut StdRng, depth: usize) -> T {
    let leaf = depth == 0 || rng.random_bool(0.4);
    if leaf {
        return match rng.random_range(0..10) {
            0..=4 => T::Word(rng.random_range(0..60)),
            5 | 6 => T::Phrase(
                (0..rng.random_range(2..4))
                    .map(|_| rng.random_range(0..8))
                    .collect(),
            ),
            7 => {
                let w = word(rng.random_range(0..40));
                let cut = w
                    .char_indices()
                    .nth(rng.random_range(1..3))
                    .map_or(w.len(), |(i, _)| i);
                T::Prefix(w[..cut].to_owned())
            }
            _ => T::Fuzzy(rng.random_range(0..60), rng.random_range(0..3)),
        };
    }
    let n = rng.random_range(1..4);
    let kids = (0..n).map(|_| gen_tree(rng, depth - 1)).collect::<Vec<_>>();
    match rng.random_range(0..4) {
        0 => T::And(kids),
        1 => T::Or(kids),
        2 => T::Seq(
            kids.into_iter()
                .map(|k| (['+', '-', ' ', ' '][rng.random_range(0..4)], k))
                .collect(),
        ),
        _ => T::AndNot(
            Box::new(kids[0].clone()),
            Box::new(gen_tree(rng, depth - 1)),
        ),
    }
}

fn render(t: &T) -> String {
    let join = |kids: &[T], sep: &str| kids.iter().map(render).collect::<Vec<_>>().join(sep);
    match t {
        T::Word(r) => word(*r),
        T::Phrase(ws) => format!(
            "\"{}\"",
            ws.iter().map(|w| word(*w)).collect::<Vec<_>>().join(" ")
        ),
        T::Prefix(p) => format!("{p}*"),
        T::Fuzzy(r, d) => format!("{}~{d}", word(*r)),
        T::And(kids) => format!("({})", join(kids, " AND ")),
        T::Or(kids) => format!("({})", join(kids, " OR ")),
        T::Seq(kids) => format!(
            "({})",
            kids.iter()
                .map(|(m, k)| format!("{}{}", m.to_string().trim(), render(k)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        T::AndNot(a, b) => format!("({} AND NOT {})", render(a), render(b)),
    }
}

struct Brute {
    docs: Vec<(u32, Vec<Token>)>,
    universe: BTreeSet<u32>,
    index: FtsIndex,
}

impl Brute {
    fn terms_where(&self, pred: impl Fn(&str) -> bool) -> BTreeSet<String> {
        self.docs
            .iter()
            .flat_map(|(_, t)| t.iter())
            .filter(|t| pred(&t.term))
            .map(|t| t.term.clone())
            .collect()
    }

    fn leaf_terms(&self, t: &T) -> BTreeSet<String> {
        let a = self.index.analyzer();
        match t {
            T::Word(r) => a.terms(&word(*r)).into_iter().collect(),
            T::Phrase(ws) => ws.iter().flat_map(|w| a.terms(&word(*w))).collect(),
            T::Prefix(p) => {
                let p = a.normalize(p);
                self.terms_where(|t| t.starts_with(&p))
            }
            T::Fuzzy(r, d) => {
                let q = a.normalize(&word(*r));
                self.terms_where(|t| levenshtein(t, &q) <= usize::from(*d))
            }
            _ => BTreeSet::new(),
        }
    }

    fn with_any(&self, terms: &BTreeSet<String>) -> BTreeSet<u32> {
        self.docs
            .iter()
            .filter(|(_, t)| t.iter().any(|t| terms.contains(&t.term)))
            .map(|(d, _)| *d)
            .collect()
    }

    fn eval(&self, t: &T) -> BTreeSet<u32> {
        match t {
            T::Word(_) | T::Prefix(_) | T::Fuzzy(..) => self.with_any(&self.leaf_terms(t)),
            T::Phrase(ws) => {
                let text = ws.iter().map(|w| word(*w)).collect::<Vec<_>>().join(" ");
                oracle_phrase(&self.docs, &self.index.analyzer().analyze(&text))
            }
            T::And(kids) => kids
                .iter()
                .map(|k| self.eval(k))
                .reduce(|a, b| &a & &b)
                .unwrap_or_default(),
            T::Or(kids) => kids
                .iter()
                .map(|k| self.eval(k))
                .reduce(|a, b| &a | &b)
                .unwrap_or_default(),
            T::AndNot(a, b) => &self.eval(a) - &self.eval(b),
            T::Seq(kids) => {
                let sets = |m: char| {
                    kids.iter()
                        .filter(|(o, _)| *o == m)
                        .map(|(_, k)| self.eval(k))
                        .collect::<Vec<_>>()
                };
                let (must, should, not) = (sets('+'), sets(' '), sets('-'));
                let excluded = not.iter().fold(BTreeSet::new(), |a, b| &a | b);
                let base = if !must.is_empty() {
                    must.into_iter().reduce(|a, b| &a & &b).unwrap_or_default()
                } else if !should.is_empty() {
                    should.iter().fold(BTreeSet::new(), |a, b| &a | b)
                } else if !not.is_empty() {
                    self.universe.clone()
                } else {
                    BTreeSet::new()
                };
                &base - &excluded
            }
        }
    }

    fn scoring_terms(&self, t: &T, out: &mut HashMap<String, f32>) {
        match t {
            T::Word(_) | T::Phrase(_) | T::Prefix(_) | T::Fuzzy(..) => {
                let terms: Vec<String> = match t {
                    // Phrase words count once per occurrence in the phrase.
                    T::Phrase(ws) => ws
                        .iter()
                        .flat_map(|w| self.index.analyzer().terms(&word(*w)))
                        .collect(),
                    _ => self.leaf_terms(t).into_iter().collect(),
                };
                for term in terms {
                    *out.entry(term).or_insert(0.0) += 1.0;
                }
            }
            T::And(kids) | T::Or(kids) => kids.iter().for_each(|k| self.scoring_terms(k, out)),
            T::Seq(kids) => kids
                .iter()
                .filter(|(m, _)| *m != '-')
                .for_each(|(_, k)| self.scoring_terms(k, out)),
            T::AndNot(a, _) => self.scoring_terms(a, out),
        }
    }
}

#[test]
fn boolean_queries_match_brute_force_and_rank_like_the_oracle() {
    let (corpus, index) = small_index();
    let brute = Brute {
        docs: analyzed(&corpus, &index),
        universe: index.present_docs().iter().collect(),
        index: index.clone(),
    };
    let oracle = Oracle::new(&corpus, index.analyzer().config());
    let mut rng = StdRng::seed_from_u64(99);
    let mut non_empty = 0;
    for i in 0..400 {
        let tree = gen_tree(&mut rng, 3);
        let text = render(&tree);
        let query = Query::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let expected = brute.eval(&tree);
        let got: BTreeSet<u32> = query
            .matching_docs(&index)
            .expect("matches")
            .iter()
            .collect();
        assert_eq!(got, expected, "#{i} {text}");
        assert_eq!(query.count(&index).expect("count"), expected.len() as u64);
        non_empty += usize::from(!expected.is_empty());

        // Ranking: BM25 over the positive terms, restricted to the match set.
        let mut want_terms = HashMap::new();
        brute.scoring_terms(&tree, &mut want_terms);
        let got_terms = query.scoring_terms(&index).expect("terms");
        let got_map: HashMap<String, f32> = got_terms.iter().cloned().collect();
        assert_eq!(got_map, want_terms, "#{i} {text}: scoring terms");
        let names: Vec<&str> = got_terms.iter().map(|(t, _)| t.as_str()).collect();
        let stats = index.local_stats(names.iter().copied()).expect("stats");
        let ostats = oracle.local_stats(&names);
        let allow: HashSet<u32> = expected.iter().copied().collect();
        let refs: Vec<(&str, f32)> = got_terms.iter().map(|(t, b)| (t.as_str(), *b)).collect();
        let mut ranked = oracle.rank(&refs, false, 1.2, 0.75, &ostats, Some(&allow));
        let scored: HashSet<u32> = ranked.iter().map(|(d, _)| *d).collect();
        ranked.extend(
            expected
                .iter()
                .filter(|d| !scored.contains(d))
                .map(|d| (*d, 0.0)),
        );
        for k in [1, 7, 50] {
            let filter: Option<RoaringBitmap> = None;
            let hits = query
                .top_k(&index, k, Bm25Params::default(), &stats, filter.as_ref())
                .expect("top_k");
            assert_top_k(&hits, &ranked, k, &format!("#{i} {text} k={k}"));
        }
    }
    assert!(non_empty > 150, "only {non_empty} non-empty queries");
}
