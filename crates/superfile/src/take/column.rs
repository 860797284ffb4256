//! One column chunk's wanted rows, read page by page.
//!
//! The offset index says which rows each page holds and where it lies;
//! Parquet's page reader parses the headers (and decompresses) only the
//! pages that hold wanted rows, and skips the rest without reading them.
//! Inside a page, a flat nullable column's definition levels give each
//! wanted row's position among the page's values, and the value is read
//! there (`Source`).

use std::ops::Range;
use std::sync::Arc;

use arrow::array::NullBufferBuilder;
use arrow::array::{
    Array, ArrayRef, BinaryViewBuilder, Float32Array, Float64Array, Int32Array, Int64Array,
};
use arrow::buffer::{Buffer, ScalarBuffer};
use arrow::datatypes::DataType;
use bytes::Bytes;
use parquet::basic::{Encoding, Type as PhysicalType};
use parquet::column::page::{Page, PageReader};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::serialized_reader::SerializedPageReader;

use super::Fetched;
use super::delta::Delta;
use super::hybrid::Hybrid;
use crate::error::{Result, SuperfileError};

fn corrupt(reason: impl Into<String>) -> SuperfileError {
    SuperfileError::corrupt("column page", reason)
}

/// Pages of one column chunk: (byte range, rows relative to the group).
fn pages(
    metadata: &ParquetMetaData,
    group: usize,
    leaf: usize,
) -> Result<Vec<(Range<u64>, Range<u64>)>> {
    let rows = u64::try_from(metadata.row_group(group).num_rows()).unwrap_or(0);
    let locations = metadata
        .offset_index()
        .and_then(|o| o.get(group)?.get(leaf))
        .ok_or_else(|| corrupt("no offset index"))?
        .page_locations();
    let mut out = Vec::with_capacity(locations.len());
    for (p, page) in locations.iter().enumerate() {
        let first = u64::try_from(page.first_row_index).map_err(|_| corrupt("negative row"))?;
        let end = match locations.get(p + 1) {
            Some(next) => {
                u64::try_from(next.first_row_index).map_err(|_| corrupt("negative row"))?
            }
            None => rows,
        };
        let start = u64::try_from(page.offset).map_err(|_| corrupt("negative offset"))?;
        let size =
            u64::try_from(page.compressed_page_size).map_err(|_| corrupt("negative size"))?;
        if end < first {
            return Err(corrupt("pages out of row order"));
        }
        out.push((start..start + size, first..end));
    }
    Ok(out)
}

/// The byte range of the chunk's dictionary page, if it has one.
fn dictionary_range(
    metadata: &ParquetMetaData,
    group: usize,
    leaf: usize,
    first_page: u64,
) -> Option<Range<u64>> {
    let (start, _) = metadata.row_group(group).column(leaf).byte_range();
    (start < first_page).then_some(start..first_page)
}

/// Appends to `out` the byte ranges a take of `rows` (sorted, relative to
/// the group) reads from the chunk of `leaf` in `group`. A chunk without an
/// offset index adds nothing (planning refuses such files).
pub(crate) fn chunk_ranges(
    metadata: &ParquetMetaData,
    group: usize,
    leaf: usize,
    rows: &[u64],
    out: &mut Vec<Range<u64>>,
) {
    let Ok(pages) = pages(metadata, group, leaf) else {
        return;
    };
    if let Some(dictionary) = pages
        .first()
        .and_then(|(bytes, _)| dictionary_range(metadata, group, leaf, bytes.start))
    {
        out.push(dictionary);
    }
    let mut at = 0;
    for (bytes, page_rows) in pages {
        let n = rows[at..].partition_point(|&r| r < page_rows.end);
        if n > 0 {
            out.push(bytes);
        }
        at += n;
    }
}

