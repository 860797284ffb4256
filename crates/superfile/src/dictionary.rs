//! Which columns keep their Parquet dictionaries, and how large they may grow.
//!
//! A dictionary page is read whole before any page that uses it, so its size
//! is what a one-row fetch pays on top of one data page. A column of unique
//! keys gains nothing from a dictionary and would make every cold row fetch
//! read the row group's values: integer columns that do not repeat get no
//! dictionary at all (delta pages, `writer.rs`), other such columns fall
//! back to plain pages once the dictionary passes [`DICTIONARY_PAGE_LIMIT`]. A column whose values
//! repeat (categories, prices, codes) is several times smaller and faster to
//! scan with its dictionary, so it may keep one up to
//! [`REPEATING_DICTIONARY_LIMIT`]. Repetition is judged on the first row
//! group's worth of rows, which the writer holds before configuring Parquet.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use arrow::array::ArrayRef;
use arrow::row::{RowConverter, SortField};

use crate::error::Result;

/// Bytes a column's dictionary page may reach before the column falls back
/// to plain pages, for columns not known to repeat.
pub(crate) const DICTIONARY_PAGE_LIMIT: usize = 16 * 1024;

/// The same limit for columns whose first batch repeats its values.
pub(crate) const REPEATING_DICTIONARY_LIMIT: usize = 1024 * 1024;

/// How many rows per distinct value make a column "repeating": at four, the
/// dictionary indices plus the dictionary are well under the plain values.
const ROWS_PER_VALUE: usize = 4;

/// Rows converted to comparable bytes at a time: a column of unique values
/// is told apart after a quarter of its rows, so converting it whole (a
/// copy of every string) would mostly be wasted.
const CHUNK_ROWS: usize = 4096;

/// Whether the values of `parts` (pieces of one column) repeat at least
/// [`ROWS_PER_VALUE`] times on average (nulls count as one value).
///
/// Values are counted by a 64-bit hash of their row encoding: a collision
/// could only undercount them, and a column wrongly judged repeating still
/// falls back to plain pages past [`REPEATING_DICTIONARY_LIMIT`].
pub(crate) fn repeats(parts: &[ArrayRef]) -> Result<bool> {
    let rows: usize = parts.iter().map(|p| p.len()).sum();
    let Some(first) = parts.first() else {
        return Ok(false);
    };
    if rows < ROWS_PER_VALUE {
        return Ok(false);
    }
    let converter = RowConverter::new(vec![SortField::new(first.data_type().clone())])?;
    let most = rows / ROWS_PER_VALUE;
    let mut distinct = HashSet::with_capacity(most + 1);
    for part in parts {
        for start in (0..part.len()).step_by(CHUNK_ROWS) {
            let chunk = part.slice(start, CHUNK_ROWS.min(part.len() - start));
            let encoded = converter.convert_columns(&[chunk])?;
            for row in encoded.iter() {
                let mut hasher = DefaultHasher::new();
                row.hash(&mut hasher);
                distinct.insert(hasher.finish());
                if distinct.len() > most {
                    return Ok(false);
                }
            }
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float64Array, Int64Array, StringArray};

    use super::*;

    #[test]
    fn unique_values_do_not_repeat_and_a_few_categories_do() -> Result<()> {
        let unique: ArrayRef = Arc::new(Int64Array::from_iter_values(0..10_000));
        assert!(!repeats(std::slice::from_ref(&unique))?);
        let prices: ArrayRef = Arc::new(Float64Array::from_iter_values(
            (0..10_000).map(|i| f64::from(i % 2_000)),
        ));
        assert!(repeats(&[prices])?, "5 rows per value");
        let just_under: ArrayRef = Arc::new(Float64Array::from_iter_values(
            (0..10_000).map(|i| f64::from(i % 2_501)),
        ));
        assert!(!repeats(&[just_under])?, "under 4 rows per value");
        let categories: ArrayRef = Arc::new(StringArray::from_iter(
            (0..1_000).map(|i| (i % 3 != 0).then(|| ["a", "b"][i % 2])),
        ));
        assert!(repeats(&[categories])?);
        // Pieces count together: two halves of 2,000 values, 5 rows each.
        let half = |r: std::ops::Range<i64>| -> ArrayRef {
            Arc::new(Int64Array::from_iter_values(r.map(|i| i % 2_000)))
        };
        assert!(repeats(&[half(0..5_000), half(5_000..10_000)])?);
        assert!(!repeats(&[
            unique.slice(0, 5_000),
            unique.slice(5_000, 5_000)
        ])?);
        assert!(!repeats(&[])?);
        let tiny: ArrayRef = Arc::new(Int64Array::from(vec![1, 1]));
        assert!(!repeats(&[tiny])?);
        Ok(())
    }
}
