//! Bad input gives typed errors or documented results, never panics.

use bytes::Bytes;
use infino_vector::{
    BuildParams, Metric, Rerank, RowVectors, SearchOptions, VectorError, VectorIndex,
    VectorIndexBuilder,
};
use roaring::RoaringBitmap;

use crate::common::{blobs, build, distance, exact_knn, queries};

fn builder(dim: usize, metric: Metric) -> VectorIndexBuilder {
    VectorIndexBuilder::new(dim, metric, BuildParams::default()).expect("builder")
}

#[test]
fn invalid_params() {
    for dim in [0, 4097] {
        let e = VectorIndexBuilder::new(dim, Metric::L2, BuildParams::default());
        assert!(matches!(
            e,
            Err(VectorError::InvalidParams { name: "dim", .. })
        ));
    }
    let p = BuildParams {
        lists: Some(0),
        ..BuildParams::default()
    };
    assert!(matches!(
        VectorIndexBuilder::new(4, Metric::L2, p),
        Err(VectorError::InvalidParams { name: "lists", .. })
    ));
    let p = BuildParams {
        sample: Some(0),
        ..BuildParams::default()
    };
    assert!(matches!(
        VectorIndexBuilder::new(4, Metric::L2, p),
        Err(VectorError::InvalidParams { name: "sample", .. })
    ));
}

#[test]
fn dimension_mismatch() {
    let mut b = builder(4, Metric::L2);
    assert!(matches!(
        b.add(0, &[1.0, 2.0, 3.0]),
        Err(VectorError::DimensionMismatch {
            expected: 4,
            found: 3
        })
    ));
    assert!(matches!(
        b.add_batch(&[0, 1], &[0.0; 7]),
        Err(VectorError::DimensionMismatch {
            expected: 8,
            found: 7
        })
    ));
    assert!(b.is_empty(), "nothing added on error");
    b.add(0, &[1.0, 2.0, 3.0, 4.0]).expect("add");
    let index = VectorIndex::open(Bytes::from(b.finish().expect("finish"))).expect("open");
    assert!(matches!(
        index.search(&[1.0; 5], &SearchOptions::new(1)),
        Err(VectorError::DimensionMismatch {
            expected: 4,
            found: 5
        })
    ));
}

#[test]
fn non_finite_components_name_the_row() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut b = builder(3, Metric::L2);
        b.add(7, &[0.0, 1.0, 2.0]).expect("add");
        assert!(matches!(
            b.add(9, &[0.0, bad, 2.0]),
            Err(VectorError::NonFinite { row: 9, dim: 1 })
        ));
        assert!(matches!(
            b.add_batch(&[1, 2], &[0.0, 0.0, 0.0, 1.0, 1.0, bad]),
            Err(VectorError::NonFinite { row: 2, dim: 2 })
        ));
        assert_eq!(b.len(), 1, "failed batch adds nothing");
        let index = VectorIndex::open(Bytes::from(b.finish().expect("finish"))).expect("open");
        assert!(matches!(
            index.search(&[bad, 0.0, 0.0], &SearchOptions::new(1)),
            Err(VectorError::InvalidQuery { .. })
        ));
    }
}

#[test]
fn zero_vectors_under_cosine() {
    let mut b = builder(3, Metric::Cosine);
    assert!(matches!(
        b.add(4, &[0.0; 3]),
        Err(VectorError::ZeroVector { row: 4 })
    ));
    b.add(5, &[1.0, 0.0, 0.0]).expect("add");
    let index = VectorIndex::open(Bytes::from(b.finish().expect("finish"))).expect("open");
    assert!(matches!(
        index.search(&[0.0; 3], &SearchOptions::new(1)),
        Err(VectorError::InvalidQuery { .. })
    ));
    // A zero vector is fine under L2 and inner product.
    for metric in [Metric::L2, Metric::InnerProduct] {
        let mut b = builder(3, metric);
        b.add(4, &[0.0; 3]).expect("zero vector");
        let index = VectorIndex::open(Bytes::from(b.finish().expect("finish"))).expect("open");
        assert_eq!(
            index
                .search(&[0.0; 3], &SearchOptions::new(1))
                .expect("search")[0]
                .0,
            4
        );
    }
}

