//! Integration tests for `infino-vector`, one binary organized by topic.

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_lossless,
    clippy::cast_precision_loss,
    clippy::print_stdout,
    reason = "tests convert generated counts between integer and float types and print measured recall"
)]

mod bad_input;
mod codecs;
mod common;
mod corruption;
mod filtered;
mod kernels;
mod lazy;
mod recall;
mod reuters;
mod timing;
mod two_phase;
