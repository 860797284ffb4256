//! The query language: parsing into a [`QueryNode`] tree, matching, BM25
//! top-k and counting. `QUERY_SYNTAX.md` in the crate root documents the
//! syntax.
//!
//! Evaluation splits a query into a *filter* — which documents match, from
//! the boolean structure, computed with roaring bitmaps — and *scoring
//! terms* — the positive (not excluded) terms, phrase words and prefix/fuzzy
//! expansions, scored with BM25 over the filter. Plain disjunctions and
//! conjunctions of single terms skip the filter and go straight to
//! block-max top-k.

mod eval;
mod lexer;
mod parser;

pub use parser::{MAX_CLAUSES, MAX_DEPTH};

use roaring::RoaringBitmap;

use crate::bm25::{Bm25Params, CollectionStats};
use crate::error::Result;
use crate::reader::FtsIndex;

/// One node of a parsed query.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryNode {
    /// A word; analyzed like document text. Several tokens (`wi-fi`) must
    /// all occur; no tokens (a stop word) removes the clause.
    Term {
        /// The raw word.
        text: String,
        /// Score multiplier, `≥ 0`.
        boost: f32,
    },
    /// A quoted phrase: its tokens at the same relative positions.
    Phrase {
        /// The raw text between the quotes.
        text: String,
        /// Score multiplier.
        boost: f32,
    },
    /// `prefix*`: any dictionary term starting with the lowercased, folded
    /// prefix.
    Prefix {
        /// The raw prefix, without `*`.
        prefix: String,
        /// Score multiplier.
        boost: f32,
    },
    /// `term~n`: any dictionary term within `distance` edits of the
    /// lowercased, folded term.
    Fuzzy {
        /// The raw term, without `~n`.
        text: String,
        /// Edit distance, 0 to 2.
        distance: u8,
        /// Score multiplier.
        boost: f32,
    },
    /// A boolean combination. With any `must`, `should` only scores;
    /// without, at least one `should` must match; with neither, it matches
    /// every document with a value. `must_not` always excludes. Clauses
    /// that analyze to nothing are ignored.
    Bool {
        /// Required clauses.
        must: Vec<QueryNode>,
        /// Optional clauses.
        should: Vec<QueryNode>,
        /// Excluded clauses.
        must_not: Vec<QueryNode>,
    },
}

/// A parsed query string.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    root: QueryNode,
}

impl Query {
    /// Parses `input` (see `QUERY_SYNTAX.md`). Linear in the input length.
    ///
    /// # Errors
    /// [`FtsError::Query`](crate::FtsError::Query) for unbalanced
    /// parentheses or quotes, a missing operand, a bad boost or fuzzy
    /// distance, nesting deeper than [`MAX_DEPTH`] or more than
    /// [`MAX_CLAUSES`] leaves.
    pub fn parse(input: &str) -> Result<Query> {
        parser::parse(input)
    }

    /// Wraps a tree built by hand. Evaluation rejects trees deeper than
    /// [`MAX_DEPTH`] levels of `Bool`.
    pub fn from_node(root: QueryNode) -> Query {
        Query { root }
    }

    /// The root of the tree.
    pub fn root(&self) -> &QueryNode {
        &self.root
    }

    /// The documents of `index` that match.
    ///
    /// # Errors
    /// [`FtsError::Query`](crate::FtsError::Query) for a phrase without
    /// positions, too many expansions or too deep a tree;
    /// [`FtsError::Corrupt`](crate::FtsError::Corrupt) on malformed bytes.
    pub fn matching_docs(&self, index: &FtsIndex) -> Result<RoaringBitmap> {
        Ok(eval::Evaluator::new(index)
            .matches(&self.root, 0)?
            .unwrap_or_default())
    }

    /// Number of matching documents.
    ///
    /// # Errors
    /// As [`matching_docs`](Self::matching_docs).
    pub fn count(&self, index: &FtsIndex) -> Result<u64> {
        Ok(self.matching_docs(index)?.len())
    }

    /// The exact terms this query scores in `index` with their summed
    /// boosts: analyzed words and phrase words outside exclusions, plus
    /// prefix and fuzzy expansions in this region's dictionary. Sum
    /// [`FtsIndex::local_stats`] of these over every region for table-wide
    /// statistics.
    ///
    /// # Errors
    /// As [`matching_docs`](Self::matching_docs).
    pub fn scoring_terms(&self, index: &FtsIndex) -> Result<Vec<(String, f32)>> {
        let mut out = Vec::new();
        eval::Evaluator::new(index).scoring_terms(&self.root, 0, &mut out)?;
        Ok(out)
    }

    /// What evaluating this query on `index` reads: every exact term it can
    /// touch (prefix and fuzzy terms expanded through `index`'s dictionary,
    /// excluded terms included) and whether any phrase needs positions.
    /// Works on an index opened from its lookup prefix, so a lazy reader can
    /// fetch just these terms' lists first.
    ///
    /// # Errors
    /// As [`matching_docs`](Self::matching_docs) for expansions.
    pub fn lists_needed(&self, index: &FtsIndex) -> Result<(Vec<String>, bool)> {
        fn walk(
            index: &FtsIndex,
            node: &QueryNode,
            depth: usize,
            terms: &mut Vec<String>,
            positions: &mut bool,
        ) -> Result<()> {
            if depth > MAX_DEPTH {
                return Err(eval::too_deep());
            }
            match node {
                QueryNode::Term { text, .. } => terms.extend(index.analyzer().terms(text)),
                QueryNode::Phrase { text, .. } => {
                    let phrase = index.analyzer().terms(text);
                    *positions |= phrase.len() > 1;
                    terms.extend(phrase);
                }
                QueryNode::Prefix { prefix, .. } => terms.extend(
                    crate::matching::expand_prefix(index, prefix)?
                        .into_iter()
                        .map(|(t, _)| t),
                ),
                QueryNode::Fuzzy { text, distance, .. } => terms.extend(
                    crate::matching::expand_fuzzy(index, text, *distance)?
                        .into_iter()
                        .map(|(t, _)| t),
                ),
                QueryNode::Bool {
                    must,
                    should,
                    must_not,
                } => {
                    for child in must.iter().chain(should).chain(must_not) {
                        walk(index, child, depth + 1, terms, positions)?;
                    }
                }
            }
            Ok(())
        }
        let mut terms = Vec::new();
        let mut positions = false;
        walk(index, &self.root, 0, &mut terms, &mut positions)?;
        terms.sort_unstable();
        terms.dedup();
        Ok((terms, positions))
    }

    /// The `k` best matching documents by BM25, `(doc, score)` sorted by
    /// score descending then doc ascending. Matching documents that contain
    /// no scoring term (pure exclusions) rank last with score 0.
    ///
    /// # Errors
    /// As [`matching_docs`](Self::matching_docs), plus invalid `params`.
    pub fn top_k(
        &self,
        index: &FtsIndex,
        k: usize,
        params: Bm25Params,
        stats: &CollectionStats,
        allow: Option<&RoaringBitmap>,
    ) -> Result<Vec<(u32, f32)>> {
        eval::top_k(index, &self.root, k, params, stats, allow)
    }
}
