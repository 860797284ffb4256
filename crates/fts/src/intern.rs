//! Interning the builder's terms: each distinct term gets a dense id, its
//! bytes stored once in an arena.
//!
//! Indexing looks up every token, so this table is the builder's hottest
//! structure. A general map keyed by `String` allocates per term and drags
//! each term's postings through the cache on every probe; here a probe
//! touches one 16-byte slot: a 32-bit hash tag, the id, and the term itself
//! when it is at most 7 bytes (most words), so those never reach the arena.
//! Longer keys are compared in the arena only when tags match. The hash is a multiply-rotate over eight
//! bytes at a time with a final avalanche — not flood-resistant, which a
//! region built from the caller's own column does not need.

/// An odd constant with well-spread bits (2^64 / golden ratio).
const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// Up to 7 bytes as a little-endian word, by shifts: a variable-length
/// copy would be a `memcpy` call, costlier than the hash itself.
fn load_partial(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0u64, |word, &b| word << 8 | u64::from(b))
}

pub(crate) fn hash(bytes: &[u8]) -> u64 {
    let mut h = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = (h.rotate_left(23) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        h = (h.rotate_left(23) ^ load_partial(rest)).wrapping_mul(K);
    }
    // Avalanche so the low bits (the slot) depend on every input bit.
    h ^= h >> 32;
    h = h.wrapping_mul(K);
    h ^ (h >> 29)
}

/// The slot a probe for a term hashing to `h` starts at, in a table of
/// `slots` slots (a power of two).
fn home(h: u64, slots: usize) -> usize {
    usize::try_from(h & 0xFFFF_FFFF).unwrap_or(0) & slots.saturating_sub(1)
}

/// Distinct terms with dense ids in insertion order.
#[derive(Default)]
pub(crate) struct Interner {
    arena: Vec<u8>,
    /// `(start, len)` of each id's bytes in `arena`.
    spans: Vec<(usize, usize)>,
    /// Open addressing: `[tag << 32 | (id + 1), short key]`, `[0, _]` when
    /// empty.
    slots: Vec<[u64; 2]>,
}

/// The term inline when it has at most 7 bytes (its bytes and its length
/// in the top byte, so equal words mean equal terms), else `u64::MAX`
/// (never a short key: its top byte would be a length of 255).
fn short_key(term: &[u8]) -> u64 {
    if term.len() > 7 {
        return u64::MAX;
    }
    load_partial(term) | (term.len() as u64) << 56
}

impl Interner {
    /// Number of distinct terms.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// The bytes of term `id`.
    pub(crate) fn get(&self, id: u32) -> &[u8] {
        let (start, len) = self.spans[id as usize];
        &self.arena[start..start + len]
    }

    /// The id of `term` and whether it was new, or `None` when the id space
    /// (`u32`) is exhausted.
    #[cfg(test)]
    pub(crate) fn intern(&mut self, term: &[u8]) -> Option<(u32, bool)> {
        self.intern_hashed(term, hash(term))
    }

    /// Starts loading the slot a probe for `h` begins at: a probe is a
    /// cache miss once the table outgrows the cache, and a document's
    /// terms are hashed ahead so their misses overlap.
    pub(crate) fn prefetch(&self, h: u64) {
        if let Some(slot) = self.slots.get(home(h, self.slots.len())) {
            crate::prefetch::prefetch(std::ptr::from_ref(slot));
        }
    }

    /// [`intern`](Self::intern) with the term's [`hash`] `h` given.
    pub(crate) fn intern_hashed(&mut self, term: &[u8], h: u64) -> Option<(u32, bool)> {
        if (self.spans.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let tag = h >> 32;
        let key = short_key(term);
        let mask = self.slots.len() - 1;
        let mut at = home(h, self.slots.len());
        loop {
            let [slot, slot_key] = self.slots[at];
            if slot == 0 {
                break;
            }
            if slot >> 32 == tag && slot_key == key {
                let id = u32::try_from((slot & 0xFFFF_FFFF) - 1).ok()?;
                if key != u64::MAX || self.get(id) == term {
                    return Some((id, false));
                }
            }
            at = (at + 1) & mask;
        }
        let id = u32::try_from(self.spans.len())
            .ok()
            .filter(|&id| id < u32::MAX)?;
        self.spans.push((self.arena.len(), term.len()));
        self.arena.extend_from_slice(term);
        self.slots[at] = [tag << 32 | (u64::from(id) + 1), key];
        Some((id, true))
    }

    /// Doubles the table (at most half full) and re-inserts every id.
    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(64);
        let mut slots = vec![[0u64; 2]; size];
        let mask = size - 1;
        for (id, &(start, len)) in self.spans.iter().enumerate() {
            let term = &self.arena[start..start + len];
            let h = hash(term);
            let mut at = home(h, size);
            while slots[at][0] != 0 {
                at = (at + 1) & mask;
            }
            slots[at] = [(h >> 32) << 32 | (id as u64 + 1), short_key(term)];
        }
        self.slots = slots;
    }

    /// Ids in byte order of their terms.
    ///
    /// Sorted by each term's first eight bytes as a big-endian word (zero
    /// padded, so word order is byte order), then by the whole term where
    /// those tie: most comparisons are then one register compare instead
    /// of two arena reads.
    pub(crate) fn sorted_ids(&self) -> Vec<u32> {
        let mut keyed: Vec<(u64, u32)> = self
            .spans
            .iter()
            .zip(0..u32::MAX)
            .map(|(&(start, len), id)| {
                let mut head = [0u8; 8];
                let take = len.min(8);
                head[..take].copy_from_slice(&self.arena[start..start + take]);
                (u64::from_be_bytes(head), id)
            })
            .collect();
        keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| self.get(a.1).cmp(self.get(b.1))));
        keyed.into_iter().map(|(_, id)| id).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    proptest::proptest! {
        #[test]
        fn interns_like_a_map(terms in proptest::collection::vec("[a-d\\x00]{0,10}", 0..400)) {
            let mut interner = Interner::default();
            let mut model: HashMap<String, u32> = HashMap::new();
            for term in &terms {
                let next = u32::try_from(model.len()).expect("small");
                let want = *model.entry(term.clone()).or_insert(next);
                let (id, new) = interner.intern(term.as_bytes()).expect("ids left");
                proptest::prop_assert_eq!(id, want);
                proptest::prop_assert_eq!(new, want == next);
                proptest::prop_assert_eq!(interner.get(id), term.as_bytes());
            }
            proptest::prop_assert_eq!(interner.len(), model.len());
            let sorted: Vec<&[u8]> = interner.sorted_ids().into_iter().map(|id| interner.get(id)).collect();
            proptest::prop_assert!(sorted.windows(2).all(|w| w[0] < w[1]));
        }
    }
}
