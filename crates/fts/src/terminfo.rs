//! The term-info section: per-term statistics and where the term's bytes
//! lie, as compact variable-length records.
//!
//! Most terms of a natural-language corpus are rare, so fixed-width rows
//! (a v1 row was 56 bytes) cost more than the postings they describe.
//! Records here are varints; a term in one document keeps that document
//! and its tf inline and has no postings bytes at all. Records are grouped
//! in chunks of [`TERM_CHUNK`] terms; a fixed-width directory gives each
//! chunk's record offset and the absolute start of its first term's
//! postings, positions and offsets, and each record only carries its
//! lengths — so finding a term costs one directory read and a scan of at
//! most 15 short records.

use crate::codec::bound::{Bound, MAX_PAIRS};
use crate::codec::varint;
use crate::format::{self, BLOCK_SIZE, CHUNK_ENTRY_LEN, TERM_CHUNK};

/// How a term's postings are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// One document, kept in the record; no postings bytes.
    Inline {
        /// The document.
        doc: u32,
        /// Its term frequency.
        tf: u32,
    },
    /// 2..=128 documents in one block without a skip table; the record
    /// holds the block's bound.
    Single {
        /// Dominates every document of the term.
        bound: Bound,
    },
    /// More than 128 documents: a skip table, then the blocks.
    Multi {
        /// Dominates every document of the term.
        bound: Bound,
    },
}

/// One decoded record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) doc_freq: u32,
    pub(crate) total_tf: u64,
    pub(crate) shape: Shape,
    /// Byte lengths of the term's postings, positions and offsets.
    pub(crate) lens: [u64; 3],
}

/// Builds the section, one term at a time in ordinal order.
#[derive(Default)]
pub(crate) struct TermTableWriter {
    directory: Vec<u8>,
    records: Vec<u8>,
    count: usize,
    has_positions: bool,
    has_offsets: bool,
}

impl TermTableWriter {
    /// A writer for a region storing positions and offsets as given
    /// (offsets only with positions).
    pub(crate) fn new(has_positions: bool, has_offsets: bool) -> Self {
        TermTableWriter {
            has_positions,
            has_offsets: has_positions && has_offsets,
            ..TermTableWriter::default()
        }
    }

    /// Appends `record`, whose bytes start at `starts` (postings,
    /// positions, offsets; relative to their sections).
    pub(crate) fn push(&mut self, record: &Record, starts: [u64; 3]) {
        if self.count.is_multiple_of(TERM_CHUNK) {
            self.directory
                .extend_from_slice(&(self.records.len() as u64).to_le_bytes());
            for start in starts {
                self.directory.extend_from_slice(&start.to_le_bytes());
            }
        }
        self.count += 1;
        let out = &mut self.records;
        varint::write_u32(record.doc_freq, out);
        varint::write_u64(record.total_tf - u64::from(record.doc_freq), out);
        match record.shape {
            Shape::Inline { doc, .. } => varint::write_u32(doc, out),
            Shape::Single { bound } | Shape::Multi { bound } => {
                varint::write_u64(record.lens[0], out);
                let pairs = bound.pairs();
                out.push(u8::try_from(pairs.len()).unwrap_or(0));
                for &(tf, norm) in pairs {
                    out.push(crate::codec::bound::encode_tf(tf));
                    out.push(norm);
                }
            }
        }
        if self.has_positions {
            varint::write_u64(record.lens[1], out);
        }
        if self.has_offsets {
            varint::write_u64(record.lens[2], out);
        }
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.directory.append(&mut self.records);
        self.directory
    }
}

/// Bytes of the chunk directory for `term_count` terms.
pub(crate) fn directory_len(term_count: u32) -> usize {
    (term_count as usize).div_ceil(TERM_CHUNK) * CHUNK_ENTRY_LEN
}

/// Which streams a region stores besides postings: positions (flag bit 0)
/// and offsets (flag bit 1, only with positions). A record carries the
/// length of each stored stream only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Streams {
    pub(crate) positions: bool,
    pub(crate) offsets: bool,
}

/// The record of term `ordinal` and the absolute starts of its bytes
/// (relative to their sections), or `None` if the section is malformed.
/// `ordinal` must be below `term_count`.
pub(crate) fn lookup(
    section: &[u8],
    term_count: u32,
    ordinal: u32,
    streams: Streams,
) -> Option<(Record, [u64; 3])> {
    let chunk = ordinal as usize / TERM_CHUNK;
    let entry = chunk * CHUNK_ENTRY_LEN;
    let records_at = directory_len(term_count);
    let mut at = usize::try_from(format::read_u64(section, entry)?)
        .ok()?
        .checked_add(records_at)?;
    let mut starts = [0u64; 3];
    for (i, start) in starts.iter_mut().enumerate() {
        *start = format::read_u64(section, entry + 8 + 8 * i)?;
    }
    for _ in 0..ordinal as usize % TERM_CHUNK {
        let lens = skip_record(section, &mut at, streams)?;
        for (start, len) in starts.iter_mut().zip(lens) {
            *start = start.checked_add(len)?;
        }
    }
    Some((read_record(section, &mut at, streams)?, starts))
}

