//! A decoded postings block's documents: its stored gaps summed into
//! document ids at once, and the branch-free search a seek inside the
//! block runs over them.

#[cfg(not(target_arch = "x86_64"))]
use crate::codec::lanes;
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

/// [`prefix_sum`] of a full block whose gaps are lane-packed at `width`
/// bits ([`lanes`]), fused with the unpacking: each four values are
/// shifted out of their lane words and summed in the same registers, and
/// stored once. Unpacked separately, the values went to memory and were
/// loaded back for the sums, and where the compiler had unpacked a word
/// crossing value with scalar stores, the sums' 16-byte load waited on
/// them (a failed store forward); decoding was a third of a light phrase
/// query. `None` if `width > 32` or `bytes` is shorter than `16 · width`.
/// The caller checks the last sum, as for [`prefix_sum`].
pub(crate) fn unpack_sum(
    bytes: &[u8],
    width: u8,
    base: u32,
    docs: &mut [u32; BLOCK_SIZE],
) -> Option<()> {
    #[cfg(target_arch = "x86_64")]
    {
        lanes_sse2::decode(bytes, width, lanes_sse2::Sums::new(base, docs)).map(drop)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        lanes::unpack(bytes, width, docs)?;
        prefix_sum(docs, BLOCK_SIZE, base);
        Some(())
    }
}

