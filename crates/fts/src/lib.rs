//! The full-text index of infino, as pure code: documents in, region bytes
//! out; region bytes in, query answers out. No I/O, no threads.
//!
//! A superfile embeds one region per indexed text column; the container
//! records its location and checksum, this crate owns the bytes
//! (`FORMAT.md` is the byte-exact layout, `QUERY_SYNTAX.md` the query
//! language).
//!
//! ```
//! use bytes::Bytes;
//! use infino_fts::{
//!     Bm25Params, FtsConfig, FtsIndex, FtsIndexBuilder, MatchMode, Query, search,
//! };
//!
//! // Build: file-local row ids in increasing order; None is a null.
//! let mut builder = FtsIndexBuilder::new(FtsConfig { positions: true, ..FtsConfig::default() })?;
//! builder.add_document(0, Some("The quick brown fox"))?;
//! builder.add_document(1, None)?;
//! builder.add_document(2, Some("A quick brown dog, quick as a fox"))?;
//! let region: Vec<u8> = builder.finish()?;
//!
//! // Open and search with this region's own statistics. A table sums
//! // `local_stats` over all its regions instead.
//! let index = FtsIndex::open(Bytes::from(region))?;
//! let terms = index.analyzer().terms("quick dog");
//! let stats = index.local_stats(terms.iter().map(String::as_str))?;
//! let weighted: Vec<(String, f32)> = terms.into_iter().map(|t| (t, 1.0)).collect();
//! let hits = search(&index, &weighted, MatchMode::Any, 10, Bm25Params::default(), &stats, None)?;
//! assert_eq!(hits[0].0, 2);
//!
//! // The query language: phrases, prefixes, fuzzy terms, boolean operators.
//! let query = Query::parse("\"brown fox\" -dog")?;
//! assert_eq!(query.count(&index)?, 1);
//! # Ok::<(), infino_fts::FtsError>(())
//! ```
//!
//! # Map
//!
//! - Analysis: [`AnalyzerConfig`] (recorded in the region), [`Analyzer`],
//!   [`Token`].
//! - Writing: [`FtsIndexBuilder`] with [`FtsConfig`].
//! - Reading: [`RegionLayout`] (header only: analyzer, `N`, token total,
//!   section ranges), [`FtsIndex`] (validated on open; whole, or from its
//!   lookup prefix plus the list ranges a query needs), [`TermInfo`],
//!   [`Postings`] cursors with block skipping and [`Occurrence`]s.
//! - Ranking: [`search()`] (MaxScore / conjunctive top-k) with
//!   [`Bm25Params`] and caller-supplied [`CollectionStats`].
//! - Query language: [`Query`] / [`QueryNode`]: matching, counting, top-k,
//!   scoring terms.
//! - Unranked matching: [`token_match`], [`phrase_match`], [`prefix_match`],
//!   [`expand_prefix`], [`expand_fuzzy`], [`exact_match_candidates`].
//! - Highlighting: [`highlight()`], [`highlight_spans`].
//! - Errors: [`FtsError`] with [`Section`] and [`QueryErrorKind`].

mod accumulate;
mod analyzer;
mod bm25;
mod codec;
mod doc_terms;
mod encode;
mod error;
mod format;
mod fuzzy;
mod highlight;
mod intern;
mod layout;
mod matching;
mod postings;
mod prefetch;
mod query;
mod reader;
mod search;
mod spill;
mod terminfo;
mod topk;
mod writer;

pub use analyzer::{
    Analyzer, AnalyzerConfig, DEFAULT_MAX_TOKEN_LEN, Language, MAX_TOKEN_LEN_LIMIT, StopWords,
    Token,
};
pub use bm25::{Bm25Params, CollectionStats, idf};
pub use codec::norm::{decode_norm, encode_norm, quantize_doc_len};
pub use error::{FtsError, QueryErrorKind, Result, Section};
pub use highlight::{HighlightOptions, highlight, highlight_spans};
pub use layout::RegionLayout;
pub use matching::{
    MAX_EXPANSIONS, MAX_FUZZY_CHARS, exact_match_candidates, expand_fuzzy, expand_prefix,
    phrase_match, prefix_match, token_match,
};
pub use postings::{Occurrence, Postings, TERMINATED};
pub use query::{MAX_CLAUSES, MAX_DEPTH, Query, QueryNode};
pub use reader::{FtsIndex, TermInfo};
pub use search::{MatchMode, search};
pub use writer::{FtsConfig, FtsIndexBuilder};

#[cfg(test)]
mod tests {
    /// Regions are searched from many threads at once.
    #[test]
    fn index_is_shareable() {
        fn assert_shareable<T: Send + Sync + Clone>() {}
        assert_shareable::<crate::FtsIndex>();
        assert_shareable::<crate::Query>();
        fn assert_send<T: Send>() {}
        assert_send::<crate::FtsIndexBuilder>();
    }
}
