//! Per-cluster query state and the three ways to score a vector: the
//! RaBitQ estimate, the stored rerank payload, or a caller's exact vector.
//!
//! Every score is a distance, smaller is better (see [`crate::Metric`]).

use crate::error::{Result, VectorError};
use crate::format::{Metric, Rerank, code_words};
use crate::kernels::{
    dot, dot_norm_sq, ip_4bit_1bit_many, l2_sq, prefetch, prefetch_floats, sq4_dot, sq4_l2_sq,
    sq8_dot, sq8_l2_sq,
};
use crate::rabitq::QuantizedQuery;
use crate::reader::{ClusterView, IndexHeader};
use crate::search::RowVectors;

/// The query, prepared once per search.
#[derive(Debug)]
pub(crate) struct PreparedQuery {
    /// Normalized under cosine.
    pub(crate) q: Vec<f32>,
    /// `Rq`.
    pub(crate) rotated: Vec<f32>,
}

/// Turns an inner product into this crate's distance convention.
pub(crate) fn ip_distance(metric: Metric, ip: f32) -> f32 {
    match metric {
        Metric::Cosine => 1.0 - ip,
        _ => -ip,
    }
}

/// The distance of two full vectors.
pub(crate) fn distance(metric: Metric, q: &[f32], x: &[f32]) -> f32 {
    match metric {
        Metric::L2 => l2_sq(q, x),
        _ => ip_distance(metric, dot(q, x)),
    }
}

/// One probed cluster with the query state it needs.
#[derive(Debug)]
pub(crate) struct ClusterCtx {
    pub(crate) view: ClusterView,
    /// `q − c` (original space), for SQ8 payloads under L2; empty
    /// otherwise.
    qc: Vec<f32>,
    /// `Rq − Rc`, for SQ4 payloads (rotated residuals); empty otherwise.
    rqc: Vec<f32>,
    q_dot_c: f32,
    /// `Rq − Rc`, quantized; built on first use.
    quant: Option<QuantizedQuery>,
    centroid: usize,
}

/// Scratch buffers reused across vectors.
#[derive(Debug)]
pub(crate) struct Scratch {
    code: Vec<u64>,
    vec: Vec<f32>,
    rot: Vec<f32>,
    counts: Vec<(u32, u32)>,
}

impl Scratch {
    pub(crate) fn new(h: &IndexHeader) -> Self {
        Self {
            code: vec![0; code_words(h.header.padded)],
            vec: vec![0.0; h.header.dim],
            rot: vec![0.0; h.header.padded],
            counts: Vec::new(),
        }
    }
}

/// The query's rotated residual to cluster `centroid`, quantized, built
/// into `slot` on first use.
fn quantized<'a>(
    slot: &'a mut Option<QuantizedQuery>,
    h: &IndexHeader,
    q: &PreparedQuery,
    s: &mut Scratch,
    centroid: usize,
) -> &'a QuantizedQuery {
    slot.get_or_insert_with(|| {
        let rc = h.rotated_centroid(centroid);
        for ((r, &qv), &cv) in s.rot.iter_mut().zip(&q.rotated).zip(rc) {
            *r = qv - cv;
        }
        QuantizedQuery::new(&s.rot)
    })
}

impl ClusterCtx {
    pub(crate) fn new(
        h: &IndexHeader,
        q: &PreparedQuery,
        centroid: usize,
        view: ClusterView,
    ) -> Self {
        let c = h.centroid(centroid);
        // Only the SQ8 rerank under L2 scores against `q − c`.
        let qc = if h.header.rerank == Rerank::Sq8 && h.header.metric == Metric::L2 {
            q.q.iter().zip(c).map(|(a, b)| a - b).collect()
        } else {
            Vec::new()
        };
        let rqc = if h.header.rerank == Rerank::Sq4 && h.header.metric == Metric::L2 {
            let rc = h.rotated_centroid(centroid);
            q.rotated.iter().zip(rc).map(|(a, b)| a - b).collect()
        } else {
            Vec::new()
        };
        Self {
            view,
            qc,
            rqc,
            q_dot_c: dot(&q.q, c),
            quant: None,
            centroid,
        }
    }

    /// The cluster this context probes.
    pub(crate) fn cluster(&self) -> usize {
        self.centroid
    }

    /// The RaBitQ distance estimate of vector `j`.
    pub(crate) fn estimate(
        &mut self,
        h: &IndexHeader,
        q: &PreparedQuery,
        s: &mut Scratch,
        j: usize,
    ) -> f32 {
        let metric = h.header.metric;
        let q_dot_c = self.q_dot_c;
        let quant = quantized(&mut self.quant, h, q, s, self.centroid);
        let f = self.view.factors(j);
        self.view.code(j, &mut s.code);
        let est = quant.estimate_ip(&s.code, &f);
        match metric {
            Metric::L2 => f.norm_r * f.norm_r + quant.norm_sq - 2.0 * est,
            _ => ip_distance(metric, q_dot_c + est + f.r_dot_c),
        }
    }

