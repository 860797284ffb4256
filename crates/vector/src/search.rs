//! Search: plan the clusters to probe, estimate, shortlist, rerank.
//!
//! The same code serves a whole region in memory ([`VectorIndex`]) and a
//! lazy reader that fetches cluster blocks on demand: both hand the search a
//! [`ClusterSource`]. [`IndexHeader::plan`] tells a lazy reader up front
//! which clusters a search will read, so it can fetch them in one batch.

use bytes::Bytes;
use roaring::RoaringBitmap;

use crate::error::{Result, VectorError};
use crate::format::Metric;
use crate::kernels::{dot_rows, norm_f64};
use crate::probe_order::ProbeOrder;
use crate::reader::{IndexHeader, VectorIndex};
use crate::scoring::{ClusterCtx, PreparedQuery, Scratch};

/// A search result: local row id and distance (smaller is better; see
/// [`Metric`]).
pub type Neighbor = (u32, f32);

/// How a filtered search reaches the allowed rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FilterStrategy {
    /// Brute force when the allow-set is small relative to the index
    /// (`allowed · 16 ≤ n` or `allowed ≤ 1024`), else probe.
    #[default]
    Auto,
    /// Score every allowed row with the rerank payload (reads every
    /// cluster).
    BruteForce,
    /// Probe clusters nearest first, widening with lower selectivity.
    Probe,
}

/// Per-query options. [`SearchOptions::new`] gives the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchOptions {
    /// Results wanted; 0 gives an empty result, more than the index holds
    /// gives every (allowed) row.
    pub k: usize,
    /// Clusters to probe. `None`: [`default_nprobe`] of the list count.
    pub nprobe: Option<usize>,
    /// Candidates kept from the RaBitQ pass for reranking. `None`:
    /// [`default_rerank_breadth`] of `k`. Raised to at least `k`.
    pub rerank_breadth: Option<usize>,
    /// Score every (allowed) vector precisely instead of probing.
    pub exact: bool,
    /// How a filtered search reaches the allowed rows.
    pub filter: FilterStrategy,
}

impl SearchOptions {
    /// Default options for `k` results.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            nprobe: None,
            rerank_breadth: None,
            exact: false,
            filter: FilterStrategy::Auto,
        }
    }
}

/// The default number of probed clusters for an index of `lists` lists:
/// `⌈3·√lists⌉`, at least 8 (at most `lists`).
///
/// With the default `√n` lists a probe then reads about `3·n^¾` vectors,
/// so the share of the index read shrinks as it grows, where a fixed share
/// made large indexes slow for nothing (30% of 1,000 lists took 6.3 ms at
/// 1M × 384 where 8 lists already gave recall@10 0.98). The factor is set
/// by real embeddings, which cluster weakly: on the 384-d Reuters
/// sentence embeddings (100 lists) 2·√lists gave recall@10 0.949, 2.5·√
/// 0.963 and 3·√ 0.970 (crate test `reuters`); the clustered 20K × 128
/// test data holds 0.98 or more at any of these.
pub fn default_nprobe(lists: usize) -> usize {
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "a small count"
    )]
    let scaled = (3.0 * (lists as f64).sqrt()).ceil() as usize;
    scaled.max(8).min(lists)
}

/// The default rerank breadth for `k` results: `20·k`, at least 200.
///
/// Measured in the bench `vectors` cell (k = 10, SQ8): at 1M × 384
/// clustered vectors a breadth of 100 capped recall@10 at 0.941 whatever
/// the nprobe, 200 gave 0.980 at nprobe 8 for 4% more time (0.177 →
/// 0.184 ms); at 200K it lifted nprobe 32 from 0.949 to 0.961, and on
/// the Reuters embeddings it changed recall by ≤ 0.001. The 1-bit
/// estimate orders candidates coarsely, so the true top 10 often sit
/// past the 100th estimate once lists hold about a thousand vectors.
pub fn default_rerank_breadth(k: usize) -> usize {
    k.saturating_mul(20).max(200)
}

