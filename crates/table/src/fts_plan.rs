//! Which files a full-text query must read: the manifest's term bloom
//! filters rule out files holding none of the query's positive terms, so a
//! selective query opens only the files that may match, and the skipped
//! files still add their document and token counts to the statistics.

use std::sync::Arc;

use futures::future::try_join_all;
use infino_fts::{Analyzer, FtsIndex, Query, QueryNode};

use crate::bloom::TermBloom;
use crate::error::{Result, TableError};
use crate::table::Table;

impl Table {
    /// The files a full-text `query` on `column` would read: those whose
    /// term bloom filter admits the query's terms (all files when the query
    /// has a prefix, fuzzy or purely negative clause). Reads nothing.
    ///
    /// # Errors
    /// A query syntax error or an unindexed column.
    pub fn files_for_query(&self, column: &str, query: &str) -> Result<Vec<usize>> {
        Ok(self.fts_plan(column, &Query::parse(query)?)?.0)
    }

    /// Split the files into those a query must read and those the term
    /// blooms rule out.
    fn fts_plan(&self, column: &str, parsed: &Query) -> Result<(Vec<usize>, Vec<usize>)> {
        let spec = self
            .inner
            .spec
            .fts
            .iter()
            .find(|c| c.column == column)
            .ok_or_else(|| TableError::Schema {
                column: column.to_owned(),
                reason: "has no full-text index".into(),
            })?;
        let analyzer = Analyzer::new(spec.config.analyzer.clone())?;
        let mut tokens = Vec::new();
        let prunable = positive_tokens(parsed.root(), &analyzer, &mut tokens) && !tokens.is_empty();
        let (mut keep, mut pruned) = (Vec::new(), Vec::new());
        for i in 0..self.inner.manifest.files.len() {
            if prunable && !self.bloom_admits(i, column, &tokens) {
                pruned.push(i);
            } else {
                keep.push(i);
            }
        }
        Ok((keep, pruned))
    }

    /// Whether file `i`'s term bloom filter of `column` may hold one of
    /// `terms` (true when the file has no filter for it).
    pub(crate) fn bloom_admits(&self, i: usize, column: &str, terms: &[String]) -> bool {
        let (Some(entry), Some(state)) =
            (self.inner.manifest.files.get(i), self.inner.state.get(i))
        else {
            return true;
        };
        let blooms = state.blooms.get_or_init(|| {
            entry
                .term_blooms
                .iter()
                .filter_map(|(c, b)| Some((c.clone(), TermBloom::decode(b)?)))
                .collect()
        });
        blooms
            .get(column)
            .is_none_or(|bloom| terms.iter().any(|t| bloom.may_contain(t.as_bytes())))
    }

    /// The files a query must read, with their full-text indexes opened for
    /// it, and the files the term blooms ruled out.
    pub(crate) async fn candidates(
        &self,
        column: &str,
        parsed: &Query,
    ) -> Result<(Vec<(usize, Arc<FtsIndex>)>, Vec<usize>)> {
        let (keep, pruned) = self.fts_plan(column, parsed)?;
        let files = try_join_all(keep.iter().map(|&i| self.file(i))).await?;
        // Cold files read their lookup prefix and the query's lists only.
        let indexes =
            try_join_all(files.iter().map(|f| f.fts_for_query(column, parsed, false))).await?;
        Ok((keep.into_iter().zip(indexes).collect(), pruned))
    }
}

/// Collect the analyzed tokens of every positive clause of `node` (terms and
/// phrases outside `must_not`). Returns false when a file holding none of
/// them could still match or still contribute statistics: prefix and fuzzy
/// clauses, or a boolean with neither required nor optional clauses (which
/// matches every document).
fn positive_tokens(node: &QueryNode, analyzer: &Analyzer, out: &mut Vec<String>) -> bool {
    match node {
        QueryNode::Term { text, .. } | QueryNode::Phrase { text, .. } => {
            // A clause that analyzes to nothing is ignored by matching, which
            // can change what the rest means: do not prune on it.
            let terms = analyzer.terms(text);
            let any = !terms.is_empty();
            out.extend(terms);
            any
        }
        QueryNode::Bool { must, should, .. } => {
            if must.is_empty() && should.is_empty() {
                return false;
            }
            must.iter()
                .chain(should)
                .all(|c| positive_tokens(c, analyzer, out))
        }
        _ => false,
    }
}
