//! Writing a superfile: Parquet row groups, then index regions, then the footer.
//!
//! The `parquet` crate's Arrow writer produces the row groups. Once they are
//! flushed, the regions are appended through the same writer (so its byte
//! count and the page-index offsets it writes at close stay exact), and the
//! region directory goes into the footer's key/value metadata. Readers that
//! know nothing of infino see an ordinary Parquet file.
//!
//! Memory: one row group of Arrow data buffered by the Parquet writer (the
//! first one held by this writer until its rows decide which columns keep
//! large dictionaries, `dictionary.rs`), the
//! full-text builders (roughly proportional to the tokens indexed, see
//! `FtsIndexBuilder`), and the output file itself, which is built in memory
//! because it is uploaded as one object.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use bytes::Bytes;
use infino_fts::{FtsConfig, FtsIndexBuilder};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;

use crate::dictionary::{self, DICTIONARY_PAGE_LIMIT, REPEATING_DICTIONARY_LIMIT};
use crate::error::{Result, SuperfileError};
use crate::format::{
    DIRECTORY_KEY, Directory, FOOTER_CRC_PLACEHOLDER, FORMAT_MAJOR, FORMAT_MINOR, ID_COLUMN,
    PARQUET_MAGIC_LEN, RegionEntry, RegionKind,
};
use crate::format::{FOOTER_CRC_FIELD, PAGE_INDEX_CRC_FIELD, find_hex_field, footer_crc};
use crate::spec::IndexSpec;
use crate::vector_column::VectorColumnBuilder;

/// Knobs of the Parquet part and of index building.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// `_id` of the first row.
    pub first_id: u64,
    /// Rows per row group.
    pub row_group_rows: usize,
    /// Rows per data page at most (finer pages make row fetches cheaper).
    pub page_rows: usize,
    /// Column compression.
    pub compression: Compression,
    /// Accumulated postings bytes each full-text column holds before it
    /// spills them to a temporary file
    /// ([`FtsIndexBuilder::with_memory_budget`]); `None` keeps them all in
    /// memory. The file is the same either way.
    pub fts_memory_budget: Option<usize>,
}

/// The default [`WriterOptions::fts_memory_budget`]: 1 GiB per column,
/// more than a table's files (at most 256k rows) usually accumulate, so
/// only an unusually large file spills.
pub const DEFAULT_FTS_MEMORY_BUDGET: usize = 1 << 30;

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            first_id: 0,
            row_group_rows: 64 * 1024,
            page_rows: 4 * 1024,
            compression: Compression::SNAPPY,
            fts_memory_budget: Some(DEFAULT_FTS_MEMORY_BUDGET),
        }
    }
}

/// A full-text column's builder, spilling past `budget` if one is given.
fn fts_builder(config: FtsConfig, budget: Option<usize>) -> Result<FtsIndexBuilder> {
    let builder = FtsIndexBuilder::new(config)?;
    Ok(match budget {
        Some(budget) => builder.with_memory_budget(budget),
        None => builder,
    })
}

/// Streams record batches into one superfile.
pub struct SuperfileWriter {
    /// Made once a row group's worth of rows (or the last row) has come:
    /// those rows decide the dictionary limits.
    writer: Option<ArrowWriter<Vec<u8>>>,
    /// Batches (with `_id`) held until the writer is made.
    pending: Vec<RecordBatch>,
    /// Rows to hold before making the writer.
    decide_after: u64,
    /// The Parquet settings before any row is seen.
    properties: WriterPropertiesBuilder,
    /// (file column index, name) of the columns that may use a dictionary.
    dictionary_columns: Vec<(usize, String)>,
    input_schema: SchemaRef,
    file_schema: SchemaRef,
    /// (input column index, column name, builder)
    fts: Vec<(usize, String, FtsIndexBuilder)>,
    vectors: Vec<VectorColumnBuilder>,
    rows: u64,
    first_id: u64,
}

impl std::fmt::Debug for SuperfileWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SuperfileWriter")
            .field("rows", &self.rows)
            .field("schema", &self.file_schema)
            .finish()
    }
}