/// Reads `rows` (sorted, relative to the group) of the chunk of `leaf` in
/// `group` from `fetched` into `out`.
pub(crate) fn read_chunk(
    metadata: &ParquetMetaData,
    group: usize,
    leaf: usize,
    nullable: bool,
    rows: &[u64],
    fetched: &Arc<Fetched>,
    out: &mut ColumnOut,
) -> Result<()> {
    let chunk = metadata.row_group(group).column(leaf);
    let pages = pages(metadata, group, leaf)?;
    let locations = metadata
        .offset_index()
        .and_then(|o| o.get(group)?.get(leaf))
        .map(|o| o.page_locations().clone());
    let group_rows = usize::try_from(metadata.row_group(group).num_rows()).unwrap_or(0);
    let mut reader = SerializedPageReader::new(Arc::clone(fetched), chunk, group_rows, locations)?;
    let first_page = pages.first().map(|(bytes, _)| bytes.start);
    let has_dictionary = first_page
        .and_then(|first| dictionary_range(metadata, group, leaf, first))
        .is_some();
    if has_dictionary {
        // Decoded only if a page read uses it: a column that gave its
        // dictionary up after a few pages does not decompress it for rows
        // in its later pages.
        reader.skip_next_page()?;
    }
    let mut dictionary: Option<Dictionary> = None;
    let mut at = 0;
    for (_, page_rows) in pages {
        let n = rows[at..].partition_point(|&r| r < page_rows.end);
        if n == 0 {
            reader.skip_next_page()?;
            continue;
        }
        let page = reader
            .get_next_page()?
            .ok_or_else(|| corrupt("fewer pages than the offset index lists"))?;
        if dictionary.is_none() && uses_dictionary(&page) && has_dictionary {
            dictionary = Some(read_dictionary(metadata, group, leaf, fetched, out)?);
        }
        let wanted = rows[at..at + n].iter().map(|&r| r - page_rows.start);
        read_page(page, wanted, nullable, dictionary.as_ref(), out)?;
        at += n;
    }
    if at != rows.len() {
        return Err(corrupt("rows past the chunk's pages"));
    }
    Ok(())
}

fn uses_dictionary(page: &Page) -> bool {
    match page {
        Page::DataPage { encoding, .. } | Page::DataPageV2 { encoding, .. } => {
            matches!(
                encoding,
                Encoding::RLE_DICTIONARY | Encoding::PLAIN_DICTIONARY
            )
        }
        Page::DictionaryPage { .. } => false,
    }
}

/// The dictionary page of the chunk of `leaf` in `group`, decoded.
fn read_dictionary(
    metadata: &ParquetMetaData,
    group: usize,
    leaf: usize,
    fetched: &Arc<Fetched>,
    out: &mut ColumnOut,
) -> Result<Dictionary> {
    let chunk = metadata.row_group(group).column(leaf);
    // A page reader given only the first data page's location reads the
    // dictionary page before it.
    let first = metadata
        .offset_index()
        .and_then(|o| o.get(group)?.get(leaf)?.page_locations().first().cloned())
        .ok_or_else(|| corrupt("no offset index"))?;
    let rows = usize::try_from(metadata.row_group(group).num_rows()).unwrap_or(0);
    let mut reader =
        SerializedPageReader::new(Arc::clone(fetched), chunk, rows, Some(vec![first]))?;
    match reader.get_next_page()? {
        Some(Page::DictionaryPage {
            buf, num_values, ..
        }) => Dictionary::new(buf, num_values, chunk.column_type(), out),
        _ => Err(corrupt("dictionary page expected")),
    }
}

