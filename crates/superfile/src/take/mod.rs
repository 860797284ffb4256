//! Reading a few scattered rows of a superfile value by value.
//!
//! A Parquet reader given a row selection still decodes (or skips through
//! its decoder) every page that holds a selected row, and a thousand
//! scattered rows of a million touch nearly every page: an indexed
//! equality at 0.1 % then costs most of a full scan. Every page the
//! superfile writer produces is addressable by position once its header is
//! read — PLAIN fixed-width values sit at `position · width`, dictionary
//! indices in runs whose headers give their lengths, delta-encoded integers
//! in miniblocks whose sums are cheap to skip — so a [`RowTake`] reads each
//! wanted row's value straight out of its page (`column.rs`), after one
//! batched fetch of exactly the pages (and dictionaries) holding the rows.
//!
//! What it covers: flat columns (no lists or structs) of integer, float,
//! date/time and string/binary types, PLAIN, dictionary or
//! DELTA_BINARY_PACKED, any codec, nullable or not. Anything else (another
//! writer's encodings, nested or boolean columns, no offset index) gives no
//! plan, and callers read the rows through Parquet as before.

mod column;
mod delta;
mod directory;
mod header;
mod hybrid;
mod out;
mod page;

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use bytes::Bytes;
use infino_store::{Path, Store};
use parquet::basic::{Encoding, Type as PhysicalType};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::reader::{ChunkReader, Length};

use crate::error::Result;
pub use directory::PageDirectory;
use out::ColumnOut;

/// One output column: where it lies and what it becomes.
#[derive(Debug, Clone)]
struct TakeColumn {
    leaf: usize,
    physical: PhysicalType,
    nullable: bool,
    output: DataType,
}

/// The wanted rows of one row group.
#[derive(Debug, Clone)]
struct GroupRows {
    group: usize,
    /// The group's first file row.
    first_row: u64,
    /// Indices into [`RowTake::rows`].
    rows: Range<usize>,
}

/// A plan to read rows of some columns of one superfile value by value.
#[derive(Debug, Clone)]
pub struct RowTake {
    schema: SchemaRef,
    columns: Vec<TakeColumn>,
    rows: Vec<u32>,
    groups: Vec<GroupRows>,
    metadata: Arc<ParquetMetaData>,
    directory: Option<Arc<PageDirectory>>,
}

impl RowTake {
    /// A plan reading `rows` (file row ordinals, any order; repeats read
    /// once) of the fields of `schema` (the file's columns by name, as the
    /// types given there) from the file `metadata` describes. `None` when
    /// some column or page is outside what a take reads (module doc) or a
    /// row is past the end; the rows must then be read through Parquet.
    pub fn plan(
        metadata: Arc<ParquetMetaData>,
        schema: SchemaRef,
        mut rows: Vec<u32>,
    ) -> Option<Self> {
        let offsets = metadata.offset_index()?;
        let parquet_schema = metadata.file_metadata().schema_descr();
        let mut columns = Vec::with_capacity(schema.fields().len());
        for field in schema.fields() {
            let leaf = (0..parquet_schema.num_columns()).find(|&i| {
                let column = parquet_schema.column(i);
                let parts = column.path().parts();
                parts.len() == 1 && parts[0] == *field.name()
            })?;
            let descr = parquet_schema.column(leaf);
            if descr.max_rep_level() != 0 || descr.max_def_level() > 1 {
                return None;
            }
            let physical = descr.physical_type();
            if !readable(physical, field.data_type()) {
                return None;
            }
            for (g, group) in metadata.row_groups().iter().enumerate() {
                let chunk = group.column(leaf);
                if !chunk.encodings().all(|e| encoding_readable(e, physical)) {
                    return None;
                }
                offsets.get(g)?.get(leaf)?;
            }
            columns.push(TakeColumn {
                leaf,
                physical,
                nullable: descr.max_def_level() == 1,
                output: field.data_type().clone(),
            });
        }
        rows.sort_unstable();
        rows.dedup();
        let mut groups = Vec::new();
        let mut first_row = 0u64;
        let mut at = 0usize;
        for (g, group) in metadata.row_groups().iter().enumerate() {
            let end_row = first_row + u64::try_from(group.num_rows()).ok()?;
            let end = at + rows[at..].partition_point(|&r| u64::from(r) < end_row);
            if end > at {
                groups.push(GroupRows {
                    group: g,
                    first_row,
                    rows: at..end,
                });
            }
            at = end;
            first_row = end_row;
        }
        if at != rows.len() {
            return None;
        }
        Some(Self {
            schema,
            columns,
            rows,
            groups,
            metadata,
            directory: None,
        })
    }

    /// The same take, reading page headers and run positions from
    /// `directory` (made for the same file's metadata) where earlier takes
    /// left them, and leaving there what it reads.
    #[must_use]
    pub fn with_directory(mut self, directory: Arc<PageDirectory>) -> Self {
        self.directory = Some(directory);
        self
    }

