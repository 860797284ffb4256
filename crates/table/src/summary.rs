//! Per-file column summaries kept in the manifest, for pruning files
//! before any is opened: min/max/null counts of scalar columns, and the
//! centroid and radius of each vector column.
//!
//! Min and max are JSON values: integers (also dates and timestamps, in
//! their Arrow integer unit), floats, booleans, and strings of at most
//! [`MAX_STRING_BOUND`] bytes (a longer string is left out rather than
//! truncated: a truncated max is no upper bound). A missing bound means
//! "unknown": pruning must then keep the file.

use std::collections::BTreeMap;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::{max, max_boolean, max_string, min, min_boolean, min_string};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use infino_vector::Metric;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest string kept as a bound.
pub const MAX_STRING_BOUND: usize = 64;

/// Min, max and nulls of one column in one file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ColumnSummary {
    /// Null values.
    pub nulls: u64,
    /// Smallest non-null value, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Value>,
    /// Largest non-null value, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Value>,
}

/// Where one file's vectors of a column lie: every vector (normalized
/// first, for cosine) is within `radius` of `centroid`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorSummary {
    /// The mean vector, little-endian `f32`s, base64.
    pub centroid: String,
    /// Largest Euclidean distance from the centroid.
    pub radius: f32,
}

impl VectorSummary {
    /// The centroid as floats.
    pub fn centroid(&self) -> Option<Vec<f32>> {
        let bytes = STANDARD.decode(&self.centroid).ok()?;
        Some(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        )
    }

    /// A lower bound of the index distance (squared L2, or cosine
    /// distance `1 − cos`) from `query` to any vector of the file; `None`
    /// when the metric allows no bound (inner product).
    pub fn min_distance(&self, metric: Metric, query: &[f32]) -> Option<f32> {
        let to_centre = self.to_centre(metric, query)?;
        // A little slack for rounding, so the bound never overshoots.
        let gap = (to_centre - self.radius * 1.001 - 1e-4).max(0.0);
        Some(index_distance(metric, gap))
    }

    /// An upper bound of the index distance from `query` to any vector of
    /// the file: every vector lies within the radius of the centroid.
    pub fn max_distance(&self, metric: Metric, query: &[f32]) -> Option<f32> {
        let to_centre = self.to_centre(metric, query)?;
        Some(index_distance(
            metric,
            to_centre + self.radius * 1.001 + 1e-4,
        ))
    }

    /// Euclidean distance from the (normalized, for cosine) query to the
    /// centroid, for the metrics that allow bounds.
    fn to_centre(&self, metric: Metric, query: &[f32]) -> Option<f32> {
        let centroid = self.centroid()?;
        if centroid.len() != query.len() {
            return None;
        }
        let q: Vec<f32> = match metric {
            Metric::L2 => query.to_vec(),
            Metric::Cosine => normalized(query)?,
            _ => return None,
        };
        Some(
            q.iter()
                .zip(&centroid)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f32>()
                .sqrt(),
        )
    }
}

/// The index distance of a Euclidean distance between (normalized) vectors.
fn index_distance(metric: Metric, euclidean: f32) -> f32 {
    match metric {
        // ‖q̂ − x̂‖² = 2 − 2cos = 2 · distance.
        Metric::Cosine => euclidean * euclidean / 2.0,
        _ => euclidean * euclidean,
    }
}

fn normalized(v: &[f32]) -> Option<Vec<f32>> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    (norm > 0.0 && norm.is_finite()).then(|| v.iter().map(|x| x / norm).collect())
}

/// Summaries of every summarizable column of `batches`.
pub(crate) fn columns(batches: &[RecordBatch]) -> BTreeMap<String, ColumnSummary> {
    let Some(first) = batches.first() else {
        return BTreeMap::new();
    };
    let schema = first.schema();
    let mut out = BTreeMap::new();
    for (i, field) in schema.fields().iter().enumerate() {
        let mut total = ColumnSummary::default();
        let mut known = true;
        for batch in batches {
            let column = batch.column(i);
            total.nulls += column.null_count() as u64;
            match bounds(column) {
                Some((lo, hi)) => {
                    total.min = pick(total.min.take(), lo, std::cmp::Ordering::Less);
                    total.max = pick(total.max.take(), hi, std::cmp::Ordering::Greater);
                }
                None if column.null_count() == column.len() => {}
                None => known = false,
            }
        }
        if !known {
            total.min = None;
            total.max = None;
        }
        if known || total.nulls > 0 {
            out.insert(field.name().clone(), total);
        }
    }
    out
}

