//! Deletes, updates and upserts: deletion vectors plus appended rows, in
//! one atomic commit.
//!
//! A mutation resolves the rows it touches in its snapshot, writes any new
//! rows as new superfiles, then commits. If other commits landed meanwhile
//! it rebases: appends never conflict; a concurrent delete on the same file
//! is merged when the two delete disjoint rows; a concurrent commit that
//! deleted a row this one touched, or (for upserts) inserted one of its
//! keys, is a true conflict ([`TableError::Conflict`], nothing committed).
//! When compaction rewrote a touched file, the rows still exist under the
//! same `_id`s, so the mutation re-resolves on the new snapshot and tries
//! again.

use std::collections::{BTreeMap, HashSet};

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int32Type, Int64Type, UInt32Type, UInt64Type};
use infino_fts::Analyzer;
use roaring::RoaringBitmap;

use crate::deletes;
use crate::error::{Result, TableError};
use crate::manifest::{Deletes, FileEntry, FtsSummary, Manifest};
use crate::predicate::{Compiled, CompiledValue, RowFilter};
use crate::table::Table;
use crate::versions;

/// Re-resolutions after compaction rewrote touched files.
const MAX_RESOLVES: usize = 4;

/// What a mutation did.
#[derive(Debug, Clone)]
pub struct Mutation {
    /// The table at the version the mutation committed (unchanged when it
    /// touched nothing).
    pub table: Table,
    /// Rows deleted (for updates and upserts: rows replaced).
    pub deleted: u64,
    /// Rows written (updated rows' new versions and upserted rows).
    pub inserted: u64,
}

/// Rows a mutation removes from one file, and their full-text statistics.
#[derive(Debug, Clone, Default)]
struct Removal {
    rows: RoaringBitmap,
    fts: BTreeMap<String, FtsSummary>,
}

/// A value of a key column, for matching upserted rows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Int(i128),
    Text(String),
}

/// Why a commit attempt could not rebase.
enum Rebase {
    /// Compaction rewrote a touched file: resolve again on the new version.
    Resolve(Table),
    /// A real conflict or another error.
    Fail(TableError),
}

impl From<TableError> for Rebase {
    fn from(e: TableError) -> Self {
        Self::Fail(e)
    }
}

impl Table {
    /// Delete the rows matching `filter` (SQL text such as
    /// `"category = 'sport' AND year < 2000"`, a DataFusion `Expr`, or
    /// [`RowFilter::Ids`]). Deleted rows disappear from every search,
    /// count, statistic and SQL result of the new version.
    ///
    /// # Errors
    /// [`TableError::InvalidPredicate`] (nothing committed),
    /// [`TableError::Conflict`] when a concurrent commit deleted some of the
    /// same rows, storage errors.
    pub async fn delete(&self, filter: impl Into<RowFilter>) -> Result<Mutation> {
        let filter = filter.into();
        let compiled = compile(self, &filter)?;
        let mut table = self.clone();
        for _ in 0..MAX_RESOLVES {
            let removals = table.resolve_filter(&filter, compiled.as_ref()).await?;
            match table
                .commit_mutation("delete", removals, Vec::new(), None)
                .await
            {
                Ok(m) => return Ok(m),
                Err(Rebase::Resolve(newer)) => table = newer,
                Err(Rebase::Fail(e)) => return Err(e),
            }
        }
        Err(self.busy())
    }