/// A full block's term frequencies from their lane-packed `tf − 1` codes
/// at `width ≤ 24` bits, and their total, in one pass (as [`unpack_sum`]
/// fuses the documents' unpacking and sums; 128 tfs of at most 2^24 sum
/// below 2^32). `None` for a wider code or short `bytes`.
pub(crate) fn unpack_tfs(bytes: &[u8], width: u8, tfs: &mut [u32; BLOCK_SIZE]) -> Option<u32> {
    if width > 24 {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    {
        lanes_sse2::decode(bytes, width, lanes_sse2::Tfs::new(tfs)).map(|sink| sink.total())
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        lanes::unpack(bytes, width, tfs)?;
        let mut total = 0u32;
        for tf in tfs.iter_mut() {
            *tf += 1;
            total += *tf;
        }
        Some(total)
    }
}

/// The fused lane decoders: a full block's lane words are shifted apart
/// in registers, four values at a time, and handed to a [`Fours`] sink,
/// one decoder per width so that every shift is a constant.
#[cfg(target_arch = "x86_64")]
mod lanes_sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_and_si128, _mm_cvtsi32_si128, _mm_cvtsi128_si32,
        _mm_loadu_si128, _mm_or_si128, _mm_set1_epi32, _mm_setzero_si128, _mm_shuffle_epi32,
        _mm_sll_epi32, _mm_slli_si128, _mm_srl_epi32, _mm_storeu_si128,
    };

    use crate::format::BLOCK_SIZE;

    /// What becomes of each four decoded values.
    pub(super) trait Fours {
        /// Takes values `4v..4v + 4` of the block (`v < 32`), in order.
        fn four(&mut self, v: usize, values: __m128i);
    }

    /// Stores `values` as `out[4v..4v + 4]`.
    #[inline(always)]
    fn store(out: &mut [u32; BLOCK_SIZE], v: usize, values: __m128i) {
        let slot = &mut out[4 * v..4 * v + 4];
        // SAFETY: SSE2 is part of every x86-64 target; the store covers
        // `slot`, four u32s (16 bytes, unaligned access).
        unsafe { _mm_storeu_si128(slot.as_mut_ptr().cast::<__m128i>(), values) }
    }

    /// Gaps summed into documents (see [`super::prefix_sum`]).
    pub(super) struct Sums<'a> {
        out: &'a mut [u32; BLOCK_SIZE],
        /// The previous document, in every lane.
        carry: __m128i,
        ones: __m128i,
    }

    impl<'a> Sums<'a> {
        pub(super) fn new(base: u32, out: &'a mut [u32; BLOCK_SIZE]) -> Sums<'a> {
            let carry = i32::from_ne_bytes(base.wrapping_sub(1).to_ne_bytes());
            // SAFETY: SSE2 is part of every x86-64 target.
            let (carry, ones) = unsafe { (_mm_set1_epi32(carry), _mm_set1_epi32(1)) };
            Sums { out, carry, ones }
        }
    }

    impl Fours for Sums<'_> {
        #[inline(always)]
        fn four(&mut self, v: usize, gaps: __m128i) {
            // SAFETY: SSE2 is part of every x86-64 target.
            let docs = unsafe {
                let mut x = _mm_add_epi32(gaps, self.ones);
                x = _mm_add_epi32(x, _mm_slli_si128::<4>(x));
                x = _mm_add_epi32(x, _mm_slli_si128::<8>(x));
                let docs = _mm_add_epi32(x, self.carry);
                self.carry = _mm_shuffle_epi32::<0xFF>(docs);
                docs
            };
            store(self.out, v, docs);
        }
    }

    /// `tf − 1` codes turned into tfs, and their total.
    pub(super) struct Tfs<'a> {
        out: &'a mut [u32; BLOCK_SIZE],
        total: __m128i,
        ones: __m128i,
    }

    impl<'a> Tfs<'a> {
        pub(super) fn new(out: &'a mut [u32; BLOCK_SIZE]) -> Tfs<'a> {
            // SAFETY: SSE2 is part of every x86-64 target.
            let (total, ones) = unsafe { (_mm_setzero_si128(), _mm_set1_epi32(1)) };
            Tfs { out, total, ones }
        }

        /// The sum of the four lanes' totals (each below 2^32, as is the
        /// sum, for codes of at most 24 bits).
        pub(super) fn total(&self) -> u32 {
            // SAFETY: SSE2 is part of every x86-64 target.
            let total = unsafe {
                let x = _mm_add_epi32(self.total, _mm_shuffle_epi32::<0b01_00_11_10>(self.total));
                let x = _mm_add_epi32(x, _mm_shuffle_epi32::<0b10_11_00_01>(x));
                _mm_cvtsi128_si32(x)
            };
            u32::from_ne_bytes(total.to_ne_bytes())
        }
    }

    impl Fours for Tfs<'_> {
        #[inline(always)]
        fn four(&mut self, v: usize, codes: __m128i) {
            // SAFETY: SSE2 is part of every x86-64 target.
            let tfs = unsafe {
                let tfs = _mm_add_epi32(codes, self.ones);
                self.total = _mm_add_epi32(self.total, tfs);
                tfs
            };
            store(self.out, v, tfs);
        }
    }

    /// Decodes a block packed at `width ≤ 32` bits (at 0, all zeros) from
    /// the first `16 · width` bytes of `bytes` into `sink`, and returns it;
    /// `None` for another width or short `bytes`. The sink is moved in and
    /// out, not borrowed: as a local its state stays in registers, where
    /// behind a reference every store of values reloaded it (the store
    /// might have written it), which put memory on the sums' carry chain.
    pub(super) fn decode<S: Fours>(bytes: &[u8], width: u8, sink: S) -> Option<S> {
        let bytes = bytes.get(..16 * usize::from(width))?;
        macro_rules! dispatch {
            ($($w:literal)*) => {
                match width {
                    0 => Some(zeros(sink)),
                    $($w => Some(decode_width::<$w, S>(bytes, sink)),)*
                    _ => None,
                }
            };
        }
        dispatch!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32)
    }

    /// [`decode`] at width 0: every value is zero.
    fn zeros<S: Fours>(mut sink: S) -> S {
        // SAFETY: SSE2 is part of every x86-64 target.
        let zero = unsafe { _mm_setzero_si128() };
        for v in 0..BLOCK_SIZE / 4 {
            sink.four(v, zero);
        }
        sink
    }

    /// [`decode`] at `W` bits, written out value by value.
    #[inline(always)]
    #[expect(clippy::cast_possible_truncation, reason = "shifts are below 32")]
    fn decode_width<const W: usize, S: Fours>(bytes: &[u8], mut sink: S) -> S {
        if bytes.len() < 16 * W {
            return sink;
        }
        let words = bytes.as_ptr().cast::<__m128i>();
        let mask = i32::from_ne_bytes((u32::MAX >> (32 - W)).to_ne_bytes());
        // SAFETY: SSE2 is part of every x86-64 target. Lane word `k` is
        // the 16 bytes at `16k`; value `V` reads words `V·W/32` and, when
        // it crosses, the next, whose end `16·((V+1)·W/32 + 1)` is within
        // the `16·W` bytes checked above. Loads are unaligned.
        unsafe {
            let mask = _mm_set1_epi32(mask);
            macro_rules! values {
                ($($v:literal)*) => {$({
                    let (k, shift) = (($v * W) / 32, ($v * W) % 32);
                    let mut x = _mm_srl_epi32(
                        _mm_loadu_si128(words.add(k)),
                        _mm_cvtsi32_si128(shift as i32),
                    );
                    if shift + W > 32 {
                        let next = _mm_loadu_si128(words.add(k + 1));
                        x = _mm_or_si128(x, _mm_sll_epi32(next, _mm_cvtsi32_si128((32 - shift) as i32)));
                    }
                    if W < 32 {
                        x = _mm_and_si128(x, mask);
                    }
                    sink.four($v, x);
                })*};
            }
            values!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31);
        }
        sink
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

        /// The fused decoders give the sums of unpacking, then summing,
        /// at every width (sums wrap alike where a width lets them), and
        /// the tfs and total of unpacking, then adding one.
        #[test]
        fn fused_unpack_sum_matches_unpack_then_sum(
            gaps in proptest::collection::vec(proptest::num::u32::ANY, BLOCK_SIZE),
            width in 0u8..=32,
            base in proptest::num::u32::ANY,
        ) {
            let gaps: [u32; BLOCK_SIZE] = gaps.try_into().expect("a full block");
            let mut bytes = Vec::new();
            crate::codec::lanes::pack(&gaps, width, &mut bytes);
            let mut want = [0u32; BLOCK_SIZE];
            crate::codec::lanes::unpack(&bytes, width, &mut want).expect("packed");
            prefix_sum(&mut want, BLOCK_SIZE, base);
            let mut got = [7u32; BLOCK_SIZE];
            proptest::prop_assert!(unpack_sum(&bytes, width, base, &mut got).is_some());
            proptest::prop_assert_eq!(got, want);
            if width > 0 {
                proptest::prop_assert!(unpack_sum(&bytes[1..], width, base, &mut got).is_none());
            }
            // The tfs decoder: codes plus one, and their total.
            let mut tfs = [7u32; BLOCK_SIZE];
            let total = unpack_tfs(&bytes, width, &mut tfs);
            if width > 24 {
                proptest::prop_assert_eq!(total, None);
            } else {
                let mut codes = [0u32; BLOCK_SIZE];
                crate::codec::lanes::unpack(&bytes, width, &mut codes).expect("packed");
                let want: Vec<u32> = codes.iter().map(|&c| c + 1).collect();
                proptest::prop_assert_eq!(tfs.as_slice(), want.as_slice());
                proptest::prop_assert_eq!(total, Some(want.iter().sum::<u32>()));
                if width > 0 {
                    proptest::prop_assert!(unpack_tfs(&bytes[1..], width, &mut tfs).is_none());
                }
            }
        }
    }
}
