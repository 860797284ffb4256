//! Parquet page headers parsed straight from fetched bytes.
//!
//! A take reads about one row from each of a thousand pages, so the cost
//! of reaching a page's values matters as much as reading them. Parquet's
//! page reader parses each header through `std::io::Read` (a call per
//! byte) and copies it; an uncompressed page's header is instead parsed
//! here in place — Thrift's compact protocol, only the fields a take uses,
//! everything else skipped — and the page's values are a slice of the
//! same bytes.

use crate::error::{Result, SuperfileError};
use parquet::basic::Encoding;

fn corrupt(reason: &str) -> SuperfileError {
    SuperfileError::corrupt("page header", reason.to_owned())
}

/// Thrift structs nest this deep at most before a header is refused
/// (page statistics are two levels down; anything deeper is damage).
const MAX_DEPTH: u32 = 8;

/// What a take needs of one page header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PageHeader {
    pub(crate) kind: PageKind,
    /// Bytes of the header itself: the page's body starts here.
    pub(crate) header_len: usize,
    /// Bytes of the body as stored.
    pub(crate) body_len: usize,
    pub(crate) num_values: u32,
    pub(crate) encoding: Encoding,
    /// Version 2 data pages: the byte lengths of the levels.
    pub(crate) def_levels_len: usize,
    pub(crate) rep_levels_len: usize,
}

/// The kinds of page a take reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PageKind {
    DataV1,
    DataV2,
    Dictionary,
}

/// A cursor over Thrift compact-protocol bytes.
struct Compact<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Compact<'_> {
    fn byte(&mut self) -> Result<u8> {
        let b = *self
            .data
            .get(self.pos)
            .ok_or_else(|| corrupt("header past the end"))?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(corrupt("varint longer than 64 bits"))
    }

    fn int(&mut self) -> Result<i64> {
        let v = self.varint()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    fn i32(&mut self) -> Result<i32> {
        i32::try_from(self.int()?).map_err(|_| corrupt("i32 out of range"))
    }

    /// A non-negative i32 as a size or count.
    fn size(&mut self) -> Result<usize> {
        usize::try_from(self.i32()?).map_err(|_| corrupt("negative size"))
    }

    /// The next field's (id, compact type); `None` at the struct's end.
    fn field(&mut self, last: &mut i16) -> Result<Option<u8>> {
        let b = self.byte()?;
        if b == 0 {
            return Ok(None);
        }
        let delta = b >> 4;
        *last = if delta == 0 {
            i16::try_from(self.int()?).map_err(|_| corrupt("field id out of range"))?
        } else {
            last.checked_add(i16::from(delta))
                .ok_or_else(|| corrupt("field id out of range"))?
        };
        Ok(Some(b & 0x0f))
    }

    /// Skips a value of compact type `kind`.
    fn skip(&mut self, kind: u8, depth: u32) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(corrupt("structs nested too deep"));
        }
        match kind {
            // Booleans in a field header carry their value.
            1 | 2 => {}
            3 => self.pos += 1,
            4..=6 => {
                self.varint()?;
            }
            7 => self.pos += 8,
            8 => {
                let len =
                    usize::try_from(self.varint()?).map_err(|_| corrupt("binary too long"))?;
                self.pos = self
                    .pos
                    .checked_add(len)
                    .ok_or_else(|| corrupt("binary too long"))?;
            }
            9 | 10 => {
                let b = self.byte()?;
                let mut count = usize::from(b >> 4);
                if count == 15 {
                    count =
                        usize::try_from(self.varint()?).map_err(|_| corrupt("list too long"))?;
                }
                let element = b & 0x0f;
                for _ in 0..count {
                    // Booleans in a list are a byte each.
                    if matches!(element, 1 | 2) {
                        self.pos += 1;
                    } else {
                        self.skip(element, depth + 1)?;
                    }
                    if self.pos > self.data.len() {
                        break;
                    }
                }
            }
            11 => {
                let count = self.varint()?;
                if count > 0 {
                    let kinds = self.byte()?;
                    for _ in 0..count {
                        self.skip(kinds >> 4, depth + 1)?;
                        self.skip(kinds & 0x0f, depth + 1)?;
                        if self.pos > self.data.len() {
                            break;
                        }
                    }
                }
            }
            12 => {
                let mut last = 0;
                while let Some(kind) = self.field(&mut last)? {
                    self.skip(kind, depth + 1)?;
                }
            }
            _ => return Err(corrupt("unknown thrift type")),
        }
        if self.pos > self.data.len() {
            return Err(corrupt("header past the end"));
        }
        Ok(())
    }
}

