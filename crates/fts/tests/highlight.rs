//! Highlighting from stored offsets agrees with re-analysis.

use infino_fts::{FtsConfig, HighlightOptions, Query, highlight, highlight_spans};

use crate::common::{build, positions_config, word, zipf_corpus};

#[test]
fn stored_offsets_and_reanalysis_agree() {
    let corpus = zipf_corpus(41, 400, 80, 30);
    let with = build(&corpus, &positions_config());
    let without = build(&corpus, &FtsConfig::default());
    let query = Query::parse(&format!(
        "{} \"{} {}\" {}* -{}",
        word(0),
        word(1),
        word(2),
        &word(3)[..2],
        word(4)
    ))
    .expect("parses");
    let mut marked = 0;
    for (doc, text) in &corpus {
        let Some(text) = text else { continue };
        let a = highlight_spans(&with, *doc, text, &query).expect("spans");
        let b = highlight_spans(&without, *doc, text, &query).expect("spans");
        assert_eq!(a, b, "doc {doc}");
        let terms: Vec<String> = query
            .scoring_terms(&with)
            .expect("terms")
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        for (s, e) in &a {
            let analyzed = with.analyzer().terms(&text[*s..*e]);
            assert!(
                analyzed.len() == 1 && terms.contains(&analyzed[0]),
                "{:?}",
                &text[*s..*e]
            );
        }
        marked += a.len();
    }
    assert!(marked > 100);
}

#[test]
fn renders_markers_and_ellipses() {
    let corpus = vec![
        (
            0,
            Some("The Quick brown fox; a quick, QUICK dog.".to_owned()),
        ),
        (
            1,
            Some(format!(
                "{} needle {}",
                "hay ".repeat(50),
                "hay ".repeat(50)
            )),
        ),
    ];
    let index = build(&corpus, &positions_config());
    let query = Query::parse("quick fox").expect("parses");
    let opts = HighlightOptions {
        pre_tag: "<".into(),
        post_tag: ">".into(),
        max_len: 0,
        ellipsis: "…".into(),
    };
    let text0 = corpus[0].1.as_deref().expect("text");
    assert_eq!(
        highlight(&index, 0, text0, &query, &opts).expect("highlight"),
        "The <Quick> brown <fox>; a <quick>, <QUICK> dog."
    );
    let text1 = corpus[1].1.as_deref().expect("text");
    let opts = HighlightOptions {
        max_len: 30,
        ..opts
    };
    let snippet = highlight(
        &index,
        1,
        text1,
        &Query::parse("needle").expect("parses"),
        &opts,
    )
    .expect("highlight");
    assert!(
        snippet.starts_with('…') && snippet.ends_with('…'),
        "{snippet}"
    );
    assert!(snippet.contains("<needle>"), "{snippet}");
    // A text that does not match the stored offsets is handled without panics.
    let other = highlight(&index, 0, "short", &query, &opts).expect("highlight");
    assert_eq!(other, "short");
}
