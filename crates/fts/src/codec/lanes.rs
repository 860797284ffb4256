//! Full blocks of 128 values in four interleaved lanes, so unpacking runs
//! four values per vector instruction.
//!
//! Value `i` belongs to lane `i % 4` as that lane's value `i / 4`. Each lane
//! packs its 32 values least-significant bit first into `width` u32 words,
//! and the output interleaves the lanes word by word: bytes `16k..16k+16`
//! are word `k` of lanes 0, 1, 2, 3, each little-endian. A block is
//! `16 · width` bytes — as long as the sequential layout — and decoding is
//! the same shifts and masks on all four lanes at once, with every shift a
//! constant once the width is. (The idea is the SIMD-BP128 layout of
//! Lemire and Boytsov; this is our own portable version, vectorized by the
//! compiler.)

/// Values per lane-packed block.
pub(crate) const LANE_BLOCK: usize = 128;

/// Appends `values` packed at `width` bits (`width ≤ 32`; higher bits are
/// dropped).
pub(crate) fn pack(values: &[u32; LANE_BLOCK], width: u8, out: &mut Vec<u8>) {
    let w = usize::from(width.min(32));
    if w == 0 {
        return;
    }
    let mut words = vec![[0u32; 4]; w];
    for v in 0..LANE_BLOCK / 4 {
        let bit = v * w;
        let (word, shift) = (bit / 32, bit % 32);
        for lane in 0..4 {
            let value = u64::from(values[v * 4 + lane]) & (u64::from(u32::MAX) >> (32 - w));
            let spread = value << shift;
            words[word][lane] |= low32(spread);
            if shift + w > 32 {
                words[word + 1][lane] |= low32(spread >> 32);
            }
        }
    }
    for word in words {
        for lane in word {
            out.extend_from_slice(&lane.to_le_bytes());
        }
    }
}

#[expect(clippy::cast_possible_truncation, reason = "keeps the low 32 bits")]
fn low32(v: u64) -> u32 {
    v as u32
}

/// Decodes a block packed at `width` bits from the start of `bytes`;
/// `None` if `width > 32` or `bytes` is shorter than `16 · width`.
pub(crate) fn unpack(bytes: &[u8], width: u8, out: &mut [u32; LANE_BLOCK]) -> Option<()> {
    let len = 16 * usize::from(width);
    let bytes = bytes.get(..len)?;
    macro_rules! dispatch {
        ($($w:literal)*) => {
            match width {
                0 => out.fill(0),
                $($w => unpack_width::<$w>(bytes, out),)*
                _ => return None,
            }
        };
    }
    dispatch!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);
    Some(())
}

/// Lane words `k` of all four lanes: one bounds check and one 16-byte
/// load (a closure per lane was left uninlined in the hot decode loop).
#[inline(always)]
fn word(bytes: &[u8], k: usize) -> [u32; 4] {
    let chunk = &bytes[16 * k..16 * k + 16];
    let mut out = [0u32; 4];
    for (slot, b) in out.iter_mut().zip(chunk.chunks_exact(4)) {
        *slot = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
    out
}

/// Value `V` of all four lanes at width `W`: the word it starts in, shifted,
/// joined with the next word's low bits when it crosses into it. `V` and `W`
/// are constants, so every shift is one and the crossing test folds away.
#[inline(always)]
fn lane_values<const W: usize, const V: usize>(bytes: &[u8]) -> [u32; 4] {
    let mask = u32::MAX >> (32 - W);
    let (k, shift) = ((V * W) / 32, (V * W) % 32);
    let mut value = word(bytes, k).map(|x| x >> shift);
    if shift + W > 32 {
        for (slot, n) in value.iter_mut().zip(word(bytes, k + 1)) {
            *slot |= n << (32 - shift);
        }
    }
    value.map(|x| x & mask)
}

/// The decoder for one width, written out value by value: a loop over the
/// 32 values was compiled rolled, with the shift in a register and a branch
/// per word.
#[inline(always)]
fn unpack_width<const W: usize>(bytes: &[u8], out: &mut [u32; LANE_BLOCK]) {
    // The caller passes 16·W bytes; checking again lets the compiler drop
    // the loads' own checks.
    if bytes.len() < 16 * W {
        return;
    }
    macro_rules! values {
        ($($v:literal)*) => {
            $(out[$v * 4..$v * 4 + 4].copy_from_slice(&lane_values::<W, $v>(bytes));)*
        };
    }
    values!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31);
}

/// Value `i` of a block packed at `width` bits (0 past the end of
/// `bytes`).
pub(crate) fn get(bytes: &[u8], width: u8, i: usize) -> u32 {
    let w = usize::from(width);
    if w == 0 || w > 32 || i >= LANE_BLOCK {
        return 0;
    }
    let (lane, v) = (i % 4, i / 4);
    let bit = v * w;
    let (k, shift) = (bit / 32, bit % 32);
    let read = |k: usize| {
        let at = 16 * k + 4 * lane;
        bytes.get(at..at + 4).map_or(0, |b| {
            u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        })
    };
    let joined = read(k) | (read(k + 1) << 32);
    low32((joined >> shift) & (u64::from(u32::MAX) >> (32 - w)))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn round_trips_every_width(seed in proptest::num::u32::ANY, width in 0u8..=32) {
            let mask = if width == 0 { 0 } else { u32::MAX >> (32 - width) };
            let values: [u32; LANE_BLOCK] = std::array::from_fn(|i| {
                (u32::try_from(i).expect("small").wrapping_mul(2_654_435_761) ^ seed) & mask
            });
            let mut bytes = Vec::new();
            pack(&values, width, &mut bytes);
            proptest::prop_assert_eq!(bytes.len(), 16 * usize::from(width));
            let mut back = [0u32; LANE_BLOCK];
            proptest::prop_assert!(unpack(&bytes, width, &mut back).is_some());
            proptest::prop_assert_eq!(back, values);
            for (i, v) in values.iter().enumerate() {
                proptest::prop_assert_eq!(get(&bytes, width, i), *v);
            }
            if width > 0 {
                proptest::prop_assert!(unpack(&bytes[..bytes.len() - 1], width, &mut back).is_none());
            }
        }
    }
}
