//! The manifest: one immutable JSON object per table version.
//!
//! Version `N` lives at `<table>/_versions/<N, 20 digits>.manifest` and lists
//! every superfile of the table at that version with the summaries queries
//! need before opening any file (row counts, `_id` ranges, full-text
//! statistics for table-wide BM25). Each manifest carries a random commit id,
//! which makes its bytes unique to the writer: the store uses that to
//! recognise its own write after a lost reply.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use infino_fts::{AnalyzerConfig, FtsConfig};
use infino_store::Path;
use infino_superfile::IndexSpec;
use infino_vector::{BuildParams, Metric, Rerank};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TableError};
use crate::summary::{ColumnSummary, VectorSummary};

/// Manifest format version written.
pub const MANIFEST_FORMAT: u16 = 1;

/// A column of the table schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnDef {
    /// Name.
    pub name: String,
    /// Arrow type, in Arrow's own text form (`Utf8`, `Int64`, …).
    pub data_type: String,
    /// Whether nulls are allowed.
    pub nullable: bool,
}

/// A full-text indexed column and how it is analyzed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FtsColumnDef {
    /// Column name.
    pub column: String,
    /// The analyzer configuration bytes (`AnalyzerConfig::to_bytes`), hex.
    pub analyzer: String,
    /// Positions stored (phrase queries).
    pub positions: bool,
}

/// A vector indexed column and how its index is built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VectorColumnDef {
    /// Column name.
    pub column: String,
    /// `l2`, `cosine` or `inner_product`.
    pub metric: String,
    /// IVF lists per file (`None`: about √rows).
    pub lists: Option<usize>,
    /// Rerank payload: `sq8`, `sq4`, `f32` or `none`.
    pub rerank: String,
    /// Seed of the rotation and k-means.
    pub seed: u64,
}

/// Per-file full-text statistics, summed for table-wide BM25.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FtsSummary {
    /// Documents with a value.
    pub doc_count: u64,
    /// Tokens over those documents.
    pub total_tokens: u64,
}

/// One superfile of the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the connection root.
    pub path: String,
    /// Rows.
    pub rows: u64,
    /// `_id` of the first row; the file holds `first_id .. first_id + rows`.
    pub first_id: u64,
    /// Size in bytes.
    pub size: u64,
    /// Full-text statistics per indexed column.
    pub fts: BTreeMap<String, FtsSummary>,
    /// Per indexed column, a bloom filter of its terms (base64), for
    /// skipping files a query cannot match.
    #[serde(default)]
    pub term_blooms: BTreeMap<String, String>,
    /// The file's tail (base64) when small enough, so opening the file
    /// costs no request: everything after its index regions (the Parquet
    /// page index, then footer and trailer) when that fits in 16 KiB, else
    /// the footer and trailer alone. With the page index a cold row fetch
    /// reads single pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    /// The largest `_id` in the file when its ids are not the contiguous
    /// run `first_id .. first_id + rows` (a compacted file keeps the ids of
    /// the rows it merged, with gaps where rows were deleted). `None`:
    /// contiguous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_id: Option<u64>,
    /// Rows of this file deleted since it was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletes: Option<Deletes>,
    /// Min/max/null counts per scalar column (all rows written, deleted
    /// ones included — bounds stay conservative).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub columns: BTreeMap<String, ColumnSummary>,
    /// Per full-text column, the smallest and largest term.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub term_ranges: BTreeMap<String, (String, String)>,
    /// Centroid and radius per vector column.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vectors: BTreeMap<String, VectorSummary>,
    /// Per full-text column, the length of its region's lookup prefix
    /// (header, dictionary, term info, norms), so a cold query reads it in
    /// exactly one request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fts_lookup: BTreeMap<String, u64>,
    /// Per vector column, the length of its region's header (centroids,
    /// cluster directory), so a cold query reads it in exactly one request
    /// instead of a 256 KiB guess.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vector_lookup: BTreeMap<String, u64>,
    /// Full-text columns whose every value in this file is exactly one
    /// term spelled as the value (codes, tags, lowercase keywords; the
    /// region's whole-values flag): equality with a value that is its own
    /// term is then answered exactly by the postings, with no re-check.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub whole_values: BTreeSet<String>,
}

impl FileEntry {
    /// Rows not deleted.
    pub fn live_rows(&self) -> u64 {
        self.rows - self.deletes.as_ref().map_or(0, |d| d.count)
    }

