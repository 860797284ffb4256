//! Evaluating a [`QueryNode`] tree: match sets, scoring terms and top-k.

use std::cell::OnceCell;

use roaring::{MultiOps, RoaringBitmap};

use super::{MAX_DEPTH, QueryNode};
use crate::bm25::{Bm25Params, CollectionStats};
use crate::error::{FtsError, QueryErrorKind, Result};
use crate::matching::{PhrasePattern, expand_fuzzy, expand_prefix, phrase_match, terms_match};
use crate::reader::FtsIndex;
use crate::search::{MatchMode, TopKQuery, phrase_top_k, search};

pub(crate) struct Evaluator<'a> {
    index: &'a FtsIndex,
    universe: OnceCell<RoaringBitmap>,
}

pub(crate) fn too_deep() -> FtsError {
    FtsError::query(QueryErrorKind::TooDeep { limit: MAX_DEPTH }, 0)
}

impl<'a> Evaluator<'a> {
    pub(crate) fn new(index: &'a FtsIndex) -> Evaluator<'a> {
        Evaluator {
            index,
            universe: OnceCell::new(),
        }
    }

    fn universe(&self) -> &RoaringBitmap {
        self.universe.get_or_init(|| self.index.present_docs())
    }

    /// The documents matching `node`, or `None` if it analyzes to nothing
    /// and should be ignored by its parent.
    pub(crate) fn matches(&self, node: &QueryNode, depth: usize) -> Result<Option<RoaringBitmap>> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        let index = self.index;
        match node {
            QueryNode::Term { text, .. } => {
                let terms = index.analyzer().terms(text);
                if terms.is_empty() {
                    return Ok(None);
                }
                terms_match(index, &terms, MatchMode::All).map(Some)
            }
            QueryNode::Phrase { text, .. } => {
                if index.analyzer().terms(text).is_empty() {
                    return Ok(None);
                }
                phrase_match(index, text).map(Some)
            }
            QueryNode::Prefix { prefix, .. } => {
                if index.analyzer().normalize(prefix).is_empty() {
                    return Ok(None);
                }
                let infos: Vec<_> = expand_prefix(index, prefix)?
                    .into_iter()
                    .map(|(_, info)| info)
                    .collect();
                Ok(Some(index.docs_union(&infos)?))
            }
            QueryNode::Fuzzy { text, distance, .. } => {
                if index.analyzer().normalize(text).is_empty() {
                    return Ok(None);
                }
                let infos: Vec<_> = expand_fuzzy(index, text, *distance)?
                    .into_iter()
                    .map(|(_, info)| info)
                    .collect();
                Ok(Some(index.docs_union(&infos)?))
            }
            QueryNode::Bool {
                must,
                should,
                must_not,
            } => {
                let mut required: Option<RoaringBitmap> = None;
                for child in must {
                    if let Some(set) = self.matches(child, depth + 1)? {
                        required = Some(match required {
                            Some(acc) => acc & set,
                            None => set,
                        });
                    }
                }
                // Unions of many sets at once (an `IN` list is hundreds of
                // clauses): one pass, not a growing set copied per clause.
                let optional = self.union_of(should, depth)?;
                let excluded = self.union_of(must_not, depth)?;
                let base = match (required, optional, &excluded) {
                    (Some(required), _, _) => required,
                    (None, Some(optional), _) => optional,
                    (None, None, Some(_)) => self.universe().clone(),
                    (None, None, None) => return Ok(None),
                };
                Ok(Some(match excluded {
                    Some(excluded) => base - excluded,
                    None => base,
                }))
            }
        }
    }

    /// The union of the sets of `children` that analyze to something, or
    /// `None` when none does.
    ///
    /// Terms of one token (an `IN` list's values, alone or in a group of
    /// their own such as `(+c97)`) are gathered and their
    /// postings unioned in one pass ([`FtsIndex::docs_union`]); a term
    /// absent from the dictionary still counts as a clause that analyzes
    /// to something.
    fn union_of(&self, children: &[QueryNode], depth: usize) -> Result<Option<RoaringBitmap>> {
        if !children.is_empty() && depth + 1 > MAX_DEPTH {
            return Err(too_deep());
        }
        let mut sets = Vec::new();
        let mut infos = Vec::new();
        let mut any_term = false;
        for child in children {
            if let Some(text) = lone_term(child) {
                let mut terms = self.index.analyzer().terms(text);
                if terms.len() == 1 {
                    any_term = true;
                    if let Some(info) = self.index.term_info(&terms.swap_remove(0))? {
                        infos.push(info);
                    }
                    continue;
                }
            }
            if let Some(set) = self.matches(child, depth + 1)? {
                sets.push(set);
            }
        }
        if any_term {
            sets.push(self.index.docs_union(&infos)?);
        }
        Ok((!sets.is_empty()).then(|| sets.union()))
    }

    /// Appends the scoring terms of `node` (not under an exclusion).
    pub(crate) fn scoring_terms(
        &self,
        node: &QueryNode,
        depth: usize,
        out: &mut Vec<(String, f32)>,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        let index = self.index;
        let mut add = |term: String, boost: f32| match out.iter_mut().find(|(t, _)| *t == term) {
            Some((_, b)) => *b += boost,
            None => out.push((term, boost)),
        };
        match node {
            QueryNode::Term { text, boost } | QueryNode::Phrase { text, boost } => {
                for term in index.analyzer().terms(text) {
                    add(term, *boost);
                }
            }
            QueryNode::Prefix { prefix, boost } => {
                if !index.analyzer().normalize(prefix).is_empty() {
                    for (term, _) in expand_prefix(index, prefix)? {
                        add(term, *boost);
                    }
                }
            }
            QueryNode::Fuzzy {
                text,
                distance,
                boost,
            } => {
                if !index.analyzer().normalize(text).is_empty() {
                    for (term, _) in expand_fuzzy(index, text, *distance)? {
                        add(term, *boost);
                    }
                }
            }
            QueryNode::Bool { must, should, .. } => {
                for child in must.iter().chain(should) {
                    self.scoring_terms(child, depth + 1, out)?;
                }
            }
        }
        Ok(())
    }
}

