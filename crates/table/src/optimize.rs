//! Compaction: merge small files, drop deleted rows, keep every `_id`.
//!
//! Appends in small batches leave many small superfiles, and deletes leave
//! rows that every query must skip. `optimize` rewrites such files into
//! files of about [`OptimizeOptions::target_rows`] live rows, one output
//! file at a time (memory stays around one output file), and swaps them in
//! with one commit. Rows keep their `_id`s, so every search, count and SQL
//! query answers the same before and after (approximate vector search may
//! differ where the rebuilt index probes differently; exact search does
//! not). Compaction conflicts only with a delete on one of its input files:
//! then it starts over on the new version, a few times, and otherwise gives
//! up with [`TableError::Conflict`], having committed nothing.

use std::collections::HashSet;

use arrow::array::AsArray;
use arrow::array::{RecordBatch, UInt64Array};
use arrow::datatypes::UInt64Type;

use crate::build::{FileIds, build_file};
use crate::error::{Result, TableError};
use crate::manifest::FileEntry;
use crate::table::{TARGET_ROWS_PER_FILE, Table};
use crate::versions;

/// Attempts when deletes keep landing on the input files.
const MAX_RESTARTS: usize = 4;

/// What `optimize` rewrites.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OptimizeOptions {
    /// Live rows an output file aims for.
    pub target_rows: usize,
    /// A file with fewer live rows than this fraction of `target_rows` is
    /// small and gets merged.
    pub small_fraction: f64,
    /// A file with at least this fraction of its rows deleted is rewritten.
    pub deleted_fraction: f64,
}

impl OptimizeOptions {
    /// Default options aiming at `target_rows` live rows per file.
    pub fn with_target_rows(target_rows: usize) -> Self {
        Self {
            target_rows,
            ..Self::default()
        }
    }
}

impl Default for OptimizeOptions {
    fn default() -> Self {
        Self {
            target_rows: TARGET_ROWS_PER_FILE,
            small_fraction: 0.5,
            deleted_fraction: 0.1,
        }
    }
}

/// What `optimize` did.
#[derive(Debug, Clone)]
pub struct Optimized {
    /// The table at the version the compaction committed (unchanged when
    /// there was nothing to do).
    pub table: Table,
    /// Files replaced.
    pub files_removed: usize,
    /// Files written.
    pub files_added: usize,
    /// Live rows rewritten.
    pub rows_written: u64,
    /// Deleted rows dropped for good.
    pub rows_dropped: u64,
}

impl Table {
    /// Every live row of this version: one batch per file, `_id` first,
    /// then `columns` (all when `None`).
    ///
    /// # Errors
    /// Storage errors, an unknown column.
    pub async fn scan(&self, columns: Option<&[&str]>) -> Result<Vec<RecordBatch>> {
        let mut out = Vec::with_capacity(self.manifest().files.len());
        for file in 0..self.manifest().files.len() {
            let rows = self.live_ordinals(file).await?;
            if !rows.is_empty() {
                out.push(self.fetch_columns(file, &rows, columns).await?);
            }
        }
        Ok(out)
    }

