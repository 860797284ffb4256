//! Reading many small, scattered ranges of one object with a bounded
//! number of requests and as few wasted bytes as that bound allows.
//!
//! [`Store::get_ranges`] coalesces ranges closer than a fixed gap (256 KiB
//! by default), which suits reads of whole blocks but defeats reads whose
//! point is to skip the bytes between ranges: the heads of neighbouring
//! vector clusters are one payload apart, and rerank payload entries a few
//! entries apart. Here ranges merge only across gaps of at most
//! `free_gap` bytes, and then, while more than `max_fetches` requests
//! remain, across the smallest gaps first, which is the fewest bytes for
//! that many requests.

use std::ops::Range;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use infino_store::Path;
use infino_store::Store;

use crate::error::Result;

/// One buffer per requested range (in request order), read with at most
/// `max_fetches` requests (at least one), `max_concurrent` in flight.
/// Ranges must be non-empty.
pub(crate) async fn read_sparse(
    store: &Store,
    path: &Path,
    ranges: &[Range<u64>],
    free_gap: u64,
    max_fetches: usize,
) -> Result<Vec<Bytes>> {
    let fetches = plan(ranges, free_gap, max_fetches);
    let concurrent = store.config().max_concurrent_requests.max(1);
    let fetched: Vec<Bytes> = futures::stream::iter(fetches.iter().cloned())
        .map(|r| store.get_range(path, r))
        .buffered(concurrent)
        .try_collect()
        .await?;
    Ok(ranges
        .iter()
        .map(|r| {
            // The fetch holding `r`: the last one starting at or before it.
            let i = fetches.partition_point(|f| f.start <= r.start) - 1;
            let base = fetches[i].start;
            fetched[i].slice(offset(r.start - base)..offset(r.end - base))
        })
        .collect())
}

/// An offset within a fetched buffer held in memory, so it fits `usize`.
fn offset(x: u64) -> usize {
    usize::try_from(x).unwrap_or(usize::MAX)
}

/// The fetches: sorted, disjoint ranges covering every requested range.
fn plan(ranges: &[Range<u64>], free_gap: u64, max_fetches: usize) -> Vec<Range<u64>> {
    let mut sorted: Vec<Range<u64>> = ranges.to_vec();
    sorted.sort_by_key(|r| (r.start, r.end));
    let mut spans: Vec<Range<u64>> = Vec::new();
    for r in sorted {
        match spans.last_mut() {
            Some(last) if r.start <= last.end + free_gap => last.end = last.end.max(r.end),
            _ => spans.push(r),
        }
    }
    let keep = max_fetches.max(1);
    if spans.len() <= keep {
        return spans;
    }
    // Split only at the `keep - 1` widest gaps.
    let mut gaps: Vec<(u64, usize)> = spans
        .windows(2)
        .enumerate()
        .map(|(i, w)| (w[1].start - w[0].end, i))
        .collect();
    gaps.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut split = vec![false; spans.len()];
    for &(_, i) in gaps.iter().take(keep - 1) {
        split[i] = true;
    }
    let mut out: Vec<Range<u64>> = Vec::with_capacity(keep);
    let mut current = spans[0].clone();
    for (i, span) in spans.iter().enumerate().skip(1) {
        if split[i - 1] {
            out.push(std::mem::replace(&mut current, span.clone()));
        } else {
            current.end = span.end;
        }
    }
    out.push(current);
    out
}

#[cfg(test)]
mod tests {
    use super::plan;

    #[test]
    fn merges_small_gaps_then_the_smallest_until_the_budget() {
        let ranges = [0..10, 12..20, 100..110, 1000..1010, 1030..1040, 5000..5010];
        assert_eq!(
            plan(&ranges, 4, 100),
            vec![0..20, 100..110, 1000..1010, 1030..1040, 5000..5010]
        );
        // Three fetches: the gaps of 20 and 80 go, 890 and 3960 stay.
        assert_eq!(plan(&ranges, 4, 3), vec![0..110, 1000..1040, 5000..5010]);
        assert_eq!(plan(&ranges, 0, 1), vec![0..5010]);
        // Unordered, overlapping and repeated ranges.
        assert_eq!(
            plan(&[50..60, 0..10, 5..12, 50..60], 0, 8),
            vec![0..12, 50..60]
        );
    }
}
