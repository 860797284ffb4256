//! Scoped stores (one query's counters and budget) and the disk cache's
//! controls, as methods of [`Store`].

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::path::Path;
use object_store::prefix::PrefixStore;

use crate::cache::{CacheLayer, CacheStats};
use crate::cost::{Budget, PriceTable, QueryCost};
use crate::counting::{CountingStore, IoCounters};
use crate::store::Store;

impl Store {
    /// A handle for one query: same backend, same disk cache, but its own
    /// counters, so [`Store::cost`] on it reports exactly what the query
    /// sent. Requests through the scoped handle are still counted by this
    /// one (scopes nest); cache hits and misses are reported to both.
    #[must_use]
    pub fn scoped(&self) -> Store {
        self.scoped_with(Budget::UNLIMITED, self.prices)
    }

    /// [`Store::scoped`] with a [`Budget`]: a request that would take the
    /// scope past it fails with [`StoreError::BudgetExceeded`](crate::StoreError::BudgetExceeded) before it is
    /// sent. `prices` turns the scope's counts into [`QueryCost::estimated_usd`].
    #[must_use]
    pub fn scoped_with(&self, budget: Budget, prices: PriceTable) -> Store {
        self.charged_to(Arc::new(IoCounters::with_budget(budget)), prices)
    }

    /// A handle whose requests are charged to `counters` (then to this one's).
    pub(crate) fn charged_to(&self, counters: Arc<IoCounters>, prices: PriceTable) -> Store {
        let counted: Arc<dyn ObjectStore> = Arc::new(CountingStore::scoped(
            Arc::clone(&self.counted),
            Arc::clone(&counters),
        ));
        let lineage: Arc<[Arc<IoCounters>]> = std::iter::once(Arc::clone(&counters))
            .chain(self.lineage.iter().cloned())
            .collect();
        Store {
            inner: stack(&counted, &lineage, &self.prefix, self.cache.as_ref()),
            counted,
            lineage,
            prefix: self.prefix.clone(),
            cache: self.cache.clone(),
            kind: self.kind,
            config: Arc::clone(&self.config),
            counters,
            prices,
            uri: Arc::clone(&self.uri),
        }
    }

    /// What the disk cache holds and did so far; `None` without `cache_dir`.
    /// The counts are of the cache directory, shared by every store of this
    /// process that uses it.
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.cache.as_ref().map(CacheLayer::stats)
    }

    /// Wait until the disk-cache fills in flight now have ended (published
    /// or failed). Fills run on their own tasks; this is for tests, benchmarks
    /// and orderly shutdown.
    pub async fn wait_for_cache_fills(&self) {
        if let Some(cache) = &self.cache {
            cache.settle().await;
        }
    }

    /// What the requests through this handle (and its clones and scopes)
    /// cost so far: [`Store::stats`] priced with this handle's [`PriceTable`].
    pub fn cost(&self) -> QueryCost {
        let io = self.stats();
        QueryCost {
            io,
            estimated_usd: self.prices.estimate(&io),
        }
    }
}

/// The object-store stack above a counting layer: the disk cache (which
/// reports hits and misses to `lineage`), then the URI's prefix on top.
pub(crate) fn stack(
    counted: &Arc<dyn ObjectStore>,
    lineage: &Arc<[Arc<IoCounters>]>,
    prefix: &Path,
    cache: Option<&CacheLayer>,
) -> Arc<dyn ObjectStore> {
    let cached = match cache {
        Some(cache) => cache.wrap(Arc::clone(counted), Arc::clone(lineage)),
        None => Arc::clone(counted),
    };
    if prefix.as_ref().is_empty() {
        cached
    } else {
        Arc::new(PrefixStore::new(cached, prefix.clone()))
    }
}
