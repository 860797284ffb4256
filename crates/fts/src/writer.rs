//! Building a region: documents in, region bytes out.
//!
//! Postings are accumulated in memory per term, in compact form, then laid
//! out in one pass by [`FtsIndexBuilder::finish`]. With a memory budget
//! ([`FtsIndexBuilder::with_memory_budget`]) the accumulated bytes are
//! spilled to temporary files whenever they pass it ([`crate::spill`]) and
//! read back, in order, by `finish`.

use crate::accumulate::{Decoded, TermPostings, decode_stream};
use crate::analyzer::{Analyzer, AnalyzerConfig, spans_whole};
use crate::bm25::{Bm25Params, CollectionStats, LengthNorms, TermScorer};
use crate::codec::groups::Widths;
use crate::codec::norm;
use crate::doc_terms::{DocTerms, Sink};
use crate::encode::{TermLists, write_term};
use crate::error::{FtsError, Result};
use crate::format::{
    self, Extent, FIXED_HEADER_LEN, FLAG_LEADING_WIDTHS, FLAG_OFFSETS, FLAG_POSITIONS,
    FLAG_WHOLE_VALUES, Header, MAX_DOC, SECTION_COUNT,
};
use crate::intern::Interner;
use crate::prefetch::prefetch;
use crate::spill::Spills;
use crate::terminfo::TermTableWriter;

/// What to build: the analyzer and whether to store positions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FtsConfig {
    /// How text becomes terms; recorded in the region.
    pub analyzer: AnalyzerConfig,
    /// Store positions, enabling phrase queries. (Byte offsets for
    /// highlighting are opt-in: [`FtsIndexBuilder::with_offsets`].)
    pub positions: bool,
}

