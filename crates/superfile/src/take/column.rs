//! One column chunk's wanted rows, read page by page.
//!
//! The offset index says which rows each page holds and where it lies;
//! only the pages that hold wanted rows are looked at. An uncompressed
//! page (every page of the superfile writer's own SQL columns) is a slice
//! of the fetched bytes whose header is parsed in place (`header.rs`);
//! a compressed one goes through Parquet's page reader, which
//! decompresses it.
//! Inside a page, values are read by position (`page.rs`).

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use parquet::basic::Compression;
use parquet::column::page::{Page, PageReader};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::serialized_reader::SerializedPageReader;

use super::directory::{PageDirectory, PageMap, prefetch};
use super::header::{self, PageHeader, PageKind};
use super::out::ColumnOut;
use super::page::{Dictionary, PageParts};
use super::{Fetched, sub_bytes};
use crate::error::{Result, SuperfileError};

fn corrupt(reason: impl Into<String>) -> SuperfileError {
    SuperfileError::corrupt("column page", reason)
}

/// Pages of one column chunk: (byte range, rows relative to the group).
fn pages(
    metadata: &ParquetMetaData,
    group: usize,
    leaf: usize,
) -> Result<Vec<(Range<u64>, Range<u64>)>> {
    let rows = u64::try_from(metadata.row_group(group).num_rows()).unwrap_or(0);
    let locations = metadata
        .offset_index()
        .and_then(|o| o.get(group)?.get(leaf))
        .ok_or_else(|| corrupt("no offset index"))?
        .page_locations();
    let mut out = Vec::with_capacity(locations.len());
    for (p, page) in locations.iter().enumerate() {
        let first = u64::try_from(page.first_row_index).map_err(|_| corrupt("negative row"))?;
        let end = match locations.get(p + 1) {
            Some(next) => {
                u64::try_from(next.first_row_index).map_err(|_| corrupt("negative row"))?
            }
            None => rows,
        };
        let start = u64::try_from(page.offset).map_err(|_| corrupt("negative offset"))?;
        let size =
            u64::try_from(page.compressed_page_size).map_err(|_| corrupt("negative size"))?;
        if end < first {
            return Err(corrupt("pages out of row order"));
        }
        out.push((start..start + size, first..end));
    }
    Ok(out)
}

/// The byte range of the chunk's dictionary page, if it has one.
fn dictionary_range(
    metadata: &ParquetMetaData,
    group: usize,
    leaf: usize,
    first_page: u64,
) -> Option<Range<u64>> {
    let (start, _) = metadata.row_group(group).column(leaf).byte_range();
    (start < first_page).then_some(start..first_page)
}

/// Appends to `out` the byte ranges a take of `rows` (sorted, relative to
/// the group) reads from the chunk of `leaf` in `group`. A chunk without an
/// offset index adds nothing (planning refuses such files).
pub(crate) fn chunk_ranges(
    metadata: &ParquetMetaData,
    group: usize,
    leaf: usize,
    rows: &[u64],
    out: &mut Vec<Range<u64>>,
) {
    let Ok(pages) = pages(metadata, group, leaf) else {
        return;
    };
    if let Some(dictionary) = pages
        .first()
        .and_then(|(bytes, _)| dictionary_range(metadata, group, leaf, bytes.start))
    {
        out.push(dictionary);
    }
    let mut at = 0;
    for (bytes, page_rows) in pages {
        let n = rows[at..].partition_point(|&r| r < page_rows.end);
        if n > 0 {
            out.push(bytes);
        }
        at += n;
    }
}

/// One column chunk a take reads: the column `leaf` in row group `group`.
pub(crate) struct Chunk<'a> {
    pub(crate) metadata: &'a ParquetMetaData,
    pub(crate) directory: Option<&'a PageDirectory>,
    pub(crate) group: usize,
    pub(crate) leaf: usize,
    pub(crate) nullable: bool,
}

