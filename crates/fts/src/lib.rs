//! The full-text index of infino, as pure code: documents in, region bytes
//! out; region bytes in, query answers out. No I/O.

mod analyzer;
mod bm25;
mod codec;
mod error;
mod format;
mod fuzzy;
mod highlight;
mod matching;
mod postings;
mod query;
mod reader;
mod search;
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
pub use matching::{
    MAX_EXPANSIONS, MAX_FUZZY_CHARS, exact_match_candidates, expand_fuzzy, expand_prefix,
    phrase_match, prefix_match, token_match,
};
pub use postings::{Occurrence, Postings, TERMINATED};
pub use query::{MAX_CLAUSES, MAX_DEPTH, Query, QueryNode};
pub use reader::{FtsIndex, TermInfo};
pub use search::{MatchMode, search};
pub use writer::{FtsConfig, FtsIndexBuilder};
