//! BM25 top-k over a region: MaxScore for disjunctions, a leapfrog
//! intersection with block skipping for conjunctions, and a block-skipping
//! scan for a single term.
//!
//! All use per-block upper bounds (`max tf`, `min norm` from each block
//! header) to avoid decoding blocks whose best possible score cannot enter
//! the current top-k, so a selective query decodes few blocks. MaxScore is
//! preferred to block-max WAND for disjunctions: once the threshold rises,
//! candidates come only from the few high-bound terms, and the per-document
//! loop is a plain merge with no re-sorting of cursors.
//!
//! Scores of a document are summed in query-term order whatever path found
//! it, so equal inputs give bit-identical scores and ties break by doc id.

use roaring::RoaringBitmap;

use crate::bm25::{Bm25Params, CollectionStats, LengthNorms, TermScorer, idf};
use crate::error::{FtsError, QueryErrorKind, Result};
use crate::format::BLOCK_SIZE;
use crate::postings::{Postings, TERMINATED};
use crate::reader::{FtsIndex, TermInfo};
use crate::topk::TopK;

/// How query terms combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MatchMode {
    /// A document matches if it contains any term (disjunction).
    #[default]
    Any,
    /// A document matches only if it contains every term (conjunction).
    All,
}

/// Bounds are inflated by this factor before pruning so floating-point
/// rounding in sums can never prune a document that belongs in the top-k.
const BOUND_SLACK: f32 = 1.0 + 1e-5;

struct TermCursor<'a> {
    postings: Postings<'a>,
    scorer: TermScorer<'a>,
    /// Index of the term in the deduplicated query.
    slot: usize,
    max_score: f32,
    doc_freq: u32,
}

impl TermCursor<'_> {
    /// The score of the current document, whose norm byte is `norm`.
    fn score(&self, norm: u8) -> Result<f32> {
        Ok(self.scorer.score(self.postings.checked_tf(norm)?, norm))
    }

    /// [`score`](Self::score), decoding the block's term frequencies at
    /// once first: for a cursor whose documents are scored one after
    /// another, one vectorized unpack beats an extraction per entry.
    fn score_decoding(&mut self, norm: u8) -> Result<f32> {
        self.postings.decode_tfs()?;
        self.score(norm)
    }

    fn block_bound(&self) -> f32 {
        let scorer = self.scorer;
        self.postings.block_bound(|tf, norm| scorer.score(tf, norm))
    }
}

/// Whether a document whose score is at most about `bound` (a sum in any
/// order, so inflated for rounding) can enter a top-k at `threshold`.
/// Documents arrive in increasing id order, so one scoring exactly the
/// threshold cannot.
impl<'a> TermCursor<'a> {
    /// A cursor over `term`'s postings with its BM25 scorer and upper bound.
    #[expect(clippy::too_many_arguments, reason = "the scoring inputs of one term")]
    fn open(
        index: &'a FtsIndex,
        info: &TermInfo,
        term: &str,
        boost: f32,
        slot: usize,
        params: Bm25Params,
        stats: &CollectionStats,
        lengths: &'a LengthNorms,
    ) -> Result<Self> {
        let scorer = TermScorer::new(
            idf(stats.doc_count, stats.doc_freq(term)),
            boost,
            params,
            lengths,
        );
        Ok(TermCursor {
            max_score: info.bound_score(index.norms(), |tf, norm| scorer.score(tf, norm)),
            postings: index.postings(info)?,
            scorer,
            slot,
            doc_freq: info.doc_freq,
        })
    }
}

fn beats(bound: f32, threshold: Option<f32>) -> bool {
    threshold.is_none_or(|t| bound * BOUND_SLACK > t)
}

/// [`beats`] for a bound summed in slot order (as scores are) from
/// per-term bounds: floating-point addition is monotone, so it bounds the
/// score exactly and needs no slack — which lets blocks whose bound ties
/// the threshold be skipped.
fn beats_exact(bound: f32, threshold: Option<f32>) -> bool {
    threshold.is_none_or(|t| bound > t)
}

