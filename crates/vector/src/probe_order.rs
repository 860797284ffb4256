//! The order in which a search probes clusters, sorted only as far as it
//! is read.
//!
//! A probe reads a few dozen of several hundred lists, and usually stops
//! there; fully sorting every centroid distance per query was a few
//! percent of a warm query at 447 lists (perf). So the nearest `m` are
//! selected and sorted up front, and the rest only when a search widens
//! past them. Ties break by cluster id, so the order read is the one a
//! full sort gives.

/// Clusters by ascending centroid distance, nearest first.
#[derive(Debug)]
pub(crate) struct ProbeOrder {
    /// `(distance, cluster)`; `[..sorted]` is sorted and no later entry
    /// precedes any of it.
    scored: Vec<(f32, usize)>,
    sorted: usize,
}

fn cmp(a: &(f32, usize), b: &(f32, usize)) -> std::cmp::Ordering {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
}

impl ProbeOrder {
    /// Orders `scored` with at least its first `m` entries sorted.
    pub(crate) fn new(mut scored: Vec<(f32, usize)>, m: usize) -> Self {
        let m = m.min(scored.len());
        if m > 0 && m < scored.len() {
            scored.select_nth_unstable_by(m - 1, cmp);
            scored[..m].sort_unstable_by(cmp);
        } else {
            scored.sort_unstable_by(cmp);
        }
        let sorted = if m < scored.len() { m } else { scored.len() };
        Self { scored, sorted }
    }

    /// The `i`-th nearest cluster, or `None` past the last.
    pub(crate) fn get(&mut self, i: usize) -> Option<usize> {
        if i >= self.sorted && i < self.scored.len() {
            self.scored[self.sorted..].sort_unstable_by(cmp);
            self.sorted = self.scored.len();
        }
        self.scored.get(i).map(|&(_, c)| c)
    }

    /// The first `n` clusters (fewer if there are fewer).
    pub(crate) fn prefix(&mut self, n: usize) -> Vec<usize> {
        let n = n.min(self.scored.len());
        if n > 0 {
            self.get(n - 1);
        }
        self.scored[..n].iter().map(|&(_, c)| c).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    /// Read in order, any prefix length gives a full sort's order,
    /// including ties (equal distances break by cluster id).
    #[test]
    fn reads_as_a_full_sort() {
        let mut rng = SplitMix64::new(3);
        for len in [0usize, 1, 2, 9, 100, 447] {
            #[expect(clippy::cast_precision_loss, reason = "test values")]
            let scored: Vec<(f32, usize)> = (0..len)
                .map(|c| ((rng.next_u64() % 50) as f32, c))
                .collect();
            let mut want = scored.clone();
            want.sort_by(cmp);
            let want: Vec<usize> = want.into_iter().map(|(_, c)| c).collect();
            for m in [0, 1, 5, 64, 1000] {
                let mut order = ProbeOrder::new(scored.clone(), m);
                let got: Vec<usize> = (0..).map_while(|i| order.get(i)).collect();
                assert_eq!(got, want, "len {len} m {m}");
                let mut order = ProbeOrder::new(scored.clone(), m);
                assert_eq!(order.prefix(7), want[..7.min(len)], "len {len} m {m}");
            }
        }
    }
}
