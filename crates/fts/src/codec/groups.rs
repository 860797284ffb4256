//! Runs of values in groups of [`GROUP`], each group packed at its own bit
//! widths: how positions and offsets are stored per postings block.
//!
//! `N` parallel streams (1 for positions, 2 for offsets) share a group
//! layout: each stream's values of the group packed at its width. A group
//! width fits its own values, so one long document or a large first
//! position does not widen the rest of the block.
//!
//! Two layouts place the widths ([`Widths`]). Written now: every group's
//! `N` width bytes lead the block, then the packed groups back to back, so
//! a group is found by summing width bytes that share a cache line or two.
//! Read still: each group's widths right before its values, where finding
//! a group means hopping from header to header, a cache line each on a
//! common term's long blocks.

use crate::codec::bitpack;

/// Values per group.
pub(crate) const GROUP: usize = 128;

/// A run this short within a group not yet decoded is read in place,
/// value by value, instead of decoding the group's 128 values: a phrase
/// reads a common term's few positions in one document per block.
const IN_PLACE_MAX: usize = 16;

/// Where a block's group widths are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Widths {
    /// All groups' widths first, then the packed groups (written now).
    #[default]
    Leading,
    /// Each group's widths right before its packed values.
    Inline,
}

/// Appends `streams` (all the same length) as groups in `layout`.
pub(crate) fn pack<const N: usize>(layout: Widths, streams: [&[u32]; N], out: &mut Vec<u8>) {
    let len = streams.first().map_or(0, |s| s.len());
    // Leading widths: the table is reserved first and filled as each
    // group is packed, so every group's widths are found once.
    let table_at = out.len();
    if layout == Widths::Leading {
        out.resize(table_at + len.div_ceil(GROUP) * N, 0);
    }
    for (g, start) in (0..len).step_by(GROUP).enumerate() {
        let widths = group_widths(streams, start);
        match layout {
            Widths::Leading => out[table_at + g * N..][..N].copy_from_slice(&widths),
            Widths::Inline => out.extend_from_slice(&widths),
        }
        pack_group(streams, start, widths, out);
    }
}

/// The widths of the group starting at `start`.
fn group_widths<const N: usize>(streams: [&[u32]; N], start: usize) -> [u8; N] {
    streams.map(|s| {
        s[start..(start + GROUP).min(s.len())]
            .iter()
            .map(|&v| bitpack::bits_needed(v))
            .max()
            .unwrap_or(0)
    })
}

fn pack_group<const N: usize>(
    streams: [&[u32]; N],
    start: usize,
    widths: [u8; N],
    out: &mut Vec<u8>,
) {
    for (stream, width) in streams.iter().zip(widths) {
        bitpack::pack(
            &stream[start..(start + GROUP).min(stream.len())],
            width,
            out,
        );
    }
}

/// Bytes of a group's packed values: `count` values at `widths`.
fn values_len<const N: usize>(count: usize, widths: &[u8; N]) -> usize {
    widths
        .iter()
        .map(|&w| bitpack::packed_len(count, w))
        .sum::<usize>()
}

/// Random access by value index into one block's groups, decoding one
/// group at a time and remembering where the last one started.
pub(crate) struct GroupReader<const N: usize> {
    /// Values in the block.
    total: u64,
    layout: Widths,
    /// Start (in the block's bytes) of group `walk_group`: of its packed
    /// values with leading widths, of its widths inline.
    walk_group: u64,
    walk_at: usize,
    /// The decoded group, if any.
    cached: Option<u64>,
    values: [[u32; GROUP]; N],
}

impl<const N: usize> GroupReader<N> {
    pub(crate) fn new() -> Self {
        GroupReader {
            total: 0,
            layout: Widths::Leading,
            walk_group: 0,
            walk_at: 0,
            cached: None,
            values: [[0; GROUP]; N],
        }
    }

    /// Starts over on a block of `total` values stored in `layout`.
    pub(crate) fn reset(&mut self, total: u64, layout: Widths) {
        self.total = total;
        self.layout = layout;
        self.walk_group = 0;
        self.walk_at = self.first_group_at();
        self.cached = None;
    }

