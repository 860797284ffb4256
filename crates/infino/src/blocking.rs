//! A blocking facade over the async API, for callers without a runtime.
//!
//! Every call runs the async method to completion on one runtime shared by
//! the process (started on first use). Do not call these from inside an
//! async task: use the async API there.
//!
//! ```
//! use std::sync::Arc;
//! use infino::arrow::array::{Int64Array, RecordBatch, StringArray};
//! use infino::arrow::datatypes::{DataType, Field, Schema};
//! use infino::{FtsConfig, IndexSpec};
//!
//! let db = infino::blocking::connect("memory://")?;
//! let schema = Arc::new(Schema::new(vec![
//!     Field::new("id", DataType::Int64, false),
//!     Field::new("text", DataType::Utf8, true),
//! ]));
//! let spec = IndexSpec::default().with_fts("text", FtsConfig::default());
//! let table = db.create_table("notes", schema.clone(), &spec)?;
//! let batch = RecordBatch::try_new(schema, vec![
//!     Arc::new(Int64Array::from(vec![1, 2])),
//!     Arc::new(StringArray::from(vec!["object storage is cheap", "search must be fast"])),
//! ])?;
//! let table = table.append(&[batch])?;
//! assert_eq!(table.search("text", "fast", 10, &["id"])?.num_rows(), 1);
//! let table = table.delete("id = 2")?.table;
//! assert_eq!(table.count("text", "fast")?, 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::future::Future;
use std::sync::OnceLock;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use infino_superfile::IndexSpec;
use infino_table::{
    Fusion, GcOptions, GcReport, Hit, MatchMode, OptimizeOptions, RowFilter, TableError,
    TableOptions, TableStats, VectorQuery, VersionInfo,
};

type Result<T, E = TableError> = std::result::Result<T, E>;

fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<std::io::Result<tokio::runtime::Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .thread_name("infino-io")
                .enable_all()
                .build()
        })
        .as_ref()
        .map_err(|e| {
            TableError::Store(Box::new(infino_store::StoreError::LocalIo {
                op: "start the blocking runtime",
                path: String::new(),
                source: std::io::Error::new(e.kind(), e.to_string()),
            }))
        })
}

fn block<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    runtime()?.block_on(future)
}

/// Connect to a storage root (see [`crate::connect`]).
///
/// # Errors
/// As [`crate::connect`].
pub fn connect(uri: &str) -> Result<Connection> {
    Ok(Connection(infino_table::Connection::connect(uri)?))
}

/// [`connect`] with storage options.
///
/// # Errors
/// As [`crate::connect_with`].
pub fn connect_with<K: Into<String>, V: Into<String>>(
    uri: &str,
    options: impl IntoIterator<Item = (K, V)>,
) -> Result<Connection> {
    Ok(Connection(infino_table::Connection::connect_with(
        uri, options,
    )?))
}

/// A blocking [`infino_table::Connection`].
#[derive(Debug, Clone)]
pub struct Connection(pub infino_table::Connection);

impl Connection {
    /// See [`infino_table::Connection::create_table`].
    ///
    /// # Errors
    /// As the async method.
    pub fn create_table(&self, name: &str, schema: SchemaRef, spec: &IndexSpec) -> Result<Table> {
        block(self.0.create_table(name, schema, spec)).map(Table)
    }

    /// See [`infino_table::Connection::create_table_with`].
    ///
    /// # Errors
    /// As the async method.
    pub fn create_table_with(
        &self,
        name: &str,
        schema: SchemaRef,
        spec: &IndexSpec,
        options: &TableOptions,
    ) -> Result<Table> {
        block(self.0.create_table_with(name, schema, spec, options)).map(Table)
    }

    /// See [`infino_table::Connection::open_table`].
    ///
    /// # Errors
    /// As the async method.
    pub fn open_table(&self, name: &str) -> Result<Table> {
        block(self.0.open_table(name)).map(Table)
    }

