//! What a table scan did before DataFusion's Parquet scan, in `EXPLAIN`.
//!
//! The scan of a table is DataFusion's own (`DataSourceExec` over a
//! `FileScanConfig` with `ParquetSource`), so `EXPLAIN` would show files
//! and predicates but not what infino decided while planning: which
//! predicates the full-text index answered, how many files the manifest's
//! summaries or the index ruled out, how many rows remain selected. A
//! [`LabeledScan`] is that `FileScanConfig` with a label: every method
//! defers to it (and re-labels what it returns), only the display adds
//! `infino: table=… fts_index_pushdown=[…] files=…` before DataFusion's
//! own text.

use std::any::Any;
use std::fmt::{self, Formatter};
use std::sync::Arc;

use datafusion::common::Statistics;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::source::{DataSource, OpenArgs};
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::projection::ProjectionExprs;
use datafusion::physical_expr::{
    EquivalenceProperties, LexOrdering, Partitioning, PhysicalExpr, PhysicalSortExpr,
};
use datafusion::physical_plan::DisplayFormatType;
use datafusion::physical_plan::SortOrderPushdownResult;
use datafusion::physical_plan::execution_plan::SchedulingType;
use datafusion::physical_plan::filter_pushdown::FilterPushdownPropagation;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;

/// What a table scan's planning decided.
#[derive(Debug, Clone, Default)]
pub(crate) struct ScanLabel {
    /// Table name and pinned version.
    pub(crate) table: String,
    pub(crate) version: u64,
    /// The predicates the full-text index answered (empty: none).
    pub(crate) fts_pushdown: Vec<String>,
    /// Files in the snapshot.
    pub(crate) files: usize,
    /// Files the manifest's min/max/null summaries ruled out (not opened).
    pub(crate) pruned_by_manifest: usize,
    /// Files with no candidate row left by the index and deletion vectors.
    pub(crate) no_candidates: usize,
    /// Files scanned with a row selection, and the rows it keeps.
    pub(crate) selected_files: usize,
    pub(crate) selected_rows: u64,
    /// Whether the selected files are read by whole row groups (those
    /// holding a selected row, less deleted rows) rather than row by row.
    pub(crate) whole_row_groups: bool,
    /// When the index was not asked: its terms' document counts bounded
    /// the matches above a take's share, so a plain scan re-checks them.
    pub(crate) index_skipped_at: Option<u64>,
}

impl ScanLabel {
    /// Files left to scan.
    fn scanned(&self) -> usize {
        self.files
            .saturating_sub(self.pruned_by_manifest + self.no_candidates)
    }
}

impl fmt::Display for ScanLabel {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "infino: table={} version={} fts_index_pushdown=[{}] files={}/{} \
             pruned_by_manifest={} no_index_candidates={} selected_rows={} row_selected_files={} \
             whole_row_groups={}",
            self.table,
            self.version,
            self.fts_pushdown.join(", "),
            self.scanned(),
            self.files,
            self.pruned_by_manifest,
            self.no_candidates,
            self.selected_rows,
            self.selected_files,
            self.whole_row_groups,
        )?;
        match self.index_skipped_at {
            Some(bound) => write!(f, " index_skipped=broad(<={bound} rows)"),
            None => Ok(()),
        }
    }
}

/// A table's Parquet scan with its [`ScanLabel`].
#[derive(Debug)]
pub(crate) struct LabeledScan {
    inner: Arc<dyn DataSource>,
    label: Arc<ScanLabel>,
}

impl LabeledScan {
    pub(crate) fn new(inner: Arc<dyn DataSource>, label: ScanLabel) -> Self {
        Self {
            inner,
            label: Arc::new(label),
        }
    }

    /// `inner` (a changed copy of the scan) with the same label.
    fn relabel(&self, inner: Arc<dyn DataSource>) -> Arc<dyn DataSource> {
        Arc::new(Self {
            inner,
            label: Arc::clone(&self.label),
        })
    }
}

impl DataSource for LabeledScan {
    fn open(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        self.inner.open(partition, context)
    }

    fn open_with_args(&self, args: OpenArgs) -> Result<SendableRecordBatchStream> {
        self.inner.open_with_args(args)
    }

    fn fmt_as(&self, t: DisplayFormatType, f: &mut Formatter) -> fmt::Result {
        match t {
            DisplayFormatType::TreeRender => writeln!(f, "{}", self.label)?,
            DisplayFormatType::Default | DisplayFormatType::Verbose => {
                write!(f, "{}, ", self.label)?;
            }
        }
        self.inner.fmt_as(t, f)
    }

    fn repartitioned(
        &self,
        target_partitions: usize,
        repartition_file_min_size: usize,
        output_ordering: Option<LexOrdering>,
    ) -> Result<Option<Arc<dyn DataSource>>> {
        Ok(self
            .inner
            .repartitioned(
                target_partitions,
                repartition_file_min_size,
                output_ordering,
            )?
            .map(|inner| self.relabel(inner)))
    }

    fn output_partitioning(&self) -> Partitioning {
        self.inner.output_partitioning()
    }

    fn eq_properties(&self) -> EquivalenceProperties {
        self.inner.eq_properties()
    }

    fn scheduling_type(&self) -> SchedulingType {
        self.inner.scheduling_type()
    }

    fn partition_statistics(&self, partition: Option<usize>) -> Result<Arc<Statistics>> {
        self.inner.partition_statistics(partition)
    }

    fn with_fetch(&self, limit: Option<usize>) -> Option<Arc<dyn DataSource>> {
        self.inner
            .with_fetch(limit)
            .map(|inner| self.relabel(inner))
    }

    fn fetch(&self) -> Option<usize> {
        self.inner.fetch()
    }

    fn metrics(&self) -> ExecutionPlanMetricsSet {
        self.inner.metrics()
    }

    fn try_swapping_with_projection(
        &self,
        projection: &ProjectionExprs,
    ) -> Result<Option<Arc<dyn DataSource>>> {
        Ok(self
            .inner
            .try_swapping_with_projection(projection)?
            .map(|inner| self.relabel(inner)))
    }

    fn try_pushdown_filters(
        &self,
        filters: Vec<Arc<dyn PhysicalExpr>>,
        config: &ConfigOptions,
    ) -> Result<FilterPushdownPropagation<Arc<dyn DataSource>>> {
        let mut pushed = self.inner.try_pushdown_filters(filters, config)?;
        pushed.updated_node = pushed.updated_node.map(|inner| self.relabel(inner));
        Ok(pushed)
    }

    fn try_pushdown_sort(
        &self,
        order: &[PhysicalSortExpr],
    ) -> Result<SortOrderPushdownResult<Arc<dyn DataSource>>> {
        Ok(self
            .inner
            .try_pushdown_sort(order)?
            .map(|inner| self.relabel(inner)))
    }

    fn with_preserve_order(&self, preserve_order: bool) -> Option<Arc<dyn DataSource>> {
        self.inner
            .with_preserve_order(preserve_order)
            .map(|inner| self.relabel(inner))
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.inner.apply_expressions(f)
    }

    fn with_new_state(&self, state: Arc<dyn Any + Send + Sync>) -> Option<Arc<dyn DataSource>> {
        self.inner
            .with_new_state(state)
            .map(|inner| self.relabel(inner))
    }

    fn create_sibling_state(&self, config: &ConfigOptions) -> Option<Arc<dyn Any + Send + Sync>> {
        self.inner.create_sibling_state(config)
    }
}
