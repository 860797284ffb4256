//! Building a vector region from vectors in memory.

use rayon::prelude::*;
use roaring::RoaringBitmap;

use crate::error::{Result, VectorError};
use crate::format::{
    BlockLayout, DIR_ENTRY_LEN, FACTORS, HEADER_LEN, Header, MAX_DIM, Metric, ROTATION_ROUNDS,
    Rerank, align8, code_words, u32_of,
};
use crate::kernels::{dot, norm_f64};
use crate::kmeans;
use crate::rabitq;
use crate::rng::SplitMix64;
use crate::rotation::{Rotation, padded_dim};
use crate::sq4::{sq4_encode, sq4_len};
use crate::sq8::sq8_encode;

/// Default k-means iterations.
pub const DEFAULT_ITERATIONS: usize = 10;
/// Default seed for sampling, k-means and the rotation.
pub const DEFAULT_SEED: u64 = 0x1f1e_c0de_5eed_0001;
/// Default training sample per list.
pub const DEFAULT_SAMPLE_PER_LIST: usize = 256;
/// Cap on the default training sample.
pub const DEFAULT_SAMPLE_CAP: usize = 65_536;

/// Build parameters. [`Default`] gives the recommended values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildParams {
    /// IVF lists (k-means clusters). `None`: `round(√n)`. Clamped to
    /// `1..=n`; `Some(0)` is an error.
    pub lists: Option<usize>,
    /// Vectors in the k-means training sample. `None`:
    /// `min(DEFAULT_SAMPLE_PER_LIST · lists, DEFAULT_SAMPLE_CAP)`. Clamped to
    /// `lists..=n`; `Some(0)` is an error.
    pub sample: Option<usize>,
    /// Lloyd iterations after k-means++ seeding (0 keeps the seeds).
    pub iterations: usize,
    /// Seed for sampling, k-means and the rotation; the same inputs and seed
    /// give the same region bytes.
    pub seed: u64,
    /// The rerank payload to store.
    pub rerank: Rerank,
}

impl Default for BuildParams {
    fn default() -> Self {
        Self {
            lists: None,
            sample: None,
            iterations: DEFAULT_ITERATIONS,
            seed: DEFAULT_SEED,
            rerank: Rerank::Sq8,
        }
    }
}

/// Collects vectors and writes a vector region (`FORMAT.md`).
///
/// Memory: the builder keeps every added vector (`4·D` bytes each, plus the
/// row id); [`finish`](Self::finish) additionally holds the region being
/// written. Time of `finish`: `O(iterations · sample · lists · D)` for
/// k-means, `O(n · lists · D)` to assign and `O(n · P log P)` to code, where
/// `P` is `D` rounded up to a power of two; parallel over the rayon pool.
#[derive(Debug, Clone)]
pub struct VectorIndexBuilder {
    dim: usize,
    metric: Metric,
    params: BuildParams,
    data: Vec<f32>,
    rows: Vec<u32>,
    seen: RoaringBitmap,
}

impl VectorIndexBuilder {
    /// A builder for vectors of `dim` components.
    ///
    /// # Errors
    /// [`VectorError::InvalidParams`] when `dim` is not in `1..=4096` or
    /// `lists` / `sample` is `Some(0)`.
    pub fn new(dim: usize, metric: Metric, params: BuildParams) -> Result<Self> {
        if dim == 0 || dim > MAX_DIM {
            return Err(VectorError::params("dim", "must be in 1..=4096"));
        }
        if params.lists == Some(0) {
            return Err(VectorError::params("lists", "must be at least 1"));
        }
        if params.sample == Some(0) {
            return Err(VectorError::params("sample", "must be at least 1"));
        }
        Ok(Self {
            dim,
            metric,
            params,
            data: Vec::new(),
            rows: Vec::new(),
            seen: RoaringBitmap::new(),
        })
    }

    /// Vectors added so far.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no vector has been added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Adds one vector for local row id `row`.
    ///
    /// # Errors
    /// [`VectorError::DimensionMismatch`], [`VectorError::NonFinite`],
    /// [`VectorError::ZeroVector`] (cosine only) or
    /// [`VectorError::DuplicateRow`]; nothing is added on error.
    pub fn add(&mut self, row: u32, vector: &[f32]) -> Result<()> {
        self.check(row, vector)?;
        self.push(row, vector);
        Ok(())
    }

