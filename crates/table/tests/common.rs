//! Fixtures: a documents schema, generated rows, and reading a whole table back.

use std::sync::Arc;

use arrow::array::{AsArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef, UInt64Type};
use infino_fts::FtsConfig;
use infino_store::Path;
use infino_superfile::{IndexSpec, OpenOptions, Superfile};
use infino_table::{Connection, Table};
use infino_testkit::corpus::ZipfCorpus;

pub(crate) fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("body", DataType::Utf8, true),
    ]))
}

pub(crate) fn spec() -> IndexSpec {
    IndexSpec::default().with_fts(
        "body",
        FtsConfig {
            positions: true,
            ..FtsConfig::default()
        },
    )
}

/// `n` bodies (every 13th null) from a small Zipf vocabulary.
pub(crate) fn bodies(n: usize, seed: u64) -> Vec<Option<String>> {
    ZipfCorpus {
        vocabulary: 2_000,
        mean_len: 30,
        seed,
        ..ZipfCorpus::default()
    }
    .generate(n)
    .into_iter()
    .enumerate()
    .map(|(i, b)| (i % 13 != 5).then_some(b))
    .collect()
}

/// One batch with user ids `first_user_id..`.
pub(crate) fn batch(first_user_id: i64, bodies: &[Option<String>]) -> RecordBatch {
    let ids = Int64Array::from_iter_values((0..bodies.len() as i64).map(|i| first_user_id + i));
    let texts: StringArray = bodies.iter().map(Option::as_deref).collect();
    RecordBatch::try_new(schema(), vec![Arc::new(ids), Arc::new(texts)]).expect("batch")
}

/// Every (`_id`, user `id`) of the table version, read file by file.
pub(crate) async fn all_ids(conn: &Connection, table: &Table) -> Vec<(u64, i64)> {
    let mut out = Vec::new();
    for entry in &table.manifest().files {
        let bytes = conn
            .store()
            .get(&Path::from(entry.path.as_str()))
            .await
            .expect("file");
        let file = Superfile::open(bytes, OpenOptions::default()).expect("superfile");
        let rows: Vec<u32> = (0..file.rows() as u32).collect();
        let batch = file.fetch_rows(&rows, Some(&["_id", "id"])).expect("rows");
        let ids = batch.column(0).as_primitive::<UInt64Type>();
        let user = batch.column(1).as_primitive::<Int64Type>();
        out.extend((0..batch.num_rows()).map(|i| (ids.value(i), user.value(i))));
    }
    out
}