impl SuperfileWriter {
    /// A writer for batches of `schema`, indexing as `spec` says.
    ///
    /// # Errors
    /// [`SuperfileError::Schema`] when `schema` already has an `_id` column or
    /// a spec column is missing or not a string column.
    pub fn new(schema: SchemaRef, spec: &IndexSpec, options: &WriterOptions) -> Result<Self> {
        if schema.field_with_name(ID_COLUMN).is_ok() {
            return Err(SuperfileError::Schema {
                column: ID_COLUMN.into(),
                reason: "the name is reserved for row ids".into(),
            });
        }
        let mut fts = Vec::with_capacity(spec.fts.len());
        for col in &spec.fts {
            let (index, field) =
                schema
                    .column_with_name(&col.column)
                    .ok_or_else(|| SuperfileError::Schema {
                        column: col.column.clone(),
                        reason: "named in the index spec but not in the schema".into(),
                    })?;
            if !matches!(
                field.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) {
                return Err(SuperfileError::Schema {
                    column: col.column.clone(),
                    reason: format!(
                        "full-text indexing needs a string column, found {}",
                        field.data_type()
                    ),
                });
            }
            if fts.iter().any(|(i, _, _)| *i == index) {
                return Err(SuperfileError::Schema {
                    column: col.column.clone(),
                    reason: "indexed twice".into(),
                });
            }
            fts.push((
                index,
                col.column.clone(),
                fts_builder(col.config.clone(), options.fts_memory_budget)?,
            ));
        }
        let mut vectors: Vec<VectorColumnBuilder> = Vec::with_capacity(spec.vector.len());
        for col in &spec.vector {
            let builder = VectorColumnBuilder::new(&schema, col)?;
            if vectors.iter().any(|v| v.index == builder.index) {
                return Err(SuperfileError::Schema {
                    column: col.column.clone(),
                    reason: "indexed twice".into(),
                });
            }
            vectors.push(builder);
        }
        let mut fields: Vec<Field> = vec![Field::new(ID_COLUMN, DataType::UInt64, false)];
        fields.extend(schema.fields().iter().map(|f| f.as_ref().clone()));
        let file_schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
        // Dictionary pages only where values may repeat: a vector column's
        // dictionary would hold every value, and a row fetch would have to
        // read it whole before its one page. Other columns start with a
        // dictionary whose limit the first batch decides (`dictionary.rs`);
        // a full-text column (mostly long, unique text) gets one only when
        // the first batch shows its values repeat (tags, codes, names —
        // the columns an equality filter is put on).
        let mut properties = WriterProperties::builder().set_dictionary_enabled(false);
        let mut dictionary_columns = Vec::new();
        for (i, field) in schema.fields().iter().enumerate() {
            if field.data_type().is_nested()
                || spec.vector.iter().any(|c| c.column == *field.name())
            {
                continue;
            }
            let text = spec.fts.iter().any(|c| c.column == *field.name());
            if !text {
                properties = properties
                    .set_column_dictionary_enabled(ColumnPath::from(field.name().as_str()), true);
            }
            // File columns: `_id` first.
            dictionary_columns.push((i + 1, field.name().clone()));
        }
        // Integers as deltas where they are not dictionary-encoded: `_id`
        // always, other integer columns once their dictionary is given up
        // (row numbers, keys, timestamps). Ascending values take a few bits
        // per row instead of eight bytes, random ones about their width.
        properties = properties
            .set_column_encoding(ColumnPath::from(ID_COLUMN), Encoding::DELTA_BINARY_PACKED)
            .set_column_compression(ColumnPath::from(ID_COLUMN), Compression::UNCOMPRESSED);
        for field in schema.fields() {
            if delta_packs(field.data_type()) {
                properties = properties.set_column_encoding(
                    ColumnPath::from(field.name().as_str()),
                    Encoding::DELTA_BINARY_PACKED,
                );
            }
        }
        for field in schema.fields() {
            if let (true, DataType::FixedSizeList(item, _)) = (
                spec.vector.iter().any(|c| c.column == *field.name()),
                field.data_type(),
            ) {
                properties = row_addressable(properties, field.name(), item.name());
            }
        }
        let properties = properties
            .set_compression(options.compression)
            .set_dictionary_page_size_limit(DICTIONARY_PAGE_LIMIT)
            .set_max_row_group_row_count(Some(options.row_group_rows.max(1)))
            .set_data_page_row_count_limit(options.page_rows.max(1))
            // The page row limit is checked once per write batch: batches no
            // larger than a page keep pages at the size asked for.
            .set_write_batch_size(options.page_rows.clamp(1, 1024));
        Ok(Self {
            writer: None,
            pending: Vec::new(),
            decide_after: options.row_group_rows.max(1) as u64,
            properties,
            dictionary_columns,
            input_schema: schema,
            file_schema,
            fts,
            vectors,
            rows: 0,
            first_id: options.first_id,
        })
    }

