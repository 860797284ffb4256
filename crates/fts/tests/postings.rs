//! Postings cursors: block-by-block iteration and seeking against the doc
//! sets they were built from.

use bytes::Bytes;
use infino_fts::{FtsConfig, FtsIndex, FtsIndexBuilder, TERMINATED};
use proptest::prelude::*;

/// One region where term `t` occurs in exactly `docs` (tf = doc % 5 + 1) and
/// filler `f` everywhere else.
fn region(docs: &[u32], max_doc: u32) -> FtsIndex {
    let mut builder = FtsIndexBuilder::new(FtsConfig {
        positions: true,
        ..FtsConfig::default()
    })
    .expect("config");
    let mut it = docs.iter().peekable();
    for doc in 0..=max_doc {
        if it.peek() == Some(&&doc) {
            it.next();
            let text = format!("f {}", vec!["t"; doc as usize % 5 + 1].join(" "));
            builder.add_document(doc, Some(&text)).expect("add");
        } else {
            builder.add_document(doc, Some("f")).expect("add");
        }
    }
    FtsIndex::open(Bytes::from(builder.finish().expect("finish"))).expect("open")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn seek_and_next_follow_the_doc_set(
        mut docs in proptest::collection::btree_set(0u32..3000, 1..700).prop_map(|s| s.into_iter().collect::<Vec<_>>()),
        targets in proptest::collection::vec(0u32..3100, 1..40),
    ) {
        docs.sort_unstable();
        let index = region(&docs, 3000);
        let info = index.term_info("t").expect("row").expect("term exists");
        prop_assert_eq!(info.doc_freq as usize, docs.len());
        // Full iteration.
        let mut cursor = index.postings(&info).expect("cursor");
        let mut seen = Vec::new();
        while cursor.doc() != TERMINATED {
            prop_assert_eq!(cursor.tf(), cursor.doc() % 5 + 1);
            let occ = cursor.occurrences().expect("positions");
            prop_assert_eq!(occ.len() as u32, cursor.tf());
            prop_assert_eq!(occ[0].position, 1);
            seen.push(cursor.doc());
            cursor.next_doc().expect("next");
        }
        prop_assert_eq!(&seen, &docs);
        // Seeks, shallow seeks and nexts against a model position in `docs`.
        let mut cursor = index.postings(&info).expect("cursor");
        let mut pos = 0usize;
        let model = |pos: usize| docs.get(pos).copied().unwrap_or(TERMINATED);
        for (i, &target) in targets.iter().enumerate() {
            if i % 3 == 1 {
                let has_block = cursor.shallow_seek(target + 200).expect("shallow");
                let last = docs.last().copied().unwrap_or(0);
                if model(pos) != TERMINATED {
                    prop_assert_eq!(has_block, target + 200 <= last);
                }
            }
            if model(pos) < target {
                pos = docs.partition_point(|&d| d < target);
            }
            prop_assert_eq!(cursor.seek(target).expect("seek"), model(pos), "seek {}", target);
            if model(pos) != TERMINATED {
                prop_assert_eq!(cursor.tf(), model(pos) % 5 + 1);
                if i % 2 == 0 {
                    pos += 1;
                    prop_assert_eq!(cursor.next_doc().expect("next"), model(pos));
                }
            }
        }
    }
}
