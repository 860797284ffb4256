//! MaxScore for disjunctions (see the parent module for why MaxScore).

use super::{DocScorer, TermCursor, beats};
use crate::error::Result;
use crate::postings::TERMINATED;

/// MaxScore: terms sorted by their bound; the longest prefix whose summed
/// bounds cannot beat the threshold is *non-essential* — a document holding
/// only those terms cannot enter the top-k — so candidates come from the
/// essential terms alone, and the non-essential ones are looked up per
/// candidate (highest bound first, block bounds before decoding) only while
/// the candidate can still beat the threshold.
pub(super) fn max_score(cursors: &mut [TermCursor<'_>], out: &mut DocScorer<'_>) -> Result<()> {
    cursors.sort_by(|a, b| a.max_score.total_cmp(&b.max_score));
    let n = cursors.len();
    // bounds[i]: the summed bounds of the first i terms.
    let mut bounds = Vec::with_capacity(n + 1);
    bounds.push(0.0f32);
    for cursor in cursors.iter() {
        bounds.push(bounds[bounds.len() - 1] + cursor.max_score);
    }
    let mut threshold = out.top.threshold();
    let mut essential = 0;
    while essential < n && !beats(bounds[essential + 1], threshold) {
        essential += 1;
    }
    // The block window last checked over the essential cursors: documents
    // up to `end` can beat `threshold` only if `can_beat`.
    let mut window: Option<(u32, usize, bool)> = None;
    loop {
        if essential + 1 == n && threshold.is_some() {
            return one_essential(cursors, bounds[essential], out);
        }
        let mut doc = TERMINATED;
        for cursor in &cursors[essential..] {
            doc = doc.min(cursor.postings.doc());
        }
        if doc == TERMINATED {
            return Ok(());
        }
        if threshold.is_some() {
            let (end, can_beat) = match window {
                // The threshold only rises: a window that could not beat it
                // still cannot, and one that could is merely conservative.
                Some((end, ess, can_beat)) if doc <= end && ess == essential => (end, can_beat),
                _ => {
                    // Until the first essential block ends, a document
                    // scores at most the bounds of the essential blocks on
                    // `doc` plus every non-essential term's bound. A cursor
                    // already past `doc` adds nothing before its next
                    // document, so the window stops short of it instead:
                    // a common term's weak blocks are then skipped up to a
                    // rarer term's next document, as block-max WAND's
                    // pivot would.
                    let mut bound = bounds[essential];
                    let mut end = TERMINATED;
                    for cursor in &mut cursors[essential..] {
                        let at = cursor.postings.doc();
                        if at != doc {
                            end = end.min(at.saturating_sub(1));
                        } else if cursor.postings.shallow_seek(doc)? {
                            bound += cursor.block_bound();
                            end = end.min(cursor.postings.block_last_doc());
                        }
                    }
                    let can_beat = beats(bound, threshold);
                    window = Some((end, essential, can_beat));
                    (end, can_beat)
                }
            };
            if !can_beat {
                let next = end.saturating_add(1);
                for cursor in &mut cursors[essential..] {
                    cursor.postings.seek(next)?;
                }
                continue;
            }
            if let Some((lone, limit)) = lone_cursor(&cursors[essential..], doc, end) {
                let (others, ess) = cursors.split_at_mut(essential);
                lone_run(&mut ess[lone], others, bounds[essential], limit, out)?;
                threshold = out.top.threshold();
                while essential < n && !beats(bounds[essential + 1], threshold) {
                    essential += 1;
                }
                continue;
            }
        }
        if out.allows(doc) {
            // Counted once any of its score is computed.
            out.scored += 1;
            let norm = out.norm(doc);
            out.contributions.fill(0.0);
            let mut bound = bounds[essential];
            for cursor in &mut cursors[essential..] {
                if cursor.postings.doc() == doc {
                    let score = cursor.score_decoding(norm)?;
                    out.contributions[cursor.slot] = score;
                    bound += score;
                }
            }
            if beats(bound, threshold)
                && add_non_essential(
                    &mut cursors[..essential],
                    doc,
                    norm,
                    bound,
                    threshold,
                    &mut out.contributions,
                )?
            {
                // Summed in slot order, as `DocScorer::score` does.
                let score = out.contributions.iter().sum();
                out.top.push(doc, score);
                threshold = out.top.threshold();
            }
        }
        for cursor in &mut cursors[essential..] {
            if cursor.postings.doc() == doc {
                cursor.postings.next_doc()?;
            }
        }
        while essential < n && !beats(bounds[essential + 1], threshold) {
            essential += 1;
        }
    }
}

/// The rest of [`max_score`] once a single term is essential (the last
/// of `cursors`; the others, sorted by bound, sum to at most `rest`): its
/// blocks are walked as [`single_term`] walks them, and the non-essential
/// terms are looked up only for documents whose exact essential score plus
/// `rest` can beat the threshold.
fn one_essential(cursors: &mut [TermCursor<'_>], rest: f32, out: &mut DocScorer<'_>) -> Result<()> {
    let Some((essential, others)) = cursors.split_last_mut() else {
        return Ok(());
    };
    loop {
        let threshold = out.top.threshold();
        if !beats(rest + essential.max_score, threshold) {
            return Ok(());
        }
        let doc = essential.postings.doc();
        if doc == TERMINATED || !essential.postings.shallow_seek(doc)? {
            return Ok(());
        }
        if !beats(rest + essential.block_bound(), threshold) {
            let next = essential.postings.block_last_doc().saturating_add(1);
            essential.postings.seek(next)?;
            continue;
        }
        score_block(essential, others, rest, u32::MAX, out)?;
        essential.postings.next_block()?;
    }
}

/// Looks up the non-essential terms (`others`, sorted by bound) for `doc`,
/// highest bound first, while `doc` can still beat `threshold`: `bound` is
/// its exact essential score plus every non-essential bound, and each
/// term's bound is replaced by its block bound, then by its exact score.
/// Scores land in `contributions` by slot; returns whether `doc` can still
/// beat the threshold after all of them.
fn add_non_essential(
    others: &mut [TermCursor<'_>],
    doc: u32,
    norm: u8,
    mut bound: f32,
    threshold: Option<f32>,
    contributions: &mut [f32],
) -> Result<bool> {
    for cursor in others.iter_mut().rev() {
        bound -= cursor.max_score;
        if cursor.postings.shallow_seek(doc)?
            && beats(bound + cursor.block_bound(), threshold)
            && cursor.postings.seek(doc)? == doc
        {
            let score = cursor.score(norm)?;
            contributions[cursor.slot] = score;
            bound += score;
        }
        if !beats(bound, threshold) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// If exactly one of the essential `cursors` is on `doc`, its index and
/// the last document (at most `end`) before any other essential cursor's
/// next document — up to there, documents hold that term alone among the
/// essential ones — provided its decoded block has another document by
/// then.
fn lone_cursor(cursors: &[TermCursor<'_>], doc: u32, end: u32) -> Option<(usize, u32)> {
    let mut lone = None;
    let mut limit = end;
    for (i, cursor) in cursors.iter().enumerate() {
        let at = cursor.postings.doc();
        if at == doc {
            if lone.is_some() {
                return None;
            }
            lone = Some(i);
        } else {
            limit = limit.min(at.saturating_sub(1));
        }
    }
    // A run of one document is cheaper through the general loop (a block
    // scored for it would be mostly wasted).
    let i = lone?;
    let (idx, n) = cursors[i].postings.block_position();
    (idx + 1 < n && cursors[i].postings.doc_at(idx + 1) <= limit).then_some((i, limit))
}

/// The documents of `cursor`'s decoded block up to `limit`, which no other
/// essential term holds: scored a block at a time (as [`one_essential`]
/// does), the non-essential terms looked up only for those that can beat
/// the threshold with every non-essential bound (`rest`) added. Leaves
/// `cursor` on its first document after `limit`.
fn lone_run(
    cursor: &mut TermCursor<'_>,
    others: &mut [TermCursor<'_>],
    rest: f32,
    limit: u32,
    out: &mut DocScorer<'_>,
) -> Result<()> {
    let last = score_block(cursor, others, rest, limit, out)?;
    cursor.postings.seek(last.saturating_add(1))?;
    Ok(())
}

/// Scores the documents of `cursor`'s decoded block from its current one
/// up to `limit` from block scores, looking the non-essential terms up only
/// for documents that can beat the threshold with every non-essential bound
/// (`rest`) added. Returns the last document looked at; `cursor` is not
/// moved.
#[inline]
fn score_block(
    cursor: &mut TermCursor<'_>,
    others: &mut [TermCursor<'_>],
    rest: f32,
    limit: u32,
    out: &mut DocScorer<'_>,
) -> Result<u32> {
    let (from, entries) = out.block_scores(cursor)?;
    let mut last = cursor.postings.doc();
    for i in from..entries {
        let doc = cursor.postings.doc_at(i);
        if doc > limit {
            break;
        }
        last = doc;
        if !out.allows(doc) {
            continue;
        }
        out.scored += 1;
        let own = out.block_scores[i];
        let threshold = out.top.threshold();
        let bound = rest + own;
        if !beats(bound, threshold) {
            continue;
        }
        out.contributions.fill(0.0);
        out.contributions[cursor.slot] = own;
        let norm = out.norm(doc);
        if add_non_essential(others, doc, norm, bound, threshold, &mut out.contributions)? {
            // Summed in slot order, as `DocScorer::score` does.
            let score = out.contributions.iter().sum();
            out.top.push(doc, score);
        }
    }
    Ok(last)
}