/// Exact f32 vectors by row, e.g. decoded from the superfile's Parquet
/// column, for exact reranking.
pub trait RowVectors: Sync {
    /// The vector of `row` (`D` components, not necessarily normalized), or
    /// `None` if unknown, which fails the search with
    /// [`VectorError::MissingVector`].
    fn vector(&self, row: u32) -> Option<&[f32]>;
}

/// Where a search gets cluster blocks from.
pub trait ClusterSource {
    /// The bytes of cluster `cluster` (exactly
    /// [`IndexHeader::cluster_range`]), or `None` if this source does not
    /// have it. A search fails with [`VectorError::MissingCluster`] for a
    /// missing planned cluster, and stops widening at a missing extra one.
    fn cluster(&self, cluster: usize) -> Result<Option<Bytes>>;
}

impl ClusterSource for VectorIndex {
    fn cluster(&self, cluster: usize) -> Result<Option<Bytes>> {
        Ok(Some(self.cluster_bytes(cluster)))
    }
}

impl ClusterSource for [(usize, Bytes)] {
    fn cluster(&self, cluster: usize) -> Result<Option<Bytes>> {
        Ok(self
            .iter()
            .find(|(c, _)| *c == cluster)
            .map(|(_, b)| b.clone()))
    }
}

/// A [`ClusterSource`] over a closure, e.g. one that reads ranges from a
/// cache.
#[derive(Debug, Clone, Copy)]
pub struct ClusterFn<F>(pub F);

impl<F: Fn(usize) -> Result<Option<Bytes>>> ClusterSource for ClusterFn<F> {
    fn cluster(&self, cluster: usize) -> Result<Option<Bytes>> {
        (self.0)(cluster)
    }
}

/// What a search does, decided from the header alone.
#[derive(Debug)]
pub(crate) enum Mode {
    /// Score every (allowed) vector precisely, cluster by cluster.
    Scan,
    /// Probe `planned` clusters of `order`, widening while fewer than
    /// `need` candidates were seen.
    Probe { order: ProbeOrder, planned: usize },
}

impl IndexHeader {
    pub(crate) fn prepare(&self, query: &[f32]) -> Result<PreparedQuery> {
        if query.len() != self.dim() {
            return Err(VectorError::DimensionMismatch {
                expected: self.dim(),
                found: query.len(),
            });
        }
        if query.iter().any(|v| !v.is_finite()) {
            return Err(VectorError::InvalidQuery {
                reason: "non-finite component",
            });
        }
        let mut q = query.to_vec();
        if self.metric() == Metric::Cosine {
            let n = norm_f64(&q);
            if n == 0.0 {
                return Err(VectorError::InvalidQuery {
                    reason: "zero vector under cosine",
                });
            }
            #[expect(clippy::cast_possible_truncation, reason = "normalized f32 components")]
            q.iter_mut().for_each(|v| *v = (f64::from(*v) / n) as f32);
        }
        let mut rotated = vec![0.0; self.rotation.padded()];
        self.rotation.apply(&q, &mut rotated);
        Ok(PreparedQuery { q, rotated })
    }

    /// Clusters ordered by centroid distance to `q` under the index
    /// metric, nearest first. (Ranking cosine queries by L2 to the
    /// unnormalized centroids, i.e. by Voronoi cell, measured worse on real
    /// embeddings: tight clusters, whose means are long, deserve priority.)
    /// `m` is how far the order is likely read (see [`ProbeOrder`]).
    fn cluster_order(&self, q: &PreparedQuery, m: usize) -> ProbeOrder {
        let metric = self.metric();
        let scored: Vec<(f32, usize)> = if metric == Metric::L2 {
            (0..self.lists())
                .map(|c| (crate::scoring::distance(metric, &q.q, self.centroid(c)), c))
                .collect()
        } else {
            let mut dots = Vec::new();
            dot_rows(&q.q, &self.centroids, &mut dots);
            dots.into_iter()
                .map(|d| crate::scoring::ip_distance(metric, d))
                .zip(0..)
                .collect()
        };
        ProbeOrder::new(scored, m)
    }

