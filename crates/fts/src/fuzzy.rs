//! A Levenshtein automaton over UTF-8 dictionary keys.
//!
//! `fst`'s own `Levenshtein` misses matches on non-ASCII keys (fst issues
//! #38 and #160), and CJK and accented terms are first-class here, so this
//! automaton steps per code point, buffering the bytes of an incomplete
//! UTF-8 sequence. The edit-distance row against the query is kept
//! bit-parallel (Wu–Manber / Hyyrö): for each distance `d ≤ max`, bit `j` of
//! `rows[d]` is set iff the key read so far is within `d` edits of the
//! query's first `j` characters. A step is a few shifts and masks per
//! distance instead of a pass over the query, and the state is small and
//! fixed-size, so the dictionary walk never allocates; rows are `u64` when the
//! query fits (up to 63 characters) and `u128` otherwise. A state dies when no
//! bit is left within `max`, which prunes the walk. The query length is
//! capped by the caller.

use std::ops::{BitAnd, BitOr, Not, Shl, Shr};

use fst::Automaton;

/// Longest query the bit rows hold, in characters.
const MAX_QUERY: usize = crate::matching::MAX_FUZZY_CHARS;
/// Largest supported edit distance.
const MAX_DISTANCE: usize = 2;

/// An unsigned integer used as a bit row.
pub(crate) trait Row:
    Copy
    + Eq
    + std::fmt::Debug
    + Not<Output = Self>
    + BitAnd<Output = Self>
    + BitOr<Output = Self>
    + Shl<usize, Output = Self>
    + Shr<usize, Output = Self>
{
    const ZERO: Self;
    const ONE: Self;
    const BITS: usize;
}

impl Row for u64 {
    const ZERO: Self = 0;
    const ONE: Self = 1;
    const BITS: usize = 64;
}

impl Row for u128 {
    const ZERO: Self = 0;
    const ONE: Self = 1;
    const BITS: usize = 128;
}

/// Whether `u64` rows hold a query of `chars` characters (bits
/// `0..=chars`).
pub(crate) fn fits_u64(chars: usize) -> bool {
    chars < 64
}

pub(crate) struct FuzzyAutomaton<R> {
    query: Vec<char>,
    max: usize,
    /// Bits `0..=query length`.
    mask: R,
    /// Per ASCII byte, bit `j + 1` set iff query character `j` equals it.
    ascii: [R; 128],
}

#[derive(Clone, Debug)]
pub(crate) struct FuzzyState<R> {
    rows: [R; MAX_DISTANCE + 1],
    partial: [u8; 4],
    partial_len: u8,
}

impl<R: Row> FuzzyAutomaton<R> {
    /// `query` is truncated to what `R` holds (callers reject longer
    /// queries and pick `R` by [`fits_u64`]) and `max` to
    /// [`MAX_DISTANCE`].
    pub(crate) fn new(query: &str, max: u32) -> FuzzyAutomaton<R> {
        let query: Vec<char> = query.chars().take(MAX_QUERY.min(R::BITS - 1)).collect();
        let mut ascii = [R::ZERO; 128];
        for (j, &q) in query.iter().enumerate() {
            if q.is_ascii() {
                ascii[q as usize] = ascii[q as usize] | (R::ONE << (j + 1));
            }
        }
        FuzzyAutomaton {
            mask: !R::ZERO >> (R::BITS - 1 - query.len()),
            max: usize::try_from(max).map_or(MAX_DISTANCE, |m| m.min(MAX_DISTANCE)),
            query,
            ascii,
        }
    }

    /// Bit `j + 1` set iff query character `j` is `c`.
    fn matches(&self, c: char) -> R {
        if c.is_ascii() {
            return self.ascii[c as usize];
        }
        self.query
            .iter()
            .enumerate()
            .filter(|&(_, &q)| q == c)
            .fold(R::ZERO, |m, (j, _)| m | (R::ONE << (j + 1)))
    }
}

/// Length of the UTF-8 sequence a lead byte starts; `None` if not a lead.
fn utf8_len(lead: u8) -> Option<usize> {
    match lead {
        0x00..=0x7F => Some(1),
        0xC2..=0xDF => Some(2),
        0xE0..=0xEF => Some(3),
        0xF0..=0xF4 => Some(4),
        _ => None,
    }
}

impl<R: Row> Automaton for FuzzyAutomaton<R> {
    type State = Option<FuzzyState<R>>;

