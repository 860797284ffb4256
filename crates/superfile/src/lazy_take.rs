//! Row fetches of a lazily read superfile, value by value where its pages
//! allow (`take/`), else through Parquet's row selection.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::datatypes::{DataType, Field, Schema};

use crate::error::Result;
use crate::lazy::LazySuperfile;
use crate::take::RowTake;

impl LazySuperfile {
    /// `rows` of `columns` (all when `None`) read by a [`RowTake`], in the
    /// file's column order and types; `None` when the file's metadata as
    /// opened holds no page index (reading it would cost a request) or a
    /// column is not addressable by row. Rows and columns must have been
    /// checked by the caller.
    pub(crate) async fn fetch_by_take(
        &self,
        rows: &[u32],
        columns: Option<&[&str]>,
    ) -> Result<Option<RecordBatch>> {
        let metadata = self.metadata.metadata();
        if metadata.offset_index().is_none() {
            return Ok(None);
        }
        let schema = self.metadata.schema();
        let indices: Vec<usize> = schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| columns.is_none_or(|c| c.contains(&f.name().as_str())))
            .map(|(i, _)| i)
            .collect();
        // As Parquet's reader gives them: the fields, no schema metadata.
        let wanted = Schema::new(schema.project(&indices)?.fields().clone());
        // A take reads strings and binaries as views into the pages.
        let views: Vec<Field> = wanted
            .fields()
            .iter()
            .map(|f| {
                let t = match f.data_type() {
                    DataType::Utf8 | DataType::LargeUtf8 => DataType::Utf8View,
                    DataType::Binary | DataType::LargeBinary => DataType::BinaryView,
                    t => t.clone(),
                };
                Field::new(f.name(), t, f.is_nullable())
            })
            .collect();
        let Some(take) = RowTake::plan(
            Arc::clone(metadata),
            Arc::new(Schema::new(views)),
            rows.to_vec(),
        ) else {
            return Ok(None);
        };
        let batch = take.read(&self.store, &self.path).await?;
        let arrays = batch
            .columns()
            .iter()
            .zip(wanted.fields())
            .map(|(array, field)| {
                if array.data_type() == field.data_type() {
                    Ok(Arc::clone(array))
                } else {
                    arrow::compute::cast(array, field.data_type())
                }
            })
            .collect::<std::result::Result<Vec<ArrayRef>, _>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        Ok(Some(RecordBatch::try_new_with_options(
            Arc::new(wanted),
            arrays,
            &options,
        )?))
    }
}
