//! Planning vectored reads: merge nearby ranges into fewer requests.
//!
//! On object storage a request costs a round trip and a fee while a few
//! hundred extra kilobytes cost almost nothing, so ranges closer than a gap
//! are fetched as one. The plan is pure data so it can be tested alone.

use std::ops::Range;

/// Where one requested range lives inside the fetched ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Slice {
    /// Index into [`ReadPlan::fetches`].
    pub(crate) fetch: usize,
    /// Byte offset of the requested range inside that fetch.
    pub(crate) offset: usize,
    /// Length of the requested range.
    pub(crate) len: usize,
}

/// Ranges to fetch, and how to cut the requested ranges out of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReadPlan {
    /// Disjoint, sorted ranges to request.
    pub(crate) fetches: Vec<Range<u64>>,
    /// One entry per requested range, in request order.
    pub(crate) slices: Vec<Slice>,
}

/// Merge `ranges` (any order, overlaps allowed, none empty) so that ranges
/// separated by at most `gap` bytes share one fetch.
pub(crate) fn plan(ranges: &[Range<u64>], gap: u64) -> ReadPlan {
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    order.sort_by_key(|&i| (ranges[i].start, ranges[i].end));

    let mut fetches: Vec<Range<u64>> = Vec::new();
    let mut fetch_of = vec![0usize; ranges.len()];
    for &i in &order {
        let r = &ranges[i];
        match fetches.last_mut() {
            Some(last) if r.start <= last.end.saturating_add(gap) => last.end = last.end.max(r.end),
            _ => fetches.push(r.clone()),
        }
        fetch_of[i] = fetches.len() - 1;
    }
    let slices = ranges
        .iter()
        .zip(fetch_of)
        .map(|(r, fetch)| Slice {
            fetch,
            offset: usize::try_from(r.start - fetches[fetch].start)
                .expect("invariant: fetch fits in memory"),
            len: usize::try_from(r.end - r.start).expect("invariant: range fits in memory"),
        })
        .collect();
    ReadPlan { fetches, slices }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn merges_within_gap_only() {
        let p = plan(&[0..10, 15..20, 100..110], 5);
        assert_eq!(p.fetches, vec![0..20, 100..110]);
        assert_eq!(
            p.slices[1],
            Slice {
                fetch: 0,
                offset: 15,
                len: 5
            }
        );
        assert_eq!(
            p.slices[2],
            Slice {
                fetch: 1,
                offset: 0,
                len: 10
            }
        );
    }

    #[test]
    fn unsorted_and_overlapping() {
        let p = plan(&[50..60, 0..40, 10..20], 0);
        assert_eq!(p.fetches, vec![0..40, 50..60]);
        assert_eq!(
            p.slices[0],
            Slice {
                fetch: 1,
                offset: 0,
                len: 10
            }
        );
        assert_eq!(
            p.slices[2],
            Slice {
                fetch: 0,
                offset: 10,
                len: 10
            }
        );
    }

    proptest! {
        #[test]
        fn slices_cover_exactly_the_requested_bytes(
            raw in proptest::collection::vec((0u64..10_000, 1u64..500), 1..40),
            gap in 0u64..2_000,
        ) {
            let ranges: Vec<Range<u64>> = raw.iter().map(|&(s, l)| s..s + l).collect();
            let p = plan(&ranges, gap);
            for w in p.fetches.windows(2) {
                prop_assert!(w[0].end + gap < w[1].start, "fetches must be disjoint and farther than gap");
            }
            for (r, s) in ranges.iter().zip(&p.slices) {
                let f = &p.fetches[s.fetch];
                prop_assert_eq!(f.start + s.offset as u64, r.start);
                prop_assert!(f.start + (s.offset + s.len) as u64 <= f.end);
                prop_assert_eq!(s.len as u64, r.end - r.start);
            }
        }
    }
}
