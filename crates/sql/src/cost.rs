//! One SQL query's exact cost, and a budget it must stay within.
//!
//! A query's requests come from two places: the table layer (index
//! pushdown, deletion vectors, table functions), which runs while the query
//! is planned on the caller's task through each table's own store handle,
//! and DataFusion's Parquet scans, which run on tasks DataFusion spawns per
//! partition. A [`CostScope`] wrapped around the query sees the first kind
//! (it charges every request made while the query's future is polled) but
//! not the second (task-locals do not follow a spawn). So the query also
//! carries the scope's own store handle in its session config
//! ([`QueryStore`]) and every scan of that session reads through it: each
//! request is then charged to the scope exactly once, whichever task sends
//! it, and the scope's budget refuses the one that would pass it before it
//! is sent.

use std::sync::Arc;

use arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use infino_store::{Budget, BudgetExceeded, CostScope, PriceTable, QueryCost, Store};

use crate::{Result, SqlContext, SqlError};

/// The store handle one query's scans read through: a session-config
/// extension set for that query alone.
#[derive(Debug)]
pub(crate) struct QueryStore(Store);

impl QueryStore {
    /// The handle charged to the query's scope.
    pub(crate) fn store(&self) -> &Store {
        &self.0
    }
}

impl SqlContext {
    /// Run `sql`, collect the result and report what it cost: every request
    /// it sent (by kind), bytes, round trips and cache hits and misses,
    /// priced with `prices`. The report is exact: it equals what the
    /// store-wide counter saw for the query, whichever task sent each
    /// request. A request that would take the query past `budget` is refused
    /// before it is sent and the query fails with
    /// [`SqlError::BudgetExceeded`].
    ///
    /// Metadata and deletion vectors the context already loaded for its
    /// pinned snapshots are not read again, so a second run of a query may
    /// cost less than the first.
    ///
    /// # Errors
    /// [`SqlError::BudgetExceeded`] when the budget is hit, otherwise as
    /// [`SqlContext::sql`].
    pub async fn sql_with_cost(
        &self,
        sql: &str,
        budget: Budget,
        prices: PriceTable,
    ) -> Result<(Vec<RecordBatch>, QueryCost)> {
        let scope = CostScope::new(budget, prices);
        let mut state = self.ctx.state();
        state
            .config_mut()
            .set_extension(Arc::new(QueryStore(scope.store(&self.store))));
        // Same catalog, functions and options as the context; only this
        // query's config carries the scoped handle.
        let ctx = SessionContext::new_with_state(state);
        let run = async { Ok::<_, SqlError>(crate::dataframe(&ctx, sql).await?.collect().await?) };
        match scope.run(run).await {
            Ok(batches) => Ok((batches, scope.cost())),
            Err(e) => Err(over_budget(e, &scope).unwrap_or_else(|e| e)),
        }
    }
}

/// `Ok(SqlError::BudgetExceeded)` when `error` was caused by the budget
/// (however DataFusion, Parquet or the table layer wrapped it), else
/// `Err(error)` unchanged.
fn over_budget(error: SqlError, scope: &CostScope) -> Result<SqlError, SqlError> {
    let found = match &error {
        SqlError::DataFusion(e) => BudgetExceeded::find(e.as_ref()),
        SqlError::Table(e) => BudgetExceeded::find(e.as_ref()),
        SqlError::BudgetExceeded { exceeded, .. } => Some(exceeded),
    };
    match found.cloned() {
        Some(exceeded) => Ok(SqlError::BudgetExceeded {
            exceeded,
            cost: scope.cost(),
        }),
        None => Err(error),
    }
}
