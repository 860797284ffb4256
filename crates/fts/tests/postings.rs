//! Postings cursors: block-by-block iteration and seeking against the doc
//! sets they were built from.

use bytes::Bytes;
use infino_fts::{FtsConfig, FtsIndex, FtsIndexBuilder, Postings, TERMINATED};
use proptest::prelude::*;

/// One region where term `t` occurs in exactly `docs` (tf = doc % 5 + 1) and
/// filler `f` everywhere else.
fn region(docs: &[u32], max_doc: u32) -> FtsIndex {
    let mut builder = FtsIndexBuilder::new(FtsConfig {
        positions: true,
        ..FtsConfig::default()
    })
    .expect("config")
    .with_offsets(true);
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

/// The cursor's current document's `(position, start, end)` occurrences.
fn occurrences(cursor: &mut Postings<'_>) -> Vec<(u32, u32, u32)> {
    cursor
        .occurrences()
        .expect("occurrences")
        .iter()
        .map(|o| (o.position, o.start, o.end))
        .collect()
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

/// A document of the round-trip model: term `t` at `positions` among
/// filler words, the rest filler.
struct ModelDoc {
    doc: u32,
    text: String,
    occurrences: Vec<(u32, u32, u32)>,
}

/// Builds a text of `len` words where the words at `at` (sorted) are `t`
/// and the others `f` or `ff`, and records `t`'s positions and offsets.
fn model_doc(doc: u32, len: u32, at: &[u32]) -> ModelDoc {
    let mut text = String::new();
    let mut occurrences = Vec::new();
    let mut next = at.iter().peekable();
    for position in 0..len {
        if !text.is_empty() {
            text.push(' ');
        }
        let start = text.len() as u32;
        if next.peek() == Some(&&position) {
            next.next();
            text.push('t');
            occurrences.push((position, start, start + 1));
        } else {
            text.push_str(if position % 3 == 0 { "ff" } else { "f" });
        }
    }
    ModelDoc {
        doc,
        text,
        occurrences,
    }
}

/// Builds a positions region over `docs` and checks every document's tf,
/// positions and offsets against the model, by iteration and by seeks.
fn check_round_trip(docs: &[ModelDoc]) {
    let mut builder = FtsIndexBuilder::new(FtsConfig {
        positions: true,
        ..FtsConfig::default()
    })
    .expect("config")
    .with_offsets(true);
    for d in docs {
        builder.add_document(d.doc, Some(&d.text)).expect("add");
    }
    let index = FtsIndex::open(Bytes::from(builder.finish().expect("finish"))).expect("open");
    let with_t: Vec<&ModelDoc> = docs.iter().filter(|d| !d.occurrences.is_empty()).collect();
    let info = index.term_info("t").expect("row").expect("term");
    assert_eq!(info.doc_freq as usize, with_t.len());
    let total: usize = with_t.iter().map(|d| d.occurrences.len()).sum();
    assert_eq!(info.total_tf, total as u64);
    let mut cursor = index.postings(&info).expect("cursor");
    let mut positions = Vec::new();
    for d in &with_t {
        assert_eq!(cursor.doc(), d.doc);
        assert_eq!(cursor.tf() as usize, d.occurrences.len());
        assert_eq!(occurrences(&mut cursor), d.occurrences, "doc {}", d.doc);
        cursor.positions_into(&mut positions).expect("positions");
        let want: Vec<u32> = d.occurrences.iter().map(|o| o.0).collect();
        assert_eq!(positions, want);
        cursor.next_doc().expect("next");
    }
    assert_eq!(cursor.doc(), TERMINATED);
    // Every other document by seeking, positions read after the seek.
    let mut cursor = index.postings(&info).expect("cursor");
    for d in with_t.iter().step_by(2) {
        assert_eq!(cursor.seek(d.doc).expect("seek"), d.doc);
        cursor.positions_into(&mut positions).expect("positions");
        assert_eq!(positions.len(), d.occurrences.len());
        assert_eq!(
            positions.first().copied(),
            d.occurrences.first().map(|o| o.0)
        );
    }
}

#[test]
fn encodings_round_trip_at_the_edges() {
    // 1, 2, 127, 128, 129 and 257 documents: inline, single-block and
    // multi-block terms, full and partial last blocks.
    for count in [1u32, 2, 127, 128, 129, 257] {
        let docs: Vec<ModelDoc> = (0..count)
            .map(|i| model_doc(i * 3 + 1, 6 + i % 7, &[1 + i % 4, 5 + i % 7]))
            .collect();
        check_round_trip(&docs);
    }
    // A huge tf (spanning many position groups), positions beyond 2^16,
    // and ordinary documents around them in the same blocks.
    let mut docs = Vec::new();
    for i in 0..300u32 {
        let doc = match i {
            5 => model_doc(i, 100_000, &(0..100_000).step_by(2).collect::<Vec<_>>()),
            77 => model_doc(i, 70_010, &[3, 65_535, 65_536, 70_000]),
            200 => model_doc(i, 1_000, &(0..1_000).collect::<Vec<_>>()),
            _ => model_doc(i, 5, &[i % 5]),
        };
        docs.push(doc);
    }
    check_round_trip(&docs);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn encodings_round_trip_random(
        shape in proptest::collection::vec((0u32..4, 1u32..40, proptest::collection::btree_set(0u32..40, 0..6)), 1..400),
    ) {
        let mut doc = 0;
        let docs: Vec<ModelDoc> = shape
            .iter()
            .map(|(gap, len, at)| {
                doc += gap + 1;
                let at: Vec<u32> = at.iter().copied().filter(|&p| p < *len).collect();
                model_doc(doc, *len, &at)
            })
            .collect();
        if docs.iter().any(|d| !d.occurrences.is_empty()) {
            check_round_trip(&docs);
        }
    }
}

/// A document longer than the builder's token batch (4,096) keeps every
/// occurrence of its terms, in position order, with its offsets — across
/// the batch edges — and documents around it are untouched.
#[test]
fn a_document_longer_than_a_batch_keeps_every_occurrence() {
    let words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"];
    let tokens = 3 * 4096 + 11;
    let long: Vec<&str> = (0..tokens)
        .map(|i| words[(i * i + i / 7) % words.len()])
        .collect();
    let text = long.join(" ");
    let mut builder = FtsIndexBuilder::new(FtsConfig {
        positions: true,
        ..FtsConfig::default()
    })
    .expect("config")
    .with_offsets(true);
    builder.add_document(0, Some("beta")).expect("add");
    builder.add_document(1, Some(&text)).expect("add");
    builder.add_document(2, Some("beta zeta")).expect("add");
    let index = FtsIndex::open(Bytes::from(builder.finish().expect("finish"))).expect("open");
    for word in words {
        // Expected positions and byte offsets of `word` in document 1.
        let mut want = Vec::new();
        let mut at = 0;
        for (position, w) in long.iter().enumerate() {
            if *w == word {
                want.push((position as u32, at as u32, (at + w.len()) as u32));
            }
            at += w.len() + 1;
        }
        let info = index.term_info(word).expect("row").expect("term exists");
        let mut cursor = index.postings(&info).expect("cursor");
        assert_eq!(cursor.seek(1).expect("seek"), 1, "{word}");
        assert_eq!(occurrences(&mut cursor), want, "{word}");
        let next = cursor.next_doc().expect("next");
        assert_eq!(next == 2, word == "beta" || word == "zeta", "{word}");
    }
    let beta = index.term_info("beta").expect("row").expect("term");
    assert_eq!(beta.doc_freq, 3);
}
