//! Building a region: documents in, region bytes out.
//!
//! Postings are accumulated in memory per term, in compact form, then laid
//! out in one pass by [`FtsIndexBuilder::finish`]. The alternative — spilling
//! sorted runs and merging — bounds memory for huge inputs but a region is one
//! column of one superfile, so the simple design is the right trade for now.

use std::collections::HashMap;

use crate::analyzer::{Analyzer, AnalyzerConfig};
use crate::bm25::{Bm25Params, CollectionStats, LengthNorms, TermScorer};
use crate::codec::{norm, varint};
use crate::encode::{TermLists, write_term};
use crate::error::{FtsError, Result};
use crate::format::{
    self, Extent, FIXED_HEADER_LEN, FLAG_POSITIONS, Header, MAX_DOC, SECTION_COUNT,
};
use crate::hash::BuildTermHasher;
use crate::terminfo::TermTableWriter;

/// Bytes per distinct term beyond its text: the map entry and four vectors.
const NEW_TERM_OVERHEAD: usize = 128;

/// What to build: the analyzer and whether to store positions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FtsConfig {
    /// How text becomes terms; recorded in the region.
    pub analyzer: AnalyzerConfig,
    /// Store positions and byte offsets, enabling phrase queries and
    /// highlighting from stored offsets.
    pub positions: bool,
}

/// Per-term accumulation: parallel doc and term-frequency lists, and the
/// occurrences as a varint stream (compact while building; re-packed into
/// groups by `finish`).
#[derive(Default)]
pub(crate) struct TermPostings {
    pub(crate) docs: Vec<u32>,
    pub(crate) tfs: Vec<u32>,
    /// Per occurrence: position delta (the first of a document absolute),
    /// start − previous end (the first absolute), end − start.
    pub(crate) occurrences: Vec<u8>,
    pub(crate) total_tf: u64,
    /// Position and end offset of the previous occurrence in the last
    /// document, the bases of the next delta.
    prev_position: u32,
    prev_end: u32,
}

/// Builds one full-text region from documents given in increasing id order.
///
/// Memory: about 8 bytes per distinct (term, document) pair, plus, with
/// positions, 3–6 bytes per token, plus the distinct terms themselves and one
/// byte per document id up to the largest — so roughly proportional to the
/// total token count. [`finish`](Self::finish) needs the region size again on
/// top while it lays the bytes out.
pub struct FtsIndexBuilder {
    analyzer: Analyzer,
    config: FtsConfig,
    terms: HashMap<String, TermPostings, BuildTermHasher>,
    norms: Vec<u8>,
    presence: Vec<u8>,
    last_doc: Option<u32>,
    doc_count: u32,
    total_tokens: u64,
    /// Running estimate of heap bytes held, for [`Self::memory_estimate`].
    memory: usize,
}

impl std::fmt::Debug for FtsIndexBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FtsIndexBuilder")
            .field("config", &self.config)
            .field("terms", &self.terms.len())
            .field("doc_count", &self.doc_count)
            .finish_non_exhaustive()
    }
}

impl FtsIndexBuilder {
    /// Starts an empty region.
    ///
    /// # Errors
    /// [`FtsError::InvalidConfig`] if the analyzer configuration is invalid.
    pub fn new(config: FtsConfig) -> Result<FtsIndexBuilder> {
        Ok(FtsIndexBuilder {
            analyzer: Analyzer::new(config.analyzer.clone())?,
            config,
            terms: HashMap::default(),
            norms: Vec::new(),
            presence: Vec::new(),
            last_doc: None,
            doc_count: 0,
            total_tokens: 0,
            memory: 0,
        })
    }

