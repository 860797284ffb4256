//! The search table functions: `bm25_search`, `vector_search` and
//! `hybrid_search`.
//!
//! Each resolves its table by name to the snapshot the [`SqlContext`]
//! pinned, checks its arguments while the query is planned, and runs the
//! [`Table`] method of the same name when the scan starts — so a table
//! function returns exactly what that method returns: `_id`, `_score`, then
//! the table's columns, best first. Only the columns the query uses are
//! fetched, and only for the hit rows. The result is an ordinary relation:
//! it joins, feeds CTEs, window functions and set operations.
//!
//! [`SqlContext`]: crate::SqlContext

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::plan_err;
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use infino_fts::{Bm25Params, HighlightOptions};
use infino_table::{Fusion, RowFilter, Table, VectorQuery};

use crate::Tables;
use crate::allow;
use crate::args::Args;

/// Which search a function runs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Bm25,
    Vector,
    Hybrid,
    Highlight,
    Exact,
    Tokens,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Bm25 => "bm25_search",
            Self::Highlight => "highlight",
            Self::Vector => "vector_search",
            Self::Hybrid => "hybrid_search",
            Self::Exact => "exact_match",
            Self::Tokens => "token_match",
        }
    }
}

/// One of the search table functions, over the context's pinned tables.
#[derive(Debug)]
pub(crate) struct SearchFunction {
    pub(crate) kind: Kind,
    pub(crate) tables: Tables,
}

/// A checked call.
#[derive(Debug, Clone)]
enum Search {
    Bm25 {
        column: String,
        query: String,
        k: usize,
        /// The `filter` argument, over `_id` and the table's columns.
        filter: Option<Expr>,
    },
    /// BM25 with a highlighted snippet of the searched column.
    Highlight {
        column: String,
        query: String,
        k: usize,
        /// The `filter` argument, over `_id` and the table's columns.
        filter: Option<Expr>,
    },
    Vector {
        column: String,
        vector: Vec<f32>,
        k: usize,
        nprobe: Option<usize>,
        /// The `filter` argument, over `_id` and the table's columns.
        filter: Option<Expr>,
    },
    Hybrid {
        text_column: String,
        query: String,
        vector_column: String,
        vector: Vec<f32>,
        k: usize,
        /// The `filter` argument, over `_id` and the table's columns.
        filter: Option<Expr>,
    },
}

impl TableFunctionImpl for SearchFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let name = self.kind.name();
        let exprs = args.exprs();
        let args = match self.kind {
            Kind::Bm25 => Args::new(name, exprs, 4, 5, "(table, column, query, k [, filter])")?,
            Kind::Highlight => {
                Args::new(name, exprs, 4, 5, "(table, column, query, k [, filter])")?
            }
            Kind::Exact => Args::new(name, exprs, 3, 3, "(table, column, value)")?,
            Kind::Tokens => Args::new(name, exprs, 4, 4, "(table, column, text, mode)")?,
            Kind::Vector => Args::new(
                name,
                exprs,
                4,
                6,
                "(table, column, vector, k [, nprobe] [, filter])",
            )?,
            Kind::Hybrid => Args::new(
                name,
                exprs,
                6,
                7,
                "(table, text_column, query, vector_column, vector, k [, filter])",
            )?,
        };
        let provider = crate::resolve(&self.tables, name, &args.name(0, "table")?)?;
        let table = provider.table().clone();
        let search = match self.kind {
            Kind::Exact | Kind::Tokens => {
                return crate::matching::call(self.kind, &args, &provider);
            }
            Kind::Bm25 => Search::Bm25 {
                column: indexed(&table, name, &args.name(1, "column")?, true)?,
                query: args.string(2, "query")?,
                k: args.count(3, "k")?,
                filter: filter_arg(&args, 4, name, &table)?,
            },
            Kind::Highlight => Search::Highlight {
                column: indexed(&table, name, &args.name(1, "column")?, true)?,
                query: args.string(2, "query")?,
                k: args.count(3, "k")?,
                filter: filter_arg(&args, 4, name, &table)?,
            },
            Kind::Vector => {
                // `nprobe` and `filter` are both optional: a string fifth
                // argument is the filter.
                let filter_at = if args.is_string(4) { 4 } else { 5 };
                if filter_at == 4 && args.has(5) {
                    return plan_err!("{name}: the filter must be the last argument");
                }
                Search::Vector {
                    column: indexed(&table, name, &args.name(1, "column")?, false)?,
                    vector: args.vector(2, "vector")?,
                    k: args.count(3, "k")?,
                    nprobe: if args.has(4) && filter_at == 5 {
                        Some(args.count(4, "nprobe")?)
                    } else {
                        None
                    },
                    filter: filter_arg(&args, filter_at, name, &table)?,
                }
            }
            Kind::Hybrid => Search::Hybrid {
                text_column: indexed(&table, name, &args.name(1, "text_column")?, true)?,
                query: args.string(2, "query")?,
                vector_column: indexed(&table, name, &args.name(3, "vector_column")?, false)?,
                vector: args.vector(4, "vector")?,
                k: args.count(5, "k")?,
                filter: filter_arg(&args, 6, name, &table)?,
            },
        };
        let mut schema = hits_schema(&table.schema());
        if matches!(search, Search::Highlight { .. }) {
            let mut fields: Vec<Field> =
                schema.fields().iter().map(|f| f.as_ref().clone()).collect();
            fields.insert(2, Field::new("_highlight", DataType::Utf8, true));
            schema = Arc::new(Schema::new(fields));
        }
        Ok(Arc::new(SearchTable {
            schema,
            table,
            search,
        }))
    }
}

