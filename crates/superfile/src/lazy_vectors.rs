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

use std::sync::{Arc, PoisonError};

use bytes::Bytes;
use infino_vector::{HEADER_PREFIX, IndexHeader};

use crate::error::{Result, SuperfileError};
use crate::format::{RegionEntry, RegionKind};
use crate::lazy::LazySuperfile;

/// Bytes read from the start of a vector region to get its header in one
/// request.
pub const VECTOR_PREFIX_READ_BYTES: u64 = 256 * 1024;

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
        let first_len = entry.length.min(VECTOR_PREFIX_READ_BYTES);
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
}
