//! Reading a superfile held in memory (or a memory-mapped file).
//!
//! Opening parses the Parquet footer, finds the region directory in its
//! key/value metadata, checks every range against the file, verifies the
//! checksums (unless turned off) and opens each full-text region. Rows are
//! fetched by ordinal through Parquet row selection, so only the pages that
//! hold them are decoded.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchReader};
use arrow::datatypes::SchemaRef;
use bytes::Bytes;
use infino_fts::FtsIndex;
use infino_vector::VectorIndex;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelector,
};
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};

use crate::error::{Result, SuperfileError};
use crate::format::{
    DIRECTORY_KEY, Directory, PARQUET_MAGIC_LEN, PARQUET_TRAILER_LEN, RegionKind, parse_hex,
    verify_footer,
};

/// How to open a superfile.
#[derive(Debug, Clone, Copy)]
pub struct OpenOptions {
    /// Verify the CRC32C of the row groups and every region (default on).
    pub verify_checksums: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            verify_checksums: true,
        }
    }
}

/// An open superfile over bytes in memory.
#[derive(Debug, Clone)]
pub struct Superfile {
    bytes: Bytes,
    metadata: ArrowReaderMetadata,
    directory: Directory,
    fts: BTreeMap<String, Arc<FtsIndex>>,
    vectors: BTreeMap<String, Arc<VectorIndex>>,
}

impl Superfile {
    /// Open `bytes` as a superfile.
    ///
    /// # Errors
    /// [`SuperfileError::Corrupt`] or [`SuperfileError::Parquet`] when the
    /// bytes are not a readable superfile, [`SuperfileError::Checksum`] when
    /// verification finds changed bytes, [`SuperfileError::UnsupportedVersion`]
    /// for a newer format.
    pub fn open(bytes: Bytes, options: OpenOptions) -> Result<Self> {
        let metadata = ParquetMetaDataReader::new()
            .with_page_index_policy(PageIndexPolicy::Optional)
            .parse_and_finish(&bytes)?;
        let footer_start = footer_start(&bytes)?;
        if bytes.get(..4) != Some(b"PAR1".as_slice()) {
            return Err(SuperfileError::corrupt(
                "parquet header",
                "missing PAR1 magic at the start",
            ));
        }
        let directory = read_directory(&metadata, footer_start)?;
        if options.verify_checksums {
            let footer_end = bytes.len() - 8; // trailer: footer length and magic
            let footer_start = usize::try_from(footer_start).unwrap_or(footer_end);
            verify_footer(&directory, &bytes[footer_start..footer_end])?;
            let regions_end = usize::try_from(directory.regions_end()).unwrap_or(footer_start);
            let expected = parse_hex("page_index_crc32c", &directory.page_index_crc32c)?;
            verify("page index", &bytes[regions_end..footer_start], expected)?;
            let data_end = usize::try_from(directory.data_end)
                .map_err(|_| SuperfileError::corrupt("directory", "too large"))?;
            verify(
                "row groups",
                &bytes[4..data_end], /* after the leading magic */
                directory.data_crc32c,
            )?;
        }
        let mut fts = BTreeMap::new();
        let mut vectors = BTreeMap::new();
        for region in &directory.regions {
            let start = usize::try_from(region.offset)
                .map_err(|_| SuperfileError::corrupt("directory", "offset"))?;
            let len = usize::try_from(region.length)
                .map_err(|_| SuperfileError::corrupt("directory", "length"))?;
            let slice = bytes.slice(start..start + len);
            if options.verify_checksums {
                verify(
                    &format!("full-text region of `{}`", region.column),
                    &slice,
                    region.crc32c,
                )?;
            }
            match region.kind {
                RegionKind::Fts => {
                    fts.insert(region.column.clone(), Arc::new(FtsIndex::open(slice)?));
                }
                RegionKind::Vector => {
                    vectors.insert(region.column.clone(), Arc::new(VectorIndex::open(slice)?));
                }
            }
        }
        let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
        let metadata = ArrowReaderMetadata::try_new(Arc::new(metadata), options)?;
        if metadata.metadata().file_metadata().num_rows()
            != i64::try_from(directory.rows).unwrap_or(i64::MAX)
        {
            return Err(SuperfileError::corrupt(
                "directory",
                "row count differs from the Parquet footer",
            ));
        }
        Ok(Self {
            bytes,
            metadata,
            directory,
            fts,
            vectors,
        })
    }

    /// Rows in the file.
    pub fn rows(&self) -> u64 {
        self.directory.rows
    }

