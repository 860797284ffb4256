//! A decorator that counts requests and bytes by operation kind.
//!
//! The counters; the decorator that feeds them is in [`layer`].
//!
//! On object storage every request costs money and a round trip, so the
//! engine measures them instead of guessing. The store-wide counter wraps the
//! backend beneath every other layer of ours, so each count is one request
//! the backend sent (retries inside `object_store`'s HTTP client count once).
//! A scoped store (one query) stacks another counting layer with its own
//! counters and an optional [`Budget`] on top of it, still below the disk
//! cache, so a scope counts exactly the backend requests its reads caused.
//!
//! Round trips are the longest chain of the scope's requests in which each
//! started only after the one before it had finished: the sequential
//! latencies a query waits for, whatever runs beside them. A request's depth
//! is one more than the deepest request finished when it starts; the count
//! is the deepest depth seen. A GET is in flight until its body has been
//! read or dropped. Ten concurrent ranged reads are one round trip; a footer
//! read followed by a page read is two, even while an unrelated read spans
//! both. (The peers' cold analysis counts RTTs the same way.)

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::cost::{Budget, BudgetExceeded, BudgetLimit};

mod layer;
pub(crate) use layer::CountingStore;

/// The kinds of request we count separately (they are priced separately).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// A GET of a whole object or a range.
    Get,
    /// A HEAD (metadata only).
    Head,
    /// A PUT of a whole object, a multipart part, or a multipart completion.
    Put,
    /// One page of a LIST.
    List,
    /// A DELETE.
    Delete,
    /// A server-side COPY.
    Copy,
}

impl RequestKind {
    /// Every kind, in a stable order.
    pub const ALL: [RequestKind; 6] = [
        RequestKind::Get,
        RequestKind::Head,
        RequestKind::Put,
        RequestKind::List,
        RequestKind::Delete,
        RequestKind::Copy,
    ];

