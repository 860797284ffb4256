//! Benchmark cells, one module each. A cell measures one area and records
//! its numbers into the [`Report`](crate::report::Report).

pub(crate) mod cold;
pub(crate) mod fts;
mod hnsw_peer;
pub(crate) mod mutations;
pub(crate) mod peers;
pub(crate) mod quality;
mod queries;
pub(crate) mod sql;
pub(crate) mod storage;
pub(crate) mod table;
mod tantivy_peer;
pub(crate) mod vectors;
