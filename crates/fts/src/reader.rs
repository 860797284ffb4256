//! Opening a region and reading its dictionary, term infos, norms and
//! postings.
//!
//! [`FtsIndex::open`] validates the header, the analyzer encoding, every
//! section's bounds, the FST (including its checksum) and the fixed-width
//! tables, so later accessors only need local checks: a term record's
//! extents, a block's shape. Every check failure is a typed
//! [`FtsError::Corrupt`]; nothing indexes out of bounds.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use fst::Automaton;
use roaring::RoaringBitmap;

use crate::analyzer::{Analyzer, AnalyzerConfig};
use crate::codec::norm;
use crate::error::{FtsError, QueryErrorKind, Result, Section};
use crate::format::{
    self, Extent, Header, NORMS, OFFSETS, POSITIONS, POSTINGS, PRESENCE, TERM_INFO,
};
use crate::postings::{Postings, PostingsSource, Stored};
use crate::terminfo::{self, Shape};

/// Statistics and postings location of one dictionary term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermInfo {
    /// The term's ordinal in the dictionary (sorted byte order).
    pub ordinal: u32,
    /// Number of documents containing the term (≥ 1).
    pub doc_freq: u32,
    /// Total occurrences across all documents.
    pub total_tf: u64,
    pub(crate) shape: Shape,
    postings: Extent,
    positions: Extent,
    offsets: Extent,
}

impl TermInfo {
    /// The largest of `score(tf, norm)` over the term's bound pairs, which
    /// bounds every document's score for a monotone `score`.
    pub(crate) fn bound_score(&self, norms: &[u8], score: impl Fn(u32, u8) -> f32) -> f32 {
        match self.shape {
            Shape::Inline { doc, tf } => score(tf, norms.get(doc as usize).copied().unwrap_or(0)),
            Shape::Single { bound } | Shape::Multi { bound } => bound.max_score(score),
        }
    }
}

/// An opened full-text region. Cheap to clone (shares the bytes).
///
/// Opened whole ([`open`](Self::open)) it reads everything. Opened from its
/// lookup prefix ([`open_prefix`](Self::open_prefix)) it answers term
/// lookups, statistics, norms and presence at once, and postings, positions
/// and offsets only within the byte ranges handed to
/// [`with_ranges`](Self::with_ranges) — so a reader over object storage
/// fetches just the lists its query uses.
#[derive(Clone)]
pub struct FtsIndex {
    /// The whole region, or its lookup prefix.
    bytes: Bytes,
    /// Fetched list bytes by region offset; `None` when `bytes` is whole.
    parts: Option<Arc<BTreeMap<u64, Bytes>>>,
    header: Header,
    analyzer: Arc<Analyzer>,
    dict: fst::Map<Bytes>,
    /// The last few dictionary lookups, shared by clones.
    recent: Arc<Mutex<RecentTerms>>,
}

/// The last [`RECENT_TERMS`] terms looked up and what was found. A query
/// looks each of its terms up more than once (for the statistics, then
/// for its cursors), and a lookup — an FST walk, then a scan of up to 16
/// term records — was a third of a rare phrase query's time.
#[derive(Debug, Default)]
struct RecentTerms {
    slots: Vec<(Box<str>, Option<TermInfo>)>,
    /// The slot the next new term replaces once all are used.
    next: usize,
}

const RECENT_TERMS: usize = 8;

/// A union of postings is built in a bit array of the region's documents
/// once it holds at least 1/`DENSE_UNION` of them (the array's size is
/// then within a few times the sorted list's).
const DENSE_UNION: u64 = 64;

impl RecentTerms {
    fn get(&self, term: &str) -> Option<Option<TermInfo>> {
        self.slots
            .iter()
            .find(|(t, _)| &**t == term)
            .map(|(_, info)| info.clone())
    }

    fn put(&mut self, term: &str, info: Option<TermInfo>) {
        let entry = (Box::from(term), info);
        if self.slots.len() < RECENT_TERMS {
            self.slots.push(entry);
        } else if let Some(slot) = self.slots.get_mut(self.next) {
            *slot = entry;
            self.next = (self.next + 1) % RECENT_TERMS;
        }
    }
}

impl std::fmt::Debug for FtsIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FtsIndex")
            .field("len", &self.bytes.len())
            .field("doc_count", &self.header.doc_count)
            .field("term_count", &self.header.term_count)
            .finish_non_exhaustive()
    }
}

