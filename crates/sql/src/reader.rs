//! DataFusion's Parquet reads of a snapshot's superfiles, through the
//! connection's [`Store`].
//!
//! A row selection makes the Parquet reader ask for one byte range per
//! page it needs; `Store::get_ranges` merges near ranges and fetches the
//! merged ones concurrently (and counts every request), where a plain
//! object-store handle would send them one by one. Each file's metadata,
//! page index included, is loaded once per snapshot and shared by every
//! query of the context.

use std::ops::Range;
use std::sync::{Arc, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::ParquetFileReaderFactory;
use datafusion::error::Result;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use futures::FutureExt;
use futures::future::BoxFuture;
use infino_store::{Path, Store, StoreError};
use infino_superfile::PageDirectory;
use infino_table::{FileEntry, Table};
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::{AsyncFileReader, MetadataFetch};
use parquet::errors::ParquetError;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};
use tokio::sync::OnceCell;

/// Bytes read from a file's end to find its footer in one request.
const FOOTER_HINT: usize = 64 * 1024;

/// Readers over `Store` for the files of one snapshot, by path.
#[derive(Debug, Clone)]
pub(crate) struct StoreReaders {
    store: Store,
    snapshot: Arc<Snapshot>,
}

/// What every reader of one snapshot shares, whichever store handle it
/// reads through.
#[derive(Debug)]
struct Snapshot {
    table: Table,
    /// (path, file index in the manifest), sorted by path.
    by_path: Vec<(String, usize)>,
    /// Each file's metadata, loaded once, by file index.
    metadata: Vec<Arc<OnceCell<Arc<ParquetMetaData>>>>,
    /// Each file's page directory for row takes, made on the first take.
    directories: Vec<OnceLock<Arc<PageDirectory>>>,
}

impl StoreReaders {
    pub(crate) fn new(store: Store, table: &Table) -> Self {
        let files = &table.manifest().files;
        let mut by_path: Vec<_> = files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.path.clone(), i))
            .collect();
        by_path.sort();
        Self {
            store,
            snapshot: Arc::new(Snapshot {
                table: table.clone(),
                by_path,
                metadata: files.iter().map(|_| Arc::new(OnceCell::new())).collect(),
                directories: files.iter().map(|_| OnceLock::new()).collect(),
            }),
        }
    }

    /// The same readers sending their requests through `store` (one query's
    /// scoped handle), still sharing the snapshot's loaded metadata: a
    /// query's partitions run on tasks of their own, so its cost and budget
    /// must travel with the handle rather than with the task.
    pub(crate) fn through(&self, store: Store) -> Self {
        Self {
            store,
            snapshot: Arc::clone(&self.snapshot),
        }
    }

    /// The store the readers send their requests through.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// The page directory row takes of file `i` (whose metadata is
    /// `metadata`) share across the snapshot's queries.
    pub(crate) fn directory(&self, i: usize, metadata: &ParquetMetaData) -> Arc<PageDirectory> {
        match self.snapshot.directories.get(i) {
            Some(cell) => Arc::clone(cell.get_or_init(|| Arc::new(PageDirectory::new(metadata)))),
            None => Arc::new(PageDirectory::new(metadata)),
        }
    }

    /// The Parquet metadata of file `i`, page index included when the file
    /// has one: from the tail the manifest keeps (no request), else read
    /// from the file once.
    pub(crate) async fn metadata(&self, i: usize) -> Result<Arc<ParquetMetaData>> {
        let entry = self.snapshot.table.manifest().files.get(i).ok_or_else(|| {
            datafusion::error::DataFusionError::Internal(format!("no file {i} in the snapshot"))
        })?;
        let fetch = Fetch {
            store: self.store.clone(),
            path: Path::from(entry.path.as_str()),
        };
        Ok(load(&self.snapshot.metadata[i], entry, fetch, None).await?)
    }
}

/// The metadata in `cell`, initialized from `entry`'s kept tail or by reading
/// the file's end.
async fn load(
    cell: &OnceCell<Arc<ParquetMetaData>>,
    entry: &FileEntry,
    fetch: Fetch,
    options: Option<&ArrowReaderOptions>,
) -> parquet::errors::Result<Arc<ParquetMetaData>> {
    let metadata = cell
        .get_or_try_init(|| async {
            if let Some(kept) = kept_metadata(entry) {
                return Ok(kept);
            }
            // The page index always: row selections and page pruning
            // need it, and it is loaded once.
            let reader = ParquetMetaDataReader::new()
                .with_metadata_options(options.map(|o| o.metadata_options().clone()))
                .with_page_index_policy(PageIndexPolicy::Optional)
                .with_prefetch_hint(Some(FOOTER_HINT));
            reader
                .load_and_finish(fetch, entry.size)
                .await
                .map(Arc::new)
        })
        .await?;
    Ok(Arc::clone(metadata))
}

/// The metadata from the tail `entry` keeps in the manifest (footer, with
/// the page index when it was small enough), checked against the file's
/// checksums; `None` when nothing usable is kept.
fn kept_metadata(entry: &FileEntry) -> Option<Arc<ParquetMetaData>> {
    let tail = STANDARD.decode(entry.footer.as_deref()?).ok()?;
    let options = infino_superfile::OpenOptions {
        verify_checksums: true,
    };
    infino_superfile::decode_tail(entry.size, &Bytes::from(tail), options)
        .ok()
        .map(|(metadata, _)| Arc::new(metadata))
}

impl ParquetFileReaderFactory for StoreReaders {
    fn create_reader(
        &self,
        _partition_index: usize,
        file: PartitionedFile,
        _metadata_size_hint: Option<usize>,
        _metrics: &ExecutionPlanMetricsSet,
    ) -> Result<Box<dyn AsyncFileReader + Send>> {
        let path = file.object_meta.location.clone();
        let snapshot = &self.snapshot;
        let index = snapshot
            .by_path
            .binary_search_by(|(p, _)| p.as_str().cmp(path.as_ref()))
            .map(|at| snapshot.by_path[at].1)
            .map_err(|_| {
                datafusion::error::DataFusionError::Internal(format!(
                    "{path} is not a file of the snapshot"
                ))
            })?;
        Ok(Box::new(StoreReader {
            fetch: Fetch {
                store: self.store.clone(),
                path,
            },
            table: snapshot.table.clone(),
            index,
            metadata: Arc::clone(&snapshot.metadata[index]),
        }))
    }
}

/// Ranged reads of one file.
#[derive(Clone)]
struct Fetch {
    store: Store,
    path: Path,
}

fn parquet_error(e: StoreError) -> ParquetError {
    ParquetError::External(Box::new(e))
}

impl MetadataFetch for Fetch {
    fn fetch(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(parquet_error)
        }
        .boxed()
    }
}

struct StoreReader {
    fetch: Fetch,
    table: Table,
    index: usize,
    metadata: Arc<OnceCell<Arc<ParquetMetaData>>>,
}

impl AsyncFileReader for StoreReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        self.fetch.fetch(range)
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move {
            self.fetch
                .store
                .get_ranges(&self.fetch.path, &ranges)
                .await
                .map_err(parquet_error)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let entry = &self.table.manifest().files[self.index];
            load(&self.metadata, entry, self.fetch.clone(), options).await
        }
        .boxed()
    }
}
