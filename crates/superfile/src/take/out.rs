//! The values of one output column, gathered as a take reads them.

use std::sync::Arc;

use arrow::array::NullBufferBuilder;
use arrow::array::{
    Array, ArrayRef, BinaryViewBuilder, Float32Array, Float64Array, Int32Array, Int64Array,
};
use arrow::buffer::{Buffer, ScalarBuffer};
use arrow::datatypes::DataType;
use bytes::Bytes;
use parquet::basic::Type as PhysicalType;

use crate::error::{Result, SuperfileError};

fn corrupt(reason: impl Into<String>) -> SuperfileError {
    SuperfileError::corrupt("column page", reason)
}

/// The values of one output column as they are read.
pub(crate) enum ColumnOut {
    Int32(Vec<i32>, NullBufferBuilder),
    Int64(Vec<i64>, NullBufferBuilder),
    Float32(Vec<f32>, NullBufferBuilder),
    Float64(Vec<f64>, NullBufferBuilder),
    /// Views into the pages' own buffers (dictionary or plain pages).
    Bytes(ByteViews),
}

/// A byte column's views, and the page buffers they may point into.
///
/// A value of at most 12 bytes is stored inside its view, so a page buffer
/// joins the array only once a longer value points into it: short values
/// (codes, categories, tags) come out with no buffers at all. An array
/// holding whole pages for a few inlined values looks sparse to whatever
/// reads it next — DataFusion's filter compacts such arrays, copying
/// every page it holds.
pub(crate) struct ByteViews {
    builder: BinaryViewBuilder,
    /// The blocks [`ColumnOut::block`] was given, each with its index in
    /// `builder` once a view points into it.
    blocks: Vec<(Bytes, Option<u32>)>,
}

/// The longest value a view holds inline (Arrow's view layout).
const INLINE_MAX: u32 = 12;

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
            PhysicalType::BYTE_ARRAY => Self::Bytes(ByteViews {
                builder: BinaryViewBuilder::with_capacity(rows),
                blocks: Vec::new(),
            }),
            other => return Err(corrupt(format!("{other} values are not read by position"))),
        })
    }

    pub(crate) fn is_bytes(&self) -> bool {
        matches!(self, Self::Bytes(_))
    }

    pub(crate) fn width(&self) -> usize {
        match self {
            Self::Int32(..) | Self::Float32(..) => 4,
            Self::Int64(..) | Self::Float64(..) => 8,
            Self::Bytes(_) => 0,
        }
    }

    /// Makes `buf` a block the views of a byte column may point into.
    pub(crate) fn block(&mut self, buf: Bytes) -> Result<u32> {
        match self {
            Self::Bytes(views) => {
                if u32::try_from(buf.len()).is_err() {
                    return Err(corrupt("page over 4 GiB"));
                }
                let block = u32::try_from(views.blocks.len())
                    .map_err(|_| corrupt("too many pages in one take"))?;
                views.blocks.push((buf, None));
                Ok(block)
            }
            _ => Err(corrupt("byte values in a fixed-width column")),
        }
    }

    pub(crate) fn push_null(&mut self) {
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
            Self::Bytes(views) => views.builder.append_null(),
        }
    }

    /// A PLAIN little-endian value of this column's width (`bytes` is
    /// exactly that wide: fixed-size loads, no copy of a variable length).
    pub(crate) fn push_fixed(&mut self, bytes: &[u8]) -> Result<()> {
        fn word<const N: usize>(bytes: &[u8]) -> Result<[u8; N]> {
            <[u8; N]>::try_from(bytes).map_err(|_| corrupt("value of the wrong width"))
        }
        match self {
            Self::Int32(v, n) => {
                v.push(i32::from_le_bytes(word(bytes)?));
                n.append_non_null();
            }
            Self::Int64(v, n) => {
                v.push(i64::from_le_bytes(word(bytes)?));
                n.append_non_null();
            }
            Self::Float32(v, n) => {
                v.push(f32::from_le_bytes(word(bytes)?));
                n.append_non_null();
            }
            Self::Float64(v, n) => {
                v.push(f64::from_le_bytes(word(bytes)?));
                n.append_non_null();
            }
            Self::Bytes(_) => return Err(corrupt("fixed-width values in a byte column")),
        }
        Ok(())
    }

    /// A delta-decoded integer (a 32-bit column keeps the low half).
    pub(crate) fn push_integer(&mut self, value: i64) {
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

    /// The `len` bytes at `offset` of `block` (from [`block`](Self::block)).
    pub(crate) fn push_view(&mut self, block: u32, offset: u32, len: u32) -> Result<()> {
        let Self::Bytes(views) = self else {
            return Err(corrupt("byte values in a fixed-width column"));
        };
        let (bytes, attached) = views
            .blocks
            .get_mut(block as usize)
            .ok_or_else(|| corrupt("view of an unknown page"))?;
        if len <= INLINE_MAX {
            let value = (offset as usize)
                .checked_add(len as usize)
                .and_then(|end| bytes.get(offset as usize..end))
                .ok_or_else(|| corrupt("value past its page"))?;
            views.builder.append_value(value);
            return Ok(());
        }
        let index = match *attached {
            Some(index) => index,
            None => {
                let index = views.builder.append_block(Buffer::from(bytes.clone()));
                *attached = Some(index);
                index
            }
        };
        Ok(views.builder.try_append_view(index, offset, len)?)
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
            Self::Bytes(mut views) => {
                let binary = views.builder.finish();
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
