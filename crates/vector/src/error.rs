//! The crate's error type.
//!
//! Format errors carry fields (section, offset, versions), not prose, so
//! callers and tests can match on them.

use std::fmt;

/// A region section, named in [`VectorError::Corrupt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Section {
    /// The fixed header at the start of the region.
    Header,
    /// The centroid table.
    Centroids,
    /// The cluster directory (offset and count per cluster).
    Directory,
    /// One cluster's data block.
    Cluster,
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Section::Header => "header",
            Section::Centroids => "centroids",
            Section::Directory => "directory",
            Section::Cluster => "cluster",
        })
    }
}

/// Every error this crate returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VectorError {
    /// A vector or query has the wrong number of components.
    #[error("dimension mismatch: expected {expected}, found {found}")]
    DimensionMismatch {
        /// The index dimension.
        expected: usize,
        /// The length that was passed.
        found: usize,
    },
    /// A vector has a NaN or infinite component.
    #[error("row {row} has a non-finite component at dimension {dim}")]
    NonFinite {
        /// The caller's row id.
        row: u32,
        /// The first offending component.
        dim: usize,
    },
    /// A zero vector was added to a cosine index, which has no direction.
    #[error("row {row} is a zero vector, which has no cosine direction")]
    ZeroVector {
        /// The caller's row id.
        row: u32,
    },
    /// A row id was added twice.
    #[error("row {row} was added twice")]
    DuplicateRow {
        /// The repeated row id.
        row: u32,
    },
    /// Build parameters or search options are out of range.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParams {
        /// Which parameter.
        name: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// A query vector is unusable (non-finite, or zero under cosine).
    #[error("invalid query: {reason}")]
    InvalidQuery {
        /// What is wrong.
        reason: &'static str,
    },
    /// The region bytes are malformed.
    #[error("corrupt vector region: {section} at offset {offset}: {reason}")]
    Corrupt {
        /// The section in which the problem was found.
        section: Section,
        /// The byte offset from the start of the region.
        offset: u64,
        /// What check failed.
        reason: &'static str,
    },
    /// The region was written by a newer, incompatible major version.
    #[error(
        "vector region format version {found_major}.{found_minor} is not supported \
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
    /// A search needed a cluster that the caller's source did not provide.
    #[error("cluster {cluster} was needed but not provided")]
    MissingCluster {
        /// The cluster id.
        cluster: usize,
    },
    /// A caller-provided exact vector source had no vector for a row, or
    /// one of the wrong length.
    #[error("exact vector source has no usable vector for row {row}")]
    MissingVector {
        /// The row id.
        row: u32,
    },
}

/// Result alias for this crate.
pub type Result<T, E = VectorError> = std::result::Result<T, E>;

impl VectorError {
    pub(crate) fn corrupt(section: Section, offset: u64, reason: &'static str) -> Self {
        VectorError::Corrupt {
            section,
            offset,
            reason,
        }
    }

    pub(crate) fn params(name: &'static str, reason: &'static str) -> Self {
        VectorError::InvalidParams { name, reason }
    }
}