    fn start(&self) -> Self::State {
        // The empty key is within d edits of the first j ≤ d characters.
        let mut rows = [R::ZERO; MAX_DISTANCE + 1];
        for (d, row) in rows.iter_mut().enumerate() {
            *row = (!R::ZERO >> (R::BITS - 1 - d)) & self.mask;
        }
        Some(FuzzyState {
            rows,
            partial: [0; 4],
            partial_len: 0,
        })
    }

    fn is_match(&self, state: &Self::State) -> bool {
        state.as_ref().is_some_and(|s| {
            s.partial_len == 0 && s.rows[self.max] & (R::ONE << self.query.len()) != R::ZERO
        })
    }

    fn can_match(&self, state: &Self::State) -> bool {
        state.is_some()
    }

    fn accept(&self, state: &Self::State, byte: u8) -> Self::State {
        let s = state.as_ref()?;
        let mut partial = s.partial;
        let len = usize::from(s.partial_len);
        partial[len] = byte;
        let len = len + 1;
        let want = utf8_len(partial[0])?;
        if len < want {
            return Some(FuzzyState {
                partial,
                partial_len: s.partial_len + 1,
                ..s.clone()
            });
        }
        let c = if len == 1 {
            char::from(byte)
        } else {
            std::str::from_utf8(&partial[..len]).ok()?.chars().next()?
        };
        let m = self.matches(c);
        let mut rows = [R::ZERO; MAX_DISTANCE + 1];
        // Distance 0: only matches extend.
        rows[0] = (s.rows[0] << 1) & m;
        for d in 1..=self.max {
            // Match, substitution, insertion of `c`, deletion of a query
            // character.
            rows[d] = (((s.rows[d] << 1) & m)
                | (s.rows[d - 1] << 1)
                | s.rows[d - 1]
                | (rows[d - 1] << 1))
                & self.mask;
        }
        if rows[self.max] == R::ZERO {
            return None;
        }
        Some(FuzzyState {
            rows,
            partial: [0; 4],
            partial_len: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use fst::Automaton;

    use super::{FuzzyAutomaton, Row};

    fn levenshtein(a: &[char], b: &[char]) -> usize {
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, &ca) in a.iter().enumerate() {
            let mut next = vec![i + 1];
            for (j, &cb) in b.iter().enumerate() {
                next.push(
                    (row[j] + usize::from(ca != cb))
                        .min(row[j + 1] + 1)
                        .min(next[j] + 1),
                );
            }
            row = next;
        }
        row[b.len()]
    }

    fn accepts<R: Row>(query: &str, max: u32, key: &str) -> bool {
        let automaton = FuzzyAutomaton::<R>::new(query, max);
        let mut state = automaton.start();
        for &b in key.as_bytes() {
            state = automaton.accept(&state, b);
        }
        automaton.is_match(&state)
    }

    proptest::proptest! {
        #[test]
        fn matches_edit_distance(query in "[abé]{0,66}", key in "[abé]{0,68}", max in 0u32..=2) {
            let (q, k): (Vec<char>, Vec<char>) = (query.chars().collect(), key.chars().collect());
            let want = levenshtein(&k, &q) <= max as usize;
            if q.len() <= 64 {
                proptest::prop_assert_eq!(accepts::<u128>(&query, max, &key), want);
            }
            if q.len() < 64 {
                proptest::prop_assert_eq!(accepts::<u64>(&query, max, &key), want);
            }
        }

        #[test]
        fn matches_near_misses(query in "[abé]{1,66}", at in 0usize..66, c in "[abé]", edits in 1usize..=3, max in 0u32..=2) {
            let q: Vec<char> = query.chars().collect();
            let mut k = q.clone();
            for e in 0..edits {
                let i = (at + e) % (k.len() + 1);
                match e % 3 {
                    0 => k.insert(i, c.chars().next().unwrap_or('a')),
                    1 if i < k.len() => { k.remove(i); }
                    _ if i < k.len() => k[i] = c.chars().next().unwrap_or('a'),
                    _ => {}
                }
            }
            let key: String = k.iter().collect();
            let want = levenshtein(&k, &q) <= max as usize;
            if q.len() <= 64 {
                proptest::prop_assert_eq!(accepts::<u128>(&query, max, &key), want);
            }
            if q.len() < 64 {
                proptest::prop_assert_eq!(accepts::<u64>(&query, max, &key), want);
            }
        }
    }
}
