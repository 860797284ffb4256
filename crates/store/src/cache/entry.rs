//! One cache file: the object's bytes followed by a self-describing trailer.
//!
//! ```text
//! [object bytes: size]
//! [key_len u32][key][e_tag opt][version opt][last_modified_ns u64][size u64][data_crc u32]
//! [meta_len u32][meta_crc u32][magic "INFCACH1"]
//! ```
//!
//! Optional strings are a `u32` length (`u32::MAX` for none) and the bytes;
//! integers are little-endian. The trailer names the object, so a restart
//! rebuilds the index from the files alone, and it carries a CRC32C of the
//! object bytes, checked when the file is first mapped: a truncated,
//! overwritten or half-written file is dropped, never served. One file per
//! object means one atomic rename publishes it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path as FsPath;
use std::time::{Duration, SystemTime};

use memmap2::{Mmap, UncheckedAdvice};

/// Marks the end of a complete cache file.
const MAGIC: &[u8; 8] = b"INFCACH1";
/// `meta_len`, `meta_crc` and the magic.
const TAIL_LEN: usize = 16;
const TAIL: u64 = TAIL_LEN as u64;
/// Longest trailer we accept, so a corrupt length cannot make us allocate much.
const MAX_META: u32 = 64 << 10;

/// What we know of a cached object, from the reply that filled it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CachedMeta {
    /// Backend identity and object path (see `CachingObjectStore::key`).
    pub(crate) key: String,
    pub(crate) e_tag: Option<String>,
    pub(crate) version: Option<String>,
    pub(crate) last_modified: SystemTime,
    pub(crate) size: u64,
    /// CRC32C of the object bytes.
    pub(crate) data_crc: u32,
}

impl CachedMeta {
    /// The trailer that follows the object bytes.
    pub(crate) fn trailer(&self) -> Vec<u8> {
        let mut meta = Vec::with_capacity(64 + self.key.len());
        put_str(&mut meta, Some(&self.key));
        put_str(&mut meta, self.e_tag.as_deref());
        put_str(&mut meta, self.version.as_deref());
        let nanos = self
            .last_modified
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        meta.extend_from_slice(&nanos.to_le_bytes());
        meta.extend_from_slice(&self.size.to_le_bytes());
        meta.extend_from_slice(&self.data_crc.to_le_bytes());
        let len = u32::try_from(meta.len()).unwrap_or(u32::MAX);
        let crc = crc32c::crc32c(&meta);
        meta.extend_from_slice(&len.to_le_bytes());
        meta.extend_from_slice(&crc.to_le_bytes());
        meta.extend_from_slice(MAGIC);
        meta
    }

    /// Read and check the trailer of `file` (of `file_len` bytes); `None`
    /// when it is missing, damaged or does not fit the file's length.
    pub(crate) fn read_trailer(file: &mut File, file_len: u64) -> Option<CachedMeta> {
        if file_len < TAIL {
            return None;
        }
        let mut tail = [0u8; TAIL_LEN];
        file.seek(SeekFrom::Start(file_len - TAIL)).ok()?;
        file.read_exact(&mut tail).ok()?;
        if &tail[8..] != MAGIC {
            return None;
        }
        let meta_len = u32::from_le_bytes(tail[0..4].try_into().ok()?);
        let meta_crc = u32::from_le_bytes(tail[4..8].try_into().ok()?);
        if meta_len > MAX_META || u64::from(meta_len) + TAIL > file_len {
            return None;
        }
        let mut meta = vec![0u8; meta_len as usize];
        file.seek(SeekFrom::Start(file_len - TAIL - u64::from(meta_len)))
            .ok()?;
        file.read_exact(&mut meta).ok()?;
        if crc32c::crc32c(&meta) != meta_crc {
            return None;
        }
        let mut cursor = meta.as_slice();
        let key = take_str(&mut cursor)??;
        let e_tag = take_str(&mut cursor)?;
        let version = take_str(&mut cursor)?;
        let nanos = take_u64(&mut cursor)?;
        let size = take_u64(&mut cursor)?;
        let data_crc = u32::from_le_bytes(take(&mut cursor, 4)?.try_into().ok()?);
        if !cursor.is_empty() || size + u64::from(meta_len) + TAIL != file_len {
            return None;
        }
        Some(CachedMeta {
            key,
            e_tag,
            version,
            last_modified: SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos),
            size,
            data_crc,
        })
    }

    /// Length of the whole cache file for this object.
    pub(crate) fn file_len(&self) -> u64 {
        self.size + self.trailer().len() as u64
    }
}

