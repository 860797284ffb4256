//! The disk cache, as an `object_store` decorator.
//!
//! It sits in [`Store`](crate::Store) above the counting layers, so the
//! counters see only the requests that reached the backend, and below the
//! URI prefix, so every reader of the store — ours, Parquet's, DataFusion's
//! through [`Store::object_store`](crate::Store::object_store) — is served
//! from it. Only objects that never change are cached: paths ending in one
//! of [`CacheConfig::suffixes`](crate::CacheConfig::suffixes) (superfiles,
//! manifests, deletion vectors), read without preconditions. A cached object
//! is identified by the backend, its path, and the size and ETag of the
//! reply that filled it; a write, copy or delete through this store forgets
//! it. Reads of cached objects are slices of a memory-mapped file.
//!
//! The cache never fails a read: a file that fails verification is dropped
//! and the read goes to the backend; a failed fill leaves nothing behind.

mod disk;
mod entry;
mod fill;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    Attributes, CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

pub use disk::CacheStats;
pub(crate) use disk::DiskCache;

use crate::config::{CacheConfig, CacheMode};
use crate::counting::{CacheOutcome, IoCounters, record_cache, task_scopes};
use disk::Lookup;
use entry::{CachedMeta, MappedRange, Mapping};
use fill::{Expected, FillJob, Source};

/// Error source name for reads the cache answers itself.
const STORE: &str = "infino-cache";

/// One connection's view of a shared [`DiskCache`]: its mode, which objects
/// may be cached, and the store fills of its own go through.
#[derive(Debug, Clone)]
pub(crate) struct CacheLayer {
    cache: Arc<DiskCache>,
    mode: CacheMode,
    backend_id: Arc<str>,
    suffixes: Arc<[String]>,
    /// The store-wide counted backend: background fills are the cache's
    /// traffic, not any one query's.
    fill_backend: Arc<dyn ObjectStore>,
}

impl CacheLayer {
    pub(crate) fn open(
        config: &CacheConfig,
        backend_id: &str,
        fill_backend: Arc<dyn ObjectStore>,
    ) -> crate::Result<Self> {
        Ok(Self {
            cache: DiskCache::open(config)?,
            mode: config.mode,
            backend_id: backend_id.into(),
            suffixes: config.suffixes.clone().into(),
            fill_backend,
        })
    }

    /// The cache over `inner` (a handle's counted chain), reporting hits and
    /// misses to `lineage` (the handle's counters and its ancestors').
    pub(crate) fn wrap(
        &self,
        inner: Arc<dyn ObjectStore>,
        lineage: Arc<[Arc<IoCounters>]>,
    ) -> Arc<dyn ObjectStore> {
        Arc::new(CachingObjectStore {
            layer: self.clone(),
            inner,
            lineage,
        })
    }

    pub(crate) fn stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// Wait until every fill in flight now has ended.
    pub(crate) async fn settle(&self) {
        for done in self.cache.fills_in_flight() {
            fill::wait(done).await;
        }
    }
}

/// Serves immutable objects from the disk cache and fills it.
#[derive(Debug)]
struct CachingObjectStore {
    layer: CacheLayer,
    inner: Arc<dyn ObjectStore>,
    lineage: Arc<[Arc<IoCounters>]>,
}

impl fmt::Display for CachingObjectStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DiskCached({})", self.inner)
    }
}

impl CachingObjectStore {
    fn key(&self, location: &Path) -> String {
        format!("{}\u{1f}{location}", self.layer.backend_id)
    }

    /// Whether this read may be answered from, and fill, the cache.
    fn cacheable(&self, location: &Path, options: &GetOptions) -> bool {
        let unconditional = options.if_match.is_none()
            && options.if_none_match.is_none()
            && options.if_modified_since.is_none()
            && options.if_unmodified_since.is_none()
            && options.version.is_none();
        unconditional
            && self
                .layer
                .suffixes
                .iter()
                .any(|s| location.as_ref().ends_with(s.as_str()))
    }

    /// Answer the read from the cache, verifying the file on first use.
    async fn read_cached(
        &self,
        key: &str,
        location: &Path,
        options: &GetOptions,
    ) -> object_store::Result<Option<GetResult>> {
        let cache = &self.layer.cache;
        let (mapping, meta) = match cache.lookup(key) {
            Lookup::Miss => return Ok(None),
            Lookup::Hit(mapping, meta) => (mapping, meta),
            Lookup::Unverified(file, meta) => {
                let (path, expect) = (file.clone(), Arc::clone(&meta));
                let verified =
                    tokio::task::spawn_blocking(move || Mapping::open_verified(&path, &expect))
                        .await
                        .ok()
                        .flatten();
                let Some(verified) = verified else {
                    cache.drop_corrupt(key, &file);
                    return Ok(None);
                };
                match cache.install(key, &file, verified) {
                    Some(mapping) => (mapping, meta),
                    None => return Ok(None),
                }
            }
        };
        Ok(Some(serve(mapping, &meta, location, options)?))
    }

