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
//! fixed-size, so the dictionary walk never allocates. A state dies when no
//! bit is left within `max`, which prunes the walk. The query length is
//! capped by the caller.

use fst::Automaton;

/// Longest query the bit rows hold, in characters.
const MAX_QUERY: usize = crate::matching::MAX_FUZZY_CHARS;
/// Largest supported edit distance.
const MAX_DISTANCE: usize = 2;

pub(crate) struct FuzzyAutomaton {
    query: Vec<char>,
    max: usize,
    /// Bits `0..=query length`.
    mask: u128,
    /// Per ASCII byte, bit `j + 1` set iff query character `j` equals it.
    ascii: [u128; 128],
}

#[derive(Clone, Debug)]
pub(crate) struct FuzzyState {
    rows: [u128; MAX_DISTANCE + 1],
    partial: [u8; 4],
    partial_len: u8,
}

impl FuzzyAutomaton {
    /// `query` is truncated to [`MAX_QUERY`] characters (callers reject
    /// longer ones) and `max` to [`MAX_DISTANCE`].
    pub(crate) fn new(query: &str, max: u32) -> FuzzyAutomaton {
        let query: Vec<char> = query.chars().take(MAX_QUERY).collect();
        let mut ascii = [0u128; 128];
        for (j, &q) in query.iter().enumerate() {
            if q.is_ascii() {
                ascii[q as usize] |= 1 << (j + 1);
            }
        }
        FuzzyAutomaton {
            mask: u128::MAX >> (127 - query.len()),
            max: usize::try_from(max).map_or(MAX_DISTANCE, |m| m.min(MAX_DISTANCE)),
            query,
            ascii,
        }
    }

    /// Bit `j + 1` set iff query character `j` is `c`.
    fn matches(&self, c: char) -> u128 {
        if c.is_ascii() {
            return self.ascii[c as usize];
        }
        self.query
            .iter()
            .enumerate()
            .filter(|&(_, &q)| q == c)
            .fold(0, |m, (j, _)| m | (1 << (j + 1)))
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

impl Automaton for FuzzyAutomaton {
    type State = Option<FuzzyState>;

    fn start(&self) -> Self::State {
        // The empty key is within d edits of the first j ≤ d characters.
        let mut rows = [0u128; MAX_DISTANCE + 1];
        for (d, row) in rows.iter_mut().enumerate() {
            *row = (u128::MAX >> (127 - d)) & self.mask;
        }
        Some(FuzzyState {
            rows,
            partial: [0; 4],
            partial_len: 0,
        })
    }

    fn is_match(&self, state: &Self::State) -> bool {
        state
            .as_ref()
            .is_some_and(|s| s.partial_len == 0 && s.rows[self.max] & (1 << self.query.len()) != 0)
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
        let mut rows = [0u128; MAX_DISTANCE + 1];
        // Distance 0: only matches extend.
        rows[0] = (s.rows[0] << 1) & m;
        for d in 1..=self.max {
            // Match, substitution, insertion of `c`, deletion of a query
            // character.
            rows[d] =
                ((s.rows[d] << 1) & m) | (s.rows[d - 1] << 1) | s.rows[d - 1] | (rows[d - 1] << 1);
            rows[d] &= self.mask;
        }
        if rows[self.max] == 0 {
            return None;
        }
        Some(FuzzyState {
            rows,
            partial: [0; 4],
            partial_len: 0,
        })
    }
}
