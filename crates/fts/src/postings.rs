//! A cursor over one term's postings: block-by-block decoding, block
//! skipping from headers alone, and lazily decoded positions.
//!
//! Two pointers move forward independently. The *shallow* pointer walks block
//! headers only — enough for block-max bounds and for skipping whole blocks —
//! and the *deep* state holds the decoded block the current document is in.
//! The shallow block is never behind the decoded one.

use crate::codec::{bitpack, varint};
use crate::error::{FtsError, QueryErrorKind, Result, Section};
use crate::format::{self, BLOCK_HEADER_LEN, BLOCK_SIZE};

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

#[derive(Debug, Clone, Copy, Default)]
struct BlockHeader {
    last_doc: u32,
    body_len: usize,
    position_offset: u64,
    max_tf: u32,
    min_norm: u8,
    n: usize,
    doc_bits: u8,
    tf_bits: u8,
}

/// Where the cursor's bytes come from; borrowed from an
/// [`FtsIndex`](crate::FtsIndex).
pub(crate) struct PostingsSource<'a> {
    pub(crate) data: &'a [u8],
    /// Offset of `data` in the region, for error reports.
    pub(crate) region_offset: u64,
    pub(crate) positions: Option<&'a [u8]>,
    pub(crate) positions_region_offset: u64,
    pub(crate) norms: &'a [u8],
}

/// Cursor over one term's postings in increasing document order.
///
/// Starts on the first document. Every method that moves it returns the new
/// current document, [`TERMINATED`] once exhausted, or
/// [`FtsError::Corrupt`] if the bytes are malformed.
pub struct Postings<'a> {
    src: PostingsSource<'a>,
    // Shallow state: the block whose header starts at `shallow_at`.
    shallow_at: usize,
    shallow: BlockHeader,
    shallow_base: u32,
    // Deep state: the decoded block.
    decoded_at: Option<usize>,
    decoded_len: usize,
    decoded_header: BlockHeader,
    decoded_base: u32,
    docs: [u32; BLOCK_SIZE],
    /// Offset in `src.data` of the decoded block's packed `tf − 1` codes,
    /// read one at a time on demand.
    tf_codes_at: usize,
    n: usize,
    idx: usize,
    doc: u32,
    // Positions state within the decoded block.
    block_positions_at: usize,
    positions_at: usize,
    positions_idx: usize,
}

