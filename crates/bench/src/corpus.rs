//! Corpora for the cells: a directory in the shared dataset format, or synthetic text.
//!
//! The dataset format (`shared/datasets/README.md`): `docs.parquet` with
//! `id int64, title string, body string, …` and optionally an `embedding`
//! fixed-size list of float32.

use std::path::Path;

use anyhow::Context;
use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use infino_testkit::corpus::ZipfCorpus;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// Documents to index and query.
#[derive(Debug)]
pub(crate) struct Corpus {
    pub(crate) name: String,
    pub(crate) ids: Vec<i64>,
    /// Title and body joined by a newline.
    pub(crate) texts: Vec<String>,
    /// Row-major embeddings and their dimension, when the corpus has them.
    pub(crate) embeddings: Option<(usize, Vec<f32>)>,
}

impl Corpus {
    /// Load `dir/docs.parquet`.
    pub(crate) fn load(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join("docs.parquet");
        let file =
            std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
        let (mut ids, mut texts) = (Vec::new(), Vec::new());
        let mut embeddings: Option<(usize, Vec<f32>)> = None;
        for batch in reader {
            let batch = batch?;
            let id = batch
                .column_by_name("id")
                .context("docs.parquet has no `id` column")?;
            let id = id
                .as_primitive_opt::<Int64Type>()
                .context("`id` must be int64")?;
            let title = batch.column_by_name("title").context("no `title` column")?;
            let body = batch.column_by_name("body").context("no `body` column")?;
            let (title, body) = (title.as_string::<i32>(), body.as_string::<i32>());
            append_embeddings(&batch, &mut embeddings);
            for row in 0..batch.num_rows() {
                ids.push(id.value(row));
                let t = if title.is_null(row) {
                    ""
                } else {
                    title.value(row)
                };
                let b = if body.is_null(row) {
                    ""
                } else {
                    body.value(row)
                };
                texts.push(format!("{t}\n{b}"));
            }
        }
        let name = dir
            .file_name()
            .map_or_else(|| "corpus".to_owned(), |n| n.to_string_lossy().into_owned());
        Ok(Self {
            name,
            ids,
            texts,
            embeddings,
        })
    }

    /// `n` synthetic Zipfian documents.
    pub(crate) fn synthetic(n: usize) -> Self {
        let texts = ZipfCorpus::default().generate(n);
        let ids = (0..texts.len())
            .map(|i| i64::try_from(i).unwrap_or(i64::MAX))
            .collect();
        Self {
            name: format!("synthetic-zipf-{n}"),
            ids,
            texts,
            embeddings: None,
        }
    }

    /// Total bytes of text.
    pub(crate) fn text_bytes(&self) -> usize {
        self.texts.iter().map(String::len).sum()
    }
}

/// The `embedding` column of `dir/queries.parquet` as (dimension,
/// row-major values), when the file exists and has one: real queries for
/// the vectors cell instead of moved stored vectors.
pub(crate) fn load_query_embeddings(dir: &Path) -> anyhow::Result<Option<(usize, Vec<f32>)>> {
    let path = dir.join("queries.parquet");
    if !path.exists() {
        return Ok(None);
    }
    let file = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let mut out = None;
    for batch in ParquetRecordBatchReaderBuilder::try_new(file)?.build()? {
        append_embeddings(&batch?, &mut out);
    }
    Ok(out)
}

/// Append `batch`'s `embedding` column (a fixed-size list of float32), if
/// it has one, to `out` as (dimension, row-major values).
pub(crate) fn append_embeddings(
    batch: &arrow::array::RecordBatch,
    out: &mut Option<(usize, Vec<f32>)>,
) {
    let Some(list) = batch
        .column_by_name("embedding")
        .and_then(|c| c.as_fixed_size_list_opt())
    else {
        return;
    };
    let dim = usize::try_from(list.value_length()).unwrap_or(0);
    let Some(values) = list
        .values()
        .as_primitive_opt::<arrow::datatypes::Float32Type>()
    else {
        return;
    };
    let start = usize::try_from(list.value_offset(0)).unwrap_or(0);
    if let Some(slice) = values.values().get(start..start + dim * batch.num_rows()) {
        out.get_or_insert_with(|| (dim, Vec::new()))
            .1
            .extend_from_slice(slice);
    }
}
