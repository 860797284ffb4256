//! Distance kernels with runtime CPU-feature dispatch.
//!
//! Each public kernel checks the CPU once per call through the standard
//! library's cached feature detection and runs the widest implementation
//! available: AVX2 + FMA on x86_64, NEON on aarch64, and otherwise the
//! [`portable`] code, which is also the reference the SIMD paths are tested
//! against. Float kernels may differ from the portable ones by rounding
//! (different summation order); the binary kernels are exact.

#[cfg(target_arch = "aarch64")]
mod neon;
pub mod portable;
#[cfg(target_arch = "x86_64")]
mod x86;

/// Inner product `Σ aᵢ·bᵢ`.
///
/// Only the first `min(a.len(), b.len())` components are used. `O(len)`.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    #[cfg(target_arch = "x86_64")]
    if x86::has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above).
        return unsafe { x86::dot(a, b) };
    }
    #[cfg(target_arch = "aarch64")]
    if std::arch::is_aarch64_feature_detected!("neon") {
        // SAFETY: the CPU supports NEON (checked just above).
        return unsafe { neon::dot(a, b) };
    }
    portable::dot(a, b)
}

/// `(Σ aᵢbᵢ, Σ bᵢ²)` in one pass: a cosine against an unnormalized `b`
/// (an exact rerank from the stored column) without a second read of `b`.
///
/// Only the first `min(a.len(), b.len())` components are used. `O(len)`.
pub fn dot_norm_sq(a: &[f32], b: &[f32]) -> (f32, f32) {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    #[cfg(target_arch = "x86_64")]
    if x86::has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above).
        return unsafe { x86::dot_norm_sq(a, b) };
    }
    portable::dot_norm_sq(a, b)
}

/// Squared Euclidean distance `Σ (aᵢ − bᵢ)²`.
///
/// Only the first `min(a.len(), b.len())` components are used. `O(len)`.
pub fn l2_sq(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    #[cfg(target_arch = "x86_64")]
    if x86::has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above).
        return unsafe { x86::l2_sq(a, b) };
    }
    #[cfg(target_arch = "aarch64")]
    if std::arch::is_aarch64_feature_detected!("neon") {
        // SAFETY: the CPU supports NEON (checked just above).
        return unsafe { neon::l2_sq(a, b) };
    }
    portable::l2_sq(a, b)
}

/// Inner product of `q` with the SQ8-coded vector `min + scale · codes`
/// (see [`crate::sq8_encode`]), decoded on the fly: the rerank of an SQ8
/// payload without a decode buffer's store and reload.
///
/// Only the first `min(q.len(), codes.len())` components are used.
/// `O(len)`.
pub fn sq8_dot(q: &[f32], codes: &[u8], min: f32, scale: f32) -> f32 {
    let n = q.len().min(codes.len());
    let (q, codes) = (&q[..n], &codes[..n]);
    #[cfg(target_arch = "x86_64")]
    if x86::has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above).
        return unsafe { x86::sq8_dot(q, codes, min, scale) };
    }
    portable::sq8_dot(q, codes, min, scale)
}

/// Squared Euclidean distance from `q` to the SQ8-coded vector `min +
/// scale · codes`, decoded on the fly (see [`sq8_dot`]).
///
/// Only the first `min(q.len(), codes.len())` components are used.
/// `O(len)`.
pub fn sq8_l2_sq(q: &[f32], codes: &[u8], min: f32, scale: f32) -> f32 {
    let n = q.len().min(codes.len());
    let (q, codes) = (&q[..n], &codes[..n]);
    #[cfg(target_arch = "x86_64")]
    if x86::has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above).
        return unsafe { x86::sq8_l2_sq(q, codes, min, scale) };
    }
    portable::sq8_l2_sq(q, codes, min, scale)
}

/// Inner product of `q` with the SQ4-coded vector `min + scale · u`
/// (`u` packed two per byte, see [`crate::sq4_encode`]), decoded on the
/// fly: the rerank of an SQ4 payload without a decode buffer.
///
/// Uses the first `min(q.len(), 2 · codes.len())` components. `O(len)`.
pub fn sq4_dot(q: &[f32], codes: &[u8], min: f32, scale: f32) -> f32 {
    let q = &q[..q.len().min(2 * codes.len())];
    #[cfg(target_arch = "x86_64")]
    if x86::has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above), and
        // `codes` covers `q`.
        return unsafe { x86::sq4_dot(q, codes, min, scale) };
    }
    portable::sq4_dot(q, codes, min, scale)
}

/// Squared Euclidean distance from `q` to the SQ4-coded vector `min +
/// scale · u`, decoded on the fly (see [`sq4_dot`]).
pub fn sq4_l2_sq(q: &[f32], codes: &[u8], min: f32, scale: f32) -> f32 {
    let q = &q[..q.len().min(2 * codes.len())];
    #[cfg(target_arch = "x86_64")]
    if x86::has_avx2_fma() {
        // SAFETY: as in `sq4_dot`.
        return unsafe { x86::sq4_l2_sq(q, codes, min, scale) };
    }
    portable::sq4_l2_sq(q, codes, min, scale)
}