    /// The file's schema: `_id: UInt64` first, then the input columns.
    pub fn file_schema(&self) -> SchemaRef {
        Arc::clone(&self.file_schema)
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Append a batch.
    ///
    /// # Errors
    /// [`SuperfileError::Schema`] naming the first column whose name, type or
    /// nullability differs from the schema, or that has nulls where the
    /// schema forbids them; [`SuperfileError::TooManyRows`] past `u32::MAX` rows.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let n = batch.num_rows() as u64;
        let ids = UInt64Array::from_iter_values((0..n).map(|i| self.first_id + self.rows + i));
        self.write_with_ids(batch, ids)
    }

    /// Append a batch whose rows keep the given `_id`s (compaction merges
    /// rows of several files and must not renumber them). `ids` must have
    /// one value per row; callers keep them increasing across the file.
    ///
    /// # Errors
    /// As [`SuperfileWriter::write`], plus [`SuperfileError::Schema`] for a
    /// wrong number of ids.
    pub fn write_with_ids(&mut self, batch: &RecordBatch, ids: UInt64Array) -> Result<()> {
        self.check_batch(batch)?;
        let n = batch.num_rows() as u64;
        if ids.len() != batch.num_rows() || ids.null_count() != 0 {
            return Err(SuperfileError::Schema {
                column: "_id".into(),
                reason: format!("{} ids for {n} rows", ids.len()),
            });
        }
        if self.rows + n > u64::from(u32::MAX) {
            return Err(SuperfileError::TooManyRows {
                max: u64::from(u32::MAX),
            });
        }
        let mut columns: Vec<ArrayRef> = vec![Arc::new(ids)];
        columns.extend(batch.columns().iter().cloned());
        let with_ids = RecordBatch::try_new(Arc::clone(&self.file_schema), columns)?;
        match &mut self.writer {
            Some(writer) => writer.write(&with_ids)?,
            None => {
                self.pending.push(with_ids);
                if self.rows + n >= self.decide_after {
                    self.writer = Some(self.start_parquet()?);
                }
            }
        }
        for (index, _, builder) in &mut self.fts {
            index_text(builder, batch.column(*index), self.rows)?;
        }
        let base = u32::try_from(self.rows).map_err(|_| SuperfileError::TooManyRows {
            max: u64::from(u32::MAX),
        })?;
        for v in &mut self.vectors {
            v.add(batch.column(v.index), base)?;
        }
        self.rows += n;
        Ok(())
    }

    /// Check that `batch` fits the schema, as [`SuperfileWriter::write`] does,
    /// without writing it.
    ///
    /// # Errors
    /// As [`SuperfileWriter::write`].
    pub fn check_batch(&self, batch: &RecordBatch) -> Result<()> {
        let expected = self.input_schema.fields();
        let got = batch.schema();
        for field in expected {
            let Ok(actual) = got.field_with_name(field.name()) else {
                return Err(SuperfileError::Schema {
                    column: field.name().clone(),
                    reason: "missing from the batch".into(),
                });
            };
            if actual.data_type() != field.data_type() {
                return Err(SuperfileError::Schema {
                    column: field.name().clone(),
                    reason: format!(
                        "expected type {}, found {}",
                        field.data_type(),
                        actual.data_type()
                    ),
                });
            }
        }
        if let Some(extra) = got
            .fields()
            .iter()
            .find(|f| expected.find(f.name()).is_none())
        {
            return Err(SuperfileError::Schema {
                column: extra.name().clone(),
                reason: "not in the table schema".into(),
            });
        }
        if got.fields().len() != expected.len()
            || got
                .fields()
                .iter()
                .zip(expected)
                .any(|(a, b)| a.name() != b.name())
        {
            return Err(SuperfileError::Schema {
                column: String::new(),
                reason: "columns are in a different order than the schema".into(),
            });
        }
        for (field, column) in expected.iter().zip(batch.columns()) {
            if !field.is_nullable() && column.null_count() > 0 {
                return Err(SuperfileError::Schema {
                    column: field.name().clone(),
                    reason: format!("{} nulls in a non-null column", column.null_count()),
                });
            }
        }
        Ok(())
    }