    /// The foreground read of a cold object, per the connection's mode.
    async fn read_cold(
        &self,
        key: &str,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let cache = &self.layer.cache;
        match self.layer.mode {
            CacheMode::Ranged => self.inner.get_opts(location, options).await,
            CacheMode::Prefetch => {
                // The whole object, on this query's account, before answering.
                if let Some(job) = FillJob::register(cache, key) {
                    job.spawn(Source::Fetch {
                        path: location.clone(),
                        expected: None,
                        backend: Arc::clone(&self.inner),
                        scopes: task_scopes(),
                    });
                }
                if let Some(done) = cache.fill_in_flight(key) {
                    fill::wait(done).await;
                }
                match self.read_cached(key, location, &options).await? {
                    Some(result) => Ok(result),
                    None => self.inner.get_opts(location, options).await,
                }
            }
            CacheMode::Fill => {
                // Register now, so concurrent cold readers share this fill;
                // start it when this read is done.
                let job = FillJob::register(cache, key);
                let whole = options.range.is_none() && !options.head;
                let mut result = self.inner.get_opts(location, options).await?;
                let Some(job) = job else {
                    return Ok(result);
                };
                let tee = whole && result.meta.size <= MAX_TEE;
                let mut deferred = DeferredFill {
                    job: Some(job),
                    path: location.clone(),
                    meta: result.meta.clone(),
                    backend: Arc::clone(&self.layer.fill_backend),
                    teed: tee.then(Vec::new),
                };
                if let GetResultPayload::Stream(stream) = result.payload {
                    result.payload = GetResultPayload::Stream(
                        stream
                            .map(move |chunk| {
                                if let (Ok(bytes), Some(teed)) = (&chunk, &mut deferred.teed) {
                                    teed.push(bytes.clone());
                                }
                                chunk
                            })
                            .boxed(),
                    );
                }
                Ok(result)
            }
        }
    }
}

/// Largest whole-object read whose chunks are kept to fill the cache
/// without a second request; bigger ones are fetched again in the background.
const MAX_TEE: u64 = 64 << 20;

/// A fill that starts when the read it follows drops its body stream: from
/// that read's own chunks when it read the whole object, else by a fetch.
struct DeferredFill {
    job: Option<FillJob>,
    path: Path,
    meta: ObjectMeta,
    backend: Arc<dyn ObjectStore>,
    teed: Option<Vec<Bytes>>,
}

impl Drop for DeferredFill {
    fn drop(&mut self) {
        let Some(job) = self.job.take() else {
            return;
        };
        let teed = self
            .teed
            .take()
            .filter(|chunks| chunks.iter().map(|c| c.len() as u64).sum::<u64>() == self.meta.size);
        let source = match teed {
            Some(chunks) => Source::Teed {
                meta: self.meta.clone(),
                chunks,
            },
            None => Source::Fetch {
                path: self.path.clone(),
                expected: Some(Expected {
                    size: self.meta.size,
                    e_tag: self.meta.e_tag.clone(),
                }),
                backend: Arc::clone(&self.backend),
                scopes: None,
            },
        };
        job.spawn(source);
    }
}

/// A `GetResult` for `options` over a cached object.
fn serve(
    mapping: Arc<Mapping>,
    meta: &CachedMeta,
    location: &Path,
    options: &GetOptions,
) -> object_store::Result<GetResult> {
    let object_meta = ObjectMeta {
        location: location.clone(),
        last_modified: meta.last_modified.into(),
        size: meta.size,
        e_tag: meta.e_tag.clone(),
        version: meta.version.clone(),
    };
    let range = match &options.range {
        Some(range) if !options.head => {
            range
                .as_range(meta.size)
                .map_err(|e| object_store::Error::Generic {
                    store: STORE,
                    source: Box::new(e),
                })?
        }
        _ => 0..meta.size,
    };
    let payload = if options.head {
        futures::stream::empty().boxed()
    } else {
        let owner = MappedRange {
            mapping,
            start: to_usize(range.start)?,
            end: to_usize(range.end)?,
        };
        futures::stream::once(futures::future::ready(Ok(Bytes::from_owner(owner)))).boxed()
    };
    Ok(GetResult {
        payload: GetResultPayload::Stream(payload),
        meta: object_meta,
        range,
        attributes: Attributes::default(),
    })
}

fn to_usize(n: u64) -> object_store::Result<usize> {
    usize::try_from(n).map_err(|e| object_store::Error::Generic {
        store: STORE,
        source: Box::new(e),
    })
}

#[async_trait]
impl ObjectStore for CachingObjectStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.layer.cache.invalidate(&self.key(location));
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.layer.cache.invalidate(&self.key(location));
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        if !self.cacheable(location, &options) {
            return self.inner.get_opts(location, options).await;
        }
        let key = self.key(location);
        if let Some(result) = self.read_cached(&key, location, &options).await? {
            record_cache(&self.lineage, CacheOutcome::Hit);
            return Ok(result);
        }
        record_cache(&self.lineage, CacheOutcome::Miss);
        self.read_cold(&key, location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let layer = self.layer.clone();
        let forgotten = locations
            .inspect(move |item| {
                if let Ok(path) = item {
                    layer
                        .cache
                        .invalidate(&format!("{}\u{1f}{path}", layer.backend_id));
                }
            })
            .boxed();
        self.inner.delete_stream(forgotten)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.layer.cache.invalidate(&self.key(to));
        self.inner.copy_opts(from, to, options).await
    }
}
