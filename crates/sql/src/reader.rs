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
use std::sync::Arc;

use bytes::Bytes;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::ParquetFileReaderFactory;
use datafusion::error::Result;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use futures::FutureExt;
use futures::future::BoxFuture;
use infino_store::{Path, Store, StoreError};
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::{AsyncFileReader, MetadataFetch};
use parquet::errors::ParquetError;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};
use tokio::sync::OnceCell;

/// Bytes read from a file's end to find its footer in one request.
const FOOTER_HINT: usize = 64 * 1024;

/// Readers over `Store` for the files of one snapshot, by path.
#[derive(Debug)]
pub(crate) struct StoreReaders {
    store: Store,
    /// (path, loaded metadata), sorted by path.
    files: Vec<(String, Arc<OnceCell<Arc<ParquetMetaData>>>)>,
}

impl StoreReaders {
    pub(crate) fn new(store: Store, paths: impl IntoIterator<Item = String>) -> Self {
        let mut files: Vec<_> = paths
            .into_iter()
            .map(|p| (p, Arc::new(OnceCell::new())))
            .collect();
        files.sort_by(|a, b| a.0.cmp(&b.0));
        Self { store, files }
    }
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
        let metadata = match self
            .files
            .binary_search_by(|(p, _)| p.as_str().cmp(path.as_ref()))
        {
            Ok(i) => Arc::clone(&self.files[i].1),
            Err(_) => Arc::new(OnceCell::new()),
        };
        Ok(Box::new(StoreReader {
            fetch: Fetch {
                store: self.store.clone(),
                path,
            },
            size: file.object_meta.size,
            metadata,
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
    size: u64,
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
            let metadata = self
                .metadata
                .get_or_try_init(|| async {
                    // The page index always: row selections and page
                    // pruning need it, and it is loaded once.
                    let reader = ParquetMetaDataReader::new()
                        .with_metadata_options(options.map(|o| o.metadata_options().clone()))
                        .with_page_index_policy(PageIndexPolicy::Optional)
                        .with_prefetch_hint(Some(FOOTER_HINT));
                    reader
                        .load_and_finish(self.fetch.clone(), self.size)
                        .await
                        .map(Arc::new)
                })
                .await?;
            Ok(Arc::clone(metadata))
        }
        .boxed()
    }
}
