//! Index pushdown: predicates on full-text indexed columns answered by the
//! postings before any column data is decoded.
//!
//! `col = 'v'`, `col IN ('a', 'b')`, `matches(col, 'query')` and `AND`/`OR`
//! of them become an [`IndexExpr`]; evaluating it asks the table's full-text
//! search for the rows that can match (the term bloom filters in the
//! manifest skip files without a request) and gives, per superfile, the row
//! ordinals to read. The scan then reads only those rows' pages, and a file
//! with no candidate is not opened at all.
//!
//! Equality is in general answered by a superset — the rows holding every
//! token of the value — so DataFusion re-checks it on the candidates (the
//! filter is `Inexact`). On a column whose every value is one term spelled
//! as the value (a code, tag or lowercase keyword: every file's
//! whole-values flag), equality with a value that is its own term is
//! answered exactly, and so are `IN` lists and `AND`/`OR` of such: the
//! filter is `Exact`, the column is not decoded to re-check it, and no
//! filter runs above the scan. `matches` *is* the index's answer (the query
//! language), so it is `Exact` too, and the [`matches_udf`] itself refuses
//! to run anywhere else.

use arrow::datatypes::DataType;
use datafusion::common::{ScalarValue, exec_err};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    BinaryExpr, ColumnarValue, Expr, Operator, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use infino_fts::Analyzer;
use infino_table::Table;

use roaring::RoaringBitmap;

/// The name of the full-text predicate function.
pub(crate) const MATCHES: &str = "matches";

/// A predicate the full-text index can answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum IndexExpr {
    /// Rows of `column` matching `query` (the full-text query language).
    Leaf { column: String, query: String },
    /// Every part holds.
    And(Vec<IndexExpr>),
    /// Some part holds.
    Or(Vec<IndexExpr>),
}

/// Per superfile, the row ordinals that may match (`None`: any row).
pub(crate) type Candidates = Vec<Option<RoaringBitmap>>;

/// A full-text indexed column of a table.
struct IndexedColumn {
    name: String,
    analyzer: Analyzer,
    /// Every value in every file is one term spelled as the value.
    whole_values: bool,
}

/// The full-text indexed columns of a table and their analyzers.
pub(crate) struct IndexedColumns {
    columns: Vec<IndexedColumn>,
}

impl std::fmt::Debug for IndexedColumns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        f.debug_tuple("IndexedColumns").field(&names).finish()
    }
}

impl IndexedColumns {
    /// The indexed columns of `table`.
    pub(crate) fn of(table: &Table) -> Result<Self> {
        let manifest = table.manifest();
        let spec = manifest
            .index_spec()
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let columns = spec
            .fts
            .into_iter()
            .map(|c| {
                Ok(IndexedColumn {
                    analyzer: Analyzer::new(c.config.analyzer)
                        .map_err(|e| DataFusionError::External(Box::new(e)))?,
                    whole_values: manifest.whole_values(&c.column),
                    name: c.column,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self { columns })
    }

    /// The analyzer of `column`, if it is full-text indexed.
    pub(crate) fn analyzer(&self, column: &str) -> Option<&Analyzer> {
        self.column(column).map(|c| &c.analyzer)
    }

    fn column(&self, name: &str) -> Option<&IndexedColumn> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The part of `expr` the index can narrow (a superset of its rows),
    /// or `None` when it cannot narrow anything.
    pub(crate) fn narrow(&self, expr: &Expr) -> Option<IndexExpr> {
        match expr {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
                Operator::And => match (self.narrow(left), self.narrow(right)) {
                    (Some(a), Some(b)) => Some(IndexExpr::And(vec![a, b])),
                    (a, b) => a.or(b),
                },
                Operator::Or => Some(IndexExpr::Or(vec![self.narrow(left)?, self.narrow(right)?])),
                Operator::Eq => self
                    .equality(left, right)
                    .or_else(|| self.equality(right, left)),
                _ => None,
            },
            Expr::InList(list) if !list.negated => {
                let parts = list
                    .list
                    .iter()
                    .map(|value| self.equality(&list.expr, value))
                    .collect::<Option<Vec<_>>>()?;
                Some(IndexExpr::Or(parts))
            }
            Expr::ScalarFunction(f) if f.name() == MATCHES => {
                let (column, query) = self.matches_args(&f.args)?;
                Some(IndexExpr::Leaf { column, query })
            }
            _ => None,
        }
    }

    /// Whether `expr` is exactly what the index answers: `matches` calls,
    /// and equalities and `IN` lists of own-term values on whole-values
    /// columns, joined by `AND`/`OR`.
    pub(crate) fn answers_exactly(&self, expr: &Expr) -> bool {
        match expr {
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::And | Operator::Or,
                right,
            }) => self.answers_exactly(left) && self.answers_exactly(right),
            Expr::BinaryExpr(BinaryExpr {
                op: Operator::Eq, ..
            })
            | Expr::InList(_) => self.exact_terms(expr).is_some(),
            Expr::ScalarFunction(f) if f.name() == MATCHES => self.matches_args(&f.args).is_some(),
            _ => false,
        }
    }

