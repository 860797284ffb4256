//! Corrupt region bytes give typed errors, never panics.

use bytes::Bytes;
use infino_vector::{
    BuildParams, IndexHeader, Metric, Rerank, SearchOptions, Section, VectorError, VectorIndex,
    VectorIndexBuilder,
};
use roaring::RoaringBitmap;

use crate::common::blobs;

fn region(rerank: Rerank) -> Vec<u8> {
    let data = blobs(200, 6, 4, 21);
    let params = BuildParams {
        lists: Some(5),
        rerank,
        ..BuildParams::default()
    };
    let mut b = VectorIndexBuilder::new(6, Metric::L2, params).expect("builder");
    let rows: Vec<u32> = (0..200).map(|i| i * 3).collect();
    b.add_batch(&rows, &data).expect("add");
    b.finish().expect("finish")
}

/// Opening and searching must not panic, whatever the bytes.
fn exercise(bytes: Vec<u8>) -> Result<(), VectorError> {
    let index = VectorIndex::open(Bytes::from(bytes))?;
    let q = [0.5; 6];
    index.search(&q, &SearchOptions::new(5))?;
    index.search(
        &q,
        &SearchOptions {
            exact: true,
            ..SearchOptions::new(5)
        },
    )?;
    let allowed: RoaringBitmap = (0..100).collect();
    index.search_filtered(&q, &SearchOptions::new(5), &allowed)?;
    Ok(())
}

#[test]
fn truncation_at_every_length_is_an_error() {
    for rerank in [Rerank::Sq8, Rerank::Sq4, Rerank::F32, Rerank::None] {
        let full = region(rerank);
        assert!(exercise(full.clone()).is_ok());
        let prefix = IndexHeader::prefix_len(&full).expect("prefix") as usize;
        for len in 0..full.len() {
            let r = VectorIndex::open(Bytes::copy_from_slice(&full[..len]));
            assert!(
                matches!(r, Err(VectorError::Corrupt { .. })),
                "truncated to {len}"
            );
            let h = IndexHeader::open(&full[..len]);
            assert_eq!(h.is_ok(), len >= prefix, "header open at {len}");
        }
    }
}

#[test]
fn flipped_bytes_never_panic() {
    for rerank in [Rerank::Sq8, Rerank::Sq4, Rerank::F32, Rerank::None] {
        let full = region(rerank);
        let prefix = IndexHeader::prefix_len(&full).expect("prefix") as usize;
        for at in 0..full.len() {
            // Every byte of header, centroids and directory; a sample of the data.
            if at >= prefix && at % 7 != 0 {
                continue;
            }
            for mask in [0x01u8, 0x80, 0xff] {
                let mut bad = full.clone();
                bad[at] ^= mask;
                let _ = exercise(bad);
            }
        }
    }
}

#[test]
fn header_errors_are_typed() {
    let full = region(Rerank::Sq8);
    let mut bad = full.clone();
    bad[0] = b'X';
    assert!(matches!(
        VectorIndex::open(Bytes::from(bad)),
        Err(VectorError::Corrupt {
            section: Section::Header,
            offset: 0,
            ..
        })
    ));
    let mut newer = full.clone();
    newer[4] = 2;
    assert!(matches!(
        VectorIndex::open(Bytes::from(newer)),
        Err(VectorError::UnsupportedVersion {
            found_major: 2,
            found_minor: 0,
            supported: 1
        })
    ));
    let mut minor = full.clone();
    minor[6] = 9;
    assert!(
        VectorIndex::open(Bytes::from(minor)).is_ok(),
        "newer minor versions are readable"
    );
    let mut trailing = full;
    trailing.push(0);
    assert!(matches!(
        VectorIndex::open(Bytes::from(trailing)),
        Err(VectorError::Corrupt { .. })
    ));
}
