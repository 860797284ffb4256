//! Layout constants and the region directory kept in the Parquet footer.
//!
//! `docs/format.md` is the byte-exact description; this module is its code.

use serde::{Deserialize, Serialize};

use crate::error::{Result, SuperfileError};

/// Footer key/value key that holds the JSON [`Directory`].
pub const DIRECTORY_KEY: &str = "infino.directory";
/// Name of the engine-assigned row id column.
pub const ID_COLUMN: &str = "_id";
/// Major format version written; readers refuse a larger one.
pub const FORMAT_MAJOR: u16 = 1;
/// Minor format version written; additions readers may ignore.
pub const FORMAT_MINOR: u16 = 0;
/// Parquet's leading magic, the start of the row-group data.
pub(crate) const PARQUET_MAGIC_LEN: u64 = 4;
/// Parquet's trailer: footer length (u32 LE) and magic.
pub(crate) const PARQUET_TRAILER_LEN: u64 = 8;

/// What kind of index a region holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegionKind {
    /// A full-text index over one text column (`infino-fts` region bytes).
    Fts,
    /// A vector index over one vector column (`infino-vector` region bytes).
    Vector,
}

/// One index region: where it is and how to check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionEntry {
    /// Index kind.
    pub kind: RegionKind,
    /// The column it indexes.
    pub column: String,
    /// Absolute file offset of the first byte.
    pub offset: u64,
    /// Length in bytes.
    pub length: u64,
    /// CRC32C (Castagnoli) of the region bytes.
    pub crc32c: u32,
}

/// Everything a reader needs to find and verify the regions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    /// Format major version.
    pub format_major: u16,
    /// Format minor version.
    pub format_minor: u16,
    /// Rows in the file.
    pub rows: u64,
    /// `_id` of row 0; row `r` has `_id = first_id + r`.
    pub first_id: u64,
    /// End of the row-group data (absolute offset): the row groups are
    /// `[4, data_end)`, the regions follow.
    pub data_end: u64,
    /// CRC32C of the row-group bytes `[4, data_end)` (parquet-rs writes no
    /// page checksums, so the engine checks column data with this).
    pub data_crc32c: u32,
    /// The index regions, in file order.
    pub regions: Vec<RegionEntry>,
    /// CRC32C of the Parquet footer (the thrift `FileMetaData`) as written
    /// with these 8 hex digits set to `00000000`; filled in after the footer
    /// is serialized, in place, so the footer covers itself.
    pub footer_crc32c: String,
    /// CRC32C of the bytes between the last region and the footer (the
    /// Parquet page index, written at close), as 8 hex digits filled in
    /// like `footer_crc32c`.
    pub page_index_crc32c: String,
}

impl Directory {
    /// End of the last region (or of the row groups when there is none).
    pub fn regions_end(&self) -> u64 {
        self.regions
            .last()
            .map_or(self.data_end, |r| r.offset + r.length)
    }
}

impl Directory {
    /// Parse the footer value, refusing newer major versions.
    pub(crate) fn parse(json: &str) -> Result<Self> {
        #[derive(Deserialize)]
        struct Versions {
            format_major: u16,
            format_minor: u16,
        }
        let versions: Versions = serde_json::from_str(json)
            .map_err(|e| SuperfileError::corrupt("directory", e.to_string()))?;
        if versions.format_major > FORMAT_MAJOR {
            return Err(SuperfileError::UnsupportedVersion {
                found: format!("{}.{}", versions.format_major, versions.format_minor),
                supported: FORMAT_MAJOR,
            });
        }
        serde_json::from_str(json).map_err(|e| SuperfileError::corrupt("directory", e.to_string()))
    }

    /// Check that every range lies inside a file of `file_len` bytes whose
    /// Parquet footer starts at `footer_start`, and that regions do not overlap.
    pub(crate) fn validate(&self, footer_start: u64) -> Result<()> {
        if self.data_end < PARQUET_MAGIC_LEN || self.data_end > footer_start {
            return Err(SuperfileError::corrupt(
                "directory",
                format!("data end {} outside the file", self.data_end),
            ));
        }
        let mut cursor = self.data_end;
        for r in &self.regions {
            let end = r.offset.checked_add(r.length);
            if r.offset < cursor || end.is_none_or(|e| e > footer_start) {
                return Err(SuperfileError::corrupt(
                    "directory",
                    format!(
                        "region for `{}` at {}+{} is out of place",
                        r.column, r.offset, r.length
                    ),
                ));
            }
            cursor = end.unwrap_or(footer_start);
        }
        Ok(())
    }

    /// The region entry of `kind` for `column`.
    pub fn region(&self, kind: RegionKind, column: &str) -> Option<&RegionEntry> {
        self.regions
            .iter()
            .find(|r| r.kind == kind && r.column == column)
    }
}

/// Placeholder for [`Directory::footer_crc32c`] while the footer is written.
pub(crate) const FOOTER_CRC_PLACEHOLDER: &str = "00000000";

/// Directory field names whose values are patched after the footer is written.
pub(crate) const FOOTER_CRC_FIELD: &str = "footer_crc32c";
/// See [`Directory::page_index_crc32c`].
pub(crate) const PAGE_INDEX_CRC_FIELD: &str = "page_index_crc32c";

/// Where the 8 hex digits of `"field":"<hex>"` start inside `footer`.
pub(crate) fn find_hex_field(footer: &[u8], field: &str, hex: &str) -> Option<usize> {
    let text = format!("\"{field}\":\"{hex}\"");
    let text = text.as_bytes();
    let start = footer.windows(text.len()).position(|w| w == text)?;
    Some(start + text.len() - 1 - hex.len())
}

/// Parse an 8-hex-digit checksum field.
pub(crate) fn parse_hex(field: &'static str, hex: &str) -> Result<u32> {
    u32::from_str_radix(hex, 16)
        .ok()
        .filter(|_| hex.len() == FOOTER_CRC_PLACEHOLDER.len())
        .ok_or_else(|| SuperfileError::corrupt("directory", format!("{field} is not 8 hex digits")))
}

/// CRC32C of `footer` with the 8 digits at `digits` replaced by zeros.
pub(crate) fn footer_crc(footer: &[u8], digits: usize) -> u32 {
    let mut crc = crc32c::crc32c(&footer[..digits]);
    crc = crc32c::crc32c_append(crc, FOOTER_CRC_PLACEHOLDER.as_bytes());
    crc32c::crc32c_append(crc, &footer[digits + FOOTER_CRC_PLACEHOLDER.len()..])
}

/// Check the footer checksum recorded in `directory` against `footer` bytes.
pub(crate) fn verify_footer(directory: &Directory, footer: &[u8]) -> Result<()> {
    let hex = &directory.footer_crc32c;
    let expected = parse_hex(FOOTER_CRC_FIELD, hex)?;
    let digits = find_hex_field(footer, FOOTER_CRC_FIELD, hex)
        .ok_or_else(|| SuperfileError::corrupt("footer", "footer checksum field not found"))?;
    let actual = footer_crc(footer, digits);
    if actual == expected {
        Ok(())
    } else {
        Err(SuperfileError::Checksum {
            what: "parquet footer".into(),
            expected,
            actual,
        })
    }
}