    /// The column and the terms of an exact `=` or `IN` ([`Self::answers_exactly`]):
    /// its rows are those holding one of the terms (each value is its own
    /// term).
    pub(crate) fn exact_terms(&self, expr: &Expr) -> Option<(String, Vec<String>)> {
        let pairs: Vec<(&str, &str)> = match expr {
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::Eq,
                right,
            }) => vec![
                self.exact_equality(left, right)
                    .or_else(|| self.exact_equality(right, left))?,
            ],
            Expr::InList(list) if !list.negated && !list.list.is_empty() => list
                .list
                .iter()
                .map(|v| self.exact_equality(&list.expr, v))
                .collect::<Option<_>>()?,
            _ => return None,
        };
        let column = pairs.first()?.0.to_owned();
        Some((column, pairs.iter().map(|(_, v)| (*v).to_owned()).collect()))
    }

    /// `(column, value)` when the index answers `column = value` exactly:
    /// the column's values are whole terms and `value` is its own term, so
    /// the rows equal to it are exactly its term's postings.
    fn exact_equality<'a>(&self, column: &'a Expr, value: &'a Expr) -> Option<(&'a str, &'a str)> {
        let (Expr::Column(column), Expr::Literal(value, _)) = (column, value) else {
            return None;
        };
        let value = string(value)?;
        let indexed = self.column(&column.name)?;
        (indexed.whole_values && indexed.analyzer.is_own_term(value))
            .then_some((column.name.as_str(), value))
    }

    fn matches_args(&self, args: &[Expr]) -> Option<(String, String)> {
        let [Expr::Column(column), Expr::Literal(query, _)] = args else {
            return None;
        };
        self.analyzer(&column.name)?;
        Some((column.name.clone(), string(query)?.to_owned()))
    }

    /// `column = value` on an indexed column, as "every token of `value`".
    /// A value without tokens (empty, punctuation, stop words) narrows
    /// nothing.
    fn equality(&self, column: &Expr, value: &Expr) -> Option<IndexExpr> {
        let (Expr::Column(column), Expr::Literal(value, _)) = (column, value) else {
            return None;
        };
        let value = string(value)?;
        let analyzer = self.analyzer(&column.name)?;
        words_query(analyzer, value, true).map(|query| IndexExpr::Leaf {
            column: column.name.clone(),
            query,
        })
    }
}

