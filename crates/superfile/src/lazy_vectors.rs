//! Per-query vector reads: a region's header (centroids, cluster
//! directory) once, then only the clusters a search probes.
//!
//! A vector region is mostly cluster blocks, and a probing search reads a
//! fraction of them. The header prefix is fetched once per region (one
//! ranged read, two when it is longer than [`VECTOR_PREFIX_READ_BYTES`])
//! and kept; each search fetches its planned clusters in one batched,
//! coalesced read, and keeps them, so a warm file answers from memory. As
//! with full-text lists, these partial reads cannot check the region's
//! CRC32C; the header is validated as it is parsed and every cluster block
//! by its length.

use std::ops::Range;
use std::sync::{Arc, PoisonError};

use bytes::Bytes;
use infino_vector::{HEADER_PREFIX, IndexHeader};

use crate::error::{Result, SuperfileError};
use crate::format::{RegionEntry, RegionKind};
use crate::lazy::LazySuperfile;
use crate::sparse_read::read_sparse;

/// Bytes read from the start of a vector region to get its header in one
/// request.
pub const VECTOR_PREFIX_READ_BYTES: u64 = 256 * 1024;

/// Payload bytes a two-phase read must be able to skip before it is worth
/// its extra round trip: about what one request's latency buys in transfer
/// on object storage (≈20 ms to first byte at ≈50 MB/s). Below it, whole
/// cluster blocks are read in one phase.
pub const TWO_PHASE_MIN_PAYLOAD: u64 = 1 << 20;

/// Gap between two wanted ranges (cluster heads, payload entries) that a
/// sparse read fetches rather than splitting the request: a few payload
/// entries, far below a request's cost.
const SPARSE_FREE_GAP: u64 = 4 * 1024;

impl LazySuperfile {
    fn vector_entry(&self, column: &str) -> Result<&RegionEntry> {
        self.directory
            .region(RegionKind::Vector, column)
            .ok_or_else(|| SuperfileError::NoSuchColumn {
                column: column.to_owned(),
                what: "vector index",
            })
    }

    /// The vector index header of `column` (metric, dimension, centroids,
    /// cluster directory), fetched on first use and kept.
    ///
    /// # Errors
    /// [`SuperfileError::NoSuchColumn`], storage or region errors.
    pub async fn vector_header(&self, column: &str) -> Result<Arc<IndexHeader>> {
        if let Some(h) = self
            .vector_headers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(column)
        {
            return Ok(Arc::clone(h));
        }
        let entry = self.vector_entry(column)?;
        let guess = self.lookup_hints.get(column).copied();
        let first_len = entry.length.min(
            guess
                .unwrap_or(VECTOR_PREFIX_READ_BYTES)
                .max(HEADER_PREFIX as u64),
        );
        let first = self
            .store
            .get_range(&self.path, entry.offset..entry.offset + first_len)
            .await?;
        let head = first
            .get(..HEADER_PREFIX.min(first.len()))
            .unwrap_or_default();
        let need = IndexHeader::prefix_len(head)?;
        let prefix = if need <= first.len() as u64 {
            first
        } else if need > entry.length {
            return Err(SuperfileError::corrupt(
                "vector region",
                "header longer than the region",
            ));
        } else {
            self.store
                .get_range(&self.path, entry.offset..entry.offset + need)
                .await?
        };
        let header = Arc::new(IndexHeader::open(&prefix)?);
        if header.region_len() != entry.length {
            return Err(SuperfileError::corrupt(
                "vector region",
                "region length differs from its header",
            ));
        }
        self.vector_headers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(column.to_owned(), Arc::clone(&header));
        Ok(header)
    }

