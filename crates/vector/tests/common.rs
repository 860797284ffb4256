//! Data generators and the exact kNN oracle.

use bytes::Bytes;
use infino_vector::{BuildParams, Metric, VectorIndex, VectorIndexBuilder};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A standard normal sample (Box–Muller).
pub(crate) fn gauss(rng: &mut StdRng) -> f32 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random::<f64>();
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}

/// `n × dim` vectors around `blobs` Gaussian centres (row-major).
pub(crate) fn blobs(n: usize, dim: usize, blobs: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let centres: Vec<f32> = (0..blobs * dim).map(|_| gauss(&mut rng) * 3.0).collect();
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let b = rng.random_range(0..blobs);
        for d in 0..dim {
            out.push(centres[b * dim + d] + gauss(&mut rng));
        }
    }
    out
}

/// Queries drawn like the data.
pub(crate) fn queries(data: &[f32], dim: usize, count: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = data.len() / dim;
    (0..count)
        .map(|_| {
            let i = rng.random_range(0..n);
            data[i * dim..(i + 1) * dim]
                .iter()
                .map(|&x| x + 0.5 * gauss(&mut rng))
                .collect()
        })
        .collect()
}

/// Exact distance in the crate's convention.
pub(crate) fn distance(metric: Metric, q: &[f32], x: &[f32]) -> f32 {
    let dot: f32 = q.iter().zip(x).map(|(a, b)| a * b).sum();
    match metric {
        Metric::L2 => q.iter().zip(x).map(|(a, b)| (a - b) * (a - b)).sum(),
        Metric::Cosine => {
            let nq: f32 = q.iter().map(|a| a * a).sum::<f32>().sqrt();
            let nx: f32 = x.iter().map(|a| a * a).sum::<f32>().sqrt();
            1.0 - dot / (nq * nx)
        }
        _ => -dot,
    }
}

/// Exact top-k rows (row ids = positions unless `rows` given), optionally
/// restricted by `keep`.
pub(crate) fn exact_knn(
    data: &[f32],
    dim: usize,
    metric: Metric,
    q: &[f32],
    k: usize,
    keep: impl Fn(u32) -> bool,
) -> Vec<u32> {
    let mut all: Vec<(f32, u32)> = data
        .chunks_exact(dim)
        .enumerate()
        .filter(|(i, _)| keep(*i as u32))
        .map(|(i, x)| (distance(metric, q, x), i as u32))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    all.truncate(k);
    all.into_iter().map(|(_, r)| r).collect()
}

/// Builds with row ids 0..n.
pub(crate) fn build(data: &[f32], dim: usize, metric: Metric, params: BuildParams) -> VectorIndex {
    let n = data.len() / dim;
    let mut b = VectorIndexBuilder::new(dim, metric, params).expect("builder");
    let rows: Vec<u32> = (0..n as u32).collect();
    b.add_batch(&rows, data).expect("add");
    VectorIndex::open(Bytes::from(b.finish().expect("finish"))).expect("open")
}

/// Fraction of `truth` found in `got`.
pub(crate) fn recall(got: &[(u32, f32)], truth: &[u32]) -> f64 {
    if truth.is_empty() {
        return 1.0;
    }
    let hit = truth
        .iter()
        .filter(|t| got.iter().any(|g| g.0 == **t))
        .count();
    hit as f64 / truth.len() as f64
}

/// The region bytes for `data` with default parameters.
pub(crate) fn region_bytes(data: &[f32], dim: usize, metric: Metric) -> Vec<u8> {
    let n = data.len() / dim;
    let mut b = VectorIndexBuilder::new(dim, metric, BuildParams::default()).expect("builder");
    let rows: Vec<u32> = (0..n as u32).collect();
    b.add_batch(&rows, data).expect("add");
    b.finish().expect("finish")
}
