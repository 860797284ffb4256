//! Fixed-width bit packing, least-significant bit first.
//!
//! Runs of exactly [`LANE_BLOCK`] values — every full postings block and
//! position group — use the four-lane layout of [`lanes`], which decodes
//! several values per instruction; other runs are sequential, as below.
//!
//! `n` values of `width` bits occupy `packed_len(n, width)` bytes; bit `i` of
//! the stream is bit `i % 8` of byte `i / 8`.

use crate::codec::lanes::{self, LANE_BLOCK};

/// Bits needed to represent `v` (0 for 0).
pub(crate) fn bits_needed(v: u32) -> u8 {
    // At most 32, so the narrowing is lossless.
    u8::try_from(32 - v.leading_zeros()).expect("invariant: at most 32")
}

/// Bytes occupied by `n` values of `width` bits.
pub(crate) fn packed_len(n: usize, width: u8) -> usize {
    (n * usize::from(width)).div_ceil(8)
}

/// Appends `values`, each truncated to its low `width` bits (`width ≤ 32`):
/// exactly 128 values in the lane layout ([`lanes`]), any other count
/// sequentially.
pub(crate) fn pack(values: &[u32], width: u8, out: &mut Vec<u8>) {
    if let Ok(block) = <&[u32; LANE_BLOCK]>::try_from(values) {
        lanes::pack(block, width, out);
        return;
    }
    debug_assert!(width <= 32);
    let mut acc: u64 = 0;
    let mut filled: u32 = 0;
    let mask = if width == 32 {
        u64::from(u32::MAX)
    } else {
        (1u64 << width) - 1
    };
    for &v in values {
        acc |= (u64::from(v) & mask) << filled;
        filled += u32::from(width);
        while filled >= 8 {
            out.push(acc.to_le_bytes()[0]);
            acc >>= 8;
            filled -= 8;
        }
    }
    if filled > 0 {
        out.push(acc.to_le_bytes()[0]);
    }
}

/// Decodes `out.len()` values of `width` bits from `bytes`.
///
/// Whole groups of 8 values (exactly `width` bytes) are decoded by a
/// routine specialised per width, so shifts and masks are constants; the
/// remainder reads each value from a zero-padded 8-byte window (a value
/// spans at most 7 + 32 bits).
///
/// Returns `None` if `width > 32` or `bytes` is shorter than
/// `packed_len(out.len(), width)`.
pub(crate) fn unpack(bytes: &[u8], width: u8, out: &mut [u32]) -> Option<()> {
    if width > 32 || bytes.len() < packed_len(out.len(), width) {
        return None;
    }
    if let Ok(block) = <&mut [u32; LANE_BLOCK]>::try_from(&mut *out) {
        return lanes::unpack(bytes, width, block);
    }
    let groups = out.len() / 8;
    let (head, tail) = out.split_at_mut(groups * 8);
    macro_rules! dispatch {
        ($($w:literal)*) => {
            match width {
                0 => head.fill(0),
                $($w => unpack_groups::<$w>(bytes, head),)*
                _ => unpack_tail(bytes, width, 0, head),
            }
        };
    }
    dispatch!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);
    unpack_tail(bytes, width, groups * 8 * usize::from(width), tail);
    Some(())
}

/// Decodes `out.len() / 8` groups of 8 values of `W` bits, one group per
/// `W` bytes of `bytes`.
#[expect(
    clippy::cast_possible_truncation,
    reason = "values are masked to at most 32 bits"
)]
fn unpack_groups<const W: usize>(bytes: &[u8], out: &mut [u32]) {
    let mask = u64::from(u32::MAX) >> (32 - W);
    for (values, src) in out.chunks_exact_mut(8).zip(bytes.chunks_exact(W)) {
        let mut buf = [0u8; 40];
        buf[..W].copy_from_slice(src);
        for (j, value) in values.iter_mut().enumerate() {
            let bit = j * W;
            let at = bit / 8;
            let word = u64::from_le_bytes([
                buf[at],
                buf[at + 1],
                buf[at + 2],
                buf[at + 3],
                buf[at + 4],
                buf[at + 5],
                buf[at + 6],
                buf[at + 7],
            ]);
            *value = ((word >> (bit % 8)) & mask) as u32;
        }
    }
}