/// Top-`k` documents by BM25 over exact (already analyzed) `terms`, each
/// with a boost; duplicate terms are merged by summing their boosts.
///
/// `stats` supplies `N`, `avgdl` and document frequencies (see
/// [`CollectionStats`]); `allow`, if given, restricts results to its
/// documents. Returns up to `k` matching documents (containing any term
/// for `Any`, every term for `All`) as `(doc, score)`, sorted by score
/// descending then doc ascending. Empty when `k == 0` or
/// `stats.doc_count == 0`.
///
/// # Errors
/// [`FtsError::Query`] for invalid `params` or a negative or non-finite
/// boost; [`FtsError::Corrupt`] on malformed postings.
pub fn search(
    index: &FtsIndex,
    terms: &[(String, f32)],
    mode: MatchMode,
    k: usize,
    params: Bm25Params,
    stats: &CollectionStats,
    allow: Option<&RoaringBitmap>,
) -> Result<Vec<(u32, f32)>> {
    let query = TopKQuery {
        terms,
        mode,
        k,
        params,
        stats,
        allow,
    };
    search_counting(index, &query).map(|(hits, _)| hits)
}

/// The arguments of [`search`], bundled for crate-internal callers.
pub(crate) struct TopKQuery<'q> {
    pub(crate) terms: &'q [(String, f32)],
    pub(crate) mode: MatchMode,
    pub(crate) k: usize,
    pub(crate) params: Bm25Params,
    pub(crate) stats: &'q CollectionStats,
    pub(crate) allow: Option<&'q RoaringBitmap>,
}

/// [`search`], also returning how many documents were scored (at least in part).
pub(crate) fn search_counting(
    index: &FtsIndex,
    q: &TopKQuery<'_>,
) -> Result<(Vec<(u32, f32)>, u64)> {
    let TopKQuery {
        terms,
        mode,
        k,
        params,
        stats,
        allow,
    } = *q;
    params.validate()?;
    let mut merged: Vec<(&str, f32)> = Vec::with_capacity(terms.len());
    for (term, boost) in terms {
        if !(boost.is_finite() && *boost >= 0.0) {
            return Err(FtsError::query(
                QueryErrorKind::InvalidArgument { name: "boost" },
                0,
            ));
        }
        match merged.iter_mut().find(|(t, _)| t == term) {
            Some((_, b)) => *b += boost,
            None => merged.push((term, *boost)),
        }
    }
    if k == 0 || stats.doc_count == 0 || merged.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let lengths = LengthNorms::new(params, stats.avg_doc_len());
    let mut cursors = Vec::with_capacity(merged.len());
    for (slot, (term, boost)) in merged.iter().enumerate() {
        let Some(info) = index.term_info(term)? else {
            if mode == MatchMode::All {
                return Ok((Vec::new(), 0));
            }
            continue;
        };
        cursors.push(TermCursor::open(
            index, &info, term, *boost, slot, params, stats, &lengths,
        )?);
    }
    let mut scorer = DocScorer {
        norms: index.norms(),
        allow,
        contributions: vec![0.0; merged.len()],
        block_scores: [0.0; BLOCK_SIZE],
        block_scores_of: None,
        top: TopK::new(k),
        scored: 0,
    };
    match (mode, cursors.as_mut_slice()) {
        (MatchMode::Any, [single]) => single_term(single, &mut scorer)?,
        (MatchMode::Any, _) => max_score(&mut cursors, &mut scorer)?,
        (MatchMode::All, _) => conjunction(&mut cursors, &mut scorer, |_| Ok(true))?,
    }
    Ok((scorer.top.into_sorted(), scorer.scored))
}

