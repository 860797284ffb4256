//! The table error type.

use infino_fts::FtsError;
use infino_store::StoreError;
use infino_superfile::SuperfileError;

/// Result alias for table operations.
pub type Result<T, E = TableError> = std::result::Result<T, E>;

/// Errors from tables and connections.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// No table of that name in the catalog.
    #[error("table `{0}` does not exist")]
    NoSuchTable(String),

    /// `create_table` found the name taken.
    #[error("table `{0}` already exists")]
    TableExists(String),

    /// A table name that cannot be used as a storage path.
    #[error("invalid table name `{name}`: {reason}")]
    InvalidName {
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },

    /// Time travel to a version that does not exist (or was collected).
    #[error("table `{table}` has no version {version}")]
    NoSuchVersion {
        /// Table name.
        table: String,
        /// The version asked for.
        version: u64,
    },

    /// Other writers kept winning the race for the next version.
    #[error("commit to `{table}` lost the race {attempts} times in a row; retry later")]
    CommitConflict {
        /// Table name.
        table: String,
        /// Attempts made.
        attempts: u32,
    },

    /// A batch does not fit the table's schema.
    #[error("column `{column}`: {reason}")]
    Schema {
        /// The column.
        column: String,
        /// What is wrong.
        reason: String,
    },

    /// A manifest that cannot be read.
    #[error("manifest {version} of `{table}` is corrupt: {reason}")]
    CorruptManifest {
        /// Table name.
        table: String,
        /// Version.
        version: u64,
        /// What was found.
        reason: String,
    },

    /// A deletion-vector object that cannot be read.
    #[error("deletion vector `{path}` is corrupt: {reason}")]
    CorruptDeletes {
        /// Its path.
        path: String,
        /// What was found.
        reason: String,
    },

    /// A predicate or assignment that does not parse, names an unknown
    /// column, or has the wrong type. Nothing was committed.
    #[error("invalid predicate `{expr}`: {reason}")]
    InvalidPredicate {
        /// The expression text.
        expr: String,
        /// DataFusion's explanation.
        reason: String,
    },

    /// `upsert` on a table without a declared key, or a key column that
    /// cannot serve as one.
    #[error("table `{table}`: {reason}")]
    Key {
        /// Table name.
        table: String,
        /// What is wrong.
        reason: String,
    },

    /// A table option that cannot be used (e.g. a zero shard target).
    #[error("table `{table}`: invalid option: {reason}")]
    InvalidOption {
        /// Table name.
        table: String,
        /// What is wrong.
        reason: String,
    },

    /// A mutation lost to a concurrent commit that deleted or rewrote rows
    /// it touched. Nothing of it was committed; re-read and retry if the
    /// change still applies.
    #[error("conflict on `{table}`: {reason}")]
    Conflict {
        /// Table name.
        table: String,
        /// Which commit touched which rows.
        reason: String,
    },

    /// Storage failed.
    #[error(transparent)]
    Store(Box<StoreError>),

    /// A superfile failed.
    #[error(transparent)]
    Superfile(Box<SuperfileError>),

    /// The full-text index or query failed (for example, a bad query string).
    #[error(transparent)]
    Fts(Box<FtsError>),

    /// Arrow failed.
    #[error(transparent)]
    Arrow(Box<arrow::error::ArrowError>),

    /// The vector index failed (for example, a query of the wrong dimension).
    #[error(transparent)]
    Vector(Box<infino_vector::VectorError>),
}

impl From<infino_vector::VectorError> for TableError {
    fn from(e: infino_vector::VectorError) -> Self {
        Self::Vector(Box::new(e))
    }
}

// The sources are boxed so `Result<_, TableError>` stays small on the happy path.
impl From<StoreError> for TableError {
    fn from(e: StoreError) -> Self {
        Self::Store(Box::new(e))
    }
}

impl From<SuperfileError> for TableError {
    fn from(e: SuperfileError) -> Self {
        Self::Superfile(Box::new(e))
    }
}

impl From<FtsError> for TableError {
    fn from(e: FtsError) -> Self {
        Self::Fts(Box::new(e))
    }
}

impl From<arrow::error::ArrowError> for TableError {
    fn from(e: arrow::error::ArrowError) -> Self {
        Self::Arrow(Box::new(e))
    }
}
