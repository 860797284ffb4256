//! Per-term accumulation while building: one byte stream per term.
//!
//! Every token appends to its term's list, and those appends are the
//! builder's cache misses: one per list touched. So a term keeps a single
//! growing byte stream (documents and occurrences interleaved) instead of
//! separate document, frequency and position vectors; `finish` decodes it
//! once into [`Decoded`] lists for encoding.
//!
//! Stream, as LEB128 varints: an occurrence in a new document writes
//! `gap << 1 | 1` (gap: document − the previous document − 1, or the
//! document itself for the first), an occurrence in the same document
//! writes `position delta << 1` (≥ 2, as positions increase) — or a single
//! 0 without positions. With positions, each occurrence then writes the
//! start offset's gap from the previous end (the first of a document: the
//! start itself) and the length `end − start`; a new document's position
//! is written absolute after its marker.

use crate::codec::varint;
use crate::error::{FtsError, Result};
use crate::prefetch::prefetch;

/// One term's accumulated occurrences.
#[derive(Default)]
pub(crate) struct TermPostings {
    stream: Vec<u8>,
    /// The previous document + 1 (0 before the first).
    next_base: u32,
    doc_freq: u32,
    total_tf: u64,
    /// Position and end offset of the previous occurrence in the last
    /// document, the bases of the next deltas.
    prev_position: u32,
    prev_end: u32,
}

impl TermPostings {
    /// Records an occurrence (`[position, start, end]`) in `doc`, which is
    /// the latest document this term was seen in or a later one. Returns the
    /// stream bytes added.
    pub(crate) fn add(
        &mut self,
        doc: u32,
        positions: bool,
        [position, start, end]: [u32; 3],
    ) -> usize {
        let before = self.stream.len();
        if self.doc_freq == 0 || doc >= self.next_base {
            let gap = u64::from(doc - self.next_base);
            varint::write_u64(gap << 1 | 1, &mut self.stream);
            // doc ≤ MAX_DOC, so this does not overflow.
            self.next_base = doc + 1;
            self.doc_freq += 1;
            self.prev_position = 0;
            self.prev_end = 0;
            if positions {
                varint::write_u32(position, &mut self.stream);
            }
        } else if positions {
            let delta = u64::from(position - self.prev_position);
            varint::write_u64(delta << 1, &mut self.stream);
        } else {
            self.stream.push(0);
        }
        if positions {
            varint::write_u32(start - self.prev_end, &mut self.stream);
            varint::write_u32(end - start, &mut self.stream);
            self.prev_position = position;
            self.prev_end = end;
        }
        self.total_tf += 1;
        self.stream.len() - before
    }

    /// Asks the CPU to start loading the stream's first bytes, for a term
    /// about to be decoded: terms are decoded in byte order, not in the
    /// order they were interned, so each one's stream is a cache miss that
    /// otherwise stalls [`decode_into`](Self::decode_into).
    pub(crate) fn prefetch_head(&self) {
        prefetch(self.stream.as_ptr());
    }

    /// Starts loading where the next occurrence will be written, for a
    /// term about to be [`add`](Self::add)ed to.
    pub(crate) fn prefetch_tail(&self) {
        prefetch(self.stream.as_ptr().wrapping_add(self.stream.len()));
    }

    /// Total occurrences.
    pub(crate) fn total_tf(&self) -> u64 {
        self.total_tf
    }

    /// The stream bytes held in memory (all of them, unless some were
    /// spilled: see [`crate::spill`]).
    pub(crate) fn stream(&self) -> &[u8] {
        &self.stream
    }

    /// Frees the stream's bytes, once spilled. The running state stays, so
    /// the next occurrences continue the stream where the spilled bytes
    /// end.
    pub(crate) fn release_stream(&mut self) {
        self.stream = Vec::new();
    }