fn slice(bytes: &Bytes, extent: Extent) -> Bytes {
    // Bounds were checked by Header::read.
    bytes.slice(extent.range())
}

impl FtsIndex {
    /// Opens region bytes written by [`FtsIndexBuilder`](crate::FtsIndexBuilder).
    ///
    /// Cost: linear in the dictionary size (the FST checksum is verified);
    /// postings are not read.
    ///
    /// # Errors
    /// [`FtsError::UnsupportedVersion`] for a newer major version;
    /// [`FtsError::Corrupt`] for anything malformed.
    pub fn open(bytes: Bytes) -> Result<FtsIndex> {
        let len = bytes.len() as u64;
        Self::open_with(bytes, len, None)
    }

    /// Opens a region of `region_len` bytes from its lookup prefix — at
    /// least its first [`RegionLayout::lookup_len`](crate::RegionLayout::lookup_len)
    /// bytes. Lists are read only from ranges added by
    /// [`with_ranges`](Self::with_ranges); reading others fails with
    /// [`FtsError::NotLoaded`].
    ///
    /// # Errors
    /// As [`open`](Self::open); [`FtsError::Corrupt`] if `prefix` is shorter
    /// than the lookup prefix.
    pub fn open_prefix(prefix: Bytes, region_len: u64) -> Result<FtsIndex> {
        Self::open_with(prefix, region_len, Some(Arc::new(BTreeMap::new())))
    }

    /// This index with `parts` — `(region offset, bytes)` pairs, typically
    /// the [`list_ranges`](Self::list_ranges) of some terms — readable too.
    /// A whole region ignores them.
    pub fn with_ranges(&self, parts: impl IntoIterator<Item = (u64, Bytes)>) -> FtsIndex {
        let mut out = self.clone();
        if let Some(map) = &mut out.parts {
            let map = Arc::make_mut(map);
            for (offset, bytes) in parts {
                map.insert(offset, bytes);
            }
        }
        out
    }

    /// Whether every byte of the region is readable.
    pub fn is_whole(&self) -> bool {
        self.parts.is_none()
    }

    /// The region byte ranges holding `info`'s postings and, if asked and
    /// stored, its positions and offsets (phrases need positions;
    /// highlighting reads [`Occurrence`](crate::Occurrence)s, so offsets
    /// bring positions along). Empty ranges are left out.
    pub fn list_ranges(&self, info: &TermInfo, positions: bool, offsets: bool) -> Vec<Range<u64>> {
        let mut out = Vec::with_capacity(3);
        let mut add = |section: usize, extent: Extent| {
            if extent.len > 0 {
                let start = self.header.sections[section].offset + extent.offset;
                out.push(start..start + extent.len);
            }
        };
        add(POSTINGS, info.postings);
        if self.has_positions() {
            if positions || offsets {
                add(POSITIONS, info.positions);
            }
            if offsets && self.has_offsets() {
                add(OFFSETS, info.offsets);
            }
        }
        out
    }

    /// The bytes of `extent` within list section `section`, if readable.
    fn list(&self, section: usize, extent: Extent) -> Option<&[u8]> {
        let start = self.header.sections[section].offset + extent.offset;
        match &self.parts {
            None => Some(
                &self.bytes[Extent {
                    offset: start,
                    len: extent.len,
                }
                .range()],
            ),
            Some(_) if extent.len == 0 => Some(&[]),
            Some(parts) => {
                let (&at, bytes) = parts.range(..=start).next_back()?;
                let from = usize::try_from(start - at).ok()?;
                bytes.get(from..from.checked_add(usize::try_from(extent.len).ok()?)?)
            }
        }
    }

