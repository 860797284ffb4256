//! [`Table`]: one pinned version of a table, for reading and for appending.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array, RecordBatch, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use futures::future::try_join_all;
use infino_fts::{Bm25Params, CollectionStats, Query};
use infino_store::{Path, Store};
use infino_superfile::{
    IndexSpec, LazySuperfile, OpenOptions, Superfile, SuperfileWriter, WriterOptions,
};
use tokio::sync::OnceCell;

use crate::error::{Result, TableError};
use crate::manifest::{FileEntry, FtsSummary, Manifest};
use crate::{ids, versions};

/// Rows per superfile an append aims for; larger appends are split.
pub const TARGET_ROWS_PER_FILE: usize = 256 * 1024;

/// A table pinned at one version. Cheap to clone. Reads see exactly this
/// version, whatever commits land meanwhile; [`Table::append`] commits on
/// top of the latest version and returns a handle pinned at the new one.
#[derive(Debug, Clone)]
pub struct Table {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    manifest: Manifest,
    schema: SchemaRef,
    spec: IndexSpec,
    files: Vec<OnceCell<Arc<LazySuperfile>>>,
}

/// One search hit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// The row's `_id`.
    pub id: u64,
    /// BM25 score with table-wide statistics.
    pub score: f32,
    file: usize,
    row: u32,
}

impl Table {
    pub(crate) fn from_manifest(store: Store, manifest: Manifest) -> Result<Self> {
        let schema = manifest.arrow_schema()?;
        let spec = manifest.index_spec()?;
        let files = manifest.files.iter().map(|_| OnceCell::new()).collect();
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                manifest,
                schema,
                spec,
                files,
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
    async fn file(&self, i: usize) -> Result<Arc<LazySuperfile>> {
        let entry = &self.inner.manifest.files[i];
        let file = self.inner.files[i]
            .get_or_try_init(|| async {
                let path = Path::from(entry.path.as_str());
                LazySuperfile::open(&self.inner.store, &path, OpenOptions::default())
                    .await
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
        self.fts_summary(column)?;
        let parsed = Query::parse(query)?;
        let n = self.inner.manifest.files.len();
        let files = try_join_all((0..n).map(|i| self.file(i))).await?;
        let indexes = try_join_all(files.iter().map(|f| f.fts(column))).await?;

        let mut per_file_terms = Vec::with_capacity(n);
        let mut all_terms = BTreeSet::new();
        for index in &indexes {
            let terms = parsed.scoring_terms(index)?;
            all_terms.extend(terms.iter().map(|(t, _)| t.clone()));
            per_file_terms.push(terms);
        }
        let mut stats = CollectionStats::default();
        for index in &indexes {
            stats.merge(&index.local_stats(all_terms.iter().map(String::as_str))?);
        }
        let mut hits = Vec::new();
        for (i, index) in indexes.iter().enumerate() {
            let first_id = self.inner.manifest.files[i].first_id;
            for (row, score) in parsed.top_k(index, k, params, &stats, None)? {
                hits.push(Hit {
                    id: first_id + u64::from(row),
                    score,
                    file: i,
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
        self.fts_summary(column)?;
        let parsed = Query::parse(query)?;
        let n = self.inner.manifest.files.len();
        let files = try_join_all((0..n).map(|i| self.file(i))).await?;
        let indexes = try_join_all(files.iter().map(|f| f.fts(column))).await?;
        let mut total = 0;
        for index in &indexes {
            total += parsed.count(index)?;
        }
        Ok(total)
    }

    fn fts_summary(&self, column: &str) -> Result<()> {
        if self.inner.manifest.fts.iter().any(|c| c.column == column) {
            Ok(())
        } else {
            Err(TableError::Schema {
                column: column.to_owned(),
                reason: "has no full-text index".into(),
            })
        }
    }

    /// Build the output batch for `hits`, fetching `columns` file by file.
    async fn resolve(&self, hits: &[Hit], columns: &[&str]) -> Result<RecordBatch> {
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
    for col in &spec.fts {
        let index = file.fts(&col.column)?;
        fts.insert(
            col.column.clone(),
            FtsSummary {
                doc_count: u64::from(index.doc_count()),
                total_tokens: index.total_tokens(),
            },
        );
    }
    let entry = FileEntry {
        path: String::new(),
        rows: file.rows(),
        first_id,
        size: bytes.len() as u64,
        fts,
    };
    Ok((bytes, entry))
}
