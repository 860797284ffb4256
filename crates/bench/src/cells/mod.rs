//! Benchmark cells, one module each. A cell measures one area and records
//! its numbers into the [`Report`](crate::report::Report).

pub(crate) mod fts;
mod queries;
pub(crate) mod storage;
mod tantivy_peer;