impl<'a> Postings<'a> {
    pub(crate) fn new(src: PostingsSource<'a>) -> Result<Postings<'a>> {
        let mut cursor = Postings {
            src,
            shallow_at: 0,
            shallow: BlockHeader::default(),
            shallow_base: 0,
            decoded_at: None,
            decoded_len: 0,
            decoded_header: BlockHeader::default(),
            decoded_base: 0,
            docs: [0; BLOCK_SIZE],
            tf_codes_at: 0,
            n: 0,
            idx: 0,
            doc: TERMINATED,
            block_positions_at: 0,
            positions_at: 0,
            positions_idx: 0,
        };
        if cursor.src.data.is_empty() {
            return Err(cursor.corrupt(0, "empty postings list"));
        }
        cursor.shallow = cursor.read_header(0, 0)?;
        cursor.decode_shallow()?;
        Ok(cursor)
    }

    fn corrupt(&self, at: usize, reason: &'static str) -> FtsError {
        FtsError::corrupt(
            Section::Postings,
            self.src.region_offset + at as u64,
            reason,
        )
    }

    fn read_header(&self, at: usize, base: u32) -> Result<BlockHeader> {
        let data = self.src.data;
        let truncated = || self.corrupt(at, "truncated block header");
        let bytes = data.get(at..at + BLOCK_HEADER_LEN).ok_or_else(truncated)?;
        let header = BlockHeader {
            last_doc: format::read_u32(bytes, 0).ok_or_else(truncated)?,
            body_len: format::read_u32(bytes, 4).ok_or_else(truncated)? as usize,
            position_offset: format::read_u64(bytes, 8).ok_or_else(truncated)?,
            max_tf: format::read_u32(bytes, 16).ok_or_else(truncated)?,
            min_norm: bytes[20],
            n: usize::from(bytes[21]),
            doc_bits: bytes[22],
            tf_bits: bytes[23],
        };
        if header.n == 0 || header.n > BLOCK_SIZE || header.doc_bits > 32 || header.tf_bits > 32 {
            return Err(self.corrupt(at, "bad block shape"));
        }
        let expected = bitpack::packed_len(header.n, header.doc_bits)
            + bitpack::packed_len(header.n, header.tf_bits);
        if header.body_len != expected || at + BLOCK_HEADER_LEN + expected > data.len() {
            return Err(self.corrupt(at, "bad block length"));
        }
        if header.last_doc < base || header.last_doc == TERMINATED || header.max_tf == 0 {
            return Err(self.corrupt(at, "bad block bounds"));
        }
        Ok(header)
    }

    /// Decodes the document ids of the block under the shallow pointer and
    /// moves onto its first document. Term frequencies stay packed and are
    /// read (and checked against the header) per document on demand.
    fn decode_shallow(&mut self) -> Result<()> {
        let h = self.shallow;
        let at = self.shallow_at;
        let body_at = at + BLOCK_HEADER_LEN;
        let body = &self.src.data[body_at..body_at + h.body_len];
        if bitpack::unpack(body, h.doc_bits, &mut self.docs[..h.n]).is_none() {
            return Err(self.corrupt(at, "bad block body"));
        }
        // Prefix sums in u32; any overflow is remembered, so an accepted
        // block strictly increases up to its header's last doc.
        let mut next = self.shallow_base;
        let mut overflow = false;
        for slot in &mut self.docs[..h.n] {
            let (doc, o1) = next.overflowing_add(*slot);
            let (after, o2) = doc.overflowing_add(1);
            overflow |= o1 | o2;
            *slot = doc;
            next = after;
        }
        if overflow || self.docs[h.n - 1] != h.last_doc {
            return Err(self.corrupt(at, "block last doc mismatch"));
        }
        if h.last_doc as usize >= self.src.norms.len() {
            return Err(self.corrupt(at, "block entry violates its header"));
        }
        self.tf_codes_at = body_at + bitpack::packed_len(h.n, h.doc_bits);
        self.decoded_at = Some(at);
        self.decoded_len = h.body_len;
        self.decoded_header = h;
        self.decoded_base = self.shallow_base;
        self.n = h.n;
        self.idx = 0;
        self.doc = self.docs[0];
        self.block_positions_at = usize::try_from(h.position_offset).unwrap_or(usize::MAX);
        self.positions_at = self.block_positions_at;
        self.positions_idx = 0;
        Ok(())
    }

    /// Index of the current document within the decoded block and the
    /// block's entry count.
    pub(crate) fn block_entries(&self) -> (usize, usize) {
        (self.idx, self.n)
    }

    /// Document `i` of the decoded block (`i` below the entry count).
    pub(crate) fn doc_at(&self, i: usize) -> u32 {
        self.docs[i]
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

    /// Term frequency of entry `i` of the decoded block, unchecked.
    fn tf_at(&self, i: usize) -> u32 {
        let codes = self.src.data.get(self.tf_codes_at..).unwrap_or_default();
        bitpack::get(codes, self.decoded_header.tf_bits, i).saturating_add(1)
    }

    /// Term frequency of the current document, checked against its block
    /// header, and that `norm` (the document's norm byte) is not below the
    /// block's minimum — so a score never exceeds its block bound.
    ///
    /// # Errors
    /// [`FtsError::Corrupt`] if the entry violates its block header.
    pub(crate) fn checked_tf(&self, norm: u8) -> Result<u32> {
        self.checked_tf_at(self.idx, norm)
    }

    /// [`checked_tf`](Self::checked_tf) of entry `i` of the decoded block.
    ///
    /// # Errors
    /// As [`checked_tf`](Self::checked_tf).
    pub(crate) fn checked_tf_at(&self, i: usize, norm: u8) -> Result<u32> {
        let tf = self.tf_at(i);
        let h = &self.decoded_header;
        if tf > h.max_tf || norm < h.min_norm {
            let at = self.decoded_at.unwrap_or(0);
            return Err(self.corrupt(at, "block entry violates its header"));
        }
        Ok(tf)
    }

    /// Moves the shallow pointer to the next block; false when none is left.
    fn advance_shallow(&mut self) -> Result<bool> {
        let next_at = self.shallow_at + BLOCK_HEADER_LEN + self.shallow.body_len;
        if next_at >= self.src.data.len() {
            return Ok(false);
        }
        let base = self.shallow.last_doc + 1;
        self.shallow = self.read_header(next_at, base)?;
        self.shallow_at = next_at;
        self.shallow_base = base;
        Ok(true)
    }

    /// The current document, or [`TERMINATED`].
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
    pub fn next_doc(&mut self) -> Result<u32> {
        if self.doc == TERMINATED {
            return Ok(TERMINATED);
        }
        if self.idx + 1 < self.n {
            self.idx += 1;
            self.doc = self.docs[self.idx];
            return Ok(self.doc);
        }
        // The next block follows the decoded one; the shallow pointer may be
        // further ahead after a shallow_seek, so it is moved back onto it.
        let decoded_at = self
            .decoded_at
            .expect("invariant: a block is decoded until terminated");
        let next_at = decoded_at + BLOCK_HEADER_LEN + self.decoded_len;
        if next_at >= self.src.data.len() {
            self.doc = TERMINATED;
            return Ok(TERMINATED);
        }
        if self.shallow_at != next_at {
            let base = self.docs[self.n - 1] + 1;
            self.shallow = self.read_header(next_at, base)?;
            self.shallow_at = next_at;
            self.shallow_base = base;
        }
        self.decode_shallow()?;
        Ok(self.doc)
    }

    /// Moves the shallow pointer to the block that may contain `target`
    /// (the first whose last document is `≥ target`), reading headers only.
    /// Returns false when no block can contain it. Never moves backwards.
    ///
    /// # Errors
    /// [`FtsError::Corrupt`] on malformed block headers.
    pub fn shallow_seek(&mut self, target: u32) -> Result<bool> {
        while self.shallow.last_doc < target {
            if !self.advance_shallow()? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Last document of the shallow block (valid after a true
    /// [`shallow_seek`](Self::shallow_seek)).
    pub fn block_last_doc(&self) -> u32 {
        self.shallow.last_doc
    }

    /// Largest term frequency in the shallow block.
    pub fn block_max_tf(&self) -> u32 {
        self.shallow.max_tf
    }

    /// Smallest norm byte among the shallow block's documents.
    pub fn block_min_norm(&self) -> u8 {
        self.shallow.min_norm
    }

    /// Advances to the first document `≥ target`, skipping whole blocks by
    /// their headers. Never moves backwards.
    ///
    /// # Errors
    /// [`FtsError::Corrupt`] on malformed postings.
    pub fn seek(&mut self, target: u32) -> Result<u32> {
        if self.doc >= target {
            return Ok(self.doc);
        }
        // A shallow_seek past `target` may have left blocks behind that hold
        // documents ≥ target: walk again from the decoded block.
        if let Some(decoded_at) = self.decoded_at
            && decoded_at != self.shallow_at
            && target < self.shallow_base
        {
            self.shallow_at = decoded_at;
            self.shallow = self.decoded_header;
            self.shallow_base = self.decoded_base;
        }
        if !self.shallow_seek(target)? {
            self.doc = TERMINATED;
            return Ok(TERMINATED);
        }
        if self.decoded_at != Some(self.shallow_at) {
            self.decode_shallow()?;
        }
        // The block's last doc is ≥ target, so the answer lies inside it.
        let rest = &self.docs[self.idx..self.n];
        let ahead = if rest.len() > 16 {
            rest.partition_point(|&d| d < target)
        } else {
            rest.iter().take_while(|&&d| d < target).count()
        };
        self.idx = (self.idx + ahead).min(self.n - 1);
        self.doc = self.docs[self.idx];
        Ok(self.doc)
    }

    /// Skips the position entries of earlier documents of the decoded block,
    /// returning the byte offset of the current document's entries.
    fn seek_positions(&mut self, data: &[u8]) -> Result<usize> {
        let region_offset = self.src.positions_region_offset;
        let corrupt = |at: usize| {
            FtsError::corrupt(
                Section::Positions,
                region_offset.saturating_add(at as u64),
                "malformed positions",
            )
        };
        if self.positions_idx > self.idx {
            self.positions_at = self.block_positions_at;
            self.positions_idx = 0;
        }
        let mut at = self.positions_at;
        let skipped: u64 = (self.positions_idx..self.idx)
            .map(|i| u64::from(self.tf_at(i)))
            .sum();
        varint::skip(data, &mut at, skipped * 3).ok_or_else(|| corrupt(at))?;
        self.positions_idx = self.idx;
        Ok(at)
    }

    /// Replaces `out` with the term's positions in the current document, in
    /// increasing order (offsets are skipped, not decoded).
    ///
    /// # Errors
    /// As [`occurrences`](Self::occurrences).
    pub fn positions_into(&mut self, out: &mut Vec<u32>) -> Result<()> {
        out.clear();
        let Some(data) = self.src.positions else {
            return Err(FtsError::query(QueryErrorKind::PositionsNotIndexed, 0));
        };
        if self.doc == TERMINATED {
            return Ok(());
        }
        let region_offset = self.src.positions_region_offset;
        let corrupt = |at: usize| {
            FtsError::corrupt(
                Section::Positions,
                region_offset.saturating_add(at as u64),
                "malformed positions",
            )
        };
        let mut at = self.seek_positions(data)?;
        let tf = self.tf();
        if tf > self.decoded_header.max_tf {
            return Err(corrupt(at));
        }
        out.reserve(tf.min(1024) as usize);
        let mut pos = 0u32;
        for i in 0..tf {
            let dpos = varint::read_u32(data, &mut at).ok_or_else(|| corrupt(at))?;
            if i > 0 && dpos == 0 {
                return Err(corrupt(at));
            }
            pos = pos.checked_add(dpos).ok_or_else(|| corrupt(at))?;
            varint::skip(data, &mut at, 2).ok_or_else(|| corrupt(at))?;
            out.push(pos);
        }
        self.positions_at = at;
        self.positions_idx = self.idx + 1;
        Ok(())
    }

    /// Positions and byte offsets of the term in the current document.
    ///
    /// # Errors
    /// [`FtsError::Query`] with [`QueryErrorKind::PositionsNotIndexed`] if the
    /// region has no positions; [`FtsError::Corrupt`] on malformed bytes.
    pub fn occurrences(&mut self) -> Result<Vec<Occurrence>> {
        let Some(data) = self.src.positions else {
            return Err(FtsError::query(QueryErrorKind::PositionsNotIndexed, 0));
        };
        if self.doc == TERMINATED {
            return Ok(Vec::new());
        }
        let region_offset = self.src.positions_region_offset;
        let corrupt = |at: usize| {
            FtsError::corrupt(
                Section::Positions,
                region_offset.saturating_add(at as u64),
                "malformed positions",
            )
        };
        let mut at = self.seek_positions(data)?;
        let tf = self.tf();
        if tf > self.decoded_header.max_tf {
            return Err(corrupt(at));
        }
        let mut out = Vec::with_capacity(tf.min(1024) as usize);
        let (mut pos, mut end) = (0u32, 0u32);
        for i in 0..tf {
            let dpos = varint::read_u32(data, &mut at).ok_or_else(|| corrupt(at))?;
            let gap = varint::read_u32(data, &mut at).ok_or_else(|| corrupt(at))?;
            let len = varint::read_u32(data, &mut at).ok_or_else(|| corrupt(at))?;
            if i > 0 && dpos == 0 {
                return Err(corrupt(at));
            }
            pos = pos.checked_add(dpos).ok_or_else(|| corrupt(at))?;
            let start = end.checked_add(gap).ok_or_else(|| corrupt(at))?;
            end = start.checked_add(len).ok_or_else(|| corrupt(at))?;
            out.push(Occurrence {
                position: pos,
                start,
                end,
            });
        }
        self.positions_at = at;
        self.positions_idx = self.idx + 1;
        Ok(out)
    }
}
