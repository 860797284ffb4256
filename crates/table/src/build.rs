//! Building superfiles for a commit, and summarizing them for the manifest.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::array::{RecordBatch, UInt64Array};
use arrow::datatypes::SchemaRef;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use infino_fts::{RegionLayout, Section};
use infino_superfile::{
    IndexSpec, OpenOptions, RegionKind, Superfile, SuperfileWriter, WriterOptions,
};

use crate::bloom::TermBloom;
use crate::error::{Result, TableError};
use crate::manifest::{FileEntry, FtsSummary};
use crate::summary;

/// The `_id`s a new file gives its rows.
pub(crate) enum FileIds {
    /// Consecutive from this id (appends).
    From(u64),
    /// One increasing array per batch (compaction keeps rows' ids).
    Given(Vec<UInt64Array>),
}

/// Split `batches` into shards of about `target` rows: (row offset, batches).
/// Rows per shard for an append of `batches`: the fewest equal shards that
/// keep each within `target_rows` rows and, if given, `target_bytes` bytes
/// of Arrow data (so 300 Ki rows at a 256 Ki target make two files of
/// 150 Ki, not one full and one small).
pub(crate) fn shard_rows(
    batches: &[RecordBatch],
    target_rows: u64,
    target_bytes: Option<u64>,
) -> usize {
    let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
    let bytes: u64 = batches
        .iter()
        .map(|b| b.get_array_memory_size() as u64)
        .sum();
    let by_rows = rows.div_ceil(target_rows.max(1));
    let by_bytes = target_bytes.map_or(1, |t| bytes.div_ceil(t.max(1)));
    let count = by_rows.max(by_bytes).clamp(1, rows.max(1));
    usize::try_from(rows.div_ceil(count))
        .unwrap_or(usize::MAX)
        .max(1)
}

pub(crate) fn shards(batches: &[RecordBatch], target: usize) -> Vec<(usize, Vec<RecordBatch>)> {
    let mut out = Vec::new();
    let (mut current, mut rows, mut offset) = (Vec::new(), 0usize, 0usize);
    for batch in batches {
        let mut start = 0;
        while start < batch.num_rows() {
            let take = (target - rows).min(batch.num_rows() - start);
            current.push(batch.slice(start, take));
            rows += take;
            start += take;
            if rows == target {
                out.push((offset, std::mem::take(&mut current)));
                offset += rows;
                rows = 0;
            }
        }
    }
    if rows > 0 {
        out.push((offset, current));
    }
    out
}