/// The value encodings a take reads, by their Thrift numbers.
fn encoding(value: i32) -> Result<Encoding> {
    Ok(match value {
        0 => Encoding::PLAIN,
        2 => Encoding::PLAIN_DICTIONARY,
        5 => Encoding::DELTA_BINARY_PACKED,
        8 => Encoding::RLE_DICTIONARY,
        _ => return Err(corrupt("a value encoding a take does not read")),
    })
}

/// The header at the start of `data` (a page as the offset index locates
/// it: header, then body).
pub(crate) fn parse(data: &[u8]) -> Result<PageHeader> {
    let mut c = Compact { data, pos: 0 };
    let (mut kind, mut body_len) = (None, None);
    let mut out = PageHeader {
        kind: PageKind::DataV1,
        header_len: 0,
        body_len: 0,
        num_values: 0,
        encoding: Encoding::PLAIN,
        def_levels_len: 0,
        rep_levels_len: 0,
    };
    let mut inner = None;
    let mut last = 0;
    while let Some(t) = c.field(&mut last)? {
        match (last, t) {
            (1, 5) => {
                kind = Some(match c.i32()? {
                    0 => PageKind::DataV1,
                    2 => PageKind::Dictionary,
                    3 => PageKind::DataV2,
                    _ => return Err(corrupt("a page kind a take does not read")),
                });
            }
            (3, 5) => body_len = Some(c.size()?),
            (5 | 7 | 8, 12) => {
                inner = Some(last);
                data_fields(&mut c, last, &mut out)?;
            }
            _ => c.skip(t, 1)?,
        }
    }
    out.kind = kind.ok_or_else(|| corrupt("no page type"))?;
    out.body_len = body_len.ok_or_else(|| corrupt("no page size"))?;
    out.header_len = c.pos;
    let expected = match out.kind {
        PageKind::DataV1 => 5,
        PageKind::Dictionary => 7,
        PageKind::DataV2 => 8,
    };
    if inner != Some(expected) {
        return Err(corrupt("no header for the page's kind"));
    }
    Ok(out)
}

