//! Nearest-neighbour search across a table version's superfiles.
//!
//! Each file answers from its own vector region (IVF probe, RaBitQ first
//! pass, rerank), optionally restricted to the rows a full-text query
//! matches (the allow-set path: `min(k, allowed)` rows, not a thinned
//! global top k); the per-file answers merge by similarity.

use arrow::array::RecordBatch;
use futures::future::try_join_all;
use infino_fts::Query;
use infino_vector::{Metric, SearchOptions};

use std::sync::Arc;

use roaring::RoaringBitmap;

use crate::error::{Result, TableError};
use crate::pools;
use crate::table::{Hit, Table};

/// A vector query. Build with [`VectorQuery::new`] and adjust the fields.
#[derive(Debug, Clone)]
pub struct VectorQuery<'a> {
    /// The vector column.
    pub column: &'a str,
    /// The query vector (its dimension must match the column's).
    pub vector: &'a [f32],
    /// Rows wanted.
    pub k: usize,
    /// Clusters probed per file (`None`: the index default).
    pub nprobe: Option<usize>,
    /// Candidates reranked per file (`None`: the index default).
    pub rerank_breadth: Option<usize>,
    /// Brute force over every vector instead of probing.
    pub exact: bool,
    /// Only rows matching this full-text query: (text column, query).
    pub filter: Option<(&'a str, &'a str)>,
    /// Only rows with these `_id`s (combined with `filter` when both are
    /// set). Ids not in the table are ignored.
    pub ids: Option<&'a [u64]>,
}

impl<'a> VectorQuery<'a> {
    /// The `k` nearest rows to `vector` in `column`, default options.
    pub fn new(column: &'a str, vector: &'a [f32], k: usize) -> Self {
        Self {
            column,
            vector,
            k,
            nprobe: None,
            rerank_breadth: None,
            exact: false,
            filter: None,
            ids: None,
        }
    }
}

/// Files searched together between pruning checks.
const WAVE: usize = 4;

/// Similarity (higher is better) from an index distance (lower is better).
fn similarity(metric: Metric, distance: f32) -> f32 {
    match metric {
        Metric::Cosine => 1.0 - distance,
        _ => -distance,
    }
}

