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
pub(crate) fn read_u32(bytes: &[u8], pos: &mut usize) -> Option<u32> {
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

/// Skips `count` varints starting at `*pos` without decoding them,
/// advancing `*pos` past the last. Returns `None` if `bytes` ends first.
/// Only terminators (bytes with the high bit clear) are counted, eight
/// bytes at a time where possible.
pub(crate) fn skip(bytes: &[u8], pos: &mut usize, mut count: u64) -> Option<()> {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut at = *pos;
    let ends_in = |window: &[u8]| -> u64 {
        window
            .chunks_exact(8)
            .map(|w| {
                let word = u64::from_le_bytes(w.try_into().expect("invariant: 8 bytes"));
                u64::from((!word & HIGH).count_ones())
            })
            .sum()
    };
    while count >= 32 {
        let Some(window) = bytes.get(at..at + 32) else {
            break;
        };
        let ends = ends_in(window);
        if ends >= count {
            break;
        }
        count -= ends;
        at += 32;
    }
    while count >= 8 {
        let Some(window) = bytes.get(at..at + 8) else {
            break;
        };
        let word = u64::from_le_bytes(window.try_into().expect("invariant: 8 bytes"));
        let ends = u64::from((!word & HIGH).count_ones());
        // The count-th terminator may sit mid-word: finish bytewise.
        if ends >= count {
            break;
        }
        count -= ends;
        at += 8;
    }
    while count > 0 {
        if *bytes.get(at)? < 0x80 {
            count -= 1;
        }
        at += 1;
    }
    *pos = at;
    Some(())
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
        fn skip_lands_on_the_next_varint(values in proptest::collection::vec(proptest::num::u32::ANY, 0..100), k in 0usize..100) {
            let mut bytes = Vec::new();
            for &v in &values {
                write_u32(v, &mut bytes);
            }
            let k = k.min(values.len());
            let mut pos = 0;
            proptest::prop_assert!(skip(&bytes, &mut pos, k as u64).is_some());
            for &v in &values[k..] {
                proptest::prop_assert_eq!(read_u32(&bytes, &mut pos), Some(v));
            }
            proptest::prop_assert!(skip(&bytes, &mut 0, values.len() as u64 + 1).is_none());
        }

        #[test]
        fn never_panics_on_garbage(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..12)) {
            let mut pos = 0;
            while read_u32(&bytes, &mut pos).is_some() {}
        }
    }
}
