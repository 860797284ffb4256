//! One-byte document-length norms.
//!
//! Lengths 0..=39 are exact. Above, byte `b = 40 + c` decodes to
//! `32 + ((8 + (c & 7)) << (c >> 3))`: three explicit mantissa bits under an
//! implicit leading one, so each step is at most 12.5 % of the value. The
//! largest byte, 255, decodes to 1,006,632,992; longer documents saturate to
//! it. Encoding rounds down: a length maps to the largest byte whose decoded
//! value does not exceed it, and `decode(encode(n)) ≤ n`, with equality for
//! every `n < 40`.

/// Lengths (and tf codes) below this are stored exactly.
pub(crate) const EXACT: u8 = 40;

const fn decode_const(b: u8) -> u32 {
    let exact = EXACT as u32;
    if (b as u32) < exact {
        b as u32
    } else {
        let c = b as u32 - exact;
        exact - 8 + ((8 + (c & 7)) << (c >> 3))
    }
}

#[expect(clippy::cast_possible_truncation, reason = "i < 256 in a const fn")]
const fn build_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = decode_const(i as u8);
        i += 1;
    }
    table
}

/// Decoded length of every norm byte; strictly increasing.
pub(crate) const DECODE: [u32; 256] = build_table();

/// Encodes a document length (token count) into its norm byte.
pub fn encode_norm(len: u32) -> u8 {
    if let Ok(small) = u8::try_from(len)
        && small < EXACT
    {
        return small;
    }
    // partition_point gives the count of entries ≤ len, at least 1 (DECODE[0] = 0).
    let index = DECODE.partition_point(|&v| v <= len) - 1;
    u8::try_from(index).expect("invariant: index < 256")
}

/// Decodes a norm byte into the document length BM25 uses.
pub fn decode_norm(norm: u8) -> u32 {
    DECODE[usize::from(norm)]
}

/// The length BM25 sees for a document of `len` tokens:
/// `decode_norm(encode_norm(len))`. Oracles apply this to match the index.
pub fn quantize_doc_len(len: u32) -> u32 {
    decode_norm(encode_norm(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_increasing_and_encoding_rounds_down() {
        assert!(DECODE.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(DECODE[255], 1_006_632_992);
        for n in 0..u32::from(EXACT) {
            assert_eq!(quantize_doc_len(n), n);
        }
        for n in (0..5_000_000u32)
            .step_by(97)
            .chain([u32::MAX, 1_006_632_992, 1_006_632_991])
        {
            let q = quantize_doc_len(n);
            assert!(q <= n);
            let b = encode_norm(n);
            if b < 255 {
                assert!(decode_norm(b + 1) > n);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn quantization_is_monotone_and_close(a in proptest::num::u32::ANY, b in proptest::num::u32::ANY) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            proptest::prop_assert!(encode_norm(lo) <= encode_norm(hi));
            let q = quantize_doc_len(hi);
            proptest::prop_assert!(q <= hi);
            if hi <= DECODE[255] {
                // Within one mantissa step (12.5 %) below the length.
                proptest::prop_assert!(u64::from(hi - q) * 8 <= u64::from(hi));
            }
            proptest::prop_assert_eq!(encode_norm(decode_norm(encode_norm(hi))), encode_norm(hi));
        }
    }
}