    /// Where group 0 starts, as `walk_at` counts.
    fn first_group_at(&self) -> usize {
        match self.layout {
            Widths::Leading => usize::try_from(self.groups())
                .unwrap_or(usize::MAX)
                .saturating_mul(N),
            Widths::Inline => 0,
        }
    }

    /// Width bytes in front of each group: `N` inline, none when they
    /// lead the block.
    fn inline_widths(&self) -> usize {
        match self.layout {
            Widths::Leading => 0,
            Widths::Inline => N,
        }
    }

    fn groups(&self) -> u64 {
        self.total.div_ceil(GROUP as u64)
    }

    /// Value `i` of every stream, reading from the block bytes `bytes`.
    /// `None` if `i` is past the block or the bytes are malformed.
    pub(crate) fn get(&mut self, bytes: &[u8], i: u64) -> Option<[u32; N]> {
        if i >= self.total {
            return None;
        }
        let group = i / GROUP as u64;
        if self.cached != Some(group) {
            self.load(bytes, group)?;
        }
        let at = usize::try_from(i % GROUP as u64).ok()?;
        Some(std::array::from_fn(|s| self.values[s][at]))
    }

    /// Hands values `first..first + count` of stream 0 to `each`, a group
    /// slice at a time (so a caller can transform while it copies). `None`
    /// if the range passes the block's end or the bytes are malformed.
    pub(crate) fn for_each_slice(
        &mut self,
        bytes: &[u8],
        first: u64,
        count: u64,
        mut each: impl FnMut(&[u32]),
    ) -> Option<()> {
        let end = first.checked_add(count)?;
        if end > self.total {
            return None;
        }
        let mut i = first;
        while i < end {
            let group = i / GROUP as u64;
            let at = usize::try_from(i % GROUP as u64).ok()?;
            let take = usize::try_from((end - i).min((GROUP - at) as u64)).ok()?;
            if self.cached != Some(group) {
                if take <= IN_PLACE_MAX {
                    let (start, widths) = self.locate(bytes, group)?;
                    let count = self.count(group);
                    let packed = bytes.get(start..)?;
                    if packed.len() < bitpack::packed_len(count, widths[0]) {
                        return None;
                    }
                    let mut few = [0u32; IN_PLACE_MAX];
                    for (j, slot) in few[..take].iter_mut().enumerate() {
                        *slot = bitpack::get(packed, widths[0], count, at + j);
                    }
                    each(&few[..take]);
                    i += take as u64;
                    continue;
                }
                self.load(bytes, group)?;
            }
            each(&self.values[0][at..at + take]);
            i += take as u64;
        }
        Some(())
    }

    fn count(&self, group: u64) -> usize {
        let left = self.total - group * GROUP as u64;
        usize::try_from(left.min(GROUP as u64)).unwrap_or(GROUP)
    }

    fn widths(bytes: &[u8], at: usize) -> Option<[u8; N]> {
        let widths: [u8; N] = bytes.get(at..at + N)?.try_into().ok()?;
        widths.iter().all(|&w| w <= 32).then_some(widths)
    }

    /// Group `group`'s widths: in the leading table, or at `at` inline.
    fn widths_of(&self, bytes: &[u8], group: u64, at: usize) -> Option<[u8; N]> {
        match self.layout {
            Widths::Leading => Self::widths(bytes, usize::try_from(group).ok()?.checked_mul(N)?),
            Widths::Inline => Self::widths(bytes, at),
        }
    }

