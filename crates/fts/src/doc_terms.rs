//! A document's terms on their way into the term accumulators, a batch at
//! a time.
//!
//! Interning a token probes a slot of the intern table, and adding it
//! appends to the term's stream: on a large vocabulary both are cache
//! misses, and taken one token at a time each waits for the last. So the
//! builder gathers up to [`BATCH`] tokens (their terms and hashes), then
//! interns them all, then adds them all, each pass prefetching a few tokens
//! ahead so the misses overlap. A term's entries for a document stay
//! contiguous and in position order: tokens are flushed in order, and
//! documents are added one at a time.

use crate::accumulate::TermPostings;
use crate::error::{FtsError, Result};
use crate::intern::{Interner, hash};
use crate::prefetch::prefetch;

/// Tokens gathered before a flush: bounds the batch's memory however long
/// a document is (about 40 bytes a token), and is far above the distance
/// prefetches need.
const BATCH: usize = 4096;

/// Tokens ahead of the one being interned (or added) whose intern slot
/// (or accumulator's stream tail) is prefetched; accumulators themselves
/// twice as far.
const AHEAD: usize = 4;

/// Bytes per distinct term beyond its text: interner slot and span, and the
/// accumulator (a conservative round figure).
const NEW_TERM_OVERHEAD: usize = 128;

/// The gathered tokens of the document being added.
#[derive(Default)]
pub(crate) struct DocTerms {
    /// The terms' bytes, one after another.
    bytes: Vec<u8>,
    tokens: Vec<DocToken>,
}

struct DocToken {
    /// Where the term's bytes end in `bytes` (they start where the previous
    /// token's end).
    end: usize,
    hash: u64,
    /// `[position, start, end]`.
    occurrence: [u32; 3],
    /// The term's id, once interned.
    id: u32,
}

/// Where a flush puts the tokens: the builder's intern table and
/// accumulators, and its running memory estimates (of the new terms, and
/// of the accumulated bytes).
pub(crate) struct Sink<'a> {
    pub(crate) terms: &'a mut Interner,
    pub(crate) postings: &'a mut Vec<TermPostings>,
    pub(crate) memory: &'a mut usize,
    pub(crate) stream_bytes: &'a mut usize,
    pub(crate) doc: u32,
    pub(crate) positions: bool,
}

impl DocTerms {
    /// Gathers one token of `sink.doc`, flushing when the batch is full.
    ///
    /// # Errors
    /// As [`flush`](Self::flush).
    pub(crate) fn push(
        &mut self,
        term: &[u8],
        occurrence: [u32; 3],
        sink: &mut Sink<'_>,
    ) -> Result<()> {
        self.bytes.extend_from_slice(term);
        self.tokens.push(DocToken {
            end: self.bytes.len(),
            hash: hash(term),
            occurrence,
            id: 0,
        });
        if self.tokens.len() >= BATCH {
            self.flush(sink)?;
        }
        Ok(())
    }

    /// Interns and adds every gathered token, in order, and empties the
    /// batch.
    ///
    /// # Errors
    /// [`FtsError::TooLarge`] when the term ids (`u32`) run out.
    pub(crate) fn flush(&mut self, sink: &mut Sink<'_>) -> Result<()> {
        for i in 0..self.tokens.len() {
            if let Some(ahead) = self.tokens.get(i + AHEAD) {
                sink.terms.prefetch(ahead.hash);
            }
            let start = i.checked_sub(1).map_or(0, |prev| self.tokens[prev].end);
            let term = &self.bytes[start..self.tokens[i].end];
            let Some((id, new)) = sink.terms.intern_hashed(term, self.tokens[i].hash) else {
                // Unreachable in practice: 2^32 distinct terms exhaust
                // memory first.
                return Err(FtsError::TooLarge {
                    what: "more than u32::MAX distinct terms",
                });
            };
            if new {
                sink.postings.push(TermPostings::default());
                *sink.memory += term.len() + NEW_TERM_OVERHEAD;
            }
            self.tokens[i].id = id;
        }
        let postings = &mut *sink.postings;
        for (i, token) in self.tokens.iter().enumerate() {
            if let Some(ahead) = self.tokens.get(i + 2 * AHEAD) {
                prefetch(std::ptr::from_ref(&postings[ahead.id as usize]));
            }
            if let Some(ahead) = self.tokens.get(i + AHEAD) {
                postings[ahead.id as usize].prefetch_tail();
            }
            *sink.stream_bytes +=
                postings[token.id as usize].add(sink.doc, sink.positions, token.occurrence);
        }
        self.bytes.clear();
        self.tokens.clear();
        Ok(())
    }
}
