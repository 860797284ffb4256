//! Manifest pruning: files whose min/max/null summaries prove a filter
//! false are dropped before any of them is opened.
//!
//! The manifest keeps per file and column the null count and, when known,
//! the smallest and largest value (of every row written, deleted ones
//! included, so the bounds stay conservative), plus the `_id` range. These
//! are handed to DataFusion's own `PruningPredicate` as one "container" per
//! file. A bound that is unknown or cannot be read as the column's type is
//! null, which keeps the file.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::DFSchema;
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::utils::conjunction;
use infino_table::{FileStatistics, Table};

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
    Ok(FileStatistics::new(table, Arc::clone(schema)).keep(&physical))
}