    /// Compact this table: see the module docs.
    ///
    /// # Errors
    /// [`TableError::Conflict`] when deletes kept landing on the input
    /// files, storage errors.
    pub async fn optimize(&self, options: &OptimizeOptions) -> Result<Optimized> {
        let mut table = self.clone();
        for _ in 0..MAX_RESTARTS {
            let groups = table.plan_compaction(options);
            if groups.is_empty() {
                return Ok(Optimized {
                    table,
                    files_removed: 0,
                    files_added: 0,
                    rows_written: 0,
                    rows_dropped: 0,
                });
            }
            let inputs: Vec<&FileEntry> = groups
                .iter()
                .flatten()
                .map(|&i| &table.manifest().files[i])
                .collect();
            let rows_dropped = inputs.iter().map(|f| f.rows - f.live_rows()).sum();
            let mut outputs = Vec::with_capacity(groups.len());
            for group in &groups {
                outputs.extend(table.merge_group(group).await?);
            }
            let rows_written = outputs.iter().map(|f| f.rows).sum();
            let removed: HashSet<String> = inputs.iter().map(|f| f.path.clone()).collect();
            let inputs: Vec<FileEntry> = inputs.into_iter().cloned().collect();
            let store = &table.inner.store;
            let mut current = versions::latest_from(store, table.manifest()).await?;
            let mut restart = false;
            for _ in 0..versions::MAX_COMMIT_ATTEMPTS {
                // Our inputs must be unchanged: a delete since we read them
                // would be lost by replacing them.
                let unchanged = inputs.iter().all(|input| {
                    current
                        .files
                        .iter()
                        .any(|f| f.path == input.path && f.deletes == input.deletes)
                });
                if !unchanged {
                    restart = true;
                    break;
                }
                let mut next = current.clone();
                next.files.retain(|f| !removed.contains(&f.path));
                next.files.extend(outputs.iter().cloned());
                match versions::try_commit(store, &current, next, "optimize").await? {
                    Ok(committed) => {
                        return Ok(Optimized {
                            table: Table::from_manifest(store.clone(), committed)?,
                            files_removed: removed.len(),
                            files_added: outputs.len(),
                            rows_written,
                            rows_dropped,
                        });
                    }
                    Err(newer) => current = newer,
                }
            }
            if !restart {
                return Err(TableError::CommitConflict {
                    table: table.name().to_owned(),
                    attempts: versions::MAX_COMMIT_ATTEMPTS,
                });
            }
            table = Table::from_manifest(store.clone(), current)?;
        }
        Err(TableError::Conflict {
            table: self.name().to_owned(),
            reason: "deletes kept landing on the files being compacted; try again later".into(),
        })
    }

    /// Groups of file indexes to merge, each of at most `target_rows` live
    /// rows, in `_id` order.
    fn plan_compaction(&self, options: &OptimizeOptions) -> Vec<Vec<usize>> {
        let target = options.target_rows.max(1) as u64;
        let small = options.small_fraction * target as f64;
        let mut picked: Vec<usize> = (0..self.manifest().files.len())
            .filter(|&i| {
                let f = &self.manifest().files[i];
                let deleted = (f.rows - f.live_rows()) as f64;
                (f.live_rows() as f64) < small
                    || (f.rows > 0 && deleted / f.rows as f64 >= options.deleted_fraction)
            })
            .collect();
        picked.sort_by_key(|&i| self.manifest().files[i].first_id);
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut rows = 0;
        for i in picked {
            let live = self.manifest().files[i].live_rows();
            match groups.last_mut() {
                Some(group) if rows + live <= target => group.push(i),
                _ => {
                    groups.push(vec![i]);
                    rows = 0;
                }
            }
            rows += live;
        }
        // A lone file without deletions gains nothing from a rewrite.
        groups.retain(|g| g.len() > 1 || self.manifest().files[g[0]].deletes.is_some());
        groups
    }

    /// Rewrite the live rows of `group` into new files, `_id`s kept and
    /// ascending.
    async fn merge_group(&self, group: &[usize]) -> Result<Vec<FileEntry>> {
        let mut parts = Vec::new();
        for &file in group {
            let rows = self.live_ordinals(file).await?;
            if !rows.is_empty() {
                parts.push(self.fetch_columns(file, &rows, None).await?);
            }
        }
        if parts.is_empty() {
            return Ok(Vec::new());
        }
        let file_schema = parts[0].schema();
        let merged = arrow::compute::concat_batches(&file_schema, &parts)?;
        drop(parts);
        // Files of a group may interleave ids (a compacted file spans
        // gaps): sort rows by `_id`.
        let ids = merged.column(0).as_primitive::<UInt64Type>().clone();
        let order = arrow::compute::sort_to_indices(&ids, None, None)?;
        let merged = arrow::compute::take_record_batch(&merged, &order)?;
        let ids: UInt64Array = merged.column(0).as_primitive::<UInt64Type>().clone();
        let columns = merged.columns()[1..].to_vec();
        let batch = RecordBatch::try_new(self.schema(), columns)?;
        let (schema, spec) = (self.schema(), self.inner.spec.clone());
        let (bytes, entry) = crate::pools::write(move || {
            build_file(&schema, &spec, FileIds::Given(vec![ids]), &[batch])
        })
        .await?;
        Ok(vec![self.upload(bytes, entry).await?])
    }
}