/// The fields of a data, dictionary or v2 data page header (field `of` of
/// the page header).
fn data_fields(c: &mut Compact<'_>, of: i16, out: &mut PageHeader) -> Result<()> {
    let mut last = 0;
    while let Some(t) = c.field(&mut last)? {
        match (of, last, t) {
            (_, 1, 5) => {
                out.num_values =
                    u32::try_from(c.i32()?).map_err(|_| corrupt("negative value count"))?;
            }
            (5 | 7, 2, 5) | (8, 4, 5) => out.encoding = encoding(c.i32()?)?,
            (8, 5, 5) => out.def_levels_len = c.size()?,
            (8, 6, 5) => out.rep_levels_len = c.size()?,
            // Statistics, level encodings, sortedness and the like; a v2
            // page's `is_compressed` too, as the caller parses headers
            // only of uncompressed chunks.
            _ => c.skip(t, 2)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use bytes::Bytes;
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::{WriterProperties, WriterVersion};
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::file::serialized_reader::ReadOptionsBuilder;

    use super::*;

    /// Every page of a small file written with `version`, as (its bytes
    /// from header on, the page Parquet's reader returns).
    fn pages(version: WriterVersion) -> Vec<(Bytes, parquet::column::page::Page)> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let n: Int64Array = (0..5000i64)
            .map(|i| (i % 7 != 0).then_some(i * 3))
            .collect();
        let s: StringArray = (0..5000)
            .map(|i| (i % 5 != 0).then(|| format!("v{}", i % 40)))
            .collect();
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(n), Arc::new(s)])
            .expect("batch");
        let props = WriterProperties::builder()
            .set_writer_version(version)
            .set_data_page_row_count_limit(1000)
            .set_write_batch_size(100)
            .set_statistics_enabled(parquet::file::properties::EnabledStatistics::Page)
            .build();
        let mut out = Vec::new();
        let mut w = ArrowWriter::try_new(&mut out, schema, Some(props)).expect("writer");
        w.write(&batch).expect("write");
        w.close().expect("close");
        let file = Bytes::from(out);
        let options = ReadOptionsBuilder::new().with_page_index().build();
        let reader = SerializedFileReader::new_with_options(file.clone(), options).expect("read");
        let offsets = reader.metadata().offset_index().expect("offset index");
        let mut got = Vec::new();
        for (leaf, index) in offsets[0].iter().enumerate() {
            let chunk = reader.metadata().row_group(0).column(leaf);
            let mut starts: Vec<(usize, usize)> = index
                .page_locations()
                .iter()
                .map(|l| {
                    let start = usize::try_from(l.offset).expect("offset");
                    (
                        start,
                        usize::try_from(l.compressed_page_size).expect("size"),
                    )
                })
                .collect();
            let chunk_start = usize::try_from(chunk.byte_range().0).expect("start");
            if chunk_start < starts[0].0 {
                starts.insert(0, (chunk_start, starts[0].0 - chunk_start));
            }
            let mut reader_pages = reader
                .get_row_group(0)
                .expect("group")
                .get_column_page_reader(leaf)
                .expect("pages");
            for (start, len) in starts {
                let page = reader_pages.get_next_page().expect("page").expect("some");
                got.push((file.slice(start..start + len), page));
            }
        }
        got
    }

    #[test]
    fn agrees_with_parquets_page_reader() {
        for version in [WriterVersion::PARQUET_1_0, WriterVersion::PARQUET_2_0] {
            let all = pages(version);
            assert!(all.len() > 8);
            for (bytes, page) in all {
                let header = parse(&bytes).expect("header");
                assert_eq!(header.header_len + header.body_len, bytes.len());
                let body = &bytes[header.header_len..];
                assert_eq!(header.num_values, page.num_values());
                assert_eq!(header.encoding, page.encoding());
                use parquet::column::page::Page;
                match page {
                    Page::DataPage { buf, .. } => {
                        assert_eq!(header.kind, PageKind::DataV1);
                        assert_eq!(&buf[..], body);
                    }
                    Page::DataPageV2 {
                        buf,
                        def_levels_byte_len,
                        rep_levels_byte_len,
                        ..
                    } => {
                        assert_eq!(header.kind, PageKind::DataV2);
                        assert_eq!(header.def_levels_len, def_levels_byte_len as usize);
                        assert_eq!(header.rep_levels_len, rep_levels_byte_len as usize);
                        assert_eq!(&buf[..], body);
                    }
                    Page::DictionaryPage { buf, .. } => {
                        assert_eq!(header.kind, PageKind::Dictionary);
                        assert_eq!(&buf[..], body);
                    }
                }
            }
        }
    }

    #[test]
    fn damaged_headers_are_errors_not_panics() {
        let all = pages(WriterVersion::PARQUET_2_0);
        for (bytes, _) in all.iter().take(4) {
            let header = parse(bytes).expect("header");
            for cut in 0..header.header_len {
                assert!(parse(&bytes[..cut]).is_err(), "cut at {cut}");
            }
            for at in 0..header.header_len {
                for flip in [0x01u8, 0x10, 0x80, 0xff] {
                    let mut damaged = bytes.to_vec();
                    damaged[at] ^= flip;
                    let _ = parse(&damaged);
                }
            }
        }
        assert!(parse(&[0x0c; 64]).is_err());
    }
}
