//! AVX2 + FMA and POPCNT kernels for x86_64.
//!
//! Every function here is `unsafe` because it is compiled for CPU features
//! the baseline target lacks; callers must check the features first.

use std::arch::x86_64::{
    __m128i, __m256, __m256i, __m512i, _mm_add_ps, _mm_add_ss, _mm_and_si128, _mm_cvtss_f32,
    _mm_loadl_epi64, _mm_movehl_ps, _mm_set1_epi8, _mm_shuffle_ps, _mm_srli_epi16, _mm_srli_si128,
    _mm_unpacklo_epi8, _mm256_add_epi64, _mm256_add_ps, _mm256_castps256_ps128, _mm256_cvtepi32_ps,
    _mm256_cvtepu8_epi32, _mm256_cvttps_epi32, _mm256_extract_epi64, _mm256_extractf128_ps,
    _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_max_ps, _mm256_min_epi32, _mm256_min_ps,
    _mm256_movemask_epi8, _mm256_mul_ps, _mm256_packs_epi32, _mm256_packus_epi16,
    _mm256_permutevar8x32_epi32, _mm256_sad_epu8, _mm256_set1_epi32, _mm256_set1_ps,
    _mm256_setr_epi32, _mm256_setzero_ps, _mm256_setzero_si256, _mm256_slli_epi16,
    _mm256_storeu_ps, _mm256_sub_ps, _mm512_add_epi64, _mm512_and_si512, _mm512_loadu_si512,
    _mm512_popcnt_epi64, _mm512_reduce_add_epi64, _mm512_setzero_si512, _mm512_slli_epi64,
};

pub(super) fn has_avx2_fma() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

pub(super) fn has_popcnt() -> bool {
    is_x86_feature_detected!("popcnt")
}

pub(super) fn has_avx512_popcnt() -> bool {
    is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vpopcntdq")
}

/// Horizontal sum of eight lanes.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
unsafe fn hsum(v: __m256) -> f32 {
    let lo = _mm256_castps256_ps128(v);
    let hi = _mm256_extractf128_ps::<1>(v);
    let s = _mm_add_ps(lo, hi);
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
    _mm_cvtss_f32(s)
}

/// `(Σ aᵢbᵢ, Σ bᵢ²)` in one pass over both.
///
/// # Safety
/// The CPU must support AVX2 and FMA; `a.len() == b.len()`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn dot_norm_sq(a: &[f32], b: &[f32]) -> (f32, f32) {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len();
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut ip = _mm256_setzero_ps();
    let mut nn = _mm256_setzero_ps();
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 ≤ n = a.len() = b.len(): both loads are in bounds;
        // loadu has no alignment requirement.
        unsafe {
            let y = _mm256_loadu_ps(pb.add(i));
            ip = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), y, ip);
            nn = _mm256_fmadd_ps(y, y, nn);
        }
        i += 8;
    }
    // SAFETY: AVX2 is enabled for this function.
    let (mut dot, mut norm) = unsafe { (hsum(ip), hsum(nn)) };
    for j in i..n {
        dot += a[j] * b[j];
        norm += b[j] * b[j];
    }
    (dot, norm)
}

/// # Safety
/// The CPU must support AVX2 and FMA; `a.len() == b.len()`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len();
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc0 = _mm256_setzero_ps();
    let mut acc1 = _mm256_setzero_ps();
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 ≤ n = a.len() = b.len(), so both 8-lane loads at i
        // and i + 8 are in bounds; loadu has no alignment requirement.
        unsafe {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
            acc1 = _mm256_fmadd_ps(
                _mm256_loadu_ps(pa.add(i + 8)),
                _mm256_loadu_ps(pb.add(i + 8)),
                acc1,
            );
        }
        i += 16;
    }
    if i + 8 <= n {
        // SAFETY: i + 8 ≤ n, in bounds for both slices.
        unsafe {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
        }
        i += 8;
    }
    // SAFETY: AVX2 is enabled for this function.
    let mut sum = unsafe { hsum(_mm256_add_ps(acc0, acc1)) };
    for j in i..n {
        sum += a[j] * b[j];
    }
    sum
}

