//! Superfile integration tests, one module per topic.

#![expect(
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    reason = "test sizes are small"
)]

mod column_vectors;
mod common;
mod corruption;
mod lazy;
mod oracle;
mod roundtrip;
mod take;
mod vectors;
