//! A region's header, readable on its own.
//!
//! The container can fetch just the first [`RegionLayout::FIXED_HEADER_LEN`]
//! bytes, learn the full header length, fetch that, and then know the
//! analyzer, the per-file BM25 statistics (`N`, token total) and where every
//! section lies — without reading the dictionary or postings.

use std::ops::Range;

use crate::analyzer::AnalyzerConfig;
use crate::error::{FtsError, Result, Section};
use crate::format::{self, Header, TABLE_SECTIONS};

/// The decoded header of a region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionLayout {
    /// Bytes of the header, analyzer configuration included; the first
    /// section starts here.
    pub header_len: usize,
    /// The region's minor format version.
    pub minor_version: u16,
    /// Documents with a value.
    pub doc_count: u32,
    /// One more than the largest document id added.
    pub doc_slots: u32,
    /// Sum of exact document lengths.
    pub total_tokens: u64,
    /// Distinct terms.
    pub term_count: u32,
    /// Whether positions are stored.
    pub has_positions: bool,
    /// Whether byte offsets are stored.
    pub has_offsets: bool,
    /// The analyzer the region was built with.
    pub analyzer: AnalyzerConfig,
    /// Every section's byte range within the region, in file order.
    pub sections: Vec<(Section, Range<u64>)>,
}

impl RegionLayout {
    /// Bytes from the start of the region through the lookup sections
    /// (header, dictionary, term info, norms, presence): what
    /// [`FtsIndex::open_prefix`](crate::FtsIndex::open_prefix) needs.
    pub fn lookup_len(&self) -> u64 {
        self.sections
            .iter()
            .find(|(section, _)| *section == Section::Postings)
            .map_or(self.header_len as u64, |(_, range)| range.start)
    }

    /// Bytes needed to learn [`header_len`](Self::header_len) via
    /// [`header_len`](Self::header_len_of).
    pub const FIXED_HEADER_LEN: usize = format::FIXED_HEADER_LEN;

    /// The full header length, from at least the first
    /// [`FIXED_HEADER_LEN`](Self::FIXED_HEADER_LEN) bytes of a region of
    /// `region_len` bytes.
    ///
    /// # Errors
    /// As [`parse`](Self::parse) for the fixed part.
    pub fn header_len_of(prefix: &[u8], region_len: u64) -> Result<usize> {
        let header = Header::read(prefix, region_len)?;
        Ok(header.header_len as usize)
    }

    /// Decodes the header from a prefix of a region of `region_len` bytes;
    /// `prefix` must hold at least the header ([`header_len`](Self::header_len)
    /// bytes).
    ///
    /// # Errors
    /// [`FtsError::UnsupportedVersion`] for a newer major version;
    /// [`FtsError::Corrupt`] for a malformed or too-short header.
    pub fn parse(prefix: &[u8], region_len: u64) -> Result<RegionLayout> {
        let header = Header::read(prefix, region_len)?;
        if prefix.len() < header.header_len as usize {
            return Err(FtsError::corrupt(
                Section::Header,
                prefix.len() as u64,
                "prefix shorter than header",
            ));
        }
        let analyzer_end = format::FIXED_HEADER_LEN + header.analyzer_len as usize;
        let analyzer = prefix
            .get(format::FIXED_HEADER_LEN..analyzer_end)
            .ok_or_else(|| FtsError::corrupt(Section::Analyzer, 0, "prefix shorter than header"))?;
        Ok(RegionLayout {
            header_len: header.header_len as usize,
            minor_version: header.minor,
            doc_count: header.doc_count,
            doc_slots: header.doc_slots,
            total_tokens: header.total_tokens,
            term_count: header.term_count,
            has_positions: header.has_positions(),
            has_offsets: header.has_offsets(),
            analyzer: AnalyzerConfig::from_bytes(analyzer)?,
            sections: TABLE_SECTIONS
                .iter()
                .zip(header.sections)
                .map(|(section, e)| (*section, e.offset..e.offset + e.len))
                .collect(),
        })
    }
}
