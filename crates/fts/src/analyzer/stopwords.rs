//! The built-in English stop-word list.

/// Common English function words, removed when
/// [`StopWords::English`](crate::StopWords::English) is configured.
pub(crate) const ENGLISH: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];
