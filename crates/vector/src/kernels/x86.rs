//! AVX2 + FMA and POPCNT kernels for x86_64.
//!
//! Every function here is `unsafe` because it is compiled for CPU features
//! the baseline target lacks; callers must check the features first.

use std::arch::x86_64::{
    __m256, _mm_add_ps, _mm_add_ss, _mm_cvtss_f32, _mm_movehl_ps, _mm_shuffle_ps, _mm256_add_ps,
    _mm256_castps256_ps128, _mm256_extractf128_ps, _mm256_fmadd_ps, _mm256_loadu_ps,
    _mm256_setzero_ps, _mm256_sub_ps,
};

pub(super) fn has_avx2_fma() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

pub(super) fn has_popcnt() -> bool {
    is_x86_feature_detected!("popcnt")
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
