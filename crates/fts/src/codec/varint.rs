//! LEB128 unsigned varints: 7 bits per byte, low group first, high bit set on
//! every byte but the last.

/// Appends `v` as a varint (1 to 5 bytes).
pub(crate) fn write_u32(mut v: u32, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push(v.to_le_bytes()[0] | 0x80);
        v >>= 7;
    }
    out.push(v.to_le_bytes()[0]);
}

/// Decodes one varint at `*pos`, advancing `*pos`.
///
/// Returns `None` on truncation, on more than 5 bytes, or when the value
/// overflows u32.
#[inline]
pub(crate) fn read_u32(bytes: &[u8], pos: &mut usize) -> Option<u32> {
    // Most values (gaps, lengths) fit one byte: no loop for them.
    let first = *bytes.get(*pos)?;
    if first < 0x80 {
        *pos += 1;
        return Some(u32::from(first));
    }
    let mut value: u32 = 0;
    for i in 0..5u32 {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        let group = u32::from(b & 0x7F);
        if i == 4 && group > 0x0F {
            return None;
        }
        value |= group << (7 * i);
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Appends `v` as a varint (1 to 10 bytes).
pub(crate) fn write_u64(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push(v.to_le_bytes()[0] | 0x80);
        v >>= 7;
    }
    out.push(v.to_le_bytes()[0]);
}

/// Decodes one u64 varint at `*pos`, advancing `*pos`. `None` on
/// truncation, more than 10 bytes, or overflow.
#[inline]
pub(crate) fn read_u64(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let first = *bytes.get(*pos)?;
    if first < 0x80 {
        *pos += 1;
        return Some(u64::from(first));
    }
    let mut value: u64 = 0;
    for i in 0..10u32 {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        let group = u64::from(b & 0x7F);
        if i == 9 && group > 1 {
            return None;
        }
        value |= group << (7 * i);
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let values = [0, 1, 127, 128, 300, 16_383, 16_384, u32::MAX - 1, u32::MAX];
        let mut bytes = Vec::new();
        for v in values {
            write_u32(v, &mut bytes);
        }
        let mut pos = 0;
        for v in values {
            assert_eq!(read_u32(&bytes, &mut pos), Some(v));
        }
        assert_eq!(pos, bytes.len());
        assert_eq!(read_u32(&[0x80], &mut 0), None);
        assert_eq!(read_u32(&[0xFF, 0xFF, 0xFF, 0xFF, 0x1F], &mut 0), None);
        assert_eq!(
            read_u32(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00], &mut 0),
            None
        );
    }

    proptest::proptest! {
        #[test]
        fn round_trips_random_u64(values in proptest::collection::vec(proptest::num::u64::ANY, 0..100)) {
            let mut bytes = Vec::new();
            for &v in &values {
                write_u64(v, &mut bytes);
            }
            let mut pos = 0;
            for &v in &values {
                proptest::prop_assert_eq!(read_u64(&bytes, &mut pos), Some(v));
            }
            proptest::prop_assert_eq!(pos, bytes.len());
        }

        #[test]
        fn round_trips_random(values in proptest::collection::vec(proptest::num::u32::ANY, 0..100)) {
            let mut bytes = Vec::new();
            for &v in &values {
                write_u32(v, &mut bytes);
            }
            let mut pos = 0;
            for &v in &values {
                proptest::prop_assert_eq!(read_u32(&bytes, &mut pos), Some(v));
            }
            proptest::prop_assert_eq!(pos, bytes.len());
        }

        #[test]
        fn never_panics_on_garbage(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..12)) {
            let mut pos = 0;
            while read_u32(&bytes, &mut pos).is_some() {}
        }
    }
}
