//! Tables: versioned manifests over superfiles.
//!
//! A [`Connection`] is a catalog of tables under one storage root. A
//! [`Table`] handle is pinned to one version (snapshot reads, time travel
//! with [`Connection::open_table_at`]); [`Table::append`] writes superfiles,
//! then commits manifest version `N+1` with create-if-absent, rebasing and
//! retrying when another writer won the race — several processes on
//! several machines can append to one table through the object store alone.
//! Full-text search scores with statistics of the whole version, so the
//! same rows rank identically however they are split into files.

mod bloom;
mod build;
mod connection;
mod deletes;
mod error;
mod fts_plan;
mod gc;
mod hybrid;
mod ids;
mod info;
mod live;
mod manifest;
mod matching;
mod mutate;
mod optimize;
mod pools;
mod predicate;
mod pruning;
mod summary;
mod table;
mod vector_search;
mod versions;

pub use connection::{Connection, TableOptions};
pub use error::{Result, TableError};
pub use gc::{GcOptions, GcReport};
pub use hybrid::Fusion;
pub use infino_fts::{HighlightOptions, MatchMode};
pub use info::{TableStats, VersionInfo};
pub use manifest::{
    ColumnDef, Deletes, FileEntry, FtsColumnDef, FtsSummary, MANIFEST_FORMAT, Manifest,
    VectorColumnDef,
};
pub use mutate::Mutation;
pub use optimize::{OptimizeOptions, Optimized};
pub use predicate::RowFilter;
pub use pruning::FileStatistics;
pub use summary::{ColumnSummary, MAX_STRING_BOUND, VectorSummary, compare as compare_bounds};
pub use table::{Hit, TARGET_ROWS_PER_FILE, Table};
pub use vector_search::VectorQuery;
pub use versions::MAX_COMMIT_ATTEMPTS;
