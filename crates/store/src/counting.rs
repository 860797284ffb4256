//! A decorator that counts requests and bytes by operation kind.
//!
//! On object storage every request costs money and a round trip, so the
//! engine measures them instead of guessing. The store-wide counter wraps the
//! backend beneath every other layer of ours, so each count is one request
//! the backend sent (retries inside `object_store`'s HTTP client count once).
//! A scoped store (one query) stacks another counting layer with its own
//! counters and an optional [`Budget`] on top of it, still below the disk
//! cache, so a scope counts exactly the backend requests its reads caused.
//!
//! Round trips are counted as sequential waves: a request that starts while
//! none of the scope's requests is in flight opens a new round trip; one
//! that starts while another is in flight joins the current one. A GET is in
//! flight until its body has been read or dropped. Ten concurrent ranged
//! reads are one round trip; a footer read followed by a page read is two.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetRange, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, UploadPart,
};

use crate::cost::{Budget, BudgetExceeded, BudgetLimit};

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
    in_flight: AtomicI64,
    round_trips: AtomicU64,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    budget: Budget,
    /// Requests and bytes charged against `budget` (reserved before sending).
    charged_requests: AtomicU64,
    charged_bytes: AtomicU64,
    /// The enclosing scope, which sees this scope's cache hits and misses too
    /// (its requests it counts itself, one layer further down).
    parent: Option<Arc<IoCounters>>,
}

impl IoCounters {
    /// Counters for a scope nested in `parent`, limited by `budget`.
    pub(crate) fn scoped(parent: Arc<IoCounters>, budget: Budget) -> Self {
        Self {
            budget,
            parent: Some(parent),
            ..Self::default()
        }
    }

