//! Per-query full-text reads: a region's lookup prefix once, then only the
//! lists of the terms a query touches.
//!
//! A full-text region is mostly postings, positions and offsets, and a
//! query reads a handful of terms' lists. The lookup prefix (header,
//! dictionary, term info, norms, presence) is fetched once per region —
//! one ranged read, two when it is longer than [`PREFIX_READ_BYTES`] — and
//! kept; each query then fetches its terms' byte ranges in one batched,
//! coalesced read. The region's CRC32C covers the whole region, so these
//! partial reads cannot check it; the dictionary's own checksum is
//! verified and every list is validated structurally as it is decoded.

use std::ops::Range;
use std::sync::{Arc, PoisonError};

use bytes::{Bytes, BytesMut};
use infino_fts::{FtsIndex, Query, RegionLayout};

use crate::error::{Result, SuperfileError};
use crate::format::{RegionEntry, RegionKind};
use crate::lazy::LazySuperfile;
use crate::reader::verify;

/// Bytes read from the start of a region to find its lookup prefix in one
/// request.
pub const PREFIX_READ_BYTES: u64 = 256 * 1024;

impl LazySuperfile {
    fn fts_entry(&self, column: &str) -> Result<&RegionEntry> {
        self.directory
            .region(RegionKind::Fts, column)
            .ok_or_else(|| SuperfileError::NoSuchColumn {
                column: column.to_owned(),
                what: "full-text index",
            })
    }

    async fn read(&self, entry: &RegionEntry, range: Range<u64>) -> Result<Bytes> {
        let file = entry.offset + range.start..entry.offset + range.end;
        Ok(self.store.get_range(&self.path, file).await?)
    }

    /// The full-text index of `column` for lookups: its lookup prefix,
    /// fetched on first use and kept (the whole region if it was loaded by
    /// [`fts`](Self::fts), or is small enough to come with the first read).
    /// Term statistics, norms and expansions work on it; postings need
    /// [`fts_for_terms`](Self::fts_for_terms) or
    /// [`fts_for_query`](Self::fts_for_query).
    ///
    /// # Errors
    /// [`SuperfileError::NoSuchColumn`], storage or region errors.
    pub async fn fts_lookup(&self, column: &str) -> Result<Arc<FtsIndex>> {
        for cache in [&self.fts, &self.fts_prefixes] {
            let cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(index) = cache.get(column) {
                return Ok(Arc::clone(index));
            }
        }
        let entry = self.fts_entry(column)?;
        // The known prefix length when the manifest gave one (a wrong hint
        // only costs the reads below), else a guess.
        let guess = self
            .lookup_hints
            .get(column)
            .map_or(PREFIX_READ_BYTES, |&hint| hint.max(1024));
        let first = self.read(entry, 0..entry.length.min(guess)).await?;
        if first.len() as u64 == entry.length {
            if self.options.verify_checksums {
                verify(
                    &format!("full-text region of `{column}`"),
                    &first,
                    entry.crc32c,
                )?;
            }
            let index = Arc::new(FtsIndex::open(first)?);
            let mut cache = self.fts.lock().unwrap_or_else(PoisonError::into_inner);
            return Ok(Arc::clone(cache.entry(column.to_owned()).or_insert(index)));
        }
        let header_len = RegionLayout::header_len_of(&first, entry.length)?;
        let header = if header_len <= first.len() {
            first.slice(..header_len)
        } else {
            self.read(entry, 0..header_len as u64).await?
        };
        let lookup = RegionLayout::parse(&header, entry.length)?.lookup_len();
        let prefix = if lookup <= first.len() as u64 {
            first.slice(..usize::try_from(lookup).unwrap_or(usize::MAX))
        } else {
            let rest = self.read(entry, first.len() as u64..lookup).await?;
            let mut joined = BytesMut::with_capacity(first.len() + rest.len());
            joined.extend_from_slice(&first);
            joined.extend_from_slice(&rest);
            joined.freeze()
        };
        let index = Arc::new(FtsIndex::open_prefix(prefix, entry.length)?);
        let mut cache = self
            .fts_prefixes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(Arc::clone(cache.entry(column.to_owned()).or_insert(index)))
    }

    /// The full-text index of `column` able to read `terms`' postings (and,
    /// with `occurrences`, their positions and offsets, for phrases and
    /// highlighting): the lookup prefix plus those lists, fetched in one
    /// batched read. Other terms' lists fail with
    /// [`FtsError::NotLoaded`](infino_fts::FtsError::NotLoaded).
    ///
    /// # Errors
    /// As [`fts_lookup`](Self::fts_lookup).
    pub async fn fts_for_terms(
        &self,
        column: &str,
        terms: &[&str],
        occurrences: bool,
    ) -> Result<Arc<FtsIndex>> {
        self.fetch_lists(column, terms, occurrences, occurrences)
            .await
    }

    async fn fetch_lists(
        &self,
        column: &str,
        terms: &[&str],
        positions: bool,
        offsets: bool,
    ) -> Result<Arc<FtsIndex>> {
        let base = self.fts_lookup(column).await?;
        if base.is_whole() {
            return Ok(base);
        }
        let entry = self.fts_entry(column)?;
        let mut ranges = Vec::new();
        for term in terms {
            if let Some(info) = base.term_info(term)? {
                ranges.extend(base.list_ranges(&info, positions, offsets));
            }
        }
        if ranges.is_empty() {
            return Ok(base);
        }
        let file_ranges: Vec<Range<u64>> = ranges
            .iter()
            .map(|r| entry.offset + r.start..entry.offset + r.end)
            .collect();
        let fetched = self.store.get_ranges(&self.path, &file_ranges).await?;
        Ok(Arc::new(
            base.with_ranges(ranges.iter().map(|r| r.start).zip(fetched)),
        ))
    }

    /// The full-text index of `column` able to evaluate and rank `query`
    /// (and, with `highlight`, to highlight it):
    /// [`fts_for_terms`](Self::fts_for_terms) over [`Query::lists_needed`]
    /// (prefix and fuzzy terms expanded through the dictionary first).
    /// Positions are fetched only for phrases, offsets only to highlight.
    ///
    /// # Errors
    /// As [`fts_lookup`](Self::fts_lookup), plus query errors (too many
    /// expansions).
    pub async fn fts_for_query(
        &self,
        column: &str,
        query: &Query,
        highlight: bool,
    ) -> Result<Arc<FtsIndex>> {
        let base = self.fts_lookup(column).await?;
        if base.is_whole() {
            return Ok(base);
        }
        let (terms, positions) = query.lists_needed(&base)?;
        let terms: Vec<&str> = terms.iter().map(String::as_str).collect();
        self.fetch_lists(column, &terms, positions, highlight).await
    }
}
