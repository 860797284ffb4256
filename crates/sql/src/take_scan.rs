//! A table scan that reads a few index-selected rows value by value.
//!
//! When the full-text index narrows a scan to a small share of the rows
//! (an indexed equality at 0.1 % keeps ~4 rows of every 4 Ki-row page),
//! DataFusion's Parquet scan would still decode or skip through every page
//! holding one of them, which costs most of a full scan. [`TakeScan`]
//! reads each file's candidate rows with a [`RowTake`] instead: one batched
//! fetch of the pages holding them, then each value read at its position.
//! DataFusion re-checks the predicate above it, as it does above the
//! Parquet scan. The provider falls back to the Parquet scan when the
//! share is larger or a column or page is not addressable.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use futures::StreamExt;
use infino_store::{Path, Store};
use infino_superfile::{FetchedPages, RowTake};
use tokio::sync::OnceCell;

use crate::explain::ScanLabel;

/// A scan takes rows value by value when they are at most 1/`TAKE_MAX_SHARE`
/// of the rows of the files it reads. Measured on the SQL cell (1M rows,
/// `code IN (…)` of growing length, three columns out): taking 4 % of the
/// rows costs 3.2 ms against 7.3 ms through the Parquet scan, 10 % 7.4 ms
/// against 10.7, 15 % 10.7 against 12.0 — the take stays ahead to about
/// 15 %, so up to 1/8 it is used.
pub(crate) const TAKE_MAX_SHARE: u64 = 8;

/// A take of fewer rows runs as one partition. Handing part of a small
/// take to a second thread costs more than it saves: measured on the SQL
/// cell (1M rows, 2 cores), 1,000 rows decoded in about 270 µs of CPU on
/// one thread and 330 µs over two, and the query ended 65–100 µs sooner
/// on one; at 5,000 rows two threads were 140 µs ahead.
const ONE_PARTITION_ROWS: usize = 2048;

/// How many files' fetches one partition keeps in flight.
const FETCHES_IN_FLIGHT: usize = 8;

/// One file's rows to take.
#[derive(Debug, Clone)]
pub(crate) struct TakeFile {
    pub(crate) path: Path,
    pub(crate) take: RowTake,
}

/// The share of one file's take in consecutive row groups.
#[derive(Debug, Clone)]
struct Piece {
    /// Index into [`TakeScan::files`].
    file: usize,
    take: RowTake,
}

/// Reads the candidate rows of its files, one batch per piece.
#[derive(Debug)]
pub(crate) struct TakeScan {
    label: ScanLabel,
    files: Arc<Vec<TakeFile>>,
    /// Each file's pages, fetched once by whichever partition reads one of
    /// its pieces first (a file's pieces may fall in two partitions), and
    /// kept with the plan.
    fetched: Arc<Vec<OnceCell<FetchedPages>>>,
    /// Pieces per output partition.
    partitions: Vec<Vec<Piece>>,
    store: Store,
    schema: SchemaRef,
    limit: Option<usize>,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl TakeScan {
    /// A scan of `files` through `store` producing `schema`, spread over at
    /// most `partitions` partitions of about as many rows each: the row
    /// groups are dealt out in file order (whole files per partition left
    /// one thread with most of the work), and a file's consecutive groups
    /// in one partition make one piece, decoded as one batch (a batch per
    /// group cost a filter call per 60-odd rows). Each file is still
    /// fetched in one batched read, which its pieces share.
    pub(crate) fn new(
        label: ScanLabel,
        files: Vec<TakeFile>,
        store: Store,
        schema: SchemaRef,
        limit: Option<usize>,
        partitions: usize,
    ) -> Self {
        let sizes: Vec<Vec<usize>> = files.iter().map(|f| f.take.group_sizes()).collect();
        let groups = sizes.iter().map(Vec::len).sum::<usize>();
        let total = sizes.iter().flatten().sum::<usize>().max(1);
        let count = if total < ONE_PARTITION_ROWS {
            1
        } else {
            partitions.clamp(1, groups.max(1))
        };
        let mut split: Vec<Vec<Piece>> = vec![Vec::new(); count];
        let mut before = 0usize;
        for (file, sizes) in sizes.iter().enumerate() {
            // Consecutive row groups of a file that fall in the same
            // partition stay one piece: one batch, one filter call above.
            let mut start = 0usize;
            let mut open: Option<usize> = None;
            for (g, size) in sizes.iter().enumerate() {
                // The partition whose share of the rows this group starts in.
                let at = (before * count / total).min(count - 1);
                before += size;
                if let Some(open) = open
                    && open != at
                {
                    split[open].push(Piece {
                        file,
                        take: files[file].take.group_span(start..g),
                    });
                    start = g;
                }
                open = Some(at);
            }
            if let Some(open) = open {
                split[open].push(Piece {
                    file,
                    take: files[file].take.group_span(start..sizes.len()),
                });
            }
        }
        let fetched = Arc::new(files.iter().map(|_| OnceCell::new()).collect());
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(count),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Self {
            label,
            files: Arc::new(files),
            fetched,
            partitions: split,
            store,
            schema,
            limit,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    fn rows(&self) -> usize {
        self.files.iter().map(|f| f.take.rows().len()).sum()
    }
}

impl DisplayAs for TakeScan {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let columns: Vec<&str> = self
            .schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        write!(
            f,
            "TakeScan: {} row_take={} projection=[{}]",
            self.label,
            self.rows(),
            columns.join(", ")
        )?;
        if let Some(limit) = self.limit {
            write!(f, " limit={limit}")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for TakeScan {
    fn name(&self) -> &'static str {
        "TakeScan"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let pieces = self.partitions.get(partition).cloned().ok_or_else(|| {
            DataFusionError::Internal(format!("TakeScan has no partition {partition}"))
        })?;
        let (files, fetched) = (Arc::clone(&self.files), Arc::clone(&self.fetched));
        let store = self.store.clone();
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let mut left = self.limit.unwrap_or(usize::MAX);
        // The files' fetches start together (a partition holding several
        // files waits about one round trip, not one per file), and each
        // piece decodes, in order, once its file is in.
        let batches = futures::stream::iter(pieces)
            .map(move |piece| {
                let (files, fetched, store) =
                    (Arc::clone(&files), Arc::clone(&fetched), store.clone());
                async move {
                    let whole = &files[piece.file];
                    let pages = fetched[piece.file]
                        .get_or_try_init(|| whole.take.fetch(&store, &whole.path))
                        .await?
                        .clone();
                    Ok::<_, infino_superfile::SuperfileError>((piece, pages))
                }
            })
            .buffered(FETCHES_IN_FLIGHT)
            .map(|fetched| {
                let (piece, pages) = fetched?;
                piece.take.decode_fetched(&pages)
            })
            .map(|batch| batch.map_err(|e| DataFusionError::External(Box::new(e))))
            .filter_map(move |batch| {
                let out = match batch {
                    Ok(_) if left == 0 => None,
                    Ok(batch) => {
                        let batch = batch.slice(0, batch.num_rows().min(left));
                        left -= batch.num_rows();
                        baseline.record_output(batch.num_rows());
                        Some(Ok(batch))
                    }
                    Err(e) => Some(Err(e)),
                };
                std::future::ready(out)
            });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            batches,
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}
