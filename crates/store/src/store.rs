//! [`Store`]: the one handle the rest of infino uses to reach storage.

use std::ops::Range;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    GetOptions, GetRange, ObjectMeta, ObjectStore, PutMode, PutMultipartOptions, PutOptions,
    PutPayload, UpdateVersion, WriteMultipart,
};

use crate::cache::CacheLayer;
use crate::config::StoreConfig;
use crate::cost::PriceTable;
use crate::counting::{CountingStore, IoCounters, IoStats};
use crate::error::{Result, StoreError};
use crate::location::{BackendKind, open_backend};
use crate::ranges;
use crate::scope::stack;

/// The version of an object as the backend identifies it, for conditional replace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectVersion {
    /// The entity tag, when the backend gives one.
    pub e_tag: Option<String>,
    /// The backend's version id, when versioning is on.
    pub version: Option<String>,
}

/// Metadata of a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Path relative to the store root.
    pub path: Path,
    /// Size in bytes.
    pub size: u64,
    /// Last modification time as the backend reports it.
    pub last_modified: SystemTime,
    /// Version for conditional replace.
    pub version: ObjectVersion,
}

/// The outcome of a successful write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutInfo {
    /// Version of the object now stored.
    pub version: ObjectVersion,
    /// True when the client saw an error or a conflict but reading the object
    /// back showed our own bytes: the write had landed and its reply was lost.
    pub recovered: bool,
}

/// The tail of an object and the object's total size.
#[derive(Debug, Clone)]
pub struct SuffixRead {
    /// The last `min(len, object_size)` bytes.
    pub bytes: Bytes,
    /// The whole object's size.
    pub object_size: u64,
}

/// A storage location (a URI plus options) with exact reads, conditional
/// writes and request accounting. Cheap to clone; clones share counters.
#[derive(Debug, Clone)]
pub struct Store {
    /// The full stack: prefix, cache, then `counted`.
    pub(crate) inner: Arc<dyn ObjectStore>,
    /// This handle's counting layer and everything below it (no prefix).
    pub(crate) counted: Arc<dyn ObjectStore>,
    pub(crate) prefix: Path,
    /// The disk cache layer, when `cache_dir` is set.
    pub(crate) cache: Option<CacheLayer>,
    pub(crate) kind: BackendKind,
    pub(crate) config: Arc<StoreConfig>,
    pub(crate) counters: Arc<IoCounters>,
    /// `counters`, then those of the handles this one was scoped from.
    pub(crate) lineage: Arc<[Arc<IoCounters>]>,
    pub(crate) prices: PriceTable,
    pub(crate) uri: Arc<str>,
}

impl Store {
    /// Open `uri` with default options. See [`Store::open_with`].
    ///
    /// # Errors
    /// As [`Store::open_with`].
    pub fn open(uri: &str) -> Result<Self> {
        Self::open_with(uri, std::iter::empty::<(String, String)>())
    }

