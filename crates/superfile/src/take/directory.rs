//! What takes learn about a file's pages, kept for the next take.
//!
//! Reaching one value of a dictionary-encoded page means parsing the page
//! header and walking the run headers of its indices up to the value — a
//! chain of dependent loads, each a cache miss on a cold page, about eight
//! per 4 Ki-row page. A thousand scattered rows touch a thousand pages,
//! so the walks cost more than the values. A [`PageDirectory`] keeps, per
//! page a take has read, its parsed header and where each run of its
//! dictionary indices starts, and per dictionary where each value lies:
//! the next take over the same file (the same snapshot's next query) goes
//! straight to the bits of each wanted value. It costs a few bytes per
//! page (dozens of KiB for a million rows) and is filled as pages are
//! read, by whichever take reads them first.

use std::sync::{Arc, OnceLock};

use parquet::file::metadata::ParquetMetaData;

use super::header::PageHeader;
use super::hybrid::{Hybrid, RunView, unpack_at};
use crate::error::{Result, SuperfileError};

fn corrupt(reason: &str) -> SuperfileError {
    SuperfileError::corrupt("column page", reason.to_owned())
}

/// Each value's (offset, length) in a dictionary page's body.
pub(crate) type Spans = Arc<[(u32, u32)]>;

/// Pages and dictionaries of one file, as takes have read them.
#[derive(Debug)]
pub struct PageDirectory {
    /// Index of the first page of chunk (group, leaf) in `pages`, at
    /// `group · leaves + leaf`; one more entry for the end.
    starts: Vec<usize>,
    leaves: usize,
    pages: Vec<OnceLock<Arc<PageMap>>>,
    /// Dictionary value spans, per chunk (same index as `starts`).
    dictionaries: Vec<OnceLock<Spans>>,
}

impl PageDirectory {
    /// An empty directory for the file `metadata` describes (its offset
    /// index gives the pages; a file without one gets no page entries).
    pub fn new(metadata: &ParquetMetaData) -> Self {
        let leaves = metadata.file_metadata().schema_descr().num_columns();
        let groups = metadata.num_row_groups();
        let mut starts = Vec::with_capacity(groups * leaves + 1);
        let mut total = 0usize;
        for group in 0..groups {
            for leaf in 0..leaves {
                starts.push(total);
                total += metadata
                    .offset_index()
                    .and_then(|o| o.get(group)?.get(leaf))
                    .map_or(0, |o| o.page_locations().len());
            }
        }
        starts.push(total);
        Self {
            starts,
            leaves,
            pages: (0..total).map(|_| OnceLock::new()).collect(),
            dictionaries: (0..groups * leaves).map(|_| OnceLock::new()).collect(),
        }
    }

    fn slot(&self, group: usize, leaf: usize, page: usize) -> Option<&OnceLock<Arc<PageMap>>> {
        let chunk = group.checked_mul(self.leaves)?.checked_add(leaf)?;
        let (start, end) = (*self.starts.get(chunk)?, *self.starts.get(chunk + 1)?);
        let at = start.checked_add(page).filter(|&at| at < end)?;
        self.pages.get(at)
    }

    /// The map of page `page` of chunk (`group`, `leaf`), if a take has
    /// read it.
    pub(crate) fn page(&self, group: usize, leaf: usize, page: usize) -> Option<&PageMap> {
        self.slot(group, leaf, page)?.get().map(AsRef::as_ref)
    }

    /// Keeps `map` for page `page` of chunk (`group`, `leaf`).
    pub(crate) fn keep_page(&self, group: usize, leaf: usize, page: usize, map: Arc<PageMap>) {
        if let Some(slot) = self.slot(group, leaf, page) {
            let _ = slot.set(map);
        }
    }

    /// The value spans of the dictionary of chunk (`group`, `leaf`).
    pub(crate) fn spans(&self, group: usize, leaf: usize) -> Option<Spans> {
        self.dictionaries
            .get(group.checked_mul(self.leaves)?.checked_add(leaf)?)?
            .get()
            .cloned()
    }

