//! Positions and offsets of a cursor's current document: decoded from the
//! block's groups on demand, so a cursor that only ranks never touches them.

use crate::codec::groups::GroupReader;
use crate::error::{FtsError, QueryErrorKind, Result, Section};
use crate::postings::{Occurrence, Postings, TERMINATED};

/// The low 32 bits of a position sum (checked whole after the sums).
#[expect(
    clippy::cast_possible_truncation,
    reason = "positions are checked against u32 after summing"
)]
fn low32(v: u64) -> u32 {
    v as u32
}

/// A term's positions or offsets bytes, as far as the index has them.
#[derive(Clone, Copy)]
pub(crate) enum Stored<'a> {
    /// The region stores no positions or offsets.
    Absent,
    /// Stored, but not fetched (a lazily opened region); the region offset
    /// of the missing bytes.
    Missing(u64),
    /// The bytes and their region offset.
    Loaded(&'a [u8], u64),
}

impl<'a> Stored<'a> {
    /// The bytes, or why they cannot be read.
    fn get(self, section: Section) -> Result<(&'a [u8], u64)> {
        match self {
            Stored::Absent if section == Section::Offsets => {
                Err(FtsError::query(QueryErrorKind::OffsetsNotIndexed, 0))
            }
            Stored::Absent => Err(FtsError::query(QueryErrorKind::PositionsNotIndexed, 0)),
            Stored::Missing(offset) => Err(FtsError::NotLoaded { section, offset }),
            Stored::Loaded(bytes, offset) => Ok((bytes, offset)),
        }
    }
}

/// Occurrence decoding state, allocated on first use (most cursors never
/// read positions).
pub(super) struct OccurrenceState {
    /// The block the state describes.
    block: usize,
    /// Index in the block of entry `at`'s first occurrence (`start`): each
    /// verified document sums only the tfs since the last one — a phrase
    /// verifies a few documents per block of a common term, where a table
    /// of every entry's start was a serial pass over the whole block.
    at: usize,
    start: u64,
    /// Occurrences in the block.
    total: u64,
    positions: GroupReader<1>,
    /// Made when offsets are first read (a 1 KiB buffer most queries,
    /// phrases included, never use).
    offsets: Option<Box<GroupReader<2>>>,
}