/// Builds one full-text region from documents given in increasing id order.
///
/// Memory: 1–5 bytes per distinct (term, document) pair, plus 1 byte per
/// further token (3–10 per token with positions), plus the distinct terms
/// themselves and one byte per document id up to the largest — so roughly
/// proportional to the total token count. [`finish`](Self::finish) needs the region size again on
/// top while it lays the bytes out.
pub struct FtsIndexBuilder {
    analyzer: Analyzer,
    config: FtsConfig,
    /// Store byte offsets too (see [`FtsIndexBuilder::with_offsets`]).
    offsets: bool,
    /// Where position and offset group widths go: leading, except in
    /// tests that write the older inline layout readers still accept.
    group_widths: Widths,
    terms: Interner,
    /// Postings per term id.
    postings: Vec<TermPostings>,
    norms: Vec<u8>,
    presence: Vec<u8>,
    last_doc: Option<u32>,
    doc_count: u32,
    total_tokens: u64,
    /// Whether every text added so far is exactly one term spelled as the
    /// text ([`Analyzer::is_own_term`]); recorded as a header flag.
    whole_values: bool,
    /// Running estimate of heap bytes held for terms, for
    /// [`Self::memory_estimate`].
    memory: usize,
    /// Accumulated postings bytes held (what a spill frees).
    stream_bytes: usize,
    /// Spill the accumulated postings once they pass this many bytes.
    budget: Option<usize>,
    spills: Spills,
    /// The document being added, reused across documents.
    doc_terms: DocTerms,
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
            offsets: false,
            group_widths: Widths::Leading,
            terms: Interner::default(),
            postings: Vec::new(),
            norms: Vec::new(),
            presence: Vec::new(),
            last_doc: None,
            doc_count: 0,
            total_tokens: 0,
            whole_values: true,
            memory: 0,
            stream_bytes: 0,
            budget: None,
            spills: Spills::default(),
            doc_terms: DocTerms::default(),
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
        if self.budget.is_some_and(|budget| self.stream_bytes > budget) {
            self.spill()?;
        }
        self.last_doc = Some(doc);
        let slots = doc as usize + 1;
        self.norms.resize(slots, 0);
        self.presence.resize(slots.div_ceil(8), 0);
        let Some(text) = text else {
            return Ok(());
        };
        // Tokens reach their terms' accumulators in batches (see
        // `doc_terms`), in position order.
        let mut first_is_whole = false;
        let mut doc_len: u32 = 0;
        let mut failed = None;
        let Self {
            analyzer,
            config,
            terms,
            postings,
            memory,
            stream_bytes,
            doc_terms,
            ..
        } = self;
        let mut sink = Sink {
            terms,
            postings,
            memory,
            stream_bytes,
            doc,
            positions: config.positions,
        };
        analyzer.for_each_term(text, |term, position, start, end| {
            if failed.is_some() {
                return;
            }
            if doc_len == 0 {
                first_is_whole = spans_whole(text, term, start, end);
            }
            doc_len = doc_len.saturating_add(1);
            // Offsets fit u32: longer texts were rejected above.
            let start = u32::try_from(start).unwrap_or(u32::MAX);
            let end = u32::try_from(end).unwrap_or(u32::MAX);
            if let Err(e) = doc_terms.push(term.as_bytes(), [position, start, end], &mut sink) {
                failed = Some(e);
            }
        });
        match failed {
            Some(e) => Err(e),
            None => doc_terms.flush(&mut sink),
        }?;
        self.whole_values &= doc_len == 1 && first_is_whole;
        self.norms[doc as usize] = norm::encode_norm(doc_len);
        self.presence[doc as usize / 8] |= 1 << (doc % 8);
        self.doc_count += 1;
        self.total_tokens += u64::from(doc_len);
        Ok(())
    }

    /// Approximate heap bytes the builder holds now (postings, positions,
    /// terms, norms), excluding allocator slack and postings already
    /// spilled; `finish` needs about the region size again on top. Lets a
    /// caller cap a region's size (when nothing spills).
    pub fn memory_estimate(&self) -> usize {
        self.memory + self.stream_bytes + self.norms.len() + self.presence.len()
    }

    /// Spill the accumulated postings to anonymous temporary files (in the
    /// system's temporary directory) whenever they pass `bytes`, checked
    /// before each document: their memory then stays within `bytes` plus
    /// one document's, whatever the input's size. The dictionary of
    /// distinct terms and one norm byte per document stay in memory, and
    /// `finish` still needs about the region's size. The region is
    /// byte-identical to one built without a budget. Each spill keeps one
    /// open (already unlinked) temporary file until `finish`, so a budget
    /// should be megabytes: one far below the input's postings makes a
    /// file per few documents.
    #[must_use]
    pub fn with_memory_budget(mut self, bytes: usize) -> FtsIndexBuilder {
        self.budget = Some(bytes);
        self
    }

    /// Moves every accumulated stream to a new spill file.
    ///
    /// # Errors
    /// [`FtsError::Spill`] if the file cannot be written; nothing is
    /// moved then.
    fn spill(&mut self) -> Result<()> {
        let order = self.terms.sorted_ids();
        let moved = self.spills.spill(&order, &mut self.postings)?;
        self.stream_bytes = self.stream_bytes.saturating_sub(moved);
        Ok(())
    }

    /// Also store each occurrence's byte offsets (with positions only), so
    /// [`highlight`](crate::highlight) reads them instead of re-analyzing
    /// the text. Off by default: offsets take more space than positions,
    /// and re-analyzing the few documents a page highlights gives the same
    /// spans (the region records its analyzer).
    #[must_use]
    pub fn with_offsets(mut self, offsets: bool) -> FtsIndexBuilder {
        self.offsets = offsets && self.config.positions;
        self
    }

    /// Writes position and offset groups in the older inline-widths
    /// layout, to test that readers still accept it.
    #[cfg(test)]
    pub(crate) fn with_inline_group_widths(mut self) -> FtsIndexBuilder {
        self.group_widths = Widths::Inline;
        self
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
    pub fn finish(mut self) -> Result<Vec<u8>> {
        let mut spills = std::mem::take(&mut self.spills);
        let mut spilled = Vec::new();
        let order = self.terms.sorted_ids();
        let term_count = u32::try_from(order.len()).map_err(|_| FtsError::TooLarge {
            what: "more than u32::MAX distinct terms",
        })?;

        let mut dict = fst::MapBuilder::memory();
        let mut table = TermTableWriter::new(self.config.positions, self.offsets);
        let mut lists = TermLists {
            group_widths: self.group_widths,
            ..TermLists::default()
        };
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
        let mut decoded = Decoded::default();
        // Terms are visited in byte order, so each one's accumulator and
        // stream are cache misses: the accumulator is prefetched a few
        // terms ahead, its stream one term ahead (once its header is in).
        const AHEAD: usize = 4;
        for (ordinal, &id) in order.iter().enumerate() {
            if let Some(&later) = order.get(ordinal + AHEAD) {
                prefetch(std::ptr::from_ref(&self.postings[later as usize]));
            }
            if let Some(&next) = order.get(ordinal + 1) {
                self.postings[next as usize].prefetch_head();
            }
            let acc = &self.postings[id as usize];
            // A spilled term's stream is its chunks, then its bytes still in
            // memory; any other's is in memory whole.
            spilled.clear();
            spills.take_into(id, &mut spilled)?;
            if spilled.is_empty() {
                acc.decode_into(self.config.positions, &mut decoded)?;
            } else {
                spilled.extend_from_slice(acc.stream());
                decode_stream(&spilled, self.config.positions, &mut decoded)?;
            }
            dict.insert(self.terms.get(id), ordinal as u64)
                .map_err(|_| FtsError::TooLarge {
                    what: "term dictionary",
                })?;
            let starts = lists.lens();
            let record = write_term(
                &decoded,
                acc.total_tf(),
                &self.norms,
                self.config.positions,
                self.offsets,
                &rank,
                &mut lists,
            )?;
            table.push(&record, starts);
        }
        let term_info = table.finish();
        let TermLists {
            postings,
            positions,
            offsets,
            ..
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
            flags: match (self.config.positions, self.offsets) {
                (true, true) => FLAG_POSITIONS | FLAG_OFFSETS,
                (true, false) => FLAG_POSITIONS,
                (false, _) => 0,
            } | if self.config.positions && self.group_widths == Widths::Leading {
                FLAG_LEADING_WIDTHS
            } else {
                0
            } | if self.whole_values {
                FLAG_WHOLE_VALUES
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
        assert!(one >= 3 * 4);
        for doc in 1..100 {
            builder.add_document(doc, Some("a b c")).expect("add");
        }
        let many = builder.memory_estimate();
        // Each further document adds, per term, a 1-byte document marker
        // and 3 bytes of position and offsets, plus a norm byte; no new
        // terms.
        let per_doc = (many - one) / 99;
        assert!((3 * 4..=3 * 4 + 2).contains(&per_doc), "{one} {many}");
    }

    /// Builds `docs` (id, text) with positions and offsets as asked, and
    /// an optional budget; returns the region and the largest accumulated
    /// bytes seen after any document.
    fn build(
        docs: &[(u32, Option<String>)],
        positions: bool,
        offsets: bool,
        budget: Option<usize>,
    ) -> (Vec<u8>, usize) {
        let mut builder = FtsIndexBuilder::new(FtsConfig {
            positions,
            ..FtsConfig::default()
        })
        .expect("config")
        .with_offsets(offsets);
        if let Some(budget) = budget {
            builder = builder.with_memory_budget(budget);
        }
        let mut most = 0;
        for (doc, text) in docs {
            builder.add_document(*doc, text.as_deref()).expect("add");
            most = most.max(builder.stream_bytes);
        }
        (builder.finish().expect("finish"), most)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

        /// Spilling under any budget writes the same region bytes, and
        /// keeps the accumulated bytes within the budget plus a document.
        #[test]
        fn spilled_builds_equal_in_memory_builds(
            docs in proptest::collection::vec(
                (1u32..4, proptest::option::weighted(0.9, proptest::collection::vec(0usize..40, 0..60))),
                1..120,
            ),
            budget in 0usize..4000,
            positions in proptest::bool::ANY,
            offsets in proptest::bool::ANY,
        ) {
            let mut id = 0;
            let docs: Vec<(u32, Option<String>)> = docs
                .into_iter()
                .map(|(step, words)| {
                    id += step;
                    // Word k is "w{k}", frequent ones drawn more (k*k/40).
                    let text = words.map(|w| {
                        w.iter().map(|&k| format!("w{}", k * k / 40)).collect::<Vec<_>>().join(" ")
                    });
                    (id, text)
                })
                .collect();
            let (plain, _) = build(&docs, positions, offsets, None);
            let (spilled, most) = build(&docs, positions, offsets, Some(budget));
            proptest::prop_assert!(plain == spilled, "region bytes differ");
            // A document adds at most 60 occurrences of ≤ 2 + 3·5 bytes.
            proptest::prop_assert!(most <= budget + 60 * 17, "{most} > {budget}");
        }
    }

    #[test]
    fn a_large_build_spills_and_reads_back_in_order() {
        // Enough distinct terms and documents for many spills of many
        // chunks each, with long documents mixed in.
        let docs: Vec<(u32, Option<String>)> = (0..3000u32)
            .map(|d| {
                let len = if d % 97 == 0 { 2000 } else { 30 };
                let text = (0..len)
                    .map(|i| {
                        format!(
                            "t{}",
                            (d.wrapping_mul(31) + i * 7) % 900 + (i % 3) * (d % 5)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                (d * 2, (d % 50 != 7).then_some(text))
            })
            .collect();
        let (plain, unbounded) = build(&docs, true, true, None);
        let (spilled, most) = build(&docs, true, true, Some(64 * 1024));
        assert!(plain == spilled, "region bytes differ");
        assert!(
            unbounded > 8 * 64 * 1024,
            "the test should spill many times: {unbounded}"
        );
        assert!(most < 64 * 1024 + 2000 * 17, "{most}");
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

    /// The whole-values flag, read back from the region, for `texts`.
    fn whole_values(texts: &[Option<&str>]) -> bool {
        let mut builder = FtsIndexBuilder::new(FtsConfig::default()).expect("config");
        for (doc, text) in (0..).zip(texts) {
            builder.add_document(doc, *text).expect("add");
        }
        let region = builder.finish().expect("finish");
        crate::FtsIndex::open(bytes::Bytes::from(region))
            .expect("open")
            .whole_values()
    }

    #[test]
    fn whole_values_flag_needs_every_text_to_be_its_own_term() {
        assert!(whole_values(&[]));
        assert!(whole_values(&[None, None]));
        assert!(whole_values(&[Some("c1"), None, Some("c97"), Some("c1")]));
        // One text that is not its own term clears it, wherever it is.
        for odd in ["C1", "c1 c2", "", "c-1", " c1"] {
            assert!(
                !whole_values(&[Some("c1"), Some(odd), Some("c2")]),
                "{odd:?}"
            );
            assert!(!whole_values(&[Some(odd)]), "{odd:?}");
        }
        // Each text must be one term by itself, not only start with one.
        assert!(!whole_values(&[Some("c1 c1")]));
    }
}
