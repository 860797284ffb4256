//! What a table holds: its version history and summary statistics.

use std::collections::BTreeMap;

use futures::future::try_join_all;

use crate::error::Result;
use crate::manifest::FtsSummary;
use crate::table::Table;
use crate::versions;

/// One stored version of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    /// Version number.
    pub version: u64,
    /// Commit time, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// What the commit did (`create`, `append`, `delete`, …).
    pub operation: String,
    /// Live rows at that version.
    pub rows: u64,
    /// Superfiles at that version.
    pub files: usize,
}

/// Summary statistics of one table version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableStats {
    /// The version described.
    pub version: u64,
    /// Live rows.
    pub rows: u64,
    /// Rows deleted but still stored (compaction drops them).
    pub deleted_rows: u64,
    /// Superfiles.
    pub files: usize,
    /// Bytes of the superfiles.
    pub bytes: u64,
    /// Per full-text column, documents with a value and their tokens (live
    /// rows only): the statistics table-wide BM25 uses.
    pub fts: BTreeMap<String, FtsSummary>,
}

impl Table {
    /// Every version still stored (garbage collection removes old ones),
    /// oldest first, up to this handle's version.
    ///
    /// # Errors
    /// Storage errors, a corrupt manifest.
    pub async fn versions(&self) -> Result<Vec<VersionInfo>> {
        let store = &self.inner.store;
        let numbers: Vec<u64> = versions::listed_versions(store, self.name())
            .await?
            .into_iter()
            .filter(|&v| v <= self.version())
            .collect();
        let manifests = try_join_all(
            numbers
                .iter()
                .map(|&v| versions::read_version(store, self.name(), v)),
        )
        .await?;
        Ok(manifests
            .into_iter()
            .map(|m| VersionInfo {
                version: m.version,
                timestamp_ms: m.timestamp_ms,
                rows: m.rows(),
                files: m.files.len(),
                operation: m.operation,
            })
            .collect())
    }

    /// Statistics of this version, from its manifest alone (no request).
    pub fn stats(&self) -> TableStats {
        let m = self.manifest();
        let mut fts: BTreeMap<String, FtsSummary> = BTreeMap::new();
        for f in &m.files {
            for column in f.fts.keys() {
                if let Some(live) = f.live_fts(column) {
                    let total = fts.entry(column.clone()).or_default();
                    total.doc_count += live.doc_count;
                    total.total_tokens += live.total_tokens;
                }
            }
        }
        TableStats {
            version: m.version,
            rows: m.rows(),
            deleted_rows: m.files.iter().map(|f| f.rows - f.live_rows()).sum(),
            files: m.files.len(),
            bytes: m.files.iter().map(|f| f.size).sum(),
            fts,
        }
    }
}
