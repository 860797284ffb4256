//! The analyzer on arbitrary text, for every stemming language.

use infino_fts::{Analyzer, AnalyzerConfig, Language, StopWords};
use proptest::prelude::*;

fn analyzers() -> Vec<Analyzer> {
    let mut out = vec![Analyzer::new(AnalyzerConfig::default()).expect("valid")];
    for lang in Language::ALL {
        let config = AnalyzerConfig {
            stemmer: Some(lang),
            stop_words: StopWords::English,
            ..AnalyzerConfig::default()
        };
        out.push(Analyzer::new(config).expect("valid"));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Tokens never panic, stay in bounds, keep increasing positions and
    /// respect the length limit, for every language.
    #[test]
    fn tokens_are_well_formed(text in "\\PC{0,60}|[a-zA-Zéüßçøñ日本語ЖжΣσ' -]{0,60}") {
        thread_local! {
            static ANALYZERS: Vec<Analyzer> = analyzers();
        }
        ANALYZERS.with(|analyzers| {
            for analyzer in analyzers {
                let tokens = analyzer.analyze(&text);
                let mut last = None;
                for t in &tokens {
                    assert!(t.start < t.end && t.end <= text.len());
                    assert!(text.is_char_boundary(t.start) && text.is_char_boundary(t.end));
                    assert!(!t.term.is_empty() && t.term.len() <= analyzer.config().max_token_len);
                    assert!(last.is_none_or(|p| p < t.position));
                    last = Some(t.position);
                }
            }
        });
    }
}

#[test]
fn non_ascii_text_is_indexed() {
    let analyzer = Analyzer::new(AnalyzerConfig::default()).expect("valid");
    assert_eq!(
        analyzer.terms("Москва 東京 Ελλάδα café"),
        ["москва", "東", "京", "ελλάδα", "cafe"]
    );
}

#[test]
fn stemming_and_stop_words_per_language() {
    let config = |lang| AnalyzerConfig {
        stemmer: Some(lang),
        stop_words: StopWords::English,
        ..AnalyzerConfig::default()
    };
    let en = Analyzer::new(config(Language::English)).expect("valid");
    assert_eq!(
        en.terms("The runners were running to the finish"),
        ["runner", "were", "run", "finish"]
    );
    let de = Analyzer::new(config(Language::German)).expect("valid");
    assert_eq!(de.terms("Häuser"), ["haus"]);
}