    /// The RaBitQ distance estimates of every vector, into `out`
    /// (cleared first).
    pub(crate) fn estimate_all(
        &mut self,
        h: &IndexHeader,
        q: &PreparedQuery,
        s: &mut Scratch,
        out: &mut Vec<f32>,
    ) {
        let metric = h.header.metric;
        let q_dot_c = self.q_dot_c;
        let quant = quantized(&mut self.quant, h, q, s, self.centroid);
        s.counts.clear();
        ip_4bit_1bit_many(quant.planes(), self.view.codes_bytes(), &mut s.counts);
        quant.estimate_block(metric, q_dot_c, &s.counts, self.view.factors_bytes(), out);
    }

    /// The most precise distance available for vector `j`: the caller's
    /// exact vector, else the F32, SQ8 or SQ4 payload, else the estimate.
    pub(crate) fn precise(
        &mut self,
        h: &IndexHeader,
        q: &PreparedQuery,
        s: &mut Scratch,
        j: usize,
        exact: Option<&dyn RowVectors>,
    ) -> Result<f32> {
        let metric = h.header.metric;
        if let Some(src) = exact {
            let row = self.view.row(j);
            let v = src.vector(row).filter(|v| v.len() == h.header.dim);
            let v = v.ok_or(VectorError::MissingVector { row })?;
            if metric == Metric::Cosine {
                // One pass for the dot and the norm: the stored vector is
                // not normalized, and a separate (f64) norm pass made a
                // column rerank cost twice an SQ8 one.
                let (ip, nn) = dot_norm_sq(&q.q, v);
                if nn.is_nan() || nn <= 0.0 {
                    return Err(VectorError::MissingVector { row });
                }
                return Ok(ip_distance(metric, ip / nn.sqrt()));
            }
            return Ok(distance(metric, &q.q, v));
        }
        if h.header.rerank == Rerank::None {
            return Ok(self.estimate(h, q, s, j));
        }
        let entry = h.payload_entry_len();
        Ok(self.payload_distance(h, q, s, j, self.view.payload(j, entry)))
    }

    /// The distance of vector `j` from its rerank payload entry `payload`
    /// (the bytes of [`IndexHeader::payload_range`], from the block or
    /// fetched on their own). Under [`Rerank::None`] (no payload), NaN:
    /// callers use the estimate instead.
    pub(crate) fn payload_distance(
        &self,
        h: &IndexHeader,
        q: &PreparedQuery,
        s: &mut Scratch,
        j: usize,
        payload: &[u8],
    ) -> f32 {
        let metric = h.header.metric;
        match h.header.rerank {
            Rerank::F32 => {
                for (o, b) in s.vec.iter_mut().zip(payload.chunks_exact(4)) {
                    *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                }
                distance(metric, &q.q, &s.vec)
            }
            Rerank::Sq8 => {
                // The payload is the residual `x − c`, decoded inside the
                // kernel: the rerank was a fifth of a warm Reuters query
                // with a decode buffer between two passes (perf).
                let (min, scale) = self.view.sq_params(j);
                match metric {
                    Metric::L2 => sq8_l2_sq(&self.qc, payload, min, scale),
                    _ => ip_distance(metric, self.q_dot_c + sq8_dot(&q.q, payload, min, scale)),
                }
            }
            Rerank::Sq4 => {
                // The payload is the rotated residual `ŷ ≈ R(x − c)`; the
                // rotation is orthogonal, so distances and inner products
                // with it are those of the original space.
                // Decoded inside the kernel, as for SQ8.
                let (min, scale) = self.view.sq_params(j);
                match metric {
                    // `ŷ = y + e` with rounding error `e` about uniform
                    // over a step, so `‖(Rq − Rc) − ŷ‖²` overshoots by
                    // `E‖e‖² = P·scale²/12` on average. The step differs
                    // per vector, so leaving that in would rank wide-range
                    // vectors behind their true place.
                    Metric::L2 => {
                        #[expect(clippy::cast_precision_loss, reason = "P ≤ 4096")]
                        let bias = self.rqc.len() as f32 * scale * scale / 12.0;
                        sq4_l2_sq(&self.rqc, payload, min, scale) - bias
                    }
                    _ => ip_distance(
                        metric,
                        self.q_dot_c + sq4_dot(&q.rotated, payload, min, scale),
                    ),
                }
            }
            Rerank::None => f32::NAN,
        }
    }

    /// Starts loading vector `j`'s payload entry into cache (nothing
    /// without a payload).
    pub(crate) fn prefetch_payload(&self, h: &IndexHeader, j: usize) {
        if h.header.rerank != Rerank::None {
            prefetch(self.view.payload(j, h.payload_entry_len()));
        }
    }

    /// Starts loading the exact vector of candidate `j` from `exact`.
    pub(crate) fn prefetch_exact(&self, exact: &dyn RowVectors, j: usize) {
        if let Some(v) = exact.vector(self.view.row(j)) {
            prefetch_floats(v);
        }
    }

    /// Whether [`precise`](Self::precise) is more than the estimate.
    pub(crate) fn has_precise(h: &IndexHeader, exact: bool) -> bool {
        exact || h.header.rerank != Rerank::None
    }
}