impl Table {
    /// The nearest rows to `query.vector`, best first, ties to the lower
    /// `_id`. `Hit::score` is cosine similarity, inner product, or negated
    /// squared L2 distance, by the column's metric.
    ///
    /// # Errors
    /// [`TableError::Schema`] for a column without a vector index, vector
    /// errors (dimension mismatch, NaN), a bad filter query, storage errors.
    pub async fn vector_search_hits(&self, query: &VectorQuery<'_>) -> Result<Vec<Hit>> {
        if !self
            .inner
            .spec
            .vector
            .iter()
            .any(|v| v.column == query.column)
        {
            return Err(TableError::Schema {
                column: query.column.to_owned(),
                reason: "has no vector index".into(),
            });
        }
        let filter = query
            .filter
            .map(|(column, text)| Query::parse(text).map(|q| (column, q)))
            .transpose()?;
        let options = SearchOptions {
            nprobe: query.nprobe,
            rerank_breadth: query.rerank_breadth,
            exact: query.exact,
            ..SearchOptions::new(query.k)
        };
        let by_id = match query.ids {
            None => None,
            Some(ids) => Some(self.rows_of_ids(ids).await?),
        };
        // Files nearest first by the manifest's centroid and radius; a file
        // whose every vector is farther than the k-th best found so far is
        // never opened.
        let metric = self
            .inner
            .spec
            .vector
            .iter()
            .find(|v| v.column == query.column)
            .map(|v| v.metric);
        let bounds: Vec<Option<f32>> = self
            .inner
            .manifest
            .files
            .iter()
            .map(|f| {
                let summary = f.vectors.get(query.column)?;
                summary.min_distance(metric?, query.vector)
            })
            .collect();
        let mut order: Vec<usize> = (0..bounds.len()).collect();
        order.sort_by(|&a, &b| {
            let (x, y) = (bounds[a].unwrap_or(0.0), bounds[b].unwrap_or(0.0));
            x.total_cmp(&y)
        });
        let mut hits: Vec<(Hit, f32)> = Vec::new();
        for wave in order.chunks(WAVE) {
            let kth = (hits.len() >= query.k && query.k > 0).then(|| hits[query.k - 1].1);
            let wave: Vec<usize> = wave
                .iter()
                .copied()
                .filter(|&i| match (bounds[i], kth) {
                    (Some(bound), Some(kth)) => bound <= kth,
                    _ => true,
                })
                .collect();
            if wave.is_empty() {
                break;
            }
            let files = try_join_all(wave.iter().map(|&i| self.file(i))).await?;
            let headers = try_join_all(files.iter().map(|f| f.vector_header(query.column))).await?;
            let mut jobs = Vec::with_capacity(wave.len());
            for ((&i, file), header) in wave.iter().zip(&files).zip(headers) {
                let live = self.live_rows(i).await?;
                // The snapshot's shared live set when nothing else filters:
                // no per-query copy.
                let mut allowed: Option<Arc<RoaringBitmap>> = match &filter {
                    None => live,
                    Some((column, parsed)) => {
                        let index = file.fts_for_query(column, parsed, false).await?;
                        let mut allowed = parsed.matching_docs(&index)?;
                        if let Some(live) = live {
                            allowed &= live.as_ref();
                        }
                        Some(Arc::new(allowed))
                    }
                };
                if let Some(by_id) = &by_id {
                    let rows = by_id.get(&i).cloned().unwrap_or_default();
                    allowed = Some(Arc::new(match allowed {
                        Some(a) => a.as_ref() & rows,
                        None => rows,
                    }));
                }
                if allowed.as_ref().is_some_and(|a| a.is_empty()) {
                    continue;
                }
                // Only the clusters the search will probe are read.
                let planned = header.plan(query.vector, &options, allowed.as_deref())?;
                let clusters = file.vector_clusters(query.column, &planned).await?;
                jobs.push((i, header, allowed, clusters));
            }
            let vector = query.vector.to_vec();
            let search_options = options.clone();
            let mut per_file = pools::read(move || {
                use rayon::prelude::*;
                jobs.into_par_iter()
                    .map(|(i, header, allowed, clusters)| {
                        let found = header.search_clusters(
                            &vector,
                            &search_options,
                            allowed.as_deref(),
                            clusters.as_slice(),
                            None,
                        )?;
                        Ok((i, header, allowed, clusters.len(), found))
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .await?;
            // A filtered search whose planned clusters held too few allowed
            // rows would widen into clusters not read: read them all then.
            for (i, header, allowed, read, found) in &mut per_file {
                let available = allowed.as_ref().map_or(header.len() as u64, |a| a.len());
                let wanted = (query.k as u64).min(available);
                if (found.len() as u64) < wanted && *read < header.lists() {
                    let all: Vec<usize> = (0..header.lists()).collect();
                    let clusters = self
                        .file(*i)
                        .await?
                        .vector_clusters(query.column, &all)
                        .await?;
                    let (h, a, v, o) = (
                        Arc::clone(header),
                        allowed.clone(),
                        query.vector.to_vec(),
                        options.clone(),
                    );
                    *found = pools::read(move || {
                        Ok(h.search_clusters(&v, &o, a.as_deref(), clusters.as_slice(), None)?)
                    })
                    .await?;
                }
            }
            let per_file: Vec<_> = per_file
                .into_iter()
                .map(|(i, header, _, _, found)| (i, header.metric(), found))
                .collect();
            for (i, metric, neighbours) in per_file {
                let rows: Vec<u32> = neighbours.iter().map(|&(row, _)| row).collect();
                let ids = self.row_ids(i, &rows).await?;
                hits.extend(
                    neighbours
                        .into_iter()
                        .zip(ids)
                        .map(|((row, distance), id)| {
                            let hit = Hit {
                                id,
                                score: similarity(metric, distance),
                                file: i,
                                row,
                            };
                            (hit, distance)
                        }),
                );
            }
            hits.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.id.cmp(&b.0.id)));
            hits.truncate(query.k);
        }
        let mut hits: Vec<Hit> = hits.into_iter().map(|(h, _)| h).collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
        hits.truncate(query.k);
        Ok(hits)
    }

    /// [`Table::vector_search_hits`] as a record batch: `_id`, `_score`,
    /// then `columns` of the hit rows.
    ///
    /// # Errors
    /// As [`Table::vector_search_hits`], plus an unknown projected column.
    pub async fn vector_search(
        &self,
        query: &VectorQuery<'_>,
        columns: &[&str],
    ) -> Result<RecordBatch> {
        let hits = self.vector_search_hits(query).await?;
        self.resolve(&hits, columns).await
    }
}
