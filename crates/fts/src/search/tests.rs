//! Block skipping in top-k search, measured by documents scored.
use bytes::Bytes;

use super::*;
use crate::postings::Occurrence;
use crate::writer::{FtsConfig, FtsIndexBuilder};

/// One term, more frequent in every 1000th document: once the top-2
/// holds two of those, blocks without one are skipped undecoded.
#[test]
fn single_term_skips_blocks_below_threshold() {
    let mut builder = FtsIndexBuilder::new(FtsConfig::default()).expect("config");
    for doc in 0..20_000u32 {
        let text = if doc % 1000 == 7 {
            "common common common"
        } else {
            "common filler"
        };
        builder.add_document(doc, Some(text)).expect("add");
    }
    let index = FtsIndex::open(Bytes::from(builder.finish().expect("finish"))).expect("open");
    let stats = index.local_stats(["common"]).expect("stats");
    let terms = [("common".to_owned(), 1.0)];
    let q = TopKQuery {
        terms: &terms,
        mode: MatchMode::Any,
        k: 2,
        params: Bm25Params::default(),
        stats: &stats,
        allow: None,
    };
    let (hits, scored) = search_counting(&index, &q).expect("search");
    assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [7, 1007]);
    assert!(scored < 4_000, "scored {scored} of 20000 documents");
}

/// A common term in every document and a rare one in every 1000th: with
/// k = 2 the top-k fills by document 1007, after which block bounds must
/// stop common-only documents from being scored.
#[test]
fn block_max_skips_most_postings() {
    let mut builder = FtsIndexBuilder::new(FtsConfig::default()).expect("config");
    for doc in 0..20_000u32 {
        let text = if doc % 1000 == 7 {
            "common rare rare".to_owned()
        } else {
            format!("common filler{}", doc % 50)
        };
        builder.add_document(doc, Some(&text)).expect("add");
    }
    let index = FtsIndex::open(Bytes::from(builder.finish().expect("finish"))).expect("open");
    let stats = index.local_stats(["common", "rare"]).expect("stats");
    let terms = [("common".to_owned(), 1.0), ("rare".to_owned(), 1.0)];
    for mode in [MatchMode::Any, MatchMode::All] {
        let q = TopKQuery {
            terms: &terms,
            mode,
            k: 2,
            params: Bm25Params::default(),
            stats: &stats,
            allow: None,
        };
        let (hits, scored) = search_counting(&index, &q).expect("search");
        assert_eq!(hits.len(), 2);
        assert!(hits.iter().all(|(doc, _)| doc % 1000 == 7), "{hits:?}");
        assert!(
            scored < 1_100,
            "{mode:?} scored {scored} of 20000 documents"
        );
    }
}

/// Two terms in every document, both frequent in every 1000th: with
/// k = 2 one term stays essential, and only its block bounds (plus the
/// other term's bound) keep ordinary blocks from being scored.
#[test]
fn disjunction_skips_essential_blocks() {
    let mut builder = FtsIndexBuilder::new(FtsConfig::default()).expect("config");
    for doc in 0..20_000u32 {
        let text = if doc % 1000 == 7 {
            "alpha alpha alpha beta beta beta"
        } else {
            "alpha beta filler"
        };
        builder.add_document(doc, Some(text)).expect("add");
    }
    let index = FtsIndex::open(Bytes::from(builder.finish().expect("finish"))).expect("open");
    let stats = index.local_stats(["alpha", "beta"]).expect("stats");
    let terms = [("alpha".to_owned(), 1.0), ("beta".to_owned(), 1.0)];
    let q = TopKQuery {
        terms: &terms,
        mode: MatchMode::Any,
        k: 2,
        params: Bm25Params::default(),
        stats: &stats,
        allow: None,
    };
    let (hits, scored) = search_counting(&index, &q).expect("search");
    assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [7, 1007]);
    assert!(scored < 4_000, "scored {scored} of 20000 documents");
}

/// Regions written with each group's widths inline (before flag bit 3)
/// still read: every occurrence of every term, including a common term
/// whose blocks hold many groups of positions, decodes to the position
/// and byte span it was written at, in both layouts.
#[test]
fn both_group_width_layouts_read_every_occurrence() {
    // "a" up to 40 times per document: a block of 128 documents holds
    // tens of position groups; "b" and "c" follow it now and then.
    let docs: Vec<String> = (0..700u32)
        .map(|doc| {
            let words = 5 + (doc * 7919 % 61);
            (0..words)
                .map(|w| match (doc + w * 13) % 5 {
                    0 | 1 | 3 => "a",
                    2 => "b",
                    _ => "c",
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let config = FtsConfig {
        positions: true,
        ..FtsConfig::default()
    };
    let build = |inline: bool| {
        let mut builder = FtsIndexBuilder::new(config.clone())
            .expect("config")
            .with_offsets(true);
        if inline {
            builder = builder.with_inline_group_widths();
        }
        for (doc, text) in (0u32..).zip(&docs) {
            builder.add_document(doc, Some(text)).expect("add");
        }
        let bytes = Bytes::from(builder.finish().expect("finish"));
        (bytes.clone(), FtsIndex::open(bytes).expect("open"))
    };
    let ((leading_bytes, leading), (inline_bytes, inline)) = (build(false), build(true));
    assert_eq!(leading_bytes.len(), inline_bytes.len());
    assert_ne!(leading_bytes, inline_bytes);
    for index in [&leading, &inline] {
        for term in ["a", "b", "c"] {
            let info = index.term_info(term).expect("info").expect("term");
            let mut cursor = index.postings(&info).expect("postings");
            let mut seen = 0;
            while cursor.doc() != TERMINATED {
                let text = &docs[cursor.doc() as usize];
                let want: Vec<Occurrence> = (0u32..)
                    .zip(text.split(' '))
                    .scan(0u32, |at, (position, word)| {
                        let start = *at;
                        *at += 1 + u32::try_from(word.len()).expect("short");
                        Some((position, start, word))
                    })
                    .filter(|(_, _, word)| *word == term)
                    .map(|(position, start, _)| Occurrence {
                        position,
                        start,
                        end: start + 1,
                    })
                    .collect();
                assert_eq!(cursor.occurrences().expect("occurrences"), want);
                seen += 1;
                cursor.next_doc().expect("next");
            }
            assert_eq!(seen, info.doc_freq);
        }
    }
}
