//! [`Table`]: one pinned version of a table, for reading and for appending.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array, RecordBatch, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use futures::future::try_join_all;
use infino_fts::FtsIndex;
use infino_fts::{Bm25Params, CollectionStats, Query};
use infino_store::{Path, Store};
use infino_superfile::{IndexSpec, LazySuperfile, OpenOptions, SuperfileWriter, WriterOptions};
use tokio::sync::OnceCell;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::build::{FileIds, build_file, shard_rows, shards};
use crate::error::{Result, TableError};
use crate::live::FileState;
use crate::manifest::{FileEntry, Manifest};
use crate::{ids, pools, versions};

/// Rows per superfile an append aims for; larger appends are split.
pub const TARGET_ROWS_PER_FILE: usize = 256 * 1024;

/// A table pinned at one version. Cheap to clone. Reads see exactly this
/// version, whatever commits land meanwhile; [`Table::append`] commits on
/// top of the latest version and returns a handle pinned at the new one.
#[derive(Debug, Clone)]
pub struct Table {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) manifest: Manifest,
    pub(crate) schema: SchemaRef,
    pub(crate) spec: IndexSpec,
    files: Vec<OnceCell<Arc<LazySuperfile>>>,
    pub(crate) state: Vec<FileState>,
}

/// One search hit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// The row's `_id`.
    pub id: u64,
    /// Higher is better: BM25 with table-wide statistics, a vector
    /// similarity, or a fused hybrid score.
    pub score: f32,
    pub(crate) file: usize,
    pub(crate) row: u32,
}

impl Hit {
    /// Index of the file (in this version's manifest) holding the row.
    pub fn file(&self) -> usize {
        self.file
    }

    /// The row's ordinal within its file.
    pub fn row(&self) -> u32 {
        self.row
    }
}