/// Reads the `wanted` positions (ascending) of one data page into `out`.
fn read_page(
    page: Page,
    wanted: impl Iterator<Item = u64>,
    nullable: bool,
    dictionary: Option<&Dictionary>,
    out: &mut ColumnOut,
) -> Result<()> {
    let (levels, values, encoding) = match page {
        Page::DataPage { buf, encoding, .. } => {
            if nullable {
                let len = buf
                    .get(..4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
                    .ok_or_else(|| corrupt("levels past the end"))?;
                if buf.len() < 4 + len {
                    return Err(corrupt("levels past the end"));
                }
                (Some(buf.slice(4..4 + len)), buf.slice(4 + len..), encoding)
            } else {
                (None, buf, encoding)
            }
        }
        Page::DataPageV2 {
            buf,
            encoding,
            def_levels_byte_len,
            rep_levels_byte_len,
            ..
        } => {
            let rep = rep_levels_byte_len as usize;
            let def = def_levels_byte_len as usize;
            if buf.len() < rep + def {
                return Err(corrupt("levels past the end"));
            }
            let levels = nullable.then(|| buf.slice(rep..rep + def));
            (levels, buf.slice(rep + def..), encoding)
        }
        Page::DictionaryPage { .. } => return Err(corrupt("a second dictionary page")),
    };
    let mut levels = levels.as_deref().map(|l| Hybrid::new(l, 1)).transpose()?;
    let mut source = Source::new(encoding, &values, out, dictionary)?;
    let (mut present, mut counted) = (0usize, 0usize);
    for position in wanted {
        let position = usize::try_from(position).map_err(|_| corrupt("row past the page"))?;
        let value = match levels.as_mut() {
            Some(levels) => {
                present += levels.count_equal(counted, position, 1)?;
                counted = position;
                if levels.get(position)? != 1 {
                    out.push_null();
                    continue;
                }
                present
            }
            None => position,
        };
        source.push(value, out)?;
    }
    Ok(())
}

/// A chunk's dictionary: PLAIN values, fixed-width or length-prefixed.
enum Dictionary {
    Fixed {
        data: Bytes,
        width: usize,
    },
    /// Each value's (offset, length) in the block `out` holds.
    Spans {
        block: u32,
        spans: Vec<(u32, u32)>,
    },
}

impl Dictionary {
    fn new(buf: Bytes, count: u32, physical: PhysicalType, out: &mut ColumnOut) -> Result<Self> {
        if physical != PhysicalType::BYTE_ARRAY {
            let width = fixed_width(physical)?;
            if buf.len() < count as usize * width {
                return Err(corrupt("dictionary shorter than its values"));
            }
            return Ok(Self::Fixed { data: buf, width });
        }
        let mut spans = Vec::with_capacity(count as usize);
        let mut pos = 0usize;
        for _ in 0..count {
            let (offset, len) = length_prefixed(&buf, pos)?;
            spans.push((offset, len));
            pos = offset as usize + len as usize;
        }
        Ok(Self::Spans {
            block: out.block(buf)?,
            spans,
        })
    }
}

fn fixed_width(physical: PhysicalType) -> Result<usize> {
    match physical {
        PhysicalType::INT32 | PhysicalType::FLOAT => Ok(4),
        PhysicalType::INT64 | PhysicalType::DOUBLE => Ok(8),
        other => Err(corrupt(format!("{other} values are not read by position"))),
    }
}

/// The (offset, length) of the length-prefixed value at `pos` of `data`.
fn length_prefixed(data: &[u8], pos: usize) -> Result<(u32, u32)> {
    let len = data
        .get(pos..pos + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| corrupt("value past the end"))?;
    let start = pos + 4;
    if data.len() < start + len as usize {
        return Err(corrupt("value past the end"));
    }
    let offset = u32::try_from(start).map_err(|_| corrupt("page over 4 GiB"))?;
    Ok((offset, len))
}

/// Where a page's values are read from.
enum Source<'a> {
    Fixed {
        data: &'a [u8],
        width: usize,
    },
    Delta(Delta<'a>),
    Dictionary {
        indices: Hybrid<'a>,
        dictionary: &'a Dictionary,
    },
    /// PLAIN byte arrays: walked from the start, as each value's length
    /// says where the next begins.
    Walk {
        data: &'a [u8],
        block: u32,
        pos: usize,
        index: usize,
    },
}

impl<'a> Source<'a> {
    fn new(
        encoding: Encoding,
        values: &'a Bytes,
        out: &mut ColumnOut,
        dictionary: Option<&'a Dictionary>,
    ) -> Result<Self> {
        match encoding {
            Encoding::PLAIN if out.is_bytes() => Ok(Self::Walk {
                data: values,
                block: out.block(values.clone())?,
                pos: 0,
                index: 0,
            }),
            Encoding::PLAIN => Ok(Self::Fixed {
                data: values,
                width: out.width(),
            }),
            Encoding::DELTA_BINARY_PACKED if !out.is_bytes() => {
                Ok(Self::Delta(Delta::new(values)?))
            }
            Encoding::RLE_DICTIONARY | Encoding::PLAIN_DICTIONARY => {
                let dictionary =
                    dictionary.ok_or_else(|| corrupt("dictionary indices without a dictionary"))?;
                let width = *values.first().ok_or_else(|| corrupt("empty index page"))?;
                Ok(Self::Dictionary {
                    indices: Hybrid::new(&values[1..], u32::from(width))?,
                    dictionary,
                })
            }
            other => Err(corrupt(format!("{other} pages are not read by position"))),
        }
    }

    /// Appends value number `i` (ascending across calls) to `out`.
    fn push(&mut self, i: usize, out: &mut ColumnOut) -> Result<()> {
        match self {
            Self::Fixed { data, width } => {
                let bytes = data
                    .get(i * *width..(i + 1) * *width)
                    .ok_or_else(|| corrupt("value past the end"))?;
                out.push_fixed(bytes);
            }
            Self::Delta(delta) => out.push_integer(delta.get(i)?),
            Self::Dictionary {
                indices,
                dictionary,
            } => {
                let k = usize::try_from(indices.get(i)?).map_err(|_| corrupt("bad index"))?;
                match dictionary {
                    Dictionary::Fixed { data, width } => {
                        let bytes = data
                            .get(k * width..(k + 1) * width)
                            .ok_or_else(|| corrupt("index past the dictionary"))?;
                        out.push_fixed(bytes);
                    }
                    Dictionary::Spans { block, spans } => {
                        let &(offset, len) = spans
                            .get(k)
                            .ok_or_else(|| corrupt("index past the dictionary"))?;
                        out.push_view(*block, offset, len)?;
                    }
                }
            }
            Self::Walk {
                data,
                block,
                pos,
                index,
            } => {
                while *index < i {
                    let (offset, len) = length_prefixed(data, *pos)?;
                    *pos = offset as usize + len as usize;
                    *index += 1;
                }
                let (offset, len) = length_prefixed(data, *pos)?;
                out.push_view(*block, offset, len)?;
                *pos = offset as usize + len as usize;
                *index += 1;
            }
        }
        Ok(())
    }
}

/// The values of one output column as they are read.
pub(crate) enum ColumnOut {
    Int32(Vec<i32>, NullBufferBuilder),
    Int64(Vec<i64>, NullBufferBuilder),
    Float32(Vec<f32>, NullBufferBuilder),
    Float64(Vec<f64>, NullBufferBuilder),
    /// Views into the pages' own buffers (dictionary or plain pages).
    Bytes(BinaryViewBuilder),
}

impl ColumnOut {
    pub(crate) fn new(physical: PhysicalType, rows: usize) -> Result<Self> {
        Ok(match physical {
            PhysicalType::INT32 => {
                Self::Int32(Vec::with_capacity(rows), NullBufferBuilder::new(rows))
            }
            PhysicalType::INT64 => {
                Self::Int64(Vec::with_capacity(rows), NullBufferBuilder::new(rows))
            }
            PhysicalType::FLOAT => {
                Self::Float32(Vec::with_capacity(rows), NullBufferBuilder::new(rows))
            }
            PhysicalType::DOUBLE => {
                Self::Float64(Vec::with_capacity(rows), NullBufferBuilder::new(rows))
            }
            PhysicalType::BYTE_ARRAY => Self::Bytes(BinaryViewBuilder::with_capacity(rows)),
            other => return Err(corrupt(format!("{other} values are not read by position"))),
        })
    }

    fn is_bytes(&self) -> bool {
        matches!(self, Self::Bytes(_))
    }

    fn width(&self) -> usize {
        match self {
            Self::Int32(..) | Self::Float32(..) => 4,
            Self::Int64(..) | Self::Float64(..) => 8,
            Self::Bytes(_) => 0,
        }
    }

    /// Makes `buf` a block the views of a byte column point into.
    fn block(&mut self, buf: Bytes) -> Result<u32> {
        match self {
            Self::Bytes(builder) => {
                if u32::try_from(buf.len()).is_err() {
                    return Err(corrupt("page over 4 GiB"));
                }
                Ok(builder.append_block(Buffer::from(buf)))
            }
            _ => Err(corrupt("byte values in a fixed-width column")),
        }
    }

    fn push_null(&mut self) {
        match self {
            Self::Int32(v, n) => {
                v.push(0);
                n.append_null();
            }
            Self::Int64(v, n) => {
                v.push(0);
                n.append_null();
            }
            Self::Float32(v, n) => {
                v.push(0.0);
                n.append_null();
            }
            Self::Float64(v, n) => {
                v.push(0.0);
                n.append_null();
            }
            Self::Bytes(b) => b.append_null(),
        }
    }

    /// A PLAIN little-endian value of this column's width.
    fn push_fixed(&mut self, bytes: &[u8]) {
        let mut word = [0u8; 8];
        word[..bytes.len().min(8)].copy_from_slice(&bytes[..bytes.len().min(8)]);
        let (lo, all) = ([word[0], word[1], word[2], word[3]], word);
        match self {
            Self::Int32(v, n) => {
                v.push(i32::from_le_bytes(lo));
                n.append_non_null();
            }
            Self::Int64(v, n) => {
                v.push(i64::from_le_bytes(all));
                n.append_non_null();
            }
            Self::Float32(v, n) => {
                v.push(f32::from_le_bytes(lo));
                n.append_non_null();
            }
            Self::Float64(v, n) => {
                v.push(f64::from_le_bytes(all));
                n.append_non_null();
            }
            Self::Bytes(_) => {}
        }
    }

    /// A delta-decoded integer (a 32-bit column keeps the low half).
    fn push_integer(&mut self, value: i64) {
        match self {
            Self::Int32(v, n) => {
                let [a, b, c, d, ..] = value.to_le_bytes();
                v.push(i32::from_le_bytes([a, b, c, d]));
                n.append_non_null();
            }
            Self::Int64(v, n) => {
                v.push(value);
                n.append_non_null();
            }
            _ => {}
        }
    }

    fn push_view(&mut self, block: u32, offset: u32, len: u32) -> Result<()> {
        match self {
            Self::Bytes(b) => Ok(b.try_append_view(block, offset, len)?),
            _ => Err(corrupt("byte values in a fixed-width column")),
        }
    }

    /// The column as `output` (a type [`super::readable`] accepts).
    pub(crate) fn finish(self, output: &DataType) -> Result<ArrayRef> {
        let array: ArrayRef = match self {
            Self::Int32(v, mut n) => Arc::new(Int32Array::new(ScalarBuffer::from(v), n.finish())),
            Self::Int64(v, mut n) => Arc::new(Int64Array::new(ScalarBuffer::from(v), n.finish())),
            Self::Float32(v, mut n) => {
                Arc::new(Float32Array::new(ScalarBuffer::from(v), n.finish()))
            }
            Self::Float64(v, mut n) => {
                Arc::new(Float64Array::new(ScalarBuffer::from(v), n.finish()))
            }
            Self::Bytes(mut b) => {
                let binary = b.finish();
                return Ok(match output {
                    DataType::Utf8View => Arc::new(binary.to_string_view()?),
                    _ => Arc::new(binary),
                });
            }
        };
        if array.data_type() == output {
            return Ok(array);
        }
        match output {
            // Narrower integers are stored widened: convert the values.
            DataType::Int8 | DataType::Int16 | DataType::UInt8 | DataType::UInt16 => {
                Ok(arrow::compute::cast(&array, output)?)
            }
            // The rest share the stored width: the same bits, retyped
            // (unsigned values are stored as their two's complement).
            _ => {
                let data = array
                    .to_data()
                    .into_builder()
                    .data_type(output.clone())
                    .build()?;
                Ok(arrow::array::make_array(data))
            }
        }
    }
}
