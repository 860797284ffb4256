//! The cache directory: its index, disk and memory budgets, and restarts.
//!
//! One [`DiskCache`] serves a directory per process (a registry hands the
//! same one to every store opened on it, and an exclusive file lock keeps
//! other processes out: two indexes over one directory would delete each
//! other's files). Entries are evicted least recently used first when a new
//! file would pass the disk budget, skipping pinned ones: an entry is pinned
//! while any reader holds bytes from its mapping. Past the memory budget,
//! the least recently used mappings are advised out of memory while their
//! files stay on disk.
//!
//! **Restart.** Opening a directory keeps the cache: every `*.entry` file
//! whose trailer is intact and whose length matches it is indexed again
//! (least recently used by file modification time), the data checksum is
//! checked when the file is first mapped, and anything else — `*.tmp` files
//! of fills a crash interrupted, damaged or foreign files — is deleted.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError, Weak};
use std::time::SystemTime;

use tokio::sync::{Semaphore, watch};

use super::entry::{CachedMeta, Mapping};
use crate::config::CacheConfig;
use crate::error::{Result, StoreError};

/// What the cache did, for tests, benchmarks and operators.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Objects cached now.
    pub entries: u64,
    /// Bytes of cache files on disk now.
    pub disk_bytes: u64,
    /// Bytes of mappings counted as resident now.
    pub resident_bytes: u64,
    /// Entries found intact when the directory was opened.
    pub restored: u64,
    /// Whole-object fills started (a fill registered by a read that then
    /// failed never starts).
    pub fills_started: u64,
    /// Fills that published a cache file.
    pub fills_completed: u64,
    /// Fills that failed, were too big, or lost a race with an invalidation.
    pub fills_failed: u64,
    /// GET requests fills sent (a fill teed from a cold whole-object read
    /// sends none): store-wide GETs are the queries' GETs plus these.
    pub fill_requests: u64,
    /// Payload bytes fetched by fills.
    pub fill_bytes: u64,
    /// Entries evicted for the disk budget.
    pub evictions: u64,
    /// Mappings advised out of memory for the memory budget.
    pub advised_out: u64,
    /// Cache files dropped because they failed verification.
    pub corrupt_dropped: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) fills_started: AtomicU64,
    pub(crate) fills_completed: AtomicU64,
    pub(crate) fills_failed: AtomicU64,
    pub(crate) fill_requests: AtomicU64,
    pub(crate) fill_bytes: AtomicU64,
    evictions: AtomicU64,
    advised_out: AtomicU64,
    corrupt_dropped: AtomicU64,
}

/// One cached object.
#[derive(Debug)]
struct Entry {
    file: PathBuf,
    meta: Arc<CachedMeta>,
    file_len: u64,
    /// Created and verified on first use.
    mapping: Option<Arc<Mapping>>,
    resident: bool,
    last_used: u64,
}

impl Entry {
    fn pinned(&self) -> bool {
        self.mapping
            .as_ref()
            .is_some_and(|m| Arc::strong_count(m) > 1)
    }
}

/// A fill in flight; waiters see `Some(true)` when it published a file.
#[derive(Debug)]
pub(crate) struct Filling {
    pub(crate) id: u64,
    pub(crate) done: watch::Receiver<Option<bool>>,
}

#[derive(Debug, Default)]
struct Index {
    entries: HashMap<String, Entry>,
    filling: HashMap<String, Filling>,
    /// Objects larger than the disk budget: never filled.
    too_big: HashSet<String>,
    disk_bytes: u64,
    resident_bytes: u64,
    tick: u64,
    next_fill: u64,
}

/// A cache directory shared by every store of this process that uses it.
#[derive(Debug)]
pub(crate) struct DiskCache {
    pub(crate) dir: PathBuf,
    disk_budget: u64,
    memory_budget: u64,
    pub(crate) fill_slots: Semaphore,
    index: Mutex<Index>,
    pub(crate) counters: Counters,
    restored: u64,
    /// Held (and exclusively locked) while this cache is open.
    _lock: File,
}

