//! Unscored matching: token match and exact match, plus highlights.
//!
//! These answer "which rows" rather than "which rows best": every hit has
//! score 1 and hits come in `_id` order. Both use the full-text index for
//! candidates; `exact_match` then compares the stored values, so it is
//! exact whatever the analyzer does (case, stemming, stop words).

use std::sync::Arc;

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::DataType;
use infino_fts::{FtsIndex, HighlightOptions, MatchMode, Query};
use roaring::RoaringBitmap;

use crate::error::{Result, TableError};
use crate::table::{Hit, Table};

impl Table {
    /// Rows whose `column` holds any (`MatchMode::Any`) or every
    /// (`MatchMode::All`) token of `text` after analysis, in `_id` order,
    /// at most `limit`.
    ///
    /// # Errors
    /// An unindexed column, storage errors.
    pub async fn token_match_hits(
        &self,
        column: &str,
        text: &str,
        mode: MatchMode,
        limit: usize,
    ) -> Result<Vec<Hit>> {
        let text = text.to_owned();
        self.matching_hits(column, limit, move |index| {
            Ok(infino_fts::token_match(index, &text, mode)?)
        })
        .await
    }

    /// [`Table::token_match_hits`] as a batch: `_id`, `_score` (1), `columns`.
    ///
    /// # Errors
    /// As [`Table::token_match_hits`], plus an unknown projected column.
    pub async fn token_match(
        &self,
        column: &str,
        text: &str,
        mode: MatchMode,
        limit: usize,
        columns: &[&str],
    ) -> Result<RecordBatch> {
        let hits = self.token_match_hits(column, text, mode, limit).await?;
        self.resolve(&hits, columns).await
    }

    /// Rows whose `column` equals `value` exactly (byte for byte), in `_id`
    /// order, at most `limit`. Candidates come from the full-text index;
    /// their stored values are then compared.
    ///
    /// # Errors
    /// An unindexed or non-text column, storage errors.
    pub async fn exact_match_hits(
        &self,
        column: &str,
        value: &str,
        limit: usize,
    ) -> Result<Vec<Hit>> {
        let wanted = value.to_owned();
        let candidates = self
            .matching_hits(column, usize::MAX, move |index| {
                Ok(infino_fts::exact_match_candidates(index, &wanted)?)
            })
            .await?;
        let mut out = Vec::new();
        let mut start = 0;
        while start < candidates.len() && out.len() < limit {
            let file = candidates[start].file;
            let end = candidates[start..]
                .iter()
                .position(|h| h.file != file)
                .map_or(candidates.len(), |p| start + p);
            let group = &candidates[start..end];
            let rows: Vec<u32> = group.iter().map(|h| h.row).collect();
            let batch = self.fetch_columns(file, &rows, Some(&[column])).await?;
            let values = text_values(&batch, column)?;
            out.extend(
                group
                    .iter()
                    .zip(values)
                    .filter(|(_, v)| v.as_deref() == Some(value))
                    .map(|(h, _)| *h),
            );
            start = end;
        }
        out.sort_by_key(|h| h.id);
        out.truncate(limit);
        Ok(out)
    }

    /// [`Table::exact_match_hits`] as a batch: `_id`, `_score` (1), `columns`.
    ///
    /// # Errors
    /// As [`Table::exact_match_hits`], plus an unknown projected column.
    pub async fn exact_match(
        &self,
        column: &str,
        value: &str,
        limit: usize,
        columns: &[&str],
    ) -> Result<RecordBatch> {
        let hits = self.exact_match_hits(column, value, limit).await?;
        self.resolve(&hits, columns).await
    }

    /// A highlighted snippet of `column` for each hit (`None` for a null
    /// value), marking the terms `query` scores.
    ///
    /// # Errors
    /// A query syntax error, an unindexed column, storage errors.
    pub async fn highlights(
        &self,
        column: &str,
        query: &str,
        hits: &[Hit],
        options: &HighlightOptions,
    ) -> Result<Vec<Option<String>>> {
        let parsed = Query::parse(query)?;
        self.fts_column(column)?;
        let mut out = vec![None; hits.len()];
        let mut order: Vec<usize> = (0..hits.len()).collect();
        order.sort_by_key(|&i| (hits[i].file, hits[i].row));
        let mut start = 0;
        while start < order.len() {
            let file = hits[order[start]].file;
            let end = order[start..]
                .iter()
                .position(|&i| hits[i].file != file)
                .map_or(order.len(), |p| start + p);
            let mut rows: Vec<u32> = order[start..end].iter().map(|&i| hits[i].row).collect();
            rows.dedup();
            let index = self
                .file(file)
                .await?
                .fts_for_query(column, &parsed, true)
                .await?;
            let batch = self.fetch_columns(file, &rows, Some(&[column])).await?;
            let values = text_values(&batch, column)?;
            for &i in &order[start..end] {
                let Ok(at) = rows.binary_search(&hits[i].row) else {
                    continue;
                };
                if let Some(Some(text)) = values.get(at) {
                    out[i] = Some(infino_fts::highlight(
                        &index,
                        hits[i].row,
                        text,
                        &parsed,
                        options,
                    )?);
                }
            }
            start = end;
        }
        Ok(out)
    }

