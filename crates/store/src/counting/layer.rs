//! [`CountingStore`]: the `object_store` decorator that counts, times and
//! budgets every request it forwards.

use std::fmt;
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetRange, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, UploadPart,
};

use super::{Begun, IoCounters, RequestKind, Targets};

/// Wraps a store and counts every request it forwards, refusing those
/// that would pass a budget. The store-wide layer (`store_wide`) also
/// charges the cost scope of the task sending the request, if any.
#[derive(Debug)]
pub(crate) struct CountingStore {
    inner: Arc<dyn ObjectStore>,
    counters: Arc<IoCounters>,
    store_wide: bool,
}

impl CountingStore {
    /// The store-wide layer, directly over the backend.
    pub(crate) fn store_wide(inner: Arc<dyn ObjectStore>, counters: Arc<IoCounters>) -> Self {
        Self {
            inner,
            counters,
            store_wide: true,
        }
    }

    /// A scoped handle's layer, over its parent's.
    pub(crate) fn scoped(inner: Arc<dyn ObjectStore>, counters: Arc<IoCounters>) -> Self {
        Self {
            inner,
            counters,
            store_wide: false,
        }
    }

    fn targets(&self) -> Targets {
        Targets::new(&self.counters, self.store_wide)
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
        let targets = self.targets();
        let _flight = targets.begin(RequestKind::Put, len)?;
        targets.add_written(len);
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        // Initiating an upload is a POST; it is priced like a PUT.
        let targets = self.targets();
        let _flight = targets.begin(RequestKind::Put, 0)?;
        let inner = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(CountingUpload { inner, targets }))
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
        let flight = self.targets().begin(kind, known.unwrap_or(0))?;
        let mut result = self.inner.get_opts(location, options).await?;
        if head {
            return Ok(result);
        }
        let len = result.range.end - result.range.start;
        flight.add_read(len);
        if known.is_none() {
            // The reply's headers tell the length: refuse before the body.
            flight.charge_reply(len)?;
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
        let flights: Arc<Mutex<Vec<Begun>>> = Arc::default();
        let targets = self.targets();
        let started = Arc::clone(&flights);
        let counted = locations
            .map(move |item| {
                let path = item?;
                let flight = targets.begin(RequestKind::Delete, 0)?;
                started
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(flight);
                Ok(path)
            })
            .boxed();
        self.inner
            .delete_stream(counted)
            .map(move |outcome| {
                flights.lock().unwrap_or_else(PoisonError::into_inner).pop();
                outcome
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        // Pages are invisible through the stream API; count one request per
        // 1000 entries (the S3/Azure page size) and at least one.
        let targets = self.targets();
        let flight = match targets.begin(RequestKind::List, 0) {
            Ok(flight) => flight,
            Err(e) => return futures::stream::once(futures::future::ready(Err(e))).boxed(),
        };
        let mut pages = vec![flight];
        let mut seen: u64 = 0;
        self.inner
            .list(prefix)
            .map(move |item| {
                let meta = item?;
                seen += 1;
                if seen.is_multiple_of(1000) {
                    pages.push(targets.begin(RequestKind::List, 0)?);
                }
                Ok(meta)
            })
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let _flight = self.targets().begin(RequestKind::List, 0)?;
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        let _flight = self.targets().begin(RequestKind::Copy, 0)?;
        self.inner.copy_opts(from, to, options).await
    }
}

/// Counts the parts and completion of a multipart upload, to the targets of
/// the request that started it.
#[derive(Debug)]
struct CountingUpload {
    inner: Box<dyn MultipartUpload>,
    targets: Targets,
}

#[async_trait]
impl MultipartUpload for CountingUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let len = data.content_length() as u64;
        if let Err(e) = self.targets.begin(RequestKind::Put, len) {
            return Box::pin(futures::future::ready(Err(e)));
        }
        self.targets.add_written(len);
        self.inner.put_part(data)
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let _flight = self.targets.begin(RequestKind::Put, 0)?;
        self.inner.complete().await
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        // Cleaning up is never refused: a budget must not leak uploads.
        self.targets.count(RequestKind::Delete);
        self.inner.abort().await
    }
}