/// The lengths of the record at `at`, moving past it: what a lookup needs
/// of the records before its term. The bound pairs are stepped over, not
/// decoded (they are checked when their own term is read).
fn skip_record(bytes: &[u8], at: &mut usize, streams: Streams) -> Option<[u64; 3]> {
    let doc_freq = varint::read_u32(bytes, at)?;
    varint::read_u64(bytes, at)?;
    let mut lens = [0u64; 3];
    match doc_freq {
        0 => return None,
        1 => {
            varint::read_u32(bytes, at)?;
        }
        _ => {
            lens[0] = varint::read_u64(bytes, at)?;
            let count = usize::from(*bytes.get(*at)?);
            if count == 0 || count > MAX_PAIRS {
                return None;
            }
            *at += 1 + 2 * count;
        }
    }
    if streams.positions {
        lens[1] = varint::read_u64(bytes, at)?;
    }
    if streams.positions && streams.offsets {
        lens[2] = varint::read_u64(bytes, at)?;
    }
    Some(lens)
}

fn read_record(bytes: &[u8], at: &mut usize, streams: Streams) -> Option<Record> {
    let doc_freq = varint::read_u32(bytes, at)?;
    let total_tf = varint::read_u64(bytes, at)?.checked_add(u64::from(doc_freq))?;
    let mut lens = [0u64; 3];
    let shape = match doc_freq {
        0 => return None,
        1 => Shape::Inline {
            doc: varint::read_u32(bytes, at)?,
            tf: u32::try_from(total_tf).ok()?,
        },
        df => {
            lens[0] = varint::read_u64(bytes, at)?;
            let count = usize::from(*bytes.get(*at)?);
            *at += 1;
            if count == 0 || count > MAX_PAIRS {
                return None;
            }
            let raw = bytes.get(*at..*at + 2 * count)?;
            *at += 2 * count;
            let mut codes = [(0u8, 0u8); MAX_PAIRS];
            for (slot, pair) in codes.iter_mut().zip(raw.chunks_exact(2)) {
                *slot = (pair[0], pair[1]);
            }
            let bound = Bound::from_codes(&codes[..count])?;
            if df as usize <= BLOCK_SIZE {
                Shape::Single { bound }
            } else {
                Shape::Multi { bound }
            }
        }
    };
    if streams.positions {
        lens[1] = varint::read_u64(bytes, at)?;
    }
    if streams.positions && streams.offsets {
        lens[2] = varint::read_u64(bytes, at)?;
    }
    Some(Record {
        doc_freq,
        total_tf,
        shape,
        lens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn records_round_trip(
            terms in proptest::collection::vec((1u32..1000, 0u64..5000, 0u32..100_000, 1u64..9999, 0u64..9999), 1..300),
            positions in proptest::bool::ANY,
            offsets in proptest::bool::ANY,
        ) {
            let offsets = positions && offsets;
            let mut writer = TermTableWriter::new(positions, offsets);
            let mut starts = [0u64; 3];
            let mut expected = Vec::new();
            for &(df, extra, doc, plen, poslen) in &terms {
                let shape = match df {
                    1 => Shape::Inline { doc, tf: u32::try_from(extra + 1).expect("small") },
                    2..=128 => Shape::Single { bound: Bound::from_codes(&[(40, 3), (7, 1)]).expect("pairs") },
                    _ => Shape::Multi { bound: Bound::from_codes(&[(9, 0)]).expect("pairs") },
                };
                let lens = [if df == 1 { 0 } else { plen }, if positions { poslen } else { 0 }, if offsets { poslen / 2 } else { 0 }];
                let record = Record { doc_freq: df, total_tf: u64::from(df) + extra, shape, lens };
                writer.push(&record, starts);
                expected.push((record, starts));
                for (s, l) in starts.iter_mut().zip(lens) {
                    *s += l;
                }
            }
            let bytes = writer.finish();
            let count = u32::try_from(terms.len()).expect("small");
            for (ordinal, want) in expected.iter().enumerate() {
                let streams = Streams { positions, offsets };
                let got = lookup(&bytes, count, u32::try_from(ordinal).expect("small"), streams);
                proptest::prop_assert_eq!(got, Some(*want));
            }
        }
    }
}
