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
    max: u32,
}

#[derive(Clone, Debug)]
pub(crate) struct FuzzyState {
    row: Vec<u32>,
    partial: [u8; 4],
    partial_len: usize,
}

impl FuzzyAutomaton {
    pub(crate) fn new(query: &str, max: u32) -> FuzzyAutomaton {
        FuzzyAutomaton {
            query: query.chars().collect(),
            max,
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
        let n = u32::try_from(self.query.len()).unwrap_or(u32::MAX);
        Some(FuzzyState {
            row: (0..=n).collect(),
            partial: [0; 4],
            partial_len: 0,
        })
    }

    fn is_match(&self, state: &Self::State) -> bool {
        state
            .as_ref()
            .is_some_and(|s| s.partial_len == 0 && s.row.last().is_some_and(|&d| d <= self.max))
    }

    fn can_match(&self, state: &Self::State) -> bool {
        state.is_some()
    }

    fn accept(&self, state: &Self::State, byte: u8) -> Self::State {
        let s = state.as_ref()?;
        let mut partial = s.partial;
        partial[s.partial_len] = byte;
        let len = s.partial_len + 1;
        let want = utf8_len(partial[0])?;
        if len < want {
            return Some(FuzzyState {
                row: s.row.clone(),
                partial,
                partial_len: len,
            });
        }
        let c = std::str::from_utf8(&partial[..len]).ok()?.chars().next()?;
        let mut next = Vec::with_capacity(s.row.len());
        next.push(s.row[0] + 1);
        for (j, &q) in self.query.iter().enumerate() {
            let substitute = s.row[j] + u32::from(q != c);
            let delete = s.row[j + 1] + 1;
            let insert = next[j] + 1;
            next.push(substitute.min(delete).min(insert));
        }
        if next.iter().all(|&d| d > self.max) {
            return None;
        }
        Some(FuzzyState {
            row: next,
            partial: [0; 4],
            partial_len: 0,
        })
    }
}
