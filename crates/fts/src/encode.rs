//! Encoding one term's lists at `finish`: postings blocks (with a skip
//! table when there is more than one), positions and offsets in groups.
//! `FORMAT.md` has the byte layout; `postings.rs` reads it back.

use crate::accumulate::Decoded;
use crate::bm25::TermScorer;
use crate::codec::bound::{Bound, Frontier, MAX_PAIRS};
use crate::codec::{bitpack, groups};
use crate::error::{FtsError, Result};
use crate::format::{BLOCK_SIZE, skip_entry_len};
use crate::terminfo::{Record, Shape};

/// The postings, positions and offsets sections being built.
#[derive(Default)]
pub(crate) struct TermLists {
    pub(crate) postings: Vec<u8>,
    pub(crate) positions: Vec<u8>,
    pub(crate) offsets: Vec<u8>,
    /// The layout of position and offset groups.
    pub(crate) group_widths: groups::Widths,
}

impl TermLists {
    /// Current lengths: where the next term's bytes start.
    pub(crate) fn lens(&self) -> [u64; 3] {
        [
            self.postings.len() as u64,
            self.positions.len() as u64,
            self.offsets.len() as u64,
        ]
    }
}

fn too_large(what: &'static str) -> FtsError {
    FtsError::TooLarge { what }
}

/// Appends a term's lists (`acc`, with `total_tf` occurrences; offsets
/// only if `offsets`) to `out` and returns the term's record. `rank` scores a `(tf, norm)` pair for
/// choosing bound pairs.
pub(crate) fn write_term(
    acc: &Decoded,
    total_tf: u64,
    norms: &[u8],
    positions: bool,
    offsets: bool,
    rank: &TermScorer<'_>,
    out: &mut TermLists,
) -> Result<Record> {
    let starts = out.lens();
    let df = acc.docs.len();
    let doc_freq = u32::try_from(df).map_err(|_| too_large("documents per term"))?;
    let block_count = df.div_ceil(BLOCK_SIZE);
    let multi = block_count > 1;
    let streams = 1 + usize::from(positions) + usize::from(positions && offsets);
    let entry_len = skip_entry_len(streams);
    let skip_at = out.postings.len();
    if multi {
        out.postings.resize(skip_at + block_count * entry_len, 0);
    }
    let bodies_at = out.postings.len();
    let score = |tf: u32, norm: u8| rank.score(tf, norm);
    let mut occurrence = 0;
    let mut base = 0u32;
    // The term's bound pairs come from its blocks' frontiers, merged.
    let mut term_frontier = Frontier::default();
    let mut block_frontier = Frontier::default();
    for (block, (docs, tfs)) in acc
        .docs
        .chunks(BLOCK_SIZE)
        .zip(acc.tfs.chunks(BLOCK_SIZE))
        .enumerate()
    {
        if positions {
            let count: usize = tfs.iter().map(|&tf| tf as usize).sum();
            let range = occurrence..occurrence + count;
            occurrence += count;
            let layout = out.group_widths;
            groups::pack(layout, [&acc.positions[range.clone()]], &mut out.positions);
            if offsets {
                groups::pack(
                    layout,
                    [&acc.gaps[range.clone()], &acc.lens[range]],
                    &mut out.offsets,
                );
            }
        }
        let n = docs.len();
        let last_doc = docs[n - 1];
        if df == 1 {
            base = last_doc + 1;
            continue;
        }
        let mut deltas = [0u32; BLOCK_SIZE];
        let mut tf_codes = [0u32; BLOCK_SIZE];
        let mut prev = base;
        for (i, (&doc, &tf)) in docs.iter().zip(tfs).enumerate() {
            deltas[i] = doc - prev;
            prev = doc + 1;
            tf_codes[i] = tf - 1;
        }
        let width = |values: &[u32]| values.iter().map(|&v| bitpack::bits_needed(v)).max();
        let doc_bits = width(&deltas[..n]).unwrap_or(0);
        let tf_bits = width(&tf_codes[..n]).unwrap_or(0);
        if !multi {
            out.postings.push(doc_bits);
            out.postings.push(tf_bits);
        }
        bitpack::pack(&deltas[..n], doc_bits, &mut out.postings);
        bitpack::pack(&tf_codes[..n], tf_bits, &mut out.postings);
        base = last_doc + 1;
        let frontier = if multi {
            block_frontier.clear();
            &mut block_frontier
        } else {
            &mut term_frontier
        };
        for (&doc, &tf) in docs.iter().zip(tfs) {
            frontier.add(tf, norms[doc as usize]);
        }
        if !multi {
            continue;
        }
        term_frontier.merge(&block_frontier);
        let pairs = block_frontier.codes(score);
        let rel =
            |now: usize, from: usize, what| u32::try_from(now - from).map_err(|_| too_large(what));
        let mut entry = [0u8; skip_entry_len(3)];
        entry[0..4].copy_from_slice(&last_doc.to_le_bytes());
        let ends = [
            rel(out.postings.len(), bodies_at, "postings per term")?,
            rel(
                out.positions.len(),
                to_usize(starts[1]),
                "positions per term",
            )?,
            rel(out.offsets.len(), to_usize(starts[2]), "offsets per term")?,
        ];
        for (i, end) in ends.iter().take(streams).enumerate() {
            entry[4 + 4 * i..8 + 4 * i].copy_from_slice(&end.to_le_bytes());
        }
        let widths_at = 4 + 4 * streams;
        entry[widths_at] = doc_bits;
        entry[widths_at + 1] = tf_bits;
        for slot in 0..MAX_PAIRS {
            let (tf, norm) = pairs.get(slot).or(pairs.first()).copied().unwrap_or((0, 0));
            entry[widths_at + 2 + 2 * slot] = tf;
            entry[widths_at + 3 + 2 * slot] = norm;
        }
        let at = skip_at + block * entry_len;
        out.postings[at..at + entry_len].copy_from_slice(&entry[..entry_len]);
    }
    let shape = if df == 1 {
        Shape::Inline {
            doc: acc.docs[0],
            tf: acc.tfs[0],
        }
    } else {
        let pairs = term_frontier.codes(score);
        let bound = Bound::from_codes(&pairs).ok_or(too_large("documents per term"))?;
        if multi {
            Shape::Multi { bound }
        } else {
            Shape::Single { bound }
        }
    };
    let ends = out.lens();
    Ok(Record {
        doc_freq,
        total_tf,
        shape,
        lens: [
            ends[0] - starts[0],
            ends[1] - starts[1],
            ends[2] - starts[2],
        ],
    })
}

fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}