/// Keep whichever of `a`, `b` is further in direction `keep`.
fn pick(a: Option<Value>, b: Value, keep: std::cmp::Ordering) -> Option<Value> {
    match a {
        None => Some(b),
        Some(a) => match compare(&b, &a) {
            Some(o) if o == keep => Some(b),
            Some(_) => Some(a),
            None => None,
        },
    }
}

/// Order of two bounds of the same column.
pub fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => Some(x.cmp(&y)),
                _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
            },
        },
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// (min, max) of the non-null values, or `None` when unknown or all null.
fn bounds(column: &ArrayRef) -> Option<(Value, Value)> {
    macro_rules! prim {
        ($t:ty) => {{
            let a = column.as_primitive::<$t>();
            Some((Value::from(min(a)?), Value::from(max(a)?)))
        }};
    }
    macro_rules! float {
        ($t:ty) => {{
            let a = column.as_primitive::<$t>();
            let (lo, hi) = (f64::from(min(a)?), f64::from(max(a)?));
            // NaN sorts above everything in Arrow's max: no usable bound.
            if lo.is_nan() || hi.is_nan() {
                return None;
            }
            Some((Value::from(lo), Value::from(hi)))
        }};
    }
    let string = |lo: Option<&str>, hi: Option<&str>| {
        let (lo, hi) = (lo?, hi?);
        (lo.len() <= MAX_STRING_BOUND && hi.len() <= MAX_STRING_BOUND)
            .then(|| (Value::from(lo), Value::from(hi)))
    };
    match column.data_type() {
        DataType::Int8 => prim!(Int8Type),
        DataType::Int16 => prim!(Int16Type),
        DataType::Int32 => prim!(Int32Type),
        DataType::Int64 => prim!(Int64Type),
        DataType::UInt8 => prim!(UInt8Type),
        DataType::UInt16 => prim!(UInt16Type),
        DataType::UInt32 => prim!(UInt32Type),
        DataType::UInt64 => prim!(UInt64Type),
        DataType::Float32 => float!(Float32Type),
        DataType::Float64 => float!(Float64Type),
        DataType::Date32 => prim!(Date32Type),
        DataType::Date64 => prim!(Date64Type),
        DataType::Timestamp(TimeUnit::Second, _) => prim!(TimestampSecondType),
        DataType::Timestamp(TimeUnit::Millisecond, _) => prim!(TimestampMillisecondType),
        DataType::Timestamp(TimeUnit::Microsecond, _) => prim!(TimestampMicrosecondType),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => prim!(TimestampNanosecondType),
        DataType::Boolean => {
            let a = column.as_boolean();
            Some((Value::from(min_boolean(a)?), Value::from(max_boolean(a)?)))
        }
        DataType::Utf8 => {
            let a = column.as_string::<i32>();
            string(min_string(a), max_string(a))
        }
        DataType::LargeUtf8 => {
            let a = column.as_string::<i64>();
            string(min_string(a), max_string(a))
        }
        _ => None,
    }
}

/// Centroid and radius of a vector column (`FixedSizeList<Float32>`) over
/// `batches`, column index `index`; vectors normalized first for cosine.
pub(crate) fn vectors(
    batches: &[RecordBatch],
    index: usize,
    metric: Metric,
) -> Option<VectorSummary> {
    let mut rows: Vec<Vec<f32>> = Vec::new();
    for batch in batches {
        let list = batch.column(index).as_fixed_size_list_opt()?;
        let values = list.values().as_primitive_opt::<Float32Type>()?;
        let dim = usize::try_from(list.value_length()).ok()?;
        for r in 0..list.len() {
            if list.is_null(r) {
                continue;
            }
            let start = r * dim;
            let v = &values.values()[start..start + dim];
            rows.push(match metric {
                Metric::Cosine => normalized(v)?,
                _ => v.to_vec(),
            });
        }
    }
    let dim = rows.first()?.len();
    let mut centroid = vec![0f64; dim];
    for v in &rows {
        for (c, x) in centroid.iter_mut().zip(v) {
            *c += f64::from(*x);
        }
    }
    let n = rows.len() as f64;
    #[expect(
        clippy::cast_possible_truncation,
        reason = "a mean of f32s fits an f32"
    )]
    let centroid: Vec<f32> = centroid.iter().map(|c| (c / n) as f32).collect();
    let radius = rows
        .iter()
        .map(|v| {
            v.iter()
                .zip(&centroid)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f32>()
                .sqrt()
        })
        .fold(0f32, f32::max);
    if !radius.is_finite() {
        return None;
    }
    let bytes: Vec<u8> = centroid.iter().flat_map(|c| c.to_le_bytes()).collect();
    Some(VectorSummary {
        centroid: STANDARD.encode(bytes),
        radius,
    })
}
