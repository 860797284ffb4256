//! Score bounds as a few `(tf, norm)` pairs.
//!
//! BM25 is non-decreasing in tf and non-increasing in document length, so a
//! document is bounded by any pair with at least its tf and at most its norm
//! byte. Statistics are table-wide and the parameters are the caller's, so
//! no precomputed float can bound a block; a pair can, for every `k1`, `b`,
//! IDF and average length. One pair `(max tf, min norm)` is loose when the
//! block's largest tf sits in a long document and its shortest document has
//! tf 1; up to [`MAX_PAIRS`] points of the block's Pareto frontier keep the
//! bound close to the best document's real score.
//!
//! Term frequencies are stored as one-byte codes that round *up* (the bound
//! only loosens): codes 0..=254 decode like norm bytes, 255 to `u32::MAX`.

use crate::codec::norm::{DECODE, EXACT};

/// Pairs kept per bound.
pub(crate) const MAX_PAIRS: usize = 3;

/// The tf a code stands for; `u32::MAX` for 255.
pub(crate) fn decode_tf(code: u8) -> u32 {
    if code == u8::MAX {
        u32::MAX
    } else {
        DECODE[usize::from(code)]
    }
}

/// The smallest code whose tf is at least `tf`.
pub(crate) fn encode_tf(tf: u32) -> u8 {
    // Codes below 40 are exact (as norm bytes are), and most tfs are small.
    if let Ok(small) = u8::try_from(tf)
        && small < EXACT
    {
        return small;
    }
    let index = DECODE[..255].partition_point(|&v| v < tf);
    u8::try_from(index).unwrap_or(u8::MAX)
}

/// Up to [`MAX_PAIRS`] `(tf, norm byte)` pairs dominating every document of
/// a block or term: each document has `tf ≤ pair.tf` and `norm ≥ pair.norm`
/// for at least one pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Bound {
    pairs: [(u32, u8); MAX_PAIRS],
    len: u8,
}

impl Bound {
    /// A bound of exactly one pair.
    pub(crate) fn single(tf: u32, norm: u8) -> Bound {
        Bound {
            pairs: [(tf, norm); MAX_PAIRS],
            len: 1,
        }
    }

    /// A bound from encoded `(tf code, norm)` pairs (1..=MAX_PAIRS of them).
    pub(crate) fn from_codes(codes: &[(u8, u8)]) -> Option<Bound> {
        if codes.is_empty() || codes.len() > MAX_PAIRS {
            return None;
        }
        // Repeated pairs (unused skip-entry slots) are kept once, so a
        // bound costs one score per distinct pair.
        let mut pairs = [(0, 0); MAX_PAIRS];
        let mut len = 0;
        for &(tf, norm) in codes {
            let pair = (decode_tf(tf), norm);
            if !pairs[..len].contains(&pair) {
                pairs[len] = pair;
                len += 1;
            }
        }
        Some(Bound {
            pairs,
            len: u8::try_from(len).ok()?,
        })
    }

    /// The pairs.
    pub(crate) fn pairs(&self) -> &[(u32, u8)] {
        &self.pairs[..usize::from(self.len)]
    }

    /// Whether a document with `tf` and norm byte `norm` is dominated.
    /// Every pair slot: the pairs, then `(0, 0)` (or repeats of the one
    /// pair), which cover nothing a real pair does not — a fixed-size view
    /// for branch-free checks.
    pub(crate) fn slots(&self) -> &[(u32, u8); MAX_PAIRS] {
        &self.pairs
    }

    #[inline]
    pub(crate) fn covers(&self, tf: u32, norm: u8) -> bool {
        self.pairs().iter().any(|&(t, n)| tf <= t && norm >= n)
    }

    /// The largest of `score` over the pairs.
    pub(crate) fn max_score(&self, score: impl Fn(u32, u8) -> f32) -> f32 {
        self.pairs()
            .iter()
            .map(|&(t, n)| score(t, n))
            .fold(0.0, f32::max)
    }
}

/// The undominated `(tf code, norm)` pairs of some documents, gathered
/// one document at a time: the smallest norm seen per tf code.
///
/// A term's frontier is the frontier of its blocks' frontiers, so the
/// writer folds each block's into the term's ([`merge`](Self::merge), a
/// minimum per tf code) instead of passing over every document twice.
pub(crate) struct Frontier {
    /// Smallest norm per tf code; [`UNSEEN`] for a code no document has
    /// (widened to `u16` so that merging is a plain minimum).
    best: [u16; 256],
    /// Codes above this are all unseen (tfs are mostly small, so sweeps
    /// and clears stop here rather than at 255).
    top: u8,
}

/// Above every norm byte.
const UNSEEN: u16 = u16::MAX;

impl Default for Frontier {
    fn default() -> Self {
        Frontier {
            best: [UNSEEN; 256],
            top: 0,
        }
    }
}

