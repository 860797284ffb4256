//! A decoded postings block's documents: its stored gaps summed into
//! document ids at once, and the branch-free search a seek inside the
//! block runs over them.

use crate::format::BLOCK_SIZE;
use crate::postings::TERMINATED;

/// Turns `n` stored gaps into documents from `base` (each is the previous
/// document + 1 + gap, the first `base` + gap), and pads the entries past
/// `n` with [`TERMINATED`] so a search over all 128 stops inside the block.
/// Sums are taken modulo 2^32: the caller checks the last one (a block
/// whose span is below 2^32 wrapped iff its last sum is below `base`).
#[inline]
pub(crate) fn prefix_sum(docs: &mut [u32; BLOCK_SIZE], n: usize, base: u32) {
    #[cfg(target_arch = "x86_64")]
    prefix_sum_sse2(docs, base);
    #[cfg(not(target_arch = "x86_64"))]
    {
        let mut prev = base.wrapping_sub(1);
        for slot in docs.iter_mut() {
            prev = prev.wrapping_add(*slot).wrapping_add(1);
            *slot = prev;
        }
    }
    docs[n..].fill(TERMINATED);
}

/// [`prefix_sum`] four entries per instruction (SSE2 is part of every
/// x86-64): a scan within each four by two shifted adds, then the previous
/// four's last sum added. The scalar loop is one serial add per entry,
/// which the compiler does not vectorize, and it was the larger part of
/// decoding a block.
#[cfg(target_arch = "x86_64")]
#[inline]
fn prefix_sum_sse2(docs: &mut [u32; BLOCK_SIZE], base: u32) {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_loadu_si128, _mm_set1_epi32, _mm_shuffle_epi32, _mm_slli_si128,
        _mm_storeu_si128,
    };
    let carry = i32::from_ne_bytes(base.wrapping_sub(1).to_ne_bytes());
    // SAFETY: SSE2 is enabled on every x86-64 target, and each load and
    // store covers one `chunk` of four u32s (16 bytes, unaligned access).
    unsafe {
        let ones = _mm_set1_epi32(1);
        let mut carry = _mm_set1_epi32(carry);
        for chunk in docs.chunks_exact_mut(4) {
            let at = chunk.as_mut_ptr().cast::<__m128i>();
            let mut x = _mm_add_epi32(_mm_loadu_si128(at), ones);
            x = _mm_add_epi32(x, _mm_slli_si128::<4>(x));
            x = _mm_add_epi32(x, _mm_slli_si128::<8>(x));
            x = _mm_add_epi32(x, carry);
            _mm_storeu_si128(at, x);
            carry = _mm_shuffle_epi32::<0xFF>(x);
        }
    }
}

/// Index of the first of the 128 increasing `docs` that is `≥ target`
/// (the last is, so the answer is inside): an 8-ary search whose rounds
/// (128 → 16 → 2 → 1) each compare seven pivots independently and add up
/// the results, with no branch on the data — a binary search's branches
/// mispredict about half the time, and a linear scan's exit once per seek.
#[inline(always)]
pub(crate) fn kary_search(docs: &[u32; BLOCK_SIZE], target: u32) -> usize {
    let mut base = 0;
    let mut step = BLOCK_SIZE / 8;
    while step > 0 {
        let mut below = 0;
        for k in 1..8 {
            below += usize::from(docs[base + k * step - 1] < target);
        }
        base += below * step;
        step /= 8;
    }
    // 128 → 16 → 2: two entries left.
    base + usize::from(docs[base] < target)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Sums match a running sum, entries past `n` are TERMINATED, and
        /// the search finds the first entry `≥ target` for every target up
        /// to the last document.
        #[test]
        fn sums_and_search_match_a_scan(
            gaps in proptest::collection::vec(0u32..1000, 1..=BLOCK_SIZE),
            base in 0u32..1_000_000,
        ) {
            let n = gaps.len();
            let mut docs = [7u32; BLOCK_SIZE];
            docs[..n].copy_from_slice(&gaps);
            prefix_sum(&mut docs, n, base);
            let mut want = Vec::with_capacity(n);
            let mut prev = u64::from(base);
            for (i, &gap) in gaps.iter().enumerate() {
                prev += u64::from(gap) + u64::from(i > 0);
                want.push(u32::try_from(prev).expect("small"));
            }
            proptest::prop_assert_eq!(&docs[..n], want.as_slice());
            proptest::prop_assert!(docs[n..].iter().all(|&d| d == TERMINATED));
            let last = want[n - 1];
            let probes = want.iter().flat_map(|&d| [d.saturating_sub(1), d, d.saturating_add(1)]);
            for target in probes.chain([0, base]).filter(|&t| t <= last) {
                let expected = want.iter().position(|&d| d >= target).expect("≤ last");
                proptest::prop_assert_eq!(kary_search(&docs, target), expected);
            }
        }
    }
}
