//! Two-phase probing for lazy readers: shortlist from cluster heads, then
//! rerank from the few payload entries the shortlist names.
//!
//! A cluster block ends with its rerank payload, the bulk of the block
//! (an SQ8 entry is `D` bytes against `4 + P/8 + 20` for row, code and
//! factors). A probe estimates every vector of the probed clusters but
//! reranks only the best `breadth` of them, so reading whole blocks fetches
//! payload for vectors that are never reranked. Reading the heads first and
//! then only the shortlisted entries cuts the bytes of a cold query several
//! fold, at the price of one more round trip: worth it when the payload
//! saved outweighs a request's latency, which the reader decides.

use std::ops::Range;

use bytes::Bytes;
use roaring::RoaringBitmap;

use crate::error::{Result, Section, VectorError};
use crate::format::Rerank;
use crate::reader::IndexHeader;
use crate::scoring::{ClusterCtx, PreparedQuery, Scratch};
use crate::search::{
    Candidate, ClusterSource, Mode, Neighbor, RowVectors, Run, SearchOptions, sane, top_k,
};

/// The result of a probe's first phase: the shortlisted candidates and the
/// payload entries their rerank needs. Get one from
/// [`IndexHeader::shortlist`], fetch [`payload_ranges`](Self::payload_ranges)
/// and finish with [`rerank`](Self::rerank).
#[derive(Debug)]
pub struct Shortlist {
    header: IndexHeader,
    q: Option<PreparedQuery>,
    k: usize,
    ctxs: Vec<ClusterCtx>,
    cands: Vec<Candidate>,
}

impl IndexHeader {
    /// The first phase of a probing search: RaBitQ estimates over the
    /// planned clusters' heads (see [`plan`](Self::plan) and
    /// [`cluster_head_range`](Self::cluster_head_range); whole blocks are
    /// accepted too), keeping the best `breadth` candidates. The same
    /// candidates, and after [`Shortlist::rerank`] the same results, as
    /// [`search_clusters`](Self::search_clusters) over whole blocks.
    ///
    /// # Errors
    /// As [`search_clusters`](Self::search_clusters); also
    /// [`VectorError::InvalidParams`] when the search would not probe (see
    /// [`probes`](Self::probes)): exact and brute-force filtered searches
    /// read whole clusters.
    pub fn shortlist(
        &self,
        query: &[f32],
        opts: &SearchOptions,
        allowed: Option<&RoaringBitmap>,
        heads: &(impl ClusterSource + ?Sized),
    ) -> Result<Shortlist> {
        let q = self.prepare(query)?;
        let mut list = Shortlist {
            header: self.clone(),
            q: None,
            k: opts.k,
            ctxs: Vec::new(),
            cands: Vec::new(),
        };
        if opts.k == 0 || self.is_empty() || allowed.is_some_and(RoaringBitmap::is_empty) {
            return Ok(list);
        }
        let Mode::Probe { mut order, planned } = self.mode(&q, opts, allowed) else {
            return Err(VectorError::params(
                "exact",
                "a scanning search reads whole clusters, not a shortlist",
            ));
        };
        let mut run = Run {
            h: self,
            q: &q,
            allowed,
            source: heads,
            exact: None,
            heads: true,
            s: Scratch::new(self),
        };
        let (cands, ctxs) = run.candidates(&mut order, planned, opts)?;
        list.cands = cands;
        list.ctxs = ctxs;
        list.q = Some(q);
        Ok(list)
    }
}

impl Shortlist {
    /// Shortlisted candidates.
    pub fn len(&self) -> usize {
        self.cands.len()
    }

    /// Whether nothing was shortlisted.
    pub fn is_empty(&self) -> bool {
        self.cands.is_empty()
    }

    /// The shortlisted rows, in shortlist order: what a rerank from the
    /// stored column ([`rerank_exact`](Self::rerank_exact)) needs.
    pub fn rows(&self) -> Vec<u32> {
        self.cands.iter().map(|&(_, row, _, _)| row).collect()
    }

    /// The `k` nearest candidates, reranked with their exact stored vectors
    /// (e.g. read from the superfile's Parquet column), best first, ties
    /// by row. The same results as
    /// [`search_clusters`](IndexHeader::search_clusters) with the same
    /// `exact` source.
    ///
    /// # Errors
    /// [`VectorError::MissingVector`] when `exact` lacks a shortlisted row.
    pub fn rerank_exact(&mut self, exact: &dyn RowVectors) -> Result<Vec<Neighbor>> {
        let Some(q) = &self.q else {
            return Ok(Vec::new());
        };
        let (h, ctxs) = (&self.header, &mut self.ctxs);
        let mut s = Scratch::new(h);
        let mut hits = Vec::with_capacity(self.cands.len());
        for &(_, row, slot, j) in &self.cands {
            let d = ctxs[slot].precise(h, q, &mut s, j, Some(exact))?;
            hits.push((row, sane(d)));
        }
        Ok(top_k(hits, self.k))
    }

    /// The candidates' payload entries, one per candidate in shortlist
    /// order, as (cluster, region byte range) (empty under
    /// [`Rerank::None`]). Some are adjacent or close: a reader should
    /// coalesce them.
    pub fn payload_ranges(&self) -> Vec<(usize, Range<u64>)> {
        if self.header.rerank() == Rerank::None {
            return Vec::new();
        }
        self.cands
            .iter()
            .map(|&(_, _, slot, j)| {
                let c = self.ctxs[slot].cluster();
                (c, self.header.payload_range(c, j))
            })
            .collect()
    }

    /// The `k` nearest candidates, reranked with `payloads` (the bytes of
    /// [`payload_ranges`](Self::payload_ranges), in its order), best first,
    /// ties by row. Under [`Rerank::None`] the estimates order them.
    ///
    /// # Errors
    /// [`VectorError::Corrupt`] when `payloads` has the wrong count or an
    /// entry the wrong length.
    pub fn rerank(mut self, payloads: &[Bytes]) -> Result<Vec<Neighbor>> {
        let Some(q) = self.q.take() else {
            return Ok(Vec::new());
        };
        let h = &self.header;
        if h.rerank() == Rerank::None {
            let hits = self.cands.iter().map(|&(d, row, _, _)| (row, d)).collect();
            return Ok(top_k(hits, self.k));
        }
        let entry = h.payload_entry_len();
        if payloads.len() != self.cands.len() {
            return Err(VectorError::corrupt(
                Section::Cluster,
                h.data_offset(),
                "payload entry count differs from the shortlist",
            ));
        }
        let mut s = Scratch::new(h);
        let mut hits = Vec::with_capacity(self.cands.len());
        for (&(_, row, slot, j), payload) in self.cands.iter().zip(payloads) {
            let ctx = &self.ctxs[slot];
            if payload.len() != entry {
                return Err(VectorError::corrupt(
                    Section::Cluster,
                    h.payload_range(ctx.cluster(), j).start,
                    "payload entry length",
                ));
            }
            let d = ctx.payload_distance(h, &q, &mut s, j, payload);
            hits.push((row, sane(d)));
        }
        Ok(top_k(hits, self.k))
    }
}
