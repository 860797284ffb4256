//! Reading a superfile in place on object storage.
//!
//! Opening costs one suffix read: the last [`SUFFIX_READ_BYTES`] hold the
//! Parquet footer with the region directory (a second read follows only
//! when the footer is longer). The caller may instead hand over the footer
//! tail it kept from an earlier open (the table manifest does), and then
//! opening sends no request. Full-text regions are fetched when first used,
//! several in one batched read; rows are fetched through Parquet's async
//! reader, which requests only the column chunks that hold them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use arrow::array::RecordBatch;
use bytes::Bytes;
use futures::future::{BoxFuture, try_join_all};
use futures::{FutureExt, TryStreamExt};
use infino_fts::FtsIndex;
use infino_store::{Path, Store};
use infino_vector::VectorIndex;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, RowSelection};
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::arrow::{ParquetRecordBatchStreamBuilder, ProjectionMask};
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};
use std::ops::Range;

use crate::error::{Result, SuperfileError};
use crate::format::{Directory, PARQUET_TRAILER_LEN, RegionKind, parse_hex, verify_footer};
use crate::reader::{OpenOptions, plan_fetch, read_directory, select_sorted, verify};

/// Bytes read from the end of a file to find its footer in one request.
pub const SUFFIX_READ_BYTES: u64 = 64 * 1024;

/// Stored vectors kept, by column then row.
pub(crate) type KeptRows = BTreeMap<String, std::collections::HashMap<u32, Arc<[f32]>>>;

/// A superfile read lazily from a [`Store`].
#[derive(Debug)]
pub struct LazySuperfile {
    pub(crate) store: Store,
    pub(crate) path: Path,
    size: u64,
    tail: Bytes,
    metadata: ArrowReaderMetadata,
    pub(crate) directory: Directory,
    pub(crate) options: OpenOptions,
    pub(crate) fts: Mutex<BTreeMap<String, Arc<FtsIndex>>>,
    /// Full-text regions opened from their lookup prefix only.
    pub(crate) fts_prefixes: Mutex<BTreeMap<String, Arc<FtsIndex>>>,
    vectors: tokio::sync::Mutex<BTreeMap<String, Arc<VectorIndex>>>,
    /// Vector index headers read on their own (per-cluster reads).
    pub(crate) vector_headers: Mutex<BTreeMap<String, Arc<infino_vector::IndexHeader>>>,
    /// Vector cluster blocks fetched so far, by (column, cluster).
    pub(crate) clusters: Mutex<std::collections::HashMap<(String, usize), Bytes>>,
    /// Vector cluster heads (no payload) fetched by two-phase reads.
    pub(crate) heads: Mutex<std::collections::HashMap<(String, usize), Bytes>>,
    /// Rerank payload entries fetched by two-phase reads, by (column,
    /// region offset).
    pub(crate) payloads: Mutex<std::collections::HashMap<(String, u64), Bytes>>,
    /// Known lookup-prefix lengths of full-text regions and header lengths
    /// of vector regions, by column.
    pub(crate) lookup_hints: BTreeMap<String, u64>,
    /// Row layouts of vector columns (`None`: not addressable by row).
    pub(crate) vector_pages: Mutex<BTreeMap<String, Option<Arc<crate::row_vectors::VectorPages>>>>,
    /// Stored vectors read for reranks, by (column, row).
    pub(crate) row_vectors: std::sync::RwLock<KeptRows>,
    /// The Parquet metadata with the page index, when it had to be read.
    with_page_index: tokio::sync::OnceCell<Arc<ParquetMetaData>>,
}

impl LazySuperfile {
    /// Open `path` with one suffix read (two if the footer is unusually large).
    /// When the page index lies within that read it is kept too, so row
    /// fetches can select single pages.
    ///
    /// # Errors
    /// Storage errors, or the errors of [`Superfile::open`](crate::Superfile::open)
    /// for a damaged footer or directory.
    pub async fn open(store: &Store, path: &Path, options: OpenOptions) -> Result<Self> {
        let suffix = store.get_suffix(path, SUFFIX_READ_BYTES).await?;
        let size = suffix.object_size;
        let footer_len = footer_len(&suffix.bytes)?;
        let needed = footer_len + PARQUET_TRAILER_LEN;
        if needed > suffix.bytes.len() as u64 {
            if needed > size {
                return Err(SuperfileError::corrupt(
                    "parquet trailer",
                    "footer longer than the file",
                ));
            }
            let tail = store.get_range(path, size - needed..size).await?;
            return Self::from_footer(store, path, size, tail, options);
        }
        // Keep the page index with the footer when the read reached it.
        let footer = &suffix.bytes[suffix.bytes.len() - to_usize(needed)..suffix.bytes.len() - 8];
        let metadata = ParquetMetaDataReader::decode_metadata(footer)?;
        let directory = read_directory(&metadata, size - needed)?;
        let suffix_start = size - suffix.bytes.len() as u64;
        let keep_from = if directory.regions_end() >= suffix_start {
            directory.regions_end()
        } else {
            size - needed
        };
        let tail = suffix.bytes.slice(to_usize(keep_from - suffix_start)..);
        Self::from_footer(store, path, size, tail, options)
    }