/// Single-token, positively boosted terms of a flat disjunction (`Any`) or
/// conjunction (`All`), which need no filter; `None` for anything else.
fn flat_terms(index: &FtsIndex, node: &QueryNode) -> Option<(MatchMode, Vec<(String, f32)>)> {
    let single = |node: &QueryNode| match node {
        QueryNode::Term { text, boost } => {
            let mut terms = index.analyzer().terms(text);
            (terms.len() == 1 && *boost > 0.0).then(|| (terms.remove(0), *boost))
        }
        _ => None,
    };
    match node {
        QueryNode::Term { .. } => Some((MatchMode::Any, vec![single(node)?])),
        QueryNode::Bool {
            must,
            should,
            must_not,
        } if must_not.is_empty() => {
            if must.is_empty() && !should.is_empty() {
                Some((
                    MatchMode::Any,
                    should.iter().map(single).collect::<Option<_>>()?,
                ))
            } else if should.is_empty() && !must.is_empty() {
                Some((
                    MatchMode::All,
                    must.iter().map(single).collect::<Option<_>>()?,
                ))
            } else {
                None
            }
        }
        _ => None,
    }
}

fn positive(boost: f32) -> bool {
    boost.is_finite() && boost > 0.0
}

/// Whether `node` matches exactly the documents containing any of its
/// scoring terms, each with a positive boost: a prefix, a fuzzy term, or a
/// disjunction of those and single-token terms.
fn is_union(index: &FtsIndex, node: &QueryNode) -> bool {
    let leaf = |node: &QueryNode| match node {
        QueryNode::Term { text, boost } => {
            positive(*boost) && index.analyzer().terms(text).len() <= 1
        }
        QueryNode::Prefix { boost, .. } | QueryNode::Fuzzy { boost, .. } => positive(*boost),
        _ => false,
    };
    match node {
        QueryNode::Prefix { .. } | QueryNode::Fuzzy { .. } => leaf(node),
        QueryNode::Bool {
            must,
            should,
            must_not,
        } => {
            must.is_empty() && must_not.is_empty() && !should.is_empty() && should.iter().all(leaf)
        }
        _ => false,
    }
}

pub(crate) fn top_k(
    index: &FtsIndex,
    root: &QueryNode,
    k: usize,
    params: Bm25Params,
    stats: &CollectionStats,
    allow: Option<&RoaringBitmap>,
) -> Result<Vec<(u32, f32)>> {
    params.validate()?;
    if let Some((mode, terms)) = flat_terms(index, root) {
        return search(index, &terms, mode, k, params, stats, allow);
    }
    let evaluator = Evaluator::new(index);
    // Below, filters that equal what the scoring terms match are skipped.
    // Those paths score every matching document, so the fill with unscored
    // documents further down would add nothing — unless `N = 0`, where
    // search scores nothing.
    if stats.doc_count > 0 {
        if let QueryNode::Phrase { text, boost } = root
            && positive(*boost)
        {
            let Some(phrase) = PhrasePattern::new(index, text) else {
                return Ok(Vec::new());
            };
            // Boosts summed per repeated word, as `scoring_terms` does.
            let mut terms: Vec<(String, f32)> = Vec::with_capacity(phrase.terms.len());
            for &(slot, _) in &phrase.tokens {
                if slot == terms.len() {
                    terms.push((phrase.terms[slot].clone(), *boost));
                } else {
                    terms[slot].1 += boost;
                }
            }
            if phrase.tokens.len() == 1 {
                return search(index, &terms, MatchMode::Any, k, params, stats, allow);
            }
            let q = TopKQuery {
                terms: &terms,
                mode: MatchMode::All,
                k,
                params,
                stats,
                allow,
            };
            return phrase_top_k(index, &q, &phrase.tokens);
        }
        if is_union(index, root) {
            let mut terms = Vec::new();
            evaluator.scoring_terms(root, 0, &mut terms)?;
            return search(index, &terms, MatchMode::Any, k, params, stats, allow);
        }
    }
    let Some(mut filter) = evaluator.matches(root, 0)? else {
        return Ok(Vec::new());
    };
    if let Some(allow) = allow {
        filter &= allow;
    }
    let mut terms = Vec::new();
    evaluator.scoring_terms(root, 0, &mut terms)?;
    let mut hits = search(
        index,
        &terms,
        MatchMode::Any,
        k,
        params,
        stats,
        Some(&filter),
    )?;
    if hits.len() < k {
        // Matching documents without a scoring term rank last, by doc id.
        let scored: RoaringBitmap = hits.iter().map(|(doc, _)| *doc).collect();
        let missing = k - hits.len();
        hits.extend((filter - scored).iter().take(missing).map(|doc| (doc, 0.0)));
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    }
    Ok(hits)
}

/// The text of `node` when it matches exactly what one term clause does:
/// the term itself, or a group holding only it (required or optional).
fn lone_term(node: &QueryNode) -> Option<&str> {
    match node {
        QueryNode::Term { text, .. } => Some(text),
        QueryNode::Bool {
            must,
            should,
            must_not,
        } if must_not.is_empty() => match (must.as_slice(), should.as_slice()) {
            ([only], []) | ([], [only]) => lone_term(only),
            _ => None,
        },
        _ => None,
    }
}