    fn open_with(
        bytes: Bytes,
        region_len: u64,
        parts: Option<Arc<BTreeMap<u64, Bytes>>>,
    ) -> Result<FtsIndex> {
        let header = Header::read(&bytes, region_len)?;
        if (bytes.len() as u64) < header.sections[POSTINGS].offset {
            return Err(FtsError::corrupt(
                Section::Header,
                bytes.len() as u64,
                "prefix shorter than the lookup sections",
            ));
        }
        let analyzer_bytes = bytes
            .get(format::FIXED_HEADER_LEN..format::FIXED_HEADER_LEN + header.analyzer_len as usize)
            .ok_or_else(|| FtsError::corrupt(Section::Analyzer, 0, "truncated"))?;
        let config = AnalyzerConfig::from_bytes(analyzer_bytes)?;
        let analyzer = Analyzer::new(config)
            .map_err(|_| FtsError::corrupt(Section::Analyzer, 0, "invalid configuration"))?;
        let [dict, term_info, norms, presence, _, positions, offsets] = header.sections;
        let dict_offset = dict.offset;
        let bad_dict = |reason| FtsError::corrupt(Section::Dictionary, dict_offset, reason);
        let dict = fst::Map::new(slice(&bytes, dict)).map_err(|_| bad_dict("invalid FST"))?;
        dict.as_fst()
            .verify()
            .map_err(|_| bad_dict("FST checksum mismatch"))?;
        if dict.len() as u64 != u64::from(header.term_count) {
            return Err(bad_dict("term count mismatch"));
        }
        if term_info.len < terminfo::directory_len(header.term_count) as u64 {
            return Err(FtsError::corrupt(
                Section::TermInfo,
                term_info.offset,
                "term-info section shorter than its directory",
            ));
        }
        let checks = [
            (norms, u64::from(header.doc_slots), Section::Norms),
            (
                presence,
                u64::from(header.doc_slots).div_ceil(8),
                Section::Presence,
            ),
        ];
        for (extent, expected, section) in checks {
            if extent.len != expected {
                return Err(FtsError::corrupt(
                    section,
                    extent.offset,
                    "wrong section length",
                ));
            }
        }
        if !header.has_positions() && positions.len != 0 {
            return Err(FtsError::corrupt(
                Section::Positions,
                positions.offset,
                "positions present but not flagged",
            ));
        }
        if !header.has_offsets() && offsets.len != 0 {
            return Err(FtsError::corrupt(
                Section::Offsets,
                offsets.offset,
                "offsets present but not flagged",
            ));
        }
        Ok(FtsIndex {
            bytes,
            parts,
            header,
            analyzer: Arc::new(analyzer),
            dict,
            recent: Arc::default(),
        })
    }

    fn section(&self, i: usize) -> &[u8] {
        let extent = self.header.sections[i];
        &self.bytes[extent.range()]
    }

    /// Number of documents that have a value (BM25's `N` for this file).
    pub fn doc_count(&self) -> u32 {
        self.header.doc_count
    }

    /// One more than the largest document id added (0 when empty).
    pub fn doc_slots(&self) -> u32 {
        self.header.doc_slots
    }

    /// Sum of document lengths (tokens) over all documents.
    pub fn total_tokens(&self) -> u64 {
        self.header.total_tokens
    }

    /// Number of distinct terms.
    pub fn term_count(&self) -> u32 {
        self.header.term_count
    }

    /// Whether positions are stored (phrase queries).
    pub fn has_positions(&self) -> bool {
        self.header.has_positions()
    }

    /// Whether byte offsets are stored (highlighting without re-analysis).
    pub fn has_offsets(&self) -> bool {
        self.header.has_offsets()
    }

    /// Whether every document's text is exactly one term spelled as the
    /// text ([`Analyzer::is_own_term`]): then the rows equal to a value
    /// that is its own term are exactly that term's postings.
    pub fn whole_values(&self) -> bool {
        self.header.whole_values()
    }

