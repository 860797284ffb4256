//! Conditional replace for the local filesystem.
//!
//! `object_store`'s local backend creates atomically (a hard link fails if the
//! name exists) but has no compare-and-swap: `PutMode::Update` is refused.
//! This decorator adds it with an advisory lock per object key: under the
//! lock it compares the current ETag with the expected one and, if they
//! match, replaces the file by atomic rename. Locks are `flock`s on files in
//! a hidden directory under the root, so they hold across processes on one
//! machine (not across machines sharing a network filesystem without
//! working `flock`). Deletes take the same lock so a replace never resurrects
//! a deleted object. Lock files are never removed: unlinking a lock file
//! while another process waits on it would split the lock in two.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::hash::Hasher;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

use crate::local_map::MappedFiles;

/// Name of the directory (under the root) that holds the lock files.
pub(crate) const LOCK_DIR: &str = ".infino-locks";

/// The local filesystem with compare-and-swap.
#[derive(Debug)]
pub(crate) struct LocalCasStore {
    inner: Arc<LocalFileSystem>,
    lock_dir: PathBuf,
    /// Immutable objects, read from memory mappings.
    mapped: Arc<MappedFiles>,
}

impl LocalCasStore {
    /// `inner` with compare-and-swap, reading the objects whose paths end
    /// in one of `immutable_suffixes` from memory mappings.
    pub(crate) fn new(
        inner: LocalFileSystem,
        root: &std::path::Path,
        immutable_suffixes: Vec<String>,
    ) -> Self {
        Self {
            inner: Arc::new(inner),
            lock_dir: root.join(LOCK_DIR),
            mapped: Arc::new(MappedFiles::new(immutable_suffixes)),
        }
    }

    /// Take the exclusive lock for `location`; it is released when the file drops.
    async fn lock(&self, location: &Path) -> object_store::Result<File> {
        let mut hasher = Fnv64::default();
        hasher.write(location.as_ref().as_bytes());
        let lock_path = self.lock_dir.join(format!("{:016x}.lock", hasher.finish()));
        let lock_dir = self.lock_dir.clone();
        let joined = tokio::task::spawn_blocking(move || -> std::io::Result<File> {
            std::fs::create_dir_all(&lock_dir)?;
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)?;
            file.lock()?;
            Ok(file)
        })
        .await;
        match joined {
            Ok(Ok(file)) => Ok(file),
            Ok(Err(source)) => Err(object_store::Error::Generic {
                store: "LocalCas",
                source: Box::new(source),
            }),
            Err(source) => Err(object_store::Error::JoinError { source }),
        }
    }
}

impl fmt::Display for LocalCasStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalCas({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for LocalCasStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.mapped.forget(location);
        let PutMode::Update(expected) = &opts.mode else {
            return self.inner.put_opts(location, payload, opts).await;
        };
        let _guard = self.lock(location).await?;
        let current = match self.inner.head(location).await {
            Ok(meta) => meta,
            Err(object_store::Error::NotFound { path, source }) => {
                return Err(object_store::Error::Precondition { path, source });
            }
            Err(other) => return Err(other),
        };
        if current.e_tag != expected.e_tag {
            return Err(object_store::Error::Precondition {
                path: location.to_string(),
                source: format!(
                    "expected ETag {:?}, found {:?}",
                    expected.e_tag, current.e_tag
                )
                .into(),
            });
        }
        let overwrite = PutOptions {
            mode: PutMode::Overwrite,
            ..opts
        };
        self.inner.put_opts(location, payload, overwrite).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        if let Ok(file) = self.inner.path_to_filesystem(location)
            && let Some(read) = self.mapped.get(location, &file, &options)
        {
            return Ok(read);
        }
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let this = LocalCasStore {
            inner: Arc::clone(&self.inner),
            lock_dir: self.lock_dir.clone(),
            mapped: Arc::clone(&self.mapped),
        };
        let this = Arc::new(this);
        locations
            .then(move |item| {
                let this = Arc::clone(&this);
                async move {
                    let location = item?;
                    let _guard = this.lock(&location).await?;
                    this.mapped.forget(&location);
                    this.inner.delete(&location).await?;
                    Ok(location)
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner
            .list(prefix)
            .filter(|item| {
                let keep = !matches!(item, Ok(meta) if is_lock_path(&meta.location));
                futures::future::ready(keep)
            })
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let mut result = self.inner.list_with_delimiter(prefix).await?;
        result.common_prefixes.retain(|p| !is_lock_path(p));
        result.objects.retain(|m| !is_lock_path(&m.location));
        Ok(result)
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.mapped.forget(to);
        self.inner.copy_opts(from, to, options).await
    }
}

fn is_lock_path(path: &Path) -> bool {
    path.parts()
        .next()
        .is_some_and(|first| first.as_ref() == LOCK_DIR)
}

/// FNV-1a, 64 bit: a stable hash for lock-file names (std's hasher is not
/// stable across processes or releases).
struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv64 {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}