    /// Whether a search with these options probes clusters (and so can be
    /// read in two phases, see [`Shortlist`](crate::Shortlist)) rather
    /// than scanning every cluster precisely (exact, or a brute-force
    /// filtered search). Depends on the options and allow-set size only.
    pub fn probes(&self, opts: &SearchOptions, allowed: Option<&RoaringBitmap>) -> bool {
        let n = self.len();
        match allowed {
            _ if opts.exact => false,
            None => true,
            Some(a) => match opts.filter {
                FilterStrategy::BruteForce => false,
                FilterStrategy::Probe => true,
                FilterStrategy::Auto => !(a.len() * 16 <= n as u64 || a.len() <= 1024),
            },
        }
    }

    pub(crate) fn mode(
        &self,
        q: &PreparedQuery,
        opts: &SearchOptions,
        allowed: Option<&RoaringBitmap>,
    ) -> Mode {
        let n = self.len();
        if !self.probes(opts, allowed) {
            return Mode::Scan;
        }
        #[expect(clippy::cast_precision_loss, reason = "selectivity estimate")]
        let s = allowed.map_or(1.0, |a| (a.len() as f64 / n.max(1) as f64).min(1.0));
        let nprobe = opts
            .nprobe
            .unwrap_or_else(|| default_nprobe(self.lists()))
            .max(1);
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "bounded by lists"
        )]
        let min_probes = ((nprobe as f64 / s.sqrt()).ceil() as usize).min(self.lists());
        let want = if allowed.is_some() {
            self.breadth(opts)
        } else {
            opts.k
        };
        let mut order = self.cluster_order(q, min_probes);
        let mut expected = 0.0;
        let mut planned = 0;
        #[expect(clippy::cast_precision_loss, reason = "expectation")]
        while planned < min_probes || expected < want as f64 {
            let Some(c) = order.get(planned) else {
                break;
            };
            expected += self.cluster_len(c) as f64 * s;
            planned += 1;
        }
        Mode::Probe { order, planned }
    }

    pub(crate) fn breadth(&self, opts: &SearchOptions) -> usize {
        opts.rerank_breadth
            .unwrap_or_else(|| default_rerank_breadth(opts.k))
            .max(opts.k)
    }

    /// The clusters a search with these arguments reads, in order. A lazy
    /// reader fetches them (by [`cluster_range`](Self::cluster_range)) and
    /// passes them to [`search_clusters`](Self::search_clusters); a filtered
    /// search may ask its source for more if these hold fewer than `k`
    /// allowed rows.
    ///
    /// # Errors
    /// As [`search_clusters`](Self::search_clusters) for the query.
    pub fn plan(
        &self,
        query: &[f32],
        opts: &SearchOptions,
        allowed: Option<&RoaringBitmap>,
    ) -> Result<Vec<usize>> {
        let q = self.prepare(query)?;
        if opts.k == 0 || self.is_empty() || allowed.is_some_and(RoaringBitmap::is_empty) {
            return Ok(Vec::new());
        }
        Ok(match self.mode(&q, opts, allowed) {
            Mode::Scan => (0..self.lists()).collect(),
            Mode::Probe { mut order, planned } => order.prefix(planned),
        })
    }

    /// Searches with cluster blocks from `source`: the `k` nearest rows
    /// (restricted to `allowed` when given), best first, ties by row
    /// ascending. Scores follow [`Metric`]; with an `exact` source,
    /// shortlisted rows are scored from its vectors.
    ///
    /// Cost: `O(lists · D)` to rank centroids, then per probed vector one
    /// RaBitQ estimate (`O(P / 64)` popcounts) and per shortlisted vector
    /// one `O(D)` rerank. Exact and brute-force filtered searches score
    /// every (allowed) vector and read every cluster. Runs on the calling
    /// thread.
    ///
    /// # Errors
    /// [`VectorError::DimensionMismatch`], [`VectorError::InvalidQuery`]
    /// (non-finite, or zero under cosine), [`VectorError::MissingCluster`],
    /// [`VectorError::Corrupt`] for a cluster block of the wrong length,
    /// [`VectorError::MissingVector`] from `exact`, or the source's error.
    pub fn search_clusters(
        &self,
        query: &[f32],
        opts: &SearchOptions,
        allowed: Option<&RoaringBitmap>,
        source: &(impl ClusterSource + ?Sized),
        exact: Option<&dyn RowVectors>,
    ) -> Result<Vec<Neighbor>> {
        let q = self.prepare(query)?;
        if opts.k == 0 || self.is_empty() || allowed.is_some_and(RoaringBitmap::is_empty) {
            return Ok(Vec::new());
        }
        let mut run = Run {
            h: self,
            q: &q,
            allowed,
            source,
            exact,
            heads: false,
            s: Scratch::new(self),
        };
        let hits = match self.mode(&q, opts, allowed) {
            Mode::Scan => run.scan()?,
            Mode::Probe { mut order, planned } => run.probe(&mut order, planned, opts)?,
        };
        Ok(top_k(hits, opts.k))
    }
}

