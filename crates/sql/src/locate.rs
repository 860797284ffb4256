//! Where each `_id` of a table version lives: (superfile, row ordinal).
//!
//! Search answers with `_id`s; a Parquet row selection needs row ordinals.
//! Files written by appends hold the contiguous run `first_id + row`, so
//! their rows follow from the manifest alone. Files written by compaction
//! keep the sorted ids of the rows they merged, with gaps: their `_id`
//! column is read once (only that column) and kept for the snapshot.

use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::UInt64Type;
use datafusion::error::{DataFusionError, Result};
use infino_store::{Path, Store};
use infino_superfile::{LazySuperfile, OpenOptions};
use infino_table::Table;
use tokio::sync::OnceCell;

/// A file whose ids are not contiguous.
#[derive(Debug)]
struct Sparse {
    file: usize,
    first: u64,
    last: u64,
    path: String,
    rows: u64,
    ids: OnceCell<Arc<Vec<u64>>>,
}

/// Maps `_id`s to (file, row) for one table version.
#[derive(Debug)]
pub(crate) struct Locator {
    /// (first id, file, rows) of files with contiguous ids, by first id.
    runs: Vec<(u64, usize, u64)>,
    sparse: Vec<Sparse>,
    store: Store,
}

impl Locator {
    pub(crate) fn of(table: &Table, store: Store) -> Self {
        let mut runs = Vec::new();
        let mut sparse = Vec::new();
        for (i, f) in table.manifest().files.iter().enumerate() {
            if f.max_id.is_some() {
                sparse.push(Sparse {
                    file: i,
                    first: f.first_id,
                    last: f.last_id(),
                    path: f.path.clone(),
                    rows: f.rows,
                    ids: OnceCell::new(),
                });
            } else {
                runs.push((f.first_id, i, f.rows));
            }
        }
        runs.sort_unstable();
        Self {
            runs,
            sparse,
            store,
        }
    }

    /// (file, row) of `id`, or `None` for an id the version does not hold.
    pub(crate) async fn locate(&self, id: u64) -> Result<Option<(usize, u32)>> {
        let at = self.runs.partition_point(|&(first, _, _)| first <= id);
        if let Some(&(first, file, rows)) = at.checked_sub(1).and_then(|i| self.runs.get(i))
            && id - first < rows
        {
            return Ok(u32::try_from(id - first).ok().map(|row| (file, row)));
        }
        for s in self
            .sparse
            .iter()
            .filter(|s| (s.first..=s.last).contains(&id))
        {
            let ids = s
                .ids
                .get_or_try_init(|| read_ids(&self.store, &s.path, s.rows))
                .await?;
            if let Ok(row) = ids.binary_search(&id) {
                return Ok(u32::try_from(row).ok().map(|row| (s.file, row)));
            }
        }
        Ok(None)
    }
}

/// The `_id` column of the superfile at `path` (one suffix read to open
/// it, then that column's pages).
async fn read_ids(store: &Store, path: &str, rows: u64) -> Result<Arc<Vec<u64>>> {
    let external = |e: infino_superfile::SuperfileError| DataFusionError::External(Box::new(e));
    let file = LazySuperfile::open(store, &Path::from(path), OpenOptions::default())
        .await
        .map_err(external)?;
    let all: Vec<u32> = (0..u32::try_from(rows).unwrap_or(u32::MAX)).collect();
    let batches = [file
        .fetch_rows(&all, Some(&["_id"]))
        .await
        .map_err(external)?];
    let mut ids = Vec::new();
    for batch in &batches {
        let column = batch
            .column(0)
            .as_primitive_opt::<UInt64Type>()
            .filter(|c| c.null_count() == 0)
            .ok_or_else(|| {
                DataFusionError::Execution(format!("superfile {path}: `_id` is not UInt64"))
            })?;
        ids.extend_from_slice(column.values());
    }
    if !ids.is_sorted() {
        return Err(DataFusionError::Execution(format!(
            "superfile {path}: `_id`s are not sorted"
        )));
    }
    Ok(Arc::new(ids))
}