/// Write one superfile and summarize it for the manifest.
pub(crate) fn build_file(
    schema: &SchemaRef,
    spec: &IndexSpec,
    ids: FileIds,
    batches: &[RecordBatch],
) -> Result<(bytes::Bytes, FileEntry)> {
    let (first_id, max_id) = match &ids {
        FileIds::From(first) => (*first, None),
        FileIds::Given(arrays) => {
            let mut all = arrays.iter().flat_map(|a| a.values().iter().copied());
            let first = all.next().unwrap_or(0);
            let (last, count) = all.fold((first, 1u64), |(_, n), id| (id, n + 1));
            // Contiguous ids need no `_id` read to map rows.
            (first, (last - first + 1 != count).then_some(last))
        }
    };
    let options = WriterOptions {
        first_id,
        ..WriterOptions::default()
    };
    let mut writer = SuperfileWriter::new(Arc::clone(schema), spec, &options)?;
    match ids {
        FileIds::From(_) => {
            for batch in batches {
                writer.write(batch)?;
            }
        }
        FileIds::Given(arrays) => {
            for (batch, ids) in batches.iter().zip(arrays) {
                writer.write_with_ids(batch, ids)?;
            }
        }
    }
    let bytes = writer.finish()?;
    let columns = summary::columns(batches);
    let mut vectors = BTreeMap::new();
    for v in &spec.vector {
        let Ok(index) = schema.index_of(&v.column) else {
            continue;
        };
        if let Some(s) = summary::vectors(batches, index, v.metric) {
            vectors.insert(v.column.clone(), s);
        }
    }
    let file = Superfile::open(
        bytes.clone(),
        OpenOptions {
            verify_checksums: false,
        },
    )?;
    let mut fts = BTreeMap::new();
    let mut term_blooms = BTreeMap::new();
    let mut term_ranges = BTreeMap::new();
    let mut fts_lookup = BTreeMap::new();
    let mut whole_values = BTreeSet::new();
    for col in &spec.fts {
        let index = file.fts(&col.column)?;
        if index.whole_values() {
            whole_values.insert(col.column.clone());
        }
        let summary = FtsSummary {
            doc_count: u64::from(index.doc_count()),
            total_tokens: index.total_tokens(),
        };
        fts.insert(col.column.clone(), summary);
        let region = file
            .directory()
            .region(RegionKind::Fts, &col.column)
            .ok_or_else(|| TableError::Schema {
                column: col.column.clone(),
                reason: "the written superfile lacks its full-text region".into(),
            })?;
        let start = usize::try_from(region.offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(usize::try_from(region.length).unwrap_or(0));
        let region = bytes.slice(start..end);
        let header = RegionLayout::header_len_of(&region, region.len() as u64)?;
        let layout = RegionLayout::parse(
            region.get(..header).unwrap_or_default(),
            region.len() as u64,
        )?;
        fts_lookup.insert(col.column.clone(), layout.lookup_len());
        let (bloom, range) = term_bloom(&region)?;
        term_blooms.insert(col.column.clone(), bloom.encode());
        if let Some(range) = range {
            term_ranges.insert(col.column.clone(), range);
        }
    }
    let mut vector_lookup = BTreeMap::new();
    for col in &spec.vector {
        let index = file.vector(&col.column)?;
        vector_lookup.insert(col.column.clone(), index.header().data_offset());
    }
    let entry = FileEntry {
        path: String::new(),
        rows: file.rows(),
        first_id,
        size: bytes.len() as u64,
        fts,
        term_blooms,
        footer: footer_tail(&bytes, file.directory().regions_end())
            .map(|tail| STANDARD.encode(tail)),
        max_id,
        deletes: None,
        columns,
        term_ranges,
        vectors,
        fts_lookup,
        vector_lookup,
        whole_values,
    };
    Ok((bytes, entry))
}

/// A bloom filter of every term in a full-text region's dictionary, and the
/// smallest and largest term (UTF-8 terms only; `None` for an empty one).
fn term_bloom(region: &bytes::Bytes) -> Result<(TermBloom, Option<(String, String)>)> {
    use fst::Streamer;
    let layout = RegionLayout::parse(region, region.len() as u64)?;
    let corrupt = |reason: &str| TableError::Schema {
        column: String::new(),
        reason: reason.to_owned(),
    };
    let range = layout
        .sections
        .iter()
        .find(|(section, _)| *section == Section::Dictionary)
        .map(|(_, r)| r.clone())
        .ok_or_else(|| corrupt("full-text region without a dictionary"))?;
    let dictionary = region
        .slice(usize::try_from(range.start).unwrap_or(0)..usize::try_from(range.end).unwrap_or(0));
    let map = fst::Map::new(dictionary).map_err(|e| corrupt(&e.to_string()))?;
    let mut bloom = TermBloom::with_capacity(u64::from(layout.term_count));
    let mut stream = map.stream();
    let (mut first, mut last) = (None, None);
    while let Some((term, _)) = stream.next() {
        bloom.insert(term);
        if first.is_none() {
            first = Some(term.to_vec());
        }
        last = Some(term.to_vec());
    }
    let range = match (first, last) {
        (Some(a), Some(b)) => String::from_utf8(a).ok().zip(String::from_utf8(b).ok()),
        _ => None,
    };
    Ok((bloom, range))
}

/// Tails (page index, footer, trailer) up to this size are kept in the
/// manifest; beyond it the footer alone is kept when it fits.
const MAX_KEPT_TAIL: usize = 16 * 1024;

/// What of a superfile's end the manifest keeps, so a cold reader opens it
/// without a request: everything after the index regions (the page index,
/// so row fetches select single pages, then the footer) when small enough,
/// else the footer and trailer, else nothing.
pub(crate) fn footer_tail(file: &[u8], regions_end: u64) -> Option<&[u8]> {
    let len = file.len();
    let trailer: [u8; 4] = file.get(len.checked_sub(8)?..len - 4)?.try_into().ok()?;
    let footer = usize::try_from(u32::from_le_bytes(trailer)).ok()? + 8;
    let with_page_index = len.saturating_sub(usize::try_from(regions_end).ok()?);
    let keep = if with_page_index <= MAX_KEPT_TAIL && with_page_index >= footer {
        with_page_index
    } else if footer <= MAX_KEPT_TAIL {
        footer
    } else {
        return None;
    };
    file.get(len.checked_sub(keep)?..)
}
