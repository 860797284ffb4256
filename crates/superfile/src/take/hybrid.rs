//! Parquet's RLE / bit-packed hybrid encoding, read at chosen positions.
//!
//! Definition levels and dictionary indices are a sequence of runs: a
//! repeated value (`header = len << 1`, then the value in `⌈width/8⌉`
//! bytes) or groups of eight bit-packed values (`header = groups << 1 | 1`,
//! then `groups · width` bytes, least significant bit first). A run header
//! says how long the run is, so reaching position `p` walks run headers,
//! and a value inside a bit-packed run is read at its bit offset without
//! unpacking its neighbours.

use crate::error::{Result, SuperfileError};

fn corrupt(reason: &str) -> SuperfileError {
    SuperfileError::corrupt("column page", reason.to_owned())
}

/// An unsigned LEB128 integer at `data[*pos..]`, advancing `pos`.
pub(crate) fn uleb(data: &[u8], pos: &mut usize) -> Result<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *data
            .get(*pos)
            .ok_or_else(|| corrupt("varint past the end"))?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(corrupt("varint longer than 64 bits"))
}

/// The `width`-bit value number `i` of LSB-first bit-packed `bytes`
/// (`width` ≤ 32; bits past the end read as zero).
#[inline]
pub(crate) fn unpack_at(bytes: &[u8], i: usize, width: u32) -> u64 {
    bits_at(bytes, i * width as usize, width)
}

/// `n` (≤ 64) bits of `bytes` from bit `bit` on, LSB first.
#[inline]
pub(crate) fn bits_at(bytes: &[u8], bit: usize, n: u32) -> u64 {
    if n == 0 {
        return 0;
    }
    let (byte, shift) = (bit / 8, bit % 8);
    let mask = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
    // One 16-byte load where the bytes are there (a copy of a variable
    // length is a call to `memmove`); zero-padded at the end.
    let word = match bytes.get(byte..byte + 16).map(<[u8; 16]>::try_from) {
        Some(Ok(word)) => word,
        _ => {
            let mut word = [0u8; 16];
            let end = (byte + 9).min(bytes.len());
            if byte < end {
                word[..end - byte].copy_from_slice(&bytes[byte..end]);
            }
            word
        }
    };
    u64::try_from((u128::from_le_bytes(word) >> shift) & u128::from(mask)).unwrap_or(0)
}

/// One run of the hybrid encoding.
#[derive(Debug, Clone, Copy)]
enum Run<'a> {
    Repeat { value: u64, len: usize },
    Packed { bytes: &'a [u8], len: usize },
}

impl Run<'_> {
    fn len(&self) -> usize {
        match *self {
            Run::Repeat { len, .. } | Run::Packed { len, .. } => len,
        }
    }
}

/// A run as [`Hybrid::next_run_at`] gives it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RunView {
    Repeat { value: u64, len: usize },
    Packed { offset: usize, len: usize },
}

/// A forward cursor over hybrid-encoded values of one bit width.
pub(crate) struct Hybrid<'a> {
    data: &'a [u8],
    pos: usize,
    width: u32,
    /// The current run and the position of its first value.
    run: Option<Run<'a>>,
    run_start: usize,
}

impl<'a> Hybrid<'a> {
    /// Values of `width` bits (at most 32) encoded in `data`.
    pub(crate) fn new(data: &'a [u8], width: u32) -> Result<Self> {
        if width > 32 {
            return Err(corrupt("bit width over 32"));
        }
        Ok(Self {
            data,
            pos: 0,
            width,
            run: None,
            run_start: 0,
        })
    }

    /// Reads the next run header; `false` at the end of the data.
    fn next_run(&mut self) -> Result<bool> {
        if let Some(run) = self.run {
            self.run_start += run.len();
        }
        if self.pos >= self.data.len() {
            self.run = None;
            return Ok(false);
        }
        let header = uleb(self.data, &mut self.pos)?;
        let count = usize::try_from(header >> 1).map_err(|_| corrupt("run too long"))?;
        let run = if header & 1 == 0 {
            let n = self.width.div_ceil(8) as usize;
            let bytes = self
                .data
                .get(self.pos..self.pos + n)
                .ok_or_else(|| corrupt("repeated run past the end"))?;
            self.pos += n;
            let value = bytes
                .iter()
                .rev()
                .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
            Run::Repeat { value, len: count }
        } else {
            // A last group may be cut short by the page's end: only the
            // values whose bits are present count.
            let want = count
                .checked_mul(self.width as usize)
                .ok_or_else(|| corrupt("run too long"))?;
            let have = want.min(self.data.len() - self.pos);
            let bytes = &self.data[self.pos..self.pos + have];
            self.pos += have;
            let len = match self.width {
                0 => count * 8,
                w => (count * 8).min(have * 8 / w as usize),
            };
            Run::Packed { bytes, len }
        };
        self.run = Some(run);
        Ok(true)
    }

    /// The next run and the position of its first value; `None` at the
    /// end. For a directory of the runs: a packed run is given by its
    /// bytes' offset in the data.
    pub(crate) fn next_run_at(&mut self) -> Result<Option<(usize, RunView)>> {
        if !self.next_run()? {
            return Ok(None);
        }
        let view = match self.run {
            Some(Run::Repeat { value, len }) => RunView::Repeat { value, len },
            Some(Run::Packed { bytes, len }) => RunView::Packed {
                offset: bytes.as_ptr() as usize - self.data.as_ptr() as usize,
                len,
            },
            None => return Ok(None),
        };
        Ok(Some((self.run_start, view)))
    }

