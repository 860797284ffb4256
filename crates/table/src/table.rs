//! [`Table`]: one pinned version of a table, for reading and for appending.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array, RecordBatch, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use futures::future::try_join_all;
use infino_fts::FtsIndex;
use infino_fts::{Analyzer, Bm25Params, CollectionStats, Query, QueryNode, RegionLayout, Section};
use infino_store::{Path, Store};
use infino_superfile::{
    IndexSpec, LazySuperfile, OpenOptions, RegionKind, Superfile, SuperfileWriter, WriterOptions,
};
use tokio::sync::OnceCell;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::bloom::TermBloom;
use crate::error::{Result, TableError};
use crate::live::FileState;
use crate::manifest::{FileEntry, FtsSummary, Manifest};
use crate::{ids, versions};

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

    /// Append `batches` in one commit: write the superfiles (in parallel, at
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
        // Check every batch before any byte is written or any id reserved.
        let probe =
            SuperfileWriter::new(self.schema(), &self.inner.spec, &WriterOptions::default())?;
        for batch in batches {
            probe.check_batch(batch)?;
        }
        let first = ids::reserve(&self.inner.store, self.name(), total as u64).await?;
        let mut tasks = Vec::new();
        for (offset, shard) in shards(batches, TARGET_ROWS_PER_FILE) {
            let (schema, spec) = (self.schema(), self.inner.spec.clone());
            let first_id = first + offset as u64;
            tasks.push(tokio::task::spawn_blocking(move || {
                build_file(&schema, &spec, first_id, &shard)
            }));
        }
        let mut entries = Vec::with_capacity(tasks.len());
        for task in tasks {
            let (bytes, mut entry) = task.await.map_err(|e| TableError::Schema {
                column: String::new(),
                reason: e.to_string(),
            })??;
            entry.path = format!("{}/data/{}.sf.parquet", self.name(), uuid::Uuid::new_v4());
            self.inner
                .store
                .put(&Path::from(entry.path.as_str()), bytes)
                .await?;
            entries.push(entry);
        }
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
                .map(Arc::new)
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
        let parsed = Query::parse(query)?;
        let (opened, pruned) = self.candidates(column, &parsed).await?;
        let mut all_terms = BTreeSet::new();
        for (_, index) in &opened {
            all_terms.extend(parsed.scoring_terms(index)?.into_iter().map(|(t, _)| t));
        }
        // Skipped files hold none of the terms: they add documents and
        // tokens to the statistics, and nothing to any term's frequency.
        let mut stats = CollectionStats::default();
        for (_, index) in &opened {
            stats.merge(&index.local_stats(all_terms.iter().map(String::as_str))?);
        }
        for &i in &pruned {
            if let Some(summary) = self.inner.manifest.files[i].fts.get(column) {
                stats.doc_count += summary.doc_count;
                stats.total_tokens += summary.total_tokens;
            }
        }
        let mut hits = Vec::new();
        for (i, index) in &opened {
            let first_id = self.inner.manifest.files[*i].first_id;
            for (row, score) in parsed.top_k(index, k, params, &stats, None)? {
                hits.push(Hit {
                    id: first_id + u64::from(row),
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
        let hits = self.search_hits(column, query, k).await?;
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
        for (_, index) in &opened {
            total += parsed.count(index)?;
        }
        Ok(total)
    }

    /// The files `parsed` may match on `column`, opened with their
    /// full-text indexes, and the indexes of the files skipped because
    /// their term bloom filters rule out every positive query term.
    async fn candidates(
        &self,
        column: &str,
        parsed: &Query,
    ) -> Result<(Vec<(usize, Arc<FtsIndex>)>, Vec<usize>)> {
        let spec = self
            .inner
            .spec
            .fts
            .iter()
            .find(|c| c.column == column)
            .ok_or_else(|| TableError::Schema {
                column: column.to_owned(),
                reason: "has no full-text index".into(),
            })?;
        let analyzer = Analyzer::new(spec.config.analyzer.clone())?;
        let mut tokens = Vec::new();
        let prunable = positive_tokens(parsed.root(), &analyzer, &mut tokens) && !tokens.is_empty();
        let (mut keep, mut pruned) = (Vec::new(), Vec::new());
        for (i, entry) in self.inner.manifest.files.iter().enumerate() {
            let bloom = entry
                .term_blooms
                .get(column)
                .and_then(|b| TermBloom::decode(b));
            match bloom {
                Some(bloom)
                    if prunable && !tokens.iter().any(|t| bloom.may_contain(t.as_bytes())) =>
                {
                    pruned.push(i)
                }
                _ => keep.push(i),
            }
        }
        let files = try_join_all(keep.iter().map(|&i| self.file(i))).await?;
        let indexes = try_join_all(files.iter().map(|f| f.fts(column))).await?;
        Ok((keep.into_iter().zip(indexes).collect(), pruned))
    }

    /// Build the output batch for `hits`, fetching `columns` file by file.
    pub(crate) async fn resolve(&self, hits: &[Hit], columns: &[&str]) -> Result<RecordBatch> {
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
            let mut fetched: Vec<Option<(Vec<u32>, RecordBatch)>> =
                Vec::with_capacity(by_file.len());
            for (i, rows) in by_file.into_iter().enumerate() {
                if rows.is_empty() {
                    fetched.push(None);
                    continue;
                }
                let file = self.file(i).await?;
                let batch = file.fetch_rows(&rows, Some(columns)).await?;
                let mut sorted = rows;
                sorted.sort_unstable();
                sorted.dedup();
                fetched.push(Some((sorted, batch)));
            }
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

/// Split `batches` into shards of about `target` rows: (row offset, batches).
fn shards(batches: &[RecordBatch], target: usize) -> Vec<(usize, Vec<RecordBatch>)> {
    let mut out = Vec::new();
    let (mut current, mut rows, mut offset) = (Vec::new(), 0usize, 0usize);
    for batch in batches {
        let mut start = 0;
        while start < batch.num_rows() {
            let take = (target - rows).min(batch.num_rows() - start);
            current.push(batch.slice(start, take));
            rows += take;
            start += take;
            if rows == target {
                out.push((offset, std::mem::take(&mut current)));
                offset += rows;
                rows = 0;
            }
        }
    }
    if rows > 0 {
        out.push((offset, current));
    }
    out
}

/// Write one superfile and summarize it for the manifest.
fn build_file(
    schema: &SchemaRef,
    spec: &IndexSpec,
    first_id: u64,
    batches: &[RecordBatch],
) -> Result<(bytes::Bytes, FileEntry)> {
    let options = WriterOptions {
        first_id,
        ..WriterOptions::default()
    };
    let mut writer = SuperfileWriter::new(Arc::clone(schema), spec, &options)?;
    for batch in batches {
        writer.write(batch)?;
    }
    let bytes = writer.finish()?;
    let file = Superfile::open(
        bytes.clone(),
        OpenOptions {
            verify_checksums: false,
        },
    )?;
    let mut fts = std::collections::BTreeMap::new();
    let mut term_blooms = std::collections::BTreeMap::new();
    for col in &spec.fts {
        let index = file.fts(&col.column)?;
        let summary = FtsSummary {
            doc_count: u64::from(index.doc_count()),
            total_tokens: index.total_tokens(),
        };
        fts.insert(col.column.clone(), summary);
        let region = file
            .directory()
            .region(RegionKind::Fts, &col.column)
            .ok_or_else(|| TableError::Schema {
                column: col.column.clone(),
                reason: "the written superfile lacks its full-text region".into(),
            })?;
        let start = usize::try_from(region.offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(usize::try_from(region.length).unwrap_or(0));
        let bloom = term_bloom(&bytes.slice(start..end))?;
        term_blooms.insert(col.column.clone(), bloom.encode());
    }
    let entry = FileEntry {
        path: String::new(),
        rows: file.rows(),
        first_id,
        size: bytes.len() as u64,
        fts,
        term_blooms,
        footer: footer_tail(&bytes).map(|tail| STANDARD.encode(tail)),
        max_id: None,
        deletes: None,
    };
    Ok((bytes, entry))
}

/// A bloom filter of every term in a full-text region's dictionary.
fn term_bloom(region: &bytes::Bytes) -> Result<TermBloom> {
    use fst::Streamer;
    let layout = RegionLayout::parse(region, region.len() as u64)?;
    let corrupt = |reason: &str| TableError::Schema {
        column: String::new(),
        reason: reason.to_owned(),
    };
    let range = layout
        .sections
        .iter()
        .find(|(section, _)| *section == Section::Dictionary)
        .map(|(_, r)| r.clone())
        .ok_or_else(|| corrupt("full-text region without a dictionary"))?;
    let dictionary = region
        .slice(usize::try_from(range.start).unwrap_or(0)..usize::try_from(range.end).unwrap_or(0));
    let map = fst::Map::new(dictionary).map_err(|e| corrupt(&e.to_string()))?;
    let mut bloom = TermBloom::with_capacity(u64::from(layout.term_count));
    let mut stream = map.stream();
    while let Some((term, _)) = stream.next() {
        bloom.insert(term);
    }
    Ok(bloom)
}

/// Collect the analyzed tokens of every positive clause of `node` (terms and
/// phrases outside `must_not`). Returns false when a file holding none of
/// them could still match or still contribute statistics: prefix and fuzzy
/// clauses, or a boolean with neither required nor optional clauses (which
/// matches every document).
fn positive_tokens(node: &QueryNode, analyzer: &Analyzer, out: &mut Vec<String>) -> bool {
    match node {
        QueryNode::Term { text, .. } | QueryNode::Phrase { text, .. } => {
            // A clause that analyzes to nothing is ignored by matching, which
            // can change what the rest means: do not prune on it.
            let terms = analyzer.terms(text);
            let any = !terms.is_empty();
            out.extend(terms);
            any
        }
        QueryNode::Bool { must, should, .. } => {
            if must.is_empty() && should.is_empty() {
                return false;
            }
            must.iter()
                .chain(should)
                .all(|c| positive_tokens(c, analyzer, out))
        }
        _ => false,
    }
}

/// Footers up to this size are kept in the manifest.
const MAX_KEPT_FOOTER: usize = 16 * 1024;

/// The footer and trailer of a superfile, if small enough to keep.
fn footer_tail(file: &[u8]) -> Option<&[u8]> {
    let len = file.len();
    let trailer: [u8; 4] = file.get(len.checked_sub(8)?..len - 4)?.try_into().ok()?;
    let tail = usize::try_from(u32::from_le_bytes(trailer)).ok()? + 8;
    (tail <= MAX_KEPT_FOOTER)
        .then(|| file.get(len.checked_sub(tail)?..))
        .flatten()
}