    /// Replaces `out` with the decoded lists.
    ///
    /// # Errors
    /// As [`decode_stream`].
    pub(crate) fn decode_into(&self, positions: bool, out: &mut Decoded) -> Result<()> {
        decode_stream(&self.stream, positions, out)
    }
}

/// Replaces `out` with the lists of a whole stream, `bytes`.
///
/// # Errors
/// [`FtsError::TooLarge`] if a count overflows (a malformed stream cannot
/// arise from [`TermPostings::add`]).
pub(crate) fn decode_stream(bytes: &[u8], positions: bool, out: &mut Decoded) -> Result<()> {
    out.clear();
    let broken = || FtsError::TooLarge {
        what: "occurrence stream",
    };
    let mut at = 0;
    let mut base = 0u32;
    while at < bytes.len() {
        let head = varint::read_u64(bytes, &mut at).ok_or_else(broken)?;
        if head & 1 == 1 {
            let gap = u32::try_from(head >> 1).map_err(|_| broken())?;
            let doc = base.checked_add(gap).ok_or_else(broken)?;
            out.docs.push(doc);
            out.tfs.push(1);
            base = doc.checked_add(1).ok_or_else(broken)?;
            if positions {
                out.positions
                    .push(varint::read_u32(bytes, &mut at).ok_or_else(broken)?);
            }
        } else {
            let tf = out.tfs.last_mut().ok_or_else(broken)?;
            *tf = tf.checked_add(1).ok_or_else(broken)?;
            if positions {
                // Stored as delta − 1 in the groups (deltas are ≥ 1).
                let delta = u32::try_from(head >> 1).map_err(|_| broken())?;
                out.positions.push(delta.checked_sub(1).ok_or_else(broken)?);
            }
        }
        if positions {
            out.gaps
                .push(varint::read_u32(bytes, &mut at).ok_or_else(broken)?);
            out.lens
                .push(varint::read_u32(bytes, &mut at).ok_or_else(broken)?);
        }
    }
    Ok(())
}

/// A term's lists, decoded for encoding: documents and term frequencies,
/// and per occurrence (in document order) the position value as the
/// positions groups store it, the start gap and the length.
#[derive(Default)]
pub(crate) struct Decoded {
    pub(crate) docs: Vec<u32>,
    pub(crate) tfs: Vec<u32>,
    pub(crate) positions: Vec<u32>,
    pub(crate) gaps: Vec<u32>,
    pub(crate) lens: Vec<u32>,
}

impl Decoded {
    fn clear(&mut self) {
        self.docs.clear();
        self.tfs.clear();
        self.positions.clear();
        self.gaps.clear();
        self.lens.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn stream_round_trips(
            docs in proptest::collection::btree_map(0u32..1_000_000, proptest::collection::btree_set(0u32..100_000, 1..5), 1..50),
            positions in proptest::bool::ANY,
        ) {
            let mut acc = TermPostings::default();
            let mut want = Decoded::default();
            for (&doc, at) in &docs {
                want.docs.push(doc);
                want.tfs.push(u32::try_from(at.len()).expect("small"));
                let mut prev: Option<(u32, u32)> = None;
                for &p in at {
                    let (start, end) = (p * 3, p * 3 + 2);
                    acc.add(doc, positions, [p, start, end]);
                    if positions {
                        want.positions.push(prev.map_or(p, |(q, _)| p - q - 1));
                        want.gaps.push(start - prev.map_or(0, |(_, e)| e));
                        want.lens.push(2);
                    }
                    prev = Some((p, end));
                }
            }
            let mut got = Decoded::default();
            acc.decode_into(positions, &mut got).expect("decodes");
            proptest::prop_assert_eq!(&got.docs, &want.docs);
            proptest::prop_assert_eq!(&got.tfs, &want.tfs);
            proptest::prop_assert_eq!(&got.positions, &want.positions);
            proptest::prop_assert_eq!(&got.gaps, &want.gaps);
            proptest::prop_assert_eq!(&got.lens, &want.lens);
        }
    }
}
