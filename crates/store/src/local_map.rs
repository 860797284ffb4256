//! Ranged reads of immutable local files from memory mappings.
//!
//! `object_store`'s local backend answers each ranged read on the blocking
//! pool: open, stat, seek, and read into a freshly zeroed buffer — two
//! thread hand-offs and a copy per range. A Parquet scan of a local table
//! issues hundreds of such reads, and measured on the SQL cell (1M rows)
//! the hand-offs and copies were a third of an indexed lookup's time.
//!
//! Objects that never change (superfiles, manifests, deletion vectors: the
//! same path endings the disk cache trusts) are instead mapped once and
//! read as slices of the mapping, on the calling thread. Each read still
//! checks the file (one `stat`): a path whose inode, size or modification
//! time changed is mapped afresh, and a missing one is left to the backend
//! to report. The reply carries the metadata and ETag the backend would
//! give, so callers cannot tell the two paths apart except by speed.
//!
//! The trade: a page not yet in the OS page cache is faulted in by the
//! thread that first reads it — a tokio worker — instead of a blocking-pool
//! thread, which on local disks costs about what the hand-off did. Only on
//! Unix, where unlinking a mapped file (garbage collection) is allowed.

use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use futures::StreamExt;
use memmap2::Mmap;
use object_store::path::Path;
use object_store::{Attributes, GetOptions, GetResult, GetResultPayload, ObjectMeta};

/// Mappings kept at most; past this the table is emptied (readers keep the
/// mappings they hold alive through their `Bytes`).
const MAX_MAPPINGS: usize = 4096;

/// What identifies one version of a file: a replaced or rewritten file
/// differs in at least one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    inode: u64,
    size: u64,
    modified_micros: u128,
}

impl Identity {
    fn of(metadata: &Metadata) -> Self {
        Self {
            inode: inode(metadata),
            size: metadata.len(),
            modified_micros: modified(metadata)
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_micros())
                .unwrap_or_default(),
        }
    }

    /// The ETag `object_store`'s local backend gives this file.
    fn e_tag(&self) -> String {
        format!(
            "{:x}-{:x}-{:x}",
            self.inode, self.modified_micros, self.size
        )
    }
}

fn modified(metadata: &Metadata) -> SystemTime {
    metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH)
}

/// One mapped file and the metadata it was mapped under.
#[derive(Debug)]
struct Mapped {
    map: Mmap,
    identity: Identity,
    last_modified: SystemTime,
}

/// A slice of a mapping that keeps it alive, for `Bytes::from_owner`.
struct MappedSlice {
    file: Arc<Mapped>,
    range: Range<usize>,
}

impl AsRef<[u8]> for MappedSlice {
    fn as_ref(&self) -> &[u8] {
        &self.file.map[self.range.clone()]
    }
}

/// The mappings of one local store's immutable files.
#[derive(Debug)]
pub(crate) struct MappedFiles {
    suffixes: Vec<String>,
    maps: Mutex<HashMap<Path, Arc<Mapped>>>,
}

impl MappedFiles {
    /// Mapped reads for the paths ending in one of `suffixes`.
    pub(crate) fn new(suffixes: Vec<String>) -> Self {
        Self {
            suffixes,
            maps: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `options` ask for a plain read of an immutable object: no
    /// preconditions, not a HEAD, and a path this store maps.
    fn serves(&self, location: &Path, options: &GetOptions) -> bool {
        !options.head
            && options.if_match.is_none()
            && options.if_none_match.is_none()
            && options.if_modified_since.is_none()
            && options.if_unmodified_since.is_none()
            && options.version.is_none()
            && self
                .suffixes
                .iter()
                .any(|s| location.as_ref().ends_with(s.as_str()))
    }

    /// The read `options` ask of `location` (at `file` on disk) from a
    /// mapping, or `None` when the backend should answer it: another kind
    /// of read, a missing or empty file, a range the file cannot give (the
    /// backend reports those errors as it always does).
    pub(crate) fn get(
        &self,
        location: &Path,
        file: &std::path::Path,
        options: &GetOptions,
    ) -> Option<GetResult> {
        if cfg!(not(unix)) || !self.serves(location, options) {
            return None;
        }
        let metadata = std::fs::metadata(file).ok()?;
        let identity = Identity::of(&metadata);
        if identity.size == 0 {
            return None;
        }
        let mapped = self.mapping(location, file, identity, &metadata)?;
        let range = match &options.range {
            Some(r) => r.as_range(identity.size).ok()?,
            None => 0..identity.size,
        };
        let slice = usize::try_from(range.start).ok()?..usize::try_from(range.end).ok()?;
        if slice.end > mapped.map.len() {
            return None;
        }
        let bytes = Bytes::from_owner(MappedSlice {
            file: Arc::clone(&mapped),
            range: slice,
        });
        let meta = ObjectMeta {
            location: location.clone(),
            last_modified: mapped.last_modified.into(),
            size: identity.size,
            e_tag: Some(identity.e_tag()),
            version: None,
        };
        Some(GetResult {
            payload: GetResultPayload::Stream(futures::stream::once(async { Ok(bytes) }).boxed()),
            meta,
            range,
            attributes: Attributes::default(),
        })
    }

    /// The mapping of `location` for this `identity`, made if there is none
    /// or the file changed since.
    fn mapping(
        &self,
        location: &Path,
        file: &std::path::Path,
        identity: Identity,
        metadata: &Metadata,
    ) -> Option<Arc<Mapped>> {
        if let Some(mapped) = self.lock().get(location)
            && mapped.identity == identity
        {
            return Some(Arc::clone(mapped));
        }
        let handle = File::open(file).ok()?;
        // The file must still be the one just looked at.
        if Identity::of(&handle.metadata().ok()?) != identity {
            return None;
        }
        // SAFETY: only objects the store never rewrites are mapped (written
        // once under a temporary name and published by rename or link; a
        // delete unlinks, which leaves a mapping valid). A process truncating
        // such a file behind the store's back is outside the contract, as
        // for the disk cache's mapped files.
        let map = unsafe { Mmap::map(&handle) }.ok()?;
        let mapped = Arc::new(Mapped {
            map,
            identity,
            last_modified: modified(metadata),
        });
        let mut maps = self.lock();
        if maps.len() >= MAX_MAPPINGS {
            maps.clear();
        }
        maps.insert(location.clone(), Arc::clone(&mapped));
        Some(mapped)
    }

    /// Forget `location` (written, copied over or deleted through the store).
    pub(crate) fn forget(&self, location: &Path) {
        self.lock().remove(location);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Path, Arc<Mapped>>> {
        // A poisoned table only lost an insert: the mappings are still sound.
        self.maps.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(unix)]
fn inode(metadata: &Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(metadata)
}

/// Without inodes, as `object_store`'s local backend: size and time only.
#[cfg(not(unix))]
fn inode(_metadata: &Metadata) -> u64 {
    0
}
