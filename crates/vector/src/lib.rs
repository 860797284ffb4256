//! The vector index of infino, as pure code: vectors in, region bytes out;
//! region bytes in, nearest neighbours out. No I/O.
//!
//! An IVF index: k-means lists trained on a sample, each vector stored in
//! its nearest list's contiguous cluster block with a RaBitQ 1-bit code of
//! its rotated residual (for a fast first pass) and an SQ8 or f32 rerank
//! payload (for precise ordering). `FORMAT.md` is the byte-exact layout.
//!
//! ```
//! use bytes::Bytes;
//! use infino_vector::{BuildParams, Metric, SearchOptions, VectorIndex, VectorIndexBuilder};
//!
//! let mut builder = VectorIndexBuilder::new(2, Metric::L2, BuildParams::default())?;
//! builder.add_batch(&[10, 11, 12], &[0.0, 0.0, 1.0, 0.0, 5.0, 5.0])?;
//! let index = VectorIndex::open(Bytes::from(builder.finish()?))?;
//! let hits = index.search(&[0.9, 0.1], &SearchOptions::new(2))?;
//! assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), vec![11, 10]);
//! # Ok::<(), infino_vector::VectorError>(())
//! ```
//!
//! # Scores
//!
//! Every result is `(row, distance)`, smaller is better, sorted ascending
//! with ties broken by row id: L2 gives the squared Euclidean distance,
//! cosine `1 − cos(q, x)`, inner product `−⟨q, x⟩`. With the default SQ8
//! payload the distance is computed from the quantized vector (close to,
//! not exactly, the true one); with [`Rerank::F32`] or a [`RowVectors`]
//! source it is exact; with [`Rerank::None`] it is the RaBitQ estimate.
//!
//! # Reading lazily
//!
//! A region need not be in memory. Read its first [`HEADER_PREFIX`] bytes,
//! then the [`IndexHeader::prefix_len`] bytes of header, centroids and
//! directory, and open an [`IndexHeader`]. [`IndexHeader::plan`] names the
//! clusters a search reads; fetch each one's [`IndexHeader::cluster_range`]
//! and pass them to [`IndexHeader::search_clusters`] (a slice of
//! `(cluster, Bytes)` is a [`ClusterSource`]; so is a [`ClusterFn`]).
//! A probe reranks only its best `breadth` candidates, so a lazy reader
//! may read in two phases instead: each planned cluster's
//! [`IndexHeader::cluster_head_range`] (rows, codes, factors; the payload
//! is most of a block), then [`IndexHeader::shortlist`], then only the
//! [`Shortlist::payload_ranges`], then [`Shortlist::rerank`]: the same
//! results for a fraction of the bytes, at one more round trip.
//! Exact and brute-force filtered searches read every cluster; a lazy
//! caller with a small allow-set may prefer [`FilterStrategy::Probe`], or
//! scoring the allowed rows from the Parquet column itself.
//!
//! # Map
//!
//! - Writing: [`VectorIndexBuilder`] with [`BuildParams`], [`Metric`],
//!   [`Rerank`].
//! - Reading: [`VectorIndex`] (whole region) or, lazily, [`IndexHeader`]
//!   (header, centroids, directory; [`IndexHeader::cluster_range`]) plus a
//!   [`ClusterSource`].
//! - Searching: [`SearchOptions`], [`FilterStrategy`], [`IndexHeader::plan`],
//!   [`IndexHeader::search_clusters`], [`VectorIndex::search`],
//!   [`VectorIndex::search_filtered`], [`RowVectors`] for exact rerank.
//! - Kernels: [`dot`], [`l2_sq`], [`norm_sq`], [`ip_4bit_1bit`] with
//!   runtime SIMD dispatch, and [`portable`] references.
//! - Codecs: [`sq8_encode`], [`sq8_decode`], [`sq4_encode`], [`sq4_decode`],
//!   [`pack_signs`], [`unpack_signs`].
//! - Errors: [`VectorError`] with [`Section`].

mod builder;
mod error;
mod format;
mod kernels;
mod kmeans;
mod probe_order;
mod rabitq;
mod reader;
mod rng;
mod rotation;
mod scoring;
mod search;
mod shortlist;
mod sq4;
mod sq8;

pub use builder::{
    BuildParams, DEFAULT_ITERATIONS, DEFAULT_SAMPLE_CAP, DEFAULT_SAMPLE_PER_LIST, DEFAULT_SEED,
    VectorIndexBuilder,
};
pub use error::{Result, Section, VectorError};
pub use format::{Metric, Rerank};
pub use kernels::{
    dot, dot_norm_sq, ip_4bit_1bit, ip_4bit_1bit_many, l2_sq, norm_sq, portable, simd_level,
    sq4_dot, sq4_l2_sq, sq8_dot, sq8_l2_sq,
};
pub use rabitq::{pack_signs, unpack_signs};
pub use reader::{HEADER_PREFIX, IndexHeader, VectorIndex};
pub use search::{
    ClusterFn, ClusterSource, FilterStrategy, Neighbor, RowVectors, SearchOptions, default_nprobe,
    default_rerank_breadth,
};
pub use shortlist::Shortlist;
pub use sq4::{sq4_decode, sq4_encode, sq4_len};
pub use sq8::{sq8_decode, sq8_encode};

#[cfg(test)]
mod tests {
    /// Indexes are searched from many threads at once.
    #[test]
    fn index_is_shareable() {
        fn assert_shareable<T: Send + Sync + Clone>() {}
        assert_shareable::<crate::VectorIndex>();
        assert_shareable::<crate::IndexHeader>();
        fn assert_send<T: Send>() {}
        assert_send::<crate::VectorIndexBuilder>();
    }
}