impl Postings<'_> {
    /// The occurrence state for the decoded block, and the index of the
    /// current document's first occurrence.
    fn occurrence_state(&mut self) -> &mut OccurrenceState {
        let block = self.decoded_idx;
        let n = self.n;
        let idx = self.idx;
        let mut state = self.occurrences.take().unwrap_or_else(|| {
            Box::new(OccurrenceState {
                block: usize::MAX,
                at: 0,
                start: 0,
                total: 0,
                positions: GroupReader::new(),
                offsets: None,
            })
        });
        if state.block != block {
            // The block's tfs are decoded at once (a block with bad tf
            // codes keeps per-entry reads).
            let total = match self.decode_tfs() {
                Ok(()) => self.tfs_total,
                Err(_) => self.tf_sum(0, n),
            };
            state.block = block;
            state.at = 0;
            state.start = 0;
            state.total = total;
            let layout = self.src.group_widths;
            state.positions.reset(total, layout);
            if let Some(offsets) = &mut state.offsets {
                offsets.reset(total, layout);
            }
        }
        // The cursor never moves back within a block: the start moves on
        // by the tfs in between.
        if idx > state.at {
            state.start += self.tf_sum(state.at, idx);
            state.at = idx;
        }
        self.occurrences.insert(state)
    }

    /// The sum of the decoded block's tfs of entries `from..to`: a
    /// reduction the compiler vectorizes, once they are decoded. When the
    /// block's tf width bounds the sum below 2^32 (a tf is at most
    /// 2^width, a block at most 128 = 2^7 entries; an inline term has one
    /// entry) it runs in u32 lanes, twice as many per instruction as u64.
    fn tf_sum(&self, from: usize, to: usize) -> u64 {
        if self.tfs_block == self.decoded_idx {
            let tfs = &self.tfs[from..to];
            if self.decoded.tf_bits <= 24 || tfs.len() <= 1 {
                u64::from(tfs.iter().fold(0u32, |acc, &tf| acc.wrapping_add(tf)))
            } else {
                tfs.iter().map(|&tf| u64::from(tf)).sum()
            }
        } else {
            (from..to).map(|i| u64::from(self.tf_at(i))).sum()
        }
    }

    /// Replaces `out` with the term's positions in the current document, in
    /// increasing order (offsets are not read).
    ///
    /// # Errors
    /// As [`occurrences`](Self::occurrences).
    pub fn positions_into(&mut self, out: &mut Vec<u32>) -> Result<()> {
        out.clear();
        let (data, region_offset) = self.src.positions.get(Section::Positions)?;
        if self.doc == TERMINATED {
            return Ok(());
        }
        let range = self.decoded_stream(1, data.len());
        let from = range.map_or(0, |(from, _)| from);
        let corrupt = || {
            FtsError::corrupt(
                Section::Positions,
                region_offset + from as u64,
                "malformed positions",
            )
        };
        let bytes = range
            .and_then(|(from, to)| data.get(from..to))
            .ok_or_else(corrupt)?;
        let tf = self.tf_at(self.idx);
        let state = self.occurrence_state();
        let first = state.start;
        // The stored gaps are summed as they are copied, a group slice at a
        // time (each gap is one less than the distance it encodes). Sums run
        // in u64, where `tf` gaps below 2^32 cannot overflow, and positions
        // only increase: the last one alone needs checking against u32.
        out.reserve(tf as usize);
        let mut next = 0u64;
        state
            .positions
            .for_each_slice(bytes, first, u64::from(tf), |gaps| {
                out.extend(gaps.iter().map(|&gap| {
                    let pos = next + u64::from(gap);
                    next = pos + 1;
                    low32(pos)
                }));
            })
            .ok_or_else(corrupt)?;
        if next > u64::from(u32::MAX) + 1 {
            return Err(corrupt());
        }
        Ok(())
    }

    /// Positions and byte offsets of the term in the current document.
    ///
    /// # Errors
    /// [`FtsError::Query`] with [`QueryErrorKind::PositionsNotIndexed`] if the
    /// region has no positions; [`FtsError::Corrupt`] on malformed bytes.
    pub fn occurrences(&mut self) -> Result<Vec<Occurrence>> {
        let mut positions = Vec::new();
        self.positions_into(&mut positions)?;
        let (data, region_offset) = self.src.offsets.get(Section::Offsets)?;
        if self.doc == TERMINATED {
            return Ok(Vec::new());
        }
        let range = self.decoded_stream(2, data.len());
        let from = range.map_or(0, |(from, _)| from);
        let corrupt = || {
            FtsError::corrupt(
                Section::Offsets,
                region_offset + from as u64,
                "malformed offsets",
            )
        };
        let bytes = range
            .and_then(|(from, to)| data.get(from..to))
            .ok_or_else(corrupt)?;
        let layout = self.src.group_widths;
        let state = self.occurrence_state();
        let first = state.start;
        let total = state.total;
        let offsets = state.offsets.get_or_insert_with(|| {
            let mut reader = Box::new(GroupReader::new());
            reader.reset(total, layout);
            reader
        });
        let mut out = Vec::with_capacity(positions.len());
        let mut end = 0u32;
        for (j, position) in (0u64..).zip(positions) {
            let [gap, len] = offsets.get(bytes, first + j).ok_or_else(corrupt)?;
            let start = end.checked_add(gap).ok_or_else(corrupt)?;
            end = start.checked_add(len).ok_or_else(corrupt)?;
            out.push(Occurrence {
                position,
                start,
                end,
            });
        }
        Ok(out)
    }
}