    /// Adds document `doc` (a file-local row ordinal). `None` records a null:
    /// the document takes no part in search or statistics.
    ///
    /// Ids must strictly increase across calls and may skip values. Cost is
    /// linear in the text length.
    ///
    /// # Errors
    /// [`FtsError::InvalidDocument`] if `doc` is not greater than the previous
    /// id, equals `u32::MAX`, or the text is longer than `u32::MAX` bytes. The
    /// builder is unchanged on error.
    pub fn add_document(&mut self, doc: u32, text: Option<&str>) -> Result<()> {
        if self.last_doc.is_some_and(|last| doc <= last) {
            return Err(FtsError::InvalidDocument {
                doc,
                reason: "document ids must strictly increase",
            });
        }
        if doc > MAX_DOC {
            return Err(FtsError::InvalidDocument {
                doc,
                reason: "u32::MAX is reserved",
            });
        }
        if text.is_some_and(|t| u32::try_from(t.len()).is_err()) {
            return Err(FtsError::InvalidDocument {
                doc,
                reason: "text longer than u32::MAX bytes",
            });
        }
        self.last_doc = Some(doc);
        let slots = doc as usize + 1;
        self.norms.resize(slots, 0);
        self.presence.resize(slots.div_ceil(8), 0);
        let Some(text) = text else {
            return Ok(());
        };
        // Occurrences go straight into each term's lists in position order:
        // a term's entries for this document stay contiguous because
        // documents are added one at a time.
        let mut doc_len: u32 = 0;
        let Self {
            analyzer,
            config,
            terms,
            memory,
            ..
        } = self;
        analyzer.for_each_term(text, |term, position, start, end| {
            doc_len += 1;
            // Offsets fit u32: longer texts were rejected above.
            let start = u32::try_from(start).expect("invariant: text ≤ u32::MAX");
            let end = u32::try_from(end).expect("invariant: text ≤ u32::MAX");
            add_occurrence(
                terms,
                memory,
                config.positions,
                doc,
                term,
                [position, start, end],
            );
        });
        self.norms[doc as usize] = norm::encode_norm(doc_len);
        self.presence[doc as usize / 8] |= 1 << (doc % 8);
        self.doc_count += 1;
        self.total_tokens += u64::from(doc_len);
        Ok(())
    }

    /// Approximate heap bytes the builder holds now (postings, positions,
    /// terms, norms), excluding allocator slack; `finish` needs about the
    /// region size again on top. Lets a caller cap a region's size.
    pub fn memory_estimate(&self) -> usize {
        self.memory + self.norms.len() + self.presence.len()
    }

    /// Number of documents with a value added so far.
    pub fn doc_count(&self) -> u32 {
        self.doc_count
    }

    /// Lays out the region. Time `O(T log T + P)` for `T` distinct terms and
    /// `P` postings.
    ///
    /// # Errors
    /// [`FtsError::TooLarge`] if the term count exceeds `u32::MAX`.
    pub fn finish(self) -> Result<Vec<u8>> {
        let mut terms: Vec<(String, TermPostings)> = self.terms.into_iter().collect();
        terms.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let term_count = u32::try_from(terms.len()).map_err(|_| FtsError::TooLarge {
            what: "more than u32::MAX distinct terms",
        })?;

        let mut dict = fst::MapBuilder::memory();
        let mut table = TermTableWriter::new(self.config.positions);
        let mut lists = TermLists::default();
        // Bound pairs are chosen to be tightest under default parameters
        // and this file's average length; any choice stays a valid bound.
        let avg = CollectionStats {
            doc_count: u64::from(self.doc_count),
            total_tokens: self.total_tokens,
            ..CollectionStats::default()
        }
        .avg_doc_len();
        let params = Bm25Params::default();
        let lengths = LengthNorms::new(params, avg);
        let rank = TermScorer::new(1.0, 1.0, params, &lengths);
        for (ordinal, (term, acc)) in terms.iter().enumerate() {
            dict.insert(term.as_bytes(), ordinal as u64)
                .map_err(|_| FtsError::TooLarge {
                    what: "term dictionary",
                })?;
            let starts = lists.lens();
            let record = write_term(acc, &self.norms, self.config.positions, &rank, &mut lists)?;
            table.push(&record, starts);
        }
        let term_info = table.finish();
        let TermLists {
            postings,
            positions,
            offsets,
        } = lists;
        let dict = dict
            .into_inner()
            .expect("invariant: in-memory FST cannot fail");

        let analyzer = self.config.analyzer.to_bytes()?;
        let analyzer_len = u32::try_from(analyzer.len()).map_err(|_| FtsError::TooLarge {
            what: "analyzer configuration over u32::MAX bytes",
        })?;
        let header_len = format::align_up(FIXED_HEADER_LEN + analyzer.len());
        let bodies: [&[u8]; SECTION_COUNT] = [
            &dict,
            &term_info,
            &self.norms,
            &self.presence,
            &postings,
            &positions,
            &offsets,
        ];
        let mut sections = [Extent::default(); SECTION_COUNT];
        let mut cursor = header_len;
        for (extent, body) in sections.iter_mut().zip(bodies) {
            *extent = Extent {
                offset: cursor as u64,
                len: body.len() as u64,
            };
            cursor = format::align_up(cursor + body.len());
        }
        let header = Header {
            minor: format::MINOR,
            header_len: u32::try_from(header_len).map_err(|_| FtsError::TooLarge {
                what: "header over u32::MAX bytes",
            })?,
            flags: if self.config.positions {
                FLAG_POSITIONS
            } else {
                0
            },
            doc_count: self.doc_count,
            doc_slots: u32::try_from(self.norms.len()).expect("invariant: doc ≤ MAX_DOC"),
            total_tokens: self.total_tokens,
            term_count,
            analyzer_len,
            sections,
        };
        let mut out = Vec::with_capacity(cursor);
        header.write(&mut out);
        out.extend_from_slice(&analyzer);
        for body in bodies {
            out.resize(format::align_up(out.len()), 0);
            out.extend_from_slice(body);
        }
        out.resize(format::align_up(out.len()), 0);
        Ok(out)
    }
}