    /// See [`infino_table::Connection::open_table_at`].
    ///
    /// # Errors
    /// As the async method.
    pub fn open_table_at(&self, name: &str, version: u64) -> Result<Table> {
        block(self.0.open_table_at(name, version)).map(Table)
    }

    /// See [`infino_table::Connection::list_tables`].
    ///
    /// # Errors
    /// As the async method.
    pub fn list_tables(&self) -> Result<Vec<String>> {
        block(self.0.list_tables())
    }

    /// See [`infino_table::Connection::drop_table`].
    ///
    /// # Errors
    /// As the async method.
    pub fn drop_table(&self, name: &str) -> Result<()> {
        block(self.0.drop_table(name))
    }

    /// Run SQL over every table of the connection at its latest version.
    ///
    /// # Errors
    /// [`infino_sql::SqlError`] from DataFusion or the catalog.
    pub fn sql(&self, sql: &str) -> Result<Vec<RecordBatch>, infino_sql::SqlError> {
        let rt = runtime()?;
        rt.block_on(async { infino_sql::SqlContext::new(&self.0).await?.sql(sql).await })
    }

    /// [`Connection::sql`] with the query's exact cost, limited by `budget`
    /// (see [`infino_sql::SqlContext::sql_with_cost`]). The cost is the
    /// query's: reading the catalog to plan it (a listing and each table's
    /// manifest, as for every call of [`Connection::sql`]) is not included
    /// and not limited.
    ///
    /// # Errors
    /// [`infino_sql::SqlError::BudgetExceeded`] when the budget is hit,
    /// otherwise as [`Connection::sql`].
    pub fn sql_with_cost(
        &self,
        sql: &str,
        budget: infino_store::Budget,
        prices: infino_store::PriceTable,
    ) -> Result<(Vec<RecordBatch>, infino_store::QueryCost), infino_sql::SqlError> {
        let rt = runtime()?;
        rt.block_on(async {
            infino_sql::SqlContext::new(&self.0)
                .await?
                .sql_with_cost(sql, budget, prices)
                .await
        })
    }
}

/// A blocking [`infino_table::Table`]: one pinned version.
#[derive(Debug, Clone)]
pub struct Table(pub infino_table::Table);

/// What a blocking mutation did.
pub struct Mutation {
    /// The table at the committed version.
    pub table: Table,
    /// Rows deleted or replaced.
    pub deleted: u64,
    /// Rows written.
    pub inserted: u64,
}

impl From<infino_table::Mutation> for Mutation {
    fn from(m: infino_table::Mutation) -> Self {
        Self {
            table: Table(m.table),
            deleted: m.deleted,
            inserted: m.inserted,
        }
    }
}

impl Table {
    /// Table name.
    pub fn name(&self) -> &str {
        self.0.name()
    }

    /// The pinned version.
    pub fn version(&self) -> u64 {
        self.0.version()
    }

    /// The schema (without `_id`).
    pub fn schema(&self) -> SchemaRef {
        self.0.schema()
    }

    /// Live rows.
    pub fn num_rows(&self) -> u64 {
        self.0.num_rows()
    }

    /// See [`infino_table::Table::stats`].
    pub fn stats(&self) -> TableStats {
        self.0.stats()
    }

    /// See [`infino_table::Table::versions`].
    ///
    /// # Errors
    /// As the async method.
    pub fn versions(&self) -> Result<Vec<VersionInfo>> {
        block(self.0.versions())
    }

    /// See [`infino_table::Table::checkout_latest`].
    ///
    /// # Errors
    /// As the async method.
    pub fn checkout_latest(&self) -> Result<Table> {
        block(self.0.checkout_latest()).map(Table)
    }

    /// See [`infino_table::Table::append`].
    ///
    /// # Errors
    /// As the async method.
    pub fn append(&self, batches: &[RecordBatch]) -> Result<Table> {
        block(self.0.append(batches)).map(Table)
    }

