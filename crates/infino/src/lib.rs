//! infino: an embedded retrieval engine.
//!
//! A table's data lives once, as Parquet "superfiles" with embedded
//! full-text indexes, on object storage (`memory://`, a local path,
//! `s3://`, `az://`, `gs://`). This crate is the public face: connect,
//! create or open tables, append Arrow record batches, search.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use infino::arrow::array::{Int64Array, RecordBatch, StringArray};
//! use infino::arrow::datatypes::{DataType, Field, Schema};
//! use infino::{FtsConfig, IndexSpec};
//!
//! let db = infino::connect("memory://")?;
//! let schema = Arc::new(Schema::new(vec![
//!     Field::new("id", DataType::Int64, false),
//!     Field::new("text", DataType::Utf8, true),
//! ]));
//! let table = db.create_table("notes", schema.clone(), &IndexSpec::default().with_fts("text", FtsConfig::default())).await?;
//! let batch = RecordBatch::try_new(schema, vec![
//!     Arc::new(Int64Array::from(vec![1, 2])),
//!     Arc::new(StringArray::from(vec!["object storage is cheap", "search must be fast"])),
//! ])?;
//! let table = table.append(&[batch]).await?;
//! let hits = table.search("text", "fast search", 10, &["id"]).await?;
//! assert_eq!(hits.num_rows(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

pub mod blocking;

pub use arrow;
pub use infino_fts::{AnalyzerConfig, Bm25Params, FtsConfig, Language, StopWords};
pub use infino_sql::{SqlContext, SqlError};
pub use infino_store::{
    Budget, BudgetExceeded, CacheMode, CacheStats, CostScope, IoStats, PriceTable, QueryCost,
    RequestKind, Store, StoreError,
};
pub use infino_superfile::IndexSpec;
pub use infino_table::{
    Connection, Fusion, GcOptions, GcReport, Hit, Manifest, Mutation, OptimizeOptions, Optimized,
    RowFilter, Table, TableError, TableOptions, TableStats, VectorQuery, VersionInfo,
};
pub use infino_table::{HighlightOptions, MatchMode};
pub use infino_vector::{BuildParams, Metric, Rerank};

/// Connect to a storage root: `memory://[name]`, a local directory,
/// `file:///path`, `s3://bucket/prefix`, `az://container/prefix` or
/// `gs://bucket/prefix`.
///
/// # Errors
/// [`TableError::Store`] for a URI or option the storage layer rejects.
pub fn connect(uri: &str) -> Result<Connection, TableError> {
    Connection::connect(uri)
}

/// [`connect`] with storage options (`object_store` keys such as
/// `aws_endpoint`, plus infino's storage knobs).
///
/// # Errors
/// As [`connect`], naming the first unknown option.
pub fn connect_with<K: Into<String>, V: Into<String>>(
    uri: &str,
    options: impl IntoIterator<Item = (K, V)>,
) -> Result<Connection, TableError> {
    Connection::connect_with(uri, options)
}