/// A shortlisted candidate: RaBitQ estimate, row, slot of its probed
/// cluster, position in that cluster.
pub(crate) type Candidate = (f32, u32, usize, usize);

/// One search's state.
pub(crate) struct Run<'a, S: ?Sized> {
    pub(crate) h: &'a IndexHeader,
    pub(crate) q: &'a PreparedQuery,
    pub(crate) allowed: Option<&'a RoaringBitmap>,
    pub(crate) source: &'a S,
    pub(crate) exact: Option<&'a dyn RowVectors>,
    /// The source gives cluster heads (or whole blocks of which only the
    /// head is used), not whole blocks.
    pub(crate) heads: bool,
    pub(crate) s: Scratch,
}

impl<S: ClusterSource + ?Sized> Run<'_, S> {
    fn allows(&self, row: u32) -> bool {
        self.allowed.is_none_or(|a| a.contains(row))
    }

    fn fetch(&self, c: usize) -> Result<Option<ClusterCtx>> {
        let Some(b) = self.source.cluster(c)? else {
            return Ok(None);
        };
        let view = if self.heads {
            self.h.head_view(c, b)?
        } else {
            self.h.cluster_view(c, b)?
        };
        Ok(Some(ClusterCtx::new(self.h, self.q, c, view)))
    }

    /// Every (allowed) vector of every cluster, scored precisely.
    fn scan(&mut self) -> Result<Vec<Neighbor>> {
        let mut hits = Vec::new();
        for c in 0..self.h.lists() {
            let mut ctx = self
                .fetch(c)?
                .ok_or(VectorError::MissingCluster { cluster: c })?;
            for j in 0..ctx.view.count() {
                let row = ctx.view.row(j);
                if self.allows(row) {
                    let d = ctx.precise(self.h, self.q, &mut self.s, j, self.exact)?;
                    hits.push((row, sane(d)));
                }
            }
        }
        Ok(hits)
    }

    /// Estimates over the planned clusters (and more while fewer than `k`
    /// candidates were seen), then reranks the best `breadth`.
    fn probe(
        &mut self,
        order: &mut ProbeOrder,
        planned: usize,
        opts: &SearchOptions,
    ) -> Result<Vec<Neighbor>> {
        let (cands, mut ctxs) = self.candidates(order, planned, opts)?;
        if !ClusterCtx::has_precise(self.h, self.exact.is_some()) {
            return Ok(cands.iter().map(|&(d, row, _, _)| (row, d)).collect());
        }
        let mut hits = Vec::with_capacity(cands.len());
        // The shortlisted payload entries (or exact vectors) lie scattered
        // in memory; asking for the next few ahead overlaps their cache
        // misses with the current rerank.
        const AHEAD: usize = 4;
        for (i, &(_, row, slot, j)) in cands.iter().enumerate() {
            if let Some(&(_, _, ps, pj)) = cands.get(i + AHEAD) {
                match self.exact {
                    Some(exact) => ctxs[ps].prefetch_exact(exact, pj),
                    None => ctxs[ps].prefetch_payload(self.h, pj),
                }
            }
            let d = ctxs[slot].precise(self.h, self.q, &mut self.s, j, self.exact)?;
            hits.push((row, sane(d)));
        }
        Ok(hits)
    }

    /// The RaBitQ pass: estimates over the planned clusters (and more
    /// while fewer than `k` candidates were seen), keeping the best
    /// `breadth` candidates and the probed clusters they point into.
    pub(crate) fn candidates(
        &mut self,
        order: &mut ProbeOrder,
        planned: usize,
        opts: &SearchOptions,
    ) -> Result<(Vec<Candidate>, Vec<ClusterCtx>)> {
        let mut cands: Vec<Candidate> = Vec::new();
        let mut ctxs = Vec::new();
        let mut estimates = Vec::new();
        let breadth = self.h.breadth(opts);
        // Once `breadth` candidates at or below `bound` are held, a worse
        // estimate can never be kept: skip it rather than push and later
        // partition it (the partition was a tenth of a warm query).
        let mut bound = f32::INFINITY;
        for i in 0.. {
            let Some(c) = order.get(i) else {
                break;
            };
            if i >= planned && cands.len() >= opts.k {
                break;
            }
            let Some(mut ctx) = self.fetch(c)? else {
                if i < planned {
                    return Err(VectorError::MissingCluster { cluster: c });
                }
                break;
            };
            ctx.estimate_all(self.h, self.q, &mut self.s, &mut estimates);
            for (j, &d) in estimates.iter().enumerate() {
                let d = sane(d);
                if d > bound {
                    continue;
                }
                let row = ctx.view.row(j);
                if self.allows(row) {
                    cands.push((d, row, ctxs.len(), j));
                }
            }
            ctxs.push(ctx);
            if cands.len() >= breadth.saturating_mul(2) {
                keep_best(&mut cands, breadth);
                bound = cands.iter().fold(f32::NEG_INFINITY, |m, c| m.max(c.0));
            }
        }
        keep_best(&mut cands, breadth);
        Ok((cands, ctxs))
    }
}

