//! What one query costs: budgets, prices and the cost report.
//!
//! A query's I/O is measured by giving it its own [`Store`](crate::Store)
//! handle from [`Store::scoped`](crate::Store::scoped): the scoped handle
//! shares the backend and the disk cache but has its own counting layer, so
//! its [`IoStats`] hold exactly the requests that query sent. A [`Budget`] on
//! that layer refuses a request before it is sent when it would take the
//! scope past a limit, so a runaway query fails with
//! [`StoreError::BudgetExceeded`](crate::StoreError::BudgetExceeded) instead
//! of running up a bill.
//!
//! Where a component keeps its own `Store` handle (a table caches its opened
//! superfiles, each holding the table's store), a [`CostScope`] measures a
//! query without handing it a new handle: every request the store-wide
//! counter sees while a future inside [`CostScope::run`] is being polled is
//! charged to the scope too.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::Store;
use crate::counting::{IoCounters, IoStats, RequestKind, TASK_SCOPES, task_scopes};

/// Limits on what one scope (usually one query) may send. `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Budget {
    /// Most requests of all kinds together.
    pub max_requests: Option<u64>,
    /// Most payload bytes moved, read and written together. A ranged read is
    /// charged its requested length before it is sent; a read whose length
    /// is only known from the reply (a whole-object GET) is checked against
    /// the reply's headers, before its body is downloaded.
    pub max_bytes: Option<u64>,
}

impl Budget {
    /// No limits.
    pub const UNLIMITED: Budget = Budget {
        max_requests: None,
        max_bytes: None,
    };

    /// Whether any limit is set.
    pub fn is_limited(&self) -> bool {
        self.max_requests.is_some() || self.max_bytes.is_some()
    }
}

/// Which limit of a [`Budget`] was hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetLimit {
    /// [`Budget::max_requests`].
    Requests,
    /// [`Budget::max_bytes`].
    Bytes,
}

impl fmt::Display for BudgetLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BudgetLimit::Requests => "request",
            BudgetLimit::Bytes => "byte",
        })
    }
}

/// A request was refused because it would have exceeded a [`Budget`].
///
/// This travels inside `object_store::Error::Generic` through layers that
/// only speak `object_store` (DataFusion, Parquet readers); find it in any
/// error chain with [`BudgetExceeded::find`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "query {limit} budget exceeded: {would_be} would pass the limit of {max}; raise the budget or narrow the query"
)]
pub struct BudgetExceeded {
    /// The limit that was hit.
    pub limit: BudgetLimit,
    /// Its value.
    pub max: u64,
    /// What the scope's total would have become with the refused request.
    pub would_be: u64,
}

impl BudgetExceeded {
    /// The `store` name used when wrapping this in an `object_store` error.
    pub(crate) const STORE: &'static str = "infino-budget";

    /// The first `BudgetExceeded` in `error`'s source chain (the error itself
    /// included), for callers that get it wrapped by DataFusion or Parquet.
    pub fn find<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a BudgetExceeded> {
        let mut current = Some(error);
        while let Some(e) = current {
            if let Some(found) = e.downcast_ref::<BudgetExceeded>() {
                return Some(found);
            }
            if let Some(object_store::Error::Generic { source, .. }) =
                e.downcast_ref::<object_store::Error>()
                && let Some(found) = source.downcast_ref::<BudgetExceeded>()
            {
                return Some(found);
            }
            current = e.source();
        }
        None
    }

    pub(crate) fn into_object_store(self) -> object_store::Error {
        object_store::Error::Generic {
            store: Self::STORE,
            source: Box::new(self),
        }
    }
}

/// Prices used to estimate what a query cost, in US dollars.
///
/// The defaults are Amazon S3 Standard in us-east-1: GET and HEAD $0.0004
/// per 1,000, PUT, COPY and LIST $0.005 per 1,000, DELETE free, and data
/// transfer out to the internet $0.09 per GB (GiB, as AWS bills). Compute in
/// the bucket's region pays no transfer: set `egress_per_gb` to 0 there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PriceTable {
    /// Per 1,000 GET requests.
    pub get_per_1k: f64,
    /// Per 1,000 HEAD requests.
    pub head_per_1k: f64,
    /// Per 1,000 PUT requests (multipart parts and completions included).
    pub put_per_1k: f64,
    /// Per 1,000 LIST requests (pages).
    pub list_per_1k: f64,
    /// Per 1,000 DELETE requests.
    pub delete_per_1k: f64,
    /// Per 1,000 COPY requests.
    pub copy_per_1k: f64,
    /// Per GiB read from the store.
    pub egress_per_gb: f64,
}

impl Default for PriceTable {
    fn default() -> Self {
        Self::S3_STANDARD
    }
}