    /// Adds `rows.len()` vectors given row-major in `vectors`.
    ///
    /// # Errors
    /// [`VectorError::DimensionMismatch`] when `vectors.len() !=
    /// rows.len() · dim` (with `found` the length passed), or any error of
    /// [`add`](Self::add) naming the first bad row (also a row repeated
    /// within the batch); nothing is added on error.
    pub fn add_batch(&mut self, rows: &[u32], vectors: &[f32]) -> Result<()> {
        if vectors.len() != rows.len() * self.dim {
            return Err(VectorError::DimensionMismatch {
                expected: rows.len() * self.dim,
                found: vectors.len(),
            });
        }
        let mut batch = RoaringBitmap::new();
        for (&row, v) in rows.iter().zip(vectors.chunks_exact(self.dim)) {
            self.check(row, v)?;
            if !batch.insert(row) {
                return Err(VectorError::DuplicateRow { row });
            }
        }
        for (&row, v) in rows.iter().zip(vectors.chunks_exact(self.dim)) {
            self.push(row, v);
        }
        Ok(())
    }

    fn check(&self, row: u32, v: &[f32]) -> Result<()> {
        if v.len() != self.dim {
            return Err(VectorError::DimensionMismatch {
                expected: self.dim,
                found: v.len(),
            });
        }
        if let Some(dim) = v.iter().position(|x| !x.is_finite()) {
            return Err(VectorError::NonFinite { row, dim });
        }
        if self.metric == Metric::Cosine && norm_f64(v) == 0.0 {
            return Err(VectorError::ZeroVector { row });
        }
        if self.seen.contains(row) {
            return Err(VectorError::DuplicateRow { row });
        }
        Ok(())
    }

    fn push(&mut self, row: u32, v: &[f32]) {
        self.seen.insert(row);
        self.rows.push(row);
        if self.metric == Metric::Cosine {
            let inv = 1.0 / norm_f64(v);
            #[expect(clippy::cast_possible_truncation, reason = "normalized f32 components")]
            self.data
                .extend(v.iter().map(|&x| (f64::from(x) * inv) as f32));
        } else {
            self.data.extend_from_slice(v);
        }
    }

    /// Trains the lists, codes every vector and returns the region bytes.
    ///
    /// With no vectors the result is a valid empty region (zero lists).
    ///
    /// # Errors
    /// [`VectorError::InvalidParams`] if the index would exceed a format
    /// limit (more than `u32::MAX` vectors).
    pub fn finish(self) -> Result<Vec<u8>> {
        let (dim, n) = (self.dim, self.rows.len());
        if u32::try_from(n).is_err() {
            return Err(VectorError::params("vectors", "more than u32::MAX vectors"));
        }
        let padded = padded_dim(dim);
        let seed = self.params.seed;
        let lists = if n == 0 {
            0
        } else {
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss,
                reason = "√n of a u32 count"
            )]
            let default = (n as f64).sqrt().round() as usize;
            self.params.lists.unwrap_or(default).clamp(1, n)
        };
        let centroids = if n == 0 {
            Vec::new()
        } else {
            let want = self
                .params
                .sample
                .unwrap_or((DEFAULT_SAMPLE_PER_LIST * lists).min(DEFAULT_SAMPLE_CAP));
            let sample = draw_sample(&self.data, dim, want.clamp(lists, n), seed);
            kmeans::train(&sample, dim, lists, self.params.iterations, seed)
        };
        let assign: Vec<usize> = self
            .data
            .par_chunks_exact(dim)
            .map(|x| kmeans::nearest(x, &centroids, dim).0)
            .collect();
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); lists];
        for (i, &c) in assign.iter().enumerate() {
            members[c].push(i);
        }
        for m in &mut members {
            m.sort_unstable_by_key(|&i| self.rows[i]);
        }
        let rotation = Rotation::new(dim, seed, usize::from(ROTATION_ROUNDS));
        let blocks: Vec<Vec<u8>> = members
            .par_iter()
            .enumerate()
            .map(|(c, m)| {
                let centroid = &centroids[c * dim..(c + 1) * dim];
                encode_block(&self, m, centroid, &rotation)
            })
            .collect();

        let centroid_bytes = lists * dim * size_of::<f32>();
        let dir_off = align8(HEADER_LEN + centroid_bytes);
        let data_off = dir_off + lists * DIR_ENTRY_LEN;
        let data_len: usize = blocks.iter().map(Vec::len).sum();
        let header = Header {
            metric: self.metric,
            rerank: self.params.rerank,
            rounds: ROTATION_ROUNDS,
            dim,
            padded,
            count: n,
            lists,
            seed,
            centroids: (HEADER_LEN as u64, centroid_bytes as u64),
            directory: (dir_off as u64, (lists * DIR_ENTRY_LEN) as u64),
            data: (data_off as u64, data_len as u64),
        };
        let mut out = Vec::with_capacity(data_off + data_len);
        out.extend_from_slice(&header.encode());
        for v in &centroids {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.resize(dir_off, 0);
        let mut at = data_off as u64;
        for (m, b) in members.iter().zip(&blocks) {
            out.extend_from_slice(&at.to_le_bytes());
            out.extend_from_slice(&u32_of(m.len()).to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            at += b.len() as u64;
        }
        for b in &blocks {
            out.extend_from_slice(b);
        }
        Ok(out)
    }
}

