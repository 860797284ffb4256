//! A Levenshtein automaton over UTF-8 dictionary keys.
//!
//! `fst`'s own `Levenshtein` misses matches on non-ASCII keys (fst issues
//! #38 and #160), and CJK and accented terms are first-class here, so this
//! automaton runs the classic dynamic-programming row per code point
//! instead: a state is the edit-distance row against the query plus any
//! bytes of an incomplete UTF-8 sequence. A state dies as soon as every
//! entry of its row exceeds the distance, which prunes the dictionary walk.
//! Cost per byte is `O(query chars)`; the query length is capped by the
//! caller.

use fst::Automaton;

pub(crate) struct FuzzyAutomaton {
    query: Vec<char>,
    /// Row entries are capped at `max + 1`: any larger distance is dead.
    max: u8,
}

/// Longest query the fixed-size state holds, in characters.
const MAX_QUERY: usize = crate::matching::MAX_FUZZY_CHARS;

/// The edit-distance row (entries `0..=query length`, capped) and the bytes
/// of an incomplete UTF-8 sequence; fixed-size so stepping never allocates.
#[derive(Clone, Debug)]
pub(crate) struct FuzzyState {
    row: [u8; MAX_QUERY + 1],
    partial: [u8; 4],
    partial_len: u8,
}

impl FuzzyAutomaton {
    /// `query` is truncated to [`MAX_QUERY`] characters (callers reject
    /// longer ones) and `max` to 2.
    pub(crate) fn new(query: &str, max: u32) -> FuzzyAutomaton {
        FuzzyAutomaton {
            query: query.chars().take(MAX_QUERY).collect(),
            max: u8::try_from(max.min(2)).expect("invariant: at most 2"),
        }
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
        let mut row = [0u8; MAX_QUERY + 1];
        let cap = self.max + 1;
        for (i, slot) in row.iter_mut().enumerate().take(self.query.len() + 1) {
            *slot = u8::try_from(i).unwrap_or(u8::MAX).min(cap);
        }
        Some(FuzzyState {
            row,
            partial: [0; 4],
            partial_len: 0,
        })
    }

    fn is_match(&self, state: &Self::State) -> bool {
        state
            .as_ref()
            .is_some_and(|s| s.partial_len == 0 && s.row[self.query.len()] <= self.max)
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
        let cap = self.max + 1;
        let mut next = [0u8; MAX_QUERY + 1];
        next[0] = (s.row[0] + 1).min(cap);
        let mut alive = next[0] <= self.max;
        for (j, &q) in self.query.iter().enumerate() {
            let substitute = s.row[j] + u8::from(q != c);
            let delete = s.row[j + 1] + 1;
            let insert = next[j] + 1;
            let d = substitute.min(delete).min(insert).min(cap);
            alive |= d <= self.max;
            next[j + 1] = d;
        }
        if !alive {
            return None;
        }
        Some(FuzzyState {
            row: next,
            partial: [0; 4],
            partial_len: 0,
        })
    }
}
