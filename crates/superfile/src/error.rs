//! The superfile error type.

use infino_fts::FtsError;
use infino_store::StoreError;

/// Result alias for superfile operations.
pub type Result<T, E = SuperfileError> = std::result::Result<T, E>;

/// Errors from writing or reading a superfile.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SuperfileError {
    /// The index spec or input schema cannot be used.
    #[error("column `{column}`: {reason}")]
    Schema {
        /// The column concerned.
        column: String,
        /// What is wrong.
        reason: String,
    },

    /// A file holds more rows than a superfile addresses (row ids are u32).
    #[error("a superfile holds at most {max} rows; split the input into several files")]
    TooManyRows {
        /// The limit.
        max: u64,
    },

    /// The bytes are not a superfile or are damaged.
    #[error("corrupt superfile ({what}): {reason}")]
    Corrupt {
        /// Which part.
        what: &'static str,
        /// What was found.
        reason: String,
    },

    /// A checksum did not match: the bytes changed after they were written.
    #[error("checksum mismatch in {what}: expected {expected:#010x}, found {actual:#010x}")]
    Checksum {
        /// Which part (`row groups` or a region name).
        what: String,
        /// Recorded checksum.
        expected: u32,
        /// Checksum of the bytes read.
        actual: u32,
    },

    /// The file was written by a newer, incompatible format version.
    #[error(
        "superfile format {found} is newer than this reader supports ({supported}); upgrade infino"
    )]
    UnsupportedVersion {
        /// Version in the file.
        found: String,
        /// Highest major version supported.
        supported: u16,
    },

    /// A column asked for does not exist or has no such index.
    #[error("no {what} for column `{column}` in this superfile")]
    NoSuchColumn {
        /// Column name.
        column: String,
        /// What was looked for.
        what: &'static str,
    },

    /// A row ordinal past the end of the file.
    #[error("row {row} is past the end of the superfile ({rows} rows)")]
    RowOutOfRange {
        /// The row asked for.
        row: u32,
        /// Rows in the file.
        rows: u64,
    },

    /// Parquet encoding or decoding failed.
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),

    /// Arrow failed (schema or array handling).
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),

    /// The full-text region failed.
    #[error("full-text index: {0}")]
    Fts(#[from] FtsError),

    /// The vector region failed.
    #[error("vector index: {0}")]
    Vector(#[from] infino_vector::VectorError),

    /// Reading from storage failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

impl SuperfileError {
    pub(crate) fn corrupt(what: &'static str, reason: impl Into<String>) -> Self {
        Self::Corrupt {
            what,
            reason: reason.into(),
        }
    }
}
