//! Scoring a whole decoded block at once.
//!
//! Scoring entry by entry chains each division into the threshold test
//! that follows it, so the divider's latency is paid per document; a
//! separate pass over the block's arrays lets those divisions overlap (and
//! vectorize), and the bound check becomes a branch-free sweep.

use crate::error::Result;
use crate::format::BLOCK_SIZE;
use crate::postings::Postings;

impl Postings<'_> {
    /// Writes `score(tf, norm)` of entries `from..n` of the decoded block
    /// (from the current document to the block's end) into
    /// `scores[from..n]` and returns `(from, n)`; `norm` is the
    /// document's norm byte.
    ///
    /// # Errors
    /// [`FtsError::Corrupt`](crate::FtsError::Corrupt) if the block's tf
    /// codes are truncated or an entry violates its block bound (so no
    /// score exceeds the block's bound).
    pub(crate) fn score_block(
        &mut self,
        score: impl Fn(u32, u8) -> f32,
        scores: &mut [f32; BLOCK_SIZE],
    ) -> Result<(usize, usize)> {
        self.decode_tfs()?;
        let (from, n) = (self.idx, self.n);
        let mut norms = [0u8; BLOCK_SIZE];
        for (norm, &doc) in norms[from..n].iter_mut().zip(&self.docs[from..n]) {
            // Every decoded document has a norm (checked when decoded).
            *norm = self.src.norms.get(doc as usize).copied().unwrap_or(0);
        }
        // Unused bound slots are (0, 0), which no tf ≥ 1 satisfies.
        let bound = self.decoded_bound();
        let pairs = bound.slots();
        let mut violated = false;
        for ((slot, &tf), &norm) in scores[from..n]
            .iter_mut()
            .zip(&self.tfs[from..n])
            .zip(&norms[from..n])
        {
            let covered = pairs
                .iter()
                .fold(false, |acc, &(t, m)| acc | ((tf <= t) & (norm >= m)));
            violated |= !covered;
            *slot = score(tf, norm);
        }
        if violated {
            return Err(self.corrupt(self.decoded.body.0, "block entry violates its header"));
        }
        Ok((from, n))
    }
}