/// # Safety
/// The CPU must support AVX2 and FMA; `a.len() == b.len()`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn l2_sq(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len();
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc0 = _mm256_setzero_ps();
    let mut acc1 = _mm256_setzero_ps();
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 ≤ n = a.len() = b.len(), so both 8-lane loads at i
        // and i + 8 are in bounds; loadu has no alignment requirement.
        unsafe {
            let d0 = _mm256_sub_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
            let d1 = _mm256_sub_ps(
                _mm256_loadu_ps(pa.add(i + 8)),
                _mm256_loadu_ps(pb.add(i + 8)),
            );
            acc0 = _mm256_fmadd_ps(d0, d0, acc0);
            acc1 = _mm256_fmadd_ps(d1, d1, acc1);
        }
        i += 16;
    }
    if i + 8 <= n {
        // SAFETY: i + 8 ≤ n, in bounds for both slices.
        unsafe {
            let d0 = _mm256_sub_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
            acc0 = _mm256_fmadd_ps(d0, d0, acc0);
        }
        i += 8;
    }
    // SAFETY: AVX2 is enabled for this function.
    let mut sum = unsafe { hsum(_mm256_add_ps(acc0, acc1)) };
    for j in i..n {
        let d = a[j] - b[j];
        sum += d * d;
    }
    sum
}

/// The portable batch loop compiled with hardware POPCNT.
///
/// # Safety
/// The CPU must support POPCNT.
#[target_feature(enable = "popcnt")]
pub(super) unsafe fn ip_4bit_1bit_many(planes: &[u64], codes: &[u8], out: &mut Vec<(u32, u32)>) {
    super::portable::ip_4bit_1bit_many(planes, codes, out);
}

/// The portable loop compiled with hardware POPCNT.
///
/// # Safety
/// The CPU must support POPCNT; `planes.len() == 4 * code.len()`.
#[target_feature(enable = "popcnt")]
pub(super) unsafe fn ip_4bit_1bit(planes: &[u64], code: &[u64]) -> (u32, u32) {
    super::portable::ip_4bit_1bit(planes, code)
}

/// [`super::ip_4bit_1bit_many`] eight code words at a time: per 512-bit
/// chunk, five vector popcounts (the code, and the code under each query
/// plane) weighted and summed per lane, with the code's popcount carried
/// in the upper 32 bits of each lane so one reduction yields both counts.
/// About a fifth of the instructions of the scalar POPCNT loop at
/// `P = 512`, where the estimate is most of a probe's time.
///
/// # Safety
/// The CPU must support AVX-512F and AVX-512 VPOPCNTDQ; `planes.len()` must
/// be `4 · w` with `w` a positive multiple of 8.
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
pub(super) unsafe fn ip_4bit_1bit_many_avx512(
    planes: &[u64],
    codes: &[u8],
    out: &mut Vec<(u32, u32)>,
) {
    let w = planes.len() / 4;
    debug_assert!(w > 0 && w.is_multiple_of(8) && planes.len() == 4 * w);
    out.reserve(codes.len() / (w * 8));
    let pp = planes.as_ptr();
    for code in codes.chunks_exact(w * 8) {
        let cp = code.as_ptr();
        let mut acc = _mm512_setzero_si512();
        for z in (0..w).step_by(8) {
            // SAFETY: z + 8 ≤ w, so the code load reads bytes 8z..8z + 64
            // of a chunk of 8w bytes, and each plane load reads words
            // jw + z..jw + z + 8 of the 4w plane words; loadu has no
            // alignment requirement.
            let (c, p0, p1, p2, p3) = unsafe {
                (
                    _mm512_loadu_si512(cp.add(8 * z).cast::<__m512i>()),
                    _mm512_loadu_si512(pp.add(z).cast::<__m512i>()),
                    _mm512_loadu_si512(pp.add(w + z).cast::<__m512i>()),
                    _mm512_loadu_si512(pp.add(2 * w + z).cast::<__m512i>()),
                    _mm512_loadu_si512(pp.add(3 * w + z).cast::<__m512i>()),
                )
            };
            let i0 = _mm512_popcnt_epi64(_mm512_and_si512(c, p0));
            let i1 = _mm512_popcnt_epi64(_mm512_and_si512(c, p1));
            let i2 = _mm512_popcnt_epi64(_mm512_and_si512(c, p2));
            let i3 = _mm512_popcnt_epi64(_mm512_and_si512(c, p3));
            let ip = _mm512_add_epi64(
                _mm512_add_epi64(i0, _mm512_slli_epi64::<1>(i1)),
                _mm512_add_epi64(_mm512_slli_epi64::<2>(i2), _mm512_slli_epi64::<3>(i3)),
            );
            let pop = _mm512_slli_epi64::<32>(_mm512_popcnt_epi64(c));
            acc = _mm512_add_epi64(acc, _mm512_add_epi64(ip, pop));
        }
        // Each lane holds at most 64 · 15 in its low half (sums ≤ 15 · 4096
        // overall), so the halves never carry into each other.
        #[expect(clippy::cast_sign_loss, reason = "a sum of non-negative counts")]
        let s = _mm512_reduce_add_epi64(acc) as u64;
        #[expect(clippy::cast_possible_truncation, reason = "the two 32-bit halves")]
        out.push(((s >> 32) as u32, s as u32));
    }
}

