//! Row predicates for deletes and updates, evaluated with DataFusion.
//!
//! A predicate is SQL expression text (`category = 'sport' AND year < 2000`)
//! or a DataFusion [`Expr`]. It is planned once against the file schema
//! (`_id` plus the table's columns): unknown columns, type errors and
//! non-boolean expressions fail here, before any row is read or anything
//! committed. Evaluation reads only the columns the predicate names.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::DFSchema;
use datafusion::logical_expr::{Expr, ExprSchemable};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;
use roaring::RoaringBitmap;

use crate::error::{Result, TableError};

/// Which rows a delete or update applies to.
#[derive(Debug, Clone)]
pub enum RowFilter {
    /// SQL expression text over the table's columns and `_id`.
    Sql(String),
    /// A DataFusion logical expression over the same.
    Expr(Expr),
    /// Exactly these `_id`s (ids not in the table are ignored).
    Ids(Vec<u64>),
}

impl From<&str> for RowFilter {
    fn from(sql: &str) -> Self {
        Self::Sql(sql.to_owned())
    }
}

impl From<Expr> for RowFilter {
    fn from(expr: Expr) -> Self {
        Self::Expr(expr)
    }
}

impl crate::table::Table {
    /// The schema of this table's superfiles: `_id: UInt64` first, then the
    /// table's columns (what SQL, predicates and pruning see).
    pub fn file_schema(&self) -> SchemaRef {
        let mut fields = vec![Field::new("_id", DataType::UInt64, false)];
        fields.extend(self.schema().fields().iter().map(|f| f.as_ref().clone()));
        Arc::new(Schema::new(fields))
    }
}

/// A planned boolean expression and the columns it reads.
pub(crate) struct Compiled {
    /// The columns to fetch, in file-schema order.
    pub(crate) columns: Vec<String>,
    /// The expression over a batch of exactly those columns.
    pub(crate) expr: Arc<dyn PhysicalExpr>,
    /// The schema of those columns.
    pub(crate) schema: SchemaRef,
    text: String,
}

/// A planned value expression (for `update`'s assignments).
pub(crate) struct CompiledValue {
    pub(crate) columns: Vec<String>,
    expr: Arc<dyn PhysicalExpr>,
    text: String,
}

fn invalid(text: &str, e: impl std::fmt::Display) -> TableError {
    TableError::InvalidPredicate {
        expr: text.to_owned(),
        reason: e.to_string(),
    }
}

/// Parse (if text) and type-check `expr` against `schema`; returns the
/// logical expression, the columns it reads (in schema order) and the
/// schema of just those columns.
fn plan(
    ctx: &SessionContext,
    schema: &SchemaRef,
    expr: Either<'_>,
) -> Result<(Expr, Vec<String>, String)> {
    let full = DFSchema::try_from(schema.as_ref().clone()).map_err(|e| invalid("", e))?;
    let (expr, text) = match expr {
        Either::Text(sql) => (
            ctx.parse_sql_expr(sql, &full)
                .map_err(|e| invalid(sql, e))?,
            sql.to_owned(),
        ),
        Either::Expr(e) => (e.clone(), e.to_string()),
    };
    let refs: BTreeSet<String> = expr
        .column_refs()
        .into_iter()
        .map(|c| c.name.clone())
        .collect();
    for name in &refs {
        if schema.field_with_name(name).is_err() {
            return Err(invalid(&text, format!("no column named `{name}`")));
        }
    }
    let columns = schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|n| refs.contains(n))
        .collect();
    Ok((expr, columns, text))
}

enum Either<'a> {
    Text(&'a str),
    Expr(&'a Expr),
}

fn projected(schema: &SchemaRef, columns: &[String]) -> Result<(SchemaRef, DFSchema)> {
    let fields: Vec<Field> = columns
        .iter()
        .filter_map(|c| schema.field_with_name(c).ok().cloned())
        .collect();
    let arrow = Arc::new(Schema::new(fields));
    let df = DFSchema::try_from(arrow.as_ref().clone()).map_err(|e| invalid("", e))?;
    Ok((arrow, df))
}

impl Compiled {
    /// Plan `filter` (not [`RowFilter::Ids`]) as a boolean predicate over
    /// `schema` (a file schema).
    pub(crate) fn new(schema: &SchemaRef, filter: &RowFilter) -> Result<Self> {
        let ctx = SessionContext::new();
        let input = match filter {
            RowFilter::Sql(sql) => Either::Text(sql),
            RowFilter::Expr(e) => Either::Expr(e),
            RowFilter::Ids(_) => return Err(invalid("", "an id list is not an expression")),
        };
        let (expr, columns, text) = plan(&ctx, schema, input)?;
        let (projected_schema, df) = projected(schema, &columns)?;
        let expr = ctx
            .create_physical_expr(expr, &df)
            .map_err(|e| invalid(&text, e))?;
        let data_type = expr
            .data_type(df.as_arrow())
            .map_err(|e| invalid(&text, e))?;
        if data_type != DataType::Boolean {
            return Err(invalid(
                &text,
                format!("the predicate is {data_type}, not a boolean"),
            ));
        }
        Ok(Self {
            columns,
            expr,
            schema: projected_schema,
            text,
        })
    }

    /// The rows of `batch` (holding [`Compiled::columns`]) where the
    /// predicate is true (null counts as false).
    pub(crate) fn matching(&self, batch: &RecordBatch) -> Result<RoaringBitmap> {
        let value = self
            .expr
            .evaluate(batch)
            .and_then(|v| v.into_array(batch.num_rows()))
            .map_err(|e| invalid(&self.text, e))?;
        let bools = value
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| invalid(&self.text, "did not evaluate to booleans"))?;
        let mut out = RoaringBitmap::new();
        for (row, v) in bools.iter().enumerate() {
            if v == Some(true) {
                out.insert(u32::try_from(row).unwrap_or(u32::MAX));
            }
        }
        Ok(out)
    }
}

impl CompiledValue {
    /// Plan the SQL `value` as a new value for a column of type `target`
    /// (cast when the types differ and Arrow can cast).
    pub(crate) fn new(schema: &SchemaRef, value: &str, target: &DataType) -> Result<Self> {
        let ctx = SessionContext::new();
        let (expr, columns, text) = plan(&ctx, schema, Either::Text(value))?;
        let (_, df) = projected(schema, &columns)?;
        let expr = expr.cast_to(target, &df).map_err(|e| invalid(&text, e))?;
        let expr = ctx
            .create_physical_expr(expr, &df)
            .map_err(|e| invalid(&text, e))?;
        Ok(Self {
            columns,
            expr,
            text,
        })
    }

    /// Evaluate over `batch` (holding [`CompiledValue::columns`]).
    pub(crate) fn evaluate(&self, batch: &RecordBatch) -> Result<arrow::array::ArrayRef> {
        self.expr
            .evaluate(batch)
            .and_then(|v| v.into_array(batch.num_rows()))
            .map_err(|e| invalid(&self.text, e))
    }
}
