//! `DELTA_BINARY_PACKED` integers read at chosen positions.
//!
//! A page starts with a header (values per block, miniblocks per block,
//! value count, the first value) and then holds blocks: the block's
//! smallest delta, one bit width per miniblock, and the miniblocks'
//! bit-packed `delta − smallest`. Value `k` is the first value plus every
//! delta before it, so reaching a position means summing the deltas
//! before it — but a miniblock of bit width 0 (every delta equal, as in
//! row ids or timestamps at a fixed step) sums in one multiplication, and
//! nothing after the last position asked for is read.

use crate::error::{Result, SuperfileError};
use crate::take::hybrid::{bits_at, uleb};

fn corrupt(reason: &str) -> SuperfileError {
    SuperfileError::corrupt("delta-encoded page", reason.to_owned())
}

fn zigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// A forward cursor over one page of delta-encoded integers (as `i64`;
/// 32-bit columns keep the low half, which wrapping sums get right).
pub(crate) struct Delta<'a> {
    data: &'a [u8],
    pos: usize,
    miniblocks: usize,
    per_miniblock: usize,
    total: usize,
    /// The value at `next - 1`.
    last: i64,
    /// Position of the next value to produce.
    next: usize,
    /// The current block's smallest delta and bit widths, the current
    /// miniblock (index in its block, packed bytes), and how many of its
    /// deltas are used.
    min_delta: i64,
    widths: &'a [u8],
    miniblock: usize,
    packed: &'a [u8],
    used: usize,
}

impl<'a> Delta<'a> {
    /// The encoded values at the start of `data`.
    pub(crate) fn new(data: &'a [u8]) -> Result<Self> {
        let mut pos = 0;
        let block = uleb(data, &mut pos)?;
        let miniblocks = uleb(data, &mut pos)?;
        let total = uleb(data, &mut pos)?;
        let first = zigzag(uleb(data, &mut pos)?);
        if miniblocks == 0 || block == 0 || block % miniblocks != 0 || block > 1 << 20 {
            return Err(corrupt("bad block layout"));
        }
        let per_miniblock =
            usize::try_from(block / miniblocks).map_err(|_| corrupt("bad block layout"))?;
        if !per_miniblock.is_multiple_of(8) {
            return Err(corrupt("miniblock size not a multiple of 8"));
        }
        Ok(Self {
            data,
            pos,
            miniblocks: usize::try_from(miniblocks).map_err(|_| corrupt("bad block layout"))?,
            per_miniblock,
            total: usize::try_from(total).map_err(|_| corrupt("too many values"))?,
            last: first,
            next: 1,
            min_delta: 0,
            widths: &[],
            // No block read yet: the first delta opens one.
            miniblock: usize::MAX,
            packed: &[],
            used: 0,
        })
    }

