//! Nearest-neighbour search across a table version's superfiles.
//!
//! Each file answers from its own vector region (IVF probe, RaBitQ first
//! pass, rerank), optionally restricted to the rows a full-text query
//! matches or to an id allow set (such as [`Table::ids_matching`] gives for
//! a SQL predicate) — the allow-set path: `min(k, allowed)` rows, not a
//! thinned global top k; the per-file answers merge by similarity.

use arrow::array::RecordBatch;
use bytes::Bytes;
use futures::future::try_join_all;
use infino_fts::Query;
use infino_superfile::LazySuperfile;
use infino_vector::{IndexHeader, Metric, Neighbor, Rerank, SearchOptions};

use std::collections::BTreeMap;
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
    /// Rerank the shortlist with the exact vectors of the Parquet column
    /// instead of the index's payload (always so for an index built
    /// without one, `Rerank::None`): each shortlisted row's `4·D` bytes
    /// are read from its page, once, and kept.
    pub rerank_from_column: bool,
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
            rerank_from_column: false,
            filter: None,
            ids: None,
        }
    }
}

/// One file's part of a vector search, ready to run on the reader pool.
struct VectorJob {
    file: usize,
    header: Arc<infino_vector::IndexHeader>,
    allowed: Option<Arc<RoaringBitmap>>,
    /// The planned clusters' whole blocks (empty when `found` is set).
    clusters: Vec<(usize, bytes::Bytes)>,
    /// Clusters the search planned.
    planned: usize,
    /// Results already found by a two-phase read.
    found: Option<Vec<infino_vector::Neighbor>>,
}

/// Whether `query` reranks from the stored column in a file whose index is
/// `header`.
fn from_column(query: &VectorQuery<'_>, header: &IndexHeader) -> bool {
    query.rerank_from_column || header.rerank() == Rerank::None
}

/// A probing search of one file reranked from its stored vectors: the
/// shortlist from the cluster `heads`, then the shortlisted rows' vectors
/// read (or found kept) in one concurrent batch.
async fn rerank_from_column(
    file: &Arc<LazySuperfile>,
    query: &VectorQuery<'_>,
    options: &SearchOptions,
    header: &Arc<IndexHeader>,
    allowed: Option<Arc<RoaringBitmap>>,
    heads: Vec<(usize, Bytes)>,
) -> Result<Vec<Neighbor>> {
    let (h, v, o) = (Arc::clone(header), query.vector.to_vec(), options.clone());
    let (f, column) = (Arc::clone(file), query.column.to_owned());
    // A warm file keeps the shortlisted rows: rerank in the same pool task.
    let shortlisted = pools::read(move || {
        let mut list = h.shortlist(&v, &o, allowed.as_deref(), heads.as_slice())?;
        let rows = list.rows();
        Ok(
            match f.with_kept_column_vectors(&column, &rows, |kept| list.rerank_exact(kept)) {
                Some(found) => Err(found?),
                None => Ok(list),
            },
        )
    })
    .await?;
    let mut shortlist = match shortlisted {
        Ok(list) => list,
        Err(found) => return Ok(found),
    };
    let vectors = file
        .column_vectors(query.column, header.dim(), &shortlist.rows())
        .await?;
    pools::read(move || Ok(shortlist.rerank_exact(&vectors)?)).await
}

