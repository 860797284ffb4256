//! A table snapshot as a DataFusion [`TableProvider`].
//!
//! The superfiles of the pinned manifest are read as the Parquet files they
//! are, by DataFusion's own Parquet scan (`ParquetSource`) on the
//! connection's object store, so projection, row-group and page pruning and
//! filter evaluation are DataFusion's. What only infino knows goes in as a
//! per-file `ParquetAccessPlan` (a row selection):
//!
//! - the rows the full-text index says can match an indexed predicate
//!   (see [`crate::pushdown`]) — a file with none is not scanned at all.
//!   Where that answer is exact (`matches`, equality on a whole-values
//!   column), DataFusion leaves the filter to the scan: a take or a row
//!   selection reads exactly those rows, and a scan widened to whole row
//!   groups re-checks an equality itself;
//! - the rows its deletion vector removes.
//!
//! Selected rows decode only the pages that hold them (the superfiles carry
//! a page index).

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::DFSchema;
use datafusion::common::tree_node::TreeNode;
use datafusion::datasource::TableType;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::memory::DataSourceExec;
use datafusion::datasource::physical_plan::parquet::{
    ParquetAccessPlan, RowGroupAccess, transform_schema_to_view,
};
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::filter::FilterExecBuilder;
use infino_store::{Path, Store};
use infino_superfile::RowTake;
use infino_table::Table;
use parquet::arrow::arrow_reader::RowSelection;
use roaring::RoaringBitmap;
use tokio::sync::OnceCell;

use crate::cost::QueryStore;
use crate::explain::{LabeledScan, ScanLabel};
use crate::prune;
use crate::pushdown::{self, Candidates, IndexExpr, IndexedColumns};
use crate::reader::StoreReaders;
use crate::take_scan::{TAKE_MAX_SHARE, TakeFile, TakeScan};

/// Rows per row group of each file, read once per snapshot.
type RowGroups = Vec<OnceCell<Arc<Vec<u64>>>>;

/// One pinned table version, scanned as Parquet.
pub(crate) struct InfinoTable {
    table: Table,
    schema: SchemaRef,
    url: ObjectStoreUrl,
    indexed: IndexedColumns,
    row_groups: RowGroups,
    readers: Arc<StoreReaders>,
}

