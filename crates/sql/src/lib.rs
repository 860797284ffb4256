//! SQL over infino tables, with Apache DataFusion.
//!
//! A [`SqlContext`] is a DataFusion session whose catalog holds every table
//! of a [`Connection`], each pinned to the snapshot it had when the context
//! was made (register another snapshot with [`SqlContext::register_table`]).
//! A table is read as what it is: a list of Parquet files (the superfiles of
//! its manifest) on the connection's object store, so DataFusion's own
//! Parquet scan does projection, filter pushdown, row-group and page
//! pruning, and `_id` is an ordinary column. What only infino knows enters
//! as per-file row selections: the rows the full-text index says an
//! indexed predicate can match (`col = 'v'`, `col IN (…)`,
//! `matches(col, 'query')`, `AND`/`OR` of them) and the rows deletion
//! vectors remove.
//!
//! Files the manifest's min/max/null summaries rule out are never opened.
//!
//! [`SqlContext::sql_with_cost`] runs a query with its own counters and an
//! optional [`Budget`](infino_store::Budget): it reports exactly what the
//! query sent to the object store, and a request past the budget is refused
//! before it is sent ([`SqlError::BudgetExceeded`]).
//!
//! Search is SQL too: `bm25_search(table, column, query, k)`,
//! `vector_search(table, column, vector, k [, nprobe] [, filter])`,
//! `hybrid_search(table, text_column, query, vector_column, vector, k)`,
//! `highlight(table, column, query, k)`, `exact_match(table, column, value)`
//! and `token_match(table, column, text, 'any'|'all')` are table functions
//! returning `_id`, `_score` and the table's columns.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! # use std::sync::Arc;
//! # use arrow::array::{Int64Array, RecordBatch};
//! # use arrow::datatypes::{DataType, Field, Schema};
//! use infino_sql::SqlContext;
//! use infino_table::Connection;
//!
//! let conn = Connection::connect("memory://")?;
//! let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
//! let t = conn.create_table("t", schema.clone(), &Default::default()).await?;
//! t.append(&[RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1, 2, 3]))])?]).await?;
//! let sql = SqlContext::new(&conn).await?;
//! let out = sql.sql("SELECT sum(x) AS s, max(_id) AS m FROM t").await?;
//! assert_eq!(arrow::util::pretty::pretty_format_batches(&out)?.to_string().lines().nth(3), Some("| 6 | 2 |"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod allow;
mod args;
mod cost;
mod explain;
mod functions;
mod matching;
mod provider;
mod prune;
mod pushdown;
mod reader;
mod take_scan;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use arrow::array::RecordBatch;
use datafusion::common::plan_err;
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{DataFrame, SessionContext};
use infino_store::{BudgetExceeded, QueryCost};
use infino_table::{Connection, Table, TableError};

/// Errors from SQL: DataFusion's (syntax, planning, unknown table or
/// column, type errors, execution) with its message, or the table layer's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    /// DataFusion rejected or failed the query.
    #[error("SQL: {0}")]
    DataFusion(Box<DataFusionError>),
    /// Reading the catalog or a manifest failed.
    #[error(transparent)]
    Table(Box<TableError>),
    /// A request would have taken the query past its
    /// [`Budget`](infino_store::Budget) ([`SqlContext::sql_with_cost`]); it
    /// was refused before it was sent.
    #[error("SQL query refused: {exceeded}")]
    BudgetExceeded {
        /// Which limit, and by how much.
        #[source]
        exceeded: BudgetExceeded,
        /// What the query had cost when it was stopped.
        cost: QueryCost,
    },
}

impl From<DataFusionError> for SqlError {
    fn from(e: DataFusionError) -> Self {
        Self::DataFusion(Box::new(e))
    }
}

impl From<TableError> for SqlError {
    fn from(e: TableError) -> Self {
        Self::Table(Box::new(e))
    }
}

/// Result alias for SQL.
pub type Result<T, E = SqlError> = std::result::Result<T, E>;

/// The pinned tables of a context by name, shared with its table functions.
pub(crate) type Tables = Arc<RwLock<HashMap<String, Arc<provider::InfinoTable>>>>;

