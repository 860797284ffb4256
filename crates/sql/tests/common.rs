//! Helpers shared by the SQL tests.

use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Float64Type;
use datafusion::physical_plan::ExecutionPlan;
use infino_sql::SqlContext;

/// The physical plan of `query` in `sql`'s session.
pub(crate) async fn physical_plan(sql: &SqlContext, query: &str) -> Arc<dyn ExecutionPlan> {
    sql.session()
        .sql(query)
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"))
        .create_physical_plan()
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

/// Rows as text lines (cells joined by `|`), in the order they came.
/// Float64 cells are rounded to 6 decimals: sums of floats depend on the
/// order rows arrive in (one file or three).
pub(crate) fn lines_in_order(batches: &[RecordBatch]) -> Vec<String> {
    let options = arrow::util::display::FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for batch in batches {
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| {
                arrow::util::display::ArrayFormatter::try_new(c.as_ref(), &options)
                    .expect("formatter")
            })
            .collect();
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = batch
                .columns()
                .iter()
                .zip(&formatters)
                .map(
                    |(column, f)| match column.as_primitive_opt::<Float64Type>() {
                        Some(floats) if floats.is_valid(row) => format!("{:.6}", floats.value(row)),
                        _ => f.value(row).to_string(),
                    },
                )
                .collect();
            rows.push(cells.join("|"));
        }
    }
    rows
}

/// Rows as sorted text lines, so row order does not matter.
pub(crate) fn lines(batches: &[RecordBatch]) -> Vec<String> {
    let mut rows = lines_in_order(batches);
    rows.sort();
    rows
}
