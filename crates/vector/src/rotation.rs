//! The random orthogonal rotation applied before RaBitQ coding.
//!
//! We use a structured rotation: pad to `P = next_power_of_two(D)`, then
//! [`ROUNDS`](crate::format::ROTATION_ROUNDS) times flip signs by a seeded
//! random ±1 diagonal and apply the normalized Walsh–Hadamard transform.
//! Each round is orthogonal, so the product is too.
//!
//! Why not a dense random matrix (QR of a Gaussian, or Householder
//! products)? A dense rotation costs `D²` floats (64 MiB at D = 4096) to
//! store or to regenerate on every open, and `D²` flops per vector. The
//! structured one is `P` sign bits per round, regenerated from a 64-bit seed
//! in microseconds, and costs `O(P log P)` per vector. Three rounds spread
//! every input direction near-uniformly over all coordinates, which is what
//! the RaBitQ estimator relies on; residual estimation error is absorbed by
//! the rerank stage.

use crate::rng::SplitMix64;

/// A seeded sign-flip + Walsh–Hadamard rotation of `padded` dimensions.
#[derive(Debug, Clone)]
pub(crate) struct Rotation {
    dim: usize,
    padded: usize,
    /// `rounds × padded` signs, `±1.0`.
    signs: Vec<f32>,
    rounds: usize,
}

/// The padded dimension for `dim`: the next power of two.
pub(crate) fn padded_dim(dim: usize) -> usize {
    dim.max(1).next_power_of_two()
}

impl Rotation {
    /// Regenerates the rotation for `dim` from `seed` (see `FORMAT.md`).
    pub(crate) fn new(dim: usize, seed: u64, rounds: usize) -> Self {
        let padded = padded_dim(dim);
        let mut rng = SplitMix64::new(seed);
        let mut signs = Vec::with_capacity(rounds * padded);
        for _ in 0..rounds {
            let mut word = 0u64;
            for i in 0..padded {
                if i % 64 == 0 {
                    word = rng.next_u64();
                }
                signs.push(if (word >> (i % 64)) & 1 == 1 {
                    -1.0
                } else {
                    1.0
                });
            }
        }
        Self {
            dim,
            padded,
            signs,
            rounds,
        }
    }

    /// The padded (output) dimension.
    pub(crate) fn padded(&self) -> usize {
        self.padded
    }

    /// Rotates `x` (`dim` components) into `out` (`padded` components).
    pub(crate) fn apply(&self, x: &[f32], out: &mut [f32]) {
        debug_assert_eq!(x.len(), self.dim);
        debug_assert_eq!(out.len(), self.padded);
        out[..self.dim].copy_from_slice(x);
        out[self.dim..].fill(0.0);
        #[expect(clippy::cast_precision_loss, reason = "padded ≤ 4096")]
        let scale = 1.0 / (self.padded as f32).sqrt();
        for round in 0..self.rounds {
            let signs = &self.signs[round * self.padded..(round + 1) * self.padded];
            for (v, s) in out.iter_mut().zip(signs) {
                *v *= s;
            }
            fwht(out);
            for v in out.iter_mut() {
                *v *= scale;
            }
        }
    }
}

/// In-place unnormalized fast Walsh–Hadamard transform; `x.len()` is a
/// power of two.
fn fwht(x: &mut [f32]) {
    let n = x.len();
    let mut h = 1;
    while h < n {
        for block in x.chunks_exact_mut(2 * h) {
            let (lo, hi) = block.split_at_mut(h);
            for (a, b) in lo.iter_mut().zip(hi.iter_mut()) {
                let (u, v) = (*a, *b);
                *a = u + v;
                *b = u - v;
            }
        }
        h *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_preserves_norms_and_inner_products() {
        for dim in [1, 3, 17, 128, 384, 1000] {
            let rot = Rotation::new(dim, 42, 3);
            let mut rng = SplitMix64::new(7);
            #[expect(clippy::cast_possible_truncation, reason = "test data")]
            let a: Vec<f32> = (0..dim).map(|_| rng.unit() as f32 - 0.5).collect();
            #[expect(clippy::cast_possible_truncation, reason = "test data")]
            let b: Vec<f32> = (0..dim).map(|_| rng.unit() as f32 - 0.5).collect();
            let mut ra = vec![0.0; rot.padded()];
            let mut rb = vec![0.0; rot.padded()];
            rot.apply(&a, &mut ra);
            rot.apply(&b, &mut rb);
            let dot = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f32>();
            assert!((dot(&a, &b) - dot(&ra, &rb)).abs() < 1e-3 * dim as f32);
            assert!((dot(&a, &a) - dot(&ra, &ra)).abs() < 1e-3 * dim as f32);
        }
    }
}
