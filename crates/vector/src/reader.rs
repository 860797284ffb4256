//! Opening a region: the header view (header, centroids, directory) that
//! lazy readers use, and the whole-region [`VectorIndex`].

use std::ops::Range;
use std::sync::OnceLock;

use bytes::Bytes;

use crate::error::{Result, Section, VectorError};
use crate::format::{
    BlockLayout, DIR_ENTRY_LEN, FACTORS, HEADER_LEN, Header, Metric, Rerank, code_words, le_f32,
    le_u32, le_u64, usize_of,
};
use crate::rabitq::Factors;
use crate::rotation::Rotation;

/// The part of a region needed to plan a search: header, centroids and the
/// cluster directory, i.e. the region's first
/// [`prefix_len`](Self::prefix_len) bytes. Cheap to clone.
///
/// Lazy readers fetch [`HEADER_PREFIX`] bytes, call
/// [`IndexHeader::prefix_len`], fetch that many bytes, open this, and then
/// fetch only the clusters a search needs, by [`cluster_range`](Self::cluster_range).
#[derive(Debug, Clone)]
pub struct IndexHeader {
    pub(crate) header: Header,
    pub(crate) centroids: std::sync::Arc<[f32]>,
    /// Per cluster: region offset and vector count.
    pub(crate) dir: std::sync::Arc<[(u64, u32)]>,
    pub(crate) rotation: std::sync::Arc<Rotation>,
    /// `R·c` per cluster, computed on first use and shared by clones.
    rotated: std::sync::Arc<[OnceLock<Box<[f32]>>]>,
}

/// Bytes at the start of a region that [`IndexHeader::prefix_len`] needs.
pub const HEADER_PREFIX: usize = HEADER_LEN;

impl IndexHeader {
    /// The length of the prefix that [`open`](Self::open) needs, read from
    /// the region's first [`HEADER_PREFIX`] bytes (more are ignored).
    ///
    /// # Errors
    /// [`VectorError::Corrupt`] or [`VectorError::UnsupportedVersion`] when
    /// the fixed header is invalid.
    pub fn prefix_len(first_bytes: &[u8]) -> Result<u64> {
        Ok(Header::decode(first_bytes)?.data.0)
    }

    /// Parses and validates the prefix (at least
    /// [`prefix_len`](Self::prefix_len) bytes of the region; any more,
    /// e.g. the whole region, are ignored). Cluster blocks are not read.
    /// `O(lists · D)`.
    ///
    /// # Errors
    /// [`VectorError::Corrupt`] (bad magic, truncated prefix, inconsistent
    /// extents, non-finite centroids, a directory that is not contiguous or
    /// whose counts do not sum to `n`) or [`VectorError::UnsupportedVersion`].
    pub fn open(prefix: &[u8]) -> Result<Self> {
        let header = Header::decode(prefix)?;
        let need = header.data.0;
        if (prefix.len() as u64) < need {
            return Err(VectorError::corrupt(
                Section::Directory,
                prefix.len() as u64,
                "truncated before the end of the directory",
            ));
        }
        let (c_off, c_len) = (usize_of(header.centroids.0), usize_of(header.centroids.1));
        let centroids: Vec<f32> = prefix[c_off..c_off + c_len]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if let Some(i) = centroids.iter().position(|v| !v.is_finite()) {
            return Err(VectorError::corrupt(
                Section::Centroids,
                (c_off + 4 * i) as u64,
                "non-finite centroid component",
            ));
        }
        let d_off = usize_of(header.directory.0);
        let mut dir = Vec::with_capacity(header.lists);
        let mut at = header.data.0;
        let mut total = 0u64;
        for i in 0..header.lists {
            let e = d_off + i * DIR_ENTRY_LEN;
            let (off, count) = (le_u64(prefix, e), le_u32(prefix, e + 8));
            if off != at || le_u32(prefix, e + 12) != 0 {
                return Err(VectorError::corrupt(
                    Section::Directory,
                    e as u64,
                    "cluster offset",
                ));
            }
            total += u64::from(count);
            if total > header.count as u64 {
                return Err(VectorError::corrupt(
                    Section::Directory,
                    e as u64,
                    "cluster counts exceed n",
                ));
            }
            let len =
                BlockLayout::new(count as usize, header.dim, header.padded, header.rerank).len;
            at += len as u64;
            dir.push((off, count));
        }
        if total != header.count as u64 {
            return Err(VectorError::corrupt(
                Section::Directory,
                d_off as u64,
                "cluster counts differ from n",
            ));
        }
        if at - header.data.0 != header.data.1 {
            return Err(VectorError::corrupt(
                Section::Header,
                80,
                "data section length",
            ));
        }
        let rotation = Rotation::new(header.dim, header.seed, usize::from(header.rounds));
        Ok(Self {
            centroids: centroids.into(),
            dir: dir.into(),
            rotation: rotation.into(),
            rotated: (0..header.lists).map(|_| OnceLock::new()).collect(),
            header,
        })
    }

