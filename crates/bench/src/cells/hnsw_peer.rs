//! The in-process HNSW peer of the vectors cell: usearch (a C++ HNSW with
//! SIMD kernels), built over the same vectors in the same process, so its
//! build time, memory, size and recall-versus-latency sit beside ours on
//! the same machine and run.

use std::time::{Duration, Instant};

use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

/// HNSW graph degree (usearch's default `M`).
const CONNECTIVITY: usize = 16;
/// Candidate list while inserting (usearch's default `ef_construction`).
const EXPANSION_ADD: usize = 128;

/// A built peer index and what building it cost.
pub(crate) struct HnswPeer {
    index: Index,
    pub(crate) build: Duration,
    /// Bytes of the serialized index (graph plus f32 vectors).
    pub(crate) bytes: usize,
}

impl HnswPeer {
    /// Builds a cosine HNSW over `data` (row-major, `dim` wide) with
    /// `threads` inserting threads; keys are row ordinals.
    pub(crate) fn build(data: &[f32], dim: usize, threads: usize) -> anyhow::Result<Self> {
        let options = IndexOptions {
            dimensions: dim,
            metric: MetricKind::Cos,
            quantization: ScalarKind::F32,
            connectivity: CONNECTIVITY,
            expansion_add: EXPANSION_ADD,
            expansion_search: 64,
            multi: false,
        };
        let started = Instant::now();
        let index = Index::new(&options)?;
        let n = data.len() / dim;
        let threads = threads.max(1);
        index.reserve_capacity_and_threads(n, threads)?;
        let chunk = n.div_ceil(threads);
        std::thread::scope(|scope| -> anyhow::Result<()> {
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    let index = &index;
                    scope.spawn(move || -> anyhow::Result<()> {
                        for row in t * chunk..((t + 1) * chunk).min(n) {
                            index.add(row as u64, &data[row * dim..(row + 1) * dim])?;
                        }
                        Ok(())
                    })
                })
                .collect();
            for w in workers {
                w.join()
                    .map_err(|_| anyhow::anyhow!("an HNSW insert thread panicked"))??;
            }
            Ok(())
        })?;
        let build = started.elapsed();
        let bytes = index.serialized_length();
        Ok(Self {
            index,
            build,
            bytes,
        })
    }

    /// The `k` nearest row ordinals with search breadth `ef`.
    pub(crate) fn search(&self, query: &[f32], k: usize, ef: usize) -> anyhow::Result<Vec<u64>> {
        if self.index.expansion_search() != ef {
            self.index.change_expansion_search(ef);
        }
        Ok(self.index.search(query, k)?.keys)
    }
}
