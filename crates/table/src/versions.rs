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

/// The `_latest` hint of `table` (0 when missing or unreadable).
async fn read_hint(store: &Store, table: &str) -> Result<u64> {
    match store.get(&latest_hint_path(table)).await {
        Ok(bytes) => Ok(std::str::from_utf8(&bytes)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0)),
        Err(StoreError::NotFound { .. }) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// The latest manifest of `table` in two round trips when the hint is
/// current: the hint, then the hinted manifest and a probe of the version
/// after it together. A stale hint costs one more read per missed version;
/// a hint naming a collected version falls back to listing.
pub(crate) async fn read_latest(store: &Store, table: &str) -> Result<Manifest> {
    let hint = read_hint(store, table).await?;
    let hinted_path = version_path(table, hint);
    let (hinted, newer) = futures::join!(store.get(&hinted_path), exists(store, table, hint + 1));
    match (hinted, newer?) {
        (Ok(bytes), false) => Manifest::decode(table, hint, &bytes),
        (Ok(_), true) => read_forward(store, read_version(store, table, hint + 1).await?).await,
        (Err(StoreError::NotFound { .. }), _) => {
            let latest = latest_version(store, table).await?;
            read_version(store, table, latest).await
        }
        (Err(e), _) => Err(e.into()),
    }
}

/// The latest committed version number of `table`.
pub(crate) async fn latest_version(store: &Store, table: &str) -> Result<u64> {
    let hint = read_hint(store, table).await?;
    // The hint may point at a version that was garbage-collected or never
    // existed (a torn write): then list the versions instead.
    let mut version = hint;
    if !exists(store, table, version).await? {
        version = listed_latest(store, table)
            .await?
            .ok_or_else(|| TableError::NoSuchTable(table.to_owned()))?;
    }
    while exists(store, table, version + 1).await? {
        version += 1;
    }
    Ok(version)
}

/// Every version of `table` still stored, ascending.
pub(crate) async fn listed_versions(store: &Store, table: &str) -> Result<Vec<u64>> {
    let prefix = infino_store::Path::from(format!("{table}/_versions"));
    let mut versions: Vec<u64> = store
        .list(Some(&prefix))
        .await?
        .iter()
        .filter_map(|o| o.path.filename()?.strip_suffix(".manifest")?.parse().ok())
        .collect();
    versions.sort_unstable();
    Ok(versions)
}

async fn listed_latest(store: &Store, table: &str) -> Result<Option<u64>> {
    Ok(listed_versions(store, table).await?.last().copied())
}

pub(crate) async fn exists(store: &Store, table: &str, version: u64) -> Result<bool> {
    match store.head(&version_path(table, version)).await {
        Ok(_) => Ok(true),
        Err(StoreError::NotFound { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The latest manifest at or after `base`, checked so that a commit never
/// reuses a version number garbage collection freed: if `base + 1` is
/// missing and `base` still exists, `base` is the latest (collection
/// deletes versions oldest first, so `base + 1` cannot have been collected
/// while `base` remains); if `base` itself is gone, find the latest anew.
pub(crate) async fn latest_from(store: &Store, base: &Manifest) -> Result<Manifest> {
    let table = &base.table;
    if exists(store, table, base.version + 1).await? {
        return read_forward(store, read_version(store, table, base.version + 1).await?).await;
    }
    if exists(store, table, base.version).await? {
        return Ok(base.clone());
    }
    let latest = latest_version(store, table).await?;
    read_version(store, table, latest).await
}

/// `from`, or the newest version after it.
async fn read_forward(store: &Store, from: Manifest) -> Result<Manifest> {
    let mut current = from;
    while let Ok(newer) = read_version(store, &current.table, current.version + 1).await {
        current = newer;
    }
    Ok(current)
}

/// Try to commit `next` as the version after `current`. `Ok(Ok(m))`: `m`
/// was committed. `Ok(Err(newer))`: another writer won; `newer` is the
/// latest version now (the caller rebases on it and tries again, after a
/// short jittered pause taken here).
pub(crate) async fn try_commit(
    store: &Store,
    current: &Manifest,
    mut next: Manifest,
    operation: &str,
) -> Result<std::result::Result<Manifest, Manifest>> {
    let table = current.table.clone();
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
            Ok(Ok(next))
        }
        Err(StoreError::AlreadyExists { .. }) => {
            let newer =
                read_forward(store, read_version(store, &table, next.version).await?).await?;
            let lost = newer.version.saturating_sub(current.version).min(8);
            let cap = 2u64
                .saturating_pow(u32::try_from(lost).unwrap_or(8))
                .min(200);
            let pause = rand::rng().random_range(0..=cap);
            tokio::time::sleep(Duration::from_millis(pause)).await;
            Ok(Err(newer))
        }
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
    let mut current = latest_from(store, base).await?;
    for _ in 0..MAX_COMMIT_ATTEMPTS {
        let next = change(&current)?;
        match try_commit(store, &current, next, operation).await? {
            Ok(committed) => return Ok(committed),
            Err(newer) => current = newer,
        }
    }
    Err(TableError::CommitConflict {
        table: base.table.clone(),
        attempts: MAX_COMMIT_ATTEMPTS,
    })
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