impl Table {
    pub(crate) fn from_manifest(store: Store, manifest: Manifest) -> Result<Self> {
        let schema = manifest.arrow_schema()?;
        let spec = manifest.index_spec()?;
        let files = manifest.files.iter().map(|_| OnceCell::new()).collect();
        let state = manifest
            .files
            .iter()
            .map(|_| FileState::default())
            .collect();
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                manifest,
                schema,
                spec,
                files,
                state,
            }),
        })
    }

    /// Table name.
    pub fn name(&self) -> &str {
        &self.inner.manifest.table
    }

    /// The pinned version.
    pub fn version(&self) -> u64 {
        self.inner.manifest.version
    }

    /// The table schema (without `_id`).
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.inner.schema)
    }

    /// The manifest of the pinned version.
    pub fn manifest(&self) -> &Manifest {
        &self.inner.manifest
    }

    /// Rows at this version.
    pub fn num_rows(&self) -> u64 {
        self.inner.manifest.rows()
    }

    /// The same table at its latest version.
    ///
    /// # Errors
    /// Storage errors, or a corrupt manifest.
    pub async fn checkout_latest(&self) -> Result<Table> {
        let latest = versions::latest_version(&self.inner.store, self.name()).await?;
        let manifest = versions::read_version(&self.inner.store, self.name(), latest).await?;
        Table::from_manifest(self.inner.store.clone(), manifest)
    }

    /// Append `batches` in one commit: write the superfiles (in parallel, in
    /// the fewest equal shards within the table's targets — by default at
    /// most [`TARGET_ROWS_PER_FILE`] rows each), then commit. Returns the
    /// table at the version that commit created.
    ///
    /// # Errors
    /// [`TableError::Superfile`] naming the column for a batch that does not
    /// fit the schema (nothing is committed), storage errors, or
    /// [`TableError::CommitConflict`] after repeated lost races.
    pub async fn append(&self, batches: &[RecordBatch]) -> Result<Table> {
        let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
        if total == 0 {
            return Ok(self.clone());
        }
        let entries = self.write_rows(batches).await?;
        self.commit_appended(entries).await
    }

    /// Append every batch of `batches` (a stream, e.g. read from files or
    /// the network) in one commit. Memory stays bounded: rows are gathered
    /// up to the table's row (and byte) target, written, and dropped
    /// before more are read; the commit publishes all files at the end.
    ///
    /// # Errors
    /// As [`Table::append`], plus the stream's own errors (nothing is
    /// committed; files already written are left for garbage collection).
    pub async fn append_stream<S, E>(&self, batches: S) -> Result<Table>
    where
        S: futures::Stream<Item = std::result::Result<RecordBatch, E>>,
        E: Into<TableError>,
    {
        use futures::StreamExt;
        let mut batches = std::pin::pin!(batches);
        let mut pending: Vec<RecordBatch> = Vec::new();
        let (target_rows, target_bytes) = self.shard_targets();
        let (mut rows, mut bytes) = (0u64, 0u64);
        let mut entries = Vec::new();
        while let Some(batch) = batches.next().await {
            let batch = batch.map_err(Into::into)?;
            rows += batch.num_rows() as u64;
            bytes += batch.get_array_memory_size() as u64;
            pending.push(batch);
            if rows >= target_rows || target_bytes.is_some_and(|t| bytes >= t) {
                entries.extend(self.write_rows(&std::mem::take(&mut pending)).await?);
                (rows, bytes) = (0, 0);
            }
        }
        if rows > 0 {
            entries.extend(self.write_rows(&pending).await?);
        }
        if entries.is_empty() {
            return Ok(self.clone());
        }
        self.commit_appended(entries).await
    }

    /// Rows and bytes per superfile this table's appends aim at.
    fn shard_targets(&self) -> (u64, Option<u64>) {
        let manifest = &self.inner.manifest;
        (
            manifest.target_rows.unwrap_or(TARGET_ROWS_PER_FILE as u64),
            manifest.target_bytes,
        )
    }

    /// Commit written superfiles as an append on top of the latest version.
    async fn commit_appended(&self, entries: Vec<FileEntry>) -> Result<Table> {
        let committed = versions::commit(
            &self.inner.store,
            &self.inner.manifest,
            "append",
            |current| {
                let mut next = current.clone();
                next.files.extend(entries.iter().cloned());
                Ok(next)
            },
        )
        .await?;
        Table::from_manifest(self.inner.store.clone(), committed)
    }

    /// Check `batches` against the schema, reserve their ids and write them
    /// as new superfiles (in parallel, in equal shards within the table's targets).
    /// Nothing is committed: the entries are for a commit to publish.
    pub(crate) async fn write_rows(&self, batches: &[RecordBatch]) -> Result<Vec<FileEntry>> {
        let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
        if total == 0 {
            return Ok(Vec::new());
        }
        // Check every batch before any byte is written or any id reserved.
        let probe =
            SuperfileWriter::new(self.schema(), &self.inner.spec, &WriterOptions::default())?;
        for batch in batches {
            probe.check_batch(batch)?;
        }
        let first = ids::reserve(&self.inner.store, self.name(), total as u64).await?;
        let mut tasks = Vec::new();
        let (target_rows, target_bytes) = self.shard_targets();
        let per_shard = shard_rows(batches, target_rows, target_bytes);
        for (offset, shard) in shards(batches, per_shard) {
            let (schema, spec) = (self.schema(), self.inner.spec.clone());
            let first_id = first + offset as u64;
            tasks.push(async move {
                let (bytes, entry) = pools::write(move || {
                    build_file(&schema, &spec, FileIds::From(first_id), &shard)
                })
                .await?;
                self.upload(bytes, entry).await
            });
        }
        try_join_all(tasks).await
    }

    /// Store a built superfile under a fresh name.
    pub(crate) async fn upload(
        &self,
        bytes: bytes::Bytes,
        mut entry: FileEntry,
    ) -> Result<FileEntry> {
        entry.path = format!("{}/data/{}.sf.parquet", self.name(), uuid::Uuid::new_v4());
        self.inner
            .store
            .put(&Path::from(entry.path.as_str()), bytes)
            .await?;
        Ok(entry)
    }

    /// File `i`, opened lazily (footer on first use).
    pub(crate) async fn file(&self, i: usize) -> Result<Arc<LazySuperfile>> {
        let entry = &self.inner.manifest.files[i];
        let file = self.inner.files[i]
            .get_or_try_init(|| async {
                let path = Path::from(entry.path.as_str());
                let store = &self.inner.store;
                let kept = entry
                    .footer
                    .as_deref()
                    .and_then(|f| STANDARD.decode(f).ok());
                match kept {
                    Some(tail) => LazySuperfile::from_footer(
                        store,
                        &path,
                        entry.size,
                        tail.into(),
                        OpenOptions::default(),
                    ),
                    None => LazySuperfile::open(store, &path, OpenOptions::default()).await,
                }
                .map(|file| {
                    let mut hints = entry.fts_lookup.clone();
                    hints.extend(entry.vector_lookup.clone());
                    Arc::new(file.with_lookup_hints(hints))
                })
            })
            .await?;
        Ok(Arc::clone(file))
    }

    /// The `k` best rows for `query` (the query language of `infino-fts`)
    /// on `column`, scored with statistics of the whole table version, so
    /// the answer does not depend on how rows are split into files. Ties go
    /// to the lower `_id`.
    ///
    /// # Errors
    /// A query syntax error, an unindexed column, or storage errors.
    pub async fn search_hits(&self, column: &str, query: &str, k: usize) -> Result<Vec<Hit>> {
        self.search_hits_with(column, query, k, Bm25Params::default())
            .await
    }

    /// [`Table::search_hits`] with explicit BM25 parameters.
    ///
    /// # Errors
    /// As [`Table::search_hits`], plus out-of-range parameters.
    pub async fn search_hits_with(
        &self,
        column: &str,
        query: &str,
        k: usize,
        params: Bm25Params,
    ) -> Result<Vec<Hit>> {
        self.search_hits_among(column, query, k, params, None).await
    }

    /// [`Table::search_hits_with`] over only the rows whose `_id` is in
    /// `ids` (when given; ids not in the table are ignored), such as
    /// [`Table::ids_matching`] gives for a SQL predicate: the best `k` of
    /// those rows, never a thinned global top `k`. Scores are the
    /// unfiltered search's (statistics of the whole table version), so the
    /// answer is the unfiltered ranking with the other rows left out.
    ///
    /// # Errors
    /// As [`Table::search_hits_with`].
    pub async fn search_hits_among(
        &self,
        column: &str,
        query: &str,
        k: usize,
        params: Bm25Params,
        ids: Option<&[u64]>,
    ) -> Result<Vec<Hit>> {
        let parsed = Query::parse(query)?;
        let by_id = match ids {
            None => None,
            Some(ids) => Some(self.rows_of_ids(ids).await?),
        };
        let (opened, pruned) = self.candidates(column, &parsed).await?;
        let mut all_terms = BTreeSet::new();
        for (_, index) in &opened {
            all_terms.extend(parsed.scoring_terms(index)?.into_iter().map(|(t, _)| t));
        }
        // Skipped files hold none of the terms: they add documents and
        // tokens to the statistics, and nothing to any term's frequency.
        // Per-file reads (deletion vectors) go out together.
        let mut stats = CollectionStats::default();
        let per_file = try_join_all(opened.iter().map(|(i, index)| {
            self.live_stats(*i, column, index, all_terms.iter().map(String::as_str))
        }))
        .await?;
        for file_stats in &per_file {
            stats.merge(file_stats);
        }
        for &i in &pruned {
            if let Some(summary) = self.inner.manifest.files[i].live_fts(column) {
                stats.doc_count += summary.doc_count;
                stats.total_tokens += summary.total_tokens;
            }
        }
        let lives = try_join_all(opened.iter().map(|(i, _)| self.live_rows(*i))).await?;
        let jobs: Vec<_> = opened
            .iter()
            .zip(lives)
            .filter_map(|((i, index), live)| {
                // An id allow set narrows the live rows, and leaves out
                // files it names no row of.
                let allowed = match &by_id {
                    None => live,
                    Some(by_id) => {
                        let rows = by_id.get(i)?;
                        Some(Arc::new(match live {
                            Some(live) => live.as_ref() & rows,
                            None => rows.clone(),
                        }))
                    }
                };
                Some((*i, Arc::clone(index), allowed))
            })
            .collect();
        // Each file's top k on the reader pool, files in parallel.
        let per_file = pools::read(move || {
            use rayon::prelude::*;
            jobs.par_iter()
                .map(|(i, index, live)| {
                    let found = parsed.top_k(index, k, params, &stats, live.as_deref())?;
                    Ok((*i, found))
                })
                .collect::<Result<Vec<_>>>()
        })
        .await?;
        let ids = try_join_all(per_file.iter().map(|(i, found)| {
            let rows: Vec<u32> = found.iter().map(|&(row, _)| row).collect();
            async move { self.row_ids(*i, &rows).await }
        }))
        .await?;
        let mut hits = Vec::new();
        for ((i, found), ids) in per_file.into_iter().zip(ids) {
            let i = &i;
            for ((row, score), id) in found.into_iter().zip(ids) {
                hits.push(Hit {
                    id,
                    score,
                    file: *i,
                    row,
                });
            }
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
        hits.truncate(k);
        Ok(hits)
    }

    /// [`Table::search_hits`] as a record batch: `_id`, `_score`, then
    /// `columns` of the hit rows (only those rows are decoded).
    ///
    /// # Errors
    /// As [`Table::search_hits`], plus an unknown projected column.
    pub async fn search(
        &self,
        column: &str,
        query: &str,
        k: usize,
        columns: &[&str],
    ) -> Result<RecordBatch> {
        self.search_among(column, query, k, None, columns).await
    }

    /// [`Table::search_hits_among`] (default BM25 parameters) as a record
    /// batch, as [`Table::search`].
    ///
    /// # Errors
    /// As [`Table::search`].
    pub async fn search_among(
        &self,
        column: &str,
        query: &str,
        k: usize,
        ids: Option<&[u64]>,
        columns: &[&str],
    ) -> Result<RecordBatch> {
        let hits = self
            .search_hits_among(column, query, k, Bm25Params::default(), ids)
            .await?;
        self.resolve(&hits, columns).await
    }

    /// Rows matching `query` on `column`.
    ///
    /// # Errors
    /// As [`Table::search_hits`].
    pub async fn count(&self, column: &str, query: &str) -> Result<u64> {
        let parsed = Query::parse(query)?;
        let (opened, _) = self.candidates(column, &parsed).await?;
        let mut total = 0;
        for (i, index) in &opened {
            let mut matching = parsed.matching_docs(index)?;
            if let Some(deleted) = self.deleted_rows(*i).await? {
                matching -= deleted.as_ref();
            }
            total += matching.len();
        }
        Ok(total)
    }

    /// File `i`'s BM25 statistics for `terms` over its live rows only: the
    /// deleted rows' documents and tokens (kept in the manifest) and their
    /// postings are taken out, so deletions change scores exactly as if the
    /// rows had never been written.
    pub(crate) async fn live_stats<'t>(
        &self,
        i: usize,
        column: &str,
        index: &FtsIndex,
        terms: impl Iterator<Item = &'t str>,
    ) -> Result<CollectionStats> {
        let terms: Vec<&str> = terms.collect();
        let mut stats = index.local_stats(terms.iter().copied())?;
        let Some(deleted) = self.deleted_rows(i).await? else {
            return Ok(stats);
        };
        if let Some(gone) = self.inner.manifest.files[i]
            .deletes
            .as_ref()
            .and_then(|d| d.fts.get(column))
        {
            stats.doc_count = stats.doc_count.saturating_sub(gone.doc_count);
            stats.total_tokens = stats.total_tokens.saturating_sub(gone.total_tokens);
        }
        let cache = &self.inner.state[i].deleted_df;
        for term in terms {
            let key = (column.to_owned(), term.to_owned());
            let known = cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(&key)
                .copied();
            let gone = match known {
                Some(gone) => gone,
                None => {
                    let gone = match index.term_info(term)? {
                        Some(info) => index.doc_set(&info)?.intersection_len(&deleted),
                        None => 0,
                    };
                    cache
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(key, gone);
                    gone
                }
            };
            if let Some(df) = stats.doc_freqs.get_mut(term) {
                *df = df.saturating_sub(gone);
            }
        }
        Ok(stats)
    }

    /// The batch for `hits` (from any of the `*_hits` searches): `_id`,
    /// `_score`, then `columns`, in hit order, fetching only the hit rows
    /// file by file.
    ///
    /// # Errors
    /// An unknown column, or a failed read.
    pub async fn resolve(&self, hits: &[Hit], columns: &[&str]) -> Result<RecordBatch> {
        let mut fields = vec![
            Field::new("_id", DataType::UInt64, false),
            Field::new("_score", DataType::Float32, false),
        ];
        let mut arrays: Vec<ArrayRef> = vec![
            Arc::new(UInt64Array::from_iter_values(hits.iter().map(|h| h.id))),
            Arc::new(Float32Array::from_iter_values(hits.iter().map(|h| h.score))),
        ];
        if !columns.is_empty() {
            for c in columns {
                let field =
                    self.inner
                        .schema
                        .field_with_name(c)
                        .map_err(|_| TableError::Schema {
                            column: (*c).to_owned(),
                            reason: "no such column".into(),
                        })?;
                fields.push(field.clone());
            }
            // Fetch per file, then gather in hit order.
            let mut by_file: Vec<Vec<u32>> = vec![Vec::new(); self.inner.manifest.files.len()];
            for h in hits {
                by_file[h.file].push(h.row);
            }
            // Files are fetched concurrently: one round trip, not one per file.
            let fetched: Vec<Option<(Vec<u32>, RecordBatch)>> =
                try_join_all(by_file.into_iter().enumerate().map(|(i, rows)| async move {
                    if rows.is_empty() {
                        return Ok::<_, TableError>(None);
                    }
                    let file = self.file(i).await?;
                    let batch = file.fetch_rows(&rows, Some(columns)).await?;
                    let mut sorted = rows;
                    sorted.sort_unstable();
                    sorted.dedup();
                    Ok(Some((sorted, batch)))
                }))
                .await?;
            let mut sources: Vec<&RecordBatch> = Vec::new();
            let mut source_of_file = vec![usize::MAX; fetched.len()];
            for (i, f) in fetched.iter().enumerate() {
                if let Some((_, batch)) = f {
                    source_of_file[i] = sources.len();
                    sources.push(batch);
                }
            }
            let picks: Vec<(usize, usize)> = hits
                .iter()
                .map(|h| {
                    let rows = fetched[h.file]
                        .as_ref()
                        .map(|(r, _)| r.as_slice())
                        .unwrap_or_default();
                    (
                        source_of_file[h.file],
                        rows.binary_search(&h.row).unwrap_or(0),
                    )
                })
                .collect();
            if sources.is_empty() {
                // No hits: empty columns of the right types.
                for field in &fields[2..] {
                    arrays.push(arrow::array::new_empty_array(field.data_type()));
                }
                return Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?);
            }
            // Parquet returns columns in file order; pick them by name.
            for name in columns {
                let mut parts: Vec<&dyn arrow::array::Array> = Vec::with_capacity(sources.len());
                for batch in &sources {
                    let column = batch
                        .column_by_name(name)
                        .ok_or_else(|| TableError::Schema {
                            column: (*name).to_owned(),
                            reason: "missing from a fetched file".into(),
                        })?;
                    parts.push(column.as_ref());
                }
                arrays.push(arrow::compute::interleave(&parts, &picks)?);
            }
        }
        Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
    }
}
