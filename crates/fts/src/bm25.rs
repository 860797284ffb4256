//! BM25 scoring with caller-supplied collection statistics.
//!
//! Statistics come from the caller so a table split over many regions scores
//! exactly like one index: the caller sums [`FtsIndex::local_stats`] over
//! every region of the snapshot ([`CollectionStats::merge`]) and passes the
//! total to each region's search.
//!
//! `score(t, d) = idf(t) · boost · tf·(k1+1) / (tf + k1·(1 − b + b·dl/avgdl))`
//! with `idf = ln(1 + (N − df + 0.5)/(df + 0.5))`, `dl` the *quantized*
//! length ([`quantize_doc_len`](crate::quantize_doc_len)) and
//! `avgdl = total_tokens / N` from the exact token count.

use std::collections::HashMap;

use crate::codec::norm;
use crate::error::{FtsError, QueryErrorKind, Result};
use crate::reader::FtsIndex;

/// BM25 free parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bm25Params {
    /// Term-frequency saturation; finite and `≥ 0`. Default 1.2.
    pub k1: f32,
    /// Length normalization; in `0..=1`. Default 0.75.
    pub b: f32,
}

impl Default for Bm25Params {
    fn default() -> Self {
        Bm25Params { k1: 1.2, b: 0.75 }
    }
}

impl Bm25Params {
    /// Checks the ranges documented on the fields.
    ///
    /// # Errors
    /// [`FtsError::Query`] with [`QueryErrorKind::InvalidArgument`].
    pub fn validate(&self) -> Result<()> {
        if !(self.k1.is_finite() && self.k1 >= 0.0) {
            return Err(invalid("k1"));
        }
        if !(0.0..=1.0).contains(&self.b) {
            return Err(invalid("b"));
        }
        Ok(())
    }
}

fn invalid(name: &'static str) -> FtsError {
    FtsError::query(QueryErrorKind::InvalidArgument { name }, 0)
}

/// Collection-wide statistics for BM25.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectionStats {
    /// Number of documents with a value (`N`).
    pub doc_count: u64,
    /// Total tokens over those documents (`avgdl = total_tokens / N`).
    pub total_tokens: u64,
    /// Document frequency per term. A term missing here has `df = 0`;
    /// values above `doc_count` are clamped to it.
    pub doc_freqs: HashMap<String, u64>,
}

impl CollectionStats {
    /// The document frequency of `term` (0 when absent).
    pub fn doc_freq(&self, term: &str) -> u64 {
        self.doc_freqs.get(term).copied().unwrap_or(0)
    }

    /// Adds `other`'s counts into `self` (for summing regions of a table).
    pub fn merge(&mut self, other: &CollectionStats) {
        self.doc_count += other.doc_count;
        self.total_tokens += other.total_tokens;
        for (term, df) in &other.doc_freqs {
            *self.doc_freqs.entry(term.clone()).or_insert(0) += df;
        }
    }

    /// Average document length; 1 when there are no tokens, so scores stay
    /// finite.
    #[expect(
        clippy::cast_possible_truncation,
        reason = "f32 precision is what scoring uses"
    )]
    pub fn avg_doc_len(&self) -> f32 {
        if self.doc_count == 0 || self.total_tokens == 0 {
            1.0
        } else {
            (self.total_tokens as f64 / self.doc_count as f64) as f32
        }
    }
}

/// Lucene's BM25 IDF, `ln(1 + (N − df + 0.5)/(df + 0.5))`, with `df`
/// clamped to `N`.
#[expect(
    clippy::cast_possible_truncation,
    reason = "f32 precision is what scoring uses"
)]
pub fn idf(doc_count: u64, doc_freq: u64) -> f32 {
    let n = doc_count as f64;
    let df = doc_freq.min(doc_count) as f64;
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln() as f32
}

impl FtsIndex {
    /// This region's statistics for `terms` (exact terms, not analyzed):
    /// its document count, token total and each term's document frequency.
    ///
    /// # Errors
    /// [`FtsError::Corrupt`] on a malformed term row.
    pub fn local_stats<'t>(
        &self,
        terms: impl IntoIterator<Item = &'t str>,
    ) -> Result<CollectionStats> {
        let mut stats = CollectionStats {
            doc_count: u64::from(self.doc_count()),
            total_tokens: self.total_tokens(),
            doc_freqs: HashMap::new(),
        };
        for term in terms {
            let df = self
                .term_info(term)?
                .map_or(0, |info| u64::from(info.doc_freq));
            stats.doc_freqs.insert(term.to_owned(), df);
        }
        Ok(stats)
    }
}

/// The length part of BM25's denominator, `k1·(1 − b + b·dl/avgdl)`, for
/// each of the 256 norm bytes; shared by every term of a query.
pub(crate) struct LengthNorms([f32; 256]);

impl LengthNorms {
    pub(crate) fn new(params: Bm25Params, avg_doc_len: f32) -> LengthNorms {
        let mut length_part = [0.0f32; 256];
        for (byte, slot) in length_part.iter_mut().enumerate() {
            let dl = norm::DECODE[byte] as f32;
            *slot = params.k1 * (1.0 - params.b + params.b * dl / avg_doc_len);
        }
        LengthNorms(length_part)
    }
}

/// Scores one term against the query's [`LengthNorms`].
#[derive(Clone, Copy)]
pub(crate) struct TermScorer<'q> {
    weight: f32,
    lengths: &'q LengthNorms,
}

impl<'q> TermScorer<'q> {
    pub(crate) fn new(
        idf: f32,
        boost: f32,
        params: Bm25Params,
        lengths: &'q LengthNorms,
    ) -> TermScorer<'q> {
        TermScorer {
            weight: idf * boost * (params.k1 + 1.0),
            lengths,
        }
    }

    /// The score of a document with term frequency `tf` and norm byte `norm`.
    /// Non-decreasing in `tf` and non-increasing in `norm`, which makes
    /// `score(max_tf, min_norm)` an upper bound over a block.
    #[inline]
    pub(crate) fn score(&self, tf: u32, norm: u8) -> f32 {
        let tf = tf as f32;
        self.weight * tf / (tf + self.lengths.0[usize::from(norm)])
    }
}
