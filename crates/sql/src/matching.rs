//! The unranked table functions: `exact_match(table, column, value)` and
//! `token_match(table, column, text, mode)`.
//!
//! Both are views over the table's own scan with a predicate the scan
//! pushes into the full-text index — `column = value`, re-checked on the
//! index's candidates, and `matches(column, …)` over the text's words — so
//! they read only candidate rows and compose like any relation. They
//! return `_id`, `_score` (always 1: the rows are not ranked) and the
//! table's columns, in no particular order.

use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::catalog::default_table_source::provider_as_source;
use datafusion::common::plan_err;
use datafusion::datasource::ViewTable;
use datafusion::error::Result;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, col, lit};

use crate::args::Args;
use crate::functions::{Kind, indexed};
use crate::provider::InfinoTable;
use crate::pushdown::{self, words_query};

/// The view `exact_match` or `token_match` (`kind`) returns for `args`.
pub(crate) fn call(
    kind: Kind,
    args: &Args<'_>,
    provider: &Arc<InfinoTable>,
) -> Result<Arc<dyn TableProvider>> {
    let table = provider.table();
    let name = kind.name();
    let column = args.name(1, "column")?;
    let predicate: Expr = match kind {
        Kind::Exact => {
            if table.schema().field_with_name(&column).is_err() {
                return plan_err!("{name}: table {} has no column {column}", table.name());
            }
            col(column.as_str()).eq(lit(args.literal(2, "value")?))
        }
        _ => {
            let column = indexed(table, name, &column, true)?;
            let text = args.string(2, "text")?;
            let all = match args.string(3, "mode")?.to_ascii_lowercase().as_str() {
                "all" => true,
                "any" => false,
                other => return plan_err!("{name}: mode must be 'any' or 'all', got '{other}'"),
            };
            let analyzer = provider.indexed().analyzer(&column);
            match analyzer.and_then(|a| words_query(a, &text, all)) {
                // Text without tokens matches no row.
                None => lit(false),
                Some(query) => Expr::ScalarFunction(ScalarFunction::new_udf(
                    Arc::new(pushdown::matches_udf()),
                    vec![col(column.as_str()), lit(query)],
                )),
            }
        }
    };
    let mut output = vec![col("_id"), lit(1.0_f32).alias("_score")];
    output.extend(
        table
            .schema()
            .fields()
            .iter()
            .map(|f| col(f.name().as_str())),
    );
    let source = provider_as_source(Arc::clone(provider) as Arc<dyn TableProvider>);
    let plan = LogicalPlanBuilder::scan(table.name(), source, None)?
        .filter(predicate)?
        .project(output)?
        .build()?;
    Ok(Arc::new(ViewTable::new(plan, None)))
}