    /// Bytes of the prefix (header, centroids, directory); cluster data
    /// starts here.
    pub fn data_offset(&self) -> u64 {
        self.header.data.0
    }

    /// Total region length in bytes.
    pub fn region_len(&self) -> u64 {
        self.header.data.0 + self.header.data.1
    }

    /// The vector dimension `D`.
    pub fn dim(&self) -> usize {
        self.header.dim
    }

    /// The metric.
    pub fn metric(&self) -> Metric {
        self.header.metric
    }

    /// The rerank payload kind.
    pub fn rerank(&self) -> Rerank {
        self.header.rerank
    }

    /// Number of vectors `n`.
    pub fn len(&self) -> usize {
        self.header.count
    }

    /// Whether the index holds no vectors.
    pub fn is_empty(&self) -> bool {
        self.header.count == 0
    }

    /// Number of IVF lists (clusters); 0 only for an empty index.
    pub fn lists(&self) -> usize {
        self.header.lists
    }

    /// Vectors in cluster `cluster`.
    ///
    /// # Panics
    /// If `cluster >= lists()`.
    pub fn cluster_len(&self, cluster: usize) -> usize {
        self.dir[cluster].1 as usize
    }

    /// The byte range of cluster `cluster` within the region: one
    /// contiguous read holds all its rows, codes, factors and payload.
    ///
    /// # Panics
    /// If `cluster >= lists()`.
    pub fn cluster_range(&self, cluster: usize) -> Range<u64> {
        let (off, count) = self.dir[cluster];
        let len = BlockLayout::new(
            count as usize,
            self.header.dim,
            self.header.padded,
            self.header.rerank,
        )
        .len;
        off..off + len as u64
    }

    /// The byte range of cluster `cluster`'s head within the region: row
    /// ids, 1-bit codes, correction factors and SQ8 parameters, i.e. all a
    /// probe needs to shortlist, without the rerank payload that follows
    /// (about 83% of an SQ8 block at 384-d). See [`Shortlist`](crate::Shortlist).
    ///
    /// # Panics
    /// If `cluster >= lists()`.
    pub fn cluster_head_range(&self, cluster: usize) -> Range<u64> {
        let off = self.dir[cluster].0;
        off..off + self.layout(cluster).payload as u64
    }

    /// The byte range within the region of the rerank payload entry of the
    /// vector at `position` in cluster `cluster`: `D` bytes (SQ8), `P/2`
    /// (SQ4), `4·D` (F32) or empty (no payload).
    ///
    /// # Panics
    /// If `cluster >= lists()`.
    pub fn payload_range(&self, cluster: usize, position: usize) -> Range<u64> {
        let entry = self.payload_entry_len() as u64;
        let start =
            self.dir[cluster].0 + self.layout(cluster).payload as u64 + position as u64 * entry;
        start..start + entry
    }

    /// Bytes of one vector's rerank payload entry.
    pub(crate) fn payload_entry_len(&self) -> usize {
        match self.header.rerank {
            Rerank::None => 0,
            Rerank::Sq8 => self.header.dim,
            Rerank::Sq4 => crate::sq4::sq4_len(self.header.padded),
            Rerank::F32 => self.header.dim * size_of::<f32>(),
        }
    }

    fn layout(&self, cluster: usize) -> BlockLayout {
        let h = &self.header;
        BlockLayout::new(self.dir[cluster].1 as usize, h.dim, h.padded, h.rerank)
    }

    pub(crate) fn centroid(&self, cluster: usize) -> &[f32] {
        let d = self.header.dim;
        &self.centroids[cluster * d..(cluster + 1) * d]
    }

    /// `R·c` for cluster `cluster` (`P` components), cached.
    pub(crate) fn rotated_centroid(&self, cluster: usize) -> &[f32] {
        self.rotated[cluster].get_or_init(|| {
            let mut out = vec![0.0; self.rotation.padded()];
            self.rotation.apply(self.centroid(cluster), &mut out);
            out.into()
        })
    }

    /// Validates the bytes of one cluster block.
    pub(crate) fn cluster_view(&self, cluster: usize, bytes: Bytes) -> Result<ClusterView> {
        let range = self.cluster_range(cluster);
        if bytes.len() as u64 != range.end - range.start {
            return Err(VectorError::corrupt(
                Section::Cluster,
                range.start,
                "cluster block length",
            ));
        }
        self.cluster_view_unchecked(cluster, bytes)
    }