/// Keeps the best `breadth` candidates (by estimate, ties by row), in no
/// particular order.
fn keep_best(cands: &mut Vec<Candidate>, breadth: usize) {
    if cands.len() > breadth {
        cands.select_nth_unstable_by(breadth - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        cands.truncate(breadth);
    }
}

/// A NaN distance (possible only from corrupt block values) ranks last.
pub(crate) fn sane(d: f32) -> f32 {
    if d.is_nan() { f32::INFINITY } else { d }
}

/// The `k` smallest by distance, ties by row, sorted.
pub(crate) fn top_k(mut hits: Vec<Neighbor>, k: usize) -> Vec<Neighbor> {
    let cmp = |a: &Neighbor, b: &Neighbor| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0));
    if hits.len() > k {
        hits.select_nth_unstable_by(k - 1, cmp);
        hits.truncate(k);
    }
    hits.sort_unstable_by(cmp);
    hits
}

impl VectorIndex {
    /// The `k` nearest rows to `query`; see
    /// [`IndexHeader::search_clusters`] for order, cost and errors.
    pub fn search(&self, query: &[f32], opts: &SearchOptions) -> Result<Vec<Neighbor>> {
        self.header().search_clusters(query, opts, None, self, None)
    }

    /// The `min(k, |allowed ∩ rows|)` nearest rows among `allowed` (never a
    /// thinned global top-k); see [`IndexHeader::search_clusters`].
    pub fn search_filtered(
        &self,
        query: &[f32],
        opts: &SearchOptions,
        allowed: &RoaringBitmap,
    ) -> Result<Vec<Neighbor>> {
        self.header()
            .search_clusters(query, opts, Some(allowed), self, None)
    }

    /// The general form: optional allow-set and optional exact vectors.
    pub fn search_with(
        &self,
        query: &[f32],
        opts: &SearchOptions,
        allowed: Option<&RoaringBitmap>,
        exact: Option<&dyn RowVectors>,
    ) -> Result<Vec<Neighbor>> {
        self.header()
            .search_clusters(query, opts, allowed, self, exact)
    }
}
