//! ASCII folding for Latin-1 Supplement and Latin Extended-A letters.
//!
//! A table covers U+00C0..=U+017F; combining diacritical marks
//! (U+0300..=U+036F) are removed so decomposed input folds like composed
//! input. Every other character passes through unchanged: folding never
//! drops non-ASCII text, it only maps what it knows.

/// Replacement for each code point from U+00C0 to U+017F; `""` keeps the
/// character unchanged.
const LATIN: [&str; 0x180 - 0xC0] = [
    // U+00C0
    "A", "A", "A", "A", "A", "A", "AE", "C", "E", "E", "E", "E", "I", "I", "I", "I", //
    // U+00D0 (U+00D7 is the multiplication sign)
    "D", "N", "O", "O", "O", "O", "O", "", "O", "U", "U", "U", "U", "Y", "TH", "ss", //
    // U+00E0
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i", //
    // U+00F0 (U+00F7 is the division sign)
    "d", "n", "o", "o", "o", "o", "o", "", "o", "u", "u", "u", "u", "y", "th", "y", //
    // U+0100
    "A", "a", "A", "a", "A", "a", "C", "c", "C", "c", "C", "c", "C", "c", "D", "d", //
    // U+0110
    "D", "d", "E", "e", "E", "e", "E", "e", "E", "e", "E", "e", "G", "g", "G", "g", //
    // U+0120
    "G", "g", "G", "g", "H", "h", "H", "h", "I", "i", "I", "i", "I", "i", "I", "i", //
    // U+0130
    "I", "i", "IJ", "ij", "J", "j", "K", "k", "k", "L", "l", "L", "l", "L", "l", "L", //
    // U+0140
    "l", "L", "l", "N", "n", "N", "n", "N", "n", "n", "N", "n", "O", "o", "O", "o", //
    // U+0150
    "O", "o", "OE", "oe", "R", "r", "R", "r", "R", "r", "S", "s", "S", "s", "S", "s", //
    // U+0160
    "S", "s", "T", "t", "T", "t", "T", "t", "U", "u", "U", "u", "U", "u", "U", "u", //
    // U+0170
    "U", "u", "U", "u", "W", "w", "Y", "y", "Y", "Z", "z", "Z", "z", "Z", "z", "s", //
];

/// Appends `c`, folded to ASCII where the table knows it, to `out`.
pub(crate) fn push_folded(c: char, out: &mut String) {
    let cp = u32::from(c);
    if (0x300..=0x36F).contains(&cp) {
        return;
    }
    if (0xC0..0x180).contains(&cp) {
        let replacement = LATIN[(cp - 0xC0) as usize];
        if !replacement.is_empty() {
            out.push_str(replacement);
            return;
        }
    }
    out.push(c);
}

/// Returns `s` folded to ASCII where possible.
pub(crate) fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_folded(c, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn folds_latin() {
        assert_eq!(fold("Ångström café naïve"), "Angstrom cafe naive");
        assert_eq!(fold("Straße Œuvre Łódź"), "Strasse OEuvre Lodz");
        assert_eq!(fold("×÷"), "×÷");
        assert_eq!(fold("e\u{301}"), "e");
        assert_eq!(fold("日本"), "日本");
        assert_eq!(fold("ſ"), "s");
    }
}