static OPEN: LazyLock<Mutex<HashMap<PathBuf, Weak<DiskCache>>>> = LazyLock::new(Mutex::default);

/// What a lookup found.
pub(crate) enum Lookup {
    /// A verified mapping, pinned by the `Arc`, and the object's metadata.
    Hit(Arc<Mapping>, Arc<CachedMeta>),
    /// Cached but not mapped yet: verify `file` against `meta` first.
    Unverified(PathBuf, Arc<CachedMeta>),
    /// Not cached.
    Miss,
}

impl DiskCache {
    /// The cache for `config.dir`, opening (and rescanning) it if this
    /// process has not yet. A directory already open here is shared; its
    /// first opener's budgets apply.
    pub(crate) fn open(config: &CacheConfig) -> Result<Arc<DiskCache>> {
        let io = |op: &'static str, path: &FsPath| {
            let path = path.display().to_string();
            move |source| StoreError::LocalIo { op, path, source }
        };
        std::fs::create_dir_all(&config.dir).map_err(io("create cache dir", &config.dir))?;
        let dir = std::fs::canonicalize(&config.dir).map_err(io("open cache dir", &config.dir))?;
        let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(cache) = open.get(&dir).and_then(Weak::upgrade) {
            return Ok(cache);
        }
        // A handle of this process whose last reference is being dropped on
        // another thread (a background fill ending) still holds the lock
        // for a moment: wait for it rather than report the directory busy.
        let releasing = open
            .get(&dir)
            .is_some_and(|cache| cache.strong_count() == 0);
        open.retain(|_, cache| cache.strong_count() > 0);
        let lock_path = dir.join(".lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("open cache lock", &lock_path))?;
        let mut waits = if releasing { 200 } else { 0 };
        while lock.try_lock().is_err() {
            if waits == 0 {
                return Err(StoreError::CacheDirInUse {
                    dir: dir.display().to_string(),
                });
            }
            waits -= 1;
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let (index, restored) = scan(&dir, config.disk_budget);
        let cache = Arc::new(DiskCache {
            dir: dir.clone(),
            disk_budget: config.disk_budget,
            memory_budget: config.memory_budget,
            fill_slots: Semaphore::new(config.fill_concurrency.max(1)),
            index: Mutex::new(index),
            counters: Counters::default(),
            restored,
            _lock: lock,
        });
        open.insert(dir, Arc::downgrade(&cache));
        Ok(cache)
    }

    fn index(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Find `key`, pinning its mapping on a hit.
    pub(crate) fn lookup(&self, key: &str) -> Lookup {
        let mut index = self.index();
        index.tick += 1;
        let tick = index.tick;
        let Some(entry) = index.entries.get_mut(key) else {
            return Lookup::Miss;
        };
        entry.last_used = tick;
        let meta = Arc::clone(&entry.meta);
        match &entry.mapping {
            Some(mapping) => {
                let mapping = Arc::clone(mapping);
                self.touch(&mut index, key);
                Lookup::Hit(mapping, meta)
            }
            None => Lookup::Unverified(entry.file.clone(), meta),
        }
    }

    /// Install a mapping verified outside the lock; returns the pinned mapping
    /// in use (another reader may have installed one first), or `None` when
    /// the entry went away meanwhile.
    pub(crate) fn install(
        &self,
        key: &str,
        file: &FsPath,
        mapping: Mapping,
    ) -> Option<Arc<Mapping>> {
        let mut index = self.index();
        let entry = index.entries.get_mut(key).filter(|e| e.file == file)?;
        let mapping = Arc::clone(entry.mapping.get_or_insert_with(|| Arc::new(mapping)));
        self.touch(&mut index, key);
        Some(mapping)
    }

    /// Drop an entry whose file failed verification.
    pub(crate) fn drop_corrupt(&self, key: &str, file: &FsPath) {
        let mut index = self.index();
        if index.entries.get(key).is_some_and(|e| e.file == file) {
            remove(&mut index, key);
            self.counters
                .corrupt_dropped
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(file = %file.display(), "cache file failed verification; dropped");
        }
    }

    /// Forget `key` (its object was overwritten or deleted). A reader still
    /// holding its bytes keeps them: the unlinked file stays mapped.
    pub(crate) fn invalidate(&self, key: &str) {
        let mut index = self.index();
        remove(&mut index, key);
        index.filling.remove(key);
        index.too_big.remove(key);
    }

    /// Mark `key` used and resident; advise older mappings out past the memory budget.
    fn touch(&self, index: &mut Index, key: &str) {
        let Some(entry) = index.entries.get_mut(key) else {
            return;
        };
        if !entry.resident {
            entry.resident = true;
            let size = entry.meta.size;
            index.resident_bytes += size;
        }
        while index.resident_bytes > self.memory_budget {
            let oldest = index
                .entries
                .iter()
                .filter(|(k, e)| e.resident && k.as_str() != key)
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone());
            let Some(oldest) = oldest else { break };
            if let Some(entry) = index.entries.get_mut(&oldest) {
                entry.resident = false;
                let size = entry.meta.size;
                if let Some(mapping) = &entry.mapping {
                    mapping.advise_out();
                }
                index.resident_bytes -= size;
                self.counters.advised_out.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Register a fill of `key` unless it is cached, being filled or too
    /// big; `Some((id, sender))` makes the caller the one filler.
    pub(crate) fn begin_fill(&self, key: &str) -> Option<(u64, watch::Sender<Option<bool>>)> {
        let mut index = self.index();
        if index.entries.contains_key(key)
            || index.filling.contains_key(key)
            || index.too_big.contains(key)
        {
            return None;
        }
        index.next_fill += 1;
        let id = index.next_fill;
        let (done_tx, done) = watch::channel(None);
        index.filling.insert(key.to_owned(), Filling { id, done });
        Some((id, done_tx))
    }

    /// A receiver for the fill of `key` in flight, if any.
    pub(crate) fn fill_in_flight(&self, key: &str) -> Option<watch::Receiver<Option<bool>>> {
        self.index().filling.get(key).map(|f| f.done.clone())
    }

    /// Receivers for every fill in flight.
    pub(crate) fn fills_in_flight(&self) -> Vec<watch::Receiver<Option<bool>>> {
        self.index()
            .filling
            .values()
            .map(|f| f.done.clone())
            .collect()
    }

    /// End fill `id` of `key` without publishing (failure, or killed).
    pub(crate) fn end_fill(&self, key: &str, id: u64) {
        let mut index = self.index();
        if index.filling.get(key).is_some_and(|f| f.id == id) {
            index.filling.remove(key);
        }
    }

    /// Whether an object of `size` bytes could ever fit; remembers it if not.
    pub(crate) fn fits(&self, key: &str, file_len: u64) -> bool {
        if file_len <= self.disk_budget {
            return true;
        }
        self.index().too_big.insert(key.to_owned());
        false
    }

    /// Publish the complete, verified temp file of fill `id` as `key`'s
    /// entry, evicting unpinned entries to stay in the disk budget. `false`
    /// (and nothing published) when the fill was invalidated meanwhile or
    /// pinned entries leave no room.
    pub(crate) fn publish(&self, key: &str, id: u64, temp: &FsPath, meta: CachedMeta) -> bool {
        let mut index = self.index();
        if index.filling.get(key).is_none_or(|f| f.id != id) {
            return false;
        }
        index.filling.remove(key);
        let file_len = meta.file_len();
        while index.disk_bytes + file_len > self.disk_budget {
            let victim = index
                .entries
                .iter()
                .filter(|(_, e)| !e.pinned())
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone());
            let Some(victim) = victim else {
                tracing::debug!(key, "cache full of pinned entries; not cached");
                return false;
            };
            remove(&mut index, &victim);
            self.counters.evictions.fetch_add(1, Ordering::Relaxed);
        }
        let file = self
            .dir
            .join(format!("{}.entry", uuid::Uuid::new_v4().simple()));
        if let Err(e) = std::fs::rename(temp, &file) {
            tracing::warn!(error = %e, "cannot publish cache file");
            return false;
        }
        index.tick += 1;
        let last_used = index.tick;
        index.disk_bytes += file_len;
        index.entries.insert(
            key.to_owned(),
            Entry {
                file,
                meta: Arc::new(meta),
                file_len,
                mapping: None,
                resident: false,
                last_used,
            },
        );
        true
    }

    pub(crate) fn stats(&self) -> CacheStats {
        let index = self.index();
        let c = &self.counters;
        CacheStats {
            entries: index.entries.len() as u64,
            disk_bytes: index.disk_bytes,
            resident_bytes: index.resident_bytes,
            restored: self.restored,
            fills_started: c.fills_started.load(Ordering::Relaxed),
            fills_completed: c.fills_completed.load(Ordering::Relaxed),
            fills_failed: c.fills_failed.load(Ordering::Relaxed),
            fill_requests: c.fill_requests.load(Ordering::Relaxed),
            fill_bytes: c.fill_bytes.load(Ordering::Relaxed),
            evictions: c.evictions.load(Ordering::Relaxed),
            advised_out: c.advised_out.load(Ordering::Relaxed),
            corrupt_dropped: c.corrupt_dropped.load(Ordering::Relaxed),
        }
    }
}

/// Remove an entry and unlink its file (mappings of it stay valid).
fn remove(index: &mut Index, key: &str) {
    if let Some(entry) = index.entries.remove(key) {
        index.disk_bytes -= entry.file_len;
        if entry.resident {
            index.resident_bytes -= entry.meta.size;
        }
        if let Err(e) = std::fs::remove_file(&entry.file) {
            tracing::debug!(error = %e, file = %entry.file.display(), "cannot unlink cache file");
        }
    }
}

/// Rebuild the index from `dir`: keep intact entries, delete the rest, then
/// evict down to `budget`. Returns the index and how many entries were kept.
fn scan(dir: &FsPath, budget: u64) -> (Index, u64) {
    let mut found: Vec<(SystemTime, PathBuf, CachedMeta, u64)> = Vec::new();
    let Ok(listing) = std::fs::read_dir(dir) else {
        return (Index::default(), 0);
    };
    for item in listing.flatten() {
        let path = item.path();
        let name = item.file_name();
        let name = name.to_string_lossy();
        if name == ".lock" {
            continue;
        }
        let intact = name
            .strip_suffix(".entry")
            .filter(|_| item.file_type().is_ok_and(|t| t.is_file()))
            .and_then(|_| {
                let mut file = File::open(&path).ok()?;
                let metadata = file.metadata().ok()?;
                let meta = CachedMeta::read_trailer(&mut file, metadata.len())?;
                let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                Some((modified, meta, metadata.len()))
            });
        match intact {
            Some((modified, meta, len)) => found.push((modified, path, meta, len)),
            None => {
                tracing::debug!(file = %path.display(), "removing leftover or damaged cache file");
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    found.sort_by_key(|(modified, ..)| *modified);
    let mut index = Index::default();
    for (modified_rank, (_, file, meta, file_len)) in found.into_iter().enumerate() {
        if let Some(old) = index.entries.get(&meta.key) {
            // Two files for one object (a crash between publish and cleanup): keep the newer.
            let _ = std::fs::remove_file(&old.file);
            index.disk_bytes -= old.file_len;
        }
        index.disk_bytes += file_len;
        index.entries.insert(
            meta.key.clone(),
            Entry {
                file,
                meta: Arc::new(meta),
                file_len,
                mapping: None,
                resident: false,
                last_used: modified_rank as u64,
            },
        );
    }
    index.tick = index.entries.len() as u64;
    while index.disk_bytes > budget {
        let victim = index
            .entries
            .iter()
            .min_by_key(|(_, e)| e.last_used)
            .map(|(k, _)| k.clone());
        let Some(victim) = victim else { break };
        remove(&mut index, &victim);
    }
    let restored = index.entries.len() as u64;
    (index, restored)
}