fn put_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => {
            out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        None => out.extend_from_slice(&u32::MAX.to_le_bytes()),
    }
}

fn take<'a>(cursor: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if cursor.len() < n {
        return None;
    }
    let (head, rest) = cursor.split_at(n);
    *cursor = rest;
    Some(head)
}

fn take_u64(cursor: &mut &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(take(cursor, 8)?.try_into().ok()?))
}

/// `Some(None)` for an absent string, `None` for a damaged one.
fn take_str(cursor: &mut &[u8]) -> Option<Option<String>> {
    let len = u32::from_le_bytes(take(cursor, 4)?.try_into().ok()?);
    if len == u32::MAX {
        return Some(None);
    }
    let bytes = take(cursor, len as usize)?;
    Some(Some(String::from_utf8(bytes.to_vec()).ok()?))
}

/// A verified, read-only mapping of one cache file. Readers hold it through
/// `Arc`s inside the `Bytes` they were given, which is what pins an entry:
/// the mapping (and so the data) stays valid even after the file is
/// unlinked, because the kernel keeps an unlinked file's pages while a
/// mapping of it exists.
#[derive(Debug)]
pub(crate) struct Mapping {
    map: Mmap,
    size: usize,
}

impl Mapping {
    /// Map `path` and check it holds `meta`'s object: length and CRC32C.
    /// `None` when it does not (the caller drops the entry).
    pub(crate) fn open_verified(path: &FsPath, meta: &CachedMeta) -> Option<Mapping> {
        let file = File::open(path).ok()?;
        let len = file.metadata().ok()?.len();
        if len != meta.file_len() {
            return None;
        }
        // SAFETY: cache files are written once under a temporary name and
        // published by rename; we never write to or truncate a published
        // file (eviction only unlinks it, which leaves mappings valid). A
        // process editing the cache directory behind our back is outside the
        // contract, as it would be for any mapped file.
        let map = unsafe { Mmap::map(&file) }.ok()?;
        let size = usize::try_from(meta.size).ok()?;
        if map.len() < size || crc32c::crc32c(&map[..size]) != meta.data_crc {
            return None;
        }
        Some(Mapping { map, size })
    }

    /// The object's bytes.
    pub(crate) fn data(&self) -> &[u8] {
        &self.map[..self.size]
    }

    /// Tell the kernel it may drop this mapping's pages from our memory; the
    /// file stays on disk and the next access reads them back.
    pub(crate) fn advise_out(&self) -> bool {
        // SAFETY: `MADV_DONTNEED` on a read-only, file-backed mapping only
        // drops page-table entries; the next access faults the same bytes
        // back in from the file (or the page cache). Nothing is lost because
        // we never write through this mapping.
        unsafe { self.map.unchecked_advise(UncheckedAdvice::DontNeed) }.is_ok()
    }
}

/// A range of a mapping that owns a reference to it, for `Bytes::from_owner`.
#[derive(Debug)]
pub(crate) struct MappedRange {
    pub(crate) mapping: std::sync::Arc<Mapping>,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl AsRef<[u8]> for MappedRange {
    fn as_ref(&self) -> &[u8] {
        &self.mapping.data()[self.start..self.end]
    }
}
