//! One data page's values, read at chosen positions.
//!
//! Inside a page, a flat nullable column's definition levels give each
//! wanted row's position among the page's values, and the value is read
//! there (`Source`): at `position · width` for PLAIN fixed-width values,
//! by walking lengths for PLAIN byte arrays, through the delta blocks, or
//! as a dictionary index (from the page directory's runs when it has
//! them, else by walking the runs).

use bytes::Bytes;
use parquet::basic::{Encoding, Type as PhysicalType};

use super::delta::Delta;
use super::directory::IndexRuns;
use super::directory::Spans;
use super::header::{PageHeader, PageKind};
use super::hybrid::Hybrid;
use super::out::ColumnOut;
use super::sub_bytes;
use crate::error::{Result, SuperfileError};

fn corrupt(reason: impl Into<String>) -> SuperfileError {
    SuperfileError::corrupt("column page", reason)
}

/// A data page's definition levels (of a nullable column) and values,
/// borrowed from the buffer holding the page (`owner`).
pub(crate) struct PageParts<'a> {
    owner: &'a Bytes,
    levels: Option<&'a [u8]>,
    values: &'a [u8],
    encoding: Encoding,
}

impl<'a> PageParts<'a> {
    /// The parts of an uncompressed data page, `body` (inside `owner`),
    /// from its parsed header.
    pub(crate) fn of(
        header: &PageHeader,
        owner: &'a Bytes,
        body: &'a [u8],
        nullable: bool,
    ) -> Result<Self> {
        match header.kind {
            PageKind::DataV1 => Self::v1(owner, body, header.encoding, nullable),
            PageKind::DataV2 => Self::v2(
                owner,
                body,
                header.encoding,
                nullable,
                header.def_levels_len,
                header.rep_levels_len,
            ),
            PageKind::Dictionary => Err(corrupt("a second dictionary page")),
        }
    }