/// Eight SQ8 components at `i` decoded to `min + scale · u`.
///
/// # Safety
/// The CPU must support AVX2 and FMA; `i + 8 ≤ codes.len()`.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn sq8_decode8(codes: &[u8], i: usize, min: __m256, scale: __m256) -> __m256 {
    debug_assert!(i + 8 <= codes.len());
    // SAFETY: i + 8 ≤ codes.len(), so the 8-byte load is in bounds and
    // has no alignment requirement.
    let u = unsafe { _mm_loadl_epi64(codes.as_ptr().add(i).cast()) };
    _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(u)), scale, min)
}

/// # Safety
/// The CPU must support AVX2 and FMA; `q.len() == codes.len()`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn sq8_dot(q: &[f32], codes: &[u8], min: f32, scale: f32) -> f32 {
    debug_assert_eq!(q.len(), codes.len());
    let n = q.len();
    let (vmin, vscale) = (_mm256_set1_ps(min), _mm256_set1_ps(scale));
    // Two accumulators so consecutive FMAs do not wait on each other.
    let (mut acc0, mut acc1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 ≤ n = q.len() = codes.len(); AVX2 and FMA are
        // enabled for this function.
        unsafe {
            let x0 = sq8_decode8(codes, i, vmin, vscale);
            let x1 = sq8_decode8(codes, i + 8, vmin, vscale);
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q.as_ptr().add(i)), x0, acc0);
            acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q.as_ptr().add(i + 8)), x1, acc1);
        }
        i += 16;
    }
    if i + 8 <= n {
        // SAFETY: i + 8 ≤ n, as above.
        unsafe {
            let x = sq8_decode8(codes, i, vmin, vscale);
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q.as_ptr().add(i)), x, acc0);
        }
        i += 8;
    }
    // SAFETY: AVX2 is enabled for this function.
    let mut sum = unsafe { hsum(_mm256_add_ps(acc0, acc1)) };
    for j in i..n {
        sum += q[j] * (min + scale * f32::from(codes[j]));
    }
    sum
}

/// # Safety
/// The CPU must support AVX2 and FMA; `q.len() == codes.len()`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn sq8_l2_sq(q: &[f32], codes: &[u8], min: f32, scale: f32) -> f32 {
    debug_assert_eq!(q.len(), codes.len());
    let n = q.len();
    let (vmin, vscale) = (_mm256_set1_ps(min), _mm256_set1_ps(scale));
    let mut acc = _mm256_setzero_ps();
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: as in `sq8_dot`.
        unsafe {
            let x = sq8_decode8(codes, i, vmin, vscale);
            let d = _mm256_sub_ps(_mm256_loadu_ps(q.as_ptr().add(i)), x);
            acc = _mm256_fmadd_ps(d, d, acc);
        }
        i += 8;
    }
    // SAFETY: AVX2 is enabled for this function.
    let mut sum = unsafe { hsum(acc) };
    for j in i..n {
        let d = q[j] - (min + scale * f32::from(codes[j]));
        sum += d * d;
    }
    sum
}

/// `(min, max)` of `a`, which must be non-empty and a multiple of 8 long.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn min_max(a: &[f32]) -> (f32, f32) {
    debug_assert!(!a.is_empty() && a.len().is_multiple_of(8));
    // SAFETY: a.len() ≥ 8, so the first 8-lane load is in bounds.
    let first = unsafe { _mm256_loadu_ps(a.as_ptr()) };
    let (mut lo, mut hi) = (first, first);
    for i in (8..a.len()).step_by(8) {
        // SAFETY: i + 8 ≤ a.len() (a multiple of 8).
        let v = unsafe { _mm256_loadu_ps(a.as_ptr().add(i)) };
        lo = _mm256_min_ps(lo, v);
        hi = _mm256_max_ps(hi, v);
    }
    let (mut l, mut h) = ([0.0f32; 8], [0.0f32; 8]);
    // SAFETY: each store writes 8 lanes into an 8-element array.
    unsafe {
        _mm256_storeu_ps(l.as_mut_ptr(), lo);
        _mm256_storeu_ps(h.as_mut_ptr(), hi);
    }
    (
        l.iter().copied().fold(f32::INFINITY, f32::min),
        h.iter().copied().fold(f32::NEG_INFINITY, f32::max),
    )
}

