//! RaBitQ 1-bit codes and the distance estimator.
//!
//! A data vector `x` in cluster `c` has residual `r = x − c`; after the
//! rotation `R`, its code is the sign pattern of `Rr` (bit set = positive),
//! i.e. the unit vector `ō = sign(Rr)/√P`. With `o = Rr/‖r‖`, RaBitQ's
//! unbiased estimator of `⟨o, q⟩` for any rotated vector `q` is
//! `⟨ō, q⟩ / ⟨ō, o⟩`. We store per vector `‖r‖`, `⟨ō, o⟩` and `⟨r, c⟩`
//! (the last turns an estimate of `⟨r, q − c⟩` into one of `⟨x, q⟩`).
//!
//! At query time the rotated residual query `q_r = Rq − Rc` is quantized to
//! 4 bits per component (`q_r ≈ lo + Δ·u`), so `⟨ō, q_r⟩` needs only
//! popcounts: see [`crate::ip_4bit_1bit`].

use crate::format::{FACTORS, Metric, QUERY_BITS, code_words};
use crate::kernels::{ip_4bit_1bit, min_max, norm_sq, quantize_4bit};

/// Per-vector correction factors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Factors {
    pub(crate) norm_r: f32,
    pub(crate) obar_o: f32,
    pub(crate) r_dot_c: f32,
}

/// Packs the sign bits of `rotated` into `code` (bit `i % 64` of word
/// `i / 64` is set when component `i` is positive).
pub fn pack_signs(rotated: &[f32], code: &mut [u64]) {
    code.fill(0);
    for (i, &v) in rotated.iter().enumerate() {
        if v > 0.0 {
            code[i / 64] |= 1u64 << (i % 64);
        }
    }
}

/// Inverse of [`pack_signs`] as ±1: component `i` is `+1.0` when its bit is
/// set, else `−1.0`. Writes `out.len()` components.
pub fn unpack_signs(code: &[u64], out: &mut [f32]) {
    for (i, o) in out.iter_mut().enumerate() {
        *o = if (code[i / 64] >> (i % 64)) & 1 == 1 {
            1.0
        } else {
            -1.0
        };
    }
}

/// Codes a rotated residual; `r_dot_c` is computed by the caller.
pub(crate) fn encode(rotated: &[f32], code: &mut [u64], r_dot_c: f32) -> Factors {
    pack_signs(rotated, code);
    let norm_r = norm_sq(rotated).sqrt();
    #[expect(clippy::cast_precision_loss, reason = "padded ≤ 4096")]
    let sqrt_p = (rotated.len() as f32).sqrt();
    let abs_sum: f32 = rotated.iter().map(|v| v.abs()).sum();
    let obar_o = if norm_r > 0.0 {
        abs_sum / (sqrt_p * norm_r)
    } else {
        1.0
    };
    Factors {
        norm_r,
        obar_o,
        r_dot_c,
    }
}

/// A rotated residual query quantized for one cluster.
#[derive(Debug, Clone)]
pub(crate) struct QuantizedQuery {
    /// `4 × words` bit planes.
    planes: Vec<u64>,
    lo: f32,
    delta: f32,
    sum_u: f32,
    /// `‖q_r‖²` (exact).
    pub(crate) norm_sq: f32,
    padded: f32,
    inv_sqrt_p: f32,
}

impl QuantizedQuery {
    /// Quantizes `q_r` (`padded` components).
    pub(crate) fn new(q_r: &[f32]) -> Self {
        let words = code_words(q_r.len());
        let (lo, hi) = min_max(q_r);
        let levels = ((1u32 << QUERY_BITS) - 1) as f32;
        let delta = if hi > lo { (hi - lo) / levels } else { 0.0 };
        let inv = if delta > 0.0 { 1.0 / delta } else { 0.0 };
        let mut planes = vec![0u64; QUERY_BITS * words];
        let sum_u = quantize_4bit(q_r, lo, inv, &mut planes);
        #[expect(clippy::cast_precision_loss, reason = "padded ≤ 4096")]
        let padded = q_r.len() as f32;
        #[expect(clippy::cast_precision_loss, reason = "sum ≤ 15 · 4096")]
        let sum_u = sum_u as f32;
        Self {
            planes,
            lo: if lo.is_finite() { lo } else { 0.0 },
            delta,
            sum_u,
            norm_sq: norm_sq(q_r),
            padded,
            inv_sqrt_p: 1.0 / padded.sqrt(),
        }
    }

    /// The query's bit planes, for [`crate::ip_4bit_1bit_many`].
    pub(crate) fn planes(&self) -> &[u64] {
        &self.planes
    }