    /// The largest `_id` the file may hold.
    pub fn last_id(&self) -> u64 {
        self.max_id
            .unwrap_or((self.first_id + self.rows).saturating_sub(1))
    }

    /// Full-text statistics of the live rows of `column`: the file's minus
    /// its deleted rows'.
    pub fn live_fts(&self, column: &str) -> Option<FtsSummary> {
        let all = *self.fts.get(column)?;
        let gone = self
            .deletes
            .as_ref()
            .and_then(|d| d.fts.get(column).copied())
            .unwrap_or_default();
        Some(FtsSummary {
            doc_count: all.doc_count.saturating_sub(gone.doc_count),
            total_tokens: all.total_tokens.saturating_sub(gone.total_tokens),
        })
    }
}

/// A file's deletion vector: the row ordinals deleted from it, stored as a
/// roaring bitmap in its own immutable object (`<table>/deletes/<uuid>.del`).
/// Each delete that touches the file writes the whole new set; the manifest
/// points at the current one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deletes {
    /// Path of the deletion-vector object.
    pub path: String,
    /// Rows deleted.
    pub count: u64,
    /// Full-text statistics of the deleted rows, per indexed column, so
    /// table-wide BM25 counts only live rows without reading them again.
    #[serde(default)]
    pub fts: BTreeMap<String, FtsSummary>,
}

/// One version of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest format.
    pub format: u16,
    /// Table name.
    pub table: String,
    /// This version.
    pub version: u64,
    /// Random id of the commit that wrote it.
    pub commit_id: String,
    /// Commit time, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// What the commit did (`create`, `append`, `delete`, `update`,
    /// `upsert`, `optimize`).
    pub operation: String,
    /// Table schema (without `_id`).
    pub schema: Vec<ColumnDef>,
    /// Full-text indexed columns.
    pub fts: Vec<FtsColumnDef>,
    /// Vector indexed columns.
    #[serde(default)]
    pub vector: Vec<VectorColumnDef>,
    /// The superfiles.
    pub files: Vec<FileEntry>,
    /// The key column `upsert` matches rows by, if the table declares one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Rows per superfile an append aims at (default
    /// [`TARGET_ROWS_PER_FILE`](crate::TARGET_ROWS_PER_FILE)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_rows: Option<u64>,
    /// In-memory Arrow bytes per superfile an append aims at, if bounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_bytes: Option<u64>,
}

impl Manifest {
    /// The first manifest of a new table.
    pub(crate) fn create(table: &str, schema: &Schema, spec: &IndexSpec) -> Result<Self> {
        let columns = schema
            .fields()
            .iter()
            .map(|f| ColumnDef {
                name: f.name().clone(),
                data_type: f.data_type().to_string(),
                nullable: f.is_nullable(),
            })
            .collect();
        let mut fts = Vec::with_capacity(spec.fts.len());
        for col in &spec.fts {
            fts.push(FtsColumnDef {
                column: col.column.clone(),
                analyzer: hex(&col.config.analyzer.to_bytes()?),
                positions: col.config.positions,
            });
        }
        let mut vector = Vec::with_capacity(spec.vector.len());
        for col in &spec.vector {
            vector.push(VectorColumnDef {
                column: col.column.clone(),
                metric: metric_name(col.metric)?.to_owned(),
                lists: col.params.lists,
                rerank: rerank_name(col.params.rerank)?.to_owned(),
                seed: col.params.seed,
            });
        }
        for field in schema.fields() {
            let text = field.data_type().to_string();
            if DataType::from_str(&text).ok().as_ref() != Some(field.data_type()) {
                return Err(TableError::Schema {
                    column: field.name().clone(),
                    reason: format!("type {text} cannot be recorded in a manifest"),
                });
            }
        }
        Ok(Self {
            format: MANIFEST_FORMAT,
            table: table.to_owned(),
            version: 0,
            commit_id: String::new(),
            timestamp_ms: 0,
            operation: "create".into(),
            schema: columns,
            fts,
            vector,
            files: Vec::new(),
            key: None,
            target_rows: None,
            target_bytes: None,
        })
    }

    /// The Arrow schema.
    ///
    /// # Errors
    /// [`TableError::CorruptManifest`] for a type Arrow cannot parse.
    pub fn arrow_schema(&self) -> Result<SchemaRef> {
        let mut fields = Vec::with_capacity(self.schema.len());
        for c in &self.schema {
            let data_type =
                DataType::from_str(&c.data_type).map_err(|e| self.corrupt(e.to_string()))?;
            fields.push(Field::new(&c.name, data_type, c.nullable));
        }
        Ok(Arc::new(Schema::new(fields)))
    }