    /// The bytes of `clusters` of `column`'s vector index: kept ones from
    /// memory, the rest in one batched read (then kept).
    ///
    /// # Errors
    /// As [`vector_header`](Self::vector_header), plus a cluster out of range.
    pub async fn vector_clusters(
        &self,
        column: &str,
        clusters: &[usize],
    ) -> Result<Vec<(usize, Bytes)>> {
        let header = self.vector_header(column).await?;
        let entry = self.vector_entry(column)?;
        let mut out = Vec::with_capacity(clusters.len());
        let mut missing = Vec::new();
        {
            let kept = self.clusters.lock().unwrap_or_else(PoisonError::into_inner);
            for &c in clusters {
                if c >= header.lists() {
                    return Err(SuperfileError::corrupt(
                        "vector region",
                        "a planned cluster is beyond the directory",
                    ));
                }
                match kept.get(&(column.to_owned(), c)) {
                    Some(bytes) => out.push((c, bytes.clone())),
                    None => missing.push(c),
                }
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let ranges: Vec<std::ops::Range<u64>> = missing
            .iter()
            .map(|&c| {
                let r = header.cluster_range(c);
                entry.offset + r.start..entry.offset + r.end
            })
            .collect();
        let fetched = self.store.get_ranges(&self.path, &ranges).await?;
        let mut kept = self.clusters.lock().unwrap_or_else(PoisonError::into_inner);
        for (c, bytes) in missing.into_iter().zip(fetched) {
            kept.insert((column.to_owned(), c), bytes.clone());
            out.push((c, bytes));
        }
        Ok(out)
    }

    /// Whether a probing search over `clusters` should read in two phases
    /// (heads, then shortlisted payload entries) rather than whole blocks:
    /// when the payload of those clusters not yet in memory is at least
    /// [`TWO_PHASE_MIN_PAYLOAD`]. A warm file (blocks kept) reads in one.
    pub fn vector_two_phase_pays(
        &self,
        column: &str,
        header: &IndexHeader,
        clusters: &[usize],
    ) -> bool {
        let kept = self.clusters.lock().unwrap_or_else(PoisonError::into_inner);
        let heads = self.heads.lock().unwrap_or_else(PoisonError::into_inner);
        let key = |c: usize| (column.to_owned(), c);
        let payload: u64 = clusters
            .iter()
            .filter(|&&c| {
                c < header.lists() && !kept.contains_key(&key(c)) && !heads.contains_key(&key(c))
            })
            .map(|&c| {
                let (full, head) = (header.cluster_range(c), header.cluster_head_range(c));
                full.end - head.end
            })
            .sum();
        payload >= TWO_PHASE_MIN_PAYLOAD
    }

    /// The heads ([`IndexHeader::cluster_head_range`]) of `clusters` of
    /// `column`'s vector index, or whole blocks where those are kept: kept
    /// ones from memory, the rest in one sparse read (then kept).
    ///
    /// # Errors
    /// As [`vector_clusters`](Self::vector_clusters).
    pub async fn vector_heads(
        &self,
        column: &str,
        clusters: &[usize],
    ) -> Result<Vec<(usize, Bytes)>> {
        let header = self.vector_header(column).await?;
        let entry = self.vector_entry(column)?;
        let mut out = Vec::with_capacity(clusters.len());
        let mut missing = Vec::new();
        {
            let kept = self.clusters.lock().unwrap_or_else(PoisonError::into_inner);
            let heads = self.heads.lock().unwrap_or_else(PoisonError::into_inner);
            for &c in clusters {
                if c >= header.lists() {
                    return Err(SuperfileError::corrupt(
                        "vector region",
                        "a planned cluster is beyond the directory",
                    ));
                }
                let key = (column.to_owned(), c);
                match kept.get(&key).or_else(|| heads.get(&key)) {
                    Some(bytes) => out.push((c, bytes.clone())),
                    None => missing.push(c),
                }
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let ranges: Vec<Range<u64>> = missing
            .iter()
            .map(|&c| {
                let r = header.cluster_head_range(c);
                entry.offset + r.start..entry.offset + r.end
            })
            .collect();
        let fetched = read_sparse(
            &self.store,
            &self.path,
            &ranges,
            SPARSE_FREE_GAP,
            usize::MAX,
        )
        .await?;
        let mut heads = self.heads.lock().unwrap_or_else(PoisonError::into_inner);
        for (c, bytes) in missing.into_iter().zip(fetched) {
            heads.insert((column.to_owned(), c), bytes.clone());
            out.push((c, bytes));
        }
        Ok(out)
    }

    /// The rerank payload entries `entries` (cluster, region range, as
    /// [`infino_vector::Shortlist::payload_ranges`] gives them) of
    /// `column`'s vector index, in order: from kept blocks or entries where
    /// possible, the rest in one sparse read of at most
    /// `max_concurrent_requests` requests (one round trip), then kept.
    ///
    /// # Errors
    /// As [`vector_clusters`](Self::vector_clusters).
    pub async fn vector_payloads(
        &self,
        column: &str,
        entries: &[(usize, Range<u64>)],
    ) -> Result<Vec<Bytes>> {
        let header = self.vector_header(column).await?;
        let region = self.vector_entry(column)?;
        let mut out: Vec<Option<Bytes>> = Vec::with_capacity(entries.len());
        let mut missing = Vec::new();
        {
            let kept = self.clusters.lock().unwrap_or_else(PoisonError::into_inner);
            let payloads = self.payloads.lock().unwrap_or_else(PoisonError::into_inner);
            for (i, (c, r)) in entries.iter().enumerate() {
                let outside =
                    SuperfileError::corrupt("vector region", "a payload entry outside its cluster");
                if *c >= header.lists() {
                    return Err(outside);
                }
                let block = header.cluster_range(*c);
                if r.start < block.start || r.end > block.end || r.start >= r.end {
                    return Err(outside);
                }
                let from_block = kept.get(&(column.to_owned(), *c)).map(|b| {
                    b.slice(to_usize(r.start - block.start)..to_usize(r.end - block.start))
                });
                let found =
                    from_block.or_else(|| payloads.get(&(column.to_owned(), r.start)).cloned());
                if found.is_none() {
                    missing.push(i);
                }
                out.push(found);
            }
        }
        if !missing.is_empty() {
            let ranges: Vec<Range<u64>> = missing
                .iter()
                .map(|&i| region.offset + entries[i].1.start..region.offset + entries[i].1.end)
                .collect();
            let budget = self.store.config().max_concurrent_requests.max(1);
            let fetched =
                read_sparse(&self.store, &self.path, &ranges, SPARSE_FREE_GAP, budget).await?;
            let mut payloads = self.payloads.lock().unwrap_or_else(PoisonError::into_inner);
            for (i, bytes) in missing.into_iter().zip(fetched) {
                payloads.insert((column.to_owned(), entries[i].1.start), bytes.clone());
                out[i] = Some(bytes);
            }
        }
        Ok(out.into_iter().flatten().collect())
    }
}

/// An offset within a cluster block held in memory, so it fits `usize`.
fn to_usize(x: u64) -> usize {
    usize::try_from(x).unwrap_or(usize::MAX)
}
