//! Filtered search: `min(k, allowed)` results and recall against exact kNN
//! restricted to the allow-set, from 50% down to 0.001% selectivity.

use std::sync::OnceLock;

use infino_vector::{BuildParams, FilterStrategy, Metric, SearchOptions, VectorIndex};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use roaring::RoaringBitmap;

use crate::common::{blobs, build, exact_knn, queries, recall};

const N: usize = 200_000;
const DIM: usize = 32;

fn fixture() -> &'static (Vec<f32>, VectorIndex) {
    static F: OnceLock<(Vec<f32>, VectorIndex)> = OnceLock::new();
    F.get_or_init(|| {
        let data = blobs(N, DIM, 200, 11);
        let index = build(&data, DIM, Metric::L2, BuildParams::default());
        (data, index)
    })
}

fn allow_set(fraction: f64, seed: u64) -> RoaringBitmap {
    let want = ((N as f64 * fraction).round() as usize).max(1);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut set = RoaringBitmap::new();
    while set.len() < want as u64 {
        set.insert(rng.random_range(0..N as u32));
    }
    set
}

fn check(fraction: f64, strategy: FilterStrategy) {
    let (data, index) = fixture();
    let qs = queries(data, DIM, 20, 12);
    let opts = SearchOptions {
        filter: strategy,
        ..SearchOptions::new(10)
    };
    let mut total = 0.0;
    for (i, q) in qs.iter().enumerate() {
        let allowed = allow_set(fraction, 100 + i as u64);
        let got = index.search_filtered(q, &opts, &allowed).expect("search");
        assert_eq!(
            got.len(),
            10.min(allowed.len() as usize),
            "result size at {fraction}"
        );
        assert!(
            got.iter().all(|g| allowed.contains(g.0)),
            "only allowed rows"
        );
        let truth = exact_knn(data, DIM, Metric::L2, q, 10, |r| allowed.contains(r));
        total += recall(&got, &truth);
    }
    let r = total / qs.len() as f64;
    println!("filtered recall@10 at {fraction} ({strategy:?}): {r:.4}");
    assert!(
        r >= 0.95,
        "recall {r} at selectivity {fraction} ({strategy:?})"
    );
}

#[test]
fn selectivity_50_percent() {
    check(0.5, FilterStrategy::Auto);
}

#[test]
fn selectivity_5_percent() {
    check(0.05, FilterStrategy::Auto);
}

#[test]
fn selectivity_5_percent_probing() {
    check(0.05, FilterStrategy::Probe);
}

#[test]
fn selectivity_0_1_percent() {
    check(0.001, FilterStrategy::Auto);
}

#[test]
fn selectivity_0_001_percent() {
    check(0.000_01, FilterStrategy::Auto);
}

#[test]
fn tiny_allow_set_with_forced_probing_still_fills_k() {
    let (data, index) = fixture();
    let q = &queries(data, DIM, 1, 13)[0];
    let allowed = allow_set(0.000_05, 7);
    let opts = SearchOptions {
        filter: FilterStrategy::Probe,
        ..SearchOptions::new(10)
    };
    let got = index.search_filtered(q, &opts, &allowed).expect("search");
    assert_eq!(got.len(), 10);
}

#[test]
fn allow_set_with_unknown_rows() {
    let (data, index) = fixture();
    let q = &queries(data, DIM, 1, 14)[0];
    let allowed: RoaringBitmap = [3u32, 5, N as u32 + 10, u32::MAX].into_iter().collect();
    let got = index
        .search_filtered(q, &SearchOptions::new(10), &allowed)
        .expect("search");
    let rows: Vec<u32> = got.iter().map(|g| g.0).collect();
    let mut sorted = rows.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, vec![3, 5]);
    let empty = RoaringBitmap::new();
    assert!(
        index
            .search_filtered(q, &SearchOptions::new(10), &empty)
            .expect("search")
            .is_empty()
    );
}
