//! Write a small superfile for cross-reader checks:
//! `cargo run -p infino-superfile --example write_sample -- OUT.parquet`.
//!
//! The file has 1,000 rows (`_id`, `id`, `title`, `body`, every 7th body
//! null) with `body` full-text indexed; `scripts/check_open_format.py` reads
//! it with pyarrow and DuckDB and compares with the values this writes.

use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use infino_fts::FtsConfig;
use infino_superfile::{IndexSpec, SuperfileWriter, WriterOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .ok_or("usage: write_sample OUT.parquet")?;
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("title", DataType::Utf8, true),
        Field::new("body", DataType::Utf8, true),
    ]));
    let spec = IndexSpec::default().with_fts(
        "body",
        FtsConfig {
            positions: true,
            ..FtsConfig::default()
        },
    );
    let options = WriterOptions {
        first_id: 100,
        row_group_rows: 300,
        ..WriterOptions::default()
    };
    let mut writer = SuperfileWriter::new(Arc::clone(&schema), &spec, &options)?;
    let ids: Vec<i64> = (0..1_000).map(|i| i * 3).collect();
    let titles: StringArray = (0..1_000).map(|i| Some(format!("title {i}"))).collect();
    let bodies: StringArray = (0..1_000)
        .map(|i| (i % 7 != 0).then(|| format!("body of row {i} with word w{}", i % 10)))
        .collect();
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(ids)),
            Arc::new(titles),
            Arc::new(bodies),
        ],
    )?;
    writer.write(&batch)?;
    std::fs::write(&out, writer.finish()?)?;
    Ok(())
}
