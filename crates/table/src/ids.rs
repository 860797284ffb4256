//! Row-id allocation across writers.
//!
//! Ids are baked into superfiles when they are written, before the commit
//! that publishes them, so concurrent writers (threads or processes on other
//! machines) must not pick the same range. Each table keeps a counter object
//! `<table>/_ids` holding the next free id; a writer reserves `n` ids by a
//! compare-and-swap on it. A writer that dies after reserving leaves a gap,
//! never a duplicate.

use bytes::Bytes;
use infino_store::{Path, Store, StoreError};

use crate::error::{Result, TableError};

fn counter_path(table: &str) -> Path {
    Path::from(format!("{table}/_ids"))
}

/// Reserve `n` consecutive ids; returns the first.
pub(crate) async fn reserve(store: &Store, table: &str, n: u64) -> Result<u64> {
    let path = counter_path(table);
    loop {
        let (start, version) = match store.get_versioned(&path).await {
            Ok((bytes, version)) => (parse(table, &bytes)?, Some(version)),
            Err(StoreError::NotFound { .. }) => (0, None),
            Err(e) => return Err(e.into()),
        };
        // The token makes our bytes unique, for lost-reply recovery.
        let body = Bytes::from(format!("{} {}", start + n, uuid::Uuid::new_v4()));
        let outcome = match &version {
            Some(v) => store.replace_if_match(&path, body, v).await,
            None => store.create_if_absent(&path, body).await,
        };
        match outcome {
            Ok(_) => return Ok(start),
            Err(StoreError::PreconditionFailed { .. } | StoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

fn parse(table: &str, bytes: &[u8]) -> Result<u64> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| TableError::CorruptManifest {
            table: table.to_owned(),
            version: 0,
            reason: "the id counter `_ids` is unreadable; ids cannot be allocated safely".into(),
        })
}