    /// The distance estimates of a block's vectors into `out` (cleared
    /// first): `counts[j]` from [`crate::ip_4bit_1bit_many`], vector `j`'s
    /// factors at `factors[12j..12j + 12]` (little-endian `‖r‖`, `⟨ō, o⟩`,
    /// `⟨r, c⟩`), `q_dot_c = ⟨q, c⟩`. The arithmetic of
    /// [`estimate_ip`](Self::estimate_ip) bit for bit, but eight
    /// vectors at a time through fixed-size arrays with the metric chosen
    /// outside the loop, so the compiler vectorizes it: as a per-vector
    /// closure it was a sixth of a warm query at 200K × 384 (perf).
    pub(crate) fn estimate_block(
        &self,
        metric: Metric,
        q_dot_c: f32,
        counts: &[(u32, u32)],
        factors: &[u8],
        out: &mut Vec<f32>,
    ) {
        let norm_sq = self.norm_sq;
        match metric {
            Metric::L2 => self.block(counts, factors, out, |e, n, _| n * n + norm_sq - 2.0 * e),
            Metric::Cosine => self.block(counts, factors, out, |e, _, rc| 1.0 - (q_dot_c + e + rc)),
            Metric::InnerProduct => {
                self.block(counts, factors, out, |e, _, rc| -(q_dot_c + e + rc))
            }
        }
    }

    /// [`estimate_block`](Self::estimate_block) with the metric's final
    /// step `dist(estimate, ‖r‖, ⟨r, c⟩)`.
    #[inline(always)]
    fn block(
        &self,
        counts: &[(u32, u32)],
        factors: &[u8],
        out: &mut Vec<f32>,
        dist: impl Fn(f32, f32, f32) -> f32,
    ) {
        const LANES: usize = 8;
        let n = counts.len().min(factors.len() / (FACTORS * 4));
        out.clear();
        out.resize(n, 0.0);
        let sum_all = self.lo * self.padded + self.delta * self.sum_u;
        let (lo, delta, inv_sqrt_p) = (self.lo, self.delta, self.inv_sqrt_p);
        let field = |b: &[u8], i: usize| f32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let one = |(pop, ip): (u32, u32), b: &[u8]| {
            let (norm_r, obar_o, r_dot_c) = (field(b, 0), field(b, 4), field(b, 8));
            #[expect(clippy::cast_precision_loss, reason = "counts ≤ 15 · 4096")]
            let (pop, ip) = (pop as f32, ip as f32);
            let sum_set = lo * pop + delta * ip;
            let obar_q = (2.0 * sum_set - sum_all) * inv_sqrt_p;
            let e = norm_r * obar_q / obar_o.max(1e-6);
            dist(if norm_r == 0.0 { 0.0 } else { e }, norm_r, r_dot_c)
        };
        let full = n / LANES * LANES;
        let chunks = counts[..full]
            .chunks_exact(LANES)
            .zip(factors.chunks_exact(LANES * FACTORS * 4))
            .zip(out[..full].chunks_exact_mut(LANES));
        for ((c, f), o) in chunks {
            let (mut pop, mut ip) = ([0.0f32; LANES], [0.0f32; LANES]);
            let (mut norm_r, mut obar_o, mut r_dot_c) =
                ([0.0f32; LANES], [0.0f32; LANES], [0.0f32; LANES]);
            for k in 0..LANES {
                #[expect(clippy::cast_precision_loss, reason = "counts ≤ 15 · 4096")]
                {
                    pop[k] = c[k].0 as f32;
                    ip[k] = c[k].1 as f32;
                }
                let b = &f[k * FACTORS * 4..(k + 1) * FACTORS * 4];
                norm_r[k] = field(b, 0);
                obar_o[k] = field(b, 4);
                r_dot_c[k] = field(b, 8);
            }
            for k in 0..LANES {
                let sum_set = lo * pop[k] + delta * ip[k];
                let obar_q = (2.0 * sum_set - sum_all) * inv_sqrt_p;
                let e = norm_r[k] * obar_q / obar_o[k].max(1e-6);
                let e = if norm_r[k] == 0.0 { 0.0 } else { e };
                o[k] = dist(e, norm_r[k], r_dot_c[k]);
            }
        }
        for j in full..n {
            out[j] = one(counts[j], &factors[j * FACTORS * 4..(j + 1) * FACTORS * 4]);
        }
    }

