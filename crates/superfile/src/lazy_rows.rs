//! Stored vectors of single rows, read lazily for a rerank from the column.
//!
//! A search that reranks from the Parquet column (an index without a rerank
//! payload, or a query that asks for it) needs the exact vectors of its
//! shortlist, a few hundred rows. Where the column's pages are addressable
//! by row (`row_vectors.rs`) each vector is one `4·D`-byte range, read
//! together (one request per vector or run of near vectors, concurrently)
//! and kept; otherwise the rows come through Parquet.

use std::sync::{Arc, PoisonError};

use arrow::array::{Array, AsArray};
use arrow::datatypes::Float32Type;

use crate::error::{Result, SuperfileError};
use crate::lazy::LazySuperfile;
use infino_vector::RowVectors;

use crate::row_vectors::{ColumnVectors, KeptVectors, VectorPages, decode_vector};
use crate::sparse_read::read_sparse;

/// Gap between two wanted vectors that a sparse read fetches rather than
/// splitting the request (a couple of 384-d vectors).
const ROW_FREE_GAP: u64 = 4 * 1024;

impl LazySuperfile {
    /// Where `column`'s vectors lie, if its pages are addressable by row
    /// (`None`: read rows through Parquet). The page index is read on first
    /// use when the kept footer tail does not hold it.
    async fn vector_pages(&self, column: &str, dim: usize) -> Result<Option<Arc<VectorPages>>> {
        if let Some(pages) = self
            .vector_pages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(column)
        {
            return Ok(pages.clone());
        }
        let metadata = self.metadata_with_page_index().await?;
        let pages = VectorPages::new(&metadata, column, dim).map(Arc::new);
        self.vector_pages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(column.to_owned(), pages.clone());
        Ok(pages)
    }

    /// The stored vectors of `rows` (file rows) of the vector column
    /// `column` of dimension `dim`: kept ones from memory, the rest read in
    /// one sparse request (or through Parquet, see
    /// [`vector_pages`](Self::vector_pages)) and kept. Null rows are left
    /// out.
    ///
    /// # Errors
    /// [`SuperfileError::RowOutOfRange`], [`SuperfileError::NoSuchColumn`],
    /// [`SuperfileError::Schema`] for a column of another dimension, storage
    /// or Parquet errors.
    pub async fn column_vectors(
        &self,
        column: &str,
        dim: usize,
        rows: &[u32],
    ) -> Result<ColumnVectors> {
        let mut out: Vec<(u32, Arc<[f32]>)> = Vec::with_capacity(rows.len());
        let mut missing: Vec<u32> = Vec::new();
        {
            let kept = self
                .row_vectors
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            let kept = kept.get(column);
            for &row in rows {
                match kept.and_then(|k| k.get(&row)) {
                    Some(v) => {
                        out.push((row, Arc::clone(v)));
                    }
                    None => missing.push(row),
                }
            }
        }
        missing.sort_unstable();
        missing.dedup();
        if missing.is_empty() {
            return Ok(ColumnVectors::new(out));
        }
        let fetched = match self.vector_pages(column, dim).await? {
            Some(pages) => self.read_addressed(&pages, &missing).await?,
            None => self.read_through_parquet(column, dim, &missing).await?,
        };
        let mut kept = self
            .row_vectors
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let kept = kept.entry(column.to_owned()).or_default();
        for (row, vector) in fetched {
            kept.insert(row, Arc::clone(&vector));
            out.push((row, vector));
        }
        Ok(ColumnVectors::new(out))
    }

    /// `with(vectors)` over the kept stored vectors of `column`, if every
    /// one of `rows` is kept (a warm file), else `None` without calling it:
    /// no await and no copy, so a search reranks on the thread that
    /// shortlisted, reading the kept vectors in place (cloning 200 shared
    /// handles touched 200 cold cache lines).
    pub fn with_kept_column_vectors<R>(
        &self,
        column: &str,
        rows: &[u32],
        with: impl FnOnce(&dyn RowVectors) -> R,
    ) -> Option<R> {
        let kept = self
            .row_vectors
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let kept = kept.get(column)?;
        if !rows.iter().all(|row| kept.contains_key(row)) {
            return None;
        }
        Some(with(&KeptVectors(kept)))
    }

    /// `rows` (sorted, distinct) read as byte ranges of their pages.
    async fn read_addressed(
        &self,
        pages: &VectorPages,
        rows: &[u32],
    ) -> Result<Vec<(u32, Arc<[f32]>)>> {
        let rows_total = self.rows();
        let ranges = rows
            .iter()
            .map(|&row| {
                pages.range(row).ok_or(SuperfileError::RowOutOfRange {
                    row,
                    rows: rows_total,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // Shortlisted rows lie all over the file: merging them into a few
        // requests would read most of the column (70% of it on a 10K-row
        // file), so only near neighbours share a request; the requests run
        // `max_concurrent_requests` at a time.
        let bytes =
            read_sparse(&self.store, &self.path, &ranges, ROW_FREE_GAP, ranges.len()).await?;
        let want = pages.dim() * 4;
        rows.iter()
            .zip(bytes)
            .map(|(&row, b)| {
                if b.len() == want {
                    Ok((row, decode_vector(&b)))
                } else {
                    Err(SuperfileError::corrupt(
                        "vector column",
                        "short vector read",
                    ))
                }
            })
            .collect()
    }

    /// `rows` (sorted, distinct) fetched and decoded through Parquet.
    async fn read_through_parquet(
        &self,
        column: &str,
        dim: usize,
        rows: &[u32],
    ) -> Result<Vec<(u32, Arc<[f32]>)>> {
        let batch = self.fetch_rows(rows, Some(&[column])).await?;
        let wrong = || SuperfileError::Schema {
            column: column.to_owned(),
            reason: format!("not a FixedSizeList<Float32, {dim}> column"),
        };
        let list = batch.column(0).as_fixed_size_list_opt().ok_or_else(wrong)?;
        if usize::try_from(list.value_length()).ok() != Some(dim) || list.len() != rows.len() {
            return Err(wrong());
        }
        let mut out = Vec::with_capacity(rows.len());
        for (i, &row) in rows.iter().enumerate() {
            if list.is_valid(i) {
                let vector = list.value(i);
                let values = vector.as_primitive_opt::<Float32Type>().ok_or_else(wrong)?;
                out.push((row, values.values().as_ref().into()));
            }
        }
        Ok(out)
    }
}
