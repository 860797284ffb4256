//! A fast, non-cryptographic hasher for the builder's term map.
//!
//! The standard SipHash resists hash flooding, which a term map built from
//! one column of a file the caller writes does not need, and it costs more
//! per token than the rest of indexing a short word. This multiply-rotate
//! hash reads eight bytes per step.

use std::hash::{BuildHasherDefault, Hasher};

/// An odd constant with well-spread bits (2^64 / golden ratio).
const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// The builder's hasher; see the module docs.
#[derive(Default, Clone, Copy)]
pub(crate) struct TermHasher(u64);

impl TermHasher {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for TermHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }

    fn finish(&self) -> u64 {
        // Fold the well-mixed high bits into the low ones, which pick the
        // bucket.
        self.0 ^ (self.0 >> 29)
    }
}

/// `HashMap` state using [`TermHasher`].
pub(crate) type BuildTermHasher = BuildHasherDefault<TermHasher>;