impl Chunk<'_> {
    /// Reads `rows` (sorted, relative to the group) from `fetched` into
    /// `out`. An uncompressed chunk's pages are slices of the fetched
    /// bytes, their headers parsed in place or taken from the directory;
    /// a compressed one's go through Parquet's page reader.
    pub(crate) fn read(
        &self,
        rows: &[u64],
        fetched: &Arc<Fetched>,
        out: &mut ColumnOut,
    ) -> Result<()> {
        let chunk = self.metadata.row_group(self.group).column(self.leaf);
        if chunk.compression() != Compression::UNCOMPRESSED {
            return read_through_parquet(self, rows, fetched, out);
        }
        self.read_uncompressed(rows, fetched, out)
    }

    /// [`read`](Self::read) for an uncompressed chunk.
    fn read_uncompressed(
        &self,
        rows: &[u64],
        fetched: &Fetched,
        out: &mut ColumnOut,
    ) -> Result<()> {
        let (group, leaf) = (self.group, self.leaf);
        let pages = pages(self.metadata, group, leaf)?;
        let dictionary_bytes = pages
            .first()
            .and_then(|(bytes, _)| dictionary_range(self.metadata, group, leaf, bytes.start));
        self.prefetch(&pages, rows, fetched);
        let mut dictionary: Option<Dictionary> = None;
        let mut at = 0;
        for (index, (bytes, page_rows)) in pages.into_iter().enumerate() {
            let n = rows[at..].partition_point(|&r| r < page_rows.end);
            if n == 0 {
                continue;
            }
            let (owner, page) = fetched_slice(fetched, &bytes)?;
            let fresh;
            let map = match self.directory.and_then(|d| d.page(group, leaf, index)) {
                Some(map) => map,
                None => {
                    fresh = self.parse_map(index, owner, page)?;
                    &*fresh
                }
            };
            let parts = PageParts::of(&map.header, owner, body(page, &map.header)?, self.nullable)?;
            if dictionary.is_none() && parts.uses_dictionary() {
                let range = dictionary_bytes
                    .clone()
                    .ok_or_else(|| corrupt("dictionary indices without a dictionary"))?;
                let (owner, page) = fetched_slice(fetched, &range)?;
                dictionary = Some(self.dictionary(owner, page, out)?);
            }
            let wanted = rows[at..at + n].iter().map(|&r| r - page_rows.start);
            parts.read(wanted, dictionary.as_ref(), map.runs.as_ref(), out)?;
            at += n;
        }
        if at != rows.len() {
            return Err(corrupt("rows past the chunk's pages"));
        }
        Ok(())
    }

    /// Prefetches the wanted values of the pages the directory maps, so
    /// that reading them overlaps their loads (pages of non-null columns:
    /// a nullable page's values start after levels of unknown length).
    fn prefetch(&self, pages: &[(Range<u64>, Range<u64>)], rows: &[u64], fetched: &Fetched) {
        let Some(directory) = self.directory.filter(|_| !self.nullable) else {
            return;
        };
        let mut at = 0;
        for (index, (bytes, page_rows)) in pages.iter().enumerate() {
            let n = rows[at..].partition_point(|&r| r < page_rows.end);
            let wanted = &rows[at..at + n];
            at += n;
            let Some(map) = directory.page(self.group, self.leaf, index) else {
                continue;
            };
            let Some(runs) = map.runs.as_ref() else {
                continue;
            };
            let Ok((_, page)) = fetched_slice(fetched, bytes) else {
                return;
            };
            let body =
                map.header.header_len + map.header.rep_levels_len + map.header.def_levels_len;
            for &r in wanted {
                let position = usize::try_from(r - page_rows.start).unwrap_or(usize::MAX);
                if let Some(byte) = runs.byte_of(position) {
                    prefetch(page, body + byte);
                }
            }
        }
    }

    /// The map of data page `index` (bytes `page`, inside `owner`), parsed,
    /// and kept in the directory when there is one.
    fn parse_map(&self, index: usize, owner: &Bytes, page: &[u8]) -> Result<Arc<PageMap>> {
        let header = header::parse(page)?;
        if header.kind == PageKind::Dictionary {
            return Err(corrupt("a second dictionary page"));
        }
        let runs = match self.directory {
            Some(_) => {
                PageParts::of(&header, owner, body(page, &header)?, self.nullable)?.index_runs()?
            }
            None => None,
        };
        let map = Arc::new(PageMap { header, runs });
        if let Some(directory) = self.directory {
            directory.keep_page(self.group, self.leaf, index, Arc::clone(&map));
        }
        Ok(map)
    }

    /// The chunk's dictionary, from its page `bytes` (inside `owner`); its
    /// value spans from the directory when a take has read them before.
    fn dictionary(&self, owner: &Bytes, bytes: &[u8], out: &mut ColumnOut) -> Result<Dictionary> {
        let header = header::parse(bytes)?;
        if header.kind != PageKind::Dictionary {
            return Err(corrupt("dictionary page expected"));
        }
        let values = sub_bytes(owner, body(bytes, &header)?)?;
        let physical = self
            .metadata
            .row_group(self.group)
            .column(self.leaf)
            .column_type();
        let Some(directory) = self.directory else {
            return Dictionary::new(values, header.num_values, physical, out);
        };
        if let Some(spans) = directory.spans(self.group, self.leaf) {
            return Ok(Dictionary::Spans {
                block: out.block(values)?,
                spans,
            });
        }
        let dictionary = Dictionary::new(values, header.num_values, physical, out)?;
        if let Dictionary::Spans { spans, .. } = &dictionary {
            directory.keep_spans(self.group, self.leaf, Arc::clone(spans));
        }
        Ok(dictionary)
    }
}

