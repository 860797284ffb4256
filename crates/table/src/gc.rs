//! Garbage collection: delete what no retained version needs.
//!
//! Versions are immutable and cheap to keep, but every superfile and
//! deletion vector a version ever referenced stays in storage until no
//! version a reader may still open refers to it. `gc` keeps the latest
//! version, every version committed within the retention window, and the
//! version that was latest when the window began (a reader may have opened
//! it just before). It deletes older manifests (oldest first — commits rely
//! on that order, see `versions::latest_from`), then data and deletion
//! objects no retained version references and older than the grace period:
//! a writer uploads its files before committing them, so a young
//! unreferenced file may belong to a commit in flight.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use infino_store::Path;

use crate::error::Result;
use crate::table::Table;
use crate::versions;

/// How long garbage collection keeps things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct GcOptions {
    /// Versions committed within this window stay readable (time travel,
    /// long-running readers).
    pub retention: Duration,
    /// Unreferenced files younger than this are kept: they may belong to a
    /// commit in flight. Must exceed the longest a writer takes from upload
    /// to commit.
    pub grace: Duration,
}

impl Default for GcOptions {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(7 * 24 * 3600),
            grace: Duration::from_secs(3600),
        }
    }
}

impl GcOptions {
    /// Options with this retention window and grace period.
    pub fn new(retention: Duration, grace: Duration) -> Self {
        Self { retention, grace }
    }
}

/// What garbage collection deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Manifests deleted.
    pub versions_deleted: usize,
    /// Superfiles and deletion vectors deleted.
    pub files_deleted: usize,
    /// Their bytes.
    pub bytes_deleted: u64,
    /// Versions kept.
    pub versions_kept: usize,
}

impl Table {
    /// Collect garbage of this table (whatever version this handle pins):
    /// see the module docs.
    ///
    /// # Errors
    /// Storage errors, a corrupt manifest.
    pub async fn gc(&self, options: &GcOptions) -> Result<GcReport> {
        let store = &self.inner.store;
        let name = self.name();
        let now = SystemTime::now();
        let cutoff_ms = versions::now_ms()
            .saturating_sub(u64::try_from(options.retention.as_millis()).unwrap_or(u64::MAX));
        let latest = versions::latest_version(store, name).await?;
        let stored = versions::listed_versions(store, name).await?;
        // Walk from the newest down: keep versions inside the window and
        // the first one older than it.
        let mut keep = Vec::new();
        let mut referenced = HashSet::new();
        for &v in stored.iter().rev().filter(|&&v| v <= latest) {
            let manifest = versions::read_version(store, name, v).await?;
            let inside = manifest.timestamp_ms >= cutoff_ms;
            for f in &manifest.files {
                referenced.insert(f.path.clone());
                if let Some(d) = &f.deletes {
                    referenced.insert(d.path.clone());
                }
            }
            keep.push(v);
            if !inside {
                break;
            }
        }
        let oldest_kept = keep.last().copied().unwrap_or(latest);
        let mut report = GcReport {
            versions_kept: keep.len(),
            ..GcReport::default()
        };
        for &v in stored.iter().filter(|&&v| v < oldest_kept) {
            store
                .delete(&crate::manifest::version_path(name, v))
                .await?;
            report.versions_deleted += 1;
        }
        for dir in ["data", "deletes"] {
            let prefix = Path::from(format!("{name}/{dir}"));
            for object in store.list(Some(&prefix)).await? {
                let young = now
                    .duration_since(object.last_modified)
                    .map_or(true, |age| age < options.grace);
                if young || referenced.contains(object.path.as_ref()) {
                    continue;
                }
                store.delete(&object.path).await?;
                report.files_deleted += 1;
                report.bytes_deleted += object.size;
            }
        }
        Ok(report)
    }
}
