//! UAX #29 word segmentation for ASCII text, without the Unicode tables.
//!
//! Most indexed text is ASCII, and general segmentation (property lookups
//! per character, a state machine built for every script) dominated
//! indexing time. Restricted to ASCII, the word-boundary rules that can
//! apply are few: letters and digits join each other (WB5, WB8–WB10),
//! `_` joins them (WB13a/b), and a `:` between letters, a `,` or `;` between
//! digits, or a `.` or `'` between two letters or two digits stays inside
//! the word (WB6/7, WB11/12). Only segments with a letter or digit are
//! words, so how punctuation and spaces split among themselves does not
//! matter. A property test checks this against `unicode-segmentation`.

/// Word-break classes of the ASCII characters that can be inside a word.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Numeric,
    /// `_` (ExtendNumLet).
    Extend,
    /// `:` (MidLetter).
    MidLetter,
    /// `,` and `;` (MidNum).
    MidNum,
    /// `.` (MidNumLet) and `'` (Single_Quote).
    MidNumLet,
    Other,
}

/// The class of byte `b`: one load from a table, where a `match` over
/// ranges was a chain of compares per character.
fn class(b: u8) -> Class {
    CLASSES[usize::from(b)]
}

const CLASSES: [Class; 256] = {
    let mut table = [Class::Other; 256];
    let mut b: u8 = 0;
    loop {
        table[b as usize] = match b {
            b'a'..=b'z' | b'A'..=b'Z' => Class::Letter,
            b'0'..=b'9' => Class::Numeric,
            b'_' => Class::Extend,
            b':' => Class::MidLetter,
            b',' | b';' => Class::MidNum,
            b'.' | b'\'' => Class::MidNumLet,
            _ => Class::Other,
        };
        if b == u8::MAX {
            break table;
        }
        b += 1;
    }
};

/// Whether a character of class `c` starts or continues a word run.
fn is_core(c: Class) -> bool {
    matches!(c, Class::Letter | Class::Numeric | Class::Extend)
}

/// Calls `f(start, word)` for each UAX #29 word of ASCII `text` that holds
/// a letter or digit, in order.
pub(crate) fn for_each_word(text: &str, mut f: impl FnMut(usize, &str)) {
    let bytes = text.as_bytes();
    let n = bytes.len();
    let mut i = 0;
    while i < n {
        if !is_core(class(bytes[i])) {
            i += 1;
            continue;
        }
        // A run of letters, digits and `_`, extended across a middle
        // character when the rules allow.
        let start = i;
        let mut has_alnum = false;
        loop {
            while i < n {
                let c = class(bytes[i]);
                if !is_core(c) {
                    break;
                }
                has_alnum |= c != Class::Extend;
                i += 1;
            }
            if i + 1 >= n {
                break;
            }
            let (before, mid, after) = (class(bytes[i - 1]), class(bytes[i]), class(bytes[i + 1]));
            let joins = match mid {
                Class::MidLetter => before == Class::Letter && after == Class::Letter,
                Class::MidNum => before == Class::Numeric && after == Class::Numeric,
                Class::MidNumLet => {
                    (before == Class::Letter && after == Class::Letter)
                        || (before == Class::Numeric && after == Class::Numeric)
                }
                _ => false,
            };
            if !joins {
                break;
            }
            i += 1;
        }
        if has_alnum {
            f(start, &text[start..i]);
        }
    }
}

#[cfg(test)]
mod tests {
    use unicode_segmentation::UnicodeSegmentation;

    use super::*;

    fn reference(text: &str) -> Vec<(usize, String)> {
        text.split_word_bound_indices()
            .filter(|(_, w)| w.chars().any(char::is_alphanumeric))
            .map(|(i, w)| (i, w.to_owned()))
            .collect()
    }

    fn ours(text: &str) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for_each_word(text, |i, w| out.push((i, w.to_owned())));
        out
    }

    #[test]
    fn matches_examples() {
        for text in [
            "can't stop 3.14 U.S.A. a:b 1,000;5 x_y __ _a a_ a.1 1.a 'a' a'' ..a.. e.g.,",
            "\"quoted\" word\ttab\r\nline--dash a-b 12:30 1:a",
            "",
            "a",
            "___",
        ] {
            assert_eq!(ours(text), reference(text), "{text:?}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn matches_unicode_segmentation(text in "[aZ09_:,;.'\" \t\r\n!-]{0,24}") {
            proptest::prop_assert_eq!(ours(&text), reference(&text));
        }

        #[test]
        fn matches_on_any_ascii(text in "[\x00-\x7F]{0,40}") {
            proptest::prop_assert_eq!(ours(&text), reference(&text));
        }
    }
}