    /// Flush the row groups, append the regions and the footer; return the file.
    ///
    /// # Errors
    /// A Parquet or full-text build error.
    pub fn finish(mut self) -> Result<Bytes> {
        let mut writer = match self.writer.take() {
            Some(writer) => writer,
            None => self.start_parquet()?,
        };
        writer.flush()?;
        writer
            .sync()
            .map_err(|e| SuperfileError::Parquet(e.into()))?;
        let data_end = writer.bytes_written() as u64;
        let data = writer
            .inner()
            .get(usize::try_from(PARQUET_MAGIC_LEN).unwrap_or(4)..)
            .unwrap_or_default();
        let data_crc32c = crc32c::crc32c(data);
        let mut built: Vec<(RegionKind, String, Vec<u8>)> = Vec::new();
        for (_, column, builder) in self.fts.drain(..) {
            built.push((RegionKind::Fts, column, builder.finish()?));
        }
        for v in self.vectors.drain(..) {
            let column = v.column.clone();
            built.push((RegionKind::Vector, column, v.finish()?));
        }
        let mut regions = Vec::with_capacity(built.len());
        for (kind, column, bytes) in built {
            let offset = writer.bytes_written() as u64;
            writer
                .write_all(&bytes)
                .map_err(|e| SuperfileError::Parquet(e.into()))?;
            regions.push(RegionEntry {
                kind,
                column,
                offset,
                length: bytes.len() as u64,
                crc32c: crc32c::crc32c(&bytes),
            });
        }
        let directory = Directory {
            format_major: FORMAT_MAJOR,
            format_minor: FORMAT_MINOR,
            rows: self.rows,
            first_id: self.first_id,
            data_end,
            data_crc32c,
            regions,
            footer_crc32c: FOOTER_CRC_PLACEHOLDER.to_owned(),
            page_index_crc32c: FOOTER_CRC_PLACEHOLDER.to_owned(),
        };
        let json = serde_json::to_string(&directory)
            .map_err(|e| SuperfileError::corrupt("directory", e.to_string()))?;
        writer.append_key_value_metadata(KeyValue::new(DIRECTORY_KEY.to_owned(), json));
        let mut file = writer.into_inner()?;
        seal_footer(&mut file, directory.regions_end())?;
        Ok(Bytes::from(file))
    }

    /// The Parquet writer, with larger dictionaries allowed for the columns
    /// whose values repeat in the held batches, which it is given (and
    /// which are released).
    ///
    /// Such a column's pages are bit-packed dictionary indices, which Snappy
    /// barely shrinks (0–17 % on the SQL cell's columns) but which every
    /// read had to decompress whole, even to pick a few rows: they are
    /// stored uncompressed, so a scan decodes them in place and a row
    /// selection skips what it does not need. Measured on the SQL cell (1M
    /// rows): the table 7 % larger, an indexed 0.1 % equality 2.9 → 1.8 ms,
    /// a full scan 6.3 → 4.9 ms.
    fn start_parquet(&mut self) -> Result<ArrowWriter<Vec<u8>>> {
        let mut properties = self.properties.clone();
        for (i, name) in &self.dictionary_columns {
            let parts: Vec<ArrayRef> = self
                .pending
                .iter()
                .map(|b| Arc::clone(b.column(*i)))
                .collect();
            let path = ColumnPath::from(name.as_str());
            if dictionary::repeats(&parts)? {
                properties = properties
                    .set_column_dictionary_enabled(path.clone(), true)
                    .set_column_compression(path.clone(), Compression::UNCOMPRESSED)
                    .set_column_dictionary_page_size_limit(path, REPEATING_DICTIONARY_LIMIT);
            } else if parts.first().is_some_and(|p| delta_packs(p.data_type())) {
                // Unique-ish integers (keys, row numbers, timestamps) are
                // delta pages from the start: a dictionary given up after
                // its first pages would still be read, and decompressed,
                // by every row fetch of the row group. Deltas are already
                // bit-packed (Snappy saves next to nothing), and
                // uncompressed pages let a row fetch sum its way to a row
                // without inflating the page first.
                properties = properties
                    .set_column_dictionary_enabled(path.clone(), false)
                    .set_column_compression(path, Compression::UNCOMPRESSED);
            }
        }
        let mut writer = ArrowWriter::try_new(
            Vec::new(),
            Arc::clone(&self.file_schema),
            Some(properties.build()),
        )?;
        for batch in self.pending.drain(..) {
            writer.write(&batch)?;
        }
        Ok(writer)
    }
}