/// Value `i` of a run of `n` values of `width` bits at the start of
/// `bytes` (bits past the end of `bytes` read as zero), in the layout
/// [`pack`] chose for `n`: for reading a single entry without decoding its
/// block.
#[expect(
    clippy::cast_possible_truncation,
    reason = "values are masked to at most 32 bits"
)]
pub(crate) fn get(bytes: &[u8], width: u8, n: usize, i: usize) -> u32 {
    if n == LANE_BLOCK {
        return lanes::get(bytes, width, i);
    }
    if width == 0 || width > 32 {
        return 0;
    }
    let mask = u64::from(u32::MAX) >> (32 - width);
    let bit = i * usize::from(width);
    let at = bit >> 3;
    let mut window = [0u8; 8];
    match bytes.get(at..at + 8) {
        Some(full) => window.copy_from_slice(full),
        None => {
            let tail = bytes.get(at..).unwrap_or_default();
            let n = tail.len().min(8);
            window[..n].copy_from_slice(&tail[..n]);
        }
    }
    ((u64::from_le_bytes(window) >> (bit & 7)) & mask) as u32
}

/// Decodes `out.len()` values of `width` bits starting at stream bit `bit`.
#[expect(
    clippy::cast_possible_truncation,
    reason = "values are masked to at most 32 bits"
)]
fn unpack_tail(bytes: &[u8], width: u8, mut bit: usize, out: &mut [u32]) {
    if width == 0 {
        out.fill(0);
        return;
    }
    let mask = u64::from(u32::MAX) >> (32 - width);
    for slot in out {
        let at = bit >> 3;
        let mut window = [0u8; 8];
        let tail = bytes.get(at..).unwrap_or_default();
        let n = tail.len().min(8);
        window[..n].copy_from_slice(&tail[..n]);
        *slot = ((u64::from_le_bytes(window) >> (bit & 7)) & mask) as u32;
        bit += usize::from(width);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_width() {
        for width in 0..=32u8 {
            let max = if width == 32 {
                u32::MAX
            } else {
                (1u32 << width).wrapping_sub(1)
            };
            let values: Vec<u32> = (0..131u32)
                .map(|i| i.wrapping_mul(2_654_435_761) & max)
                .collect();
            let mut bytes = Vec::new();
            pack(&values, width, &mut bytes);
            assert_eq!(bytes.len(), packed_len(values.len(), width));
            let mut back = vec![0; values.len()];
            unpack(&bytes, width, &mut back).expect("enough bytes");
            assert_eq!(back, values, "width {width}");
            if !bytes.is_empty() {
                assert!(unpack(&bytes[..bytes.len() - 1], width, &mut back).is_none());
            }
        }
        assert_eq!(bits_needed(0), 0);
        assert_eq!(bits_needed(1), 1);
        assert_eq!(bits_needed(u32::MAX), 32);
    }

    proptest::proptest! {
        #[test]
        fn round_trips_random(values in proptest::collection::vec(proptest::num::u32::ANY, 0..300), width in 0u8..=32) {
            let mask = if width == 32 { u32::MAX } else { (1u32 << width).wrapping_sub(1) };
            let values: Vec<u32> = values.into_iter().map(|v| v & mask).collect();
            let mut bytes = Vec::new();
            pack(&values, width, &mut bytes);
            let mut back = vec![0; values.len()];
            proptest::prop_assert!(unpack(&bytes, width, &mut back).is_some());
            proptest::prop_assert_eq!(&back, &values);
            for (i, v) in values.iter().enumerate() {
                proptest::prop_assert_eq!(get(&bytes, width, values.len(), i), *v);
            }
            // Trailing bytes (the next packed run) must not leak in.
            bytes.extend_from_slice(&[0xFF; 9]);
            proptest::prop_assert!(unpack(&bytes, width, &mut back).is_some());
            proptest::prop_assert_eq!(back, values);
        }
    }
}
