//! Table integration tests, one module per topic.

#![expect(
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    reason = "test sizes are small"
)]

mod api;
mod cold;
mod common;
mod concurrency;
mod crash;
mod mutations;
mod processes;
mod pruning;
mod relevance;
mod snapshots;
mod vectors;