    /// Set `assignments` (column, SQL value expression over the row, such
    /// as `("price", "price * 2")`) on the rows matching `filter`: the old
    /// rows are deleted and their new versions appended, with new `_id`s,
    /// in one commit.
    ///
    /// # Errors
    /// As [`Table::delete`]; [`TableError::InvalidPredicate`] for a bad
    /// assignment; [`TableError::Key`] when assigning the key column.
    pub async fn update(
        &self,
        filter: impl Into<RowFilter>,
        assignments: &[(&str, &str)],
    ) -> Result<Mutation> {
        let filter = filter.into();
        let compiled = compile(self, &filter)?;
        let schema = self.file_schema();
        let mut values = Vec::with_capacity(assignments.len());
        for (column, value) in assignments {
            let field = self
                .schema()
                .field_with_name(column)
                .cloned()
                .map_err(|_| TableError::InvalidPredicate {
                    expr: (*value).to_owned(),
                    reason: format!("no column named `{column}` to assign"),
                })?;
            if self.manifest().key.as_deref() == Some(*column) {
                return Err(TableError::Key {
                    table: self.name().to_owned(),
                    reason: format!("`{column}` is the key; use upsert to replace keyed rows"),
                });
            }
            let index = self.schema().index_of(column)?;
            values.push((
                index,
                CompiledValue::new(&schema, value, field.data_type())?,
            ));
        }
        let mut table = self.clone();
        for _ in 0..MAX_RESOLVES {
            let removals = table.resolve_filter(&filter, compiled.as_ref()).await?;
            let mut batches = Vec::new();
            for (&file, removal) in &removals {
                let rows: Vec<u32> = removal.rows.iter().collect();
                let old = table.fetch_columns(file, &rows, None).await?;
                let mut columns: Vec<ArrayRef> = old.columns()[1..].to_vec();
                for (index, value) in &values {
                    let input = old.project(&projection(&old, &value.columns)?)?;
                    columns[*index] = value.evaluate(&input)?;
                }
                batches.push(RecordBatch::try_new(table.schema(), columns)?);
            }
            let added = table.write_rows(&batches).await?;
            match table.commit_mutation("update", removals, added, None).await {
                Ok(m) => return Ok(m),
                Err(Rebase::Resolve(newer)) => table = newer,
                Err(Rebase::Fail(e)) => return Err(e),
            }
        }
        Err(self.busy())
    }

    /// Insert `batches`, replacing every existing row whose key (the
    /// column the table declares as its key) equals an inserted row's key,
    /// in one commit.
    ///
    /// # Errors
    /// [`TableError::Key`] without a declared key, for a null key, or for a
    /// key repeated within `batches`; schema errors as for
    /// [`Table::append`]; [`TableError::Conflict`] when a concurrent commit
    /// replaced the same rows or inserted one of the keys.
    pub async fn upsert(&self, batches: &[RecordBatch]) -> Result<Mutation> {
        let key = self.manifest().key.clone().ok_or_else(|| TableError::Key {
            table: self.name().to_owned(),
            reason: "upsert needs a key column; declare one when creating the table".into(),
        })?;
        let index = self.schema().index_of(&key)?;
        let mut keys = HashSet::new();
        for batch in batches {
            for k in key_values(batch.column(index), &key)? {
                let k = k.ok_or_else(|| self.key_error(format!("a row has a null `{key}`")))?;
                if !keys.insert(k.clone()) {
                    return Err(self.key_error(format!("key {k:?} appears twice in one upsert")));
                }
            }
        }
        let mut table = self.clone();
        for _ in 0..MAX_RESOLVES {
            let removals = table.resolve_keys(&key, &keys).await?;
            let added = table.write_rows(batches).await?;
            let check = Some((key.as_str(), &keys));
            match table
                .commit_mutation("upsert", removals, added, check)
                .await
            {
                Ok(m) => return Ok(m),
                Err(Rebase::Resolve(newer)) => table = newer,
                Err(Rebase::Fail(e)) => return Err(e),
            }
        }
        Err(self.busy())
    }

