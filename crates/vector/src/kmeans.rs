//! k-means training for the IVF lists.
//!
//! Trained on a bounded random sample (the caller picks its size), seeded by
//! k-means++ over a prefix of that sample (at most `INIT_PER_LIST · k`
//! points, so seeding is `O(k² · D)` rather than `O(k · sample · D)`), then
//! Lloyd iterations in parallel. A list left empty by an iteration is
//! re-seeded at the sample point farthest from its centroid, so every list
//! ends non-empty on the sample.

use rayon::prelude::*;

use crate::kernels::l2_sq;
use crate::rng::SplitMix64;

const INIT_PER_LIST: usize = 32;

/// Index and squared distance of the centroid nearest to `x`.
pub(crate) fn nearest(x: &[f32], centroids: &[f32], dim: usize) -> (usize, f32) {
    let mut best = (0, f32::INFINITY);
    for (i, c) in centroids.chunks_exact(dim).enumerate() {
        let d = l2_sq(x, c);
        if d < best.1 {
            best = (i, d);
        }
    }
    best
}

/// Trains `k` centroids (`k × dim`, row-major) on `sample` (`m × dim`,
/// `m ≥ k ≥ 1`).
pub(crate) fn train(
    sample: &[f32],
    dim: usize,
    k: usize,
    iterations: usize,
    seed: u64,
) -> Vec<f32> {
    let m = sample.len() / dim;
    debug_assert!(m >= k && k >= 1);
    let mut rng = SplitMix64::new(seed ^ 0x6b6d_6561_6e73);
    let mut centroids = seed_plus_plus(
        &sample[..m.min(INIT_PER_LIST * k).max(k) * dim],
        dim,
        k,
        &mut rng,
    );
    for _ in 0..iterations {
        let assign: Vec<(usize, f32)> = sample
            .par_chunks_exact(dim)
            .map(|x| nearest(x, &centroids, dim))
            .collect();
        let (sums, counts) = sample
            .par_chunks_exact(dim)
            .zip(assign.par_iter())
            .fold(
                || (vec![0.0f64; k * dim], vec![0usize; k]),
                |(mut sums, mut counts), (x, &(c, _))| {
                    for (s, &v) in sums[c * dim..(c + 1) * dim].iter_mut().zip(x) {
                        *s += f64::from(v);
                    }
                    counts[c] += 1;
                    (sums, counts)
                },
            )
            .reduce(
                || (vec![0.0f64; k * dim], vec![0usize; k]),
                |(mut s1, mut c1), (s2, c2)| {
                    s1.iter_mut().zip(&s2).for_each(|(a, b)| *a += b);
                    c1.iter_mut().zip(&c2).for_each(|(a, b)| *a += b);
                    (s1, c1)
                },
            );
        let mut empty = Vec::new();
        for c in 0..k {
            if counts[c] == 0 {
                empty.push(c);
                continue;
            }
            #[expect(clippy::cast_precision_loss, reason = "counts are far below 2^52")]
            let inv = 1.0 / counts[c] as f64;
            for (dst, s) in centroids[c * dim..(c + 1) * dim]
                .iter_mut()
                .zip(&sums[c * dim..])
            {
                #[expect(clippy::cast_possible_truncation, reason = "mean of f32 values")]
                {
                    *dst = (s * inv) as f32;
                }
            }
        }
        if !empty.is_empty() {
            // Re-seed at the points worst served by the current centroids.
            let mut far: Vec<usize> = (0..m).collect();
            far.sort_unstable_by(|&a, &b| assign[b].1.total_cmp(&assign[a].1).then(a.cmp(&b)));
            for (c, &p) in empty.iter().zip(&far) {
                centroids[c * dim..(c + 1) * dim].copy_from_slice(&sample[p * dim..(p + 1) * dim]);
            }
        }
    }
    centroids
}

/// k-means++ seeding over `points`.
fn seed_plus_plus(points: &[f32], dim: usize, k: usize, rng: &mut SplitMix64) -> Vec<f32> {
    let m = points.len() / dim;
    let mut centroids = Vec::with_capacity(k * dim);
    let first = rng.below(m);
    centroids.extend_from_slice(&points[first * dim..(first + 1) * dim]);
    let mut best: Vec<f32> = points
        .par_chunks_exact(dim)
        .map(|x| l2_sq(x, &centroids[..dim]))
        .collect();
    let mut taken = vec![false; m];
    taken[first] = true;
    while centroids.len() < k * dim {
        let total: f64 = best.iter().map(|&d| f64::from(d)).sum();
        let pick = if total > 0.0 {
            let target = rng.unit() * total;
            let mut acc = 0.0;
            let mut pick = None;
            for (i, &d) in best.iter().enumerate() {
                acc += f64::from(d);
                if acc > target && !taken[i] {
                    pick = Some(i);
                    break;
                }
            }
            pick.or_else(|| taken.iter().position(|&t| !t))
        } else {
            // All remaining points coincide with a centroid: take any unused.
            taken.iter().position(|&t| !t)
        };
        let Some(p) = pick else { break };
        taken[p] = true;
        let c = &points[p * dim..(p + 1) * dim];
        centroids.extend_from_slice(c);
        best.par_iter_mut()
            .zip(points.par_chunks_exact(dim))
            .for_each(|(b, x)| *b = b.min(l2_sq(x, c)));
    }
    centroids
}