    /// See [`infino_table::Table::search`].
    ///
    /// # Errors
    /// As the async method.
    pub fn search(
        &self,
        column: &str,
        query: &str,
        k: usize,
        columns: &[&str],
    ) -> Result<RecordBatch> {
        block(self.0.search(column, query, k, columns))
    }

    /// See [`infino_table::Table::search_hits`].
    ///
    /// # Errors
    /// As the async method.
    pub fn search_hits(&self, column: &str, query: &str, k: usize) -> Result<Vec<Hit>> {
        block(self.0.search_hits(column, query, k))
    }

    /// See [`infino_table::Table::vector_search`].
    ///
    /// # Errors
    /// As the async method.
    pub fn vector_search(&self, query: &VectorQuery<'_>, columns: &[&str]) -> Result<RecordBatch> {
        block(self.0.vector_search(query, columns))
    }

    /// See [`infino_table::Table::hybrid_search`].
    ///
    /// # Errors
    /// As the async method.
    pub fn hybrid_search(
        &self,
        text_column: &str,
        text_query: &str,
        vector: &VectorQuery<'_>,
        k: usize,
        fusion: Fusion,
        columns: &[&str],
    ) -> Result<RecordBatch> {
        block(
            self.0
                .hybrid_search(text_column, text_query, vector, k, fusion, columns),
        )
    }

    /// See [`infino_table::Table::count`].
    ///
    /// # Errors
    /// As the async method.
    pub fn count(&self, column: &str, query: &str) -> Result<u64> {
        block(self.0.count(column, query))
    }

    /// See [`infino_table::Table::token_match`].
    ///
    /// # Errors
    /// As the async method.
    pub fn token_match(
        &self,
        column: &str,
        text: &str,
        mode: MatchMode,
        limit: usize,
        columns: &[&str],
    ) -> Result<RecordBatch> {
        block(self.0.token_match(column, text, mode, limit, columns))
    }

    /// See [`infino_table::Table::exact_match`].
    ///
    /// # Errors
    /// As the async method.
    pub fn exact_match(
        &self,
        column: &str,
        value: &str,
        limit: usize,
        columns: &[&str],
    ) -> Result<RecordBatch> {
        block(self.0.exact_match(column, value, limit, columns))
    }

    /// See [`infino_table::Table::scan`].
    ///
    /// # Errors
    /// As the async method.
    pub fn scan(&self, columns: Option<&[&str]>) -> Result<Vec<RecordBatch>> {
        block(self.0.scan(columns))
    }

    /// See [`infino_table::Table::delete`].
    ///
    /// # Errors
    /// As the async method.
    pub fn delete(&self, filter: impl Into<RowFilter>) -> Result<Mutation> {
        block(self.0.delete(filter)).map(Mutation::from)
    }

    /// See [`infino_table::Table::update`].
    ///
    /// # Errors
    /// As the async method.
    pub fn update(
        &self,
        filter: impl Into<RowFilter>,
        assignments: &[(&str, &str)],
    ) -> Result<Mutation> {
        block(self.0.update(filter, assignments)).map(Mutation::from)
    }

    /// See [`infino_table::Table::upsert`].
    ///
    /// # Errors
    /// As the async method.
    pub fn upsert(&self, batches: &[RecordBatch]) -> Result<Mutation> {
        block(self.0.upsert(batches)).map(Mutation::from)
    }

    /// See [`infino_table::Table::optimize`]; returns the compacted table.
    ///
    /// # Errors
    /// As the async method.
    pub fn optimize(&self, options: &OptimizeOptions) -> Result<Table> {
        block(self.0.optimize(options)).map(|o| Table(o.table))
    }

    /// See [`infino_table::Table::gc`].
    ///
    /// # Errors
    /// As the async method.
    pub fn gc(&self, options: &GcOptions) -> Result<GcReport> {
        block(self.0.gc(options))
    }
}