    /// The live rows matching `filter`, per file index.
    async fn resolve_filter(
        &self,
        filter: &RowFilter,
        compiled: Option<&Compiled>,
    ) -> Result<BTreeMap<usize, Removal>> {
        let matched = match (filter, compiled) {
            (RowFilter::Ids(ids), _) => self.rows_of_ids(ids).await?,
            (_, Some(compiled)) => self
                .rows_matching(compiled)
                .await?
                .into_iter()
                .map(|(file, rows, _)| (file, rows))
                .collect(),
            (_, None) => BTreeMap::new(),
        };
        let mut out = BTreeMap::new();
        for (file, rows) in matched {
            if !rows.is_empty() {
                out.insert(file, self.removal(file, rows).await?);
            }
        }
        Ok(out)
    }

    /// The live rows whose `key` is in `keys`, per file index.
    async fn resolve_keys(
        &self,
        key: &str,
        keys: &HashSet<Key>,
    ) -> Result<BTreeMap<usize, Removal>> {
        let mut out = BTreeMap::new();
        for file in 0..self.manifest().files.len() {
            let rows = self.rows_with_keys(file, key, keys).await?;
            if !rows.is_empty() {
                out.insert(file, self.removal(file, rows).await?);
            }
        }
        Ok(out)
    }

    async fn rows_with_keys(
        &self,
        file: usize,
        key: &str,
        keys: &HashSet<Key>,
    ) -> Result<RoaringBitmap> {
        let live = self.live_ordinals(file).await?;
        let batch = self.fetch_columns(file, &live, Some(&[key])).await?;
        let column = batch
            .column_by_name(key)
            .ok_or_else(|| self.key_error("missing".into()))?;
        let mut rows = RoaringBitmap::new();
        for (i, k) in key_values(column, key)?.into_iter().enumerate() {
            if k.is_some_and(|k| keys.contains(&k)) {
                rows.extend(live.get(i).copied());
            }
        }
        Ok(rows)
    }

    /// `rows` of `file` with the full-text statistics of their text.
    async fn removal(&self, file: usize, rows: RoaringBitmap) -> Result<Removal> {
        let mut fts = BTreeMap::new();
        let spec = &self.inner.spec.fts;
        if !spec.is_empty() {
            let ordinals: Vec<u32> = rows.iter().collect();
            let names: Vec<&str> = spec.iter().map(|c| c.column.as_str()).collect();
            let batch = self.fetch_columns(file, &ordinals, Some(&names)).await?;
            for col in spec {
                let analyzer = Analyzer::new(col.config.analyzer.clone())?;
                let mut summary = FtsSummary::default();
                if let Some(column) = batch.column_by_name(&col.column) {
                    for text in texts(column).into_iter().flatten() {
                        summary.doc_count += 1;
                        summary.total_tokens += analyzer.terms(&text).len() as u64;
                    }
                }
                fts.insert(col.column.clone(), summary);
            }
        }
        Ok(Removal { rows, fts })
    }

    /// Live row ordinals of `file`, ascending.
    pub(crate) async fn live_ordinals(&self, file: usize) -> Result<Vec<u32>> {
        Ok(match self.live_rows(file).await? {
            Some(live) => live.iter().collect(),
            None => {
                let rows = u32::try_from(self.manifest().files[file].rows).unwrap_or(u32::MAX);
                (0..rows).collect()
            }
        })
    }

    /// `rows` (ascending) of `file`: `_id` first, then `columns` (all when
    /// `None`).
    pub(crate) async fn fetch_columns(
        &self,
        file: usize,
        rows: &[u32],
        columns: Option<&[&str]>,
    ) -> Result<RecordBatch> {
        let mut names = vec!["_id"];
        match columns {
            Some(c) => names.extend(c.iter().copied().filter(|n| *n != "_id")),
            None => names.extend(self.inner.schema.fields().iter().map(|f| f.name().as_str())),
        }
        let batch = self
            .file(file)
            .await?
            .fetch_rows(rows, Some(&names))
            .await?;
        Ok(batch.project(&projection_names(&batch, &names)?)?)
    }

