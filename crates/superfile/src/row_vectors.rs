//! Reading single vectors straight out of their Parquet pages.
//!
//! The writer stores an indexed vector column uncompressed, PLAIN and
//! without a dictionary (`writer.rs`). A data page is its header, the
//! repetition and definition levels, then the values; with no null rows
//! the values of a page holding `m` rows are its last `m · 4·D` bytes, row
//! after row. The offset index gives every page's offset, size and first
//! row, so the bytes of any row's vector are known without reading or
//! decoding the page: a rerank from the column reads `4·D` bytes per
//! shortlisted row, where a Parquet row fetch decodes whole pages.
//!
//! A file that does not have this layout (another writer, null vectors, no
//! offset index) gets no [`VectorPages`]; callers then fetch rows through
//! Parquet, which is always correct, only slower.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use infino_vector::RowVectors;
use parquet::basic::{Compression, Encoding, Type};
use parquet::file::metadata::ParquetMetaData;

/// Where each row's vector lies in the file.
#[derive(Debug)]
pub(crate) struct VectorPages {
    dim: usize,
    /// Per page, in file row order: (first file row, rows, byte range of
    /// the page's values).
    pages: Vec<(u64, u64, Range<u64>)>,
}

impl VectorPages {
    /// The layout of `column` (a `FixedSizeList<Float32, dim>`), or `None`
    /// when its pages are not addressable by row (see the module doc).
    pub(crate) fn new(metadata: &ParquetMetaData, column: &str, dim: usize) -> Option<Self> {
        let schema = metadata.file_metadata().schema_descr();
        let mut leaves = (0..schema.num_columns()).filter(|&i| {
            schema.column(i).path().parts().first().map(String::as_str) == Some(column)
        });
        let leaf = leaves.next()?;
        if leaves.next().is_some() || dim == 0 || schema.column(leaf).physical_type() != Type::FLOAT
        {
            return None;
        }
        let offsets = metadata.offset_index()?;
        let vector_bytes = u64::try_from(dim).ok()? * 4;
        let mut pages = Vec::new();
        let mut first_row = 0u64;
        for (g, group) in metadata.row_groups().iter().enumerate() {
            let chunk = group.column(leaf);
            let plain = chunk
                .encodings()
                .all(|e| matches!(e, Encoding::PLAIN | Encoding::RLE));
            let no_nulls = chunk.statistics().and_then(|s| s.null_count_opt()) == Some(0);
            if chunk.compression() != Compression::UNCOMPRESSED
                || chunk.dictionary_page_offset().is_some()
                || !plain
                || !no_nulls
            {
                return None;
            }
            let group_rows = u64::try_from(group.num_rows()).ok()?;
            let locations = offsets.get(g)?.get(leaf)?.page_locations();
            for (p, page) in locations.iter().enumerate() {
                let start = u64::try_from(page.first_row_index).ok()?;
                let end = match locations.get(p + 1) {
                    Some(next) => u64::try_from(next.first_row_index).ok()?,
                    None => group_rows,
                };
                let rows = end.checked_sub(start)?;
                let values = rows.checked_mul(vector_bytes)?;
                let page_end = u64::try_from(page.offset)
                    .ok()?
                    .checked_add(u64::try_from(page.compressed_page_size).ok()?)?;
                let values_start = page_end.checked_sub(values)?;
                if values_start < u64::try_from(page.offset).ok()? {
                    return None;
                }
                pages.push((first_row + start, rows, values_start..page_end));
            }
            first_row += group_rows;
        }
        Some(Self { dim, pages })
    }

    /// Components per vector.
    pub(crate) fn dim(&self) -> usize {
        self.dim
    }

    /// The file byte range of `row`'s vector (`4·D` little-endian f32s), or
    /// `None` for a row past the end.
    pub(crate) fn range(&self, row: u32) -> Option<Range<u64>> {
        let row = u64::from(row);
        let p = self.pages.partition_point(|(first, _, _)| *first <= row);
        let (first, rows, values) = self.pages.get(p.checked_sub(1)?)?;
        if row >= first + rows {
            return None;
        }
        let bytes = u64::try_from(self.dim).ok()? * 4;
        let start = values.start + (row - first) * bytes;
        Some(start..start + bytes)
    }
}

/// Decode `4·D` little-endian bytes into a vector.
pub(crate) fn decode_vector(bytes: &[u8]) -> Arc<[f32]> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Stored vectors of some rows of one file, for an exact rerank.
#[derive(Debug, Default, Clone)]
pub struct ColumnVectors {
    /// Sorted by row, distinct: a few hundred rows, looked up once each,
    /// where a hash map's inserts cost more than the searches.
    rows: Vec<(u32, Arc<[f32]>)>,
}

impl ColumnVectors {
    /// The vectors of `rows` (any order; a repeated row keeps one).
    pub(crate) fn new(mut rows: Vec<(u32, Arc<[f32]>)>) -> Self {
        rows.sort_unstable_by_key(|r| r.0);
        rows.dedup_by_key(|r| r.0);
        Self { rows }
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no row is held.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

impl RowVectors for ColumnVectors {
    fn vector(&self, row: u32) -> Option<&[f32]> {
        let i = self.rows.binary_search_by_key(&row, |r| r.0).ok()?;
        Some(&self.rows[i].1)
    }
}

/// Kept vectors by row, borrowed in place.
pub(crate) struct KeptVectors<'a>(pub(crate) &'a HashMap<u32, Arc<[f32]>>);

impl RowVectors for KeptVectors<'_> {
    fn vector(&self, row: u32) -> Option<&[f32]> {
        self.0.get(&row).map(AsRef::as_ref)
    }
}