    /// Open from a tail kept earlier (see [`LazySuperfile::footer_tail`]);
    /// sends no request. The tail is the footer and trailer, optionally
    /// preceded by the page index (everything after the index regions).
    ///
    /// # Errors
    /// As [`LazySuperfile::open`], for damaged bytes.
    pub fn from_footer(
        store: &Store,
        path: &Path,
        size: u64,
        tail: Bytes,
        options: OpenOptions,
    ) -> Result<Self> {
        let (metadata, directory) = decode_tail(size, &tail, options)?;
        let metadata = ArrowReaderMetadata::try_new(
            Arc::new(metadata),
            ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional),
        )?;
        Ok(Self {
            store: store.clone(),
            path: path.clone(),
            size,
            tail,
            metadata,
            directory,
            options,
            fts: Mutex::new(BTreeMap::new()),
            fts_prefixes: Mutex::new(BTreeMap::new()),
            vectors: tokio::sync::Mutex::new(BTreeMap::new()),
            vector_headers: Mutex::new(BTreeMap::new()),
            clusters: Mutex::new(std::collections::HashMap::new()),
            heads: Mutex::new(std::collections::HashMap::new()),
            payloads: Mutex::new(std::collections::HashMap::new()),
            lookup_hints: BTreeMap::new(),
            vector_pages: Mutex::new(BTreeMap::new()),
            row_vectors: std::sync::RwLock::new(BTreeMap::new()),
            with_page_index: tokio::sync::OnceCell::new(),
        })
    }

    /// Tell the reader how long each full-text region's lookup prefix and
    /// each vector region's header is (the table manifest records both), so
    /// the first query reads exactly that in one request instead of
    /// guessing (and reading too much, or again).
    #[must_use]
    pub fn with_lookup_hints(mut self, hints: BTreeMap<String, u64>) -> Self {
        self.lookup_hints = hints;
        self
    }

    /// The kept tail (page index when read, footer, trailer): hand it to
    /// [`LazySuperfile::from_footer`] to reopen for free.
    pub fn footer_tail(&self) -> &Bytes {
        &self.tail
    }

    /// File size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The region directory.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// Rows in the file.
    pub fn rows(&self) -> u64 {
        self.directory.rows
    }

    /// Fetch the full-text regions of `columns` not yet loaded, in one batched read.
    ///
    /// # Errors
    /// [`SuperfileError::NoSuchColumn`], storage, checksum or region errors.
    pub async fn load_fts(&self, columns: &[&str]) -> Result<()> {
        let mut wanted = Vec::new();
        {
            let loaded = self.fts.lock().unwrap_or_else(PoisonError::into_inner);
            for column in columns {
                let entry = self
                    .directory
                    .region(RegionKind::Fts, column)
                    .ok_or_else(|| SuperfileError::NoSuchColumn {
                        column: (*column).to_owned(),
                        what: "full-text index",
                    })?;
                if !loaded.contains_key(*column)
                    && !wanted
                        .iter()
                        .any(|e: &&crate::RegionEntry| e.column == entry.column)
                {
                    wanted.push(entry);
                }
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let ranges: Vec<_> = wanted
            .iter()
            .map(|e| e.offset..e.offset + e.length)
            .collect();
        let fetched = self.store.get_ranges(&self.path, &ranges).await?;
        let mut opened = Vec::with_capacity(wanted.len());
        for (entry, bytes) in wanted.iter().zip(fetched) {
            if self.options.verify_checksums {
                verify(
                    &format!("full-text region of `{}`", entry.column),
                    &bytes,
                    entry.crc32c,
                )?;
            }
            opened.push((entry.column.clone(), Arc::new(FtsIndex::open(bytes)?)));
        }
        let mut loaded = self.fts.lock().unwrap_or_else(PoisonError::into_inner);
        for (column, index) in opened {
            loaded.entry(column).or_insert(index);
        }
        Ok(())
    }

    /// The full-text index of `column`, fetched on first use.
    ///
    /// # Errors
    /// As [`LazySuperfile::load_fts`].
    pub async fn fts(&self, column: &str) -> Result<Arc<FtsIndex>> {
        self.load_fts(&[column]).await?;
        let loaded = self.fts.lock().unwrap_or_else(PoisonError::into_inner);
        loaded
            .get(column)
            .cloned()
            .ok_or_else(|| SuperfileError::NoSuchColumn {
                column: column.to_owned(),
                what: "full-text index",
            })
    }

    /// The vector index of `column`, its region fetched on first use (one
    /// ranged read; concurrent first uses share it).
    ///
    /// # Errors
    /// [`SuperfileError::NoSuchColumn`], storage, checksum or region errors.
    pub async fn vector(&self, column: &str) -> Result<Arc<VectorIndex>> {
        let mut loaded = self.vectors.lock().await;
        if let Some(index) = loaded.get(column) {
            return Ok(Arc::clone(index));
        }
        let entry = self
            .directory
            .region(RegionKind::Vector, column)
            .ok_or_else(|| SuperfileError::NoSuchColumn {
                column: column.to_owned(),
                what: "vector index",
            })?;
        let bytes = self
            .store
            .get_range(&self.path, entry.offset..entry.offset + entry.length)
            .await?;
        if self.options.verify_checksums {
            verify(
                &format!("vector region of `{column}`"),
                &bytes,
                entry.crc32c,
            )?;
        }
        let index = Arc::new(VectorIndex::open(bytes)?);
        loaded.insert(column.to_owned(), Arc::clone(&index));
        Ok(index)
    }

    /// Rows by ordinal, as [`Superfile::fetch_rows`](crate::Superfile::fetch_rows),
    /// reading only the pages (with a page index; else the column chunks)
    /// of the row groups that hold them. Row groups are read concurrently:
    /// one round trip, where Parquet's stream would read them in turn.
    ///
    /// # Errors
    /// As [`Superfile::fetch_rows`](crate::Superfile::fetch_rows), plus storage errors.
    pub async fn fetch_rows(&self, rows: &[u32], columns: Option<&[&str]>) -> Result<RecordBatch> {
        let (selection, mask) = plan_fetch(&self.metadata, self.directory.rows, rows, columns)?;
        let mut sorted = rows.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        // (row group, its first row, its row count, the wanted rows in it).
        let mut groups: Vec<(usize, u64, u64, Vec<u32>)> = Vec::new();
        let mut first = 0u64;
        let mut wanted = sorted.iter().peekable();
        for (g, group) in self.metadata.metadata().row_groups().iter().enumerate() {
            let len = u64::try_from(group.num_rows()).unwrap_or(0);
            let mut local = Vec::new();
            while let Some(&&row) = wanted.peek() {
                if u64::from(row) >= first + len {
                    break;
                }
                local.push(u32::try_from(u64::from(row) - first).unwrap_or(u32::MAX));
                wanted.next();
            }
            if !local.is_empty() {
                groups.push((g, first, len, local));
            }
            first += len;
        }
        if groups.len() < 2 {
            return self.read_selected(None, selection, mask, rows.len()).await;
        }
        let batches = try_join_all(groups.into_iter().map(|(g, _, len, local)| {
            let selection = select_sorted(&local, len);
            self.read_selected(Some(g), selection, mask.clone(), local.len())
        }))
        .await?;
        let schema = batches
            .first()
            .map(RecordBatch::schema)
            .ok_or_else(|| SuperfileError::corrupt("row groups", "no rows read"))?;
        Ok(arrow::compute::concat_batches(&schema, &batches)?)
    }

    /// The Parquet metadata with the page index: as opened when the kept
    /// tail held it, else with the page index read now (one request, from
    /// the end of the index regions to the end of the file).
    ///
    /// # Errors
    /// Storage errors; corrupt or checksum errors for a damaged page index.
    pub(crate) async fn metadata_with_page_index(&self) -> Result<Arc<ParquetMetaData>> {
        let metadata = self.metadata.metadata();
        let regions_end = self.directory.regions_end();
        if metadata.offset_index().is_some() || regions_end >= self.size {
            return Ok(Arc::clone(metadata));
        }
        // Read once per file, whichever vector column asks first.
        self.with_page_index
            .get_or_try_init(|| async {
                let tail = self
                    .store
                    .get_range(&self.path, regions_end..self.size)
                    .await?;
                let metadata = with_page_index(
                    (**metadata).clone(),
                    &self.directory,
                    &tail,
                    self.size,
                    self.options,
                )?;
                Ok(Arc::new(metadata))
            })
            .await
            .cloned()
    }

    /// Read `selection` of row group `group` (of the whole file when `None`).
    async fn read_selected(
        &self,
        group: Option<usize>,
        selection: RowSelection,
        mask: ProjectionMask,
        rows: usize,
    ) -> Result<RecordBatch> {
        let object = StoreFileReader {
            store: self.store.clone(),
            path: self.path.clone(),
            metadata: Arc::clone(self.metadata.metadata()),
        };
        let mut builder =
            ParquetRecordBatchStreamBuilder::new_with_metadata(object, self.metadata.clone())
                .with_projection(mask)
                .with_row_selection(selection)
                .with_batch_size(rows.max(1));
        if let Some(group) = group {
            builder = builder.with_row_groups(vec![group]);
        }
        let stream = builder.build()?;
        let schema = stream.schema().clone();
        let batches: Vec<RecordBatch> = stream.try_collect().await?;
        Ok(arrow::compute::concat_batches(&schema, &batches)?)
    }
}

/// Decode a superfile's kept tail (the footer and trailer, optionally
/// preceded by the page index: everything after the index regions) into
/// its Parquet metadata, page index included when present, and its region
/// directory. `size` is the file's size. With `verify_checksums` the footer
/// and page index are checked against the directory's CRC32Cs.
///
/// # Errors
/// [`SuperfileError::Corrupt`], [`SuperfileError::Checksum`] or Parquet
/// errors for damaged bytes.
pub fn decode_tail(
    size: u64,
    tail: &Bytes,
    options: OpenOptions,
) -> Result<(ParquetMetaData, Directory)> {
    let footer_total = footer_len(tail)? + PARQUET_TRAILER_LEN;
    if footer_total > tail.len() as u64 || tail.len() as u64 > size {
        return Err(SuperfileError::corrupt(
            "footer",
            "tail length does not match the footer length",
        ));
    }
    let footer_start = tail.len() - to_usize(footer_total);
    let footer = &tail[footer_start..tail.len() - 8];
    let mut metadata = ParquetMetaDataReader::decode_metadata(footer)?;
    let directory = read_directory(&metadata, size - footer_total)?;
    if options.verify_checksums {
        verify_footer(&directory, footer)?;
    }
    let tail_start = size - tail.len() as u64;
    if tail_start <= directory.regions_end() && directory.regions_end() < size - footer_total {
        metadata = with_page_index(metadata, &directory, tail, size, options)?;
    }
    Ok((metadata, directory))
}

/// `metadata` with its page index, read from `tail`: the file's last bytes
/// from the end of the index regions on (page index, footer, trailer),
/// checked against the directory's CRC32C when asked.
fn with_page_index(
    metadata: ParquetMetaData,
    directory: &Directory,
    tail: &Bytes,
    size: u64,
    options: OpenOptions,
) -> Result<ParquetMetaData> {
    let footer_total = footer_len(tail)? + PARQUET_TRAILER_LEN;
    let tail_start = size - tail.len() as u64;
    let page_index = tail
        .get(to_usize(directory.regions_end() - tail_start)..tail.len() - to_usize(footer_total))
        .ok_or_else(|| SuperfileError::corrupt("page index", "outside the file's tail"))?;
    if options.verify_checksums {
        let expected = parse_hex("page_index_crc32c", &directory.page_index_crc32c)?;
        verify("page index", page_index, expected)?;
    }
    let mut reader = ParquetMetaDataReader::new_with_metadata(metadata)
        .with_page_index_policy(PageIndexPolicy::Optional);
    reader.read_page_indexes_sized(tail, size)?;
    Ok(reader.finish()?)
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn footer_len(tail: &[u8]) -> Result<u64> {
    if tail.len() < 8 || &tail[tail.len() - 4..] != b"PAR1" {
        return Err(SuperfileError::corrupt(
            "parquet trailer",
            "missing PAR1 magic",
        ));
    }
    let t = &tail[tail.len() - 8..];
    Ok(u64::from(u32::from_le_bytes([t[0], t[1], t[2], t[3]])))
}

/// Parquet's async reader over our [`Store`]: exact ranged reads, coalesced
/// vectored reads, counted requests; the metadata is already known.
struct StoreFileReader {
    store: Store,
    path: Path,
    metadata: Arc<ParquetMetaData>,
}

fn to_parquet_error(e: infino_store::StoreError) -> parquet::errors::ParquetError {
    parquet::errors::ParquetError::External(Box::new(e))
}

impl AsyncFileReader for StoreFileReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(to_parquet_error)
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move {
            self.store
                .get_ranges(&self.path, &ranges)
                .await
                .map_err(to_parquet_error)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        _options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        let metadata = Arc::clone(&self.metadata);
        async move { Ok(metadata) }.boxed()
    }
}
