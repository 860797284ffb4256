//! Unranked matching: document sets for tokens, phrases, prefixes, fuzzy
//! terms and exact-value candidates.
//!
//! Intersections leapfrog over postings cursors (seeking the rarest term's
//! documents in the others) instead of materializing every term's set.

use fst::Automaton;
use fst::automaton::Str;
use roaring::RoaringBitmap;

use crate::error::{FtsError, QueryErrorKind, Result};
use crate::fuzzy::{FuzzyAutomaton, fits_u64};
use crate::postings::{Postings, TERMINATED};
use crate::reader::{FtsIndex, TermInfo};
use crate::search::MatchMode;

/// Most dictionary terms one prefix or fuzzy term may expand to.
pub const MAX_EXPANSIONS: usize = 1024;
/// Longest fuzzy term, in characters, accepted for a Levenshtein automaton.
pub const MAX_FUZZY_CHARS: usize = 64;

/// Documents containing all (`All`) or any (`Any`) of the analyzed tokens
/// of `text`. Empty when `text` has no tokens.
///
/// # Errors
/// [`FtsError::Corrupt`] on malformed postings.
pub fn token_match(index: &FtsIndex, text: &str, mode: MatchMode) -> Result<RoaringBitmap> {
    let terms = index.analyzer().terms(text);
    terms_match(index, &terms, mode)
}

pub(crate) fn terms_match(
    index: &FtsIndex,
    terms: &[String],
    mode: MatchMode,
) -> Result<RoaringBitmap> {
    let mut infos = Vec::with_capacity(terms.len());
    for term in terms {
        match index.term_info(term)? {
            Some(info) => infos.push(info),
            None if mode == MatchMode::All => return Ok(RoaringBitmap::new()),
            None => {}
        }
    }
    match mode {
        MatchMode::Any => index.docs_union(&infos),
        MatchMode::All if infos.len() == 1 => index.doc_set(&infos[0]),
        MatchMode::All => {
            // Matches come in ascending order: gathered, then built in one
            // pass (inserting each searched its container every time).
            let mut docs = Vec::new();
            intersect(index, &infos, |doc, _| {
                docs.push(doc);
                Ok(())
            })?;
            Ok(RoaringBitmap::from_sorted_iter(docs.iter().copied())
                .unwrap_or_else(|_| docs.into_iter().collect()))
        }
    }
}

