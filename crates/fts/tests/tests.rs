//! Integration tests for `infino-fts`, one binary organized by topic.

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_lossless,
    reason = "tests convert small generated counts between integer and float types"
)]

mod analyzer;
mod bm25_oracle;
mod common;
mod corruption;
mod highlight;
mod lazy;
mod matching;
mod postings;
mod query;