/// Feed one batch's text column to the builder; rows are numbered from `base`.
fn index_text(builder: &mut FtsIndexBuilder, column: &ArrayRef, base: u64) -> Result<()> {
    let base = u32::try_from(base).map_err(|_| SuperfileError::TooManyRows {
        max: u64::from(u32::MAX),
    })?;
    let mut add = |i: usize, text: Option<&str>| -> Result<()> {
        let row = base
            + u32::try_from(i).map_err(|_| SuperfileError::TooManyRows {
                max: u64::from(u32::MAX),
            })?;
        builder.add_document(row, text)?;
        Ok(())
    };
    match column.data_type() {
        DataType::Utf8 => column
            .as_string::<i32>()
            .iter()
            .enumerate()
            .try_for_each(|(i, t)| add(i, t)),
        DataType::LargeUtf8 => column
            .as_string::<i64>()
            .iter()
            .enumerate()
            .try_for_each(|(i, t)| add(i, t)),
        DataType::Utf8View => column
            .as_string_view()
            .iter()
            .enumerate()
            .try_for_each(|(i, t)| add(i, t)),
        other => Err(SuperfileError::Schema {
            column: String::new(),
            reason: format!("cannot index {other} as text"),
        }),
    }
}

/// Whether a top-level column of type `t` is stored as 32- or 64-bit
/// integers, which `DELTA_BINARY_PACKED` encodes.
fn delta_packs(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Date32
            | DataType::Date64
            | DataType::Time32(_)
            | DataType::Time64(_)
            | DataType::Timestamp(_, _)
            | DataType::Duration(_)
    )
}

/// An indexed vector column is written uncompressed, PLAIN, without a
/// dictionary: a page's values are then its last bytes, `4·D` per row (the
/// column has no nulls, which the chunk statistics say), so the offset
/// index locates any row's vector and a rerank from the column reads just
/// those bytes (`row_vectors.rs`). Embeddings do not compress anyway.
fn row_addressable(
    properties: WriterPropertiesBuilder,
    column: &str,
    item: &str,
) -> WriterPropertiesBuilder {
    let leaf = ColumnPath::new(vec![column.to_owned(), "list".to_owned(), item.to_owned()]);
    properties
        .set_column_compression(leaf.clone(), Compression::UNCOMPRESSED)
        .set_column_encoding(leaf.clone(), Encoding::PLAIN)
        .set_column_dictionary_enabled(leaf, false)
}

/// Fill in the page-index and footer checksums, in place, in the finished file.
fn seal_footer(file: &mut [u8], regions_end: u64) -> Result<()> {
    let len = file.len();
    let footer_len = file
        .get(len.saturating_sub(8)..len.saturating_sub(4))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(|b| u32::from_le_bytes(b) as usize)
        .ok_or_else(|| SuperfileError::corrupt("footer", "file too short"))?;
    let footer = len
        .checked_sub(8 + footer_len)
        .map(|start| start..len - 8)
        .ok_or_else(|| SuperfileError::corrupt("footer", "footer longer than file"))?;
    let placeholder = |file: &[u8], field| {
        find_hex_field(&file[footer.clone()], field, FOOTER_CRC_PLACEHOLDER)
            .map(|d| footer.start + d)
            .ok_or_else(|| SuperfileError::corrupt("footer", "checksum placeholder not found"))
    };
    let page_index = usize::try_from(regions_end).unwrap_or(footer.start)..footer.start;
    let crc = crc32c::crc32c(file.get(page_index).unwrap_or_default());
    let at = placeholder(file, PAGE_INDEX_CRC_FIELD)?;
    file[at..at + 8].copy_from_slice(format!("{crc:08x}").as_bytes());
    let at = placeholder(file, FOOTER_CRC_FIELD)?;
    let crc = footer_crc(&file[footer.clone()], at - footer.start);
    file[at..at + 8].copy_from_slice(format!("{crc:08x}").as_bytes());
    Ok(())
}