    /// The region directory.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// The file's Arrow schema (`_id` first).
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(self.metadata.schema())
    }

    /// The Parquet metadata.
    pub fn parquet_metadata(&self) -> &Arc<ParquetMetaData> {
        self.metadata.metadata()
    }

    /// The whole file.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The full-text index of `column`.
    ///
    /// # Errors
    /// [`SuperfileError::NoSuchColumn`] when the column has none.
    pub fn fts(&self, column: &str) -> Result<&Arc<FtsIndex>> {
        self.fts
            .get(column)
            .ok_or_else(|| SuperfileError::NoSuchColumn {
                column: column.to_owned(),
                what: "full-text index",
            })
    }

    /// The vector index of `column`.
    ///
    /// # Errors
    /// [`SuperfileError::NoSuchColumn`] when the column has none.
    pub fn vector(&self, column: &str) -> Result<&Arc<VectorIndex>> {
        self.vectors
            .get(column)
            .ok_or_else(|| SuperfileError::NoSuchColumn {
                column: column.to_owned(),
                what: "vector index",
            })
    }

    /// The rows with ordinals `rows` (any order, duplicates ignored), with
    /// `columns` (all when `None`), in ascending row order. Only the pages
    /// holding those rows are decoded.
    ///
    /// # Errors
    /// [`SuperfileError::RowOutOfRange`], [`SuperfileError::NoSuchColumn`], or a Parquet error.
    pub fn fetch_rows(&self, rows: &[u32], columns: Option<&[&str]>) -> Result<RecordBatch> {
        let (selection, mask) = plan_fetch(&self.metadata, self.directory.rows, rows, columns)?;
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(
            self.bytes.clone(),
            self.metadata.clone(),
        )
        .with_projection(mask)
        .with_row_selection(selection)
        .with_batch_size(rows.len().max(1))
        .build()?;
        let schema = reader.schema();
        let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(arrow::compute::concat_batches(&schema, &batches)?)
    }
}

/// The selection of `sorted` (ascending, distinct) rows out of `total_rows`.
pub(crate) fn select_sorted(sorted: &[u32], total_rows: u64) -> RowSelection {
    let mut selectors = Vec::new();
    let mut cursor: u64 = 0;
    let mut i = 0;
    while i < sorted.len() {
        let start = u64::from(sorted[i]);
        let mut end = start + 1;
        while i + 1 < sorted.len() && u64::from(sorted[i + 1]) == end {
            end += 1;
            i += 1;
        }
        if start > cursor {
            selectors.push(RowSelector::skip(to_usize(start - cursor)));
        }
        selectors.push(RowSelector::select(to_usize(end - start)));
        cursor = end;
        i += 1;
    }
    if cursor < total_rows {
        selectors.push(RowSelector::skip(to_usize(total_rows - cursor)));
    }
    RowSelection::from(selectors)
}

/// Row selection and projection for fetching `rows` of `columns`.
pub(crate) fn plan_fetch(
    metadata: &ArrowReaderMetadata,
    total_rows: u64,
    rows: &[u32],
    columns: Option<&[&str]>,
) -> Result<(RowSelection, ProjectionMask)> {
    let mut sorted = rows.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    if let Some(&last) = sorted.last()
        && u64::from(last) >= total_rows
    {
        return Err(SuperfileError::RowOutOfRange {
            row: last,
            rows: total_rows,
        });
    }
    let selection = select_sorted(&sorted, total_rows);
    let schema = metadata.schema();
    let mask = match columns {
        None => ProjectionMask::all(),
        Some(names) => {
            let mut indices = Vec::with_capacity(names.len());
            for name in names {
                let (index, _) =
                    schema
                        .column_with_name(name)
                        .ok_or_else(|| SuperfileError::NoSuchColumn {
                            column: (*name).to_owned(),
                            what: "column",
                        })?;
                indices.push(index);
            }
            ProjectionMask::roots(metadata.parquet_schema(), indices)
        }
    };
    Ok((selection, mask))
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Offset where the Parquet footer (FileMetaData) begins.
fn footer_start(bytes: &[u8]) -> Result<u64> {
    let len = bytes.len() as u64;
    if len < PARQUET_MAGIC_LEN + PARQUET_TRAILER_LEN {
        return Err(SuperfileError::corrupt("parquet trailer", "file too short"));
    }
    let trailer = &bytes[bytes.len() - 8..];
    let footer_len = u64::from(u32::from_le_bytes([
        trailer[0], trailer[1], trailer[2], trailer[3],
    ]));
    len.checked_sub(PARQUET_TRAILER_LEN + footer_len)
        .ok_or_else(|| SuperfileError::corrupt("parquet trailer", "footer longer than the file"))
}

/// The directory from the footer metadata, validated against the file layout.
pub(crate) fn read_directory(metadata: &ParquetMetaData, footer_start: u64) -> Result<Directory> {
    let json = metadata
        .file_metadata()
        .key_value_metadata()
        .and_then(|kvs| kvs.iter().find(|kv| kv.key == DIRECTORY_KEY))
        .and_then(|kv| kv.value.as_deref())
        .ok_or_else(|| {
            SuperfileError::corrupt(
                "footer",
                "no infino directory: a plain Parquet file, not a superfile",
            )
        })?;
    let directory = Directory::parse(json)?;
    directory.validate(footer_start)?;
    Ok(directory)
}

pub(crate) fn verify(what: &str, bytes: &[u8], expected: u32) -> Result<()> {
    let actual = crc32c::crc32c(bytes);
    if actual == expected {
        Ok(())
    } else {
        Err(SuperfileError::Checksum {
            what: what.to_owned(),
            expected,
            actual,
        })
    }
}