/// The optional `filter` argument at `at`: SQL predicate text over
/// `table`'s columns and `_id`.
fn filter_arg(args: &Args, at: usize, name: &str, table: &Table) -> Result<Option<Expr>> {
    if !args.has(at) {
        return Ok(None);
    }
    let sql = args.string(at, "filter")?;
    Ok(Some(allow::parse(name, table, &sql)?))
}

/// `column` if it carries the index the function needs (full-text when
/// `text`, else vector).
pub(crate) fn indexed(table: &Table, function: &str, column: &str, text: bool) -> Result<String> {
    let manifest = table.manifest();
    let found = if text {
        manifest.fts.iter().any(|c| c.column == column)
    } else {
        manifest.vector.iter().any(|c| c.column == column)
    };
    if found {
        return Ok(column.to_owned());
    }
    let kind = if text { "full-text" } else { "vector" };
    if table.schema().field_with_name(column).is_err() {
        return plan_err!("{function}: table {} has no column {column}", table.name());
    }
    plan_err!(
        "{function}: column {column} of table {} has no {kind} index",
        table.name()
    )
}

/// `_id`, `_score`, then the table's columns.
pub(crate) fn hits_schema(table: &SchemaRef) -> SchemaRef {
    let mut fields = vec![
        Field::new("_id", DataType::UInt64, false),
        Field::new("_score", DataType::Float32, false),
    ];
    fields.extend(table.fields().iter().map(|f| f.as_ref().clone()));
    Arc::new(Schema::new(fields))
}

/// The result of one search call, computed when scanned.
#[derive(Debug)]
struct SearchTable {
    table: Table,
    schema: SchemaRef,
    search: Search,
}

impl SearchTable {
    /// The full-text filter `filters` push into a vector search: the
    /// `matches(column, 'query')` calls on the first full-text indexed
    /// column they name, as one query. Other searches take no filter.
    fn text_filter<'e>(&self, filters: &[&'e Expr]) -> Option<(&'e str, Vec<&'e str>)> {
        if !matches!(self.search, Search::Vector { .. }) {
            return None;
        }
        let fts = &self.table.manifest().fts;
        let calls: Vec<(&str, &str)> = filters
            .iter()
            .filter_map(|f| matches_call(f))
            .filter(|(column, _)| fts.iter().any(|c| c.column == *column))
            .collect();
        let (column, _) = *calls.first()?;
        let queries = calls
            .iter()
            .filter(|(c, _)| *c == column)
            .map(|(_, q)| *q)
            .collect();
        Some((column, queries))
    }

    /// The filters on a vector search that run as row predicates, building
    /// its allow set ([`allow`]). Other searches take none.
    fn row_filters<'e>(&self, filters: &[&'e Expr]) -> Vec<&'e Expr> {
        filters
            .iter()
            .copied()
            .filter(|f| self.is_row_filter(f))
            .collect()
    }

    /// Whether `filter` joins a search's allow set: a search returns its
    /// best `k` among the rows it holds for.
    fn is_row_filter(&self, filter: &Expr) -> bool {
        allow::is_row_predicate(filter, &self.table)
    }

    /// The `_id`s a search may return: the live rows where its `filter`
    /// argument and the row predicates pushed onto it all hold; `None` when
    /// it has neither.
    async fn allowed_ids(&self, filters: &[&Expr]) -> Result<Option<Vec<u64>>> {
        let filter = match &self.search {
            Search::Bm25 { filter, .. }
            | Search::Highlight { filter, .. }
            | Search::Vector { filter, .. }
            | Search::Hybrid { filter, .. } => filter,
        };
        let mut predicates = Vec::new();
        predicates.extend(filter.clone());
        for f in self.row_filters(filters) {
            predicates.push(allow::unqualified(f.clone())?);
        }
        let Some(predicate) = conjunction(predicates) else {
            return Ok(None);
        };
        let ids = self
            .table
            .ids_matching(RowFilter::Expr(predicate))
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        Ok(Some(ids))
    }

    /// The table method's batch: `_id`, `_score`, then `columns`; a vector
    /// search restricted to the rows `filter` (column, query) matches and,
    /// when given, to the `_id`s in `ids`.
    async fn run(
        &self,
        columns: &[&str],
        filter: Option<(&str, &str)>,
        ids: Option<&[u64]>,
    ) -> infino_table::Result<RecordBatch> {
        match &self.search {
            Search::Bm25 {
                column, query, k, ..
            } => {
                self.table
                    .search_among(column, query, *k, ids, columns)
                    .await
            }
            Search::Highlight {
                column, query, k, ..
            } => {
                let hits = self
                    .table
                    .search_hits_among(column, query, *k, Bm25Params::default(), ids)
                    .await?;
                let batch = self.table.resolve(&hits, columns).await?;
                let snippets = self
                    .table
                    .highlights(column, query, &hits, &HighlightOptions::default())
                    .await?;
                let mut fields: Vec<Field> = batch
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.as_ref().clone())
                    .collect();
                let mut arrays = batch.columns().to_vec();
                fields.insert(2, Field::new("_highlight", DataType::Utf8, true));
                arrays.insert(2, Arc::new(StringArray::from(snippets)));
                Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
            }
            Search::Vector {
                column,
                vector,
                k,
                nprobe,
                filter: _,
            } => {
                let query = VectorQuery {
                    nprobe: *nprobe,
                    filter,
                    ids,
                    ..VectorQuery::new(column, vector, *k)
                };
                self.table.vector_search(&query, columns).await
            }
            Search::Hybrid {
                text_column,
                query,
                vector_column,
                vector,
                k,
                filter: _,
            } => {
                let near = VectorQuery {
                    ids,
                    ..VectorQuery::new(vector_column, vector, *k)
                };
                self.table
                    .hybrid_search(text_column, query, &near, *k, Fusion::default(), columns)
                    .await
            }
        }
    }
}