/// Calls `f(doc, cursors)` for each document containing every term of
/// `infos` (in `infos` order in `cursors`). Does nothing for empty `infos`.
fn intersect(
    index: &FtsIndex,
    infos: &[TermInfo],
    mut f: impl FnMut(u32, &mut [Postings<'_>]) -> Result<()>,
) -> Result<()> {
    if infos.is_empty() {
        return Ok(());
    }
    let mut cursors = infos
        .iter()
        .map(|i| index.postings(i))
        .collect::<Result<Vec<_>>>()?;
    let lead = (0..infos.len())
        .min_by_key(|&i| infos[i].doc_freq)
        .expect("invariant: infos is non-empty");
    let mut candidate = cursors[lead].doc();
    'candidates: while candidate != TERMINATED {
        for i in 0..cursors.len() {
            let doc = cursors[i].seek(candidate)?;
            if doc != candidate {
                candidate = cursors[lead].seek(doc)?;
                continue 'candidates;
            }
        }
        f(candidate, &mut cursors)?;
        candidate = cursors[lead].next_doc()?;
    }
    Ok(())
}

/// Documents where the analyzed tokens of `text` occur at the same relative
/// positions as in `text` (gaps left by stop words must match too). A single
/// token is a term match; no tokens match nothing.
///
/// # Errors
/// [`FtsError::Query`] with [`QueryErrorKind::PositionsNotIndexed`] for a
/// multi-token phrase on a region without positions; [`FtsError::Corrupt`]
/// on malformed postings.
pub fn phrase_match(index: &FtsIndex, text: &str) -> Result<RoaringBitmap> {
    let Some(phrase) = PhrasePattern::new(index, text) else {
        return Ok(RoaringBitmap::new());
    };
    if phrase.tokens.len() == 1 {
        return terms_match(index, &phrase.terms, MatchMode::All);
    }
    if !index.has_positions() {
        return Err(FtsError::query(QueryErrorKind::PositionsNotIndexed, 0));
    }
    let mut infos = Vec::with_capacity(phrase.terms.len());
    for term in &phrase.terms {
        match index.term_info(term)? {
            Some(info) => infos.push(info),
            None => return Ok(RoaringBitmap::new()),
        }
    }
    let mut out = RoaringBitmap::new();
    let mut positions = position_buffers(infos.len());
    intersect(index, &infos, |doc, cursors| {
        for (cursor, p) in cursors.iter_mut().zip(&mut positions) {
            cursor.positions_into(p)?;
        }
        if phrase_at(&positions, &phrase.tokens) {
            out.insert(doc);
        }
        Ok(())
    })?;
    Ok(out)
}

/// A phrase's distinct terms, in order of first occurrence, and per phrase
/// token its term slot and position relative to the first token.
pub(crate) struct PhrasePattern {
    pub(crate) terms: Vec<String>,
    pub(crate) tokens: Vec<(usize, u32)>,
}

impl PhrasePattern {
    /// `None` when `text` has no tokens.
    pub(crate) fn new(index: &FtsIndex, text: &str) -> Option<PhrasePattern> {
        let analyzed = index.analyzer().analyze(text);
        let first = analyzed.first()?.position;
        let mut terms: Vec<String> = Vec::new();
        let mut tokens = Vec::with_capacity(analyzed.len());
        for token in analyzed {
            let slot = match terms.iter().position(|t| *t == token.term) {
                Some(slot) => slot,
                None => {
                    terms.push(token.term);
                    terms.len() - 1
                }
            };
            tokens.push((slot, token.position - first));
        }
        Some(PhrasePattern { terms, tokens })
    }
}

/// Whether, for some start, every `(slot, rel)` of `pattern` finds
/// `start + rel` among the increasing `positions[slot]`; the start ranges
/// over the positions of the first pattern entry.
///
/// Each further entry is checked for every start at once by one merge of
/// two increasing lists (linear, no per-start binary search), stopping as
/// soon as no start survives.
pub(crate) fn phrase_at(positions: &[Vec<u32>], pattern: &[(usize, u32)]) -> bool {
    let Some((&(anchor_slot, _), rest)) = pattern.split_first() else {
        return false;
    };
    let anchor = positions[anchor_slot].as_slice();
    let Some((&(slot, rel), middle)) = rest.split_last() else {
        return !anchor.is_empty();
    };
    // Starts surviving every entry but the last (the anchor's positions
    // when there are only two entries, the common case: no allocation).
    let mut kept: Option<Vec<u32>> = None;
    for &(slot, rel) in middle {
        let mut next = Vec::new();
        merge(
            kept.as_deref().unwrap_or(anchor),
            &positions[slot],
            rel,
            |s| {
                next.push(s);
                true
            },
        );
        if next.is_empty() {
            return false;
        }
        kept = Some(next);
    }
    let mut found = false;
    merge(
        kept.as_deref().unwrap_or(anchor),
        &positions[slot],
        rel,
        |_| {
            found = true;
            false
        },
    );
    found
}

/// One positions buffer per phrase term, each with room for a typical
/// document's occurrences: grown from empty, the first verified documents
/// of every query reallocated them a few times (3–5 % of a light phrase).
pub(crate) fn position_buffers(terms: usize) -> Vec<Vec<u32>> {
    (0..terms).map(|_| Vec::with_capacity(64)).collect()
}

/// Calls `hit(start)` for each of the increasing `starts` whose
/// `start + rel` is in the increasing `found`, while `hit` returns true.
fn merge(starts: &[u32], found: &[u32], rel: u32, mut hit: impl FnMut(u32) -> bool) {
    let mut j = 0;
    for &start in starts {
        let Some(want) = start.checked_add(rel) else {
            return;
        };
        while j < found.len() && found[j] < want {
            j += 1;
        }
        if j == found.len() {
            return;
        }
        if found[j] == want && !hit(start) {
            return;
        }
    }
}

/// Dictionary terms starting with `prefix` after lowercasing and folding
/// (no stemming), in byte order.
///
/// # Errors
/// [`FtsError::Query`] with [`QueryErrorKind::TooManyExpansions`] beyond
/// [`MAX_EXPANSIONS`]; [`FtsError::Corrupt`] on malformed rows.
pub fn expand_prefix(index: &FtsIndex, prefix: &str) -> Result<Vec<(String, TermInfo)>> {
    let prefix = index.analyzer().normalize(prefix);
    if prefix.len() > index.analyzer().config().max_token_len {
        return Ok(Vec::new());
    }
    index.expand(Str::new(&prefix).starts_with(), MAX_EXPANSIONS)
}

/// Dictionary terms within `distance` (≤ 2) edits of `term` after
/// lowercasing and folding (no stemming), in byte order.
///
/// # Errors
/// [`FtsError::Query`] with [`QueryErrorKind::FuzzyTermTooLong`],
/// [`QueryErrorKind::InvalidFuzzyDistance`] or
/// [`QueryErrorKind::TooManyExpansions`]; [`FtsError::Corrupt`] on malformed
/// rows.
pub fn expand_fuzzy(index: &FtsIndex, term: &str, distance: u8) -> Result<Vec<(String, TermInfo)>> {
    if distance > 2 {
        return Err(FtsError::query(QueryErrorKind::InvalidFuzzyDistance, 0));
    }
    let term = index.analyzer().normalize(term);
    if term.chars().count() > MAX_FUZZY_CHARS {
        return Err(FtsError::query(
            QueryErrorKind::FuzzyTermTooLong {
                limit: MAX_FUZZY_CHARS,
            },
            0,
        ));
    }
    if fits_u64(term.chars().count()) {
        index.expand(
            FuzzyAutomaton::<u64>::new(&term, u32::from(distance)),
            MAX_EXPANSIONS,
        )
    } else {
        index.expand(
            FuzzyAutomaton::<u128>::new(&term, u32::from(distance)),
            MAX_EXPANSIONS,
        )
    }
}

/// Documents containing any dictionary term that starts with `prefix`
/// (normalized as in [`expand_prefix`]).
///
/// # Errors
/// As [`expand_prefix`], plus [`FtsError::Corrupt`] on malformed postings.
pub fn prefix_match(index: &FtsIndex, prefix: &str) -> Result<RoaringBitmap> {
    let mut out = RoaringBitmap::new();
    for (_, info) in expand_prefix(index, prefix)? {
        out |= index.doc_set(&info)?;
    }
    Ok(out)
}

/// Candidates for documents whose value equals `value`: a superset the
/// caller verifies against stored values. Documents containing every token
/// (at the same relative positions when positions are stored); every
/// document with a value when `value` has no tokens.
///
/// # Errors
/// [`FtsError::Corrupt`] on malformed postings.
pub fn exact_match_candidates(index: &FtsIndex, value: &str) -> Result<RoaringBitmap> {
    let tokens = index.analyzer().terms(value);
    if tokens.is_empty() {
        return Ok(index.present_docs());
    }
    if index.has_positions() {
        phrase_match(index, value)
    } else {
        terms_match(index, &tokens, MatchMode::All)
    }
}