impl PriceTable {
    /// Amazon S3 Standard, us-east-1, internet egress.
    pub const S3_STANDARD: PriceTable = PriceTable {
        get_per_1k: 0.0004,
        head_per_1k: 0.0004,
        put_per_1k: 0.005,
        list_per_1k: 0.005,
        delete_per_1k: 0.0,
        copy_per_1k: 0.005,
        egress_per_gb: 0.09,
    };

    /// Price of one request of `kind`.
    pub fn per_request(&self, kind: RequestKind) -> f64 {
        let per_1k = match kind {
            RequestKind::Get => self.get_per_1k,
            RequestKind::Head => self.head_per_1k,
            RequestKind::Put => self.put_per_1k,
            RequestKind::List => self.list_per_1k,
            RequestKind::Delete => self.delete_per_1k,
            RequestKind::Copy => self.copy_per_1k,
        };
        per_1k / 1000.0
    }

    /// Estimated price of `io`: requests by kind plus bytes read.
    #[expect(clippy::cast_precision_loss, reason = "an estimate in dollars")]
    pub fn estimate(&self, io: &IoStats) -> f64 {
        let requests: f64 = RequestKind::ALL
            .iter()
            .map(|&kind| io.requests(kind) as f64 * self.per_request(kind))
            .sum();
        requests + io.bytes_read as f64 / f64::from(1u32 << 30) * self.egress_per_gb
    }
}

/// One query's I/O and what it cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueryCost {
    /// Requests by kind, bytes, round trips, cache hits and misses.
    pub io: IoStats,
    /// `io` priced with the scope's [`PriceTable`].
    pub estimated_usd: f64,
}

impl fmt::Display for QueryCost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ≈ ${:.8}", self.io, self.estimated_usd)
    }
}

/// One query's counters and budget, attached to the futures it runs rather
/// than to a store handle.
///
/// Requests are attributed while the future passed to [`CostScope::run`] is
/// polled, through whichever [`Store`](crate::Store) handle they are made
/// (all handles share the store-wide counter, which does the charging).
/// Scopes nest: a request inside an inner `run` is charged to every
/// enclosing scope. Work the future *spawns* onto other tasks is not
/// attributed unless wrapped with [`CostScope::carry`] or made through a
/// [`CostScope::store`] handle (DataFusion runs partitions on their own
/// tasks: give it such a handle); background cache fills are not the
/// query's and are never charged, a `prefetch` fetch is.
#[derive(Debug, Clone)]
pub struct CostScope {
    counters: Arc<IoCounters>,
    prices: PriceTable,
}

impl Default for CostScope {
    fn default() -> Self {
        Self::new(Budget::UNLIMITED, PriceTable::default())
    }
}

impl CostScope {
    /// A scope limited by `budget`, priced with `prices`.
    pub fn new(budget: Budget, prices: PriceTable) -> Self {
        Self {
            counters: Arc::new(IoCounters::with_budget(budget)),
            prices,
        }
    }

    /// Run `future`, charging its requests to this scope (and to any scope
    /// this call is itself running in). A request past the budget fails
    /// with [`StoreError::BudgetExceeded`](crate::StoreError::BudgetExceeded)
    /// before it is sent.
    pub async fn run<F: Future>(&self, future: F) -> F::Output {
        let mut scopes: Vec<Arc<IoCounters>> = task_scopes()
            .map(|outer| outer.iter().cloned().collect())
            .unwrap_or_default();
        scopes.push(Arc::clone(&self.counters));
        TASK_SCOPES.scope(Arc::new(scopes), future).await
    }

    /// A handle on `store` whose requests are charged to this scope wherever
    /// they are made — also on tasks the query spawns, such as DataFusion's
    /// partitions — and counted once when made inside [`CostScope::run`].
    /// Register `scope.store(&store).object_store()` with DataFusion and run
    /// the query inside `scope.run(..)`: its cost is then exact whichever
    /// task each request came from, and table searches made through other
    /// handles on the query's task are included.
    #[must_use]
    pub fn store(&self, store: &Store) -> Store {
        store.charged_to(Arc::clone(&self.counters), self.prices)
    }

    /// Wrap `future`, about to be spawned onto another task, so that it is
    /// charged to the cost scopes active here (task-locals do not follow
    /// `tokio::spawn`).
    pub fn carry<F: Future>(future: F) -> impl Future<Output = F::Output> {
        let scopes = task_scopes();
        async move {
            match scopes {
                Some(scopes) => TASK_SCOPES.scope(scopes, future).await,
                None => future.await,
            }
        }
    }

    /// Requests, bytes, round trips, cache hits and misses so far.
    pub fn stats(&self) -> IoStats {
        self.counters.snapshot()
    }

    /// [`CostScope::stats`] and its estimated price.
    pub fn cost(&self) -> QueryCost {
        let io = self.stats();
        QueryCost {
            io,
            estimated_usd: self.prices.estimate(&io),
        }
    }
}