/// [`super::portable::quantize_4bit`] 32 components at a time: levels are
/// computed with the same float operations (subtract, multiply, add ½,
/// truncate; no FMA), so the planes are bit-identical; each plane's 32 bits
/// come from one byte-sign mask of the levels shifted so the wanted bit is
/// each byte's top bit.
///
/// # Safety
/// The CPU must support AVX2; `q.len()` must be a multiple of 32 and
/// `planes.len() == 4 · q.len() / 64` rounded up, zeroed.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn quantize_4bit(q: &[f32], lo: f32, inv: f32, planes: &mut [u64]) -> u32 {
    let words = q.len().div_ceil(64);
    debug_assert!(q.len().is_multiple_of(32) && planes.len() == 4 * words);
    let (vlo, vinv, half) = (_mm256_set1_ps(lo), _mm256_set1_ps(inv), _mm256_set1_ps(0.5));
    let top = _mm256_set1_epi32(15);
    // `packs`/`packus` interleave 128-bit lanes; this restores order.
    let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    let mut sums: __m256i = _mm256_setzero_si256();
    for i in (0..q.len()).step_by(32) {
        let level = |k: usize| {
            // SAFETY: i + 32 ≤ q.len(), so the load at i + 8k (k < 4) is
            // in bounds.
            let v = unsafe { _mm256_loadu_ps(q.as_ptr().add(i + 8 * k)) };
            let x = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(v, vlo), vinv), half);
            _mm256_min_epi32(_mm256_cvttps_epi32(x), top)
        };
        let (l0, l1, l2, l3) = (level(0), level(1), level(2), level(3));
        let bytes = _mm256_permutevar8x32_epi32(
            _mm256_packus_epi16(_mm256_packs_epi32(l0, l1), _mm256_packs_epi32(l2, l3)),
            order,
        );
        sums = _mm256_add_epi64(sums, _mm256_sad_epu8(bytes, _mm256_setzero_si256()));
        let (word, shift) = (i / 64, i % 64);
        #[expect(clippy::cast_sign_loss, reason = "a 32-bit mask")]
        let mask = |m: i32| u64::from(m as u32) << shift;
        planes[word] |= mask(_mm256_movemask_epi8(_mm256_slli_epi16::<7>(bytes)));
        planes[words + word] |= mask(_mm256_movemask_epi8(_mm256_slli_epi16::<6>(bytes)));
        planes[2 * words + word] |= mask(_mm256_movemask_epi8(_mm256_slli_epi16::<5>(bytes)));
        planes[3 * words + word] |= mask(_mm256_movemask_epi8(_mm256_slli_epi16::<4>(bytes)));
    }
    let total = _mm256_extract_epi64::<0>(sums)
        + _mm256_extract_epi64::<1>(sums)
        + _mm256_extract_epi64::<2>(sums)
        + _mm256_extract_epi64::<3>(sums);
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "at most 15 · 4096"
    )]
    let total = total as u32;
    total
}

/// Sixteen SQ4 components at byte `b` (components `2b..2b + 16`) as two
/// 8-lane vectors decoded to `min + scale · u`.
///
/// # Safety
/// The CPU must support AVX2 and FMA; `b + 8 ≤ codes.len()`.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn sq4_decode16(codes: &[u8], b: usize, min: __m256, scale: __m256) -> (__m256, __m256) {
    debug_assert!(b + 8 <= codes.len());
    // SAFETY: b + 8 ≤ codes.len(), so the 8-byte load is in bounds and
    // has no alignment requirement.
    let bytes: __m128i = unsafe { _mm_loadl_epi64(codes.as_ptr().add(b).cast()) };
    let nibble = _mm_set1_epi8(0x0f);
    let lo = _mm_and_si128(bytes, nibble);
    let hi = _mm_and_si128(_mm_srli_epi16::<4>(bytes), nibble);
    // Low nibble then high nibble of each byte: components in order.
    let u = _mm_unpacklo_epi8(lo, hi);
    let decode =
        |v: __m128i| _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v)), scale, min);
    (decode(u), decode(_mm_srli_si128::<8>(u)))
}