    /// Upper-case HTTP-like name.
    pub fn name(self) -> &'static str {
        match self {
            RequestKind::Get => "GET",
            RequestKind::Head => "HEAD",
            RequestKind::Put => "PUT",
            RequestKind::List => "LIST",
            RequestKind::Delete => "DELETE",
            RequestKind::Copy => "COPY",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Live counters shared by a store and its clones.
#[derive(Debug, Default)]
pub struct IoCounters {
    requests: [AtomicU64; 6],
    bytes_read: AtomicU64,
    bytes_written: AtomicU64,
    /// Depth of the deepest finished request.
    deepest_done: AtomicU64,
    round_trips: AtomicU64,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    budget: Budget,
    /// Requests and bytes charged against `budget` (reserved before sending).
    charged_requests: AtomicU64,
    charged_bytes: AtomicU64,
}

impl IoCounters {
    /// Counters limited by `budget` (a scoped handle's or a cost scope's).
    pub(crate) fn with_budget(budget: Budget) -> Self {
        Self {
            budget,
            ..Self::default()
        }
    }

    fn add_request(&self, kind: RequestKind) {
        self.requests[kind.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Mark a request as started; it stays in flight until the guard drops.
    fn start(self: &Arc<Self>) -> InFlight {
        let depth = self.deepest_done.load(Ordering::Acquire) + 1;
        self.round_trips.fetch_max(depth, Ordering::AcqRel);
        InFlight {
            counters: Arc::clone(self),
            depth,
        }
    }

    /// Charge one request and `bytes` against the budget, or refuse.
    fn charge(&self, bytes: u64) -> Result<(), BudgetExceeded> {
        let requests = charge_one(&self.charged_requests, 1, self.budget.max_requests).map_err(
            |(max, would_be)| BudgetExceeded {
                limit: BudgetLimit::Requests,
                max,
                would_be,
            },
        )?;
        charge_bytes(&self.charged_bytes, bytes, self.budget.max_bytes).inspect_err(|_| {
            if requests {
                self.charged_requests.fetch_sub(1, Ordering::AcqRel);
            }
        })
    }

    /// Give back a charge whose request was not sent.
    fn refund(&self, bytes: u64) {
        if self.budget.max_requests.is_some() {
            self.charged_requests.fetch_sub(1, Ordering::AcqRel);
        }
        if self.budget.max_bytes.is_some() {
            self.charged_bytes.fetch_sub(bytes, Ordering::AcqRel);
        }
    }

    /// Charge bytes only known from a reply against the budget, or refuse.
    fn charge_reply_bytes(&self, bytes: u64) -> Result<(), BudgetExceeded> {
        charge_bytes(&self.charged_bytes, bytes, self.budget.max_bytes)
    }

    /// A consistent-enough copy of the counters (each counter is read atomically).
    pub fn snapshot(&self) -> IoStats {
        let mut requests = [0; 6];
        for (slot, counter) in requests.iter_mut().zip(&self.requests) {
            *slot = counter.load(Ordering::Relaxed);
        }
        IoStats {
            requests,
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
            bytes_written: self.bytes_written.load(Ordering::Relaxed),
            round_trips: self.round_trips.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            cache_misses: self.cache_misses.load(Ordering::Relaxed),
        }
    }
}

/// Add `amount` to `counter` unless that passes `max`; `Ok(true)` when charged.
fn charge_one(counter: &AtomicU64, amount: u64, max: Option<u64>) -> Result<bool, (u64, u64)> {
    let Some(max) = max else {
        return Ok(false);
    };
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
            let next = used.saturating_add(amount);
            (next <= max).then_some(next)
        })
        .map(|_| true)
        .map_err(|used| (max, used.saturating_add(amount)))
}

fn charge_bytes(counter: &AtomicU64, bytes: u64, max: Option<u64>) -> Result<(), BudgetExceeded> {
    charge_one(counter, bytes, max)
        .map(|_| ())
        .map_err(|(max, would_be)| BudgetExceeded {
            limit: BudgetLimit::Bytes,
            max,
            would_be,
        })
}

/// A request in flight, for round-trip counting.
#[derive(Debug)]
struct InFlight {
    counters: Arc<IoCounters>,
    /// Where this request sits in the longest chain that ends with it.
    depth: u64,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.counters
            .deepest_done
            .fetch_max(self.depth, Ordering::AcqRel);
    }
}

/// A point-in-time copy of the I/O counters. Subtract two to get the cost of
/// what happened in between.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoStats {
    requests: [u64; 6],
    /// Payload bytes received by GETs.
    pub bytes_read: u64,
    /// Payload bytes sent by PUTs and multipart parts.
    pub bytes_written: u64,
    /// Sequential round trips: the longest chain of requests each started
    /// after the previous finished (see the module docs).
    pub round_trips: u64,
    /// Reads served by the disk cache.
    pub cache_hits: u64,
    /// Reads of cacheable objects that went to the backend.
    pub cache_misses: u64,
}

impl IoStats {
    /// Requests of one kind.
    pub fn requests(&self, kind: RequestKind) -> u64 {
        self.requests[kind.index()]
    }

    /// Requests of all kinds.
    pub fn total_requests(&self) -> u64 {
        self.requests.iter().sum()
    }

    /// The difference `self - earlier`, saturating at zero.
    #[must_use]
    pub fn since(&self, earlier: &IoStats) -> IoStats {
        let mut requests = [0; 6];
        for (i, slot) in requests.iter_mut().enumerate() {
            *slot = self.requests[i].saturating_sub(earlier.requests[i]);
        }
        IoStats {
            requests,
            bytes_read: self.bytes_read.saturating_sub(earlier.bytes_read),
            bytes_written: self.bytes_written.saturating_sub(earlier.bytes_written),
            round_trips: self.round_trips.saturating_sub(earlier.round_trips),
            cache_hits: self.cache_hits.saturating_sub(earlier.cache_hits),
            cache_misses: self.cache_misses.saturating_sub(earlier.cache_misses),
        }
    }
}

impl fmt::Display for IoStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for kind in RequestKind::ALL {
            write!(f, "{}={} ", kind.name(), self.requests(kind))?;
        }
        write!(
            f,
            "read={}B written={}B round_trips={} cache_hits={} cache_misses={}",
            self.bytes_read,
            self.bytes_written,
            self.round_trips,
            self.cache_hits,
            self.cache_misses
        )
    }
}

/// The cost scopes of the future being polled, innermost last.
pub(crate) type TaskScopes = Arc<Vec<Arc<IoCounters>>>;