/// Top-`k` documents where the distinct `terms` (each once, with summed
/// boosts, in phrase order) occur at the relative positions of `pattern`
/// (`(term slot, position offset)` per phrase token, the first at offset
/// 0), scored by BM25 over `terms` exactly as [`search`] scores them.
///
/// Candidates come from a conjunction with block skipping; positions are
/// decoded only for documents that contain every term and could enter the
/// top-k.
///
/// # Errors
/// As [`search`], plus [`FtsError::Query`] with
/// [`QueryErrorKind::PositionsNotIndexed`] without positions.
pub(crate) fn phrase_top_k(
    index: &FtsIndex,
    q: &TopKQuery<'_>,
    pattern: &[(usize, u32)],
) -> Result<Vec<(u32, f32)>> {
    let TopKQuery {
        terms,
        k,
        params,
        stats,
        allow,
        ..
    } = *q;
    params.validate()?;
    if !index.has_positions() {
        return Err(FtsError::query(QueryErrorKind::PositionsNotIndexed, 0));
    }
    if k == 0 || stats.doc_count == 0 || terms.is_empty() {
        return Ok(Vec::new());
    }
    let lengths = LengthNorms::new(params, stats.avg_doc_len());
    let mut cursors = Vec::with_capacity(terms.len());
    for (slot, (term, boost)) in terms.iter().enumerate() {
        if !(boost.is_finite() && *boost >= 0.0) {
            return Err(FtsError::query(
                QueryErrorKind::InvalidArgument { name: "boost" },
                0,
            ));
        }
        let Some(info) = index.term_info(term)? else {
            return Ok(Vec::new());
        };
        cursors.push(TermCursor::open(
            index, &info, term, *boost, slot, params, stats, &lengths,
        )?);
    }
    let mut scorer = DocScorer {
        norms: index.norms(),
        allow,
        contributions: vec![0.0; terms.len()],
        block_scores: [0.0; BLOCK_SIZE],
        block_scores_of: None,
        top: TopK::new(k),
        scored: 0,
    };
    let mut positions = crate::matching::position_buffers(terms.len());
    conjunction(&mut cursors, &mut scorer, |cursors| {
        for cursor in cursors.iter_mut() {
            cursor
                .postings
                .positions_into(&mut positions[cursor.slot])?;
        }
        Ok(crate::matching::phrase_at(&positions, pattern))
    })?;
    Ok(scorer.top.into_sorted())
}

struct DocScorer<'a> {
    /// The region's norm bytes, one per document slot.
    norms: &'a [u8],
    allow: Option<&'a RoaringBitmap>,
    contributions: Vec<f32>,
    /// Scratch for [`Postings::score_block`].
    block_scores: [f32; BLOCK_SIZE],
    /// `(slot, block index)` of the cursor block whose scores from its
    /// current document on are in `block_scores`, if they are still valid.
    block_scores_of: Option<(usize, usize)>,
    top: TopK,
    scored: u64,
}

impl DocScorer<'_> {
    /// The norm byte of `doc` (0 past the slots, as [`FtsIndex::norm`]).
    fn norm(&self, doc: u32) -> u8 {
        self.norms.get(doc as usize).copied().unwrap_or(0)
    }

    fn allows(&self, doc: u32) -> bool {
        self.allow.is_none_or(|a| a.contains(doc))
    }

    /// Scores `cursor`'s decoded block from its current document on into
    /// `block_scores` (unless they are there already) and returns the
    /// entry range `(current, end)` they cover.
    fn block_scores(&mut self, cursor: &mut TermCursor<'_>) -> Result<(usize, usize)> {
        let key = (cursor.slot, cursor.postings.block_index());
        if self.block_scores_of == Some(key) {
            return Ok(cursor.postings.block_position());
        }
        let scorer = cursor.scorer;
        let range = cursor
            .postings
            .score_block(|tf, norm| scorer.score(tf, norm), &mut self.block_scores)?;
        self.block_scores_of = Some(key);
        Ok(range)
    }

    /// `cursor`'s score on its current document, from its block's scores
    /// (computed for the rest of the block at the first call on it).
    fn current_block_score(&mut self, cursor: &mut TermCursor<'_>) -> Result<f32> {
        self.block_scores(cursor)?;
        Ok(self.block_scores[cursor.postings.block_position().0])
    }

    /// The score of `doc` from the cursors positioned on it, summed in
    /// slot order.
    fn score<'c, 'a: 'c>(
        &mut self,
        doc: u32,
        on_doc: impl Iterator<Item = &'c TermCursor<'a>>,
    ) -> Result<f32> {
        self.scored += 1;
        let norm = self.norm(doc);
        self.contributions.fill(0.0);
        for cursor in on_doc {
            self.contributions[cursor.slot] = cursor.score(norm)?;
        }
        Ok(self.contributions.iter().sum())
    }
}

