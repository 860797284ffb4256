//! Two-phase probing: shortlist from cluster heads, rerank from the
//! shortlisted payload entries alone. It must give exactly what a search
//! over whole blocks gives, and read far fewer bytes.

use bytes::Bytes;
use infino_vector::{
    BuildParams, ClusterFn, Metric, Rerank, SearchOptions, VectorError, VectorIndex,
};
use roaring::RoaringBitmap;

use crate::common::{blobs, build, queries};

/// Searches `index` the way a lazy two-phase reader would, slicing every
/// range from the region, and returns the hits and the bytes "read".
fn two_phase(
    index: &VectorIndex,
    q: &[f32],
    opts: &SearchOptions,
    allowed: Option<&RoaringBitmap>,
    region: &Bytes,
) -> (Vec<(u32, f32)>, u64) {
    let slice = |r: std::ops::Range<u64>| region.slice(r.start as usize..r.end as usize);
    let plan = index.plan(q, opts, allowed).expect("plan");
    let heads: Vec<(usize, Bytes)> = plan
        .iter()
        .map(|&c| (c, slice(index.cluster_head_range(c))))
        .collect();
    let mut read: u64 = heads.iter().map(|(_, b)| b.len() as u64).sum();
    let list = index
        .shortlist(q, opts, allowed, heads.as_slice())
        .expect("shortlist");
    let payloads: Vec<Bytes> = list
        .payload_ranges()
        .into_iter()
        .map(|(_, r)| slice(r))
        .collect();
    read += payloads.iter().map(|b| b.len() as u64).sum::<u64>();
    (list.rerank(&payloads).expect("rerank"), read)
}

fn region_of(index: &VectorIndex) -> Bytes {
    let mut region = vec![0u8; index.data_offset() as usize];
    for c in 0..index.lists() {
        region.extend_from_slice(&index.cluster_bytes(c));
    }
    region.into()
}

#[test]
fn shortlist_then_rerank_equals_a_whole_block_search() {
    let (n, dim) = (6000, 48);
    let data = blobs(n, dim, 40, 41);
    for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
        for rerank in [Rerank::Sq8, Rerank::Sq4, Rerank::F32, Rerank::None] {
            let params = BuildParams {
                rerank,
                ..BuildParams::default()
            };
            let index = build(&data, dim, metric, params);
            let region = region_of(&index);
            let allowed: RoaringBitmap = (0..n as u32).step_by(2).collect();
            for q in &queries(&data, dim, 8, 42) {
                for filter in [None, Some(&allowed)] {
                    let opts = SearchOptions::new(10);
                    let whole = index.search_with(q, &opts, filter, None).expect("whole");
                    let (got, read) = two_phase(&index, q, &opts, filter, &region);
                    assert_eq!(
                        got,
                        whole,
                        "{metric:?} {rerank:?} filtered {}",
                        filter.is_some()
                    );
                    let planned: u64 = index
                        .plan(q, &opts, filter)
                        .expect("plan")
                        .iter()
                        .map(|&c| {
                            let r = index.cluster_range(c);
                            r.end - r.start
                        })
                        .sum();
                    if rerank != Rerank::None {
                        assert!(read < planned, "{read} of {planned} bytes");
                    }
                }
            }
        }
    }
}

#[test]
fn whole_blocks_serve_as_heads_and_reads_stop_at_unplanned_clusters() {
    let (n, dim) = (3000, 16);
    let data = blobs(n, dim, 20, 43);
    let index = build(&data, dim, Metric::L2, BuildParams::default());
    let q = &queries(&data, dim, 1, 44)[0];
    let opts = SearchOptions::new(10);
    let whole = index.search(q, &opts).expect("whole");
    let list = index.shortlist(q, &opts, None, &index).expect("shortlist");
    let payloads: Vec<Bytes> = list
        .payload_ranges()
        .into_iter()
        .map(|(c, r)| {
            assert!(index.cluster_range(c).contains(&r.start));
            let base = index.cluster_range(c).start;
            index
                .cluster_bytes(c)
                .slice((r.start - base) as usize..(r.end - base) as usize)
        })
        .collect();
    assert_eq!(list.rerank(&payloads).expect("rerank"), whole);

    // A source without a planned cluster is an error, as for whole blocks.
    let none = ClusterFn(|_: usize| Ok(None));
    assert!(matches!(
        index.shortlist(q, &opts, None, &none),
        Err(VectorError::MissingCluster { .. })
    ));
}

#[test]
fn bad_shortlist_inputs_are_typed_errors() {
    let (n, dim) = (2000, 8);
    let data = blobs(n, dim, 10, 45);
    let index = build(&data, dim, Metric::Cosine, BuildParams::default());
    let q = &queries(&data, dim, 1, 46)[0];
    let exact = SearchOptions {
        exact: true,
        ..SearchOptions::new(10)
    };
    assert!(!index.probes(&exact, None));
    assert!(matches!(
        index.shortlist(q, &exact, None, &index),
        Err(VectorError::InvalidParams { .. })
    ));

    let opts = SearchOptions::new(10);
    let plan = index.plan(q, &opts, None).expect("plan");
    let short: Vec<(usize, Bytes)> = plan
        .iter()
        .map(|&c| (c, index.cluster_bytes(c).slice(..4)))
        .collect();
    assert!(matches!(
        index.shortlist(q, &opts, None, short.as_slice()),
        Err(VectorError::Corrupt { .. })
    ));

    let list = index.shortlist(q, &opts, None, &index).expect("shortlist");
    let ranges = list.payload_ranges();
    let wrong_len: Vec<Bytes> = ranges.iter().map(|_| Bytes::from_static(b"x")).collect();
    assert!(matches!(
        list.rerank(&wrong_len),
        Err(VectorError::Corrupt { .. })
    ));
    let list = index.shortlist(q, &opts, None, &index).expect("shortlist");
    assert!(matches!(list.rerank(&[]), Err(VectorError::Corrupt { .. })));

    let zero = SearchOptions::new(0);
    let list = index.shortlist(q, &zero, None, &index).expect("k = 0");
    assert!(list.is_empty() && list.payload_ranges().is_empty());
    assert_eq!(list.rerank(&[]).expect("empty"), Vec::new());
}