tokio::task_local! {
    /// Set while polling a future inside [`CostScope::run`](crate::CostScope::run).
    pub(crate) static TASK_SCOPES: TaskScopes;
}

/// The cost scopes of the current task, if any.
pub(crate) fn task_scopes() -> Option<TaskScopes> {
    TASK_SCOPES.try_with(Arc::clone).ok()
}

/// Whether `counters` is one of `list` (the same counters, not equal counts).
fn holds(list: &[Arc<IoCounters>], counters: &Arc<IoCounters>) -> bool {
    list.iter().any(|c| Arc::ptr_eq(c, counters))
}

/// Whether a read was served by the disk cache or had to go to the backend.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CacheOutcome {
    Hit,
    Miss,
}

/// Count a cacheable read in a handle's counters (`lineage`: its own and
/// those of the handles it was scoped from) and in the task's cost scopes
/// that are not among them, so no counters see it twice.
pub(crate) fn record_cache(lineage: &[Arc<IoCounters>], outcome: CacheOutcome) {
    let scopes = task_scopes();
    let extra = scopes
        .iter()
        .flat_map(|s| s.iter())
        .filter(|s| !holds(lineage, s));
    for counters in lineage.iter().chain(extra) {
        let slot = match outcome {
            CacheOutcome::Hit => &counters.cache_hits,
            CacheOutcome::Miss => &counters.cache_misses,
        };
        slot.fetch_add(1, Ordering::Relaxed);
    }
}

/// The counters one request is charged to: a layer's own and, on the
/// store-wide layer, the task's cost scope.
#[derive(Debug, Clone)]
pub(crate) struct Targets(Vec<Arc<IoCounters>>);

impl Targets {
    /// The store-wide layer charges its own counters and the task's cost
    /// scopes. A scoped layer charges its own, unless they are a cost scope
    /// of this task: then the store-wide layer charges them, once.
    pub(crate) fn new(own: &Arc<IoCounters>, store_wide: bool) -> Self {
        let scopes = task_scopes();
        let scopes = scopes.as_deref().map_or(&[][..], Vec::as_slice);
        if store_wide {
            let mut all = vec![Arc::clone(own)];
            all.extend(scopes.iter().filter(|s| !Arc::ptr_eq(s, own)).cloned());
            Self(all)
        } else if holds(scopes, own) {
            Self(Vec::new())
        } else {
            Self(vec![Arc::clone(own)])
        }
    }

    /// Charge every budget (all or none), then count the request in each
    /// and mark it in flight.
    pub(crate) fn begin(&self, kind: RequestKind, bytes: u64) -> object_store::Result<Begun> {
        for (i, counters) in self.0.iter().enumerate() {
            if let Err(e) = counters.charge(bytes) {
                for charged in &self.0[..i] {
                    charged.refund(bytes);
                }
                return Err(e.into_object_store());
            }
        }
        Ok(Begun(
            self.0
                .iter()
                .map(|counters| {
                    counters.add_request(kind);
                    counters.start()
                })
                .collect(),
        ))
    }

    /// Count a request that is never refused (aborting an upload).
    pub(crate) fn count(&self, kind: RequestKind) {
        for counters in &self.0 {
            counters.add_request(kind);
        }
    }

    pub(crate) fn add_written(&self, bytes: u64) {
        for counters in &self.0 {
            counters.bytes_written.fetch_add(bytes, Ordering::Relaxed);
        }
    }
}

/// A request charged to its targets, in flight until dropped.
#[derive(Debug)]
pub(crate) struct Begun(Vec<InFlight>);

impl Begun {
    pub(crate) fn add_read(&self, bytes: u64) {
        for flight in &self.0 {
            flight
                .counters
                .bytes_read
                .fetch_add(bytes, Ordering::Relaxed);
        }
    }

    /// Charge bytes only known from the reply, or refuse.
    pub(crate) fn charge_reply(&self, bytes: u64) -> object_store::Result<()> {
        for flight in &self.0 {
            flight
                .counters
                .charge_reply_bytes(bytes)
                .map_err(BudgetExceeded::into_object_store)?;
        }
        Ok(())
    }
}
