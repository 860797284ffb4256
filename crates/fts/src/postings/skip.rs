//! The skip table: the shallow pointer's moves from entry to entry, block
//! score bounds, and where a block's postings, positions and offsets lie.
//!
//! A multi-block term's postings start with one fixed-length entry per
//! block (its last document, the end of each stored stream, the bit widths
//! and the score-bound pairs), then the block bodies. Entries are read
//! only as far as a move needs them: passing one takes its last document
//! alone.

use std::cell::Cell;

use crate::codec::bound::{Bound, MAX_PAIRS};
use crate::error::Result;
use crate::format::{self, BLOCK_SIZE};
use crate::postings::{BlockMeta, Postings, TERMINATED};
use crate::terminfo::Shape;

impl Postings<'_> {
    /// Moves the shallow pointer onto block `b` of a multi-block term,
    /// whose documents are `≥ base`: reads and checks what decoding the
    /// block takes from its skip entry.
    pub(super) fn move_shallow(&mut self, b: usize, base: u32) -> Result<()> {
        let data = self.src.data;
        let len = self.entry_len;
        let at = b * len;
        let truncated = || self.corrupt(at, "truncated skip entry");
        let entry = data.get(at..at + len).ok_or_else(truncated)?;
        let body = self.entry_range(b, 0).ok_or_else(truncated)?;
        let widths_at = 4 + 4 * self.streams;
        let n = if b + 1 == self.blocks {
            self.src.doc_freq as usize - b * BLOCK_SIZE
        } else {
            BLOCK_SIZE
        };
        let bodies_at = self.blocks * len;
        let meta = BlockMeta {
            last_doc: format::read_u32(entry, 0).ok_or_else(truncated)?,
            body: (bodies_at + body.0, bodies_at + body.1),
            n,
            doc_bits: entry[widths_at],
            tf_bits: entry[widths_at + 1],
        };
        self.check_body(&meta, at)?;
        if meta.last_doc < base || meta.last_doc == TERMINATED {
            return Err(self.corrupt(at, "bad block bounds"));
        }
        if b + 1 == self.blocks && meta.body.1 != data.len() {
            return Err(self.corrupt(at, "postings length mismatch"));
        }
        self.shallow = meta;
        self.shallow_idx = b;
        self.shallow_base = base;
        self.shallow_bound.set(None);
        Ok(())
    }

    /// The score bound of block `b`, from its skip entry (a term without
    /// one has a single bound). An entry is read whole before its block
    /// is reached, so its codes are there; were they not, the empty bound
    /// covers no document and scoring one reports corruption.
    pub(super) fn read_bound(&self, b: usize) -> Bound {
        if !matches!(self.src.shape, Shape::Multi { .. }) {
            return self.single_bound;
        }
        let at = b * self.entry_len + 4 + 4 * self.streams + 2;
        let Some(bytes) = self.src.data.get(at..at + 2 * MAX_PAIRS) else {
            return Bound::default();
        };
        let mut codes = [(0u8, 0u8); MAX_PAIRS];
        for (slot, pair) in codes.iter_mut().zip(bytes.chunks_exact(2)) {
            *slot = (pair[0], pair[1]);
        }
        Bound::from_codes(&codes).unwrap_or_default()
    }

    /// Block `b`'s bound from `cache`, read from its entry at the first
    /// call.
    pub(super) fn cached_bound(&self, cache: &Cell<Option<Bound>>, b: usize) -> Bound {
        cache.get().unwrap_or_else(|| {
            let bound = self.read_bound(b);
            cache.set(Some(bound));
            bound
        })
    }

    /// The shallow block's bound.
    pub(super) fn shallow_bound(&self) -> Bound {
        self.cached_bound(&self.shallow_bound, self.shallow_idx)
    }

    /// The decoded block's bound.
    pub(super) fn decoded_bound(&self) -> Bound {
        self.cached_bound(&self.decoded_bound, self.decoded_idx)
    }

    /// The byte range of block `b`'s part of stream `stream` (0 postings
    /// body, 1 positions, 2 offsets) of a multi-block term: the stream's
    /// end in the previous skip entry (0 for the first) to its end in this
    /// one. `None` if an entry is short.
    pub(super) fn entry_range(&self, b: usize, stream: usize) -> Option<(usize, usize)> {
        let end_at = |b: usize| b * self.entry_len + 4 + 4 * stream;
        let start = if b == 0 {
            0
        } else {
            format::read_u32(self.src.data, end_at(b - 1))?
        };
        let end = format::read_u32(self.src.data, end_at(b))?;
        Some((start as usize, end as usize))
    }

    /// The byte range of the decoded block's positions (`stream` 1) or
    /// offsets (2) in the term's stored bytes, `len` long in all: from its
    /// skip entries, or all of it for a term without a skip table. `None`
    /// if an entry is short.
    pub(super) fn decoded_stream(&self, stream: usize, len: usize) -> Option<(usize, usize)> {
        if !matches!(self.src.shape, Shape::Multi { .. }) {
            return Some((0, len));
        }
        if stream >= self.streams {
            return Some((0, 0));
        }
        self.entry_range(self.decoded_idx, stream)
    }

    /// Moves the shallow pointer to the block that may contain `target`
    /// (the first whose last document is `≥ target`), reading skip entries
    /// only. Returns false when no block can contain it. Never moves
    /// backwards.
    ///
    /// # Errors
    /// [`FtsError::Corrupt`] on malformed skip entries.
    pub fn shallow_seek(&mut self, target: u32) -> Result<bool> {
        if self.shallow.last_doc >= target {
            return Ok(true);
        }
        // Skipped entries are passed over by their last-document field
        // alone; only the entry landed on is parsed and checked, against
        // the previous entry's last document. Documents still only
        // increase: the landed block starts after a last document below
        // `target`, and `next_doc` checks consecutive entries in full.
        let data = self.src.data;
        let mut b = self.shallow_idx + 1;
        while b < self.blocks {
            let at = b * self.entry_len;
            let last = format::read_u32(data, at)
                .ok_or_else(|| self.corrupt(at, "truncated skip entry"))?;
            if last >= target {
                break;
            }
            b += 1;
        }
        if b >= self.blocks {
            return Ok(false);
        }
        let base = if b == self.shallow_idx + 1 {
            self.shallow.last_doc + 1
        } else {
            let at = (b - 1) * self.entry_len;
            format::read_u32(data, at)
                .and_then(|last| last.checked_add(1))
                .ok_or_else(|| self.corrupt(at, "bad block bounds"))?
        };
        self.move_shallow(b, base)?;
        Ok(true)
    }

    /// Last document of the shallow block (valid after a true
    /// [`shallow_seek`](Self::shallow_seek)).
    pub fn block_last_doc(&self) -> u32 {
        self.shallow.last_doc
    }

    /// The largest of `score(tf, norm)` over the shallow block's bound
    /// pairs: at least the score of any of its documents when `score` is
    /// non-decreasing in tf and non-increasing in norm.
    pub(crate) fn block_bound(&self, score: impl Fn(u32, u8) -> f32) -> f32 {
        self.shallow_bound().max_score(score)
    }

    /// Moves the shallow pointer back onto the decoded block.
    pub(super) fn shallow_back_to_decoded(&mut self) {
        self.shallow_idx = self.decoded_idx;
        self.shallow = self.decoded;
        self.shallow_base = self.decoded_base;
        self.shallow_bound.set(self.decoded_bound.get());
    }
}
