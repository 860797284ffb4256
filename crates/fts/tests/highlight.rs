//! Highlighting from stored offsets agrees with re-analysis.

use bytes::Bytes;
use infino_fts::{
    FtsConfig, FtsError, FtsIndex, FtsIndexBuilder, HighlightOptions, Query, QueryErrorKind,
    TERMINATED, highlight, highlight_spans,
};

use crate::common::{build, positions_config, word, zipf_corpus};

#[test]
fn stored_offsets_and_reanalysis_agree() {
    let corpus = zipf_corpus(41, 400, 80, 30);
    let mut builder = FtsIndexBuilder::new(positions_config())
        .expect("config")
        .with_offsets(true);
    for (doc, text) in &corpus {
        builder.add_document(*doc, text.as_deref()).expect("add");
    }
    let with = FtsIndex::open(Bytes::from(builder.finish().expect("finish"))).expect("open");
    assert!(with.has_offsets());
    // Positions without offsets (the default) and no positions at all
    // both highlight by re-analysis.
    let positions_only = build(&corpus, &positions_config());
    assert!(positions_only.has_positions() && !positions_only.has_offsets());
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
        let c = highlight_spans(&positions_only, *doc, text, &query).expect("spans");
        assert_eq!(a, c, "doc {doc}");
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

#[test]
fn occurrences_without_offsets_are_a_typed_error() {
    let corpus = zipf_corpus(5, 50, 20, 10);
    let index = build(&corpus, &positions_config());
    let term = word(0);
    let info = index.term_info(&term).expect("row").expect("term");
    let mut cursor = index.postings(&info).expect("cursor");
    assert_ne!(cursor.doc(), TERMINATED);
    let mut positions = Vec::new();
    cursor
        .positions_into(&mut positions)
        .expect("positions stored");
    assert!(!positions.is_empty());
    assert!(matches!(
        cursor.occurrences(),
        Err(FtsError::Query {
            kind: QueryErrorKind::OffsetsNotIndexed,
            ..
        })
    ));
}
