//! A decorator that counts requests and bytes by operation kind.
//!
//! On object storage every request costs money and a round trip, so the
//! engine measures them instead of guessing. The counter wraps the backend
//! beneath every other layer of ours, so each count is one request the
//! backend sent (retries inside `object_store`'s HTTP client count once).

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, UploadPart,
};

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
}

impl IoCounters {
    fn add_request(&self, kind: RequestKind) {
        self.requests[kind.index()].fetch_add(1, Ordering::Relaxed);
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
        }
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
            "read={}B written={}B",
            self.bytes_read, self.bytes_written
        )
    }
}

/// Wraps a store and counts every request it forwards.
#[derive(Debug)]
pub(crate) struct CountingStore {
    inner: Arc<dyn ObjectStore>,
    counters: Arc<IoCounters>,
}

impl CountingStore {
    pub(crate) fn new(inner: Arc<dyn ObjectStore>, counters: Arc<IoCounters>) -> Self {
        Self { inner, counters }
    }
}

impl fmt::Display for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counting({})", self.inner)
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
        self.counters.add_request(RequestKind::Put);
        self.counters
            .bytes_written
            .fetch_add(payload.content_length() as u64, Ordering::Relaxed);
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        // Initiating an upload is a POST; it is priced like a PUT.
        self.counters.add_request(RequestKind::Put);
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
        self.counters.add_request(if head {
            RequestKind::Head
        } else {
            RequestKind::Get
        });
        let result = self.inner.get_opts(location, options).await?;
        if !head {
            self.counters
                .bytes_read
                .fetch_add(result.range.end - result.range.start, Ordering::Relaxed);
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
        let counters = Arc::clone(&self.counters);
        let counted = locations
            .inspect(move |item| {
                if item.is_ok() {
                    counters.add_request(RequestKind::Delete);
                }
            })
            .boxed();
        self.inner.delete_stream(counted)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        // Pages are invisible through the stream API; count one request per
        // 1000 entries (the S3/Azure page size) and at least one.
        self.counters.add_request(RequestKind::List);
        let counters = Arc::clone(&self.counters);
        let mut seen: u64 = 0;
        self.inner
            .list(prefix)
            .inspect(move |_| {
                seen += 1;
                if seen.is_multiple_of(1000) {
                    counters.add_request(RequestKind::List);
                }
            })
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.counters.add_request(RequestKind::List);
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.counters.add_request(RequestKind::Copy);
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
        self.counters.add_request(RequestKind::Put);
        self.counters
            .bytes_written
            .fetch_add(data.content_length() as u64, Ordering::Relaxed);
        self.inner.put_part(data)
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        self.counters.add_request(RequestKind::Put);
        self.inner.complete().await
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.counters.add_request(RequestKind::Delete);
        self.inner.abort().await
    }
}
