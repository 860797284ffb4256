//! Whole-object fills: fetch an object into a temp file, check it, publish it.
//!
//! A fill is registered in the index the moment a cold read misses, so
//! concurrent cold readers of one object find it and start none of their
//! own; it is started (on its own task) only when the read that registered
//! it has finished, and waits for one of a few fill slots, so fills do not
//! compete with the reads a query is waiting for. The bytes stream into
//! `<uuid>.tmp` with a running CRC32C (a cold read of the whole object is
//! teed instead: its chunks are written once it completes, with no second
//! request); the length is checked against the
//! object size the first read reported (and the fetch is conditional on its
//! ETag), the trailer is appended and the file is renamed into place. A
//! failed fill, or one whose task is killed, deletes its temp file when its
//! [`FillJob`] drops; a crash leaves a `.tmp` that the next open deletes.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use bytes::Bytes;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{GetOptions, ObjectMeta, ObjectStore};
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

use super::disk::DiskCache;
use super::entry::CachedMeta;
use crate::counting::{TASK_SCOPES, TaskScopes};

type FillError = Box<dyn std::error::Error + Send + Sync>;

/// Where a fill gets the object's bytes.
pub(crate) enum Source {
    /// A whole-object GET, conditional on the ETag the missed read saw.
    Fetch {
        path: Path,
        expected: Option<Expected>,
        backend: Arc<dyn ObjectStore>,
        /// Cost scopes to charge (a prefetch is its query's request).
        scopes: Option<TaskScopes>,
    },
    /// The chunks of a whole-object read that just completed: no request.
    Teed {
        meta: ObjectMeta,
        chunks: Vec<Bytes>,
    },
}

/// What the read that missed learned about the object.
#[derive(Debug, Clone)]
pub(crate) struct Expected {
    pub(crate) size: u64,
    pub(crate) e_tag: Option<String>,
}

/// A registered fill, not yet started. Dropping it unregisters the fill and
/// deletes its temp file, whatever stage it stopped at.
#[derive(Debug)]
pub(crate) struct FillJob {
    cache: Arc<DiskCache>,
    key: String,
    id: u64,
    done: watch::Sender<Option<bool>>,
    temp: Option<PathBuf>,
}

impl FillJob {
    /// Register a fill of `key`; `None` when it is cached, already being
    /// filled, or known to be too big.
    pub(crate) fn register(cache: &Arc<DiskCache>, key: &str) -> Option<FillJob> {
        let (id, done) = cache.begin_fill(key)?;
        Some(FillJob {
            cache: Arc::clone(cache),
            key: key.to_owned(),
            id,
            done,
            temp: None,
        })
    }

    /// Run the fill on its own task.
    pub(crate) fn spawn(self, source: Source) {
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let started = &self.cache.counters.fills_started;
                started.fetch_add(1, Ordering::Relaxed);
                let scopes = match &source {
                    Source::Fetch { scopes, .. } => scopes.clone(),
                    Source::Teed { .. } => None,
                };
                match scopes {
                    Some(scopes) => runtime.spawn(TASK_SCOPES.scope(scopes, self.run(source))),
                    None => runtime.spawn(self.run(source)),
                };
            }
            Err(_) => tracing::debug!("no runtime to fill the cache on; skipped"),
        }
    }

    async fn run(mut self, source: Source) {
        let published = match self.fill(source).await {
            Ok(published) => published,
            Err(e) => {
                tracing::debug!(key = %self.key, error = %e, "cache fill failed");
                false
            }
        };
        // Clean up before telling waiters, so what they see next is settled.
        self.clean_up();
        let counters = &self.cache.counters;
        let outcome = if published {
            &counters.fills_completed
        } else {
            &counters.fills_failed
        };
        outcome.fetch_add(1, Ordering::Relaxed);
        let _ = self.done.send(Some(published));
    }

    async fn fill(&mut self, source: Source) -> Result<bool, FillError> {
        let cache = Arc::clone(&self.cache);
        let _slot = cache.fill_slots.acquire().await?;
        let (object, mut stream, fetched) = match source {
            Source::Fetch {
                path,
                expected,
                backend,
                ..
            } => {
                let options = GetOptions {
                    if_match: expected.as_ref().and_then(|e| e.e_tag.clone()),
                    ..GetOptions::default()
                };
                let requests = &cache.counters.fill_requests;
                requests.fetch_add(1, Ordering::Relaxed);
                let result = backend.get_opts(&path, options).await?;
                if let Some(expected) = &expected
                    && expected.size != result.meta.size
                {
                    let (now, then) = (result.meta.size, expected.size);
                    return Err(format!("object is {now} bytes, the read saw {then}").into());
                }
                (result.meta.clone(), result.into_stream(), true)
            }
            Source::Teed { meta, chunks } => {
                let stream = futures::stream::iter(chunks.into_iter().map(Ok)).boxed();
                (meta, stream, false)
            }
        };
        let size = object.size;
        let mut meta = CachedMeta {
            key: self.key.clone(),
            e_tag: object.e_tag,
            version: object.version,
            last_modified: SystemTime::from(object.last_modified),
            size,
            data_crc: 0,
        };
        if !cache.fits(&self.key, meta.file_len()) {
            return Ok(false);
        }
        let temp = cache
            .dir
            .join(format!("{}.tmp", uuid::Uuid::new_v4().simple()));
        self.temp = Some(temp.clone());
        let mut file = tokio::fs::File::create(&temp).await?;
        let (mut crc, mut written) = (0u32, 0u64);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            crc = crc32c::crc32c_append(crc, &chunk);
            file.write_all(&chunk).await?;
            written += chunk.len() as u64;
        }
        if fetched {
            let fill_bytes = &cache.counters.fill_bytes;
            fill_bytes.fetch_add(written, Ordering::Relaxed);
        }
        if written != size {
            return Err(format!("fill got {written} of {size} bytes").into());
        }
        meta.data_crc = crc;
        file.write_all(&meta.trailer()).await?;
        file.flush().await?;
        drop(file);
        let published = cache.publish(&self.key, self.id, &temp, meta);
        if published {
            self.temp = None;
        }
        Ok(published)
    }
}

impl FillJob {
    /// Delete the temp file, if any, and unregister the fill (a published
    /// fill is already unregistered). Idempotent.
    fn clean_up(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = std::fs::remove_file(temp);
        }
        self.cache.end_fill(&self.key, self.id);
    }
}

impl Drop for FillJob {
    fn drop(&mut self) {
        self.clean_up();
    }
}

/// Wait for a fill to end; `true` when it published the object.
pub(crate) async fn wait(mut done: watch::Receiver<Option<bool>>) -> bool {
    match done.wait_for(Option::is_some).await {
        Ok(outcome) => outcome.unwrap_or(false),
        // The filler was dropped (killed) without an outcome.
        Err(_) => false,
    }
}
