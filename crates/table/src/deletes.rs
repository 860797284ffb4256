//! Deletion vectors: which rows of a superfile are gone.
//!
//! Superfiles are immutable, so a delete does not rewrite one; it writes a
//! small object holding the deleted row ordinals as a roaring bitmap and
//! points the file's manifest entry at it. Every reader of that manifest
//! version skips those rows in search, counts, statistics and SQL.
//!
//! Object layout (`<table>/deletes/<uuid>.del`), little-endian:
//! `b"IDV1"`, the bitmap in roaring's portable serialization, then the
//! CRC32C of everything before it as `u32`. A torn or corrupted object is a
//! typed error, never a silently shorter delete set.

use bytes::{BufMut, Bytes, BytesMut};
use infino_store::{Path, Store};
use roaring::RoaringBitmap;

use crate::error::{Result, TableError};

const MAGIC: &[u8; 4] = b"IDV1";

/// Serialize `deleted` into the object layout above.
pub(crate) fn encode(deleted: &RoaringBitmap) -> Bytes {
    let mut out = BytesMut::with_capacity(8 + deleted.serialized_size());
    out.put_slice(MAGIC);
    let mut writer = out.writer();
    // Writing into memory cannot fail.
    let _ = deleted.serialize_into(&mut writer);
    let mut out = writer.into_inner();
    let crc = crc32c::crc32c(&out);
    out.put_u32_le(crc);
    out.freeze()
}

/// Parse a deletion-vector object read from `path`.
pub(crate) fn decode(path: &str, bytes: &[u8]) -> Result<RoaringBitmap> {
    let corrupt = |reason: String| TableError::CorruptDeletes {
        path: path.to_owned(),
        reason,
    };
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err(corrupt("missing the IDV1 magic".into()));
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32c::crc32c(body) != stored {
        return Err(corrupt("checksum mismatch".into()));
    }
    RoaringBitmap::deserialize_from(&body[4..]).map_err(|e| corrupt(e.to_string()))
}

/// Write `deleted` as a new deletion-vector object of `table`; returns its path.
pub(crate) async fn write(store: &Store, table: &str, deleted: &RoaringBitmap) -> Result<String> {
    let path = format!("{table}/deletes/{}.del", uuid::Uuid::new_v4());
    store
        .put(&Path::from(path.as_str()), encode(deleted))
        .await?;
    Ok(path)
}

/// Read the deletion-vector object at `path`.
pub(crate) async fn read(store: &Store, path: &str) -> Result<RoaringBitmap> {
    let bytes = store.get(&Path::from(path)).await?;
    decode(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let set: RoaringBitmap = [0u32, 5, 127, 128, 70_000].into_iter().collect();
        let bytes = encode(&set);
        assert_eq!(decode("x", &bytes).ok(), Some(set));
        let mut flipped = bytes.to_vec();
        flipped[6] ^= 1;
        assert!(matches!(
            decode("x", &flipped),
            Err(TableError::CorruptDeletes { .. })
        ));
        assert!(decode("x", &bytes[..bytes.len() - 1]).is_err());
        assert!(decode("x", b"nope").is_err());
    }
}