    /// Validates a cluster's head bytes ([`cluster_head_range`](Self::cluster_head_range)),
    /// or its whole block, of which the head is kept. The view has no
    /// payload: only estimates and SQ8 parameters may be read from it.
    pub(crate) fn head_view(&self, cluster: usize, bytes: Bytes) -> Result<ClusterView> {
        let head = self.cluster_head_range(cluster);
        let full = self.cluster_range(cluster);
        let len = bytes.len() as u64;
        if len != head.end - head.start && len != full.end - full.start {
            return Err(VectorError::corrupt(
                Section::Cluster,
                head.start,
                "cluster head length",
            ));
        }
        let head_len = usize_of(head.end - head.start);
        self.cluster_view_unchecked(cluster, bytes.slice(..head_len))
    }

    fn cluster_view_unchecked(&self, cluster: usize, bytes: Bytes) -> Result<ClusterView> {
        let h = &self.header;
        Ok(ClusterView {
            layout: self.layout(cluster),
            words: code_words(h.padded),
            bytes,
        })
    }
}

/// A validated cluster block.
#[derive(Debug, Clone)]
pub(crate) struct ClusterView {
    layout: BlockLayout,
    words: usize,
    bytes: Bytes,
}

impl ClusterView {
    pub(crate) fn count(&self) -> usize {
        self.layout.count
    }

    pub(crate) fn row(&self, j: usize) -> u32 {
        le_u32(&self.bytes, j * 4)
    }

    /// All codes of the block, little-endian words.
    pub(crate) fn codes_bytes(&self) -> &[u8] {
        &self.bytes[self.layout.codes..self.layout.factors]
    }

    pub(crate) fn code(&self, j: usize, out: &mut [u64]) {
        let at = self.layout.codes + j * self.words * 8;
        for (k, w) in out.iter_mut().enumerate() {
            *w = le_u64(&self.bytes, at + 8 * k);
        }
    }

    /// All factors of the block: `FACTORS` little-endian f32 per vector.
    pub(crate) fn factors_bytes(&self) -> &[u8] {
        let at = self.layout.factors;
        &self.bytes[at..at + self.layout.count * FACTORS * 4]
    }

    pub(crate) fn factors(&self, j: usize) -> Factors {
        let at = self.layout.factors + j * FACTORS * 4;
        Factors {
            norm_r: le_f32(&self.bytes, at),
            obar_o: le_f32(&self.bytes, at + 4),
            r_dot_c: le_f32(&self.bytes, at + 8),
        }
    }

    /// `(min, scale)` of vector `j`'s SQ8 or SQ4 payload (stored in the
    /// head).
    pub(crate) fn sq_params(&self, j: usize) -> (f32, f32) {
        let at = self.layout.sq_params + j * 8;
        (le_f32(&self.bytes, at), le_f32(&self.bytes, at + 4))
    }

    /// Vector `j`'s payload entry of `entry` bytes; only on a whole block.
    pub(crate) fn payload(&self, j: usize, entry: usize) -> &[u8] {
        let at = self.layout.payload + j * entry;
        &self.bytes[at..at + entry]
    }
}

/// A whole region in memory: the [`IndexHeader`] plus every cluster block.
/// Cheap to clone; `Send + Sync`.
#[derive(Debug, Clone)]
pub struct VectorIndex {
    header: IndexHeader,
    bytes: Bytes,
}

impl VectorIndex {
    /// Opens a region held entirely in `bytes`. `O(lists · D)`; cluster
    /// blocks are checked for extent here and read lazily by searches.
    ///
    /// # Errors
    /// [`VectorError::Corrupt`] (as [`IndexHeader::open`], or the region is
    /// shorter or longer than its sections say) or
    /// [`VectorError::UnsupportedVersion`].
    pub fn open(bytes: Bytes) -> Result<Self> {
        let header = IndexHeader::open(&bytes)?;
        if bytes.len() as u64 != header.region_len() {
            return Err(VectorError::corrupt(
                Section::Cluster,
                bytes
                    .len()
                    .min(usize::try_from(header.region_len()).unwrap_or(usize::MAX))
                    as u64,
                "region length differs from its sections",
            ));
        }
        Ok(Self { header, bytes })
    }

    /// The header view, for planning and metadata.
    pub fn header(&self) -> &IndexHeader {
        &self.header
    }

    /// The bytes of cluster `cluster` (a zero-copy slice of the region).
    ///
    /// # Panics
    /// If `cluster >= lists()`.
    pub fn cluster_bytes(&self, cluster: usize) -> Bytes {
        let r = self.header.cluster_range(cluster);
        self.bytes.slice(usize_of(r.start)..usize_of(r.end))
    }
}

impl std::ops::Deref for VectorIndex {
    type Target = IndexHeader;

    fn deref(&self) -> &IndexHeader {
        &self.header
    }
}