/// # Safety
/// The CPU must support AVX2 and FMA; `2 · codes.len() ≥ q.len()`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn sq4_dot(q: &[f32], codes: &[u8], min: f32, scale: f32) -> f32 {
    debug_assert!(2 * codes.len() >= q.len());
    let n = q.len();
    let (vmin, vscale) = (_mm256_set1_ps(min), _mm256_set1_ps(scale));
    let (mut acc0, mut acc1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 ≤ n ≤ 2 · codes.len(), so bytes i/2..i/2 + 8 and
        // q[i..i + 16] are in bounds; AVX2 and FMA are enabled.
        unsafe {
            let (x0, x1) = sq4_decode16(codes, i / 2, vmin, vscale);
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q.as_ptr().add(i)), x0, acc0);
            acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q.as_ptr().add(i + 8)), x1, acc1);
        }
        i += 16;
    }
    // SAFETY: AVX2 is enabled for this function.
    let mut sum = unsafe { hsum(_mm256_add_ps(acc0, acc1)) };
    for j in i..n {
        let c = (codes[j / 2] >> (4 * (j % 2))) & 0x0f;
        sum += q[j] * (min + scale * f32::from(c));
    }
    sum
}

/// # Safety
/// The CPU must support AVX2 and FMA; `2 · codes.len() ≥ q.len()`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn sq4_l2_sq(q: &[f32], codes: &[u8], min: f32, scale: f32) -> f32 {
    debug_assert!(2 * codes.len() >= q.len());
    let n = q.len();
    let (vmin, vscale) = (_mm256_set1_ps(min), _mm256_set1_ps(scale));
    let (mut acc0, mut acc1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: as in `sq4_dot`.
        unsafe {
            let (x0, x1) = sq4_decode16(codes, i / 2, vmin, vscale);
            let d0 = _mm256_sub_ps(_mm256_loadu_ps(q.as_ptr().add(i)), x0);
            let d1 = _mm256_sub_ps(_mm256_loadu_ps(q.as_ptr().add(i + 8)), x1);
            acc0 = _mm256_fmadd_ps(d0, d0, acc0);
            acc1 = _mm256_fmadd_ps(d1, d1, acc1);
        }
        i += 16;
    }
    // SAFETY: AVX2 is enabled for this function.
    let mut sum = unsafe { hsum(_mm256_add_ps(acc0, acc1)) };
    for j in i..n {
        let c = (codes[j / 2] >> (4 * (j % 2))) & 0x0f;
        let d = q[j] - (min + scale * f32::from(c));
        sum += d * d;
    }
    sum
}

/// [`super::dot_rows`] four rows at a time: each step loads eight query
/// components once for four rows, against twice per row for one-row dots.
///
/// # Safety
/// The CPU must support AVX2 and FMA; `q.len() > 0` and
/// `out.len() · q.len() == rows.len()`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn dot_rows(q: &[f32], rows: &[f32], out: &mut [f32]) {
    let d = q.len();
    debug_assert!(d > 0 && out.len() * d == rows.len());
    let full = d / 8 * 8;
    let mut r = 0;
    while r + 4 <= out.len() {
        let base = r * d;
        let mut acc = [_mm256_setzero_ps(); 4];
        for i in (0..full).step_by(8) {
            // SAFETY: i + 8 ≤ d, so the query load is in bounds, and row
            // r + k (k < 4, r + 4 ≤ out.len()) spans base + k·d..base +
            // (k + 1)·d ≤ rows.len().
            unsafe {
                let x = _mm256_loadu_ps(q.as_ptr().add(i));
                for (k, a) in acc.iter_mut().enumerate() {
                    let y = _mm256_loadu_ps(rows.as_ptr().add(base + k * d + i));
                    *a = _mm256_fmadd_ps(x, y, *a);
                }
            }
        }
        for (k, a) in acc.iter().enumerate() {
            let row = &rows[base + k * d..base + (k + 1) * d];
            // SAFETY: AVX2 is enabled for this function.
            let mut sum = unsafe { hsum(*a) };
            for i in full..d {
                sum += q[i] * row[i];
            }
            out[r + k] = sum;
        }
        r += 4;
    }
    for (k, o) in out.iter_mut().enumerate().skip(r) {
        // SAFETY: the caller's CPU check covers this kernel too.
        *o = unsafe { dot(q, &rows[k * d..(k + 1) * d]) };
    }
}