#[test]
fn duplicate_rows() {
    let mut b = builder(2, Metric::L2);
    b.add(1, &[0.0, 0.0]).expect("add");
    assert!(matches!(
        b.add(1, &[1.0, 0.0]),
        Err(VectorError::DuplicateRow { row: 1 })
    ));
    assert!(matches!(
        b.add_batch(&[2, 2], &[0.0; 4]),
        Err(VectorError::DuplicateRow { row: 2 })
    ));
}

#[test]
fn empty_index_is_valid_and_finds_nothing() {
    for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
        let region = builder(16, metric).finish().expect("finish");
        let index = VectorIndex::open(Bytes::from(region)).expect("open");
        assert!(index.is_empty());
        assert_eq!(index.lists(), 0);
        let q = [1.0; 16];
        assert!(
            index
                .search(&q, &SearchOptions::new(10))
                .expect("search")
                .is_empty()
        );
        let all: RoaringBitmap = (0..100).collect();
        assert!(
            index
                .search_filtered(&q, &SearchOptions::new(10), &all)
                .expect("search")
                .is_empty()
        );
        let exact = SearchOptions {
            exact: true,
            ..SearchOptions::new(10)
        };
        assert!(index.search(&q, &exact).expect("search").is_empty());
    }
}

#[test]
fn one_dimension() {
    let data: Vec<f32> = (0..1000)
        .map(|i| ((i * 37) % 1000) as f32 * 0.01 - 5.0)
        .collect();
    for metric in [Metric::L2, Metric::InnerProduct] {
        let index = build(&data, 1, metric, BuildParams::default());
        for q in [-5.5f32, 0.0, 1.234, 9.0] {
            let got = index.search(&[q], &SearchOptions::new(5)).expect("search");
            let want = exact_knn(&data, 1, metric, &[q], 5, |_| true);
            let got_d: Vec<f32> = got.iter().map(|g| g.1).collect();
            let want_d: Vec<f32> = want
                .iter()
                .map(|&r| distance(metric, &[q], &data[r as usize..r as usize + 1]))
                .collect();
            for (a, b) in got_d.iter().zip(&want_d) {
                assert!(
                    (a - b).abs() <= 1e-3 * b.abs().max(1.0),
                    "{metric:?} q {q}: {got_d:?} vs {want_d:?}"
                );
            }
        }
    }
}

#[test]
fn k_zero_and_k_above_n() {
    let data = blobs(300, 8, 5, 3);
    let index = build(&data, 8, Metric::L2, BuildParams::default());
    let q = &queries(&data, 8, 1, 4)[0];
    assert!(
        index
            .search(q, &SearchOptions::new(0))
            .expect("search")
            .is_empty()
    );
    let all = index.search(q, &SearchOptions::new(1000)).expect("search");
    assert_eq!(all.len(), 300);
    let mut rows: Vec<u32> = all.iter().map(|h| h.0).collect();
    assert!(
        all.windows(2).all(|w| (w[0].1, w[0].0) <= (w[1].1, w[1].0)),
        "sorted, ties by row"
    );
    rows.sort_unstable();
    assert_eq!(rows, (0..300).collect::<Vec<_>>());
    for opts in [
        SearchOptions::new(usize::MAX),
        SearchOptions {
            nprobe: Some(usize::MAX),
            rerank_breadth: Some(usize::MAX),
            ..SearchOptions::new(7)
        },
        SearchOptions {
            nprobe: Some(0),
            rerank_breadth: Some(0),
            ..SearchOptions::new(7)
        },
    ] {
        let got = index.search(q, &opts).expect("extreme options");
        assert_eq!(got.len(), opts.k.min(300));
    }
}

#[test]
fn ties_break_by_row() {
    let mut b = builder(2, Metric::L2);
    b.add_batch(&[9, 3, 6], &[1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
        .expect("add");
    let index = VectorIndex::open(Bytes::from(b.finish().expect("finish"))).expect("open");
    let got = index
        .search(&[0.0, 0.0], &SearchOptions::new(3))
        .expect("search");
    assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), vec![3, 6, 9]);
}