#[async_trait]
impl TableProvider for SearchTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    /// A vector search takes `matches(column, 'query')` on a full-text
    /// column, and any predicate over `_id` and the table's columns, into
    /// the search itself — the allow-set path: the `k` nearest of the
    /// matching rows, not the matching rows among the `k` nearest. Every
    /// other filter (on `_score`, say) stays above the function.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        let pushed = self.text_filter(filters).map(|(column, _)| column);
        Ok(filters
            .iter()
            .map(|f| match (pushed, matches_call(f)) {
                (Some(pushed), Some((column, _))) if column == pushed => {
                    TableProviderFilterPushDown::Exact
                }
                _ if self.is_row_filter(f) => TableProviderFilterPushDown::Exact,
                _ => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let filters: Vec<&Expr> = filters.iter().collect();
        let text_filter = self.text_filter(&filters).map(|(column, queries)| {
            let query = match queries.as_slice() {
                [one] => (*one).to_owned(),
                many => format!("({})", many.join(") AND (")),
            };
            (column, query)
        });
        let filter = text_filter.as_ref().map(|(c, q)| (*c, q.as_str()));
        let ids = self.allowed_ids(&filters).await?;
        let ids = ids.as_deref();
        let projection: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        // `_id`, `_score` (and `_highlight`) come first; only the table
        // columns the query uses are fetched.
        let first = if matches!(self.search, Search::Highlight { .. }) {
            3
        } else {
            2
        };
        let columns: Vec<&str> = projection
            .iter()
            .filter(|&&i| i >= first)
            .map(|&i| self.schema.field(i).name().as_str())
            .collect();
        let batch = match self.run(&columns, filter, ids).await {
            Ok(batch) => batch,
            // `Table::resolve` cannot gather columns for zero hits (Arrow's
            // interleave wants at least one source): ask again without
            // columns, and an empty answer becomes an empty batch.
            Err(e) => match self.run(&[], filter, ids).await {
                Ok(ids) if ids.num_rows() == 0 => {
                    let wanted: Vec<usize> = (0..first)
                        .chain(projection.iter().copied().filter(|&i| i >= first))
                        .collect();
                    RecordBatch::new_empty(Arc::new(self.schema.project(&wanted)?))
                }
                _ => return Err(DataFusionError::External(Box::new(e))),
            },
        };
        let mut next_column = first;
        let arrays: Vec<ArrayRef> = projection
            .iter()
            .map(|&i| {
                let at = if i < first {
                    i
                } else {
                    next_column += 1;
                    next_column - 1
                };
                Arc::clone(batch.column(at))
            })
            .collect();
        let schema = Arc::new(self.schema.project(&projection)?);
        let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        let out = RecordBatch::try_new_with_options(Arc::clone(&schema), arrays, &options)?;
        Ok(MemorySourceConfig::try_new_exec(
            &[vec![out]],
            schema,
            None,
        )?)
    }
}

/// `(column, query)` of a `matches(column, 'query')` call.
fn matches_call(expr: &Expr) -> Option<(&str, &str)> {
    let Expr::ScalarFunction(f) = expr else {
        return None;
    };
    match (f.name(), f.args.as_slice()) {
        (crate::pushdown::MATCHES, [Expr::Column(column), Expr::Literal(query, _)]) => {
            Some((column.name.as_str(), query.try_as_str()??))
        }
        _ => None,
    }
}
