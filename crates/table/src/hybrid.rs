//! Hybrid search: BM25 and vector rankings fused by weighted reciprocal rank.
//!
//! Each ranking contributes `weight / (rrf_k + rank)` (rank from 1) for every
//! row in its top `depth`; rows are ordered by the sum, ties to the lower
//! `_id`. Plain RRF is both weights 1; the defaults are those that scored
//! best on the judged Reuters corpus (see the bench quality cell).

use arrow::array::RecordBatch;
use std::collections::HashMap;

use infino_fts::Bm25Params;

use crate::error::Result;
use crate::table::{Hit, Table};
use crate::vector_search::VectorQuery;

/// How two rankings are fused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fusion {
    /// The RRF constant (60 in the original paper).
    pub rrf_k: f32,
    /// Weight of the BM25 ranking.
    pub text_weight: f32,
    /// Weight of the vector ranking.
    pub vector_weight: f32,
    /// Rows taken from each ranking.
    pub depth: usize,
}

impl Default for Fusion {
    fn default() -> Self {
        Self {
            rrf_k: 60.0,
            text_weight: 1.0,
            vector_weight: 1.0,
            depth: 100,
        }
    }
}

/// Fuse `rankings` (each best first, with its weight); keep the best `k`.
pub(crate) fn fuse(rankings: &[(&[Hit], f32)], rrf_k: f32, k: usize) -> Vec<Hit> {
    let mut fused: HashMap<u64, Hit> = HashMap::new();
    for (ranking, weight) in rankings {
        for (rank, hit) in ranking.iter().enumerate() {
            let add = weight / (rrf_k + rank as f32 + 1.0);
            fused
                .entry(hit.id)
                .and_modify(|h| h.score += add)
                .or_insert(Hit { score: add, ..*hit });
        }
    }
    let mut out: Vec<Hit> = fused.into_values().collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    out.truncate(k);
    out
}

impl Table {
    /// The best `k` rows for a text query on `text_column` and a vector
    /// query together, fused as `fusion` says. When `vector.ids` is set,
    /// both rankings hold only those rows.
    ///
    /// # Errors
    /// As [`Table::search_hits`] and [`Table::vector_search_hits`].
    pub async fn hybrid_search_hits(
        &self,
        text_column: &str,
        text_query: &str,
        vector: &VectorQuery<'_>,
        k: usize,
        fusion: Fusion,
    ) -> Result<Vec<Hit>> {
        let deep = VectorQuery {
            k: fusion.depth,
            ..vector.clone()
        };
        // Both searches at once: their round trips overlap. An id allow
        // set on the vector query restricts the text ranking too.
        let (text, near) = futures::try_join!(
            self.search_hits_among(
                text_column,
                text_query,
                fusion.depth,
                Bm25Params::default(),
                vector.ids
            ),
            self.vector_search_hits(&deep)
        )?;
        Ok(fuse(
            &[(&text, fusion.text_weight), (&near, fusion.vector_weight)],
            fusion.rrf_k,
            k,
        ))
    }

    /// [`Table::hybrid_search_hits`] as a record batch.
    ///
    /// # Errors
    /// As [`Table::hybrid_search_hits`], plus an unknown projected column.
    pub async fn hybrid_search(
        &self,
        text_column: &str,
        text_query: &str,
        vector: &VectorQuery<'_>,
        k: usize,
        fusion: Fusion,
        columns: &[&str],
    ) -> Result<RecordBatch> {
        let hits = self
            .hybrid_search_hits(text_column, text_query, vector, k, fusion)
            .await?;
        self.resolve(&hits, columns).await
    }
}
