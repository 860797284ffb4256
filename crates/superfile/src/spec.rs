//! What to index, per column.

use infino_fts::FtsConfig;

/// The index spec of a superfile: which columns get which index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexSpec {
    /// Full-text indexed text columns.
    pub fts: Vec<FtsColumn>,
}

/// A full-text indexed column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FtsColumn {
    /// Column name (Utf8, LargeUtf8 or Utf8View; nulls allowed).
    pub column: String,
    /// Analyzer and positions.
    pub config: FtsConfig,
}

impl IndexSpec {
    /// Add a full-text column with `config`.
    #[must_use]
    pub fn with_fts(mut self, column: impl Into<String>, config: FtsConfig) -> Self {
        self.fts.push(FtsColumn {
            column: column.into(),
            config,
        });
        self
    }
}