    /// How many rows the take reads from each row group holding wanted
    /// rows, in file order.
    pub fn group_sizes(&self) -> Vec<usize> {
        self.groups.iter().map(|g| g.rows.len()).collect()
    }

    /// The part of this take in its row groups `span` (indices into
    /// [`group_sizes`](Self::group_sizes); clamped to them), so that the
    /// rows of several files can be spread evenly over threads (the rows
    /// of one file are rarely an even share). The parts decode from the
    /// whole take's [`fetch`](Self::fetch), so the file is still read in
    /// one batched request.
    pub fn group_span(&self, span: Range<usize>) -> Self {
        let end = span.end.min(self.groups.len());
        let groups = &self.groups[span.start.min(end)..end];
        let first = groups.first().map_or(0, |g| g.rows.start);
        let last = groups.last().map_or(0, |g| g.rows.end);
        Self {
            schema: Arc::clone(&self.schema),
            columns: self.columns.clone(),
            rows: self.rows[first..last].to_vec(),
            groups: groups
                .iter()
                .map(|g| GroupRows {
                    group: g.group,
                    first_row: g.first_row,
                    rows: g.rows.start - first..g.rows.end - first,
                })
                .collect(),
            metadata: Arc::clone(&self.metadata),
            directory: self.directory.clone(),
        }
    }

    /// The rows read, in output order (ascending).
    pub fn rows(&self) -> &[u32] {
        &self.rows
    }

    /// The byte ranges of the file the take reads: each needed column
    /// chunk's dictionary page and the data pages holding wanted rows,
    /// sorted.
    pub fn ranges(&self) -> Vec<Range<u64>> {
        let mut out = Vec::new();
        for group in &self.groups {
            let rows = self.group_rows(group);
            for column in &self.columns {
                column::chunk_ranges(&self.metadata, group.group, column.leaf, &rows, &mut out);
            }
        }
        out.sort_by_key(|r| r.start);
        out
    }

    /// `group`'s wanted rows, relative to its first row.
    fn group_rows(&self, group: &GroupRows) -> Vec<u64> {
        self.rows[group.rows.clone()]
            .iter()
            .map(|&r| u64::from(r) - group.first_row)
            .collect()
    }

    /// The rows, decoded from `bytes` — the contents of [`ranges`](Self::ranges),
    /// in that order.
    ///
    /// # Errors
    /// [`SuperfileError::Corrupt`] for pages that do not decode, Parquet
    /// and Arrow errors.
    pub fn decode(&self, bytes: Vec<Bytes>) -> Result<RecordBatch> {
        self.decode_ranges(&self.ranges(), bytes)
    }

    /// [`decode`](Self::decode) given the ranges already computed.
    fn decode_ranges(&self, ranges: &[Range<u64>], bytes: Vec<Bytes>) -> Result<RecordBatch> {
        self.decode_fetched(&FetchedPages::new(ranges, bytes))
    }

    /// Fetches the pages of [`ranges`](Self::ranges) from `path` in `store`
    /// (merged and concurrent, as `Store::get_ranges` does), for this take
    /// or any of its [`group_span`](Self::group_span) parts to decode.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn fetch(&self, store: &Store, path: &Path) -> Result<FetchedPages> {
        let parts = store.get_covering(path, &self.ranges()).await?;
        Ok(FetchedPages {
            fetched: Arc::new(Fetched { parts }),
        })
    }

    /// The rows, decoded from `pages`: fetched for this take, or for the
    /// whole take this one is a piece of.
    ///
    /// # Errors
    /// As [`decode`](Self::decode); a page that was not fetched is
    /// [`SuperfileError::Parquet`](crate::SuperfileError).
    pub fn decode_fetched(&self, pages: &FetchedPages) -> Result<RecordBatch> {
        let fetched = &pages.fetched;
        let group_rows: Vec<Vec<u64>> = self.groups.iter().map(|g| self.group_rows(g)).collect();
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        for column in &self.columns {
            let mut out = ColumnOut::new(column.physical, self.rows.len())?;
            for (group, rows) in self.groups.iter().zip(&group_rows) {
                let chunk = column::Chunk {
                    metadata: &self.metadata,
                    directory: self.directory.as_deref(),
                    group: group.group,
                    leaf: column.leaf,
                    nullable: column.nullable,
                };
                chunk.read(rows, fetched, &mut out)?;
            }
            arrays.push(out.finish(&column.output)?);
        }
        let options = RecordBatchOptions::new().with_row_count(Some(self.rows.len()));
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            arrays,
            &options,
        )?)
    }

    /// Fetches the pages of [`ranges`](Self::ranges) from `path` in `store`
    /// (merged and concurrent, as `Store::get_ranges` does) and decodes the
    /// rows.
    ///
    /// # Errors
    /// Storage errors, and those of [`decode`](Self::decode).
    pub async fn read(&self, store: &Store, path: &Path) -> Result<RecordBatch> {
        self.decode_fetched(&self.fetch(store, path).await?)
    }
}