    /// The analyzer recorded in the region; analyze queries with it.
    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }

    /// The bytes held: the region's size when whole, else its lookup
    /// prefix plus the ranges added.
    pub fn len_bytes(&self) -> usize {
        self.bytes.len()
            + self
                .parts
                .as_ref()
                .map_or(0, |p| p.values().map(Bytes::len).sum())
    }

    /// The norm byte of `doc` (0 for documents without a value).
    pub fn norm(&self, doc: u32) -> u8 {
        self.section(NORMS).get(doc as usize).copied().unwrap_or(0)
    }

    /// The quantized length BM25 uses for `doc`.
    pub fn doc_len(&self, doc: u32) -> u32 {
        norm::decode_norm(self.norm(doc))
    }

    /// Whether `doc` was added with a value.
    pub fn is_present(&self, doc: u32) -> bool {
        self.section(PRESENCE)
            .get(doc as usize / 8)
            .is_some_and(|b| b & (1 << (doc % 8)) != 0)
    }

    /// Every document that has a value.
    pub fn present_docs(&self) -> RoaringBitmap {
        let mut out = RoaringBitmap::new();
        for (i, &byte) in self.section(PRESENCE).iter().enumerate() {
            for bit in 0..8u32 {
                if byte & (1 << bit) != 0 {
                    // i < doc_slots / 8 + 1 ≤ 2^29, so the id fits.
                    out.insert(u32::try_from(i).unwrap_or(u32::MAX) * 8 + bit);
                }
            }
        }
        out
    }

    /// Looks up a term exactly (no analysis).
    ///
    /// # Errors
    /// [`FtsError::Corrupt`] if the term's row is malformed.
    pub fn term_info(&self, term: &str) -> Result<Option<TermInfo>> {
        let recent = || self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(known) = recent().get(term) {
            return Ok(known);
        }
        let info = match self.dict.get(term.as_bytes()) {
            Some(ordinal) => Some(self.term_info_by_ordinal(ordinal)?),
            None => None,
        };
        recent().put(term, info.clone());
        Ok(info)
    }

    fn term_info_by_ordinal(&self, ordinal: u64) -> Result<TermInfo> {
        let table_offset = self.header.sections[TERM_INFO].offset;
        let corrupt = |reason| FtsError::corrupt(Section::TermInfo, table_offset, reason);
        let ordinal = u32::try_from(ordinal)
            .ok()
            .filter(|&o| o < self.header.term_count)
            .ok_or_else(|| corrupt("term ordinal out of range"))?;
        let (record, starts) = terminfo::lookup(
            self.section(TERM_INFO),
            self.header.term_count,
            ordinal,
            terminfo::Streams {
                positions: self.has_positions(),
                offsets: self.has_offsets(),
            },
        )
        .ok_or_else(|| corrupt("malformed term record"))?;
        let extent = |i: usize| Extent {
            offset: starts[i],
            len: record.lens[i],
        };
        let info = TermInfo {
            ordinal,
            doc_freq: record.doc_freq,
            total_tf: record.total_tf,
            shape: record.shape,
            postings: extent(0),
            positions: extent(1),
            offsets: extent(2),
        };
        let within =
            |e: Extent, len: u64| e.offset.checked_add(e.len).is_some_and(|end| end <= len);
        let inline = matches!(info.shape, Shape::Inline { .. });
        if !within(info.postings, self.header.sections[POSTINGS].len)
            || !within(info.positions, self.header.sections[POSITIONS].len)
            || !within(info.offsets, self.header.sections[OFFSETS].len)
            || (info.postings.len == 0) != inline
        {
            return Err(corrupt("postings or positions out of bounds"));
        }
        if info.doc_freq > self.header.doc_count {
            return Err(corrupt("inconsistent term statistics"));
        }
        Ok(info)
    }

    /// A cursor over the postings of `info`, positioned on its first
    /// document.
    ///
    /// # Errors
    /// [`FtsError::Corrupt`] if the first block is malformed.
    pub fn postings(&self, info: &TermInfo) -> Result<Postings<'_>> {
        let region_offset = self.header.sections[POSTINGS].offset + info.postings.offset;
        let data = self
            .list(POSTINGS, info.postings)
            .ok_or(FtsError::NotLoaded {
                section: Section::Postings,
                offset: region_offset,
            })?;
        let stored = |section: usize, extent: Extent, kept: bool| {
            let offset = self.header.sections[section].offset + extent.offset;
            if !kept {
                Stored::Absent
            } else if let Some(bytes) = self.list(section, extent) {
                Stored::Loaded(bytes, offset)
            } else {
                Stored::Missing(offset)
            }
        };
        Postings::new(PostingsSource {
            data,
            region_offset,
            positions: stored(POSITIONS, info.positions, self.has_positions()),
            offsets: stored(OFFSETS, info.offsets, self.has_offsets()),
            norms: self.section(NORMS),
            shape: info.shape,
            doc_freq: info.doc_freq,
            group_widths: self.header.group_widths(),
        })
    }

    /// The norm bytes of every document slot.
    pub(crate) fn norms(&self) -> &[u8] {
        self.section(NORMS)
    }

    /// Terms accepted by `automaton`, in dictionary order, with their infos.
    ///
    /// # Errors
    /// [`FtsError::Query`] with [`QueryErrorKind::TooManyExpansions`] if more
    /// than `limit` terms match; [`FtsError::Corrupt`] on malformed rows.
    pub(crate) fn expand<A: Automaton>(
        &self,
        automaton: A,
        limit: usize,
    ) -> Result<Vec<(String, TermInfo)>> {
        // A depth-first walk over the FST's nodes in byte order, so keys come
        // out sorted. Unlike `fst`'s generic stream it keeps one automaton
        // state per level and nothing per visited transition.
        struct Frame<'f, S> {
            node: fst::raw::Node<'f>,
            next: usize,
            state: S,
            output: u64,
        }
        let fst = self.dict.as_fst();
        let mut out = Vec::new();
        let mut emit = |key: &[u8], ordinal: u64| -> Result<()> {
            if out.len() == limit {
                return Err(FtsError::query(
                    QueryErrorKind::TooManyExpansions { limit },
                    0,
                ));
            }
            let term = String::from_utf8_lossy(key).into_owned();
            out.push((term, self.term_info_by_ordinal(ordinal)?));
            Ok(())
        };
        let start = automaton.start();
        if !automaton.can_match(&start) {
            return Ok(out);
        }
        let root = fst.root();
        if root.is_final() && automaton.is_match(&start) {
            emit(&[], root.final_output().value())?;
        }
        let mut key: Vec<u8> = Vec::new();
        let mut stack = vec![Frame {
            node: root,
            next: 0,
            state: start,
            output: 0,
        }];
        while let Some(frame) = stack.last_mut() {
            if frame.next == frame.node.len() {
                stack.pop();
                key.pop();
                continue;
            }
            let t = frame.node.transition(frame.next);
            frame.next += 1;
            let state = automaton.accept(&frame.state, t.inp);
            if !automaton.can_match(&state) {
                continue;
            }
            let output = frame.output.wrapping_add(t.out.value());
            let node = fst.node(t.addr);
            key.push(t.inp);
            if node.is_final() && automaton.is_match(&state) {
                emit(&key, output.wrapping_add(node.final_output().value()))?;
            }
            stack.push(Frame {
                node,
                next: 0,
                state,
                output,
            });
        }
        Ok(out)
    }

    /// Every document containing `info`'s term.
    ///
    /// # Errors
    /// [`FtsError::Corrupt`] on malformed postings.
    pub fn doc_set(&self, info: &TermInfo) -> Result<RoaringBitmap> {
        self.docs_union(std::slice::from_ref(info))
    }

    /// Every document containing at least one of the terms of `infos`.
    ///
    /// The documents are gathered block by block and the set is built once:
    /// into a plain bit array when they are many for the region's size (an
    /// `IN` list of 150 values is a sixth of the rows), else sorted into
    /// one ascending pass. A set per term merged afterwards took twice as
    /// long (150 terms of ~250 documents each in a 250,000-document file).
    ///
    /// # Errors
    /// [`FtsError::Corrupt`] on malformed postings.
    pub fn docs_union(&self, infos: &[TermInfo]) -> Result<RoaringBitmap> {
        let total: u64 = infos.iter().map(|i| u64::from(i.doc_freq)).sum();
        let slots = self.doc_slots();
        if total.saturating_mul(DENSE_UNION) < u64::from(slots) {
            let mut docs = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
            for info in infos {
                self.postings(info)?.for_each_doc(|doc| docs.push(doc))?;
            }
            if infos.len() > 1 {
                docs.sort_unstable();
                docs.dedup();
            }
            return Ok(RoaringBitmap::from_sorted_iter(docs.iter().copied())
                .unwrap_or_else(|_| docs.into_iter().collect()));
        }
        let mut words = vec![0u64; (slots as usize).div_ceil(64)];
        let mut outside = false;
        for info in infos {
            self.postings(info)?
                .for_each_doc(|doc| match words.get_mut((doc / 64) as usize) {
                    Some(word) => *word |= 1 << (doc % 64),
                    None => outside = true,
                })?;
        }
        if outside {
            return Err(FtsError::corrupt(
                Section::Postings,
                0,
                "document id past the region's document slots",
            ));
        }
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        Ok(RoaringBitmap::from_lsb0_bytes(0, &bytes))
    }
}