/// [`dot`] of `q` with each `q.len()`-long row of `rows`, into `out` (one
/// per row; a trailing partial row is ignored). Ranking the centroids is
/// one such pass per query: about a tenth of a warm query at 447 lists
/// as one [`dot`] per row (perf). May differ from per-row [`dot`] by
/// rounding.
pub(crate) fn dot_rows(q: &[f32], rows: &[f32], out: &mut Vec<f32>) {
    out.clear();
    if q.is_empty() {
        return;
    }
    out.resize(rows.len() / q.len(), 0.0);
    let rows = &rows[..out.len() * q.len()];
    #[cfg(target_arch = "x86_64")]
    if x86::has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above); `q`
        // is non-empty and `rows` holds exactly `out.len()` rows.
        return unsafe { x86::dot_rows(q, rows, out) };
    }
    for (o, row) in out.iter_mut().zip(rows.chunks_exact(q.len())) {
        *o = dot(q, row);
    }
}

/// Hints the CPU to load `bytes` into cache ahead of use; a no-op where
/// there is no prefetch instruction.
pub(crate) fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    for line in bytes.chunks(64) {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: SSE is part of the x86_64 baseline, and a prefetch never
        // faults or reads anything architecturally (the pointer is in
        // bounds anyway).
        unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// [`prefetch`] for a vector of floats.
pub(crate) fn prefetch_floats(v: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    for line in v.chunks(16) {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: as in `prefetch`: a hint that never faults.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = v;
}

/// `(min, max)` of `a`; `(+∞, −∞)` when empty. Exact on every path.
pub(crate) fn min_max(a: &[f32]) -> (f32, f32) {
    #[cfg(target_arch = "x86_64")]
    if !a.is_empty() && a.len().is_multiple_of(8) && x86::has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 (checked just above); `a` is a
        // non-empty multiple of 8 long.
        return unsafe { x86::min_max(a) };
    }
    portable::min_max(a)
}

/// The query quantization of the RaBitQ estimator: see
/// [`portable::quantize_4bit`], whose results every path reproduces bit
/// for bit. It runs once per probed cluster, and was a quarter of a warm
/// Reuters query's time in portable form (perf).
pub(crate) fn quantize_4bit(q: &[f32], lo: f32, inv: f32, planes: &mut [u64]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if q.len().is_multiple_of(32) && planes.len() == 4 * q.len().div_ceil(64) && x86::has_avx2_fma()
    {
        // SAFETY: the CPU supports AVX2 (checked just above); the lengths
        // are as the kernel needs.
        return unsafe { x86::quantize_4bit(q, lo, inv, planes) };
    }
    portable::quantize_4bit(q, lo, inv, planes)
}

/// Euclidean norm accumulated in f64, which cannot overflow for f32
/// inputs of any supported length.
pub(crate) fn norm_f64(a: &[f32]) -> f64 {
    a.iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt()
}

/// Squared Euclidean norm `Σ aᵢ²`. `O(len)`.
pub fn norm_sq(a: &[f32]) -> f32 {
    dot(a, a)
}

/// The RaBitQ binary kernel: given a 4-bit query stored as four bit planes
/// (`planes[j·w .. (j+1)·w]` holds bit `j` of every query component, `w =
/// code.len()`) and a 1-bit code, returns `(popcount(code), Σⱼ 2ʲ ·
/// popcount(planeⱼ & code))`, i.e. the number of set code bits and the
/// inner product of the 4-bit query with the 0/1 code.
///
/// # Panics
/// If `planes.len() != 4 * code.len()`. `O(code.len())`.
pub fn ip_4bit_1bit(planes: &[u64], code: &[u64]) -> (u32, u32) {
    assert_eq!(
        planes.len(),
        4 * code.len(),
        "planes must be 4 × code words"
    );
    #[cfg(target_arch = "x86_64")]
    if x86::has_popcnt() {
        // SAFETY: the CPU supports POPCNT (checked just above).
        return unsafe { x86::ip_4bit_1bit(planes, code) };
    }
    portable::ip_4bit_1bit(planes, code)
}

/// [`ip_4bit_1bit`] for consecutive codes: `codes` holds little-endian
/// codes of `planes.len() / 4` words each (a trailing partial code is
/// ignored); one `(popcount, inner product)` per code is appended to `out`.
pub fn ip_4bit_1bit_many(planes: &[u64], codes: &[u8], out: &mut Vec<(u32, u32)>) {
    if planes.len() < 4 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if (planes.len() / 4).is_multiple_of(8) && x86::has_avx512_popcnt() {
        // SAFETY: the CPU supports AVX-512F and VPOPCNTDQ (checked just
        // above) and the code length is a positive multiple of 8 words.
        return unsafe {
            x86::ip_4bit_1bit_many_avx512(&planes[..planes.len() / 4 * 4], codes, out)
        };
    }
    #[cfg(target_arch = "x86_64")]
    if x86::has_popcnt() {
        // SAFETY: the CPU supports POPCNT (checked just above).
        return unsafe { x86::ip_4bit_1bit_many(planes, codes, out) };
    }
    portable::ip_4bit_1bit_many(planes, codes, out);
}

/// Which kernel family [`dot`], [`l2_sq`] and [`ip_4bit_1bit`] dispatch to
/// on this CPU: `"avx2+fma"`, `"neon"` or `"portable"`.
pub fn simd_level() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    if x86::has_avx2_fma() {
        return "avx2+fma";
    }
    #[cfg(target_arch = "aarch64")]
    if std::arch::is_aarch64_feature_detected!("neon") {
        return "neon";
    }
    "portable"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    fn random(rng: &mut SplitMix64, len: usize) -> Vec<f32> {
        #[expect(clippy::cast_precision_loss, reason = "test values")]
        (0..len)
            .map(|_| (rng.next_u64() % 20_001) as f32 / 1000.0 - 10.0)
            .collect()
    }

    #[test]
    fn dot_rows_match_per_row_dot() {
        let mut rng = SplitMix64::new(13);
        for dim in [1, 7, 8, 9, 16, 384] {
            for rows_n in [0, 1, 3, 4, 5, 9] {
                let q = random(&mut rng, dim);
                let rows = random(&mut rng, dim * rows_n + dim / 2);
                let mut out = vec![f32::NAN; 2];
                dot_rows(&q, &rows, &mut out);
                assert_eq!(out.len(), rows_n);
                for (r, &got) in out.iter().enumerate() {
                    let row = &rows[r * dim..(r + 1) * dim];
                    let want = portable::dot(&q, row);
                    let scale: f32 = q.iter().zip(row).map(|(a, b)| (a * b).abs()).sum();
                    assert!(
                        (got - want).abs() <= 1e-4 * scale.max(1.0),
                        "dim {dim} row {r}"
                    );
                }
            }
        }
        let mut out = vec![1.0];
        dot_rows(&[], &[1.0], &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn dot_norm_sq_matches_two_passes() {
        let mut rng = SplitMix64::new(14);
        for dim in [0, 1, 7, 8, 9, 16, 383, 384] {
            let a = random(&mut rng, dim);
            let b = random(&mut rng, dim + 3);
            let (ip, nn) = dot_norm_sq(&a, &b);
            let scale: f32 = a.iter().zip(&b).map(|(x, y)| (x * y).abs()).sum();
            assert!(
                (ip - portable::dot(&a, &b)).abs() <= 1e-4 * scale.max(1.0),
                "dim {dim}"
            );
            let want = portable::dot(&b[..dim], &b[..dim]);
            assert!((nn - want).abs() <= 1e-4 * want.max(1.0), "dim {dim}");
            assert_eq!(portable::dot_norm_sq(&a, &b).0.is_nan(), ip.is_nan());
        }
    }

    #[test]
    fn min_max_matches_portable() {
        let mut rng = SplitMix64::new(11);
        for len in [0, 1, 7, 8, 16, 24, 384, 512, 4096] {
            let a = random(&mut rng, len);
            assert_eq!(min_max(&a), portable::min_max(&a), "len {len}");
        }
    }

    /// The dispatched quantizer (AVX2 where present and the length allows)
    /// gives the portable planes and level sum bit for bit, including
    /// values exactly half a step apart, where rounding decides the level.
    #[test]
    fn quantize_4bit_matches_portable() {
        let mut rng = SplitMix64::new(12);
        for len in [1, 8, 31, 32, 64, 96, 128, 384, 512, 4096] {
            for round in 0..20 {
                let mut q = random(&mut rng, len);
                if round % 2 == 1 {
                    // On the grid and between grid points.
                    #[expect(clippy::cast_precision_loss, reason = "test values")]
                    q.iter_mut()
                        .for_each(|v| *v = (rng.next_u64() % 31) as f32 * 0.5);
                }
                let (lo, hi) = portable::min_max(&q);
                let inv = if hi > lo { 15.0 / (hi - lo) } else { 0.0 };
                let words = len.div_ceil(64);
                let (mut got, mut want) = (vec![0; 4 * words], vec![0; 4 * words]);
                let sum = quantize_4bit(&q, lo, inv, &mut got);
                assert_eq!(sum, portable::quantize_4bit(&q, lo, inv, &mut want));
                assert_eq!(got, want, "len {len}");
            }
        }
    }
}