struct Flat<'a> {
    data: &'a [f32],
    dim: usize,
}

impl RowVectors for Flat<'_> {
    fn vector(&self, row: u32) -> Option<&[f32]> {
        let at = row as usize * self.dim;
        self.data.get(at..at + self.dim)
    }
}

#[test]
fn exact_search_and_exact_rerank_source() {
    let (n, dim) = (3000, 24);
    let data = blobs(n, dim, 20, 8);
    for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
        let params = BuildParams {
            rerank: Rerank::F32,
            ..BuildParams::default()
        };
        let index = build(&data, dim, metric, params);
        let none = build(
            &data,
            dim,
            metric,
            BuildParams {
                rerank: Rerank::None,
                ..BuildParams::default()
            },
        );
        let flat = Flat { data: &data, dim };
        for q in &queries(&data, dim, 5, 9) {
            let want = exact_knn(&data, dim, metric, q, 10, |_| true);
            let exact = SearchOptions {
                exact: true,
                ..SearchOptions::new(10)
            };
            let got = index.search(q, &exact).expect("exact");
            assert_eq!(
                got.iter().map(|g| g.0).collect::<Vec<_>>(),
                want,
                "{metric:?} exact (F32 payload)"
            );
            let got = none
                .search_with(q, &exact, None, Some(&flat))
                .expect("exact source");
            assert_eq!(
                got.iter().map(|g| g.0).collect::<Vec<_>>(),
                want,
                "{metric:?} exact (source)"
            );
            for (g, &w) in got.iter().zip(&want) {
                let d = distance(metric, q, &data[w as usize * dim..(w as usize + 1) * dim]);
                assert!((g.1 - d).abs() <= 1e-3 * d.abs().max(1.0));
            }
        }
        let short = Flat {
            data: &data[..dim * 10],
            dim,
        };
        let exact = SearchOptions {
            exact: true,
            ..SearchOptions::new(10)
        };
        assert!(matches!(
            none.search_with(&data[..dim], &exact, None, Some(&short)),
            Err(VectorError::MissingVector { .. })
        ));
    }
}

#[test]
fn sparse_row_ids_are_preserved_and_builds_are_deterministic() {
    let (n, dim) = (2000, 12);
    let data = blobs(n, dim, 10, 51);
    let rows: Vec<u32> = (0..n as u32).rev().map(|i| i * 7 + 3).collect();
    let region = || {
        let params = BuildParams {
            rerank: Rerank::F32,
            ..BuildParams::default()
        };
        let mut b = VectorIndexBuilder::new(dim, Metric::L2, params).expect("builder");
        b.add_batch(&rows, &data).expect("add");
        b.finish().expect("finish")
    };
    let bytes = region();
    assert_eq!(bytes, region(), "same inputs and seed give the same bytes");
    let index = VectorIndex::open(Bytes::from(bytes)).expect("open");
    let exact = SearchOptions {
        exact: true,
        ..SearchOptions::new(10)
    };
    for q in &queries(&data, dim, 5, 52) {
        let want: Vec<u32> = exact_knn(&data, dim, Metric::L2, q, 10, |_| true)
            .iter()
            .map(|&i| rows[i as usize])
            .collect();
        let got: Vec<u32> = index
            .search(q, &exact)
            .expect("search")
            .iter()
            .map(|g| g.0)
            .collect();
        assert_eq!(got, want);
    }
}

#[test]
fn metric_distance_follows_the_convention() {
    let (q, x) = ([1.0f32, 2.0, 2.0], [2.0f32, 0.0, 1.0]);
    assert_eq!(Metric::L2.distance(&q, &x), 1.0 + 4.0 + 1.0);
    assert_eq!(Metric::InnerProduct.distance(&q, &x), -4.0);
    let cos = 4.0 / (3.0 * 5.0f32.sqrt());
    assert!((Metric::Cosine.distance(&q, &x) - (1.0 - cos)).abs() < 1e-6);
    assert!((Metric::Cosine.distance(&q, &[2.0, 4.0, 4.0])).abs() < 1e-6);
    for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
        assert!((metric.distance(&q, &x) - distance(metric, &q, &x)).abs() < 1e-6);
    }
}