impl Frontier {
    /// Adds a document with `tf` occurrences and norm byte `norm`.
    pub(crate) fn add(&mut self, tf: u32, norm: u8) {
        let code = encode_tf(tf);
        let slot = &mut self.best[usize::from(code)];
        *slot = (*slot).min(u16::from(norm));
        self.top = self.top.max(code);
    }

    /// Adds every document `other` has seen.
    pub(crate) fn merge(&mut self, other: &Frontier) {
        let end = usize::from(other.top) + 1;
        for (mine, &theirs) in self.best[..end].iter_mut().zip(&other.best[..end]) {
            *mine = (*mine).min(theirs);
        }
        self.top = self.top.max(other.top);
    }

    /// Forgets every document.
    pub(crate) fn clear(&mut self) {
        self.best[..=usize::from(self.top)].fill(UNSEEN);
        self.top = 0;
    }

    /// Encodes a dominating set of at most [`MAX_PAIRS`] `(tf code, norm)`
    /// pairs for the documents added (at least one).
    ///
    /// The frontier of undominated codes is found first; while it is too
    /// long, the two neighbours whose merge `(larger tf, smaller norm)`
    /// scores lowest under `rank` are merged, so the pairs lost matter
    /// least for typical parameters.
    pub(crate) fn codes(&self, rank: impl Fn(u32, u8) -> f32) -> Vec<(u8, u8)> {
        // A sweep from the largest code down keeps a code only if its norm
        // beats every larger code's.
        let mut frontier: Vec<(u8, u8)> = Vec::new();
        let mut floor: Option<u8> = None;
        for code in (0..=self.top).rev() {
            if let Ok(norm) = u8::try_from(self.best[usize::from(code)])
                && floor.is_none_or(|f| norm < f)
            {
                floor = Some(norm);
                frontier.push((code, norm));
            }
        }
        // Now tf codes descend and norms strictly descend; merging
        // neighbours i and i+1 gives (code of i, norm of i+1).
        while frontier.len() > MAX_PAIRS {
            let cost = |i: usize| rank(decode_tf(frontier[i].0), frontier[i + 1].1);
            let mut pick = 0;
            for i in 1..frontier.len() - 1 {
                if cost(i) < cost(pick) {
                    pick = i;
                }
            }
            frontier[pick].1 = frontier[pick + 1].1;
            frontier.remove(pick + 1);
        }
        frontier
    }
}

/// [`Frontier::codes`] of `docs` (`(tf, norm)` per document, non-empty).
#[cfg(test)]
pub(crate) fn dominating_codes(
    docs: impl Iterator<Item = (u32, u8)>,
    rank: impl Fn(u32, u8) -> f32,
) -> Vec<(u8, u8)> {
    let mut frontier = Frontier::default();
    for (tf, norm) in docs {
        frontier.add(tf, norm);
    }
    frontier.codes(rank)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bm25(tf: u32, norm: u8) -> f32 {
        let tf = tf as f32;
        tf / (tf + 1.2 * (0.25 + 0.75 * DECODE[usize::from(norm)] as f32 / 30.0))
    }

    #[test]
    fn tf_codes_round_up() {
        for tf in (0..3_000_000u32)
            .step_by(7)
            .chain([u32::MAX, 1_006_632_993])
        {
            let code = encode_tf(tf);
            assert!(decode_tf(code) >= tf, "{tf}");
            if code > 0 {
                assert!(decode_tf(code - 1) < tf, "{tf}");
            }
        }
        for tf in 0..40 {
            assert_eq!(decode_tf(encode_tf(tf)), tf);
        }
    }

    proptest::proptest! {
        #[test]
        fn dominating_set_covers_every_document(
            docs in proptest::collection::vec((1u32..5000, proptest::num::u8::ANY), 1..200),
        ) {
            let codes = dominating_codes(docs.iter().copied(), bm25);
            proptest::prop_assert!(!codes.is_empty() && codes.len() <= MAX_PAIRS);
            let bound = Bound::from_codes(&codes).expect("pairs");
            let best = docs.iter().map(|&(t, n)| bm25(t, n)).fold(0.0, f32::max);
            for &(tf, norm) in &docs {
                proptest::prop_assert!(bound.covers(tf, norm));
            }
            proptest::prop_assert!(bound.max_score(bm25) >= best);
        }

        #[test]
        fn merged_frontiers_equal_one_over_all_documents(
            docs in proptest::collection::vec((1u32..5000, proptest::num::u8::ANY), 1..300),
            cut in 0usize..300,
        ) {
            let cut = cut.min(docs.len());
            let (mut first, mut second) = (Frontier::default(), Frontier::default());
            docs[..cut].iter().for_each(|&(t, n)| first.add(t, n));
            docs[cut..].iter().for_each(|&(t, n)| second.add(t, n));
            first.merge(&second);
            proptest::prop_assert_eq!(first.codes(bm25), dominating_codes(docs.iter().copied(), bm25));
            second.clear();
            docs.iter().for_each(|&(t, n)| second.add(t, n));
            proptest::prop_assert_eq!(second.codes(bm25), first.codes(bm25));
        }
    }
}
