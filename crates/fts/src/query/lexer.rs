//! Splits a query string into tokens with their byte offsets.

use crate::error::{FtsError, QueryErrorKind, Result};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    LParen,
    /// A closing parenthesis with its optional `^boost`.
    RParen(Option<f32>),
    Plus,
    Minus,
    And,
    Or,
    Not,
    /// A quoted phrase's inner text and optional `^boost`.
    Phrase(String, Option<f32>),
    /// A bare word, suffixes (`*`, `~n`, `^b`) still attached.
    Word(String),
}

/// Characters that end a word.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || c.is_control() || matches!(c, '(' | ')' | '"')
}

/// Parses a boost's digits.
pub(crate) fn parse_boost(text: &str, offset: usize) -> Result<f32> {
    text.parse::<f32>()
        .ok()
        .filter(|b| b.is_finite() && *b >= 0.0)
        .ok_or_else(|| FtsError::query(QueryErrorKind::InvalidBoost, offset))
}

pub(crate) fn lex(input: &str) -> Result<Vec<(Tok, usize)>> {
    let mut out = Vec::new();
    let mut chars = input.char_indices().peekable();
    // Reads an optional `^boost` directly after a `)` or closing quote.
    let read_boost =
        |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>| -> Result<Option<f32>> {
            let Some(&(at, '^')) = chars.peek() else {
                return Ok(None);
            };
            chars.next();
            let start = at + 1;
            let mut end = start;
            while let Some(&(i, c)) = chars.peek() {
                if is_separator(c) {
                    break;
                }
                end = i + c.len_utf8();
                chars.next();
            }
            parse_boost(&input[start..end], at).map(Some)
        };
    while let Some(&(at, c)) = chars.peek() {
        if c.is_whitespace() || c.is_control() {
            chars.next();
            continue;
        }
        match c {
            '(' => {
                chars.next();
                out.push((Tok::LParen, at));
            }
            ')' => {
                chars.next();
                let boost = read_boost(&mut chars)?;
                out.push((Tok::RParen(boost), at));
            }
            '"' => {
                chars.next();
                let start = at + 1;
                let mut end = None;
                for (i, c) in chars.by_ref() {
                    if c == '"' {
                        end = Some(i);
                        break;
                    }
                }
                let end =
                    end.ok_or_else(|| FtsError::query(QueryErrorKind::UnterminatedPhrase, at))?;
                let boost = read_boost(&mut chars)?;
                out.push((Tok::Phrase(input[start..end].to_owned(), boost), at));
            }
            '+' | '-' => {
                chars.next();
                let followed = chars
                    .peek()
                    .is_some_and(|&(_, n)| !(n.is_whitespace() || n.is_control() || n == ')'));
                if followed {
                    out.push((if c == '+' { Tok::Plus } else { Tok::Minus }, at));
                } else {
                    out.push((Tok::Word(c.to_string()), at));
                }
            }
            _ => {
                let mut end = at;
                while let Some(&(i, c)) = chars.peek() {
                    if is_separator(c) {
                        break;
                    }
                    end = i + c.len_utf8();
                    chars.next();
                }
                let word = &input[at..end];
                let tok = match word {
                    "AND" | "&&" => Tok::And,
                    "OR" | "||" => Tok::Or,
                    "NOT" => Tok::Not,
                    _ => Tok::Word(word.to_owned()),
                };
                out.push((tok, at));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexes_operators_phrases_and_words() {
        let toks: Vec<Tok> = lex("+a -\"b c\"^2 (x OR y)^0.5 NOT z - w-v")
            .expect("lexes")
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        assert_eq!(
            toks,
            [
                Tok::Plus,
                Tok::Word("a".into()),
                Tok::Minus,
                Tok::Phrase("b c".into(), Some(2.0)),
                Tok::LParen,
                Tok::Word("x".into()),
                Tok::Or,
                Tok::Word("y".into()),
                Tok::RParen(Some(0.5)),
                Tok::Not,
                Tok::Word("z".into()),
                Tok::Word("-".into()),
                Tok::Word("w-v".into()),
            ]
        );
        assert!(lex("\"open").is_err());
        assert!(lex("(a)^x").is_err());
    }
}
