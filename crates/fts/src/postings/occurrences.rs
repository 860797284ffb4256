//! Positions and offsets of a cursor's current document: decoded from the
//! block's groups on demand, so a cursor that only ranks never touches them.

use crate::codec::groups::GroupReader;
use crate::error::{FtsError, QueryErrorKind, Result, Section};
use crate::format::BLOCK_SIZE;
use crate::postings::{Occurrence, Postings, TERMINATED};

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
    pub(super) fn len(self) -> usize {
        match self {
            Stored::Loaded(bytes, _) => bytes.len(),
            _ => 0,
        }
    }

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
    /// `starts[i]`: index of document `i`'s first occurrence in the block.
    starts: [u64; BLOCK_SIZE + 1],
    positions: GroupReader<1>,
    offsets: GroupReader<2>,
}

impl Postings<'_> {
    /// The occurrence state for the decoded block, and the index of the
    /// current document's first occurrence.
    fn occurrence_state(&mut self) -> &mut OccurrenceState {
        let block = self.decoded_idx;
        let n = self.n;
        let fresh = self
            .occurrences
            .as_ref()
            .is_none_or(|state| state.block != block);
        if fresh {
            // Every tf before the current document is summed: decode them
            // all at once (a block with bad tf codes keeps per-entry reads).
            let _ = self.decode_tfs();
        }
        let tfs: [u32; BLOCK_SIZE] = if !fresh {
            [0; BLOCK_SIZE]
        } else if self.tfs_block == self.decoded_idx {
            self.tfs
        } else {
            std::array::from_fn(|i| if i < n { self.tf_at(i) } else { 0 })
        };
        let state = self.occurrences.get_or_insert_with(|| {
            Box::new(OccurrenceState {
                block: usize::MAX,
                starts: [0; BLOCK_SIZE + 1],
                positions: GroupReader::new(),
                offsets: GroupReader::new(),
            })
        });
        if state.block != block {
            state.block = block;
            let mut sum = 0u64;
            for (start, &tf) in state.starts[1..=n].iter_mut().zip(&tfs[..n]) {
                sum += u64::from(tf);
                *start = sum;
            }
            state.positions.reset(state.starts[n]);
            state.offsets.reset(state.starts[n]);
        }
        state
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
        let (from, to) = self.decoded.positions;
        let corrupt = || {
            FtsError::corrupt(
                Section::Positions,
                region_offset + from as u64,
                "malformed positions",
            )
        };
        let bytes = data
            .get(from..to)
            .filter(|_| from <= to)
            .ok_or_else(corrupt)?;
        let (idx, tf) = (self.idx, self.tf_at(self.idx));
        let state = self.occurrence_state();
        let first = state.starts[idx];
        // The stored gaps are copied a group slice at a time, then summed
        // in place (each gap is one less than the distance it encodes).
        state
            .positions
            .extend_from(bytes, first, u64::from(tf), out)
            .ok_or_else(corrupt)?;
        let mut next = 0u64;
        for slot in out.iter_mut() {
            let pos = next + u64::from(*slot);
            *slot = u32::try_from(pos).map_err(|_| corrupt())?;
            next = pos + 1;
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
        let (from, to) = self.decoded.offsets;
        let corrupt = || {
            FtsError::corrupt(
                Section::Offsets,
                region_offset + from as u64,
                "malformed offsets",
            )
        };
        let bytes = data
            .get(from..to)
            .filter(|_| from <= to)
            .ok_or_else(corrupt)?;
        let idx = self.idx;
        let state = self.occurrence_state();
        let first = state.starts[idx];
        let mut out = Vec::with_capacity(positions.len());
        let mut end = 0u32;
        for (j, position) in (0u64..).zip(positions) {
            let [gap, len] = state.offsets.get(bytes, first + j).ok_or_else(corrupt)?;
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
