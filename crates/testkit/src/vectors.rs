//! Deterministic clustered vectors: rows scattered around random centres, so
//! an IVF index's lists overlap as they do on real embeddings.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// `n` row-major vectors of `dim` components around `n / 1000` (at least
/// 16) random centres, each row a centre plus isotropic noise about as
/// large as the centre. The same `seed` always gives the same rows.
pub fn clustered(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let centres_n = (n / 1000).max(16);
    let centres: Vec<f32> = (0..centres_n * dim)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    let noise = 1.0 / (dim as f32).sqrt() * 0.9;
    let mut data = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let c = rng.random_range(0..centres_n);
        let scale = 1.0 / (dim as f32 / 3.0).sqrt();
        for d in 0..dim {
            let g: f32 = (0..3).map(|_| rng.random_range(-1.0f32..1.0)).sum();
            data.push(centres[c * dim + d] * scale + g * noise);
        }
    }
    data
}

/// Up to `count` queries like the data: stored rows spread evenly over the
/// `dim`-component rows of `data`, each moved slightly (±0.01 per
/// component, alternating), so a query is near, not on, a stored vector.
pub fn queries_near(data: &[f32], dim: usize, count: usize) -> Vec<Vec<f32>> {
    rows_moved(data, dim, count, 2, 0.01)
}

/// Up to `count` rows of `data` (`dim` components each), one from each of
/// `count` even stretches — `1/phase` of the way into it — with `shift`
/// added to even components and taken from odd ones.
pub fn rows_moved(
    data: &[f32],
    dim: usize,
    count: usize,
    phase: usize,
    shift: f32,
) -> Vec<Vec<f32>> {
    let n = data.len().checked_div(dim).unwrap_or(0);
    let step = (n / count.max(1)).max(1);
    (0..count.min(n))
        .map(|i| {
            let row = (i * step + step / phase.max(1)).min(n - 1);
            data[row * dim..(row + 1) * dim]
                .iter()
                .enumerate()
                .map(|(d, x)| x + if d % 2 == 0 { shift } else { -shift })
                .collect()
        })
        .collect()
}
