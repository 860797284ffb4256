//! Reading versions and committing new ones.
//!
//! Commit protocol: the new superfiles are written first; then manifest
//! `N+1` is created with create-if-absent. Whoever creates it first wins. A
//! loser reads the versions it missed, re-applies its change on top (appends
//! never conflict) and tries the next number, with jittered backoff, up to
//! [`MAX_COMMIT_ATTEMPTS`] times. Because each manifest carries a random
//! commit id, a create whose reply was lost is recognised by the store as
//! ours rather than reported as a conflict.
//!
//! Finding the latest version: read the `_latest` hint (written after each
//! commit, best effort, possibly stale but never ahead), then probe `hint+1`,
//! `hint+2`, … until one is missing. No listing of the version prefix.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use infino_store::{Store, StoreError};
use rand::Rng;

use crate::error::{Result, TableError};
use crate::manifest::{Manifest, latest_hint_path, version_path};

/// Attempts before a commit gives up with [`TableError::CommitConflict`].
pub const MAX_COMMIT_ATTEMPTS: u32 = 64;

/// Read manifest `version` of `table`.
pub(crate) async fn read_version(store: &Store, table: &str, version: u64) -> Result<Manifest> {
    match store.get(&version_path(table, version)).await {
        Ok(bytes) => Manifest::decode(table, version, &bytes),
        Err(StoreError::NotFound { .. }) => Err(TableError::NoSuchVersion {
            table: table.to_owned(),
            version,
        }),
        Err(e) => Err(e.into()),
    }
}

/// The latest committed version number of `table`.
pub(crate) async fn latest_version(store: &Store, table: &str) -> Result<u64> {
    let hint = match store.get(&latest_hint_path(table)).await {
        Ok(bytes) => std::str::from_utf8(&bytes)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0),
        Err(StoreError::NotFound { .. }) => 0,
        Err(e) => return Err(e.into()),
    };
    let mut version = hint;
    // The hint may point at a version that was garbage-collected or never
    // existed (a torn write): fall back to 0 when it is missing.
    if exists(store, table, version).await? {
        while exists(store, table, version + 1).await? {
            version += 1;
        }
        return Ok(version);
    }
    if version != 0 && exists(store, table, 0).await? {
        version = 0;
        while exists(store, table, version + 1).await? {
            version += 1;
        }
        return Ok(version);
    }
    Err(TableError::NoSuchTable(table.to_owned()))
}

async fn exists(store: &Store, table: &str, version: u64) -> Result<bool> {
    match store.head(&version_path(table, version)).await {
        Ok(_) => Ok(true),
        Err(StoreError::NotFound { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Commit `change` on top of the latest version at or after `base`,
/// retrying on lost races. Returns the manifest that was committed.
pub(crate) async fn commit(
    store: &Store,
    base: &Manifest,
    operation: &str,
    change: impl Fn(&Manifest) -> Result<Manifest>,
) -> Result<Manifest> {
    let table = base.table.clone();
    let mut current = base.clone();
    for attempt in 1..=MAX_COMMIT_ATTEMPTS {
        let mut next = change(&current)?;
        next.version = current.version + 1;
        next.commit_id = uuid::Uuid::new_v4().to_string();
        next.timestamp_ms = now_ms();
        next.operation = operation.to_owned();
        match store
            .create_if_absent(&version_path(&table, next.version), next.encode())
            .await
        {
            Ok(_) => {
                let hint = next.version.to_string();
                if let Err(e) = store.put(&latest_hint_path(&table), hint.into()).await {
                    tracing::warn!(
                        table,
                        version = next.version,
                        "could not update the latest-version hint: {e}"
                    );
                }
                return Ok(next);
            }
            Err(StoreError::AlreadyExists { .. }) => {
                current = read_version(store, &table, current.version + 1).await?;
                while let Ok(newer) = read_version(store, &table, current.version + 1).await {
                    current = newer;
                }
                let cap = 2u64.saturating_pow(attempt.min(8)).min(200);
                let pause = rand::rng().random_range(0..=cap);
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(TableError::CommitConflict {
        table,
        attempts: MAX_COMMIT_ATTEMPTS,
    })
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
