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
                    // scores at most the essential blocks' bounds plus
                    // every non-essential term's bound.
                    let mut bound = bounds[essential];
                    let mut end = TERMINATED;
                    for cursor in &mut cursors[essential..] {
                        if cursor.postings.doc() != TERMINATED
                            && cursor.postings.shallow_seek(doc)?
                        {
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
            let mut alive = beats(bound, threshold);
            for cursor in cursors[..essential].iter_mut().rev() {
                if !alive {
                    break;
                }
                bound -= cursor.max_score;
                if cursor.postings.shallow_seek(doc)?
                    && beats(bound + cursor.block_bound(), threshold)
                    && cursor.postings.seek(doc)? == doc
                {
                    let score = cursor.score(norm)?;
                    out.contributions[cursor.slot] = score;
                    bound += score;
                }
                alive = beats(bound, threshold);
            }
            if alive {
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
        essential.postings.decode_tfs()?;
        let (from, entries) = essential.postings.block_entries();
        for i in from..entries {
            let doc = essential.postings.doc_at(i);
            if !out.allows(doc) {
                continue;
            }
            out.scored += 1;
            let norm = out.norm(doc);
            let own = essential
                .scorer
                .score(essential.postings.checked_tf_at(i, norm)?, norm);
            let threshold = out.top.threshold();
            let mut bound = rest + own;
            if !beats(bound, threshold) {
                continue;
            }
            out.contributions.fill(0.0);
            out.contributions[essential.slot] = own;
            let mut alive = true;
            for cursor in others.iter_mut().rev() {
                bound -= cursor.max_score;
                if cursor.postings.shallow_seek(doc)?
                    && beats(bound + cursor.block_bound(), threshold)
                    && cursor.postings.seek(doc)? == doc
                {
                    let score = cursor.score(norm)?;
                    out.contributions[cursor.slot] = score;
                    bound += score;
                }
                alive = beats(bound, threshold);
                if !alive {
                    break;
                }
            }
            if alive {
                // Summed in slot order, as `DocScorer::score` does.
                let score = out.contributions.iter().sum();
                out.top.push(doc, score);
            }
        }
        essential.postings.next_block()?;
    }
}