impl fmt::Debug for InfinoTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InfinoTable")
            .field("table", &self.table.name())
            .field("version", &self.table.version())
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl InfinoTable {
    /// `table` read through `store`, registered in the session under `url`.
    pub(crate) fn new(table: &Table, store: Store, url: ObjectStoreUrl) -> Result<Self> {
        Ok(Self {
            // Strings and binaries as view types, as DataFusion reads plain
            // Parquet by default: the decoder points into the pages instead
            // of copying every value into one buffer (a third of a
            // string-grouping scan's time).
            schema: Arc::new(transform_schema_to_view(&table.file_schema())),
            indexed: IndexedColumns::of(table)?,
            readers: Arc::new(StoreReaders::new(store, table)),
            row_groups: table
                .manifest()
                .files
                .iter()
                .map(|_| OnceCell::new())
                .collect(),
            table: table.clone(),
            url,
        })
    }

    /// The pinned snapshot.
    pub(crate) fn table(&self) -> &Table {
        &self.table
    }

    /// The analyzers of the full-text indexed columns.
    pub(crate) fn indexed(&self) -> &IndexedColumns {
        &self.indexed
    }

    /// The readers a scan planned in `state` uses: through the query's own
    /// store handle when it has one ([`QueryStore`]), else the context's.
    fn readers_for(&self, state: &dyn Session) -> Arc<StoreReaders> {
        match state.config().get_extension::<QueryStore>() {
            Some(query) => Arc::new(self.readers.through(query.store().clone())),
            None => Arc::clone(&self.readers),
        }
    }

    /// Rows per row group of file `i`, from its metadata (the manifest's
    /// kept tail, else one read of `readers`' file end; once per snapshot).
    async fn row_groups(&self, i: usize, readers: &StoreReaders) -> Result<Arc<Vec<u64>>> {
        let sizes = self.row_groups[i]
            .get_or_try_init(|| async {
                let metadata = readers.metadata(i).await?;
                let sizes = metadata
                    .row_groups()
                    .iter()
                    .map(|g| u64::try_from(g.num_rows()).unwrap_or(0))
                    .collect();
                Ok::<_, DataFusionError>(Arc::new(sizes))
            })
            .await?;
        Ok(Arc::clone(sizes))
    }

    /// The rows of file `i` to read: those `candidates` keeps (all when
    /// `None`) less its deleted rows — `Some(None)` for every row, `None`
    /// when no row is left.
    async fn kept_rows(
        &self,
        i: usize,
        candidates: Option<RoaringBitmap>,
    ) -> Result<Option<Option<RoaringBitmap>>> {
        let deleted = self
            .table
            .deleted_rows(i)
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let keep = match (candidates, deleted) {
            (None, None) => return Ok(Some(None)),
            (Some(rows), None) => rows,
            (Some(rows), Some(deleted)) => rows - deleted.as_ref(),
            (None, Some(deleted)) => {
                let rows = u32::try_from(self.table.manifest().files[i].rows).unwrap_or(u32::MAX);
                let mut all = RoaringBitmap::new();
                all.insert_range(0..rows);
                all - deleted.as_ref()
            }
        };
        Ok((!keep.is_empty()).then_some(Some(keep)))
    }

    /// `rows` of file `i` widened to every live row of the row groups
    /// (sized `row_groups`) that hold one.
    async fn widened(
        &self,
        i: usize,
        rows: &RoaringBitmap,
        row_groups: &[u64],
    ) -> Result<RoaringBitmap> {
        let mut out = RoaringBitmap::new();
        let mut start = 0u32;
        for &size in row_groups {
            let end = start.saturating_add(u32::try_from(size).unwrap_or(u32::MAX));
            if rows.range_cardinality(start..end) > 0 {
                out.insert_range(start..end);
            }
            start = end;
        }
        let deleted = self
            .table
            .deleted_rows(i)
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        Ok(match deleted {
            Some(deleted) => out - deleted.as_ref(),
            None => out,
        })
    }

    /// The fewest rows the terms of one of `filters` (exact `=`/`IN`, all
    /// of which hold) can match, when that is more than a take reads;
    /// `None` when a take may do.
    async fn broad(&self, filters: &[Expr]) -> Result<Option<u64>> {
        let rows: u64 = self.table.manifest().files.iter().map(|f| f.rows).sum();
        let mut fewest = u64::MAX;
        for f in filters {
            let Some((column, terms)) = self.indexed.exact_terms(f) else {
                return Ok(None);
            };
            let bound = self
                .table
                .term_rows_bound(&column, &terms)
                .await
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
            fewest = fewest.min(bound);
        }
        Ok((fewest.saturating_mul(TAKE_MAX_SHARE) > rows).then_some(fewest))
    }

    /// The files to read as row takes ([`TakeScan`]) producing `schema`,
    /// or `None` when the kept rows are too large a share of their files'
    /// rows, or a file is not addressable by row.
    async fn takes(
        &self,
        chosen: &[(usize, Option<RoaringBitmap>)],
        schema: &SchemaRef,
        readers: &StoreReaders,
    ) -> Result<Option<Vec<TakeFile>>> {
        let files = &self.table.manifest().files;
        let (mut kept, mut total) = (0u64, 0u64);
        for (i, rows) in chosen {
            let Some(rows) = rows else {
                return Ok(None);
            };
            kept += rows.len();
            total += files[*i].rows;
        }
        if kept.saturating_mul(TAKE_MAX_SHARE) > total {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(chosen.len());
        for (i, rows) in chosen {
            let rows = rows
                .as_ref()
                .map(|r| r.iter().collect())
                .unwrap_or_default();
            let metadata = readers.metadata(*i).await?;
            let directory = readers.directory(*i, &metadata);
            let Some(take) = RowTake::plan(metadata, Arc::clone(schema), rows) else {
                return Ok(None);
            };
            let take = take.with_directory(directory);
            out.push(TakeFile {
                path: Path::from(files[*i].path.as_str()),
                take,
            });
        }
        Ok(Some(out))
    }
}

/// A row-group access plan reading exactly the rows of `keep`.
fn plan_for(keep: &RoaringBitmap, row_groups: &[u64]) -> ParquetAccessPlan {
    let mut access = Vec::with_capacity(row_groups.len());
    let mut start = 0_u64;
    for &rows in row_groups {
        let end = start + rows;
        let (lo, hi) = (
            u32::try_from(start).unwrap_or(u32::MAX),
            u32::try_from(end).unwrap_or(u32::MAX),
        );
        let wanted = keep.range_cardinality(lo..hi);
        access.push(if wanted == 0 {
            RowGroupAccess::Skip
        } else if wanted == rows {
            RowGroupAccess::Scan
        } else {
            let ranges = runs(keep, lo..hi).map(|r| (r.start - lo) as usize..(r.end - lo) as usize);
            RowGroupAccess::Selection(RowSelection::from_consecutive_ranges(
                ranges,
                usize::try_from(rows).unwrap_or(usize::MAX),
            ))
        });
        start = end;
    }
    ParquetAccessPlan::new(access)
}

/// Maximal runs of consecutive members of `set` within `within`.
fn runs(set: &RoaringBitmap, within: Range<u32>) -> impl Iterator<Item = Range<u32>> + '_ {
    let mut members = set.range(within).peekable();
    std::iter::from_fn(move || {
        let first = members.next()?;
        let mut last = first;
        while members.peek() == Some(&(last + 1)) {
            last += 1;
            members.next();
        }
        Some(first..last + 1)
    })
}