    /// Values in the page.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.total
    }

    /// Moves to the next miniblock (reading a block header when the
    /// block is done).
    fn next_miniblock(&mut self) -> Result<()> {
        let next = self.miniblock.wrapping_add(1);
        if self.miniblock == usize::MAX || next >= self.miniblocks {
            self.min_delta = zigzag(uleb(self.data, &mut self.pos)?);
            self.widths = self
                .data
                .get(self.pos..self.pos + self.miniblocks)
                .ok_or_else(|| corrupt("block header past the end"))?;
            self.pos += self.miniblocks;
            self.miniblock = 0;
        } else {
            self.miniblock = next;
        }
        let width = usize::from(self.widths[self.miniblock]);
        if width > 64 {
            return Err(corrupt("bit width over 64"));
        }
        // The last miniblock may be cut short after the page's last value.
        let bytes = self.per_miniblock * width / 8;
        let end = (self.pos + bytes).min(self.data.len());
        self.packed = &self.data[self.pos..end];
        self.pos = end;
        self.used = 0;
        Ok(())
    }

    /// The value at position `p`; positions asked for must not decrease.
    pub(crate) fn get(&mut self, p: usize) -> Result<i64> {
        if p >= self.total {
            return Err(corrupt("position past the page's values"));
        }
        if p + 1 < self.next {
            return Err(corrupt("positions must not go backwards"));
        }
        while self.next <= p {
            if self.miniblock == usize::MAX || self.used == self.per_miniblock {
                self.next_miniblock()?;
            }
            let width = u32::from(self.widths[self.miniblock]);
            if width == 0 && self.widths[self.miniblock..].iter().all(|&w| w == 0) {
                // The rest of the block steps by its smallest delta (row
                // ids, fixed-step timestamps): crossed in one step. Its
                // miniblocks hold no bytes, so only the counters move.
                let left = (self.miniblocks - self.miniblock) * self.per_miniblock - self.used;
                let take = left.min(p + 1 - self.next);
                self.last = self
                    .last
                    .wrapping_add(self.min_delta.wrapping_mul(take as i64));
                self.next += take;
                let done = self.used + take;
                // Stay on the last miniblock touched, counting it used up
                // when the step ended on its boundary.
                let (ahead, used) = match done % self.per_miniblock {
                    0 => (done / self.per_miniblock - 1, self.per_miniblock),
                    rest => (done / self.per_miniblock, rest),
                };
                self.miniblock += ahead;
                self.used = used;
                continue;
            }
            let take = (self.per_miniblock - self.used).min(p + 1 - self.next);
            let packed_sum = if width == 0 {
                0
            } else {
                let need = (self.used + take) * width as usize;
                if need > self.packed.len() * 8 {
                    return Err(corrupt("miniblock past the end"));
                }
                (self.used..self.used + take).fold(0i64, |acc, i| {
                    acc.wrapping_add(bits_at(self.packed, i * width as usize, width) as i64)
                })
            };
            self.last = self
                .last
                .wrapping_add(self.min_delta.wrapping_mul(take as i64))
                .wrapping_add(packed_sum);
            self.used += take;
            self.next += take;
        }
        Ok(self.last)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::basic::Encoding;
    use parquet::file::properties::WriterProperties;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use super::*;

    /// The values pages of one INT64 column written DELTA_BINARY_PACKED
    /// by the parquet crate, as (values in the page, page values bytes).
    fn pages(values: &[i64]) -> Vec<(usize, bytes::Bytes)> {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        let props = WriterProperties::builder()
            .set_dictionary_enabled(false)
            .set_encoding(Encoding::DELTA_BINARY_PACKED)
            .set_data_page_row_count_limit(700)
            .set_write_batch_size(100)
            .build();
        let mut out = Vec::new();
        let mut w = ArrowWriter::try_new(&mut out, Arc::clone(&schema), Some(props)).expect("w");
        let batch = arrow::array::RecordBatch::try_new(
            schema,
            vec![Arc::new(Int64Array::from(values.to_vec()))],
        )
        .expect("batch");
        w.write(&batch).expect("write");
        w.close().expect("close");
        let reader = SerializedFileReader::new(bytes::Bytes::from(out)).expect("read");
        let mut pages = reader
            .get_row_group(0)
            .expect("group")
            .get_column_page_reader(0)
            .expect("pages");
        let mut got = Vec::new();
        while let Some(page) = pages.get_next_page().expect("page") {
            got.push((page.num_values() as usize, page.buffer().clone()));
        }
        got
    }

    #[test]
    fn reads_what_the_parquet_writer_wrote() {
        let series: [Vec<i64>; 4] = [
            (0..3000).collect(),
            (0..3000).map(|i| (i * 7_919) % 1_000 - 500).collect(),
            (0..3000)
                .map(|i| {
                    if i % 3 == 0 {
                        i64::MIN + i
                    } else {
                        i64::MAX - i * 13
                    }
                })
                .collect(),
            // Runs of a fixed step (zero-width miniblocks, crossed a block
            // at a time) between scattered values.
            (0..3000)
                .map(|i| {
                    if (i / 200) % 2 == 0 {
                        i * 3
                    } else {
                        i * i % 9_973
                    }
                })
                .collect(),
        ];
        for values in series {
            let mut at = 0;
            let all = pages(&values);
            assert!(all.len() > 2);
            for (n, bytes) in all {
                let page = &values[at..at + n];
                for step in [1, 5, 31, 32, 97, 128, 129, 700] {
                    for start in [0, 33, 128] {
                        let mut cursor = Delta::new(&bytes).expect("header");
                        assert_eq!(cursor.len(), n);
                        for p in (start..n).step_by(step) {
                            assert_eq!(cursor.get(p).expect("get"), page[p], "at {p}");
                            // Asking again for the same position is allowed.
                            assert_eq!(cursor.get(p).expect("again"), page[p], "at {p}");
                        }
                    }
                }
                let mut last = Delta::new(&bytes).expect("header");
                assert_eq!(last.get(n - 1).expect("last"), page[n - 1]);
                assert!(last.get(n).is_err());
                at += n;
            }
        }
    }

    #[test]
    fn damaged_pages_are_errors() {
        for data in [&[][..], &[0x80, 0x01, 0x04, 0x05, 0x00][..], &[0x80][..]] {
            let cursor = Delta::new(data);
            if let Ok(mut c) = cursor {
                for p in 0..5 {
                    let _ = c.get(p);
                }
            }
        }
        // 128 values per block, 4 miniblocks, 10 values, first 0: then the
        // block header is missing.
        let mut cursor = Delta::new(&[0x80, 0x01, 0x04, 0x0a, 0x00]).expect("header");
        assert_eq!(cursor.get(0).expect("first"), 0);
        assert!(cursor.get(3).is_err());
    }
}