    /// Commit `removals` (by file index in this snapshot) and `added` files
    /// on top of the latest version.
    async fn commit_mutation(
        &self,
        operation: &str,
        removals: BTreeMap<usize, Removal>,
        added: Vec<FileEntry>,
        keys: Option<(&str, &HashSet<Key>)>,
    ) -> std::result::Result<Mutation, Rebase> {
        let deleted: u64 = removals.values().map(|r| r.rows.len()).sum();
        let inserted: u64 = added.iter().map(|f| f.rows).sum();
        if removals.is_empty() && added.is_empty() {
            return Ok(Mutation {
                table: self.clone(),
                deleted,
                inserted,
            });
        }
        let base = self.manifest();
        let store = &self.inner.store;
        // The deletion vector written for each touched path, and the
        // deletes entry it was merged with, reused while that stays current.
        let mut written: BTreeMap<String, (Option<Deletes>, Deletes)> = BTreeMap::new();
        let mut checked: HashSet<String> = base.files.iter().map(|f| f.path.clone()).collect();
        let mut current = versions::latest_from(store, base).await?;
        for _ in 0..versions::MAX_COMMIT_ATTEMPTS {
            let mut next = current.clone();
            for (&file, removal) in &removals {
                let path = &base.files[file].path;
                let Some(entry) = next.files.iter_mut().find(|f| &f.path == path) else {
                    return Err(self.rewritten(store, path, &current).await);
                };
                let reuse = written
                    .get(path)
                    .filter(|(merged_with, _)| *merged_with == entry.deletes)
                    .map(|(_, d)| d.clone());
                let merged = match reuse {
                    Some(d) => d,
                    None => {
                        let d = self.merge(entry, removal).await?;
                        written.insert(path.clone(), (entry.deletes.clone(), d.clone()));
                        d
                    }
                };
                entry.deletes = Some(merged);
            }
            if let Some((key, keys)) = keys {
                // Rows inserted by commits we have not seen may carry our keys.
                let fresh: Vec<FileEntry> = current
                    .files
                    .iter()
                    .filter(|f| !checked.contains(&f.path))
                    .cloned()
                    .collect();
                if !fresh.is_empty() {
                    let view = Table::from_manifest(store.clone(), current.clone())?;
                    for entry in &fresh {
                        let i = current.files.iter().position(|f| f.path == entry.path);
                        if let Some(i) = i
                            && !view.rows_with_keys(i, key, keys).await?.is_empty()
                        {
                            return Err(Rebase::Fail(self.conflict(format!(
                                "a concurrent commit inserted a key of this upsert (in `{}`)",
                                entry.path
                            ))));
                        }
                        checked.insert(entry.path.clone());
                    }
                }
            }
            next.files.extend(added.iter().cloned());
            match versions::try_commit(store, &current, next, operation).await? {
                Ok(committed) => {
                    return Ok(Mutation {
                        table: Table::from_manifest(store.clone(), committed)?,
                        deleted,
                        inserted,
                    });
                }
                Err(newer) => current = newer,
            }
        }
        Err(Rebase::Fail(self.busy()))
    }

    /// `entry`'s current deletion vector plus `removal`, written as a new
    /// object; a conflict when they overlap.
    async fn merge(
        &self,
        entry: &FileEntry,
        removal: &Removal,
    ) -> std::result::Result<Deletes, Rebase> {
        let store = &self.inner.store;
        let (mut rows, mut fts) = (removal.rows.clone(), removal.fts.clone());
        if let Some(existing) = &entry.deletes {
            let before = deletes::read(store, &existing.path).await?;
            let overlap = before.intersection_len(&rows);
            if overlap > 0 {
                return Err(Rebase::Fail(self.conflict(format!(
                    "a concurrent commit already deleted or replaced {overlap} of the rows this \
                     one touches in `{}`",
                    entry.path
                ))));
            }
            rows |= before;
            for (column, s) in &existing.fts {
                let total = fts.entry(column.clone()).or_default();
                total.doc_count += s.doc_count;
                total.total_tokens += s.total_tokens;
            }
        }
        let path = deletes::write(store, self.name(), &rows).await?;
        Ok(Deletes {
            path,
            count: rows.len(),
            fts,
        })
    }

