//! Every layout constant of the region, and the fixed header's encoding.
//! `FORMAT.md` in the crate root is the byte-exact specification.

use std::mem::size_of;

use crate::codec::groups::Widths;
use crate::error::{FtsError, Result, Section};

/// Region magic bytes.
pub(crate) const MAGIC: [u8; 4] = *b"IFTS";
/// Major version written and the only one read (3: skip entries and term
/// records leave out the ends and lengths of streams the region does not
/// store).
pub(crate) const MAJOR: u16 = 3;
/// Minor version written (1: flag bit 2; 2: flag bit 3).
pub(crate) const MINOR: u16 = 2;
/// Header flag: positions are stored.
pub(crate) const FLAG_POSITIONS: u32 = 1;
/// Header flag: byte offsets are stored (only with positions).
pub(crate) const FLAG_OFFSETS: u32 = 2;
/// Header flag: every document's text is exactly one term, spelled as the
/// text itself (codes, tags, lowercase keywords), so equality with a value
/// that is its own term is answered exactly by that term's postings.
pub(crate) const FLAG_WHOLE_VALUES: u32 = 4;
/// Header flag: the group widths of a block's positions (and offsets)
/// lead its groups instead of sitting before each one (only with
/// positions). Readers that predate it refuse the region (unknown flag)
/// rather than misread it.
pub(crate) const FLAG_LEADING_WIDTHS: u32 = 8;
/// Documents per postings block.
pub(crate) const BLOCK_SIZE: usize = 128;
/// Bytes per skip entry of a multi-block postings list storing `streams`
/// streams (postings, plus positions with flag bit 0, plus offsets with
/// flag bit 1): the last document, one u32 end per stream, the two widths
/// and three bound pairs. Ends of streams that are not stored would
/// always be 0, and over a large corpus they were ~1 % of the region.
pub(crate) const fn skip_entry_len(streams: usize) -> usize {
    4 + 4 * streams + 2 + 2 * crate::codec::bound::MAX_PAIRS
}
/// Terms per term-info chunk: a lookup scans at most this many records
/// (each a few varints), for 2 bytes of directory per term.
pub(crate) const TERM_CHUNK: usize = 16;
/// Bytes per term-info chunk directory entry.
pub(crate) const CHUNK_ENTRY_LEN: usize = 32;
/// Sections are aligned to this many bytes.
pub(crate) const ALIGN: usize = 8;
/// Number of entries in the header's section table.
pub(crate) const SECTION_COUNT: usize = 7;
/// Byte offset of the section table within the header.
const SECTIONS_AT: usize = 40;
/// Bytes of the fixed header before the analyzer configuration.
pub(crate) const FIXED_HEADER_LEN: usize = SECTIONS_AT + SECTION_COUNT * 2 * size_of::<u64>();
/// The largest document id; `u32::MAX` is reserved as the end sentinel.
pub(crate) const MAX_DOC: u32 = u32::MAX - 1;

/// The sections listed in the header's table, in table order (which is
/// also file order). Everything a query needs before it knows its terms'
/// extents — dictionary, term info, norms, presence — comes first, so a
/// lazy reader fetches it as one prefix of the region.
pub(crate) const TABLE_SECTIONS: [Section; SECTION_COUNT] = [
    Section::Dictionary,
    Section::TermInfo,
    Section::Norms,
    Section::Presence,
    Section::Postings,
    Section::Positions,
    Section::Offsets,
];
/// Index of each section in the table.
pub(crate) const TERM_INFO: usize = 1;
pub(crate) const NORMS: usize = 2;
pub(crate) const PRESENCE: usize = 3;
pub(crate) const POSTINGS: usize = 4;
pub(crate) const POSITIONS: usize = 5;
pub(crate) const OFFSETS: usize = 6;

/// A section's location relative to the start of the region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Extent {
    pub(crate) offset: u64,
    pub(crate) len: u64,
}

impl Extent {
    /// The extent as a byte range. Callers only use extents validated to lie
    /// inside a buffer, so the values fit `usize`.
    pub(crate) fn range(self) -> std::ops::Range<usize> {
        let start = usize::try_from(self.offset).unwrap_or(usize::MAX);
        let end = usize::try_from(self.offset.saturating_add(self.len)).unwrap_or(usize::MAX);
        start..end
    }
}

/// The decoded fixed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) minor: u16,
    pub(crate) header_len: u32,
    pub(crate) flags: u32,
    pub(crate) doc_count: u32,
    pub(crate) doc_slots: u32,
    pub(crate) total_tokens: u64,
    pub(crate) term_count: u32,
    pub(crate) analyzer_len: u32,
    pub(crate) sections: [Extent; SECTION_COUNT],
}

