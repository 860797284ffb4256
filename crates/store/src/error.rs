//! The storage error type.
//!
//! Each variant is a failure class a caller can act on: a missing object, a
//! lost race on a conditional write, a bad URI, an unreachable endpoint. The
//! `object_store` error stays in the `source` chain for diagnosis.

use std::ops::Range;

/// Result alias for the storage layer.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Errors from the storage layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The URI could not be parsed or lacks a required part.
    #[error("invalid storage URI `{uri}`: {reason}")]
    InvalidUri {
        /// The URI as given.
        uri: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The URI scheme names no backend we support.
    #[error(
        "unsupported storage scheme `{scheme}` in `{uri}`; use memory://, file://, a plain path, s3://, az:// or gs://"
    )]
    UnsupportedScheme {
        /// The scheme found.
        scheme: String,
        /// The URI as given.
        uri: String,
    },

    /// An option key is not known to the chosen backend.
    #[error(
        "option `{key}` is not valid for the {backend} backend; check its spelling or pass it to the backend it belongs to"
    )]
    UnknownOption {
        /// The key as given.
        key: String,
        /// The backend the URI selected.
        backend: &'static str,
    },

    /// An option had a value that cannot be used.
    #[error("option `{key}` has invalid value `{value}`: {reason}")]
    InvalidOptionValue {
        /// The key.
        key: String,
        /// The value as given.
        value: String,
        /// Why it is rejected.
        reason: String,
    },

    /// The object does not exist.
    #[error("object `{path}` not found")]
    NotFound {
        /// Object path relative to the store root.
        path: String,
    },

    /// A range read asked for bytes past the end of the object.
    #[error(
        "range {}..{} of `{path}` is outside the object ({size} bytes); ask for bytes below its size",
        requested.start, requested.end
    )]
    RangeOutOfBounds {
        /// Object path.
        path: String,
        /// The range asked for.
        requested: Range<u64>,
        /// The object's size.
        size: u64,
    },

    /// A range was empty or reversed.
    #[error("range {}..{} of `{path}` is empty or reversed", requested.start, requested.end)]
    InvalidRange {
        /// Object path.
        path: String,
        /// The range asked for.
        requested: Range<u64>,
    },

    /// The server returned fewer (or more) bytes than asked for.
    #[error(
        "short read of `{path}`: expected {expected} bytes, got {got}; the object may be changing or the connection was cut"
    )]
    ShortRead {
        /// Object path.
        path: String,
        /// Bytes expected.
        expected: u64,
        /// Bytes received.
        got: u64,
    },

    /// A create-if-absent found the object already present, written by someone else.
    #[error("object `{path}` already exists (another writer created it first)")]
    AlreadyExists {
        /// Object path.
        path: String,
    },

    /// A conditional replace found a different version than expected.
    #[error("object `{path}` changed since it was read (precondition failed); re-read and retry")]
    PreconditionFailed {
        /// Object path.
        path: String,
    },

    /// The endpoint could not be reached after retries.
    #[error(
        "storage endpoint unreachable during {op} of `{path}`: {source}; check the endpoint and network"
    )]
    Unreachable {
        /// Operation name.
        op: &'static str,
        /// Object path.
        path: String,
        /// The underlying error.
        #[source]
        source: object_store::Error,
    },

    /// Credentials were rejected or missing.
    #[error("access denied during {op} of `{path}`: {source}; check credentials and permissions")]
    AccessDenied {
        /// Operation name.
        op: &'static str,
        /// Object path.
        path: String,
        /// The underlying error.
        #[source]
        source: object_store::Error,
    },

    /// The backend does not support the operation.
    #[error("{op} is not supported by this backend: {source}")]
    NotSupported {
        /// Operation name.
        op: &'static str,
        /// The underlying error.
        #[source]
        source: object_store::Error,
    },

    /// Any other backend failure.
    #[error("storage {op} of `{path}` failed: {source}")]
    Backend {
        /// Operation name.
        op: &'static str,
        /// Object path.
        path: String,
        /// The underlying error.
        #[source]
        source: object_store::Error,
    },

    /// A request was refused before it was sent: it would have taken the
    /// scope past its [`Budget`](crate::Budget).
    #[error("request for `{path}` refused: {exceeded}")]
    BudgetExceeded {
        /// Object path.
        path: String,
        /// Which limit, and by how much.
        #[source]
        exceeded: crate::cost::BudgetExceeded,
    },

    /// Another process uses the disk-cache directory.
    #[error(
        "disk cache directory `{dir}` is in use by another process; give each process its own cache_dir"
    )]
    CacheDirInUse {
        /// The directory.
        dir: String,
    },

    /// Local I/O outside `object_store` (lock files for local conditional writes).
    #[error("local I/O error during {op} on `{path}`: {source}")]
    LocalIo {
        /// Operation name.
        op: &'static str,
        /// File path.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    /// Classify an `object_store` error raised by operation `op` on `path`.
    pub(crate) fn from_object_store(
        op: &'static str,
        path: &str,
        err: object_store::Error,
    ) -> Self {
        use object_store::Error as E;
        let path = path.to_owned();
        match err {
            E::NotFound { .. } => Self::NotFound { path },
            E::Generic { store, source } if store == crate::cost::BudgetExceeded::STORE => {
                match source.downcast::<crate::cost::BudgetExceeded>() {
                    Ok(exceeded) => Self::BudgetExceeded {
                        path,
                        exceeded: *exceeded,
                    },
                    Err(source) => Self::Backend {
                        op,
                        path,
                        source: E::Generic { store, source },
                    },
                }
            }
            E::AlreadyExists { .. } => Self::AlreadyExists { path },
            E::Precondition { .. } => Self::PreconditionFailed { path },
            E::NotSupported { .. } | E::NotImplemented { .. } => {
                Self::NotSupported { op, source: err }
            }
            E::PermissionDenied { .. } | E::Unauthenticated { .. } => Self::AccessDenied {
                op,
                path,
                source: err,
            },
            other if is_connect_failure(&other) => Self::Unreachable {
                op,
                path,
                source: other,
            },
            other => Self::Backend {
                op,
                path,
                source: other,
            },
        }
    }

    /// True when the outcome of a write is unknown: the request may have been
    /// applied even though the client saw an error.
    pub(crate) fn is_ambiguous_write(&self) -> bool {
        matches!(self, Self::Backend { .. } | Self::Unreachable { .. })
    }
}

/// Whether the error chain describes a failure to connect at all.
fn is_connect_failure(err: &object_store::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        let text = e.to_string().to_ascii_lowercase();
        if text.contains("connection refused")
            || text.contains("error trying to connect")
            || text.contains("dns error")
            || text.contains("client error (connect)")
        {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::AddrNotAvailable
            )
        {
            return true;
        }
        cur = e.source();
    }
    false
}
