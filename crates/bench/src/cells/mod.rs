//! Benchmark cells, one module each. A cell measures one area and records
//! its numbers into the [`Report`](crate::report::Report).

pub(crate) mod storage;