/// The fetched bytes of file range `bytes`, and the fetched part holding
/// them.
fn fetched_slice<'a>(fetched: &'a Fetched, bytes: &Range<u64>) -> Result<(&'a Bytes, &'a [u8])> {
    let len = usize::try_from(bytes.end - bytes.start).map_err(|_| corrupt("page too large"))?;
    Ok(fetched.borrow(bytes.start, len)?)
}

/// The body of the uncompressed `page` whose header is `header`.
fn body<'a>(page: &'a [u8], header: &PageHeader) -> Result<&'a [u8]> {
    let end = header
        .header_len
        .checked_add(header.body_len)
        .filter(|&end| end <= page.len())
        .ok_or_else(|| corrupt("page body past its location"))?;
    Ok(&page[header.header_len..end])
}

/// [`Chunk::read`] for a compressed chunk, through Parquet's page reader
/// (which decompresses the pages holding wanted rows and skips the rest).
fn read_through_parquet(
    chunk: &Chunk<'_>,
    rows: &[u64],
    fetched: &Arc<Fetched>,
    out: &mut ColumnOut,
) -> Result<()> {
    let Chunk {
        metadata,
        group,
        leaf,
        nullable,
        ..
    } = *chunk;
    let chunk = metadata.row_group(group).column(leaf);
    let pages = pages(metadata, group, leaf)?;
    let locations = metadata
        .offset_index()
        .and_then(|o| o.get(group)?.get(leaf))
        .map(|o| o.page_locations().clone());
    let group_rows = usize::try_from(metadata.row_group(group).num_rows()).unwrap_or(0);
    let mut reader = SerializedPageReader::new(Arc::clone(fetched), chunk, group_rows, locations)?;
    let first_page = pages.first().map(|(bytes, _)| bytes.start);
    let has_dictionary = first_page
        .and_then(|first| dictionary_range(metadata, group, leaf, first))
        .is_some();
    if has_dictionary {
        // Decoded only if a page read uses it: a column that gave its
        // dictionary up after a few pages does not decompress it for rows
        // in its later pages.
        reader.skip_next_page()?;
    }
    let mut dictionary: Option<Dictionary> = None;
    let mut at = 0;
    for (_, page_rows) in pages {
        let n = rows[at..].partition_point(|&r| r < page_rows.end);
        if n == 0 {
            reader.skip_next_page()?;
            continue;
        }
        let page = reader
            .get_next_page()?
            .ok_or_else(|| corrupt("fewer pages than the offset index lists"))?;
        // (page buffer, encoding, v2 level lengths)
        let (buf, encoding, levels) = match page {
            Page::DataPage { buf, encoding, .. } => (buf, encoding, None),
            Page::DataPageV2 {
                buf,
                encoding,
                def_levels_byte_len,
                rep_levels_byte_len,
                ..
            } => (
                buf,
                encoding,
                Some((def_levels_byte_len as usize, rep_levels_byte_len as usize)),
            ),
            Page::DictionaryPage { .. } => return Err(corrupt("a second dictionary page")),
        };
        let parts = match levels {
            None => PageParts::v1(&buf, &buf, encoding, nullable)?,
            Some((def, rep)) => PageParts::v2(&buf, &buf, encoding, nullable, def, rep)?,
        };
        if dictionary.is_none() && parts.uses_dictionary() && has_dictionary {
            dictionary = Some(read_dictionary(metadata, group, leaf, fetched, out)?);
        }
        let wanted = rows[at..at + n].iter().map(|&r| r - page_rows.start);
        parts.read(wanted, dictionary.as_ref(), None, out)?;
        at += n;
    }
    if at != rows.len() {
        return Err(corrupt("rows past the chunk's pages"));
    }
    Ok(())
}

/// The dictionary page of the chunk of `leaf` in `group`, decompressed
/// and decoded.
fn read_dictionary(
    metadata: &ParquetMetaData,
    group: usize,
    leaf: usize,
    fetched: &Arc<Fetched>,
    out: &mut ColumnOut,
) -> Result<Dictionary> {
    let chunk = metadata.row_group(group).column(leaf);
    // A page reader given only the first data page's location reads the
    // dictionary page before it.
    let first = metadata
        .offset_index()
        .and_then(|o| o.get(group)?.get(leaf)?.page_locations().first().cloned())
        .ok_or_else(|| corrupt("no offset index"))?;
    let rows = usize::try_from(metadata.row_group(group).num_rows()).unwrap_or(0);
    let mut reader =
        SerializedPageReader::new(Arc::clone(fetched), chunk, rows, Some(vec![first]))?;
    match reader.get_next_page()? {
        Some(Page::DictionaryPage {
            buf, num_values, ..
        }) => Dictionary::new(buf, num_values, chunk.column_type(), out),
        _ => Err(corrupt("dictionary page expected")),
    }
}
