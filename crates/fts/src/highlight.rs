//! Snippets with query matches wrapped in markers.
//!
//! With offsets stored, match ranges come from the stored byte offsets of
//! the query's scoring terms in that document, so the text is not
//! re-analyzed; without, the text is analyzed with the region's analyzer —
//! the same spans, since the region records its analyzer.
//! Either way the caller supplies the document's original text (the region
//! does not store it). Text is not escaped: callers rendering HTML escape
//! the pieces themselves or pick markers that suit their output.

use std::collections::HashSet;

use crate::error::Result;
use crate::postings::TERMINATED;
use crate::query::Query;
use crate::reader::FtsIndex;

/// How [`highlight`] renders a snippet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HighlightOptions {
    /// Inserted before each match.
    pub pre_tag: String,
    /// Inserted after each match.
    pub post_tag: String,
    /// Longest snippet, in bytes of the original text (markers and
    /// ellipses excluded); 0 keeps the whole text.
    pub max_len: usize,
    /// Marks text cut at either end of the snippet.
    pub ellipsis: String,
}

impl Default for HighlightOptions {
    /// `<b>`/`</b>` markers, 160-byte snippets, `…` ellipsis.
    fn default() -> Self {
        HighlightOptions {
            pre_tag: "<b>".into(),
            post_tag: "</b>".into(),
            max_len: 160,
            ellipsis: "…".into(),
        }
    }
}

/// Byte ranges of `text` that match `query`'s scoring terms in document
/// `doc`, sorted and non-overlapping. Stored offsets that do not fit `text`
/// (a different text than was indexed) are skipped.
///
/// # Errors
/// As [`Query::scoring_terms`], plus [`FtsError::Corrupt`](crate::FtsError)
/// on malformed postings.
pub fn highlight_spans(
    index: &FtsIndex,
    doc: u32,
    text: &str,
    query: &Query,
) -> Result<Vec<(usize, usize)>> {
    let terms: HashSet<String> = query
        .scoring_terms(index)?
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    let mut spans = Vec::new();
    if index.has_offsets() {
        for term in &terms {
            let Some(info) = index.term_info(term)? else {
                continue;
            };
            let mut cursor = index.postings(&info)?;
            if doc == TERMINATED || cursor.seek(doc)? != doc {
                continue;
            }
            for occurrence in cursor.occurrences()? {
                let (start, end) = (occurrence.start as usize, occurrence.end as usize);
                if start < end && text.get(start..end).is_some() {
                    spans.push((start, end));
                }
            }
        }
    } else {
        index.analyzer().for_each_token(text, |token| {
            if terms.contains(&token.term) {
                spans.push((token.start, token.end));
            }
        });
    }
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    Ok(merged)
}

/// A snippet of `text` (document `doc`) around the densest run of matches,
/// each wrapped in the configured markers.
///
/// # Errors
/// As [`highlight_spans`].
pub fn highlight(
    index: &FtsIndex,
    doc: u32,
    text: &str,
    query: &Query,
    options: &HighlightOptions,
) -> Result<String> {
    let spans = highlight_spans(index, doc, text, query)?;
    Ok(render(text, &spans, options))
}

fn floor_boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Picks the window and renders it.
fn render(text: &str, spans: &[(usize, usize)], options: &HighlightOptions) -> String {
    let (start, end) = if options.max_len == 0 || text.len() <= options.max_len {
        (0, text.len())
    } else {
        let len = options.max_len;
        // The span start whose window holds the most whole spans.
        let best = (0..spans.len())
            .map(|i| {
                let limit = spans[i].0 + len;
                let count = spans[i..].iter().take_while(|s| s.1 <= limit).count();
                (count, std::cmp::Reverse(i))
            })
            .max()
            .map_or(0, |(_, std::cmp::Reverse(i))| spans[i].0);
        let best_end = spans.iter().find(|s| s.0 == best).map_or(best, |s| s.1);
        // Leave some leading context, keep the window inside the text, and
        // avoid cutting words where a space is near.
        let mut start = floor_boundary(text, best.saturating_sub(len / 4).min(text.len() - len));
        if start > 0
            && !text[..start].ends_with(char::is_whitespace)
            && let Some(i) = text[start..best].find(char::is_whitespace)
        {
            start += i + 1;
        }
        let mut end = floor_boundary(text, start + len);
        if end < text.len()
            && !text[end..].starts_with(char::is_whitespace)
            && best_end < end
            && let Some(i) = text[best_end..end].rfind(char::is_whitespace)
        {
            end = best_end + i;
        }
        (start, end)
    };
    let mut out = String::with_capacity(end - start + 32);
    if start > 0 {
        out.push_str(&options.ellipsis);
    }
    let mut at = start;
    for &(s, e) in spans {
        if s < start || e > end {
            continue;
        }
        out.push_str(&text[at..s]);
        out.push_str(&options.pre_tag);
        out.push_str(&text[s..e]);
        out.push_str(&options.post_tag);
        at = e;
    }
    out.push_str(&text[at..end]);
    if end < text.len() {
        out.push_str(&options.ellipsis);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_window_around_densest_matches() {
        let text = "aaa bbb ccc ddd eee fff ggg";
        let opts = HighlightOptions {
            pre_tag: "[".into(),
            post_tag: "]".into(),
            max_len: 12,
            ellipsis: "...".into(),
        };
        assert_eq!(
            render(text, &[(16, 19), (20, 23)], &opts),
            "...[eee] [fff] ggg"
        );
        let whole = HighlightOptions { max_len: 0, ..opts };
        assert_eq!(
            render(text, &[(0, 3)], &whole),
            "[aaa] bbb ccc ddd eee fff ggg"
        );
        assert_eq!(
            render(
                "日本語テキスト",
                &[],
                &HighlightOptions {
                    max_len: 4,
                    ..whole
                }
            ),
            "日..."
        );
    }
}
