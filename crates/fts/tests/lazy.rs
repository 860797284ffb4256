//! A region opened from its lookup prefix, with only the lists a query
//! needs, answers exactly like the whole region.

use bytes::Bytes;
use infino_fts::{
    Bm25Params, FtsError, FtsIndex, FtsIndexBuilder, HighlightOptions, Query, RegionLayout,
    Section, highlight,
};

use crate::common::{positions_config, word, zipf_corpus};

fn region() -> Vec<u8> {
    let mut builder = FtsIndexBuilder::new(positions_config()).expect("config");
    for (doc, text) in zipf_corpus(7, 3_000, 400, 30) {
        builder.add_document(doc, text.as_deref()).expect("add");
    }
    builder.finish().expect("finish")
}

/// The lookup prefix of `region`, found from its header alone.
fn prefix_index(region: &[u8]) -> FtsIndex {
    let len = region.len() as u64;
    let header_len =
        RegionLayout::header_len_of(&region[..RegionLayout::FIXED_HEADER_LEN], len).expect("len");
    let layout = RegionLayout::parse(&region[..header_len], len).expect("layout");
    let lookup = layout.lookup_len() as usize;
    assert!(lookup < region.len() / 2, "lookup prefix {lookup} of {len}");
    FtsIndex::open_prefix(Bytes::copy_from_slice(&region[..lookup]), len).expect("prefix")
}

/// `prefix` plus the lists `query` needs, copied out of `region`.
fn loaded(region: &[u8], prefix: &FtsIndex, query: &Query, offsets: bool) -> FtsIndex {
    let (terms, positions) = query.lists_needed(prefix).expect("terms");
    let mut parts = Vec::new();
    for term in &terms {
        let Some(info) = prefix.term_info(term).expect("row") else {
            continue;
        };
        for range in prefix.list_ranges(&info, positions, offsets) {
            let bytes = Bytes::copy_from_slice(&region[range.start as usize..range.end as usize]);
            parts.push((range.start, bytes));
        }
    }
    prefix.with_ranges(parts)
}

#[test]
fn lazy_lists_answer_like_the_whole_region() {
    let region = region();
    let whole = FtsIndex::open(Bytes::from(region.clone())).expect("open");
    let prefix = prefix_index(&region);
    assert!(!prefix.is_whole() && whole.is_whole());
    assert_eq!(prefix.doc_count(), whole.doc_count());
    let (a, b, c) = (word(0), word(3), word(40));
    let queries = [
        format!("{a} {b}"),
        format!("+{a} +{c}"),
        format!("\"{a} {b}\""),
        format!("{}* -{b}", &c[..2]),
        format!("{c}~1 OR {b}"),
    ];
    for input in &queries {
        let query = Query::parse(input).expect("parse");
        let lazy = loaded(&region, &prefix, &query, true);
        assert!(lazy.len_bytes() < whole.len_bytes(), "{input}");
        let terms = query.scoring_terms(&whole).expect("terms");
        let stats = whole
            .local_stats(terms.iter().map(|(t, _)| t.as_str()))
            .expect("stats");
        let params = Bm25Params::default();
        assert_eq!(
            query.top_k(&lazy, 10, params, &stats, None).expect("lazy"),
            query
                .top_k(&whole, 10, params, &stats, None)
                .expect("whole"),
            "{input}"
        );
        let matching = query.matching_docs(&whole).expect("whole");
        assert_eq!(query.matching_docs(&lazy).expect("lazy"), matching);
        if let Some(doc) = matching.min() {
            let text = "any text";
            let options = HighlightOptions::default();
            assert_eq!(
                highlight(&lazy, doc, text, &query, &options).expect("lazy"),
                highlight(&whole, doc, text, &query, &options).expect("whole")
            );
        }
    }
}

#[test]
fn missing_lists_are_a_typed_error() {
    let region = region();
    let prefix = prefix_index(&region);
    let term = word(0);
    let info = prefix.term_info(&term).expect("row").expect("term");
    assert!(matches!(
        prefix.postings(&info),
        Err(FtsError::NotLoaded {
            section: Section::Postings,
            ..
        })
    ));
    // Postings without positions: a phrase fails, a term query works.
    let query = Query::parse(&term).expect("parse");
    let lazy = loaded(&region, &prefix, &query, false);
    assert!(query.count(&lazy).expect("count") > 0);
    let phrase = Query::parse(&format!("\"{term} {term}\"")).expect("parse");
    assert!(matches!(
        phrase.count(&lazy),
        Err(FtsError::NotLoaded {
            section: Section::Positions,
            ..
        })
    ));
    // A prefix too short for the lookup sections is refused.
    let short = Bytes::copy_from_slice(&region[..200]);
    assert!(FtsIndex::open_prefix(short, region.len() as u64).is_err());
}
