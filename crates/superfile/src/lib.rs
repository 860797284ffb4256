//! The superfile: one immutable file that is a valid Parquet file and also
//! carries infino's index regions.
//!
//! ```text
//! [ PAR1 | row groups (all columns, `_id` first) ]
//! [ full-text region per indexed text column      ]
//! [ vector region per indexed vector column       ]
//! [ Parquet footer (key `infino.directory`) | len | PAR1 ]
//! ```
//!
//! Any Parquet reader opens the file and sees the table's columns. infino
//! finds its regions through the directory in the footer's key/value
//! metadata: offsets, lengths, CRC32C checksums and the format version
//! (`docs/format.md`). Writing is [`SuperfileWriter`]; reading is
//! [`Superfile`] over bytes in memory or [`LazySuperfile`] over a [`Store`](infino_store::Store),
//! which fetches the footer with one suffix read and regions on demand.

mod dictionary;
mod error;
mod format;
mod lazy;
mod lazy_rows;
mod lazy_terms;
mod lazy_vectors;
mod reader;
mod row_vectors;
mod sparse_read;
mod spec;
mod take;
mod vector_column;
mod writer;

pub use error::{Result, SuperfileError};
pub use format::{
    DIRECTORY_KEY, Directory, FORMAT_MAJOR, FORMAT_MINOR, ID_COLUMN, RegionEntry, RegionKind,
};
pub use lazy::{LazySuperfile, SUFFIX_READ_BYTES, decode_tail};
pub use lazy_terms::PREFIX_READ_BYTES;
pub use lazy_vectors::{TWO_PHASE_MIN_PAYLOAD, VECTOR_PREFIX_READ_BYTES};
pub use reader::{OpenOptions, Superfile};
pub use row_vectors::ColumnVectors;
pub use spec::{FtsColumn, IndexSpec, VectorColumn};
pub use take::{FetchedPages, PageDirectory, RowTake};
pub use writer::{DEFAULT_FTS_MEMORY_BUDGET, SuperfileWriter, WriterOptions};