    /// Open `uri` (`memory://[name][/prefix]`, a path, `file:///path`,
    /// `s3://bucket[/prefix]`, `az://container[/prefix]`, `gs://bucket[/prefix]`)
    /// with `options`: the backend's `object_store` config keys and the keys
    /// of [`StoreConfig`]. No request is sent; a wrong endpoint shows at the
    /// first operation as [`StoreError::Unreachable`].
    ///
    /// # Errors
    /// [`StoreError::InvalidUri`], [`StoreError::UnsupportedScheme`],
    /// [`StoreError::UnknownOption`] naming the first bad key,
    /// [`StoreError::InvalidOptionValue`], or [`StoreError::LocalIo`] when a
    /// local directory cannot be created.
    pub fn open_with<K, V>(uri: &str, options: impl IntoIterator<Item = (K, V)>) -> Result<Self>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let options: Vec<(String, String)> = options
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let backend = open_backend(uri, &options)?;
        let counters = Arc::new(IoCounters::default());
        let counted: Arc<dyn ObjectStore> = Arc::new(CountingStore::store_wide(
            backend.store,
            Arc::clone(&counters),
        ));
        let cache = match &backend.config.cache {
            Some(config) => Some(CacheLayer::open(config, &backend.id, Arc::clone(&counted))?),
            None => None,
        };
        let lineage: Arc<[Arc<IoCounters>]> = Arc::new([Arc::clone(&counters)]);
        let inner = stack(&counted, &lineage, &backend.prefix, cache.as_ref());
        Ok(Self {
            inner,
            counted,
            prefix: backend.prefix,
            cache,
            kind: backend.kind,
            config: Arc::new(backend.config),
            counters,
            lineage,
            prices: PriceTable::default(),
            uri: uri.into(),
        })
    }

    /// The URI this store was opened with.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Which backend the URI selected.
    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    /// infino's storage settings in force.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Requests and bytes so far, through this store, its clones and the
    /// scopes made from it.
    pub fn stats(&self) -> IoStats {
        self.counters.snapshot()
    }

    /// The underlying `object_store` view (rooted at the URI's prefix, served
    /// by the disk cache when there is one, and counted), for components such
    /// as Parquet readers and DataFusion that speak it directly.
    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.inner)
    }

    /// The whole object.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], [`StoreError::ShortRead`], or a backend error.
    pub async fn get(&self, path: &Path) -> Result<Bytes> {
        let result = self
            .inner
            .get_opts(path, GetOptions::default())
            .await
            .map_err(|e| err("get", path, e))?;
        let expected = result.meta.size;
        let bytes = result.bytes().await.map_err(|e| err("get", path, e))?;
        check_len(path, expected, &bytes)?;
        Ok(bytes)
    }

    /// The whole object and its version, for read-modify-write loops.
    ///
    /// # Errors
    /// As [`Store::get`].
    pub async fn get_versioned(&self, path: &Path) -> Result<(Bytes, ObjectVersion)> {
        let result = self
            .inner
            .get_opts(path, GetOptions::default())
            .await
            .map_err(|e| err("get", path, e))?;
        let version = version_of(&result.meta);
        let expected = result.meta.size;
        let bytes = result.bytes().await.map_err(|e| err("get", path, e))?;
        check_len(path, expected, &bytes)?;
        Ok((bytes, version))
    }

    /// Exactly the bytes `range` of the object: never fewer, never more.
    ///
    /// # Errors
    /// [`StoreError::InvalidRange`] for an empty or reversed range,
    /// [`StoreError::RangeOutOfBounds`] when it ends past the object,
    /// [`StoreError::NotFound`], [`StoreError::ShortRead`].
    pub async fn get_range(&self, path: &Path, range: Range<u64>) -> Result<Bytes> {
        if range.start >= range.end {
            return Err(StoreError::InvalidRange {
                path: path.to_string(),
                requested: range,
            });
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(range.clone())),
            ..GetOptions::default()
        };
        let result = match self.inner.get_opts(path, options).await {
            Ok(result) => result,
            Err(e) => return Err(self.explain_range_error(path, range, e).await),
        };
        if result.range != range {
            if range.end > result.meta.size {
                return Err(StoreError::RangeOutOfBounds {
                    path: path.to_string(),
                    requested: range,
                    size: result.meta.size,
                });
            }
            return Err(StoreError::ShortRead {
                path: path.to_string(),
                expected: range.end - range.start,
                got: result.range.end - result.range.start,
            });
        }
        let bytes = result
            .bytes()
            .await
            .map_err(|e| err("get_range", path, e))?;
        check_len(path, range.end - range.start, &bytes)?;
        Ok(bytes)
    }

    /// A failed ranged GET: find out whether the range was past the end.
    async fn explain_range_error(
        &self,
        path: &Path,
        range: Range<u64>,
        e: object_store::Error,
    ) -> StoreError {
        let e = err("get_range", path, e);
        if matches!(
            e,
            StoreError::NotFound { .. } | StoreError::BudgetExceeded { .. }
        ) {
            return e;
        }
        match self.head(path).await {
            Ok(info) if range.end > info.size => StoreError::RangeOutOfBounds {
                path: path.to_string(),
                requested: range,
                size: info.size,
            },
            _ => e,
        }
    }

    /// The last `len` bytes (the whole object if it is shorter) and the object's
    /// size, in one request where the backend allows it. Azure refuses suffix
    /// ranges, so there it costs a HEAD and a ranged GET.
    ///
    /// # Errors
    /// [`StoreError::InvalidRange`] for `len == 0`, [`StoreError::NotFound`],
    /// [`StoreError::ShortRead`].
    pub async fn get_suffix(&self, path: &Path, len: u64) -> Result<SuffixRead> {
        if len == 0 {
            return Err(StoreError::InvalidRange {
                path: path.to_string(),
                requested: 0..0,
            });
        }
        if self.kind == BackendKind::Azure {
            let size = self.head(path).await?.size;
            if size == 0 {
                return Ok(SuffixRead {
                    bytes: Bytes::new(),
                    object_size: 0,
                });
            }
            let bytes = self.get_range(path, size.saturating_sub(len)..size).await?;
            return Ok(SuffixRead {
                bytes,
                object_size: size,
            });
        }
        let options = GetOptions {
            range: Some(GetRange::Suffix(len)),
            ..GetOptions::default()
        };
        let result = self
            .inner
            .get_opts(path, options)
            .await
            .map_err(|e| err("get_suffix", path, e))?;
        let object_size = result.meta.size;
        let bytes = result
            .bytes()
            .await
            .map_err(|e| err("get_suffix", path, e))?;
        check_len(path, len.min(object_size), &bytes)?;
        Ok(SuffixRead { bytes, object_size })
    }

    /// Several ranges of one object. Ranges closer than
    /// [`StoreConfig::coalesce_gap`] are fetched together; the fetches run
    /// concurrently (at most [`StoreConfig::max_concurrent_requests`]). The
    /// result has one buffer per requested range, in request order.
    ///
    /// # Errors
    /// As [`Store::get_range`], for the first range that fails.
    pub async fn get_ranges(&self, path: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let (plan, fetched) = self.fetch_planned(path, ranges).await?;
        Ok(plan
            .slices
            .iter()
            .map(|s| fetched[s.fetch].slice(s.offset..s.offset + s.len))
            .collect())
    }

    /// The same requests as [`Store::get_ranges`], returned as they were
    /// fetched: `(offset, bytes)` of each merged range, sorted and
    /// disjoint, together covering every range asked for. For readers that
    /// look many small ranges up by offset: a few merged buffers are
    /// quicker to search than one buffer per range.
    ///
    /// # Errors
    /// As [`Store::get_ranges`].
    pub async fn get_covering(
        &self,
        path: &Path,
        ranges: &[Range<u64>],
    ) -> Result<Vec<(u64, Bytes)>> {
        let (plan, fetched) = self.fetch_planned(path, ranges).await?;
        Ok(plan.fetches.iter().map(|r| r.start).zip(fetched).collect())
    }

    /// Plans the merged fetches of `ranges` and runs them.
    async fn fetch_planned(
        &self,
        path: &Path,
        ranges: &[Range<u64>],
    ) -> Result<(ranges::ReadPlan, Vec<Bytes>)> {
        if let Some(bad) = ranges.iter().find(|r| r.start >= r.end) {
            return Err(StoreError::InvalidRange {
                path: path.to_string(),
                requested: bad.clone(),
            });
        }
        let plan = ranges::plan(ranges, self.config.coalesce_gap);
        let fetched: Vec<Bytes> = futures::stream::iter(plan.fetches.iter().cloned())
            .map(|range| self.get_range(path, range))
            .buffered(self.config.max_concurrent_requests)
            .try_collect()
            .await?;
        Ok((plan, fetched))
    }

    /// Size, time and version of an object.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] or a backend error.
    pub async fn head(&self, path: &Path) -> Result<ObjectInfo> {
        let options = GetOptions {
            head: true,
            ..GetOptions::default()
        };
        let result = self
            .inner
            .get_opts(path, options)
            .await
            .map_err(|e| err("head", path, e))?;
        Ok(info_of(&result.meta))
    }

    /// Write `bytes` to `path`, replacing what was there. Objects of at least
    /// [`StoreConfig::multipart_threshold`] bytes go up in parts; readers see
    /// either the old object or the whole new one.
    ///
    /// # Errors
    /// A backend error; a failed multipart upload is aborted first.
    pub async fn put(&self, path: &Path, bytes: Bytes) -> Result<PutInfo> {
        if (bytes.len() as u64) < self.config.multipart_threshold {
            let result = self
                .inner
                .put_opts(path, PutPayload::from_bytes(bytes), PutOptions::default())
                .await
                .map_err(|e| err("put", path, e))?;
            return Ok(PutInfo {
                version: put_version(result),
                recovered: false,
            });
        }
        let upload = self
            .inner
            .put_multipart_opts(path, PutMultipartOptions::default())
            .await
            .map_err(|e| err("put_multipart", path, e))?;
        let part = usize::try_from(self.config.multipart_part_size).unwrap_or(usize::MAX);
        let mut writer = WriteMultipart::new_with_chunk_size(upload, part);
        let mut offset = 0;
        while offset < bytes.len() {
            let end = bytes.len().min(offset + part);
            if let Err(e) = writer
                .wait_for_capacity(self.config.max_concurrent_requests.min(8))
                .await
            {
                let _ = writer.abort().await;
                return Err(err("put_multipart", path, e));
            }
            writer.put(bytes.slice(offset..end));
            offset = end;
        }
        let result = writer
            .finish()
            .await
            .map_err(|e| err("put_multipart", path, e))?;
        Ok(PutInfo {
            version: put_version(result),
            recovered: false,
        })
    }

    /// Create `path` only if no object is there (one request, atomic on the
    /// server). If the reply is lost and the retry reports "already exists",
    /// or the request times out, the object is read back: when it holds
    /// exactly `bytes`, the write is ours and this returns `recovered: true`.
    /// Callers must make `bytes` unique to the writer (embed a token such as
    /// a UUID) for that check to be unambiguous.
    ///
    /// # Errors
    /// [`StoreError::AlreadyExists`] when another writer's object is there;
    /// the original error when the outcome stays unknown.
    pub async fn create_if_absent(&self, path: &Path, bytes: Bytes) -> Result<PutInfo> {
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .inner
            .put_opts(path, PutPayload::from_bytes(bytes.clone()), options)
            .await
        {
            Ok(result) => Ok(PutInfo {
                version: put_version(result),
                recovered: false,
            }),
            Err(e) => {
                let e = err("create_if_absent", path, e);
                self.recover_write(path, &bytes, e, |p| StoreError::AlreadyExists { path: p })
                    .await
            }
        }
    }

    /// Replace `path` only if its version is still `expected` (one atomic
    /// request). Lost replies are recovered as in [`Store::create_if_absent`].
    ///
    /// # Errors
    /// [`StoreError::PreconditionFailed`] when the object changed or vanished;
    /// the original error when the outcome stays unknown.
    pub async fn replace_if_match(
        &self,
        path: &Path,
        bytes: Bytes,
        expected: &ObjectVersion,
    ) -> Result<PutInfo> {
        let version = UpdateVersion {
            e_tag: expected.e_tag.clone(),
            version: expected.version.clone(),
        };
        let options = PutOptions {
            mode: PutMode::Update(version),
            ..PutOptions::default()
        };
        match self
            .inner
            .put_opts(path, PutPayload::from_bytes(bytes.clone()), options)
            .await
        {
            Ok(result) => Ok(PutInfo {
                version: put_version(result),
                recovered: false,
            }),
            Err(e) => {
                let e = err("replace_if_match", path, e);
                self.recover_write(path, &bytes, e, |p| StoreError::PreconditionFailed {
                    path: p,
                })
                .await
            }
        }
    }

    /// After a conditional write failed with `error`, decide whether it in fact landed.
    async fn recover_write(
        &self,
        path: &Path,
        ours: &Bytes,
        error: StoreError,
        conflict: impl FnOnce(String) -> StoreError,
    ) -> Result<PutInfo> {
        let is_conflict = matches!(
            error,
            StoreError::AlreadyExists { .. } | StoreError::PreconditionFailed { .. }
        );
        if !is_conflict && !error.is_ambiguous_write() {
            return Err(error);
        }
        match self.get_versioned(path).await {
            Ok((stored, version)) if stored == *ours => {
                tracing::debug!(%path, "conditional write reported {error} but our bytes are stored");
                Ok(PutInfo {
                    version,
                    recovered: true,
                })
            }
            Ok(_) | Err(StoreError::NotFound { .. }) if is_conflict => {
                Err(conflict(path.to_string()))
            }
            _ => Err(error),
        }
    }

    /// Every object under `prefix` (all objects when `None`), sorted by path.
    ///
    /// # Errors
    /// A backend error.
    pub async fn list(&self, prefix: Option<&Path>) -> Result<Vec<ObjectInfo>> {
        let shown = prefix.map(ToString::to_string).unwrap_or_default();
        let metas: Vec<ObjectMeta> = self
            .inner
            .list(prefix)
            .try_collect()
            .await
            .map_err(|e| err("list", &shown, e))?;
        let mut infos: Vec<ObjectInfo> = metas.iter().map(info_of).collect();
        infos.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(infos)
    }

    /// Delete `path`. Deleting a missing object succeeds, on every backend.
    ///
    /// # Errors
    /// A backend error other than "not found".
    pub async fn delete(&self, path: &Path) -> Result<()> {
        let stream = futures::stream::once(futures::future::ready(Ok(path.clone()))).boxed();
        let outcome: Vec<object_store::Result<Path>> =
            self.inner.delete_stream(stream).collect().await;
        for result in outcome {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(err("delete", path, e)),
            }
        }
        Ok(())
    }
}

fn err(op: &'static str, path: &impl ToString, e: object_store::Error) -> StoreError {
    StoreError::from_object_store(op, &path.to_string(), e)
}

fn check_len(path: &Path, expected: u64, bytes: &Bytes) -> Result<()> {
    let got = bytes.len() as u64;
    if got == expected {
        Ok(())
    } else {
        Err(StoreError::ShortRead {
            path: path.to_string(),
            expected,
            got,
        })
    }
}

fn version_of(meta: &ObjectMeta) -> ObjectVersion {
    ObjectVersion {
        e_tag: meta.e_tag.clone(),
        version: meta.version.clone(),
    }
}

fn info_of(meta: &ObjectMeta) -> ObjectInfo {
    ObjectInfo {
        path: meta.location.clone(),
        size: meta.size,
        last_modified: SystemTime::from(meta.last_modified),
        version: version_of(meta),
    }
}

fn put_version(result: object_store::PutResult) -> ObjectVersion {
    ObjectVersion {
        e_tag: result.e_tag,
        version: result.version,
    }
}