    fn add_request(&self, kind: RequestKind) {
        self.requests[kind.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// A read was served by the disk cache.
    pub(crate) fn add_cache_hit(&self) {
        self.cache_hits.fetch_add(1, Ordering::Relaxed);
        if let Some(parent) = &self.parent {
            parent.add_cache_hit();
        }
    }

    /// A cacheable read had to go to the backend.
    pub(crate) fn add_cache_miss(&self) {
        self.cache_misses.fetch_add(1, Ordering::Relaxed);
        if let Some(parent) = &self.parent {
            parent.add_cache_miss();
        }
    }

    /// Mark a request as started; it stays in flight until the guard drops.
    fn start(self: &Arc<Self>) -> InFlight {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) == 0 {
            self.round_trips.fetch_add(1, Ordering::Relaxed);
        }
        InFlight {
            counters: Arc::clone(self),
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
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.counters.in_flight.fetch_sub(1, Ordering::AcqRel);
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
    /// Sequential waves of requests (see the module docs).
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

/// Wraps a store and counts every request it forwards, refusing those
/// that would pass the counters' budget.
#[derive(Debug)]
pub(crate) struct CountingStore {
    inner: Arc<dyn ObjectStore>,
    counters: Arc<IoCounters>,
}

impl CountingStore {
    pub(crate) fn new(inner: Arc<dyn ObjectStore>, counters: Arc<IoCounters>) -> Self {
        Self { inner, counters }
    }

    /// Charge a request about to be sent; count it and mark it in flight.
    fn begin(&self, kind: RequestKind, bytes: u64) -> object_store::Result<InFlight> {
        self.counters
            .charge(bytes)
            .map_err(BudgetExceeded::into_object_store)?;
        self.counters.add_request(kind);
        Ok(self.counters.start())
    }
}

impl fmt::Display for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counting({})", self.inner)
    }
}

/// Bytes a GET will return at most, when that is known before sending it.
fn known_len(options: &GetOptions) -> Option<u64> {
    match &options.range {
        _ if options.head => Some(0),
        Some(GetRange::Bounded(r)) => Some(r.end.saturating_sub(r.start)),
        Some(GetRange::Suffix(n)) => Some(*n),
        Some(GetRange::Offset(_)) | None => None,
    }
}

#[async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let len = payload.content_length() as u64;
        let _flight = self.begin(RequestKind::Put, len)?;
        self.counters
            .bytes_written
            .fetch_add(len, Ordering::Relaxed);
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        // Initiating an upload is a POST; it is priced like a PUT.
        let _flight = self.begin(RequestKind::Put, 0)?;
        let inner = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(CountingUpload {
            inner,
            counters: Arc::clone(&self.counters),
        }))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let head = options.head;
        let kind = if head {
            RequestKind::Head
        } else {
            RequestKind::Get
        };
        let known = known_len(&options);
        let flight = self.begin(kind, known.unwrap_or(0))?;
        let mut result = self.inner.get_opts(location, options).await?;
        if head {
            return Ok(result);
        }
        let len = result.range.end - result.range.start;
        self.counters.bytes_read.fetch_add(len, Ordering::Relaxed);
        if known.is_none() {
            // The reply's headers tell the length: refuse before the body.
            self.counters
                .charge_reply_bytes(len)
                .map_err(BudgetExceeded::into_object_store)?;
        }
        if let GetResultPayload::Stream(stream) = result.payload {
            // The request stays in flight until its body is read or dropped.
            result.payload = GetResultPayload::Stream(
                stream
                    .map(move |chunk| {
                        let _still_reading = &flight;
                        chunk
                    })
                    .boxed(),
            );
        }
        Ok(result)
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        // Route through `get_opts` per range so each request is counted.
        let mut out = Vec::with_capacity(ranges.len());
        for range in ranges {
            let options = GetOptions {
                range: Some(range.clone().into()),
                ..GetOptions::default()
            };
            out.push(self.get_opts(location, options).await?.bytes().await?);
        }
        Ok(out)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        // Each delete is in flight from when it is handed to the backend
        // until its outcome comes back.
        let flights: Arc<std::sync::Mutex<Vec<InFlight>>> = Arc::default();
        let counters = Arc::clone(&self.counters);
        let started = Arc::clone(&flights);
        let counted = locations
            .map(move |item| {
                let path = item?;
                counters
                    .charge(0)
                    .map_err(BudgetExceeded::into_object_store)?;
                counters.add_request(RequestKind::Delete);
                let flight = counters.start();
                started
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(flight);
                Ok(path)
            })
            .boxed();
        self.inner
            .delete_stream(counted)
            .map(move |outcome| {
                flights
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .pop();
                outcome
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        // Pages are invisible through the stream API; count one request per
        // 1000 entries (the S3/Azure page size) and at least one.
        let flight = match self.begin(RequestKind::List, 0) {
            Ok(flight) => flight,
            Err(e) => return futures::stream::once(futures::future::ready(Err(e))).boxed(),
        };
        let counters = Arc::clone(&self.counters);
        let mut seen: u64 = 0;
        self.inner
            .list(prefix)
            .map(move |item| {
                let _listing = &flight;
                let meta = item?;
                seen += 1;
                if seen.is_multiple_of(1000) {
                    counters
                        .charge(0)
                        .map_err(BudgetExceeded::into_object_store)?;
                    counters.add_request(RequestKind::List);
                }
                Ok(meta)
            })
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let _flight = self.begin(RequestKind::List, 0)?;
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        let _flight = self.begin(RequestKind::Copy, 0)?;
        self.inner.copy_opts(from, to, options).await
    }
}

/// Counts the parts and completion of a multipart upload.
#[derive(Debug)]
struct CountingUpload {
    inner: Box<dyn MultipartUpload>,
    counters: Arc<IoCounters>,
}

#[async_trait]
impl MultipartUpload for CountingUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let len = data.content_length() as u64;
        if let Err(e) = self.counters.charge(len) {
            return Box::pin(futures::future::ready(Err(e.into_object_store())));
        }
        self.counters.add_request(RequestKind::Put);
        self.counters
            .bytes_written
            .fetch_add(len, Ordering::Relaxed);
        self.inner.put_part(data)
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        self.counters
            .charge(0)
            .map_err(BudgetExceeded::into_object_store)?;
        self.counters.add_request(RequestKind::Put);
        self.inner.complete().await
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        // Cleaning up is never refused: a budget must not leak uploads.
        self.counters.add_request(RequestKind::Delete);
        self.inner.abort().await
    }
}