    /// Estimates `⟨r, q_r⟩` for a vector with `code` and `factors`.
    pub(crate) fn estimate_ip(&self, code: &[u64], f: &Factors) -> f32 {
        if f.norm_r == 0.0 {
            return 0.0;
        }
        let (pop, ip) = ip_4bit_1bit(&self.planes, code);
        #[expect(clippy::cast_precision_loss, reason = "counts ≤ 15 · 4096")]
        let (pop, ip) = (pop as f32, ip as f32);
        let sum_set = self.lo * pop + self.delta * ip;
        let sum_all = self.lo * self.padded + self.delta * self.sum_u;
        let obar_q = (2.0 * sum_set - sum_all) * self.inv_sqrt_p;
        f.norm_r * obar_q / f.obar_o.max(1e-6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::portable::gather_bits;
    use crate::rng::SplitMix64;

    #[test]
    fn gather_bits_takes_bit_zero_of_each_byte() {
        let mut rng = SplitMix64::new(9);
        for _ in 0..10_000 {
            let x = rng.next_u64();
            let want = (0..8).fold(0u64, |acc, i| acc | (((x >> (8 * i)) & 1) << i));
            assert_eq!(gather_bits(x), want, "{x:#x}");
        }
    }

    /// The block path gives the one-vector path's distances bit for bit,
    /// for every metric, at lengths around the eight-lane chunks and with
    /// a zero-norm vector.
    #[test]
    fn estimate_block_matches_one_vector_path() {
        let mut rng = SplitMix64::new(5);
        let padded = 128;
        let words = code_words(padded);
        #[expect(clippy::cast_possible_truncation, reason = "test values")]
        let q: Vec<f32> = (0..padded).map(|_| rng.unit() as f32 - 0.5).collect();
        let quant = QuantizedQuery::new(&q);
        for n in [0usize, 1, 7, 8, 9, 17, 64] {
            let codes: Vec<u64> = (0..n * words).map(|_| rng.next_u64()).collect();
            #[expect(clippy::cast_possible_truncation, reason = "test values")]
            let factors: Vec<Factors> = (0..n)
                .map(|j| Factors {
                    norm_r: if j == 3 { 0.0 } else { rng.unit() as f32 },
                    obar_o: 0.6 + 0.3 * rng.unit() as f32,
                    r_dot_c: rng.unit() as f32 - 0.5,
                })
                .collect();
            let bytes: Vec<u8> = factors
                .iter()
                .flat_map(|f| [f.norm_r, f.obar_o, f.r_dot_c])
                .flat_map(f32::to_le_bytes)
                .collect();
            let counts: Vec<(u32, u32)> = codes
                .chunks_exact(words)
                .map(|c| ip_4bit_1bit(quant.planes(), c))
                .collect();
            for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
                let q_dot_c = 0.25;
                let mut out = vec![f32::NAN; 3];
                quant.estimate_block(metric, q_dot_c, &counts, &bytes, &mut out);
                assert_eq!(out.len(), n);
                for (j, (&got, f)) in out.iter().zip(&factors).enumerate() {
                    let e = quant.estimate_ip(&codes[j * words..(j + 1) * words], f);
                    let want = match metric {
                        Metric::L2 => f.norm_r * f.norm_r + quant.norm_sq - 2.0 * e,
                        Metric::Cosine => 1.0 - (q_dot_c + e + f.r_dot_c),
                        Metric::InnerProduct => -(q_dot_c + e + f.r_dot_c),
                    };
                    assert_eq!(got.to_bits(), want.to_bits(), "{metric:?} n {n} j {j}");
                }
            }
        }
    }

    #[test]
    fn planes_hold_each_level_bit() {
        let mut rng = SplitMix64::new(4);
        for len in [1usize, 7, 8, 64, 100, 512] {
            #[expect(clippy::cast_precision_loss, reason = "test values")]
            let q: Vec<f32> = (0..len)
                .map(|_| (rng.next_u64() % 1000) as f32 - 500.0)
                .collect();
            let quant = QuantizedQuery::new(&q);
            let words = code_words(len);
            let (lo, hi) = q
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            let delta = if hi > lo { (hi - lo) / 15.0 } else { 0.0 };
            let inv = if delta > 0.0 { 1.0 / delta } else { 0.0 };
            let mut sum = 0u32;
            for (i, &v) in q.iter().enumerate() {
                #[expect(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "test"
                )]
                let level = (((v - lo) * inv + 0.5) as u32).min(15);
                sum += level;
                for b in 0..QUERY_BITS {
                    let bit = (quant.planes()[b * words + i / 64] >> (i % 64)) & 1;
                    assert_eq!(
                        u32::try_from(bit).unwrap(),
                        (level >> b) & 1,
                        "len {len} i {i} b {b}"
                    );
                }
            }
            #[expect(clippy::cast_precision_loss, reason = "test")]
            let sum = sum as f32;
            assert_eq!(quant.sum_u, sum);
        }
    }
}
