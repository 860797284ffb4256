//! SQL integration tests.

#![allow(
    clippy::cast_sign_loss,
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    reason = "generated test data is small and non-negative"
)]

mod common;
mod cost;
mod differential;
mod explain;
mod filtered_vectors;
mod functions;
mod pushdown;
mod whole_values;
