//! Term bloom filters: which superfiles may hold a term, from the manifest
//! alone.
//!
//! A query whose every positive term is absent from a file can neither
//! match in it nor add to its terms' document frequencies, so the file is
//! skipped without a single request and the table-wide statistics stay
//! exact. Filters use about 10 bits per distinct term (≈1 % false
//! positives) up to [`MAX_BITS`], so the manifest stays bounded; files with
//! larger vocabularies get more false positives, never false negatives.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Upper bound on a filter's size (8 KiB).
pub(crate) const MAX_BITS: u64 = 1 << 16;
const BITS_PER_TERM: u64 = 10;
const HASHES: u64 = 7;

/// A bloom filter over terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TermBloom {
    words: Vec<u64>,
}

impl TermBloom {
    /// An empty filter sized for `terms` distinct terms.
    pub(crate) fn with_capacity(terms: u64) -> Self {
        let bits = (terms.max(1) * BITS_PER_TERM)
            .clamp(64, MAX_BITS)
            .next_power_of_two();
        Self {
            words: vec![0; usize::try_from(bits / 64).unwrap_or(1)],
        }
    }

    fn bit_positions(&self, term: &[u8]) -> impl Iterator<Item = u64> + use<> {
        let bits = self.words.len() as u64 * 64;
        let h1 = fnv1a(term);
        let h2 = splitmix(h1) | 1;
        (0..HASHES).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) & (bits - 1))
    }

    pub(crate) fn insert(&mut self, term: &[u8]) {
        for bit in self.bit_positions(term) {
            self.words[usize::try_from(bit / 64).unwrap_or(0)] |= 1 << (bit % 64);
        }
    }

    /// False means certainly absent.
    pub(crate) fn may_contain(&self, term: &[u8]) -> bool {
        self.bit_positions(term)
            .all(|bit| self.words[usize::try_from(bit / 64).unwrap_or(0)] & (1 << (bit % 64)) != 0)
    }

    pub(crate) fn encode(&self) -> String {
        let bytes: Vec<u8> = self.words.iter().flat_map(|w| w.to_le_bytes()).collect();
        STANDARD.encode(bytes)
    }

    /// `None` for text that is not a filter of a power-of-two size.
    pub(crate) fn decode(text: &str) -> Option<Self> {
        let bytes = STANDARD.decode(text).ok()?;
        if bytes.is_empty() || bytes.len() % 8 != 0 || !(bytes.len() / 8).is_power_of_two() {
            return None;
        }
        let words = bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        Some(Self { words })
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let mut bloom = TermBloom::with_capacity(5_000);
        for i in 0..5_000 {
            bloom.insert(format!("term{i}").as_bytes());
        }
        let decoded = TermBloom::decode(&bloom.encode()).expect("round trip");
        assert_eq!(decoded, bloom);
        assert!((0..5_000).all(|i| decoded.may_contain(format!("term{i}").as_bytes())));
        let false_positives = (0..10_000)
            .filter(|i| decoded.may_contain(format!("other{i}").as_bytes()))
            .count();
        assert!(
            false_positives < 300,
            "{false_positives} false positives in 10,000"
        );
        assert!(TermBloom::decode("not base64!").is_none());
        assert!(TermBloom::decode(&STANDARD.encode([0u8; 24])).is_none());
    }
}
