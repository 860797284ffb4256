//! Which rows of a snapshot are live, and what `_id` each row has.
//!
//! A file's rows are addressed by ordinal (`0..rows`); its deletion vector
//! (if any) removes some, and its `_id`s are either the contiguous run
//! `first_id + row` (files written by appends) or, for files written by
//! compaction, the sorted ids kept from the merged rows, read once from the
//! file's `_id` column. Both are loaded on first use and cached for the
//! life of the snapshot handle.

use std::sync::Arc;

use arrow::array::{Array, UInt64Array};
use roaring::RoaringBitmap;
use tokio::sync::OnceCell;

use crate::bloom::TermBloom;
use crate::deletes;
use crate::error::{Result, TableError};
use crate::table::Table;

/// Per-file caches of a snapshot.
#[derive(Debug, Default)]
pub(crate) struct FileState {
    deleted: OnceCell<Option<Arc<RoaringBitmap>>>,
    allowed: OnceCell<Option<Arc<RoaringBitmap>>>,
    ids: OnceCell<Option<Arc<Vec<u64>>>>,
    /// Deleted documents per (column, term): what table-wide statistics
    /// subtract from the term's document frequency. Computed once per
    /// snapshot, since intersecting a long postings list is not free.
    pub(crate) deleted_df: std::sync::Mutex<std::collections::HashMap<(String, String), u64>>,
    /// The manifest's term bloom filters, decoded once per snapshot rather
    /// than from base64 on every query.
    pub(crate) blooms: std::sync::OnceLock<std::collections::BTreeMap<String, TermBloom>>,
}

impl Table {
    /// The deleted row ordinals of file `file` of this snapshot (`None`
    /// when nothing of it is deleted). Row ordinals are positions in the
    /// file, as Parquet reads them.
    ///
    /// # Errors
    /// Storage errors, a corrupt deletion vector, `file` out of range.
    pub async fn deleted_rows(&self, file: usize) -> Result<Option<Arc<RoaringBitmap>>> {
        let entry = self.entry(file)?;
        let state = &self.inner.state[file];
        let set = state
            .deleted
            .get_or_try_init(|| async {
                match &entry.deletes {
                    None => Ok::<_, TableError>(None),
                    Some(d) => Ok(Some(Arc::new(
                        deletes::read(&self.inner.store, &d.path).await?,
                    ))),
                }
            })
            .await?;
        Ok(set.clone())
    }

    /// The live row ordinals of file `file`, or `None` when every row is
    /// live (the allow-set searches take).
    pub(crate) async fn live_rows(&self, file: usize) -> Result<Option<Arc<RoaringBitmap>>> {
        let rows = u32::try_from(self.entry(file)?.rows).unwrap_or(u32::MAX);
        let state = &self.inner.state[file];
        let set = state
            .allowed
            .get_or_try_init(|| async {
                Ok::<_, TableError>(self.deleted_rows(file).await?.map(|deleted| {
                    let mut live = RoaringBitmap::new();
                    live.insert_range(0..rows);
                    live -= deleted.as_ref();
                    Arc::new(live)
                }))
            })
            .await?;
        Ok(set.clone())
    }

    /// The `_id` of every row of file `file` when they are not contiguous.
    async fn sparse_ids(&self, file: usize) -> Result<Option<Arc<Vec<u64>>>> {
        let entry = self.entry(file)?;
        if entry.max_id.is_none() {
            return Ok(None);
        }
        let rows = u32::try_from(entry.rows).unwrap_or(u32::MAX);
        let state = &self.inner.state[file];
        let ids = state
            .ids
            .get_or_try_init(|| async {
                let all: Vec<u32> = (0..rows).collect();
                let batch = self
                    .file(file)
                    .await?
                    .fetch_rows(&all, Some(&["_id"]))
                    .await?;
                let column = batch
                    .column_by_name("_id")
                    .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
                    .ok_or_else(|| TableError::Schema {
                        column: "_id".into(),
                        reason: format!("missing from `{}`", entry.path),
                    })?;
                if column.len() != all.len() || column.null_count() != 0 {
                    return Err(TableError::Schema {
                        column: "_id".into(),
                        reason: format!("`{}` holds a short or null `_id` column", entry.path),
                    });
                }
                Ok(Some(Arc::new(column.values().to_vec())))
            })
            .await?;
        Ok(ids.clone())
    }

    /// The `_id`s of `rows` of file `file`.
    pub(crate) async fn row_ids(&self, file: usize, rows: &[u32]) -> Result<Vec<u64>> {
        let first = self.entry(file)?.first_id;
        Ok(match self.sparse_ids(file).await? {
            None => rows.iter().map(|&r| first + u64::from(r)).collect(),
            Some(ids) => rows
                .iter()
                .map(|&r| ids.get(r as usize).copied().unwrap_or(u64::MAX))
                .collect(),
        })
    }

    /// Where the live row with `_id` `id` is: `(file, row)`.
    pub(crate) async fn locate(&self, id: u64) -> Result<Option<(usize, u32)>> {
        for (i, entry) in self.inner.manifest.files.iter().enumerate() {
            if id < entry.first_id || id > entry.last_id() {
                continue;
            }
            let row = match self.sparse_ids(i).await? {
                None => u32::try_from(id - entry.first_id).ok(),
                Some(ids) => ids
                    .binary_search(&id)
                    .ok()
                    .and_then(|r| u32::try_from(r).ok()),
            };
            let Some(row) = row else { continue };
            let deleted = self.deleted_rows(i).await?;
            if deleted.is_some_and(|d| d.contains(row)) {
                return Ok(None);
            }
            return Ok(Some((i, row)));
        }
        Ok(None)
    }

    /// The live rows holding `ids`, grouped by file index.
    pub(crate) async fn rows_of_ids(
        &self,
        ids: &[u64],
    ) -> Result<std::collections::BTreeMap<usize, RoaringBitmap>> {
        let mut out: std::collections::BTreeMap<usize, RoaringBitmap> = Default::default();
        for &id in ids {
            if let Some((file, row)) = self.locate(id).await? {
                out.entry(file).or_default().insert(row);
            }
        }
        Ok(out)
    }

    fn entry(&self, file: usize) -> Result<&crate::manifest::FileEntry> {
        self.inner
            .manifest
            .files
            .get(file)
            .ok_or_else(|| TableError::Schema {
                column: String::new(),
                reason: format!("file {file} is out of range for this version"),
            })
    }
}
