//! Reading the constant arguments of a table function.
//!
//! DataFusion hands a table function its arguments as expressions already
//! coerced and constant-folded, so `[0.1, 0.2]` (a `make_array` call)
//! arrives as a list literal. Every check here is a plan error naming the
//! function and the argument, so a bad call fails before anything is read.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Float32Type};
use datafusion::common::{ScalarValue, plan_datafusion_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::Expr;

/// The arguments of one call, for messages that name the function.
pub(crate) struct Args<'a> {
    function: &'static str,
    exprs: &'a [Expr],
}

impl<'a> Args<'a> {
    /// `exprs` of a call to `function`, which takes `min..=max` arguments
    /// described by `usage` (shown on a wrong count).
    pub(crate) fn new(
        function: &'static str,
        exprs: &'a [Expr],
        min: usize,
        max: usize,
        usage: &str,
    ) -> Result<Self> {
        if exprs.len() < min || exprs.len() > max {
            return plan_err!("{function} takes {usage}, got {} argument(s)", exprs.len());
        }
        Ok(Self { function, exprs })
    }

    fn scalar(&self, i: usize, what: &str) -> Result<&'a ScalarValue> {
        match self.exprs.get(i) {
            Some(Expr::Literal(value, _)) => Ok(value),
            Some(other) => plan_err!(
                "{}: argument {} ({what}) must be a constant, got {other}",
                self.function,
                i + 1
            ),
            None => plan_err!("{}: argument {} ({what}) is missing", self.function, i + 1),
        }
    }

    /// Any constant.
    pub(crate) fn literal(&self, i: usize, what: &str) -> Result<ScalarValue> {
        self.scalar(i, what).cloned()
    }

    /// Whether argument `i` was given.
    pub(crate) fn has(&self, i: usize) -> bool {
        i < self.exprs.len()
    }

    /// Whether argument `i` is a string literal.
    pub(crate) fn is_string(&self, i: usize) -> bool {
        matches!(
            self.exprs.get(i),
            Some(Expr::Literal(
                ScalarValue::Utf8(Some(_))
                    | ScalarValue::LargeUtf8(Some(_))
                    | ScalarValue::Utf8View(Some(_)),
                _
            ))
        )
    }

    /// A name: a string literal, or a bare identifier (`orders`).
    pub(crate) fn name(&self, i: usize, what: &str) -> Result<String> {
        if let Some(Expr::Column(column)) = self.exprs.get(i)
            && column.relation.is_none()
        {
            return Ok(column.name.clone());
        }
        self.string(i, what)
    }

    /// A string literal.
    pub(crate) fn string(&self, i: usize, what: &str) -> Result<String> {
        match self.scalar(i, what)? {
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)) => Ok(s.clone()),
            other => plan_err!(
                "{}: argument {} ({what}) must be a string, got {other:?}",
                self.function,
                i + 1
            ),
        }
    }

    /// A non-negative integer literal.
    pub(crate) fn count(&self, i: usize, what: &str) -> Result<usize> {
        let value = self.scalar(i, what)?;
        let n = match value {
            ScalarValue::Int8(Some(v)) => i64::from(*v),
            ScalarValue::Int16(Some(v)) => i64::from(*v),
            ScalarValue::Int32(Some(v)) => i64::from(*v),
            ScalarValue::Int64(Some(v)) => *v,
            ScalarValue::UInt8(Some(v)) => i64::from(*v),
            ScalarValue::UInt16(Some(v)) => i64::from(*v),
            ScalarValue::UInt32(Some(v)) => i64::from(*v),
            ScalarValue::UInt64(Some(v)) => i64::try_from(*v).unwrap_or(i64::MAX),
            other => {
                return plan_err!(
                    "{}: argument {} ({what}) must be an integer, got {other:?}",
                    self.function,
                    i + 1
                );
            }
        };
        usize::try_from(n).map_err(|_| {
            plan_datafusion_err!(
                "{}: argument {} ({what}) must not be negative, got {n}",
                self.function,
                i + 1
            )
        })
    }

    /// A vector: an array literal of numbers (`[0.1, 0.2]`) or a string of
    /// numbers separated by commas or spaces, optionally in brackets.
    pub(crate) fn vector(&self, i: usize, what: &str) -> Result<Vec<f32>> {
        let bad = |reason: String| {
            plan_datafusion_err!("{}: argument {} ({what}) {reason}", self.function, i + 1)
        };
        let values: ArrayRef = match self.scalar(i, what)? {
            ScalarValue::List(list) if list.len() == 1 => list.value(0),
            ScalarValue::LargeList(list) if list.len() == 1 => list.value(0),
            ScalarValue::FixedSizeList(list) if list.len() == 1 => list.value(0),
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)) => return parse_vector(s).map_err(bad),
            other => {
                return Err(bad(format!(
                    "must be an array of numbers or a string, got {other:?}"
                )));
            }
        };
        if !values.data_type().is_numeric() && values.data_type() != &DataType::Null {
            return Err(bad(format!(
                "must hold numbers, got {}",
                values.data_type()
            )));
        }
        let floats = arrow::compute::cast(&values, &DataType::Float32)?;
        let floats = floats.as_primitive::<Float32Type>();
        if floats.null_count() > 0 {
            return Err(bad("holds a NULL".into()));
        }
        check_vector(floats.values().to_vec()).map_err(bad)
    }
}

/// `"[0.1, 0.2]"`, `"0.1,0.2"` or `"0.1 0.2"` as numbers.
fn parse_vector(text: &str) -> std::result::Result<Vec<f32>, String> {
    let inner = text.trim();
    let inner = inner
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(inner);
    let values = inner
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<f32>()
                .map_err(|_| format!("is not a vector: {s:?} is not a number"))
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    check_vector(values)
}

fn check_vector(values: Vec<f32>) -> std::result::Result<Vec<f32>, String> {
    if values.is_empty() {
        return Err("is an empty vector".into());
    }
    if values.iter().any(|v| !v.is_finite()) {
        return Err("holds a value that is not finite".into());
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::parse_vector;

    #[test]
    fn vectors_parse_from_text() {
        assert_eq!(parse_vector("[1, 2.5,-3]"), Ok(vec![1.0, 2.5, -3.0]));
        assert_eq!(parse_vector(" 0.5 0.25 "), Ok(vec![0.5, 0.25]));
        assert!(parse_vector("[]").is_err());
        assert!(parse_vector("[1, x]").is_err());
        assert!(parse_vector("[1, NaN]").is_err());
    }
}
