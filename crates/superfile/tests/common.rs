//! Fixtures: a documents table as Arrow batches, and a superfile built from it.

use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use bytes::Bytes;
use infino_fts::FtsConfig;
use infino_superfile::{IndexSpec, SuperfileWriter, WriterOptions};
use infino_testkit::corpus::ZipfCorpus;

/// `id: Int64 not null, title: Utf8, body: Utf8` (title and body nullable).
pub(crate) fn docs_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("title", DataType::Utf8, true),
        Field::new("body", DataType::Utf8, true),
    ]))
}

/// Rows: (id, title, body); every 17th body is null, every 5th title.
pub(crate) fn generated_docs(n: usize, seed: u64) -> Vec<(i64, Option<String>, Option<String>)> {
    let bodies = ZipfCorpus {
        vocabulary: 3_000,
        mean_len: 40,
        seed,
        ..ZipfCorpus::default()
    }
    .generate(n);
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let title = (i % 5 != 0).then(|| format!("Title {i} café naïve"));
            let body = (i % 17 != 3).then_some(body);
            (1_000 + i as i64, title, body)
        })
        .collect()
}

/// Arrow batches of at most `batch` rows.
pub(crate) fn batches(
    rows: &[(i64, Option<String>, Option<String>)],
    batch: usize,
) -> Vec<RecordBatch> {
    rows.chunks(batch)
        .map(|chunk| {
            let ids = Int64Array::from_iter_values(chunk.iter().map(|r| r.0));
            let titles: StringArray = chunk.iter().map(|r| r.1.as_deref()).collect();
            let bodies: StringArray = chunk.iter().map(|r| r.2.as_deref()).collect();
            RecordBatch::try_new(
                docs_schema(),
                vec![Arc::new(ids), Arc::new(titles), Arc::new(bodies)],
            )
            .expect("batch")
        })
        .collect()
}

/// A superfile over `rows` with the body full-text indexed (positions on).
pub(crate) fn build(
    rows: &[(i64, Option<String>, Option<String>)],
    options: &WriterOptions,
) -> Bytes {
    let spec = IndexSpec::default().with_fts(
        "body",
        FtsConfig {
            positions: true,
            ..FtsConfig::default()
        },
    );
    let mut writer = SuperfileWriter::new(docs_schema(), &spec, options).expect("writer");
    for b in batches(rows, 700) {
        writer.write(&b).expect("write");
    }
    writer.finish().expect("finish")
}

/// Small row groups and pages so fetches and pruning have something to skip.
pub(crate) fn small_groups() -> WriterOptions {
    WriterOptions {
        first_id: 5_000,
        row_group_rows: 1_000,
        page_rows: 100,
        ..WriterOptions::default()
    }
}