/// A scanning search of one file (exact, or brute force over a small allow
/// set) scored with the stored vectors of every row it may return.
async fn scan_from_column(
    file: &LazySuperfile,
    query: &VectorQuery<'_>,
    options: &SearchOptions,
    header: &Arc<IndexHeader>,
    allowed: Option<Arc<RoaringBitmap>>,
    planned: &[usize],
) -> Result<Vec<Neighbor>> {
    let rows: Vec<u32> = match &allowed {
        Some(a) => a.iter().collect(),
        None => (0..u32::try_from(file.rows()).unwrap_or(u32::MAX)).collect(),
    };
    let (clusters, vectors) = futures::try_join!(
        file.vector_clusters(query.column, planned),
        file.column_vectors(query.column, header.dim(), &rows),
    )?;
    let (h, v, o) = (Arc::clone(header), query.vector.to_vec(), options.clone());
    pools::read(move || {
        Ok(h.search_clusters(
            &v,
            &o,
            allowed.as_deref(),
            clusters.as_slice(),
            Some(&vectors),
        )?)
    })
    .await
}

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
        let metric = self
            .inner
            .spec
            .vector
            .iter()
            .find(|v| v.column == query.column)
            .map(|v| v.metric);
        // Pruned by the manifest alone, then every surviving file searched
        // at once: a cold search costs the same few round trips (index
        // header, probed clusters, rows) however many files it reads.
        let unfiltered = filter.is_none() && by_id.is_none();
        let mut candidates = self.vector_candidates(query, metric, unfiltered);
        // An id allow set names its files: no other file is opened.
        if let Some(by_id) = &by_id {
            candidates.retain(|i| by_id.contains_key(i));
        }
        let filter = filter.as_ref();
        let by_id = by_id.as_ref();
        let jobs = try_join_all(
            candidates
                .iter()
                .map(|&i| self.vector_job(i, query, &options, filter, by_id)),
        )
        .await?;
        let jobs: Vec<VectorJob> = jobs.into_iter().flatten().collect();
        let vector = query.vector.to_vec();
        let search_options = options.clone();
        let all_found = jobs.iter().all(|job| job.found.is_some());
        let mut per_file = if all_found {
            // Nothing left to search (two-phase or column reranks): no
            // pool task to wait for.
            jobs.into_iter()
                .map(|job| {
                    let found = job.found.unwrap_or_default();
                    (job.file, job.header, job.allowed, job.planned, found)
                })
                .collect()
        } else {
            pools::read(move || {
                use rayon::prelude::*;
                jobs.into_par_iter()
                    .map(|job| {
                        let found = match job.found {
                            Some(found) => found,
                            None => job.header.search_clusters(
                                &vector,
                                &search_options,
                                job.allowed.as_deref(),
                                job.clusters.as_slice(),
                                None,
                            )?,
                        };
                        Ok((job.file, job.header, job.allowed, job.planned, found))
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .await?
        };
        // A filtered search whose planned clusters held too few allowed
        // rows would widen into clusters not read: read them all then.
        for (i, header, allowed, read, found) in &mut per_file {
            let available = allowed.as_ref().map_or(header.len() as u64, |a| a.len());
            let wanted = (query.k as u64).min(available);
            if (found.len() as u64) < wanted && *read < header.lists() {
                let all: Vec<usize> = (0..header.lists()).collect();
                let file = self.file(*i).await?;
                if from_column(query, header) {
                    let heads = file.vector_heads(query.column, &all).await?;
                    *found =
                        rerank_from_column(&file, query, &options, header, allowed.clone(), heads)
                            .await?;
                    continue;
                }
                let clusters = file.vector_clusters(query.column, &all).await?;
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
        let mut hits: Vec<(Hit, f32)> = Vec::new();
        for (i, header, _, _, neighbours) in per_file {
            let metric = header.metric();
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
        let mut hits: Vec<Hit> = hits.into_iter().map(|(h, _)| h).collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
        hits.truncate(query.k);
        Ok(hits)
    }

    /// The files a vector query must read. The k nearest rows lie no
    /// farther than the far edge (centroid distance plus radius) of the
    /// nearest files that together hold k live rows; a file whose near edge
    /// is beyond that is skipped. With a row filter the rows that count are
    /// unknown, so only files without a bound are kept... all of them.
    fn vector_candidates(
        &self,
        query: &VectorQuery<'_>,
        metric: Option<Metric>,
        unfiltered: bool,
    ) -> Vec<usize> {
        let files = &self.inner.manifest.files;
        let nullable = self
            .inner
            .schema
            .field_with_name(query.column)
            .map_or(true, |f| f.is_nullable());
        let near: Vec<Option<f32>> = files
            .iter()
            .map(|f| {
                f.vectors
                    .get(query.column)?
                    .min_distance(metric?, query.vector)
            })
            .collect();
        let mut far: Vec<(f32, u64)> = files
            .iter()
            .filter(|_| unfiltered && !nullable)
            .filter_map(|f| {
                let edge = f
                    .vectors
                    .get(query.column)?
                    .max_distance(metric?, query.vector)?;
                let deleted = f.deletes.as_ref().map_or(0, |d| d.count);
                Some((edge, f.rows.saturating_sub(deleted)))
            })
            .collect();
        far.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut held = 0;
        let mut kth = None;
        for (edge, rows) in far {
            held += rows;
            if held >= query.k as u64 && query.k > 0 {
                kth = Some(edge);
                break;
            }
        }
        (0..files.len())
            .filter(|&i| match (near[i], kth) {
                (Some(near), Some(kth)) => near <= kth,
                _ => true,
            })
            .collect()
    }

    /// File `i`'s share of a vector query: its index header and the rows it
    /// may return read together, then the clusters the search will probe.
    /// `None` when no row of the file may be returned.
    async fn vector_job(
        &self,
        i: usize,
        query: &VectorQuery<'_>,
        options: &SearchOptions,
        filter: Option<&(&str, Query)>,
        by_id: Option<&BTreeMap<usize, RoaringBitmap>>,
    ) -> Result<Option<VectorJob>> {
        let file = self.file(i).await?;
        let allowed = async {
            let live = self.live_rows(i).await?;
            // The snapshot's shared live set when nothing else filters: no
            // per-query copy.
            let mut allowed: Option<Arc<RoaringBitmap>> = match filter {
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
            if let Some(by_id) = by_id {
                let rows = by_id.get(&i).cloned().unwrap_or_default();
                allowed = Some(Arc::new(match allowed {
                    Some(a) => a.as_ref() & rows,
                    None => rows,
                }));
            }
            Ok::<_, TableError>(allowed)
        };
        let (header, allowed) = futures::join!(file.vector_header(query.column), allowed);
        let (header, allowed) = (header?, allowed?);
        if allowed.as_ref().is_some_and(|a| a.is_empty()) {
            return Ok(None);
        }
        // Only the clusters the search will probe are read: whole, or,
        // when that saves enough payload to pay for a round trip, their
        // heads first and then the shortlisted payload entries (or the
        // shortlisted rows' stored vectors).
        let planned = header.plan(query.vector, options, allowed.as_deref())?;
        let probes = header.probes(options, allowed.as_deref());
        let found = if from_column(query, &header) {
            Some(if probes {
                let heads = file.vector_heads(query.column, &planned).await?;
                rerank_from_column(&file, query, options, &header, allowed.clone(), heads).await?
            } else {
                scan_from_column(&file, query, options, &header, allowed.clone(), &planned).await?
            })
        } else if probes && file.vector_two_phase_pays(query.column, &header, &planned) {
            let heads = file.vector_heads(query.column, &planned).await?;
            let (h, a, v, o) = (
                Arc::clone(&header),
                allowed.clone(),
                query.vector.to_vec(),
                options.clone(),
            );
            let shortlist =
                pools::read(move || Ok(h.shortlist(&v, &o, a.as_deref(), heads.as_slice())?))
                    .await?;
            let payloads = file
                .vector_payloads(query.column, &shortlist.payload_ranges())
                .await?;
            Some(pools::read(move || Ok(shortlist.rerank(&payloads)?)).await?)
        } else {
            None
        };
        // Searches answered above read no whole clusters.
        let clusters = match found {
            Some(_) => Vec::new(),
            None => file.vector_clusters(query.column, &planned).await?,
        };
        Ok(Some(VectorJob {
            file: i,
            header,
            allowed,
            clusters,
            planned: planned.len(),
            found,
        }))
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