/// The provider of the pinned snapshot registered under `name`, for
/// `function`.
pub(crate) fn resolve(
    tables: &Tables,
    function: &str,
    name: &str,
) -> datafusion::error::Result<Arc<provider::InfinoTable>> {
    let tables = tables.read().unwrap_or_else(PoisonError::into_inner);
    match tables.get(name) {
        Some(table) => Ok(Arc::clone(table)),
        None => plan_err!("{function}: no table named {name}"),
    }
}

/// `sql` planned in `ctx`, as `SessionContext::sql` does but with one copy
/// of the session state where that makes two (one to plan, one for the
/// data frame). Copying the state copies its registries of several hundred
/// functions: the second copy, and dropping it, were a tenth of a short
/// indexed query. Statements that change the context (DDL, `SET`,
/// `PREPARE`) still go through the context.
async fn dataframe(ctx: &SessionContext, sql: &str) -> Result<DataFrame, DataFusionError> {
    let state = ctx.state();
    let plan = state.create_logical_plan(sql).await?;
    match plan {
        LogicalPlan::Ddl(_) | LogicalPlan::Statement(_) => ctx.execute_logical_plan(plan).await,
        plan => Ok(DataFrame::new(state, plan)),
    }
}

/// A DataFusion session over a connection's tables.
pub struct SqlContext {
    ctx: SessionContext,
    root: String,
    tables: Tables,
    store: infino_store::Store,
}

impl std::fmt::Debug for SqlContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlContext")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// Distinguishes the object-store URLs of different contexts.
static NEXT_ROOT: AtomicU64 = AtomicU64::new(0);

impl SqlContext {
    /// A session over every table of `conn`, each at its latest version.
    ///
    /// # Errors
    /// Catalog or manifest read errors.
    pub async fn new(conn: &Connection) -> Result<Self> {
        let root = format!(
            "infino://conn-{}/",
            NEXT_ROOT.fetch_add(1, Ordering::Relaxed)
        );
        let url = url::Url::parse(&root).map_err(|e| DataFusionError::External(Box::new(e)))?;
        let ctx = SessionContext::new();
        ctx.register_object_store(&url, conn.store().object_store());
        let tables = Tables::default();
        for kind in [
            functions::Kind::Bm25,
            functions::Kind::Vector,
            functions::Kind::Hybrid,
            functions::Kind::Exact,
            functions::Kind::Tokens,
            functions::Kind::Highlight,
        ] {
            let function = functions::SearchFunction {
                kind,
                tables: Arc::clone(&tables),
            };
            ctx.register_udtf(kind.name(), Arc::new(function));
        }
        ctx.register_udf(pushdown::matches_udf());
        let this = Self {
            ctx,
            root,
            tables,
            store: conn.store().clone(),
        };
        for name in conn.list_tables().await? {
            let table = conn.open_table(&name).await?;
            this.register_table(&table)?;
        }
        Ok(this)
    }

    /// Register (or replace) `table`'s pinned snapshot under its name.
    ///
    /// # Errors
    /// DataFusion errors building the provider.
    pub fn register_table(&self, table: &Table) -> Result<()> {
        let url = ObjectStoreUrl::parse(&self.root)?;
        let provider = Arc::new(provider::InfinoTable::new(table, self.store.clone(), url)?);
        self.ctx.deregister_table(table.name())?;
        self.ctx
            .register_table(table.name(), Arc::clone(&provider) as _)?;
        self.tables
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(table.name().to_owned(), provider);
        Ok(())
    }

    /// Run `sql` and collect the result.
    ///
    /// # Errors
    /// [`SqlError::DataFusion`] with DataFusion's message.
    pub async fn sql(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        Ok(dataframe(&self.ctx, sql).await?.collect().await?)
    }

    /// Run `sql` as a stream of batches.
    ///
    /// # Errors
    /// [`SqlError::DataFusion`] when planning fails.
    pub async fn sql_stream(&self, sql: &str) -> Result<SendableRecordBatchStream> {
        Ok(dataframe(&self.ctx, sql).await?.execute_stream().await?)
    }

    /// The underlying DataFusion session.
    pub fn session(&self) -> &SessionContext {
        &self.ctx
    }
}