/// The words of `text` as a full-text query: each required (`+word`) when
/// `all`, else any of them. `None` when `text` has no tokens (empty,
/// punctuation, stop words).
///
/// Each word, as written, becomes one clause: a word alone analyzes to the
/// same term it does inside the text. Words hold no query syntax (word
/// segments never contain spaces, parentheses or quotes); only the
/// operator words need lowercasing, which the analyzer does anyway.
pub(crate) fn words_query(analyzer: &Analyzer, text: &str, all: bool) -> Option<String> {
    let words: Vec<String> = analyzer
        .analyze(text)
        .into_iter()
        .filter_map(|t| text.get(t.start..t.end))
        .map(|w| {
            let w = match w {
                "AND" | "OR" | "NOT" => w.to_lowercase(),
                _ => w.to_owned(),
            };
            if all { format!("+{w}") } else { w }
        })
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

fn string(value: &ScalarValue) -> Option<&str> {
    match value {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Some(s),
        _ => None,
    }
}

/// The candidate rows of `expr` in each file of `table`.
pub(crate) async fn evaluate(table: &Table, expr: &IndexExpr) -> Result<Candidates> {
    let files = table.manifest().files.len();
    match expr {
        IndexExpr::Leaf { column, query } => {
            // The match set straight from the postings, as row ordinals per
            // file (live rows only): no scoring, no `_id` round trip.
            let matched = table
                .matching_rows(column, query)
                .await
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
            let mut out: Candidates = vec![Some(RoaringBitmap::new()); files];
            for (file, rows) in matched {
                if let Some(slot) = out.get_mut(file) {
                    *slot = Some(rows);
                }
            }
            Ok(out)
        }
        IndexExpr::And(parts) | IndexExpr::Or(parts) => {
            let and = matches!(expr, IndexExpr::And(_));
            let merged;
            let parts = if and {
                parts
            } else {
                merged = merge_or_leaves(parts);
                &merged
            };
            let mut acc: Option<Candidates> = None;
            for part in parts {
                let next = Box::pin(evaluate(table, part)).await?;
                acc = Some(match acc {
                    None => next,
                    Some(prev) => prev
                        .into_iter()
                        .zip(next)
                        .map(|(a, b)| combine(a, b, and))
                        .collect(),
                });
            }
            Ok(acc.unwrap_or_else(|| vec![None; files]))
        }
    }
}

/// Clauses (terms, phrases) one merged query may hold: under the query
/// parser's limit (`infino_fts` accepts 1,024 leaves).
const MERGED_CLAUSES: usize = 1_000;

/// The parts of an `OR` with the leaves of each column joined into as few
/// queries as the clause limit allows (`(a) OR (b) OR …`): an `IN` list of
/// 60 values is then one pass over each file's index instead of 60 (the
/// index narrowed a 6 % `IN` more slowly than a full scan).
fn merge_or_leaves(parts: &[IndexExpr]) -> Vec<IndexExpr> {
    let mut out: Vec<IndexExpr> = Vec::new();
    // (column, merged query, clauses in it) per open merge.
    let mut open: Vec<(String, String, usize)> = Vec::new();
    for part in parts {
        let IndexExpr::Leaf { column, query } = part else {
            out.push(part.clone());
            continue;
        };
        let clauses = query.split_whitespace().count().max(1);
        match open
            .iter_mut()
            .find(|(c, _, n)| c == column && n + clauses <= MERGED_CLAUSES)
        {
            Some((_, merged, n)) => {
                merged.push_str(&format!(" OR ({query})"));
                *n += clauses;
            }
            None => open.push((column.clone(), format!("({query})"), clauses)),
        }
    }
    out.extend(
        open.into_iter()
            .map(|(column, query, _)| IndexExpr::Leaf { column, query }),
    );
    out
}

/// `a AND b` or `a OR b` of two per-file sets, `None` being every row.
pub(crate) fn combine(
    a: Option<RoaringBitmap>,
    b: Option<RoaringBitmap>,
    and: bool,
) -> Option<RoaringBitmap> {
    match (a, b, and) {
        (Some(a), Some(b), true) => Some(a & b),
        (Some(a), Some(b), false) => Some(a | b),
        (None, x, true) | (x, None, true) => x,
        (None, _, false) | (_, None, false) => None,
    }
}

/// `matches(column, 'query')`: true for rows of an indexed column that
/// match the full-text query. Only a table scan can answer it (from the
/// index); evaluated anywhere else it fails with a message saying so.
pub(crate) fn matches_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(Matches {
        signature: Signature::any(2, Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Matches {
    signature: Signature,
}

impl ScalarUDFImpl for Matches {
    fn name(&self) -> &str {
        MATCHES
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        exec_err!(
            "matches(column, 'query') is answered by a table's full-text index: use it in the \
             WHERE clause of a scan of a table, on a full-text indexed column, with a constant \
             query, alone or joined to other matches() by AND/OR"
        )
    }
}

/// For tests of the candidate algebra.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn or_leaves_of_a_column_merge_within_the_clause_limit() {
        let leaf = |column: &str, query: &str| IndexExpr::Leaf {
            column: column.to_owned(),
            query: query.to_owned(),
        };
        let other = IndexExpr::And(vec![leaf("a", "+x"), leaf("b", "+y")]);
        let merged = merge_or_leaves(&[
            leaf("a", "+c1"),
            leaf("b", "+z"),
            other.clone(),
            leaf("a", "+c2 +c3"),
        ]);
        assert_eq!(
            merged,
            vec![other, leaf("a", "(+c1) OR (+c2 +c3)"), leaf("b", "(+z)"),]
        );
        let many: Vec<IndexExpr> = (0..2_500).map(|i| leaf("a", &format!("+c{i}"))).collect();
        let merged = merge_or_leaves(&many);
        assert_eq!(merged.len(), 3);
        for part in &merged {
            let IndexExpr::Leaf { query, .. } = part else {
                panic!("{part:?}");
            };
            assert!(query.split_whitespace().count() <= 2 * MERGED_CLAUSES);
            assert!(infino_fts::Query::parse(query).is_ok(), "{query}");
        }
    }

    #[test]
    fn combine_treats_none_as_every_row() {
        let a: RoaringBitmap = [1, 2, 3].into_iter().collect();
        let b: RoaringBitmap = [2, 3, 4].into_iter().collect();
        let v = |x: Option<RoaringBitmap>| x.map(|x| x.iter().collect::<Vec<_>>());
        assert_eq!(
            v(combine(Some(a.clone()), Some(b.clone()), true)),
            Some(vec![2, 3])
        );
        assert_eq!(
            v(combine(Some(a.clone()), Some(b), false)),
            Some(vec![1, 2, 3, 4])
        );
        assert_eq!(v(combine(None, Some(a.clone()), true)), Some(vec![1, 2, 3]));
        assert_eq!(v(combine(Some(a), None, false)), None);
    }
}