    /// The byte offset of `group`'s packed values in the block and its
    /// widths, walking on from the last group located.
    fn locate(&mut self, bytes: &[u8], group: u64) -> Option<(usize, [u8; N])> {
        if group >= self.groups() {
            return None;
        }
        if group < self.walk_group {
            self.walk_group = 0;
            self.walk_at = self.first_group_at();
        }
        // Groups before the requested one are full (only a block's last
        // group is short), so each adds 16 bytes per width bit: with
        // leading widths a sum over adjacent bytes, inline a short
        // dependent chain per group.
        let (mut walked, mut at) = (self.walk_group, self.walk_at);
        while walked < group {
            let widths = self.widths_of(bytes, walked, at)?;
            at += self.inline_widths() + values_len(GROUP, &widths);
            walked += 1;
        }
        (self.walk_group, self.walk_at) = (walked, at);
        let widths = self.widths_of(bytes, group, at)?;
        Some((at + self.inline_widths(), widths))
    }

    fn load(&mut self, bytes: &[u8], group: u64) -> Option<()> {
        let (start, widths) = self.locate(bytes, group)?;
        let count = self.count(group);
        let mut at = start;
        if at + values_len(count, &widths) > bytes.len() {
            return None;
        }
        for (values, width) in self.values.iter_mut().zip(widths) {
            bitpack::unpack(&bytes[at..], width, &mut values[..count])?;
            at += bitpack::packed_len(count, width);
        }
        self.cached = Some(group);
        Some(())
    }

    /// Byte length of the whole block as its group widths describe it, or
    /// `None` if the bytes end first.
    #[cfg(test)]
    pub(crate) fn encoded_len(&mut self, bytes: &[u8]) -> Option<usize> {
        let mut at = self.first_group_at();
        for g in 0..self.groups() {
            let widths = self.widths_of(bytes, g, at)?;
            at += self.inline_widths() + values_len(self.count(g), &widths);
        }
        (at <= bytes.len()).then_some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn random_access_round_trips(
            a in proptest::collection::vec(proptest::num::u32::ANY, 0..700),
            shift in 0u32..32,
            probes in proptest::collection::vec(0usize..800, 1..60),
            inline in proptest::bool::ANY,
        ) {
            let a: Vec<u32> = a.into_iter().map(|v| v >> shift).collect();
            let b: Vec<u32> = a.iter().map(|v| v.rotate_left(7) >> shift).collect();
            let mut bytes = Vec::new();
            let (layout, other) = if inline {
                (Widths::Inline, Widths::Leading)
            } else {
                (Widths::Leading, Widths::Inline)
            };
            pack(layout, [&a, &b], &mut bytes);
            // Both layouts take as many bytes.
            let mut same_len = Vec::new();
            pack(other, [&a, &b], &mut same_len);
            proptest::prop_assert_eq!(same_len.len(), bytes.len());
            let mut reader = GroupReader::<2>::new();
            reader.reset(a.len() as u64, layout);
            proptest::prop_assert_eq!(reader.encoded_len(&bytes), Some(bytes.len()));
            for &i in &probes {
                let want = (i < a.len()).then(|| [a[i], b[i]]);
                proptest::prop_assert_eq!(reader.get(&bytes, i as u64), want);
                let count = (i * 7 % 300) as u64;
                let mut run = Vec::new();
                let got = reader.for_each_slice(&bytes, i as u64, count, |s| run.extend_from_slice(s));
                let end = i + count as usize;
                let want = (end <= a.len()).then(|| a[i..end].to_vec());
                proptest::prop_assert_eq!(got.map(|()| run), want);
                // Short runs on a fresh reader are read in place (no group
                // decoded), crossing group edges too.
                let short = (i % 20) as u64;
                let mut fresh = GroupReader::<2>::new();
                fresh.reset(a.len() as u64, layout);
                let mut run = Vec::new();
                let got = fresh.for_each_slice(&bytes, i as u64, short, |s| run.extend_from_slice(s));
                let end = i + short as usize;
                let want = (end <= a.len()).then(|| a[i..end].to_vec());
                proptest::prop_assert_eq!(got.map(|()| run), want);
            }
            // Truncated bytes fail, never panic.
            if !bytes.is_empty() {
                let cut = &bytes[..bytes.len() - 1];
                reader.reset(a.len() as u64, layout);
                let last = a.len() as u64 - 1;
                proptest::prop_assert!(reader.get(cut, last).is_none());
            }
        }
    }
}