    /// The rebase outcome when `path` is gone from `current`: resolve again
    /// if compaction rewrote it, else a conflict.
    async fn rewritten(
        &self,
        store: &infino_store::Store,
        path: &str,
        current: &Manifest,
    ) -> Rebase {
        if current.operation == "optimize" || current.files.iter().any(|f| f.max_id.is_some()) {
            match Table::from_manifest(store.clone(), current.clone()) {
                Ok(t) => Rebase::Resolve(t),
                Err(e) => Rebase::Fail(e),
            }
        } else {
            Rebase::Fail(self.conflict(format!("`{path}` was removed by a concurrent commit")))
        }
    }

    fn conflict(&self, reason: String) -> TableError {
        TableError::Conflict {
            table: self.name().to_owned(),
            reason,
        }
    }

    fn key_error(&self, reason: String) -> TableError {
        TableError::Key {
            table: self.name().to_owned(),
            reason,
        }
    }

    fn busy(&self) -> TableError {
        TableError::CommitConflict {
            table: self.name().to_owned(),
            attempts: versions::MAX_COMMIT_ATTEMPTS,
        }
    }
}

fn compile(table: &Table, filter: &RowFilter) -> Result<Option<Compiled>> {
    match filter {
        RowFilter::Ids(_) => Ok(None),
        other => Compiled::new(&table.file_schema(), other).map(Some),
    }
}

/// Indexes of `names` in `batch`'s schema.
pub(crate) fn projection(batch: &RecordBatch, names: &[String]) -> Result<Vec<usize>> {
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    projection_names(batch, &names)
}

fn projection_names(batch: &RecordBatch, names: &[&str]) -> Result<Vec<usize>> {
    names
        .iter()
        .map(|n| Ok(batch.schema().index_of(n)?))
        .collect()
}

/// The texts of a string column (`None` for nulls and non-text columns).
pub(crate) fn texts(column: &ArrayRef) -> Vec<Option<String>> {
    match column.data_type() {
        DataType::Utf8 => column
            .as_string::<i32>()
            .iter()
            .map(|t| t.map(str::to_owned))
            .collect(),
        DataType::LargeUtf8 => column
            .as_string::<i64>()
            .iter()
            .map(|t| t.map(str::to_owned))
            .collect(),
        _ => vec![None; column.len()],
    }
}

/// Key values of a key column.
fn key_values(column: &ArrayRef, name: &str) -> Result<Vec<Option<Key>>> {
    let ints = |v: Vec<Option<i128>>| v.into_iter().map(|x| x.map(Key::Int)).collect();
    Ok(match column.data_type() {
        DataType::Int64 => ints(
            column
                .as_primitive::<Int64Type>()
                .iter()
                .map(|v| v.map(i128::from))
                .collect(),
        ),
        DataType::Int32 => ints(
            column
                .as_primitive::<Int32Type>()
                .iter()
                .map(|v| v.map(i128::from))
                .collect(),
        ),
        DataType::UInt64 => ints(
            column
                .as_primitive::<UInt64Type>()
                .iter()
                .map(|v| v.map(i128::from))
                .collect(),
        ),
        DataType::UInt32 => ints(
            column
                .as_primitive::<UInt32Type>()
                .iter()
                .map(|v| v.map(i128::from))
                .collect(),
        ),
        DataType::Utf8 | DataType::LargeUtf8 => texts(column)
            .into_iter()
            .map(|t| t.map(Key::Text))
            .collect(),
        other => {
            return Err(TableError::Schema {
                column: name.to_owned(),
                reason: format!("a key column must be an integer or a string, not {other}"),
            });
        }
    })
}
