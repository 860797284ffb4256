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

    /// Makes `buf` a block the views of a byte column point into.
    pub(crate) fn block(&mut self, buf: Bytes) -> Result<u32> {
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
            Self::Bytes(b) => b.append_null(),
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

    pub(crate) fn push_view(&mut self, block: u32, offset: u32, len: u32) -> Result<()> {
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
