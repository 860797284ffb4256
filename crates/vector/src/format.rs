//! Layout constants and the fixed header codec (`FORMAT.md` is the spec).

use crate::error::{Result, Section, VectorError};

/// Region magic bytes.
pub(crate) const MAGIC: [u8; 4] = *b"IVEC";
/// Major format version written and accepted.
pub(crate) const MAJOR: u16 = 1;
/// Minor format version written.
pub(crate) const MINOR: u16 = 0;
/// Size of the fixed header.
pub(crate) const HEADER_LEN: usize = 96;
/// Sign-flip + Hadamard rounds of the rotation.
pub(crate) const ROTATION_ROUNDS: u8 = 3;
/// Bytes per cluster directory entry: offset u64, count u32, reserved u32.
pub(crate) const DIR_ENTRY_LEN: usize = 16;
/// Correction factors per vector: `‖r‖`, `⟨ō, o⟩`, `⟨r, c⟩` (f32 each).
pub(crate) const FACTORS: usize = 3;
/// Largest supported dimension.
pub(crate) const MAX_DIM: usize = 4096;
/// Bits of the query quantization in the RaBitQ estimator.
pub(crate) const QUERY_BITS: usize = 4;

/// Distance metric of an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Metric {
    /// Squared Euclidean distance; results ascend by `‖q − x‖²`.
    L2,
    /// Cosine: vectors and queries are normalized; results ascend by
    /// `1 − cos(q, x)` (in `[0, 2]`).
    Cosine,
    /// Inner product; results ascend by `−⟨q, x⟩`.
    InnerProduct,
}

impl Metric {
    /// The exact distance between `query` and `vector` in this crate's
    /// convention (smaller is better): squared L2, `1 − cos` (both
    /// normalized here; a zero vector gives NaN), or `−⟨q, x⟩`. Use it to
    /// rescore a search's candidates with vectors fetched from elsewhere
    /// (e.g. the Parquet column) so results stay comparable. Only the
    /// common prefix of the two slices is used. `O(D)`.
    pub fn distance(self, query: &[f32], vector: &[f32]) -> f32 {
        match self {
            Metric::L2 => crate::kernels::l2_sq(query, vector),
            Metric::InnerProduct => -crate::kernels::dot(query, vector),
            Metric::Cosine => {
                let n = crate::kernels::norm_f64(query) * crate::kernels::norm_f64(vector);
                let cos = f64::from(crate::kernels::dot(query, vector)) / n;
                #[expect(clippy::cast_possible_truncation, reason = "a cosine in [-1, 1]")]
                let cos = cos as f32;
                1.0 - cos
            }
        }
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            Metric::L2 => 0,
            Metric::Cosine => 1,
            Metric::InnerProduct => 2,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Metric::L2,
            1 => Metric::Cosine,
            2 => Metric::InnerProduct,
            _ => return None,
        })
    }
}

/// The rerank payload stored per vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Rerank {
    /// 8-bit scalar quantization of the residual to the centroid, with a
    /// per-vector minimum and scale: `D + 8` bytes per vector.
    #[default]
    Sq8,
    /// The full f32 vector (normalized under cosine): `4·D` bytes per
    /// vector; reranking is exact.
    F32,
    /// No payload: results are ordered by the RaBitQ estimate alone
    /// unless the caller supplies exact vectors.
    None,
    /// 4-bit scalar quantization of the *rotated* residual to the centroid
    /// (`P` components, `P` = D rounded up to a power of two), with a
    /// per-vector minimum and scale, two codes per byte: `P/2 + 8` bytes
    /// per vector, about half the payload of [`Rerank::Sq8`]. The rotation
    /// spreads a few large-magnitude dimensions (common in sentence
    /// embeddings) over all components, so a per-vector range quantizes
    /// every component about equally finely.
    Sq4,
}

impl Rerank {
    pub(crate) fn code(self) -> u8 {
        match self {
            Rerank::None => 0,
            Rerank::Sq8 => 1,
            Rerank::F32 => 2,
            Rerank::Sq4 => 3,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Rerank::None,
            1 => Rerank::Sq8,
            2 => Rerank::F32,
            3 => Rerank::Sq4,
            _ => return None,
        })
    }
}

/// Rounds `x` up to a multiple of 8.
pub(crate) fn align8(x: usize) -> usize {
    x.div_ceil(8) * 8
}

/// 64-bit words of one 1-bit code for padded dimension `padded`.
pub(crate) fn code_words(padded: usize) -> usize {
    padded.div_ceil(64)
}

/// Byte offsets (relative to the block start) of one cluster block's
/// sections, all derived from the vector count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockLayout {
    pub(crate) count: usize,
    pub(crate) codes: usize,
    pub(crate) factors: usize,
    pub(crate) sq_params: usize,
    pub(crate) payload: usize,
    pub(crate) len: usize,
}

impl BlockLayout {
    pub(crate) fn new(count: usize, dim: usize, padded: usize, rerank: Rerank) -> Self {
        let codes = align8(count * size_of::<u32>());
        let factors = codes + count * code_words(padded) * size_of::<u64>();
        let sq_params = align8(factors + count * FACTORS * size_of::<f32>());
        let (payload, end) = match rerank {
            Rerank::None => (sq_params, sq_params),
            Rerank::Sq8 => {
                let payload = sq_params + count * 2 * size_of::<f32>();
                (payload, payload + count * dim)
            }
            Rerank::Sq4 => {
                let payload = sq_params + count * 2 * size_of::<f32>();
                (payload, payload + count * crate::sq4::sq4_len(padded))
            }
            Rerank::F32 => (sq_params, sq_params + count * dim * size_of::<f32>()),
        };
        Self {
            count,
            codes,
            factors,
            sq_params,
            payload,
            len: align8(end),
        }
    }
}