#[async_trait]
impl TableProvider for InfinoTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| {
                if self.indexed.answers_exactly(f) {
                    TableProviderFilterPushDown::Exact
                } else if !mentions_matches(f) {
                    // DataFusion re-checks; the scan narrows by the index
                    // where it can and prunes by Parquet statistics.
                    TableProviderFilterPushDown::Inexact
                } else {
                    // Left above the scan, where `matches` reports why it
                    // cannot run.
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let files = &self.table.manifest().files;
        let readers = self.readers_for(state);
        let mut label = ScanLabel {
            table: self.table.name().to_owned(),
            version: self.table.version(),
            files: files.len(),
            ..ScanLabel::default()
        };
        let mut narrowing: Vec<IndexExpr> = Vec::new();
        // Whether a narrowing predicate is answered by the index alone
        // (`matches`): its rows must then be selected exactly.
        let mut exact = false;
        // Exact equalities on whole-values columns: nothing above the scan
        // checks them, so a scan that widens its rows re-checks them itself.
        let mut rechecked: Vec<Expr> = Vec::new();
        // The rest go to the manifest's summaries. A filter the index
        // narrows is left out there: a file it has candidates in almost
        // never fails its min/max test, and building the pruning costs a
        // fifth of planning an indexed lookup.
        let mut prunable: Vec<Expr> = Vec::new();
        for f in filters {
            if let Some(narrow) = self.indexed.narrow(f) {
                narrowing.push(narrow);
                label.fts_pushdown.push(f.to_string());
                match (self.indexed.answers_exactly(f), mentions_matches(f)) {
                    (true, true) => exact = true,
                    (true, false) => rechecked.push(f.clone()),
                    (false, _) => {}
                }
            } else if !mentions_matches(f) {
                prunable.push(f.clone());
            }
        }
        // An exact `=`/`IN` so broad that no take would read it costs less
        // re-checked over a plain scan than looked up first (the row groups
        // of scattered matches are all read either way): the index is not
        // asked when its terms' document counts already pass a take's share.
        let skip = !exact && !rechecked.is_empty() && rechecked.len() == narrowing.len();
        if skip && let Some(bound) = self.broad(&rechecked).await? {
            narrowing.clear();
            label.fts_pushdown.clear();
            label.index_skipped_at = Some(bound);
            prunable.extend(rechecked.iter().cloned());
        }
        let narrowed = !narrowing.is_empty();
        let candidates: Candidates = match narrowing.len() {
            0 => vec![None; files.len()],
            1 => pushdown::evaluate(&self.table, &narrowing[0]).await?,
            _ => pushdown::evaluate(&self.table, &IndexExpr::And(narrowing)).await?,
        };
        // Files the manifest's min/max/null summaries rule out are not
        // opened. Pruning only ever saves work: if it cannot be planned,
        // every file is kept.
        let keep = prune::files_to_keep(state, &self.table, &self.schema, &prunable)
            .unwrap_or_else(|_| vec![true; files.len()]);
        let mut chosen: Vec<(usize, Option<RoaringBitmap>)> = Vec::new();
        for (i, rows) in candidates.into_iter().enumerate() {
            if !keep.get(i).copied().unwrap_or(true) {
                label.pruned_by_manifest += 1;
                continue;
            }
            match self.kept_rows(i, rows).await? {
                None => label.no_candidates += 1,
                Some(rows) => {
                    if let Some(rows) = &rows {
                        label.selected_files += 1;
                        label.selected_rows += rows.len();
                    }
                    chosen.push((i, rows));
                }
            }
        }
        let projected = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => Arc::clone(&self.schema),
        };
        if chosen.is_empty() {
            return Ok(Arc::new(EmptyExec::new(projected)));
        }
        let partitions = state.config().target_partitions();
        if narrowed && let Some(files) = self.takes(&chosen, &projected, &readers).await? {
            let store = readers.store().clone();
            return Ok(Arc::new(TakeScan::new(
                label, files, store, projected, limit, partitions,
            )));
        }
        // Past the share a take reads, scattered candidates make Parquet's
        // row selection slower than decoding their row groups whole (a 6 %
        // `IN` on the SQL cell: 22 ms selected row by row, 7.7 ms with no
        // index at all), so a narrowing DataFusion re-checks only picks
        // row groups.
        let whole_groups = narrowed && !exact;
        label.whole_row_groups = whole_groups;
        let recheck = if whole_groups || label.index_skipped_at.is_some() {
            conjunction(rechecked)
        } else {
            None
        };
        let mut scanned = Vec::with_capacity(chosen.len());
        for (i, rows) in chosen {
            let entry = &files[i];
            let mut file = PartitionedFile::new(entry.path.clone(), entry.size);
            if let Some(mut rows) = rows {
                let sizes = self.row_groups(i, &readers).await?;
                if whole_groups {
                    rows = self.widened(i, &rows, &sizes).await?;
                }
                file = file.with_extension(plan_for(&rows, &sizes));
            }
            scanned.push(file);
        }
        let groups = partitions.clamp(1, scanned.len());
        let mut file_groups = vec![Vec::new(); groups];
        for (i, file) in scanned.into_iter().enumerate() {
            file_groups[i % groups].push(file);
        }
        // A re-check needs its columns read too, after the asked ones.
        let mut read = projection.cloned();
        if let (Some(read), Some(predicate)) = (&mut read, &recheck) {
            for column in predicate.column_refs() {
                let i = self.schema.index_of(&column.name)?;
                if !read.contains(&i) {
                    read.push(i);
                }
            }
        }
        let source = ParquetSource::new(Arc::clone(&self.schema))
            .with_table_parquet_options(state.table_options().parquet.clone())
            .with_parquet_file_reader_factory(readers as _);
        let config = FileScanConfigBuilder::new(self.url.clone(), Arc::new(source))
            .with_file_groups(file_groups.into_iter().map(FileGroup::new).collect())
            .with_projection_indices(read)?
            .with_limit(if recheck.is_some() { None } else { limit })
            .build();
        let scan = DataSourceExec::from_data_source(LabeledScan::new(Arc::new(config), label));
        let Some(predicate) = recheck else {
            return Ok(scan);
        };
        let predicate =
            state.create_physical_expr(predicate, &DFSchema::try_from(scan.schema())?)?;
        let asked = projection.map(|p| (0..p.len()).collect());
        Ok(Arc::new(
            FilterExecBuilder::new(predicate, scan)
                .apply_projection(asked)?
                .with_fetch(limit)
                .build()?,
        ))
    }
}

/// Whether `expr` calls `matches` anywhere.
fn mentions_matches(expr: &Expr) -> bool {
    expr.exists(|e| Ok(matches!(e, Expr::ScalarFunction(f) if f.name() == pushdown::MATCHES)))
        .unwrap_or(true)
}