/// Records one occurrence (`[position, start, end]`) of `term` in `doc`,
/// the latest document.
fn add_occurrence(
    terms: &mut HashMap<String, TermPostings, BuildTermHasher>,
    memory: &mut usize,
    positions: bool,
    doc: u32,
    term: &str,
    [position, start, end]: [u32; 3],
) {
    let entry = match terms.get_mut(term) {
        Some(entry) => entry,
        None => {
            *memory += term.len() + NEW_TERM_OVERHEAD;
            terms.entry(term.to_owned()).or_default()
        }
    };
    let positions_before = entry.occurrences.len();
    if entry.docs.last() != Some(&doc) {
        entry.docs.push(doc);
        entry.tfs.push(0);
        entry.prev_position = 0;
        entry.prev_end = 0;
        *memory += 2 * std::mem::size_of::<u32>();
    }
    if let Some(tf) = entry.tfs.last_mut() {
        *tf += 1;
    }
    entry.total_tf += 1;
    if positions {
        varint::write_u32(position - entry.prev_position, &mut entry.occurrences);
        varint::write_u32(start - entry.prev_end, &mut entry.occurrences);
        varint::write_u32(end - start, &mut entry.occurrences);
        entry.prev_position = position;
        entry.prev_end = end;
    }
    *memory += entry.occurrences.len() - positions_before;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_estimate_grows_with_tokens() {
        let mut builder = FtsIndexBuilder::new(FtsConfig {
            positions: true,
            ..FtsConfig::default()
        })
        .expect("config");
        assert_eq!(builder.memory_estimate(), 0);
        builder.add_document(0, Some("a b c")).expect("add");
        let one = builder.memory_estimate();
        assert!(one >= 3 * (8 + 3));
        for doc in 1..100 {
            builder.add_document(doc, Some("a b c")).expect("add");
        }
        let many = builder.memory_estimate();
        // Each further document adds 3 postings of 8 bytes plus 3 bytes of
        // positions each, and a norm byte; no new terms.
        let per_doc = (many - one) / 99;
        assert!((3 * 11..=3 * 11 + 2).contains(&per_doc), "{one} {many}");
    }

    #[test]
    fn rejects_out_of_order_and_reserved_ids() {
        let mut builder = FtsIndexBuilder::new(FtsConfig::default()).expect("config");
        builder.add_document(5, Some("x")).expect("add");
        assert!(builder.add_document(5, Some("y")).is_err());
        assert!(builder.add_document(3, None).is_err());
        assert!(builder.add_document(u32::MAX, None).is_err());
        builder.add_document(7, None).expect("null");
        assert_eq!(builder.doc_count(), 1);
    }
}