/// Rounds `n` up to the section alignment.
pub(crate) fn align_up(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

pub(crate) fn read_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        bytes.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

pub(crate) fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        bytes.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

pub(crate) fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        bytes.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

impl Header {
    /// Appends the fixed header (without the analyzer bytes).
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&MAJOR.to_le_bytes());
        out.extend_from_slice(&self.minor.to_le_bytes());
        out.extend_from_slice(&self.header_len.to_le_bytes());
        out.extend_from_slice(&self.flags.to_le_bytes());
        out.extend_from_slice(&self.doc_count.to_le_bytes());
        out.extend_from_slice(&self.doc_slots.to_le_bytes());
        out.extend_from_slice(&self.total_tokens.to_le_bytes());
        out.extend_from_slice(&self.term_count.to_le_bytes());
        out.extend_from_slice(&self.analyzer_len.to_le_bytes());
        for extent in &self.sections {
            out.extend_from_slice(&extent.offset.to_le_bytes());
            out.extend_from_slice(&extent.len.to_le_bytes());
        }
    }

    /// Decodes and checks the fixed header at the start of `bytes` against a
    /// region of `region_len` bytes (`bytes` may be a prefix of the region):
    /// magic, major version, flags, lengths, and that every section lies
    /// inside the region after the header, aligned and non-overlapping.
    pub(crate) fn read(bytes: &[u8], region_len: u64) -> Result<Header> {
        let corrupt = |at: usize, reason| FtsError::corrupt(Section::Header, at as u64, reason);
        let truncated = |at: usize| corrupt(at, "region shorter than its fixed header");
        if bytes.get(..4).ok_or_else(|| truncated(0))? != MAGIC {
            return Err(corrupt(0, "bad magic"));
        }
        let major = read_u16(bytes, 4).ok_or_else(|| truncated(4))?;
        let minor = read_u16(bytes, 6).ok_or_else(|| truncated(6))?;
        if major != MAJOR {
            return Err(FtsError::UnsupportedVersion {
                found_major: major,
                found_minor: minor,
                supported: MAJOR,
            });
        }
        if bytes.len() < FIXED_HEADER_LEN {
            return Err(truncated(bytes.len()));
        }
        let u32_at = |at| read_u32(bytes, at).ok_or_else(|| truncated(at));
        let u64_at = |at| read_u64(bytes, at).ok_or_else(|| truncated(at));
        let mut header = Header {
            minor,
            header_len: u32_at(8)?,
            flags: u32_at(12)?,
            doc_count: u32_at(16)?,
            doc_slots: u32_at(20)?,
            total_tokens: u64_at(24)?,
            term_count: u32_at(32)?,
            analyzer_len: u32_at(36)?,
            sections: [Extent::default(); SECTION_COUNT],
        };
        let known = FLAG_POSITIONS | FLAG_OFFSETS | FLAG_WHOLE_VALUES | FLAG_LEADING_WIDTHS;
        let positions = header.flags & FLAG_POSITIONS != 0;
        if header.flags & !known != 0
            || (!positions && header.flags & (FLAG_OFFSETS | FLAG_LEADING_WIDTHS) != 0)
        {
            return Err(corrupt(12, "unknown flags"));
        }
        if header.doc_count > header.doc_slots {
            return Err(corrupt(16, "doc count exceeds doc slots"));
        }
        let analyzer_end = FIXED_HEADER_LEN as u64 + u64::from(header.analyzer_len);
        let header_len = u64::from(header.header_len);
        if header_len != align_up_u64(analyzer_end) || header_len > region_len {
            return Err(corrupt(
                8,
                "header length inconsistent with analyzer length",
            ));
        }
        let mut cursor = header_len;
        for (i, slot) in header.sections.iter_mut().enumerate() {
            let at = SECTIONS_AT + i * 16;
            let extent = Extent {
                offset: u64_at(at)?,
                len: u64_at(at + 8)?,
            };
            let end = extent.offset.checked_add(extent.len);
            if !extent.offset.is_multiple_of(ALIGN as u64)
                || extent.offset < cursor
                || end.is_none_or(|end| end > region_len)
            {
                return Err(FtsError::corrupt(
                    TABLE_SECTIONS[i],
                    at as u64,
                    "section out of bounds, unaligned or overlapping",
                ));
            }
            cursor = end.unwrap_or(cursor);
            *slot = extent;
        }
        Ok(header)
    }

    pub(crate) fn has_positions(&self) -> bool {
        self.flags & FLAG_POSITIONS != 0
    }

    pub(crate) fn has_offsets(&self) -> bool {
        self.flags & FLAG_OFFSETS != 0
    }

    pub(crate) fn whole_values(&self) -> bool {
        self.flags & FLAG_WHOLE_VALUES != 0
    }

    /// How the region's position and offset groups place their widths.
    pub(crate) fn group_widths(&self) -> Widths {
        if self.flags & FLAG_LEADING_WIDTHS != 0 {
            Widths::Leading
        } else {
            Widths::Inline
        }
    }
}

pub(crate) fn align_up_u64(n: u64) -> u64 {
    n.div_ceil(ALIGN as u64) * ALIGN as u64
}
