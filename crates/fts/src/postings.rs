//! A cursor over one term's postings: block-by-block decoding, block
//! skipping from the skip table alone, and lazily decoded positions and
//! offsets.
//!
//! Two pointers move forward independently. The *shallow* pointer walks skip
//! entries only — enough for block-max bounds and for skipping whole blocks —
//! and the *deep* state holds the decoded block the current document is in.
//! The shallow block is never behind the decoded one. Terms of one block
//! (and inline terms of one document) have no skip table: their single
//! block is decoded when the cursor opens.

use std::cell::Cell;

use crate::codec::bitpack;
use crate::codec::bound::Bound;
use crate::codec::docs::{kary_search, prefix_sum, unpack_sum, unpack_tfs};
use crate::codec::groups::Widths;
use crate::error::{FtsError, Result, Section};
use crate::format::{BLOCK_SIZE, skip_entry_len};
use crate::terminfo::Shape;

mod occurrences;
mod scoring;
mod skip;

use occurrences::OccurrenceState;
pub(crate) use occurrences::Stored;

/// Document id meaning "no more documents".
pub const TERMINATED: u32 = u32::MAX;

/// One occurrence of a term in a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    /// Word ordinal in the document (see [`Token::position`](crate::Token)).
    pub position: u32,
    /// Byte offset of the word's start in the document text.
    pub start: u32,
    /// Byte offset one past the word's end.
    pub end: u32,
}

/// What decoding one block takes, as the skip table (or the term record)
/// describes it. The rest of a skip entry — the block's score bound and
/// where its positions and offsets are — is read from the entry when it
/// is needed: a conjunction's frequent term moves onto a block per lead
/// document it seeks, and mostly needs neither.
#[derive(Debug, Clone, Copy, Default)]
struct BlockMeta {
    /// Last document; for a block without a skip entry, known once decoded.
    last_doc: u32,
    /// Byte range of the packed doc gaps and tf codes in the term's postings.
    body: (usize, usize),
    n: usize,
    doc_bits: u8,
    tf_bits: u8,
}

/// Where the cursor's bytes come from; borrowed from an
/// [`FtsIndex`](crate::FtsIndex).
pub(crate) struct PostingsSource<'a> {
    /// The term's postings bytes (empty for an inline term).
    pub(crate) data: &'a [u8],
    /// Offset of `data` in the region, for error reports.
    pub(crate) region_offset: u64,
    /// The term's positions and offsets bytes.
    pub(crate) positions: Stored<'a>,
    pub(crate) offsets: Stored<'a>,
    pub(crate) norms: &'a [u8],
    pub(crate) shape: Shape,
    pub(crate) doc_freq: u32,
    /// How the region places position and offset group widths.
    pub(crate) group_widths: Widths,
}

/// Cursor over one term's postings in increasing document order.
///
/// Starts on the first document. Every method that moves it returns the new
/// current document, [`TERMINATED`] once exhausted, or
/// [`FtsError::Corrupt`] if the bytes are malformed.
pub struct Postings<'a> {
    src: PostingsSource<'a>,
    blocks: usize,
    /// Streams the region stores (postings, positions, offsets) and so the
    /// skip entry's u32 ends, and the entry length.
    streams: usize,
    entry_len: usize,
    /// The bound of a term without a skip table (inline or one block).
    single_bound: Bound,
    // Shallow state: block `shallow_idx`, and its bound once read.
    shallow_idx: usize,
    shallow: BlockMeta,
    shallow_base: u32,
    shallow_bound: Cell<Option<Bound>>,
    // Deep state: the decoded block, and its bound once read.
    decoded_idx: usize,
    decoded: BlockMeta,
    decoded_base: u32,
    decoded_bound: Cell<Option<Bound>>,
    /// The decoded block's documents, summed from their gaps when it is
    /// decoded, and [`TERMINATED`] past its entries: a seek inside the
    /// block is a branch-free search over all 128 ([`kary_search`]).
    docs: [u32; BLOCK_SIZE],
    /// Byte range in `src.data` of the decoded block's packed `tf − 1`
    /// codes, read one entry at a time on demand (most entries of a block
    /// a conjunction decodes are never scored).
    tf_codes: (usize, usize),
    /// The decoded block's term frequencies, once a caller needs all of
    /// them (scoring a whole block, reading positions); valid while
    /// `tfs_block` is the decoded block's index.
    tfs: [u32; BLOCK_SIZE],
    tfs_block: usize,
    /// The sum of `tfs`, taken as they are decoded: where a block's
    /// positions end, for reading them.
    tfs_total: u64,
    n: usize,
    idx: usize,
    doc: u32,
    occurrences: Option<Box<OccurrenceState>>,
}

