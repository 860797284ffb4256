//! The crate's error type.
//!
//! Format errors carry fields (section, offset, expected and found versions),
//! not prose, so callers and tests can match on them.

use std::fmt;

/// A region section, named in [`FtsError::Corrupt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Section {
    /// The fixed header at the start of the region.
    Header,
    /// The serialized analyzer configuration.
    Analyzer,
    /// The FST term dictionary.
    Dictionary,
    /// The term-info table (chunk directory and per-term records).
    TermInfo,
    /// The block postings lists.
    Postings,
    /// The one-byte-per-document length norms.
    Norms,
    /// The bit set of documents that have a value.
    Presence,
    /// Word positions.
    Positions,
    /// Byte offsets of occurrences, for highlighting.
    Offsets,
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Section::Header => "header",
            Section::Analyzer => "analyzer",
            Section::Dictionary => "dictionary",
            Section::TermInfo => "term-info",
            Section::Postings => "postings",
            Section::Norms => "norms",
            Section::Presence => "presence",
            Section::Positions => "positions",
            Section::Offsets => "offsets",
        };
        f.write_str(name)
    }
}

/// Why a query string or query evaluation was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueryErrorKind {
    /// A `(` without its `)`, or a `)` without its `(`.
    UnbalancedParenthesis,
    /// A `"` without its closing `"`.
    UnterminatedPhrase,
    /// Parentheses or `NOT`s nest deeper than the limit.
    TooDeep {
        /// The nesting limit.
        limit: usize,
    },
    /// The query has more clauses than the limit.
    TooManyClauses {
        /// The clause limit.
        limit: usize,
    },
    /// A prefix or fuzzy term matches more dictionary terms than the limit.
    TooManyExpansions {
        /// The expansion limit.
        limit: usize,
    },
    /// An operator (`AND`, `OR`, `NOT`, `+`, `-`) is missing its operand.
    MissingOperand,
    /// A `^boost` that is not a finite, non-negative number.
    InvalidBoost,
    /// A `~distance` other than `~`, `~0`, `~1` or `~2`.
    InvalidFuzzyDistance,
    /// A fuzzy term too long for a Levenshtein automaton.
    FuzzyTermTooLong {
        /// The length limit in characters.
        limit: usize,
    },
    /// A phrase query on an index built without positions.
    PositionsNotIndexed,
    /// Stored byte offsets asked of an index built without them.
    OffsetsNotIndexed,
    /// A search argument is out of range (e.g. BM25 parameters).
    InvalidArgument {
        /// Which argument.
        name: &'static str,
    },
}

/// Every error this crate returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FtsError {
    /// The region bytes are malformed.
    #[error("corrupt full-text region: {section} at offset {offset}: {reason}")]
    Corrupt {
        /// The section in which the problem was found.
        section: Section,
        /// The byte offset (from the start of the region where known, else
        /// within the section) of the problem.
        offset: u64,
        /// What check failed.
        reason: &'static str,
    },
    /// A region opened from its lookup prefix was asked for bytes that were
    /// not fetched (see [`FtsIndex::with_ranges`](crate::FtsIndex::with_ranges)).
    #[error("full-text region bytes not loaded: {section} at offset {offset}")]
    NotLoaded {
        /// The section of the missing bytes.
        section: Section,
        /// Their offset from the start of the region.
        offset: u64,
    },
    /// The region was written by a newer, incompatible major version.
    #[error(
        "full-text region format version {found_major}.{found_minor} is not supported \
         (this reader supports major version {supported})"
    )]
    UnsupportedVersion {
        /// The major version found in the region.
        found_major: u16,
        /// The minor version found in the region.
        found_minor: u16,
        /// The major version this reader supports.
        supported: u16,
    },
    /// An analyzer or index configuration is invalid.
    #[error("invalid full-text configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: &'static str,
    },
    /// A document was added out of order or is too large.
    #[error("invalid document {doc}: {reason}")]
    InvalidDocument {
        /// The document id passed by the caller.
        doc: u32,
        /// What is wrong.
        reason: &'static str,
    },
    /// The region would exceed a format limit.
    #[error("full-text region exceeds a format limit: {what}")]
    TooLarge {
        /// Which limit.
        what: &'static str,
    },
    /// Spilling postings to a temporary file, or reading them back,
    /// failed (see
    /// [`FtsIndexBuilder::with_memory_budget`](crate::FtsIndexBuilder::with_memory_budget)).
    #[error("spilling postings to a temporary file failed: {source}")]
    Spill {
        /// The I/O error.
        source: std::io::Error,
    },
    /// A query string or query evaluation was rejected.
    #[error("invalid query at byte {offset}: {kind:?}")]
    Query {
        /// What is wrong.
        kind: QueryErrorKind,
        /// Byte offset in the query string (0 when not tied to a position).
        offset: usize,
    },
}

/// Result alias for this crate.
pub type Result<T, E = FtsError> = std::result::Result<T, E>;

impl FtsError {
    pub(crate) fn corrupt(section: Section, offset: u64, reason: &'static str) -> Self {
        FtsError::Corrupt {
            section,
            offset,
            reason,
        }
    }

    pub(crate) fn query(kind: QueryErrorKind, offset: usize) -> Self {
        FtsError::Query { kind, offset }
    }
}