/// A uniform sample of `want` vectors (partial Fisher–Yates on indices).
fn draw_sample(data: &[f32], dim: usize, want: usize, seed: u64) -> Vec<f32> {
    let n = data.len() / dim;
    let mut idx: Vec<usize> = (0..n).collect();
    let mut rng = SplitMix64::new(seed ^ 0x7361_6d70_6c65);
    for i in 0..want {
        let j = i + rng.below(n - i);
        idx.swap(i, j);
    }
    let mut out = Vec::with_capacity(want * dim);
    for &i in &idx[..want] {
        out.extend_from_slice(&data[i * dim..(i + 1) * dim]);
    }
    out
}

/// Writes one cluster block (`FORMAT.md`, "Cluster block").
fn encode_block(b: &VectorIndexBuilder, members: &[usize], c: &[f32], rot: &Rotation) -> Vec<u8> {
    let (dim, padded, rerank) = (b.dim, rot.padded(), b.params.rerank);
    let layout = BlockLayout::new(members.len(), dim, padded, rerank);
    let words = code_words(padded);
    let mut out = vec![0u8; layout.len];
    let mut resid = vec![0.0f32; dim];
    let mut rotated = vec![0.0f32; padded];
    let mut code = vec![0u64; words];
    let mut sq = vec![0u8; dim];
    let mut sq4 = vec![0u8; sq4_len(padded)];
    for (j, &i) in members.iter().enumerate() {
        let x = &b.data[i * dim..(i + 1) * dim];
        let at = j * size_of::<u32>();
        out[at..at + 4].copy_from_slice(&b.rows[i].to_le_bytes());
        for ((r, &xv), &cv) in resid.iter_mut().zip(x).zip(c) {
            *r = xv - cv;
        }
        rot.apply(&resid, &mut rotated);
        let f = rabitq::encode(&rotated, &mut code, dot(&resid, c));
        let at = layout.codes + j * words * size_of::<u64>();
        for (k, w) in code.iter().enumerate() {
            out[at + 8 * k..at + 8 * k + 8].copy_from_slice(&w.to_le_bytes());
        }
        let at = layout.factors + j * FACTORS * size_of::<f32>();
        for (k, v) in [f.norm_r, f.obar_o, f.r_dot_c].iter().enumerate() {
            out[at + 4 * k..at + 4 * k + 4].copy_from_slice(&v.to_le_bytes());
        }
        match rerank {
            Rerank::None => {}
            Rerank::Sq8 => {
                let (min, scale) = sq8_encode(&resid, &mut sq);
                let at = layout.sq_params + j * 8;
                out[at..at + 4].copy_from_slice(&min.to_le_bytes());
                out[at + 4..at + 8].copy_from_slice(&scale.to_le_bytes());
                let at = layout.payload + j * dim;
                out[at..at + dim].copy_from_slice(&sq);
            }
            Rerank::Sq4 => {
                // The rotated residual (see `Rerank::Sq4`).
                let (min, scale) = sq4_encode(&rotated, &mut sq4);
                let at = layout.sq_params + j * 8;
                out[at..at + 4].copy_from_slice(&min.to_le_bytes());
                out[at + 4..at + 8].copy_from_slice(&scale.to_le_bytes());
                let at = layout.payload + j * sq4.len();
                out[at..at + sq4.len()].copy_from_slice(&sq4);
            }
            Rerank::F32 => {
                let at = layout.payload + j * dim * size_of::<f32>();
                for (k, v) in x.iter().enumerate() {
                    out[at + 4 * k..at + 4 * k + 4].copy_from_slice(&v.to_le_bytes());
                }
            }
        }
    }
    out
}