    /// A version 1 page `buf` (inside `owner`): levels, when present, are
    /// length-prefixed.
    pub(crate) fn v1(
        owner: &'a Bytes,
        buf: &'a [u8],
        encoding: Encoding,
        nullable: bool,
    ) -> Result<Self> {
        if !nullable {
            return Ok(Self {
                owner,
                levels: None,
                values: buf,
                encoding,
            });
        }
        let len = buf
            .get(..4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or_else(|| corrupt("levels past the end"))?;
        if buf.len() < 4 + len {
            return Err(corrupt("levels past the end"));
        }
        Ok(Self {
            owner,
            levels: Some(&buf[4..4 + len]),
            values: &buf[4 + len..],
            encoding,
        })
    }

    /// A version 2 page `buf` (inside `owner`): the header gives the
    /// levels' lengths.
    pub(crate) fn v2(
        owner: &'a Bytes,
        buf: &'a [u8],
        encoding: Encoding,
        nullable: bool,
        def: usize,
        rep: usize,
    ) -> Result<Self> {
        let end = rep
            .checked_add(def)
            .filter(|&end| end <= buf.len())
            .ok_or_else(|| corrupt("levels past the end"))?;
        Ok(Self {
            owner,
            levels: nullable.then(|| &buf[rep..end]),
            values: &buf[end..],
            encoding,
        })
    }

    /// The runs of the page's dictionary indices, for the page directory;
    /// `None` for values of other encodings.
    pub(crate) fn index_runs(&self) -> Result<Option<IndexRuns>> {
        self.uses_dictionary()
            .then(|| IndexRuns::read(self.values))
            .transpose()
    }

    pub(crate) fn uses_dictionary(&self) -> bool {
        matches!(
            self.encoding,
            Encoding::RLE_DICTIONARY | Encoding::PLAIN_DICTIONARY
        )
    }

    /// Reads the `wanted` positions (ascending) of the page into `out`.
    pub(crate) fn read(
        &self,
        wanted: impl Iterator<Item = u64>,
        dictionary: Option<&Dictionary>,
        runs: Option<&IndexRuns>,
        out: &mut ColumnOut,
    ) -> Result<()> {
        let mut levels = self.levels.map(|l| Hybrid::new(l, 1)).transpose()?;
        let mut source = Source::new(self, out, dictionary, runs)?;
        let (mut present, mut counted) = (0usize, 0usize);
        for position in wanted {
            let position = usize::try_from(position).map_err(|_| corrupt("row past the page"))?;
            let value = match levels.as_mut() {
                Some(levels) => {
                    present += levels.count_equal(counted, position, 1)?;
                    counted = position;
                    if levels.get(position)? != 1 {
                        out.push_null();
                        continue;
                    }
                    present
                }
                None => position,
            };
            source.push(value, out)?;
        }
        Ok(())
    }
}

/// A chunk's dictionary: PLAIN values, fixed-width or length-prefixed.
pub(crate) enum Dictionary {
    Fixed {
        data: Bytes,
        width: usize,
    },
    /// Each value's (offset, length) in the block `out` holds.
    Spans {
        block: u32,
        spans: Spans,
    },
}

impl Dictionary {
    pub(crate) fn new(
        buf: Bytes,
        count: u32,
        physical: PhysicalType,
        out: &mut ColumnOut,
    ) -> Result<Self> {
        if physical != PhysicalType::BYTE_ARRAY {
            let width = fixed_width(physical)?;
            if buf.len() < count as usize * width {
                return Err(corrupt("dictionary shorter than its values"));
            }
            return Ok(Self::Fixed { data: buf, width });
        }
        let mut spans = Vec::with_capacity(count as usize);
        let mut pos = 0usize;
        for _ in 0..count {
            let (offset, len) = length_prefixed(&buf, pos)?;
            spans.push((offset, len));
            pos = offset as usize + len as usize;
        }
        Ok(Self::Spans {
            block: out.block(buf)?,
            spans: spans.into(),
        })
    }
}

impl Dictionary {
    /// Appends dictionary value `k` to `out`.
    pub(crate) fn push(&self, k: u64, out: &mut ColumnOut) -> Result<()> {
        let k = usize::try_from(k).map_err(|_| corrupt("bad index"))?;
        match self {
            Self::Fixed { data, width } => {
                let bytes = data
                    .get(k * width..(k + 1) * width)
                    .ok_or_else(|| corrupt("index past the dictionary"))?;
                out.push_fixed(bytes)
            }
            Self::Spans { block, spans } => {
                let &(offset, len) = spans
                    .get(k)
                    .ok_or_else(|| corrupt("index past the dictionary"))?;
                out.push_view(*block, offset, len)
            }
        }
    }
}

fn fixed_width(physical: PhysicalType) -> Result<usize> {
    match physical {
        PhysicalType::INT32 | PhysicalType::FLOAT => Ok(4),
        PhysicalType::INT64 | PhysicalType::DOUBLE => Ok(8),
        other => Err(corrupt(format!("{other} values are not read by position"))),
    }
}

/// The (offset, length) of the length-prefixed value at `pos` of `data`.
fn length_prefixed(data: &[u8], pos: usize) -> Result<(u32, u32)> {
    let len = data
        .get(pos..pos + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| corrupt("value past the end"))?;
    let start = pos + 4;
    if data.len() < start + len as usize {
        return Err(corrupt("value past the end"));
    }
    let offset = u32::try_from(start).map_err(|_| corrupt("page over 4 GiB"))?;
    Ok((offset, len))
}

/// Where a page's values are read from.
enum Source<'a> {
    Fixed {
        data: &'a [u8],
        width: usize,
    },
    Delta(Delta<'a>),
    Dictionary {
        indices: Hybrid<'a>,
        dictionary: &'a Dictionary,
    },
    /// Dictionary indices whose runs the page directory maps.
    Mapped {
        indices: &'a [u8],
        runs: &'a IndexRuns,
        dictionary: &'a Dictionary,
    },
    /// PLAIN byte arrays: walked from the start, as each value's length
    /// says where the next begins.
    Walk {
        data: &'a [u8],
        block: u32,
        pos: usize,
        index: usize,
    },
}

impl<'a> Source<'a> {
    fn new(
        parts: &PageParts<'a>,
        out: &mut ColumnOut,
        dictionary: Option<&'a Dictionary>,
        runs: Option<&'a IndexRuns>,
    ) -> Result<Self> {
        let values = parts.values;
        match parts.encoding {
            Encoding::PLAIN if out.is_bytes() => Ok(Self::Walk {
                data: values,
                block: out.block(sub_bytes(parts.owner, values)?)?,
                pos: 0,
                index: 0,
            }),
            Encoding::PLAIN => Ok(Self::Fixed {
                data: values,
                width: out.width(),
            }),
            Encoding::DELTA_BINARY_PACKED if !out.is_bytes() => {
                Ok(Self::Delta(Delta::new(values)?))
            }
            Encoding::RLE_DICTIONARY | Encoding::PLAIN_DICTIONARY => {
                let dictionary =
                    dictionary.ok_or_else(|| corrupt("dictionary indices without a dictionary"))?;
                if let Some(runs) = runs {
                    return Ok(Self::Mapped {
                        indices: values,
                        runs,
                        dictionary,
                    });
                }
                let width = *values.first().ok_or_else(|| corrupt("empty index page"))?;
                Ok(Self::Dictionary {
                    indices: Hybrid::new(&values[1..], u32::from(width))?,
                    dictionary,
                })
            }
            other => Err(corrupt(format!("{other} pages are not read by position"))),
        }
    }

    /// Appends value number `i` (ascending across calls) to `out`.
    pub(crate) fn push(&mut self, i: usize, out: &mut ColumnOut) -> Result<()> {
        match self {
            Self::Fixed { data, width } => {
                let bytes = data
                    .get(i * *width..(i + 1) * *width)
                    .ok_or_else(|| corrupt("value past the end"))?;
                out.push_fixed(bytes)?;
            }
            Self::Delta(delta) => out.push_integer(delta.get(i)?),
            Self::Dictionary {
                indices,
                dictionary,
            } => dictionary.push(indices.get(i)?, out)?,
            Self::Mapped {
                indices,
                runs,
                dictionary,
            } => dictionary.push(runs.get(indices, i)?, out)?,
            Self::Walk {
                data,
                block,
                pos,
                index,
            } => {
                while *index < i {
                    let (offset, len) = length_prefixed(data, *pos)?;
                    *pos = offset as usize + len as usize;
                    *index += 1;
                }
                let (offset, len) = length_prefixed(data, *pos)?;
                out.push_view(*block, offset, len)?;
                *pos = offset as usize + len as usize;
                *index += 1;
            }
        }
        Ok(())
    }
}
