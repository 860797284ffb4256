//! File pruning from manifest summaries, in DataFusion's terms.
//!
//! [`FileStatistics`] presents a version's files as DataFusion pruning
//! containers (min/max/null counts per column, `_id` ranges, row counts),
//! so a DataFusion `PruningPredicate` can rule files out before any is opened. The
//! SQL layer uses it for `WHERE` clauses; deletes and updates use it for
//! their predicates.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, UInt64Array};
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::pruning::PruningStatistics;
use datafusion::common::{Column, ScalarValue};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::pruning::PruningPredicateBuilder;
use serde_json::Value;

use crate::manifest::FileEntry;
use crate::table::Table;

/// A version's files as pruning containers, one per file in manifest order.
#[derive(Debug, Clone)]
pub struct FileStatistics<'a> {
    files: &'a [FileEntry],
    schema: SchemaRef,
}

impl<'a> FileStatistics<'a> {
    /// The statistics of `table`'s files; `schema` is the schema column
    /// types are read from (the table's file schema, `_id` included).
    pub fn new(table: &'a Table, schema: SchemaRef) -> Self {
        Self {
            files: &table.manifest().files,
            schema,
        }
    }

    /// Which files may hold rows for which `predicate` (a physical
    /// expression over `schema`) is true; `true` = keep. Any failure to
    /// build or evaluate the pruning keeps every file.
    pub fn keep(&self, predicate: &Arc<dyn PhysicalExpr>) -> Vec<bool> {
        let all = vec![true; self.files.len()];
        let Ok(pruning) = PruningPredicateBuilder::new()
            .with_file_schema(Arc::clone(&self.schema))
            .try_build(Arc::clone(predicate))
        else {
            return all;
        };
        pruning.prune(self).unwrap_or(all)
    }

    fn bounds(&self, column: &Column, max: bool) -> Option<ArrayRef> {
        let name = column.name();
        if name == "_id" {
            let ids = self
                .files
                .iter()
                .map(|f| if max { f.last_id() } else { f.first_id });
            return Some(Arc::new(UInt64Array::from_iter_values(ids)));
        }
        let data_type = self.schema.field_with_name(name).ok()?.data_type().clone();
        let values = self.files.iter().map(|f| {
            let summary = f.columns.get(name);
            let bound = summary.and_then(|s| if max { s.max.as_ref() } else { s.min.as_ref() });
            bound
                .and_then(|v| scalar(v, &data_type))
                .map_or_else(|| ScalarValue::try_from(&data_type), Ok)
        });
        let values: Vec<ScalarValue> = values.collect::<Result<_, _>>().ok()?;
        ScalarValue::iter_to_array(values).ok()
    }
}

/// A JSON bound as a scalar of `data_type`.
fn scalar(value: &Value, data_type: &DataType) -> Option<ScalarValue> {
    let int = || value.as_i64();
    Some(match data_type {
        DataType::Int8 => ScalarValue::Int8(Some(i8::try_from(int()?).ok()?)),
        DataType::Int16 => ScalarValue::Int16(Some(i16::try_from(int()?).ok()?)),
        DataType::Int32 => ScalarValue::Int32(Some(i32::try_from(int()?).ok()?)),
        DataType::Int64 => ScalarValue::Int64(Some(int()?)),
        DataType::UInt8 => ScalarValue::UInt8(Some(u8::try_from(value.as_u64()?).ok()?)),
        DataType::UInt16 => ScalarValue::UInt16(Some(u16::try_from(value.as_u64()?).ok()?)),
        DataType::UInt32 => ScalarValue::UInt32(Some(u32::try_from(value.as_u64()?).ok()?)),
        DataType::UInt64 => ScalarValue::UInt64(Some(value.as_u64()?)),
        // f64 → f32 is exact for values that came from f32.
        #[expect(clippy::cast_possible_truncation, reason = "the bound was an f32")]
        DataType::Float32 => ScalarValue::Float32(Some(value.as_f64()? as f32)),
        DataType::Float64 => ScalarValue::Float64(Some(value.as_f64()?)),
        DataType::Date32 => ScalarValue::Date32(Some(i32::try_from(int()?).ok()?)),
        DataType::Date64 => ScalarValue::Date64(Some(int()?)),
        DataType::Boolean => ScalarValue::Boolean(Some(value.as_bool()?)),
        DataType::Utf8 => ScalarValue::Utf8(Some(value.as_str()?.to_owned())),
        DataType::LargeUtf8 => ScalarValue::LargeUtf8(Some(value.as_str()?.to_owned())),
        DataType::Utf8View => ScalarValue::Utf8View(Some(value.as_str()?.to_owned())),
        DataType::Timestamp(unit, tz) => {
            let v = Some(int()?);
            let tz = tz.clone();
            match unit {
                arrow::datatypes::TimeUnit::Second => ScalarValue::TimestampSecond(v, tz),
                arrow::datatypes::TimeUnit::Millisecond => ScalarValue::TimestampMillisecond(v, tz),
                arrow::datatypes::TimeUnit::Microsecond => ScalarValue::TimestampMicrosecond(v, tz),
                arrow::datatypes::TimeUnit::Nanosecond => ScalarValue::TimestampNanosecond(v, tz),
            }
        }
        _ => return None,
    })
}

impl PruningStatistics for FileStatistics<'_> {
    fn min_values(&self, column: &Column) -> Option<ArrayRef> {
        self.bounds(column, false)
    }

    fn max_values(&self, column: &Column) -> Option<ArrayRef> {
        self.bounds(column, true)
    }

    fn num_containers(&self) -> usize {
        self.files.len()
    }

    fn null_counts(&self, column: &Column) -> Option<ArrayRef> {
        let name = column.name();
        if name == "_id" {
            return Some(Arc::new(UInt64Array::from(vec![0; self.files.len()])));
        }
        let counts: UInt64Array = self
            .files
            .iter()
            .map(|f| f.columns.get(name).map(|s| s.nulls))
            .collect();
        Some(Arc::new(counts))
    }

    fn row_counts(&self) -> Option<ArrayRef> {
        Some(Arc::new(UInt64Array::from_iter_values(
            self.files.iter().map(|f| f.rows),
        )))
    }

    fn contained(&self, _: &Column, _: &HashSet<ScalarValue>) -> Option<BooleanArray> {
        None
    }
}
