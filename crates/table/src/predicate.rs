//! Row predicates for deletes and updates, evaluated with DataFusion.
//!
//! A predicate is SQL expression text (`category = 'sport' AND year < 2000`)
//! or a DataFusion [`Expr`]. It is planned once against the file schema
//! (`_id` plus the table's columns): unknown columns, type errors and
//! non-boolean expressions fail here, before any row is read or anything
//! committed. Evaluation reads only the columns the predicate names, of the
//! live rows of the files the manifest's bounds cannot rule out; the same
//! evaluation resolves a mutation's rows and a filtered search's allow set
//! ([`Table::ids_matching`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt64Type};
use datafusion::common::DFSchema;
use datafusion::logical_expr::{Expr, ExprSchemable};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;
use futures::{StreamExt, TryStreamExt};
use roaring::RoaringBitmap;

use crate::error::{Result, TableError};
use crate::mutate::projection;
use crate::pruning::FileStatistics;
use crate::table::Table;

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

/// Files whose predicate columns are read at once: enough to overlap the
/// round trips of a cold evaluation without a request per file in flight.
const CONCURRENT_FILES: usize = 8;

impl Table {
    /// The schema of this table's superfiles: `_id: UInt64` first, then the
    /// table's columns (what SQL, predicates and pruning see).
    pub fn file_schema(&self) -> SchemaRef {
        let mut fields = vec![Field::new("_id", DataType::UInt64, false)];
        fields.extend(self.schema().fields().iter().map(|f| f.as_ref().clone()));
        Arc::new(Schema::new(fields))
    }

    /// The `_id`s of the live rows of this version where `filter` holds
    /// (SQL text over the columns and `_id`, a DataFusion `Expr`, or
    /// [`RowFilter::Ids`]), ascending. This is the allow set a filtered
    /// search takes ([`VectorQuery::ids`](crate::VectorQuery::ids)): the
    /// search then returns the nearest rows *among* these, not the matching
    /// rows among the nearest.
    ///
    /// Files the manifest's column bounds rule out are not read; the others
    /// read only the columns the predicate names, for their live rows.
    ///
    /// # Errors
    /// [`TableError::InvalidPredicate`] (unknown column, syntax, type, not a
    /// boolean) before anything is read; storage errors.
    pub async fn ids_matching(&self, filter: impl Into<RowFilter>) -> Result<Vec<u64>> {
        let mut ids = match filter.into() {
            RowFilter::Ids(ids) => {
                let mut live = Vec::new();
                for (file, rows) in self.rows_of_ids(&ids).await? {
                    let rows = match self.live_rows(file).await? {
                        Some(alive) => rows & alive.as_ref(),
                        None => rows,
                    };
                    let rows: Vec<u32> = rows.iter().collect();
                    live.extend(self.row_ids(file, &rows).await?);
                }
                live
            }
            filter => {
                let compiled = Compiled::new(&self.file_schema(), &filter)?;
                self.rows_matching(&compiled)
                    .await?
                    .into_iter()
                    .flat_map(|(_, _, ids)| ids)
                    .collect()
            }
        };
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// Check `filter` as [`Table::ids_matching`] and [`Table::delete`] would,
    /// without reading anything: for callers that plan a query before
    /// running it (SQL).
    ///
    /// # Errors
    /// [`TableError::InvalidPredicate`].
    pub fn check_filter(&self, filter: &RowFilter) -> Result<()> {
        match filter {
            RowFilter::Ids(_) => Ok(()),
            other => Compiled::new(&self.file_schema(), other).map(|_| ()),
        }
    }

    /// Per file (ascending) the live rows where `compiled` holds, and their
    /// `_id`s; files without such rows are left out. Files the manifest's
    /// bounds rule out are not read.
    pub(crate) async fn rows_matching(
        &self,
        compiled: &Compiled,
    ) -> Result<Vec<(usize, RoaringBitmap, Vec<u64>)>> {
        let keep = FileStatistics::new(self, Arc::clone(&compiled.schema)).keep(&compiled.expr);
        let files: Vec<usize> = (0..self.manifest().files.len())
            .filter(|&file| keep.get(file).copied().unwrap_or(true))
            .collect();
        let per_file: Vec<_> = futures::stream::iter(files)
            .map(|file| self.matching_in_file(compiled, file))
            .buffered(CONCURRENT_FILES)
            .try_collect()
            .await?;
        Ok(per_file
            .into_iter()
            .filter(|(_, rows, _)| !rows.is_empty())
            .collect())
    }

    /// The live rows of `file` where `compiled` holds, and their `_id`s.
    async fn matching_in_file(
        &self,
        compiled: &Compiled,
        file: usize,
    ) -> Result<(usize, RoaringBitmap, Vec<u64>)> {
        let live = self.live_ordinals(file).await?;
        let names: Vec<&str> = compiled.columns.iter().map(String::as_str).collect();
        // `_id` comes first whatever the predicate names.
        let batch = self.fetch_columns(file, &live, Some(&names)).await?;
        let all_ids = batch
            .column(0)
            .as_primitive_opt::<UInt64Type>()
            .ok_or_else(|| TableError::Schema {
                column: "_id".into(),
                reason: "is not UInt64".into(),
            })?
            .clone();
        let batch = batch.project(&projection(&batch, &compiled.columns)?)?;
        let matched = compiled.matching(&batch)?;
        let mut rows = RoaringBitmap::new();
        let mut ids = Vec::with_capacity(usize::try_from(matched.len()).unwrap_or(0));
        for i in matched {
            if let Some(&row) = live.get(i as usize) {
                rows.insert(row);
                ids.push(all_ids.value(i as usize));
            }
        }
        Ok((file, rows, ids))
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