impl<'a> Postings<'a> {
    pub(crate) fn new(src: PostingsSource<'a>) -> Result<Postings<'a>> {
        let blocks = (src.doc_freq as usize).div_ceil(BLOCK_SIZE);
        let stored = |s: Stored<'_>| usize::from(!matches!(s, Stored::Absent));
        let streams = 1 + stored(src.positions) + stored(src.offsets);
        let mut cursor = Postings {
            src,
            blocks,
            streams,
            entry_len: skip_entry_len(streams),
            single_bound: Bound::default(),
            shallow_idx: 0,
            shallow: BlockMeta::default(),
            shallow_base: 0,
            shallow_bound: Cell::new(None),
            decoded_idx: 0,
            decoded: BlockMeta::default(),
            decoded_base: 0,
            decoded_bound: Cell::new(None),
            docs: [0; BLOCK_SIZE],
            tf_codes: (0, 0),
            tfs: [0; BLOCK_SIZE],
            tfs_block: usize::MAX,
            tfs_total: 0,
            n: 0,
            idx: 0,
            doc: TERMINATED,
            occurrences: None,
        };
        match cursor.src.shape {
            Shape::Inline { doc, tf } => {
                let norm = *cursor
                    .src
                    .norms
                    .get(doc as usize)
                    .ok_or_else(|| cursor.corrupt(0, "inline document has no norm"))?;
                if doc == TERMINATED || tf == 0 || !cursor.src.data.is_empty() {
                    return Err(cursor.corrupt(0, "bad inline term"));
                }
                cursor.shallow = BlockMeta {
                    last_doc: doc,
                    n: 1,
                    ..BlockMeta::default()
                };
                cursor.single_bound = Bound::single(tf, norm);
                cursor.decoded = cursor.shallow;
                cursor.docs[0] = doc;
                cursor.docs[1..].fill(TERMINATED);
                cursor.n = 1;
                cursor.doc = doc;
            }
            Shape::Single { bound } => {
                let data = cursor.src.data;
                let (&doc_bits, &tf_bits) = data
                    .first()
                    .zip(data.get(1))
                    .ok_or_else(|| cursor.corrupt(0, "truncated block"))?;
                let n = cursor.src.doc_freq as usize;
                cursor.shallow = BlockMeta {
                    last_doc: 0,
                    body: (2, data.len()),
                    n,
                    doc_bits,
                    tf_bits,
                };
                cursor.single_bound = bound;
                cursor.check_body(&cursor.shallow, 0)?;
                cursor.decode_shallow()?;
            }
            Shape::Multi { .. } => {
                if blocks * cursor.entry_len > cursor.src.data.len() {
                    return Err(cursor.corrupt(0, "truncated skip table"));
                }
                cursor.move_shallow(0, 0)?;
                cursor.decode_shallow()?;
            }
        }
        Ok(cursor)
    }

    fn corrupt(&self, at: usize, reason: &'static str) -> FtsError {
        FtsError::corrupt(
            Section::Postings,
            self.src.region_offset + at as u64,
            reason,
        )
    }

    /// Checks a block's widths and body length against its entry count.
    fn check_body(&self, meta: &BlockMeta, at: usize) -> Result<()> {
        if meta.doc_bits > 32 || meta.tf_bits > 32 || meta.n == 0 || meta.n > BLOCK_SIZE {
            return Err(self.corrupt(at, "bad block shape"));
        }
        let expected =
            bitpack::packed_len(meta.n, meta.doc_bits) + bitpack::packed_len(meta.n, meta.tf_bits);
        if meta.body.1 < meta.body.0
            || meta.body.1 - meta.body.0 != expected
            || meta.body.1 > self.src.data.len()
        {
            return Err(self.corrupt(at, "bad block length"));
        }
        Ok(())
    }

    /// Decodes the block under the shallow pointer and moves onto its first
    /// document.
    fn decode_shallow(&mut self) -> Result<()> {
        let h = self.shallow;
        let body = &self.src.data[h.body.0..h.body.1];
        let tfs_at = bitpack::packed_len(h.n, h.doc_bits);
        // The gaps become documents here, once, and the last is checked so
        // every sum is exact — at most the last, which is below TERMINATED.
        // When the width bounds the block's span below 2^32 (nearly
        // always) the sums run in u32 and wrapped iff the last one fell
        // below the base; otherwise the span is first summed in u64 (where
        // 128 gaps below 2^32 cannot overflow).
        let base = self.shallow_base;
        let fits = (h.n as u64) << h.doc_bits <= u64::from(u32::MAX);
        let unpacked = if fits && h.n == BLOCK_SIZE {
            unpack_sum(body, h.doc_bits, base, &mut self.docs)
        } else {
            bitpack::unpack(body, h.doc_bits, &mut self.docs[..h.n])
        };
        if unpacked.is_none() {
            return Err(self.corrupt(h.body.0, "bad block body"));
        }
        let last = if fits {
            if h.n < BLOCK_SIZE {
                prefix_sum(&mut self.docs, h.n, base);
            }
            Some(self.docs[h.n - 1]).filter(|&last| last >= base)
        } else {
            let gaps: u64 = self.docs[..h.n].iter().map(|&g| u64::from(g)).sum();
            let last = u32::try_from(u64::from(base) + gaps + (h.n as u64 - 1)).ok();
            if last.is_some() {
                prefix_sum(&mut self.docs, h.n, base);
            }
            last
        };
        let last = last
            .filter(|&last| last != TERMINATED)
            .ok_or_else(|| self.corrupt(h.body.0, "block last doc mismatch"))?;
        self.tf_codes = (h.body.0 + tfs_at, h.body.1);
        self.tfs_block = usize::MAX;
        let single = matches!(self.src.shape, Shape::Single { .. });
        if !single && last != h.last_doc {
            return Err(self.corrupt(h.body.0, "block last doc mismatch"));
        }
        if last as usize >= self.src.norms.len() {
            return Err(self.corrupt(h.body.0, "block entry violates its header"));
        }
        if single {
            self.shallow.last_doc = last;
        }
        self.decoded_idx = self.shallow_idx;
        self.decoded = self.shallow;
        self.decoded_base = self.shallow_base;
        self.decoded_bound.set(self.shallow_bound.get());
        self.n = h.n;
        self.idx = 0;
        self.doc = self.docs[0];
        Ok(())
    }

    /// Index of the current document within the decoded block and the
    /// block's entry count.
    pub(crate) fn block_position(&self) -> (usize, usize) {
        (self.idx, self.n)
    }

    /// Which block is decoded (its index in the term's postings): a key
    /// for caching per-block work such as [`score_block`](Self::score_block).
    pub(crate) fn block_index(&self) -> usize {
        self.decoded_idx
    }

    /// Document `i` of the decoded block (`i` below the entry count).
    #[inline]
    pub(crate) fn doc_at(&self, i: usize) -> u32 {
        self.docs[i]
    }

    /// Calls `f` with every document from the current one to the end of
    /// the list, a decoded block at a time (a loop over its summed
    /// documents instead of a call per document), and leaves the cursor
    /// terminated.
    ///
    /// # Errors
    /// [`FtsError::Corrupt`] on malformed postings.
    pub(crate) fn for_each_doc(&mut self, mut f: impl FnMut(u32)) -> Result<()> {
        while self.doc != TERMINATED {
            for &doc in &self.docs[self.idx..self.n] {
                f(doc);
            }
            self.next_block()?;
        }
        Ok(())
    }

    /// Moves to the first document after the decoded block.
    ///
    /// # Errors
    /// [`FtsError::Corrupt`] on malformed postings.
    pub(crate) fn next_block(&mut self) -> Result<u32> {
        if self.doc == TERMINATED {
            return Ok(TERMINATED);
        }
        self.idx = self.n - 1;
        self.next_doc()
    }

    /// Term frequency of the current document, checked against its block
    /// bound with `norm` (the document's norm byte) — so a score never
    /// exceeds its block bound.
    ///
    /// # Errors
    /// [`FtsError::Corrupt`] if the entry violates its block bound.
    #[inline]
    pub(crate) fn checked_tf(&self, norm: u8) -> Result<u32> {
        self.checked_tf_at(self.idx, norm)
    }

    /// [`checked_tf`](Self::checked_tf) of entry `i` of the decoded block.
    ///
    /// # Errors
    /// As [`checked_tf`](Self::checked_tf).
    #[inline]
    pub(crate) fn checked_tf_at(&self, i: usize, norm: u8) -> Result<u32> {
        let tf = self.tf_at(i);
        if !self.decoded_bound().covers(tf, norm) {
            return Err(self.corrupt(self.decoded.body.0, "block entry violates its header"));
        }
        Ok(tf)
    }

    /// Term frequency of entry `i` of the decoded block, not yet checked
    /// against its bound.
    #[inline]
    fn tf_at(&self, i: usize) -> u32 {
        if let Shape::Inline { tf, .. } = self.src.shape {
            return tf;
        }
        if self.tfs_block == self.decoded_idx {
            return self.tfs[i];
        }
        let codes = self
            .src
            .data
            .get(self.tf_codes.0..self.tf_codes.1)
            .unwrap_or_default();
        bitpack::get(codes, self.decoded.tf_bits, self.n, i).saturating_add(1)
    }

    /// Decodes every term frequency of the decoded block at once (one
    /// vectorized unpack instead of an extraction per entry).
    ///
    /// # Errors
    /// [`FtsError::Corrupt`] if the block's tf codes are truncated.
    pub(crate) fn decode_tfs(&mut self) -> Result<()> {
        if self.tfs_block == self.decoded_idx {
            return Ok(());
        }
        if let Shape::Inline { tf, .. } = self.src.shape {
            self.tfs[0] = tf;
            self.tfs_total = u64::from(tf);
        } else {
            let codes = self
                .src
                .data
                .get(self.tf_codes.0..self.tf_codes.1)
                .unwrap_or_default();
            let n = self.n;
            // A full block of codes up to 24 bits is unpacked, incremented
            // and totalled in one pass.
            let fused = if n == BLOCK_SIZE {
                unpack_tfs(codes, self.decoded.tf_bits, &mut self.tfs)
            } else {
                None
            };
            self.tfs_total = if let Some(total) = fused {
                u64::from(total)
            } else if bitpack::unpack(codes, self.decoded.tf_bits, &mut self.tfs[..n]).is_none() {
                return Err(self.corrupt(self.tf_codes.0, "bad block body"));
            } else if self.decoded.tf_bits <= 24 {
                // Codes of at most 24 bits cannot saturate and 128 tfs of
                // at most 2^24 sum below 2^32: one u32 pass adds the 1 and
                // sums; wider codes (a huge tf) take the careful pass.
                let mut total = 0u32;
                for tf in &mut self.tfs[..n] {
                    *tf = tf.wrapping_add(1);
                    total = total.wrapping_add(*tf);
                }
                u64::from(total)
            } else {
                let mut total = 0u64;
                for tf in &mut self.tfs[..n] {
                    *tf = tf.saturating_add(1);
                    total += u64::from(*tf);
                }
                total
            };
        }
        self.tfs_block = self.decoded_idx;
        Ok(())
    }

    /// The current document, or [`TERMINATED`].
    #[inline]
    pub fn doc(&self) -> u32 {
        self.doc
    }

    /// Term frequency in the current document (unspecified once terminated).
    pub fn tf(&self) -> u32 {
        self.tf_at(self.idx)
    }

    /// Advances to the next document.
    ///
    /// # Errors
    /// [`FtsError::Corrupt`] on malformed postings.
    #[inline]
    pub fn next_doc(&mut self) -> Result<u32> {
        if self.doc == TERMINATED {
            return Ok(TERMINATED);
        }
        if self.idx + 1 < self.n {
            self.idx += 1;
            self.doc = self.docs[self.idx];
            return Ok(self.doc);
        }
        let next = self.decoded_idx + 1;
        if next >= self.blocks {
            self.doc = TERMINATED;
            return Ok(TERMINATED);
        }
        // The shallow pointer may be further ahead after a shallow_seek; it
        // is moved back onto the block after the decoded one.
        if self.shallow_idx != next {
            self.move_shallow(next, self.decoded.last_doc + 1)?;
        }
        self.decode_shallow()?;
        Ok(self.doc)
    }

    /// Advances to the first document `≥ target`, skipping whole blocks by
    /// their skip entries. Never moves backwards.
    ///
    /// # Errors
    /// [`FtsError::Corrupt`] on malformed postings.
    // Always inlined: the in-block path is a few compares, and as a call
    // (which the compiler chose) its prologue and epilogue were a tenth of
    // a phrase query's seeks — two mid-frequency terms leapfrogging.
    #[inline(always)]
    pub fn seek(&mut self, target: u32) -> Result<u32> {
        if self.doc >= target {
            return Ok(self.doc);
        }
        // Most seeks of a conjunction stay in the decoded block: that path
        // is kept small and inline, block changes are a call away.
        if target > self.decoded.last_doc {
            if !self.seek_block(target)? {
                return Ok(TERMINATED);
            }
            self.idx = kary_search(&self.docs, target);
        } else {
            if self.decoded_idx != self.shallow_idx {
                // A shallow_seek ran ahead; the target is behind it, in the
                // decoded block: the shallow pointer comes back onto it.
                self.shallow_back_to_decoded();
            }
            // The current document is below the target and the block's
            // last is not, so a next entry exists. A rare term seeking a
            // common one's documents (a conjunction's lead) mostly needs
            // just that entry, a common term seeking a rare one's mostly
            // more: the test is predictable either way, and saves the lead
            // the search's three dependent rounds.
            let next = (self.idx + 1).min(BLOCK_SIZE - 1);
            self.idx = if self.docs[next] >= target {
                next
            } else {
                kary_search(&self.docs, target)
            };
        }
        self.doc = self.docs[self.idx];
        Ok(self.doc)
    }

    /// Decodes the block holding the first document `≥ target`, which lies
    /// past the decoded block; false (and terminated) when there is none.
    #[inline(never)]
    fn seek_block(&mut self, target: u32) -> Result<bool> {
        // A shallow_seek past `target` may have left blocks behind that hold
        // documents ≥ target: walk again from the decoded block.
        if self.decoded_idx != self.shallow_idx && target < self.shallow_base {
            self.shallow_back_to_decoded();
        }
        if !self.shallow_seek(target)? {
            self.doc = TERMINATED;
            return Ok(false);
        }
        if self.decoded_idx != self.shallow_idx {
            self.decode_shallow()?;
        }
        Ok(true)
    }
}
