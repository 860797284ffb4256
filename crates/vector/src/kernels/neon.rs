//! NEON kernels for aarch64.
//!
//! NEON is part of the aarch64 baseline, but the functions still carry the
//! target feature so the compiler may use it regardless of build flags.
//! Whether the non-pointer intrinsics are `unsafe` to call differs between
//! toolchains, so each body is one `unsafe` block that tolerates being
//! unnecessary.

use std::arch::aarch64::{vaddq_f32, vaddvq_f32, vdupq_n_f32, vfmaq_f32, vld1q_f32, vsubq_f32};

/// # Safety
/// The CPU must support NEON; `a.len() == b.len()`.
#[target_feature(enable = "neon")]
#[allow(unused_unsafe, reason = "intrinsic safety differs between toolchains")]
pub(super) unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len();
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut i = 0;
    // SAFETY: NEON is enabled for this function; every load reads 4 lanes
    // at i or i + 4 with i + 8 ≤ n = a.len() = b.len(), so it is in bounds,
    // and vld1q has no alignment requirement.
    let mut sum = unsafe {
        let mut acc0 = vdupq_n_f32(0.0);
        let mut acc1 = vdupq_n_f32(0.0);
        while i + 8 <= n {
            acc0 = vfmaq_f32(acc0, vld1q_f32(pa.add(i)), vld1q_f32(pb.add(i)));
            acc1 = vfmaq_f32(acc1, vld1q_f32(pa.add(i + 4)), vld1q_f32(pb.add(i + 4)));
            i += 8;
        }
        vaddvq_f32(vaddq_f32(acc0, acc1))
    };
    for j in i..n {
        sum += a[j] * b[j];
    }
    sum
}

/// # Safety
/// The CPU must support NEON; `a.len() == b.len()`.
#[target_feature(enable = "neon")]
#[allow(unused_unsafe, reason = "intrinsic safety differs between toolchains")]
pub(super) unsafe fn l2_sq(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len();
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut i = 0;
    // SAFETY: as in `dot`.
    let mut sum = unsafe {
        let mut acc0 = vdupq_n_f32(0.0);
        let mut acc1 = vdupq_n_f32(0.0);
        while i + 8 <= n {
            let d0 = vsubq_f32(vld1q_f32(pa.add(i)), vld1q_f32(pb.add(i)));
            let d1 = vsubq_f32(vld1q_f32(pa.add(i + 4)), vld1q_f32(pb.add(i + 4)));
            acc0 = vfmaq_f32(acc0, d0, d0);
            acc1 = vfmaq_f32(acc1, d1, d1);
            i += 8;
        }
        vaddvq_f32(vaddq_f32(acc0, acc1))
    };
    for j in i..n {
        let d = a[j] - b[j];
        sum += d * d;
    }
    sum
}
