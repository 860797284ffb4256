//! Manifest pruning: files whose min/max/null summaries prove a filter
//! false are dropped before any of them is opened.
//!
//! The manifest keeps per file and column the null count and, when known,
//! the smallest and largest value (of every row written, deleted ones
//! included, so the bounds stay conservative), plus the `_id` range. These
//! are handed to DataFusion's own `PruningPredicate` as one "container" per
//! file. A bound that is unknown or cannot be read as the column's type is
//! null, which keeps the file.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, UInt64Array};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use datafusion::catalog::Session;
use datafusion::common::pruning::PruningStatistics;
use datafusion::common::{Column, DFSchema, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::utils::conjunction;
use datafusion::physical_optimizer::pruning::PruningPredicateBuilder;
use infino_table::Table;
use serde_json::Value;

/// Which files of `table` may hold rows matching every one of `filters`
/// (`true`: keep). Filters DataFusion cannot use for pruning keep every
/// file.
pub(crate) fn files_to_keep(
    state: &dyn Session,
    table: &Table,
    schema: &SchemaRef,
    filters: &[Expr],
) -> Result<Vec<bool>> {
    let files = table.manifest().files.len();
    let Some(predicate) = conjunction(filters.iter().cloned()) else {
        return Ok(vec![true; files]);
    };
    let df_schema = DFSchema::try_from(Arc::clone(schema))?;
    let physical = state.create_physical_expr(predicate, &df_schema)?;
    let Some(pruning) = PruningPredicateBuilder::new()
        .with_file_schema(Arc::clone(schema))
        .build(physical)
    else {
        return Ok(vec![true; files]);
    };
    pruning.prune(&Summaries { table, schema })
}

/// The manifest's summaries, one container per file.
struct Summaries<'a> {
    table: &'a Table,
    schema: &'a SchemaRef,
}

impl Summaries<'_> {
    fn bounds(&self, column: &Column, min: bool) -> Option<ArrayRef> {
        let data_type = self.schema.field_with_name(&column.name).ok()?.data_type();
        let files = &self.table.manifest().files;
        let values = files.iter().map(|f| {
            let bound = if column.name == "_id" {
                Some(Value::from(if min { f.first_id } else { f.last_id() }))
            } else {
                f.columns
                    .get(&column.name)
                    .and_then(|s| if min { s.min.clone() } else { s.max.clone() })
            };
            bound
                .and_then(|v| scalar(&v, data_type))
                .map_or_else(|| ScalarValue::try_from(data_type), Ok)
        });
        let values = values.collect::<Result<Vec<_>>>().ok()?;
        ScalarValue::iter_to_array(values).ok()
    }
}

/// `value` (a manifest bound) as a scalar of `data_type`, when exact.
fn scalar(value: &Value, data_type: &DataType) -> Option<ScalarValue> {
    let int = || value.as_i64();
    let uint = || value.as_u64();
    Some(match data_type {
        DataType::Int8 => ScalarValue::Int8(Some(i8::try_from(int()?).ok()?)),
        DataType::Int16 => ScalarValue::Int16(Some(i16::try_from(int()?).ok()?)),
        DataType::Int32 => ScalarValue::Int32(Some(i32::try_from(int()?).ok()?)),
        DataType::Int64 => ScalarValue::Int64(Some(int()?)),
        DataType::UInt8 => ScalarValue::UInt8(Some(u8::try_from(uint()?).ok()?)),
        DataType::UInt16 => ScalarValue::UInt16(Some(u16::try_from(uint()?).ok()?)),
        DataType::UInt32 => ScalarValue::UInt32(Some(u32::try_from(uint()?).ok()?)),
        DataType::UInt64 => ScalarValue::UInt64(Some(uint()?)),
        // Bounds of Float32 columns were widened exactly; narrowing back is exact.
        #[expect(clippy::cast_possible_truncation, reason = "exact for widened f32")]
        DataType::Float32 => ScalarValue::Float32(Some(value.as_f64()? as f32)),
        DataType::Float64 => ScalarValue::Float64(Some(value.as_f64()?)),
        DataType::Boolean => ScalarValue::Boolean(Some(value.as_bool()?)),
        DataType::Utf8 => ScalarValue::Utf8(Some(value.as_str()?.to_owned())),
        DataType::LargeUtf8 => ScalarValue::LargeUtf8(Some(value.as_str()?.to_owned())),
        DataType::Utf8View => ScalarValue::Utf8View(Some(value.as_str()?.to_owned())),
        DataType::Date32 => ScalarValue::Date32(Some(i32::try_from(int()?).ok()?)),
        DataType::Date64 => ScalarValue::Date64(Some(int()?)),
        DataType::Timestamp(unit, tz) => {
            let (v, tz) = (Some(int()?), tz.clone());
            match unit {
                TimeUnit::Second => ScalarValue::TimestampSecond(v, tz),
                TimeUnit::Millisecond => ScalarValue::TimestampMillisecond(v, tz),
                TimeUnit::Microsecond => ScalarValue::TimestampMicrosecond(v, tz),
                TimeUnit::Nanosecond => ScalarValue::TimestampNanosecond(v, tz),
            }
        }
        _ => return None,
    })
}

impl PruningStatistics for Summaries<'_> {
    fn min_values(&self, column: &Column) -> Option<ArrayRef> {
        self.bounds(column, true)
    }

    fn max_values(&self, column: &Column) -> Option<ArrayRef> {
        self.bounds(column, false)
    }

    fn num_containers(&self) -> usize {
        self.table.manifest().files.len()
    }

    fn null_counts(&self, column: &Column) -> Option<ArrayRef> {
        let files = &self.table.manifest().files;
        let counts: UInt64Array = files
            .iter()
            .map(|f| {
                if column.name == "_id" {
                    Some(0)
                } else {
                    f.columns.get(&column.name).map(|s| s.nulls)
                }
            })
            .collect();
        Some(Arc::new(counts))
    }

    fn row_counts(&self) -> Option<ArrayRef> {
        let rows: UInt64Array = self
            .table
            .manifest()
            .files
            .iter()
            .map(|f| Some(f.rows))
            .collect();
        Some(Arc::new(rows))
    }

    fn contained(&self, _column: &Column, _values: &HashSet<ScalarValue>) -> Option<BooleanArray> {
        None
    }
}
