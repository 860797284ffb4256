//! Row predicates that become a search's allow set.
//!
//! `vector_search(…) WHERE category = 'x'` means "the `k` nearest rows
//! where `category = 'x'`", not "the rows among the `k` nearest where it
//! holds": a post-filter of the global top `k` thins it, to nothing for a
//! selective predicate. The same holds for `bm25_search` and
//! `hybrid_search` (`highlight` keeps the post-filter). So a predicate over the table's own columns (and
//! `_id`) placed on the call, or given as its `filter` argument, is
//! evaluated first ([`Table::ids_matching`]: manifest pruning, then only
//! the named columns of the live rows) and the search runs over the rows
//! it leaves.

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::prelude::SessionContext;
use infino_table::{RowFilter, Table};

/// Whether the filter `expr` on a search call can run as a row
/// predicate on `table`: it reads only `_id` and the table's columns (not
/// `_score`), and is deterministic and self-contained (no subquery, outer
/// reference, placeholder or `matches`, which has its own path).
pub(crate) fn is_row_predicate(expr: &Expr, table: &Table) -> bool {
    let schema = table.file_schema();
    let columns_known = expr
        .column_refs()
        .iter()
        .all(|c| schema.field_with_name(&c.name).is_ok());
    let foreign = expr
        .exists(|e| {
            Ok(match e {
                Expr::ScalarSubquery(_)
                | Expr::Exists(_)
                | Expr::InSubquery(_)
                | Expr::OuterReferenceColumn(..)
                | Expr::Placeholder(_) => true,
                Expr::ScalarFunction(f) => f.name() == crate::pushdown::MATCHES,
                _ => false,
            })
        })
        .unwrap_or(true);
    columns_known && !foreign && !expr.is_volatile()
}

/// `expr` with its columns' qualifiers (the call's alias) dropped: the
/// table layer plans it against the bare file schema.
pub(crate) fn unqualified(expr: Expr) -> Result<Expr> {
    expr.transform(|e| {
        Ok(match e {
            Expr::Column(c) if c.relation.is_some() => {
                Transformed::yes(Expr::Column(Column::new_unqualified(c.name)))
            }
            other => Transformed::no(other),
        })
    })
    .map(|t| t.data)
}

/// The `filter` argument of `function`: SQL predicate text over `table`'s
/// columns and `_id`, parsed and type-checked while the query is planned.
pub(crate) fn parse(function: &str, table: &Table, sql: &str) -> Result<Expr> {
    let schema = DFSchema::try_from(table.file_schema().as_ref().clone())?;
    let expr = match SessionContext::new().parse_sql_expr(sql, &schema) {
        Ok(expr) => expr,
        Err(e) => return plan_err!("{function}: filter `{sql}`: {e}"),
    };
    if let Err(e) = table.check_filter(&RowFilter::Expr(expr.clone())) {
        return plan_err!("{function}: filter `{sql}`: {e}");
    }
    Ok(expr)
}