/// Whether values of `physical` type become `output` in a take.
fn readable(physical: PhysicalType, output: &DataType) -> bool {
    use DataType as D;
    match physical {
        PhysicalType::INT32 => {
            matches!(
                output,
                D::Int8 | D::Int16 | D::Int32 | D::UInt8 | D::UInt16 | D::UInt32 | D::Date32
            ) || matches!(output, D::Time32(TimeUnit::Second | TimeUnit::Millisecond))
        }
        PhysicalType::INT64 => {
            matches!(
                output,
                D::Int64 | D::UInt64 | D::Date64 | D::Timestamp(_, _) | D::Duration(_)
            ) || matches!(
                output,
                D::Time64(TimeUnit::Microsecond | TimeUnit::Nanosecond)
            )
        }
        PhysicalType::FLOAT => *output == D::Float32,
        PhysicalType::DOUBLE => *output == D::Float64,
        PhysicalType::BYTE_ARRAY => matches!(output, D::Utf8View | D::BinaryView),
        _ => false,
    }
}

/// Whether a chunk that lists `encoding` has only pages a take reads.
fn encoding_readable(encoding: Encoding, physical: PhysicalType) -> bool {
    match encoding {
        // Levels, dictionary indices and plain values.
        Encoding::RLE | Encoding::PLAIN | Encoding::PLAIN_DICTIONARY | Encoding::RLE_DICTIONARY => {
            true
        }
        Encoding::DELTA_BINARY_PACKED => {
            matches!(physical, PhysicalType::INT32 | PhysicalType::INT64)
        }
        _ => false,
    }
}

/// The pages a take fetched from its file ([`RowTake::fetch`]), shared by
/// the pieces that decode from them.
#[derive(Clone)]
pub struct FetchedPages {
    fetched: Arc<Fetched>,
}

impl FetchedPages {
    /// `bytes` of the file's `ranges`, in that order.
    fn new(ranges: &[Range<u64>], bytes: Vec<Bytes>) -> Self {
        let parts = ranges.iter().map(|r| r.start).zip(bytes).collect();
        Self {
            fetched: Arc::new(Fetched { parts }),
        }
    }
}

impl std::fmt::Debug for FetchedPages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchedPages")
            .field("parts", &self.fetched.parts.len())
            .finish()
    }
}

/// Fetched byte ranges of a file, served to Parquet's page reader.
struct Fetched {
    /// (file offset, bytes), sorted by offset.
    parts: Vec<(u64, Bytes)>,
}

impl Length for Fetched {
    fn len(&self) -> u64 {
        self.parts
            .last()
            .map_or(0, |(start, b)| start + b.len() as u64)
    }
}

impl ChunkReader for Fetched {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        let at = self.part(start)?;
        let (first, bytes) = &self.parts[at];
        let from = usize::try_from(start - first).unwrap_or(usize::MAX);
        Ok(bytes::Buf::reader(bytes.slice(from..)))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let (owner, bytes) = self.borrow(start, length)?;
        sub_bytes(owner, bytes).map_err(|e| parquet::errors::ParquetError::General(e.to_string()))
    }
}

/// `part` (a slice of `owner`) as a handle on `owner`'s buffer.
pub(crate) fn sub_bytes(owner: &Bytes, part: &[u8]) -> Result<Bytes> {
    let from = (part.as_ptr() as usize)
        .checked_sub(owner.as_ptr() as usize)
        .filter(|from| from + part.len() <= owner.len())
        .ok_or_else(|| {
            crate::error::SuperfileError::corrupt(
                "column page",
                "page outside its buffer".to_owned(),
            )
        })?;
    Ok(owner.slice(from..from + part.len()))
}

impl Fetched {
    /// The fetched bytes `start..start + length` of the file, and the part
    /// they lie in, borrowed: a take's page reads share the parts between
    /// threads, and cloning a part's handle per page made every page read
    /// bounce the part's reference count between the cores.
    fn borrow(&self, start: u64, length: usize) -> parquet::errors::Result<(&Bytes, &[u8])> {
        let at = self.part(start)?;
        let (first, bytes) = &self.parts[at];
        let from = usize::try_from(start - first).unwrap_or(usize::MAX);
        match from.checked_add(length) {
            Some(end) if end <= bytes.len() => Ok((bytes, &bytes[from..end])),
            _ => Err(parquet::errors::ParquetError::General(format!(
                "bytes {start}..+{length} were not fetched"
            ))),
        }
    }

    /// The part holding file offset `start`.
    fn part(&self, start: u64) -> parquet::errors::Result<usize> {
        let at = self.parts.partition_point(|(first, _)| *first <= start);
        match at.checked_sub(1) {
            Some(i) if start < self.parts[i].0 + self.parts[i].1.len() as u64 => Ok(i),
            _ => Err(parquet::errors::ParquetError::General(format!(
                "byte {start} was not fetched"
            ))),
        }
    }
}
