//! Query classes for full-text cells, drawn from the corpus itself so they
//! match documents on any corpus: rare and common terms by document
//! frequency, adjacent word pairs for phrases, and so on.
//!
//! Only words of ASCII letters and digits are drawn: our analyzer keeps
//! `44.4` or `u.s` whole where tantivy's splits them, and a word one
//! engine does not have as a term is a different (empty, instant) query
//! there — two of Reuters' twenty phrases were, before this rule.

use infino_fts::FtsIndex;

/// One query, in a form each engine can translate.
#[derive(Debug, Clone)]
pub(crate) enum QuerySpec {
    /// Terms, any (`all = false`) or all must match.
    Terms { terms: Vec<String>, all: bool },
    /// Terms starting with this prefix.
    Prefix(String),
    /// Adjacent words.
    Phrase(Vec<String>),
    /// Within one edit of this word.
    Fuzzy(String),
}

impl QuerySpec {
    /// infino query-string syntax.
    pub(crate) fn to_infino(&self) -> String {
        match self {
            QuerySpec::Terms { terms, all: false } => terms.join(" "),
            QuerySpec::Terms { terms, all: true } => terms
                .iter()
                .map(|t| format!("+{t}"))
                .collect::<Vec<_>>()
                .join(" "),
            QuerySpec::Prefix(p) => format!("{p}*"),
            QuerySpec::Phrase(words) => format!("\"{}\"", words.join(" ")),
            QuerySpec::Fuzzy(w) => format!("{w}~1"),
        }
    }
}

/// Whether both engines' analyzers read `word` as this one term.
fn plain(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Named classes of queries, in report order.
pub(crate) fn query_classes(
    index: &FtsIndex,
    texts: &[String],
    per_class: usize,
) -> Vec<(&'static str, Vec<QuerySpec>)> {
    let analyzer = index.analyzer();
    let n = texts.len().max(1);
    let step = (n / 400).max(1);
    let mut vocab: Vec<(u64, String)> = Vec::new();
    let mut pairs: Vec<Vec<String>> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for text in texts.iter().step_by(step) {
        let terms = analyzer.terms(text);
        if let Some(w) = terms
            .windows(2)
            .skip(terms.len() / 3)
            .find(|w| w.iter().all(|t| plain(t)))
        {
            pairs.push(w.to_vec());
        }
        for t in terms {
            if plain(&t)
                && seen.insert(t.clone())
                && let Ok(Some(info)) = index.term_info(&t)
            {
                vocab.push((u64::from(info.doc_freq), t));
            }
        }
    }
    vocab.sort();
    let docs = u64::try_from(n).unwrap_or(u64::MAX);
    let pick = |lo: u64, hi: u64| -> Vec<String> {
        let all: Vec<&String> = vocab
            .iter()
            .filter(|(df, _)| (lo..=hi).contains(df))
            .map(|(_, t)| t)
            .collect();
        let stride = (all.len() / per_class.max(1)).max(1);
        all.into_iter()
            .step_by(stride)
            .take(per_class)
            .cloned()
            .collect()
    };
    // A small vocabulary over many documents can leave no term that rare
    // (1M Zipf docs over 50k words: the rarest is in ~170 documents); then
    // the rarest terms seen stand in.
    let mut rare = pick(2, 20.max(docs / 10_000));
    if rare.is_empty() {
        rare = vocab
            .iter()
            .filter(|(df, _)| *df >= 2)
            .take(per_class)
            .map(|(_, t)| t.clone())
            .collect();
    }
    let mid = pick((docs / 1_000).max(2), (docs / 30).max(3));
    let common: Vec<String> = vocab
        .iter()
        .rev()
        .take(per_class)
        .map(|(_, t)| t.clone())
        .collect();
    let long_mid: Vec<&String> = mid.iter().filter(|t| t.chars().count() >= 5).collect();
    let cycle = |v: &[String], i: usize| v.get(i % v.len().max(1)).cloned().unwrap_or_default();

    let single = |v: &[String]| {
        v.iter()
            .map(|t| QuerySpec::Terms {
                terms: vec![t.clone()],
                all: false,
            })
            .collect()
    };
    let two = |all| {
        (0..per_class)
            .map(|i| QuerySpec::Terms {
                terms: vec![cycle(&common, i), cycle(&mid, i)],
                all,
            })
            .collect()
    };
    let five = (0..per_class)
        .map(|i| QuerySpec::Terms {
            terms: vec![
                cycle(&common, i),
                cycle(&common, i + 1),
                cycle(&mid, i),
                cycle(&mid, i + 1),
                cycle(&rare, i),
            ],
            all: false,
        })
        .collect();
    let prefix = long_mid
        .iter()
        .take(per_class)
        .map(|t| QuerySpec::Prefix(t.chars().take(4).collect()))
        .collect();
    let phrase = pairs
        .into_iter()
        .take(per_class)
        .map(QuerySpec::Phrase)
        .collect();
    let fuzzy = long_mid
        .iter()
        .take(per_class)
        .map(|t| {
            let mut chars: Vec<char> = t.chars().collect();
            let last = chars.len() - 1;
            chars[last] = if chars[last] == 'x' { 'y' } else { 'x' };
            QuerySpec::Fuzzy(chars.into_iter().collect())
        })
        .collect();
    vec![
        ("single_rare", single(&rare)),
        ("single_common", single(&common)),
        ("or_2", two(false)),
        ("and_2", two(true)),
        ("or_5", five),
        ("prefix", prefix),
        ("phrase", phrase),
        ("fuzzy", fuzzy),
    ]
}