    /// The live rows matching `query` (the query language of `infino-fts`)
    /// on `column`, per file index, unscored; files whose term blooms rule
    /// the query out are skipped without a request and omitted.
    ///
    /// # Errors
    /// A query syntax error, an unindexed column, storage errors.
    pub async fn matching_rows(
        &self,
        column: &str,
        query: &str,
    ) -> Result<Vec<(usize, RoaringBitmap)>> {
        let parsed = Query::parse(query)?;
        let (opened, _) = self.candidates(column, &parsed).await?;
        let mut out = Vec::with_capacity(opened.len());
        for (file, index) in opened {
            let mut rows = parsed.matching_docs(&index)?;
            if let Some(deleted) = self.deleted_rows(file).await? {
                rows -= deleted.as_ref();
            }
            if !rows.is_empty() {
                out.push((file, rows));
            }
        }
        Ok(out)
    }

    /// An upper bound on the rows whose `column` holds any of `terms`
    /// (analyzed terms), over all files: the sum of the terms' document
    /// counts, deleted rows included. Reads only the lookup prefix (kept by
    /// the snapshot) of each file whose term bloom filter admits a term,
    /// no postings, so a caller can tell a broad lookup from a narrow one
    /// before paying for it.
    ///
    /// # Errors
    /// An unindexed column, storage errors.
    pub async fn term_rows_bound(&self, column: &str, terms: &[String]) -> Result<u64> {
        self.fts_column(column)?;
        let mut bound = 0u64;
        for file in 0..self.manifest().files.len() {
            if !self.bloom_admits(file, column, terms) {
                continue;
            }
            let index = self.file(file).await?.fts_lookup(column).await?;
            for term in terms {
                if let Some(info) = index.term_info(term)? {
                    bound += u64::from(info.doc_freq);
                }
            }
        }
        Ok(bound)
    }

    /// Live rows `matches` selects in each candidate file, as hits in
    /// `_id` order (score 1), at most `limit`.
    async fn matching_hits(
        &self,
        column: &str,
        limit: usize,
        matches: impl Fn(&FtsIndex) -> Result<RoaringBitmap>,
    ) -> Result<Vec<Hit>> {
        self.fts_column(column)?;
        let mut hits = Vec::new();
        for file in 0..self.manifest().files.len() {
            let index: Arc<FtsIndex> = self.file(file).await?.fts(column).await?;
            let mut rows = matches(&index)?;
            if let Some(deleted) = self.deleted_rows(file).await? {
                rows -= deleted.as_ref();
            }
            let rows: Vec<u32> = rows.iter().collect();
            let ids = self.row_ids(file, &rows).await?;
            hits.extend(rows.into_iter().zip(ids).map(|(row, id)| Hit {
                id,
                score: 1.0,
                file,
                row,
            }));
        }
        hits.sort_by_key(|h| h.id);
        hits.truncate(limit);
        Ok(hits)
    }

    fn fts_column(&self, column: &str) -> Result<()> {
        if self.inner.spec.fts.iter().any(|c| c.column == column) {
            Ok(())
        } else {
            Err(TableError::Schema {
                column: column.to_owned(),
                reason: "has no full-text index".into(),
            })
        }
    }
}

/// The values of text column `column` of `batch`.
fn text_values(batch: &RecordBatch, column: &str) -> Result<Vec<Option<String>>> {
    let array = batch
        .column_by_name(column)
        .ok_or_else(|| TableError::Schema {
            column: column.to_owned(),
            reason: "missing from a fetched file".into(),
        })?;
    if !matches!(array.data_type(), DataType::Utf8 | DataType::LargeUtf8) {
        return Err(TableError::Schema {
            column: column.to_owned(),
            reason: format!("is {}, not text", array.data_type()),
        });
    }
    let strings = crate::mutate::texts(array);
    debug_assert_eq!(strings.len(), array.len());
    Ok(strings)
}
