//! Test fixtures shared by infino's crates and the benchmark. Not published.
//!
//! - [`corpus`]: deterministic Zipf-distributed synthetic text.
//! - [`vectors`]: deterministic clustered vectors.
//! - [`fault_proxy`]: an HTTP proxy that drops or fails chosen requests.
//! - [`server`]: real object-store servers (SeaweedFS for S3, Azurite for
//!   Azure Blob) started on 127.0.0.1 by the project's own script and stopped
//!   when the fixture drops, even if the test panics.

#![expect(
    clippy::print_stderr,
    reason = "fixtures report skips and cleanup failures on stderr"
)]

pub mod corpus;
pub mod fault_proxy;
pub mod server;
pub mod vectors;
