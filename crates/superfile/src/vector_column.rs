//! Feeding a `FixedSizeList<Float32, D>` column to a vector index builder.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Float32Type, Schema};
use infino_vector::VectorIndexBuilder;

use crate::error::{Result, SuperfileError};
use crate::spec::VectorColumn;

/// One vector column of the file being written.
pub(crate) struct VectorColumnBuilder {
    /// Position of the column in the input schema.
    pub(crate) index: usize,
    pub(crate) column: String,
    builder: VectorIndexBuilder,
    dim: usize,
}

impl VectorColumnBuilder {
    /// Check the column's type and prepare its builder.
    pub(crate) fn new(schema: &Schema, spec: &VectorColumn) -> Result<Self> {
        let schema_error = |reason: String| SuperfileError::Schema {
            column: spec.column.clone(),
            reason,
        };
        let (index, field) = schema
            .column_with_name(&spec.column)
            .ok_or_else(|| schema_error("named in the index spec but not in the schema".into()))?;
        let dim = match field.data_type() {
            DataType::FixedSizeList(item, dim) if *item.data_type() == DataType::Float32 => {
                usize::try_from(*dim).unwrap_or(0)
            }
            other => {
                return Err(schema_error(format!(
                    "vector indexing needs FixedSizeList<Float32, D>, found {other}"
                )));
            }
        };
        let builder = VectorIndexBuilder::new(dim, spec.metric, spec.params.clone())?;
        Ok(Self {
            index,
            column: spec.column.clone(),
            builder,
            dim,
        })
    }

    /// Add the non-null vectors of `column`, rows numbered from `base`.
    pub(crate) fn add(&mut self, column: &ArrayRef, base: u32) -> Result<()> {
        let list = column
            .as_fixed_size_list_opt()
            .ok_or_else(|| SuperfileError::Schema {
                column: self.column.clone(),
                reason: "not a fixed-size list".into(),
            })?;
        let values = list
            .values()
            .as_primitive_opt::<Float32Type>()
            .ok_or_else(|| SuperfileError::Schema {
                column: self.column.clone(),
                reason: "list items are not Float32".into(),
            })?;
        if values.null_count() > 0 {
            return Err(SuperfileError::Schema {
                column: self.column.clone(),
                reason: "a vector has null components; use a null vector instead".into(),
            });
        }
        let floats = values.values();
        let mut rows = Vec::with_capacity(list.len());
        let mut flat = Vec::with_capacity(list.len() * self.dim);
        for i in 0..list.len() {
            if list.is_null(i) {
                continue;
            }
            let start = usize::try_from(list.value_offset(i)).unwrap_or(0);
            let row = u32::try_from(i).ok().and_then(|i| base.checked_add(i));
            rows.push(row.ok_or(SuperfileError::TooManyRows {
                max: u64::from(u32::MAX),
            })?);
            flat.extend_from_slice(&floats[start..start + self.dim]);
        }
        self.builder.add_batch(&rows, &flat)?;
        Ok(())
    }

    /// The region bytes.
    pub(crate) fn finish(self) -> Result<Vec<u8>> {
        Ok(self.builder.finish()?)
    }
}