    /// Moves to the run holding position `p` (never backwards); `None`
    /// when the data ends before it.
    fn seek(&mut self, p: usize) -> Result<Option<Run<'a>>> {
        loop {
            match self.run {
                Some(run) if p >= self.run_start && p < self.run_start + run.len() => {
                    return Ok(Some(run));
                }
                Some(_) | None if p < self.run_start => {
                    return Err(corrupt("positions must not go backwards"));
                }
                _ => {
                    if !self.next_run()? {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// The value at position `p`; positions asked for must not decrease.
    pub(crate) fn get(&mut self, p: usize) -> Result<u64> {
        match self.seek(p)? {
            Some(Run::Repeat { value, .. }) => Ok(value),
            Some(Run::Packed { bytes, .. }) => Ok(unpack_at(bytes, p - self.run_start, self.width)),
            None => Err(corrupt("position past the encoded values")),
        }
    }

    /// How many of the values before position `p` equal `target`
    /// (counted from position `from`, which must be the previous call's
    /// `p` or 0): the index among the non-null values of a row, when these
    /// are definition levels.
    pub(crate) fn count_equal(&mut self, from: usize, p: usize, target: u64) -> Result<usize> {
        let mut count = 0;
        let mut at = from;
        while at < p {
            let Some(run) = self.seek(at)? else {
                return Err(corrupt("position past the encoded values"));
            };
            let end = (self.run_start + run.len()).min(p);
            count += match run {
                Run::Repeat { value, .. } => {
                    if value == target {
                        end - at
                    } else {
                        0
                    }
                }
                Run::Packed { bytes, .. } => {
                    let (lo, hi) = (at - self.run_start, end - self.run_start);
                    count_packed(bytes, lo..hi, self.width, target)
                }
            };
            at = end;
        }
        Ok(count)
    }
}

/// How many of the bit-packed values `range` of `bytes` equal `target`.
fn count_packed(bytes: &[u8], range: std::ops::Range<usize>, width: u32, target: u64) -> usize {
    if width == 1 {
        // Definition levels of a flat nullable column: count set bits.
        let ones = (range.start..range.end)
            .step_by(64)
            .map(|start| {
                let n = u32::try_from((range.end - start).min(64)).unwrap_or(64);
                let word = unpack_bits(bytes, start, n);
                word.count_ones() as usize
            })
            .sum::<usize>();
        return if target == 1 {
            ones
        } else {
            range.len() - ones
        };
    }
    range
        .filter(|&i| unpack_at(bytes, i, width) == target)
        .count()
}

/// `n` (≤ 64) bits of `bytes` starting at bit `start`, LSB first.
fn unpack_bits(bytes: &[u8], start: usize, n: u32) -> u64 {
    let low = bits_at(bytes, start, n.min(32));
    if n <= 32 {
        return low;
    }
    low | (bits_at(bytes, start + 32, n - 32) << 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hybrid encoding of `values`: a repeated run for each stretch of 8 or
    /// more equal values, bit-packed groups for the rest.
    fn encode(values: &[u64], width: u32) -> Vec<u8> {
        fn varint(out: &mut Vec<u8>, mut v: u64) {
            loop {
                let b = (v & 0x7f) as u8;
                v >>= 7;
                if v == 0 {
                    out.push(b);
                    return;
                }
                out.push(b | 0x80);
            }
        }
        let mut out = Vec::new();
        let mut i = 0;
        while i < values.len() {
            let same = values[i..].iter().take_while(|&&v| v == values[i]).count();
            if same >= 8 {
                varint(&mut out, (same as u64) << 1);
                let n = width.div_ceil(8) as usize;
                out.extend_from_slice(&values[i].to_le_bytes()[..n]);
                i += same;
                continue;
            }
            let group: Vec<u64> = values[i..].iter().take(8).copied().collect();
            varint(&mut out, 1 << 1 | 1);
            let mut bits = vec![0u8; width as usize];
            for (k, v) in group.iter().enumerate() {
                for b in 0..width as usize {
                    if v >> b & 1 == 1 {
                        let bit = k * width as usize + b;
                        bits[bit / 8] |= 1 << (bit % 8);
                    }
                }
            }
            out.extend_from_slice(&bits);
            i += group.len();
        }
        out
    }

    #[test]
    fn reads_values_and_counts_at_any_position() {
        for width in [1u32, 3, 10, 17, 32] {
            let max = if width == 32 {
                u64::from(u32::MAX)
            } else {
                (1 << width) - 1
            };
            let values: Vec<u64> = (0..1000u64)
                .map(|i| {
                    if (300..340).contains(&i) {
                        max
                    } else {
                        (i * 2_654_435_761) % (max + 1)
                    }
                })
                .collect();
            let data = encode(&values, width);
            let mut cursor = Hybrid::new(&data, width).expect("width");
            for p in (0..1000).step_by(7) {
                assert_eq!(
                    cursor.get(p).expect("get"),
                    values[p],
                    "width {width} at {p}"
                );
            }
            let mut cursor = Hybrid::new(&data, width).expect("width");
            let mut from = 0;
            for p in (0..1000).step_by(13) {
                let want = values[from..p].iter().filter(|&&v| v == max).count();
                assert_eq!(cursor.count_equal(from, p, max).expect("count"), want);
                from = p;
            }
        }
    }

    #[test]
    fn bad_data_is_an_error() {
        let mut past = Hybrid::new(&[0x02, 0x01], 1).expect("width");
        assert!(past.get(5).is_err());
        let mut cut = Hybrid::new(&[0x04], 8).expect("width");
        assert!(cut.get(0).is_err());
        assert!(Hybrid::new(&[], 33).is_err());
        let mut p = 0;
        assert!(uleb(&[0xff; 11], &mut p).is_err());
    }
}