/// One term, a block at a time: blocks whose bound cannot beat the
/// threshold are skipped from their headers without decoding, the others
/// are scored entry by entry.
fn single_term(cursor: &mut TermCursor<'_>, out: &mut DocScorer<'_>) -> Result<()> {
    let mut doc = cursor.postings.doc();
    while doc != TERMINATED {
        let threshold = out.top.threshold();
        if threshold.is_some() {
            if !cursor.postings.shallow_seek(doc)? {
                return Ok(());
            }
            if !beats_exact(cursor.block_bound(), threshold) {
                loop {
                    let next = cursor.postings.block_last_doc().saturating_add(1);
                    if !cursor.postings.shallow_seek(next)? {
                        return Ok(());
                    }
                    if beats_exact(cursor.block_bound(), threshold) {
                        doc = cursor.postings.seek(next)?;
                        break;
                    }
                }
                continue;
            }
        }
        let (from, n) = out.block_scores(cursor)?;
        // One term: the sum over slots is this contribution alone.
        let mut threshold = out.top.threshold();
        for i in from..n {
            let d = cursor.postings.doc_at(i);
            if out.allows(d) {
                out.scored += 1;
                let score = out.block_scores[i];
                // Documents arrive in increasing order: one tying the
                // threshold cannot enter.
                if beats_exact(score, threshold) {
                    out.top.push(d, score);
                    threshold = out.top.threshold();
                }
            }
        }
        doc = cursor.postings.next_block()?;
    }
    Ok(())
}

/// Leapfrog intersection driven by the rarest term (the *lead*); a
/// document containing every term is collected if `verify` (called with
/// the cursors on it) accepts it.
///
/// Before the other lists are sought, a lead document must be able to beat
/// the threshold with the lead's exact contribution plus the other terms'
/// block bounds: seeking a frequent term usually decodes one of its blocks,
/// and once the top-k is full most lead documents fail this cheap test.
fn conjunction(
    cursors: &mut [TermCursor<'_>],
    out: &mut DocScorer<'_>,
    mut verify: impl FnMut(&mut [TermCursor<'_>]) -> Result<bool>,
) -> Result<()> {
    if cursors.is_empty() {
        return Ok(());
    }
    cursors.sort_by_key(|c| c.doc_freq);
    let total_bound: f32 = cursors.iter().map(|c| c.max_score).sum();
    let mut candidate = cursors[0].postings.doc();
    // The block window last checked: documents up to `end` can beat
    // `threshold` only if `can_beat`, and the terms other than the lead
    // contribute at most `rest` to them.
    let mut window: Option<(u32, bool, f32)> = None;
    'candidates: while candidate != TERMINATED {
        let threshold = out.top.threshold();
        if !beats(total_bound, threshold) {
            return Ok(());
        }
        if !out.allows(candidate) {
            candidate = cursors[0].postings.next_doc()?;
            continue;
        }
        if threshold.is_some() {
            let (end, can_beat, rest) = match window {
                // Thresholds only rise (see `max_score`).
                Some((end, can_beat, rest)) if candidate <= end => (end, can_beat, rest),
                _ => {
                    let mut lead_bound = 0.0;
                    let mut rest = 0.0;
                    let mut block_end = TERMINATED;
                    for (i, cursor) in cursors.iter_mut().enumerate() {
                        if !cursor.postings.shallow_seek(candidate)? {
                            return Ok(());
                        }
                        if i == 0 {
                            lead_bound = cursor.block_bound();
                        } else {
                            rest += cursor.block_bound();
                        }
                        block_end = block_end.min(cursor.postings.block_last_doc());
                    }
                    let can_beat = beats(lead_bound + rest, threshold);
                    window = Some((block_end, can_beat, rest));
                    (block_end, can_beat, rest)
                }
            };
            if !can_beat {
                candidate = cursors[0].postings.seek(end.saturating_add(1))?;
                continue;
            }
            let lead = out.current_block_score(&mut cursors[0])?;
            if !beats(lead + rest, threshold) {
                candidate = cursors[0].postings.next_doc()?;
                continue;
            }
        }
        for i in 1..cursors.len() {
            let doc = cursors[i].postings.seek(candidate)?;
            if doc != candidate {
                candidate = cursors[0].postings.seek(doc)?;
                continue 'candidates;
            }
        }
        // Verification (a phrase's positions) costs more than scoring, so
        // once the top-k is full only a document that would enter it is
        // verified; until then every one would, and only those verified
        // are scored. Documents arrive in increasing order: one tying the
        // threshold cannot enter.
        let threshold = out.top.threshold();
        if threshold.is_none() {
            if verify(cursors)? {
                let score = out.score(candidate, cursors.iter())?;
                out.top.push(candidate, score);
            }
        } else {
            let score = out.score(candidate, cursors.iter())?;
            if beats_exact(score, threshold) && verify(cursors)? {
                out.top.push(candidate, score);
            }
        }
        candidate = cursors[0].postings.next_doc()?;
    }
    Ok(())
}

mod disjunction;

use disjunction::max_score;

#[cfg(test)]
mod tests;
