//! What to index, per column.

use infino_fts::FtsConfig;
use infino_vector::{BuildParams, Metric};

/// The index spec of a superfile: which columns get which index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexSpec {
    /// Full-text indexed text columns.
    pub fts: Vec<FtsColumn>,
    /// Vector indexed columns.
    pub vector: Vec<VectorColumn>,
}

/// A vector indexed column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectorColumn {
    /// Column name (`FixedSizeList<Float32, D>`, D from 1 to 4096; null rows
    /// are not indexed).
    pub column: String,
    /// Distance metric.
    pub metric: Metric,
    /// Lists, training sample, seed and rerank payload.
    pub params: BuildParams,
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

    /// Add a vector column with `metric` and `params`.
    #[must_use]
    pub fn with_vector(
        mut self,
        column: impl Into<String>,
        metric: Metric,
        params: BuildParams,
    ) -> Self {
        self.vector.push(VectorColumn {
            column: column.into(),
            metric,
            params,
        });
        self
    }
}
