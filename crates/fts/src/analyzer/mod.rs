//! Text analysis: UAX #29 word segmentation, then lowercasing, ASCII folding,
//! stop-word removal and Snowball stemming, in that order.
//!
//! Positions count every word segment (a UAX #29 segment with at least one
//! alphanumeric character), including words later removed as stop words or
//! for length, so phrase queries keep the gaps those words leave. Offsets are
//! byte ranges of the word in the original string. Non-ASCII words are always
//! indexed; CJK ideographs come out as one-character words.

mod ascii;
mod config;
mod folding;
mod stopwords;

use std::collections::HashSet;

use unicode_segmentation::UnicodeSegmentation;

pub use config::{AnalyzerConfig, DEFAULT_MAX_TOKEN_LEN, Language, MAX_TOKEN_LEN_LIMIT, StopWords};

use crate::error::Result;

/// One term produced by an [`Analyzer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The normalized term.
    pub term: String,
    /// Ordinal of the word among all words of the text (gaps where words were
    /// removed).
    pub position: u32,
    /// Byte offset of the word's start in the original text.
    pub start: usize,
    /// Byte offset one past the word's end in the original text.
    pub end: usize,
}

/// A ready-to-use analyzer built from a validated [`AnalyzerConfig`].
///
/// Cheap to clone relative to indexing work; holds the stop-word set.
pub struct Analyzer {
    config: AnalyzerConfig,
    stop: HashSet<String>,
    stemmer: Option<rust_stemmers::Stemmer>,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Analyzer {
    /// Builds an analyzer.
    ///
    /// # Errors
    /// [`FtsError::InvalidConfig`](crate::FtsError::InvalidConfig) if the
    /// configuration does not validate.
    pub fn new(config: AnalyzerConfig) -> Result<Analyzer> {
        config.validate()?;
        let mut analyzer = Analyzer {
            stemmer: config
                .stemmer
                .map(|lang| rust_stemmers::Stemmer::create(lang.algorithm())),
            config,
            stop: HashSet::new(),
        };
        let words: Vec<String> = match &analyzer.config.stop_words {
            StopWords::None => Vec::new(),
            StopWords::English => stopwords::ENGLISH.iter().map(|w| (*w).to_owned()).collect(),
            StopWords::Custom(words) => words.clone(),
        };
        analyzer.stop = words.iter().map(|w| analyzer.normalize(w)).collect();
        Ok(analyzer)
    }

    /// The configuration this analyzer was built from.
    pub fn config(&self) -> &AnalyzerConfig {
        &self.config
    }

    /// Lowercases and folds `word` as configured, without stop-word removal
    /// or stemming. Used for prefix and fuzzy query terms.
    pub fn normalize(&self, word: &str) -> String {
        let mut out = String::with_capacity(word.len());
        self.normalize_into(word, &mut out);
        out
    }

    /// [`normalize`](Self::normalize), appending to `out`. ASCII words skip
    /// the Unicode case mapping and the folding table, both identities or
    /// plain ASCII lowercasing there.
    fn normalize_into(&self, word: &str, out: &mut String) {
        if word.is_ascii() {
            let from = out.len();
            out.push_str(word);
            if self.config.lowercase {
                out[from..].make_ascii_lowercase();
            }
            return;
        }
        let lowered;
        let word = if self.config.lowercase {
            lowered = word.to_lowercase();
            lowered.as_str()
        } else {
            word
        };
        if self.config.ascii_folding {
            out.push_str(&folding::fold(word));
        } else {
            out.push_str(word);
        }
    }

    /// Calls `f(term, position, start, end)` for each token of `text`, in
    /// order, lending the term from a reused buffer.
    pub(crate) fn for_each_term(&self, text: &str, mut f: impl FnMut(&str, u32, usize, usize)) {
        let mut position: u32 = 0;
        let mut normalized = String::new();
        let mut word_fn = |start: usize, word: &str| {
            normalized.clear();
            self.normalize_into(word, &mut normalized);
            if !normalized.is_empty() && !self.stop.contains(normalized.as_str()) {
                let term = match &self.stemmer {
                    Some(stemmer) => stemmer.stem(&normalized),
                    None => std::borrow::Cow::Borrowed(normalized.as_str()),
                };
                if !term.is_empty() && term.len() <= self.config.max_token_len {
                    f(&term, position, start, start + word.len());
                }
            }
            position = position.saturating_add(1);
        };
        if text.is_ascii() {
            ascii::for_each_word(text, word_fn);
        } else {
            for (start, word) in text.split_word_bound_indices() {
                if word.chars().any(char::is_alphanumeric) {
                    word_fn(start, word);
                }
            }
        }
    }

    /// Calls `f` for each token of `text`, in order.
    pub fn for_each_token(&self, text: &str, mut f: impl FnMut(Token)) {
        self.for_each_term(text, |term, position, start, end| {
            f(Token {
                term: term.to_owned(),
                position,
                start,
                end,
            });
        });
    }

    /// Whether `text` analyzes to exactly one term, spelled as `text`
    /// itself (`c97`, `news`; not `News`, `a b`, `running` when stemmed, or
    /// a stop word). Equality with such a value is a term lookup.
    pub fn is_own_term(&self, text: &str) -> bool {
        let mut terms = 0;
        let mut whole = false;
        self.for_each_term(text, |term, _, start, end| {
            terms += 1;
            whole = spans_whole(text, term, start, end);
        });
        terms == 1 && whole
    }

    /// Returns the tokens of `text`, in order.
    pub fn analyze(&self, text: &str) -> Vec<Token> {
        let mut out = Vec::new();
        self.for_each_token(text, |t| out.push(t));
        out
    }

    /// Returns only the terms of `text`, in order.
    pub fn terms(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.for_each_token(text, |t| out.push(t.term));
        out
    }
}

/// Whether the token `term` at bytes `start..end` of `text` is the whole
/// text, unchanged by analysis.
pub(crate) fn spans_whole(text: &str, term: &str, start: usize, end: usize) -> bool {
    start == 0 && end == text.len() && term == text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(config: AnalyzerConfig, text: &str) -> Vec<String> {
        Analyzer::new(config).expect("valid").terms(text)
    }

    #[test]
    fn segments_and_normalizes() {
        let a = Analyzer::new(AnalyzerConfig::default()).expect("valid");
        let tokens = a.analyze("Hello, Wörld! 日本 x--y");
        let got: Vec<_> = tokens
            .iter()
            .map(|t| (t.term.as_str(), t.position, t.start, t.end))
            .collect();
        assert_eq!(
            got,
            [
                ("hello", 0, 0, 5),
                ("world", 1, 7, 13),
                ("日", 2, 15, 18),
                ("本", 3, 18, 21),
                ("x", 4, 22, 23),
                ("y", 5, 25, 26),
            ]
        );
    }

    #[test]
    fn stop_words_leave_gaps_and_stemming_applies() {
        let config = AnalyzerConfig {
            stemmer: Some(Language::English),
            stop_words: StopWords::English,
            ..AnalyzerConfig::default()
        };
        let a = Analyzer::new(config).expect("valid");
        let got: Vec<_> = a
            .analyze("The running dogs")
            .into_iter()
            .map(|t| (t.term, t.position))
            .collect();
        assert_eq!(got, [("run".to_owned(), 1), ("dog".to_owned(), 2)]);
    }

    #[test]
    fn long_tokens_dropped_and_case_kept_when_asked() {
        let config = AnalyzerConfig {
            lowercase: false,
            ascii_folding: false,
            max_token_len: 3,
            ..AnalyzerConfig::default()
        };
        assert_eq!(terms(config, "Abc abcd Éé"), ["Abc"]);
    }

    #[test]
    fn custom_stop_words_are_normalized() {
        let config = AnalyzerConfig {
            stop_words: StopWords::Custom(vec!["CAFÉ".into()]),
            ..AnalyzerConfig::default()
        };
        assert_eq!(terms(config, "café au lait"), ["au", "lait"]);
    }

    #[test]
    fn own_terms_are_single_unchanged_tokens() {
        let plain = Analyzer::new(AnalyzerConfig::default()).expect("config");
        for own in ["c97", "news", "a1b2", "中"] {
            assert!(plain.is_own_term(own), "{own}");
        }
        for not in ["", " c97", "c97 ", "News", "élan", "a b", "c-97", "!!"] {
            assert!(!plain.is_own_term(not), "{not:?}");
        }
        let english = Analyzer::new(AnalyzerConfig {
            stemmer: Some(Language::English),
            stop_words: StopWords::English,
            ..AnalyzerConfig::default()
        })
        .expect("config");
        assert!(!english.is_own_term("running"));
        assert!(!english.is_own_term("the"));
        assert!(english.is_own_term("run"));
    }
}