/// The decoded fixed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) metric: Metric,
    pub(crate) rerank: Rerank,
    pub(crate) rounds: u8,
    pub(crate) dim: usize,
    pub(crate) padded: usize,
    pub(crate) count: usize,
    pub(crate) lists: usize,
    pub(crate) seed: u64,
    pub(crate) centroids: (u64, u64),
    pub(crate) directory: (u64, u64),
    pub(crate) data: (u64, u64),
}

impl Header {
    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..4].copy_from_slice(&MAGIC);
        b[4..6].copy_from_slice(&MAJOR.to_le_bytes());
        b[6..8].copy_from_slice(&MINOR.to_le_bytes());
        b[8..12].copy_from_slice(&u32_of(HEADER_LEN).to_le_bytes());
        b[12] = self.metric.code();
        b[13] = self.rerank.code();
        b[14] = self.rounds;
        b[16..20].copy_from_slice(&u32_of(self.dim).to_le_bytes());
        b[20..24].copy_from_slice(&u32_of(self.padded).to_le_bytes());
        b[24..28].copy_from_slice(&u32_of(self.count).to_le_bytes());
        b[28..32].copy_from_slice(&u32_of(self.lists).to_le_bytes());
        b[32..40].copy_from_slice(&self.seed.to_le_bytes());
        let sections = [self.centroids, self.directory, self.data];
        for (i, (off, len)) in sections.iter().enumerate() {
            let at = 40 + i * 16;
            b[at..at + 8].copy_from_slice(&off.to_le_bytes());
            b[at + 8..at + 16].copy_from_slice(&len.to_le_bytes());
        }
        b
    }

    /// Decodes and validates the fixed header: magic, version, codes,
    /// dimension bounds and section extents against each other. Extents
    /// against the region length are checked by the caller.
    pub(crate) fn decode(b: &[u8]) -> Result<Self> {
        let bad = |offset: u64, reason| VectorError::corrupt(Section::Header, offset, reason);
        if b.len() < HEADER_LEN {
            return Err(bad(b.len() as u64, "region shorter than the fixed header"));
        }
        if b[0..4] != MAGIC {
            return Err(bad(0, "bad magic"));
        }
        let major = le_u16(b, 4);
        let minor = le_u16(b, 6);
        if major != MAJOR {
            return Err(VectorError::UnsupportedVersion {
                found_major: major,
                found_minor: minor,
                supported: MAJOR,
            });
        }
        if le_u32(b, 8) as usize != HEADER_LEN {
            return Err(bad(8, "header length"));
        }
        let metric = Metric::from_code(b[12]).ok_or_else(|| bad(12, "unknown metric"))?;
        let rerank = Rerank::from_code(b[13]).ok_or_else(|| bad(13, "unknown rerank kind"))?;
        let rounds = b[14];
        if rounds == 0 || rounds > 16 {
            return Err(bad(14, "rotation rounds out of range"));
        }
        if b[15] != 0 || b[88..96].iter().any(|&x| x != 0) {
            return Err(bad(15, "reserved bytes are not zero"));
        }
        let dim = le_u32(b, 16) as usize;
        if dim == 0 || dim > MAX_DIM {
            return Err(bad(16, "dimension out of range"));
        }
        let padded = le_u32(b, 20) as usize;
        if padded != crate::rotation::padded_dim(dim) {
            return Err(bad(20, "padded dimension"));
        }
        let count = le_u32(b, 24) as usize;
        let lists = le_u32(b, 28) as usize;
        if lists > count || (count > 0 && lists == 0) {
            return Err(bad(28, "list count"));
        }
        let section = |at: usize| (le_u64(b, at), le_u64(b, at + 8));
        let header = Self {
            metric,
            rerank,
            rounds,
            dim,
            padded,
            count,
            lists,
            seed: le_u64(b, 32),
            centroids: section(40),
            directory: section(56),
            data: section(72),
        };
        let centroid_len = (lists * dim * size_of::<f32>()) as u64;
        if header.centroids != (HEADER_LEN as u64, centroid_len) {
            return Err(bad(40, "centroid section extent"));
        }
        let dir_off = align8(HEADER_LEN + lists * dim * size_of::<f32>()) as u64;
        if header.directory != (dir_off, (lists * DIR_ENTRY_LEN) as u64) {
            return Err(bad(56, "directory section extent"));
        }
        if header.data.0 != dir_off + header.directory.1 {
            return Err(bad(72, "data section offset"));
        }
        Ok(header)
    }
}

/// Widens a region offset that has been checked against an in-memory
/// slice's length.
pub(crate) fn usize_of(x: u64) -> usize {
    usize::try_from(x).expect("invariant: offset checked against an in-memory length")
}

/// Narrows a size that the builder has already bounded to u32.
pub(crate) fn u32_of(x: usize) -> u32 {
    u32::try_from(x).expect("invariant: sizes are validated to fit u32 before encoding")
}

pub(crate) fn le_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

pub(crate) fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

pub(crate) fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

pub(crate) fn le_f32(b: &[u8], at: usize) -> f32 {
    f32::from_bits(le_u32(b, at))
}
