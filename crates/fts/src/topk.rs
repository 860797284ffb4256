//! A bounded collector of the best `k` (doc, score) pairs.
//!
//! Order: higher score first, then lower doc id, so results are
//! deterministic under ties.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

#[derive(Debug, Clone, Copy)]
struct Entry {
    score: f32,
    doc: u32,
}

impl Entry {
    /// `Greater` means ranked worse.
    fn rank_cmp(&self, other: &Entry) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(self.doc.cmp(&other.doc))
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.rank_cmp(other) == Ordering::Equal
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank_cmp(other)
    }
}

/// Keeps the `k` best entries; the heap's top is the worst kept.
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<Entry>,
}

impl TopK {
    pub(crate) fn new(k: usize) -> TopK {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k.min(4096) + 1),
        }
    }

    /// The score a new document must beat once full; `None` while not full.
    /// A document scoring exactly this much enters only with a smaller id
    /// than the worst kept, which never happens when docs arrive in
    /// increasing order.
    #[inline]
    pub(crate) fn threshold(&self) -> Option<f32> {
        if self.heap.len() < self.k {
            None
        } else {
            self.heap.peek().map(|e| e.score)
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, doc: u32, score: f32) {
        if self.k == 0 {
            return;
        }
        let entry = Entry { score, doc };
        if self.heap.len() < self.k {
            self.heap.push(entry);
        } else if self.heap.peek().is_some_and(|worst| score < worst.score) {
            // Ranked worse than the worst kept: the common case, decided
            // without the full comparison.
        } else if let Some(mut worst) = self.heap.peek_mut()
            && entry < *worst
        {
            *worst = entry;
        }
    }

    /// Results best first.
    pub(crate) fn into_sorted(self) -> Vec<(u32, f32)> {
        let mut entries = self.heap.into_vec();
        entries.sort();
        entries.into_iter().map(|e| (e.doc, e.score)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::TopK;

    #[test]
    fn keeps_best_with_doc_tiebreak() {
        let mut top = TopK::new(3);
        for (doc, score) in [(5, 1.0), (1, 2.0), (7, 1.0), (3, 1.0), (9, 3.0), (2, 1.0)] {
            top.push(doc, score);
        }
        assert_eq!(top.threshold(), Some(1.0));
        assert_eq!(top.into_sorted(), [(9, 3.0), (1, 2.0), (2, 1.0)]);
    }
}