    /// Keeps the value spans of the dictionary of chunk (`group`, `leaf`).
    pub(crate) fn keep_spans(&self, group: usize, leaf: usize, spans: Spans) {
        let slot = group
            .checked_mul(self.leaves)
            .and_then(|c| c.checked_add(leaf))
            .and_then(|c| self.dictionaries.get(c));
        if let Some(slot) = slot {
            let _ = slot.set(spans);
        }
    }
}

/// One data page as a take reads it: its header and, for dictionary
/// indices, where their runs start.
#[derive(Debug)]
pub(crate) struct PageMap {
    pub(crate) header: PageHeader,
    /// Runs of the dictionary indices (bit width first), for pages whose
    /// values are dictionary indices.
    pub(crate) runs: Option<IndexRuns>,
}

/// The runs of a page's dictionary indices.
#[derive(Debug)]
pub(crate) struct IndexRuns {
    width: u32,
    runs: Box<[Run]>,
}

/// One run of hybrid-encoded indices.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// Position of the run's first value.
    first: u32,
    len: u32,
    /// A repeated run's value, or a packed run's byte offset in the
    /// indices (after the bit-width byte).
    value: u32,
    packed: bool,
}

impl IndexRuns {
    /// The runs of dictionary indices `data` (the page's values: a bit
    /// width byte, then the hybrid-encoded indices).
    pub(crate) fn read(data: &[u8]) -> Result<Self> {
        let width = u32::from(*data.first().ok_or_else(|| corrupt("empty index page"))?);
        let indices = &data[1..];
        let mut cursor = Hybrid::new(indices, width)?;
        let mut runs = Vec::new();
        while let Some((first, run)) = cursor.next_run_at()? {
            let first = u32::try_from(first).map_err(|_| corrupt("page too long"))?;
            let (len, value, packed) = match run {
                RunView::Repeat { value, len } => (len, value, false),
                RunView::Packed { offset, len } => (len, offset as u64, true),
            };
            runs.push(Run {
                first,
                len: u32::try_from(len).map_err(|_| corrupt("run too long"))?,
                value: u32::try_from(value).map_err(|_| corrupt("index over 32 bits"))?,
                packed,
            });
        }
        Ok(Self {
            width,
            runs: runs.into_boxed_slice(),
        })
    }

    /// Where in `data` (the bytes [`read`](Self::read) was given) the
    /// index at position `p` lies, to prefetch it; `None` for a repeated
    /// run (nothing to load) or a position past the runs.
    pub(crate) fn byte_of(&self, p: usize) -> Option<usize> {
        let p = u32::try_from(p).ok()?;
        let run = self
            .runs
            .get(self.runs.partition_point(|r| r.first <= p).checked_sub(1)?)?;
        run.packed
            .then(|| 1 + run.value as usize + ((p - run.first) as usize * self.width as usize) / 8)
    }

    /// The index at position `p` of `data` (the bytes [`read`](Self::read)
    /// was given).
    pub(crate) fn get(&self, data: &[u8], p: usize) -> Result<u64> {
        let p = u32::try_from(p).map_err(|_| corrupt("position past the page"))?;
        let at = self.runs.partition_point(|r| r.first <= p);
        let run = at
            .checked_sub(1)
            .and_then(|i| self.runs.get(i))
            .filter(|r| p - r.first < r.len)
            .ok_or_else(|| corrupt("position past the encoded values"))?;
        if !run.packed {
            return Ok(u64::from(run.value));
        }
        let bytes = data
            .get(1 + run.value as usize..)
            .ok_or_else(|| corrupt("run past the page"))?;
        Ok(unpack_at(bytes, (p - run.first) as usize, self.width))
    }
}

/// Asks the CPU to bring the cache line holding `bytes[at]` in ahead of
/// use (nothing when `at` is out of bounds or there is no prefetch
/// instruction): a take's values are scattered one per page, and loading
/// them one after another pays one memory latency each.
pub(crate) fn prefetch(bytes: &[u8], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(byte) = bytes.get(at) {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: SSE is part of the x86_64 baseline, and a prefetch is a
        // hint that never faults (the pointer is in bounds anyway).
        unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(byte).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (bytes, at);
}
