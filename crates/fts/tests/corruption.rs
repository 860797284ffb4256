//! Corrupt and truncated regions give errors, never panics.

use bytes::Bytes;
use infino_fts::{
    AnalyzerConfig, Bm25Params, FtsConfig, FtsError, FtsIndex, FtsIndexBuilder, HighlightOptions,
    MatchMode, Query, Section, TERMINATED, exact_match_candidates, expand_fuzzy, highlight,
    phrase_match, prefix_match, search, token_match,
};

fn small_region() -> Vec<u8> {
    let config = FtsConfig {
        analyzer: AnalyzerConfig::default(),
        positions: true,
    };
    let mut builder = FtsIndexBuilder::new(config)
        .expect("config")
        .with_offsets(true);
    let texts = [
        Some("the quick brown fox"),
        None,
        Some("quick quick fox jumps"),
        Some(""),
        Some("lazy dog and the fox"),
    ];
    for (doc, text) in texts.into_iter().enumerate() {
        builder.add_document(doc as u32 * 3, text).expect("add");
    }
    builder.finish().expect("finish")
}

const TERMS: [&str; 6] = ["fox", "quick", "the", "dog", "jumps", "zzz"];

/// Runs every read path; returns the first error, if any. Must not panic.
fn exercise(bytes: Vec<u8>) -> Result<(), FtsError> {
    let index = FtsIndex::open(Bytes::from(bytes))?;
    for doc in 0..20 {
        index.norm(doc);
        index.doc_len(doc);
        index.is_present(doc);
    }
    index.present_docs();
    for term in TERMS {
        if let Some(info) = index.term_info(term)? {
            index.doc_set(&info)?;
            let mut cursor = index.postings(&info)?;
            while cursor.doc() != TERMINATED {
                cursor.occurrences()?;
                cursor.next_doc()?;
            }
            let mut cursor = index.postings(&info)?;
            cursor.seek(5)?;
            cursor.shallow_seek(9)?;
            cursor.seek(12)?;
        }
    }
    let stats = index.local_stats(TERMS)?;
    let terms: Vec<(String, f32)> = TERMS.iter().map(|t| ((*t).to_owned(), 1.0)).collect();
    for mode in [MatchMode::Any, MatchMode::All] {
        search(&index, &terms, mode, 3, Bm25Params::default(), &stats, None)?;
        token_match(&index, "quick fox dog", mode)?;
    }
    phrase_match(&index, "quick fox")?;
    prefix_match(&index, "qu")?;
    expand_fuzzy(&index, "fax", 1)?;
    exact_match_candidates(&index, "the quick brown fox")?;
    for input in [
        "quick -dog",
        "\"the fox\" OR qu*",
        "fox~1 AND NOT lazy",
        "-jumps",
    ] {
        let query = Query::parse(input).expect("valid query");
        query.count(&index)?;
        query.top_k(&index, 2, Bm25Params::default(), &stats, None)?;
        for doc in [0, 3, 6, 12] {
            highlight(
                &index,
                doc,
                "the quick brown fox",
                &query,
                &HighlightOptions::default(),
            )?;
        }
    }
    Ok(())
}

#[test]
fn intact_region_reads() {
    exercise(small_region()).expect("intact region works");
}

#[test]
fn every_truncation_is_an_error() {
    let region = small_region();
    for len in 0..region.len() {
        // Truncating only trailing alignment padding may still be valid.
        let _ = exercise(region[..len].to_vec());
        if len < region.len() - 8 {
            assert!(
                FtsIndex::open(Bytes::from(region[..len].to_vec())).is_err(),
                "len {len}"
            );
        }
    }
}

#[test]
fn every_byte_flip_never_panics() {
    let region = small_region();
    for at in 0..region.len() {
        for mask in [0x01u8, 0x80, 0xFF] {
            let mut bytes = region.clone();
            bytes[at] ^= mask;
            let _ = exercise(bytes);
        }
    }
}

#[test]
fn header_errors_are_typed() {
    let region = small_region();
    let mut bad_magic = region.clone();
    bad_magic[0] = b'X';
    assert!(matches!(
        FtsIndex::open(Bytes::from(bad_magic)),
        Err(FtsError::Corrupt {
            section: Section::Header,
            offset: 0,
            ..
        })
    ));
    let mut newer = region.clone();
    newer[4..6].copy_from_slice(&4u16.to_le_bytes());
    assert!(matches!(
        FtsIndex::open(Bytes::from(newer)),
        Err(FtsError::UnsupportedVersion {
            found_major: 4,
            supported: 3,
            ..
        })
    ));
    let mut older = region.clone();
    older[4..6].copy_from_slice(&2u16.to_le_bytes());
    assert!(matches!(
        FtsIndex::open(Bytes::from(older)),
        Err(FtsError::UnsupportedVersion {
            found_major: 2,
            supported: 3,
            ..
        })
    ));
    let mut newer_minor = region;
    newer_minor[6..8].copy_from_slice(&9u16.to_le_bytes());
    exercise(newer_minor).expect("a newer minor version stays readable");
}

#[test]
fn random_garbage_never_panics() {
    use rand::{Rng, SeedableRng, rngs::StdRng};
    let region = small_region();
    let mut rng = StdRng::seed_from_u64(42);
    for _ in 0..3000 {
        let mut bytes = region.clone();
        for _ in 0..rng.random_range(1..8) {
            let at = rng.random_range(0..bytes.len());
            bytes[at] = rng.random();
        }
        let _ = exercise(bytes);
    }
}

#[test]
fn layout_reads_from_the_header_alone() {
    use infino_fts::RegionLayout;
    let region = small_region();
    let len = region.len() as u64;
    let header_len = RegionLayout::header_len_of(&region[..RegionLayout::FIXED_HEADER_LEN], len)
        .expect("fixed header");
    let layout = RegionLayout::parse(&region[..header_len], len).expect("header");
    let index = FtsIndex::open(Bytes::from(region.clone())).expect("open");
    assert_eq!(layout.header_len, header_len);
    assert_eq!(layout.doc_count, index.doc_count());
    assert_eq!(layout.doc_count, 4);
    assert_eq!(layout.doc_slots, 13);
    assert_eq!(layout.total_tokens, index.total_tokens());
    assert_eq!(&layout.analyzer, index.analyzer().config());
    assert!(layout.has_positions);
    assert_eq!(layout.sections.len(), 7);
    assert_eq!(layout.sections[0].1.start, header_len as u64);
    assert!(layout.sections.iter().all(|(_, r)| r.end <= len));
    assert!(RegionLayout::parse(&region[..header_len - 1], len).is_err());
    assert!(RegionLayout::parse(&region[..header_len], len - 100).is_err());
}