    /// Whether every file's values of full-text column `column` are each
    /// one term spelled as the value ([`FileEntry::whole_values`]), so an
    /// equality with a value that is its own term needs no re-check.
    pub fn whole_values(&self, column: &str) -> bool {
        self.files.iter().all(|f| f.whole_values.contains(column))
    }

    /// The index spec.
    ///
    /// # Errors
    /// [`TableError::CorruptManifest`] for undecodable analyzer settings.
    pub fn index_spec(&self) -> Result<IndexSpec> {
        let mut spec = IndexSpec::default();
        for c in &self.fts {
            let bytes =
                unhex(&c.analyzer).ok_or_else(|| self.corrupt("analyzer is not hex".into()))?;
            let analyzer =
                AnalyzerConfig::from_bytes(&bytes).map_err(|e| self.corrupt(e.to_string()))?;
            spec = spec.with_fts(
                c.column.clone(),
                FtsConfig {
                    analyzer,
                    positions: c.positions,
                },
            );
        }
        for c in &self.vector {
            let metric = match c.metric.as_str() {
                "l2" => Metric::L2,
                "cosine" => Metric::Cosine,
                "inner_product" => Metric::InnerProduct,
                other => return Err(self.corrupt(format!("unknown metric `{other}`"))),
            };
            let rerank = match c.rerank.as_str() {
                "sq8" => Rerank::Sq8,
                "sq4" => Rerank::Sq4,
                "f32" => Rerank::F32,
                "none" => Rerank::None,
                other => return Err(self.corrupt(format!("unknown rerank payload `{other}`"))),
            };
            let params = BuildParams {
                lists: c.lists,
                seed: c.seed,
                rerank,
                ..BuildParams::default()
            };
            spec = spec.with_vector(c.column.clone(), metric, params);
        }
        Ok(spec)
    }

    /// Live (not deleted) rows over all files.
    pub fn rows(&self) -> u64 {
        self.files.iter().map(FileEntry::live_rows).sum()
    }

    pub(crate) fn encode(&self) -> bytes::Bytes {
        serde_json::to_vec(self)
            .expect("invariant: a manifest always serializes")
            .into()
    }

    pub(crate) fn decode(table: &str, version: u64, bytes: &[u8]) -> Result<Self> {
        let m: Manifest =
            serde_json::from_slice(bytes).map_err(|e| TableError::CorruptManifest {
                table: table.to_owned(),
                version,
                reason: e.to_string(),
            })?;
        if m.format > MANIFEST_FORMAT || m.version != version || m.table != table {
            return Err(TableError::CorruptManifest {
                table: table.to_owned(),
                version,
                reason: format!(
                    "format {} version {} table `{}` where {version} of `{table}` was expected",
                    m.format, m.version, m.table
                ),
            });
        }
        Ok(m)
    }

    fn corrupt(&self, reason: String) -> TableError {
        TableError::CorruptManifest {
            table: self.table.clone(),
            version: self.version,
            reason,
        }
    }
}

/// `<table>/_versions/<version>.manifest`, zero-padded so listings sort.
pub(crate) fn version_path(table: &str, version: u64) -> Path {
    Path::from(format!("{table}/_versions/{version:020}.manifest"))
}

/// `<table>/_latest`: a hint, never trusted past what probing confirms.
pub(crate) fn latest_hint_path(table: &str) -> Path {
    Path::from(format!("{table}/_latest"))
}

fn metric_name(metric: Metric) -> Result<&'static str> {
    match metric {
        Metric::L2 => Ok("l2"),
        Metric::Cosine => Ok("cosine"),
        Metric::InnerProduct => Ok("inner_product"),
        other => Err(TableError::Schema {
            column: String::new(),
            reason: format!("unsupported metric {other:?}"),
        }),
    }
}

fn rerank_name(rerank: Rerank) -> Result<&'static str> {
    match rerank {
        Rerank::Sq8 => Ok("sq8"),
        Rerank::Sq4 => Ok("sq4"),
        Rerank::F32 => Ok("f32"),
        Rerank::None => Ok("none"),
        other => Err(TableError::Schema {
            column: String::new(),
            reason: format!("unsupported rerank {other:?}"),
        }),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
