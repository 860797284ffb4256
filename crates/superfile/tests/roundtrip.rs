//! A superfile is plain Parquet to any reader, and its rows come back exact.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Int64Type, UInt64Type};
use infino_superfile::{
    IndexSpec, OpenOptions, Superfile, SuperfileError, SuperfileWriter, WriterOptions,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::statistics::Statistics;

use crate::common::{batches, build, docs_schema, generated_docs, small_groups};

fn concat(batches: &[RecordBatch]) -> RecordBatch {
    arrow::compute::concat_batches(&batches[0].schema(), batches).expect("concat")
}

#[test]
fn reads_as_plain_parquet_with_ids_and_exact_values() {
    let rows = generated_docs(3_500, 1);
    let file = build(&rows, &small_groups());

    let reader = ParquetRecordBatchReaderBuilder::try_new(file.clone())
        .expect("plain parquet")
        .build()
        .expect("reader");
    let all = concat(&reader.collect::<Result<Vec<_>, _>>().expect("read"));
    assert_eq!(all.num_rows(), rows.len());
    assert_eq!(all.schema().field(0).name(), "_id");
    let ids = all.column(0).as_primitive::<UInt64Type>();
    let user_ids = all
        .column_by_name("id")
        .expect("id")
        .as_primitive::<Int64Type>();
    let bodies = all.column_by_name("body").expect("body").as_string::<i32>();
    let titles = all
        .column_by_name("title")
        .expect("title")
        .as_string::<i32>();
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(
            ids.value(i),
            5_000 + i as u64,
            "engine ids are consecutive from first_id"
        );
        assert_eq!(user_ids.value(i), row.0);
        assert_eq!(
            titles.is_valid(i).then(|| titles.value(i).to_owned()),
            row.1
        );
        assert_eq!(
            bodies.is_valid(i).then(|| bodies.value(i).to_owned()),
            row.2
        );
    }

    // Footer statistics (what SQL engines prune with) match the data.
    let meta = parquet::file::metadata::ParquetMetaDataReader::new()
        .parse_and_finish(&file)
        .expect("footer");
    assert_eq!(meta.num_row_groups(), 4, "1000-row groups");
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    for rg in meta.row_groups() {
        if let Some(Statistics::Int64(s)) = rg.column(1).statistics() {
            lo = lo.min(*s.min_opt().expect("min"));
            hi = hi.max(*s.max_opt().expect("max"));
        }
    }
    assert_eq!((lo, hi), (rows[0].0, rows[rows.len() - 1].0));
}

#[test]
fn superfile_opens_and_fetches_only_asked_rows() {
    let rows = generated_docs(3_500, 2);
    let file =
        Superfile::open(build(&rows, &small_groups()), OpenOptions::default()).expect("open");
    assert_eq!(file.rows(), 3_500);
    let index = file.fts("body").expect("body index");
    let present = rows.iter().filter(|r| r.2.is_some()).count() as u32;
    assert_eq!(index.doc_count(), present, "nulls are not documents");

    let wanted = [3_499u32, 0, 1_234, 1_235, 2_000, 1_234];
    let got = file
        .fetch_rows(&wanted, Some(&["_id", "body"]))
        .expect("fetch");
    assert_eq!(got.num_columns(), 2, "projection");
    let mut sorted: Vec<u32> = wanted.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(got.num_rows(), sorted.len());
    let ids = got.column(0).as_primitive::<UInt64Type>();
    let bodies = got.column(1).as_string::<i32>();
    for (i, &row) in sorted.iter().enumerate() {
        assert_eq!(ids.value(i), 5_000 + u64::from(row));
        assert_eq!(
            bodies.is_valid(i).then(|| bodies.value(i).to_owned()),
            rows[row as usize].2
        );
    }
    assert!(matches!(
        file.fetch_rows(&[3_500], None),
        Err(SuperfileError::RowOutOfRange { row: 3_500, .. })
    ));
    assert!(matches!(
        file.fetch_rows(&[1], Some(&["nope"])),
        Err(SuperfileError::NoSuchColumn { .. })
    ));
    assert!(matches!(
        file.fts("title"),
        Err(SuperfileError::NoSuchColumn { .. })
    ));
}

#[test]
fn bad_schemas_are_named() {
    let spec = IndexSpec::default().with_fts("id", infino_fts::FtsConfig::default());
    let err = SuperfileWriter::new(docs_schema(), &spec, &WriterOptions::default())
        .expect_err("int column");
    assert!(
        matches!(err, SuperfileError::Schema { ref column, .. } if column == "id"),
        "{err}"
    );
    let spec = IndexSpec::default().with_fts("missing", infino_fts::FtsConfig::default());
    assert!(matches!(
        SuperfileWriter::new(docs_schema(), &spec, &WriterOptions::default()),
        Err(SuperfileError::Schema { .. })
    ));

    let mut writer = SuperfileWriter::new(
        docs_schema(),
        &IndexSpec::default(),
        &WriterOptions::default(),
    )
    .expect("w");
    let other = std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("id", arrow::datatypes::DataType::Utf8, false),
    ]));
    let wrong = RecordBatch::try_new(
        other,
        vec![std::sync::Arc::new(arrow::array::StringArray::from(vec![
            "x",
        ]))],
    )
    .expect("b");
    let err = writer.write(&wrong).expect_err("wrong type");
    assert!(
        matches!(err, SuperfileError::Schema { ref column, .. } if column == "id"),
        "{err}"
    );
    // The writer is still usable and the file holds only good rows.
    let good = batches(&generated_docs(10, 3), 10);
    writer.write(&good[0]).expect("good batch");
    let file =
        Superfile::open(writer.finish().expect("finish"), OpenOptions::default()).expect("open");
    assert_eq!(file.rows(), 10);
}

#[test]
fn empty_superfile_is_valid() {
    let file = build(&[], &WriterOptions::default());
    let sf = Superfile::open(file, OpenOptions::default()).expect("open");
    assert_eq!(sf.rows(), 0);
    assert_eq!(sf.fts("body").expect("index").doc_count(), 0);
}

/// The encoding of every data page of `column` in row group 0.
fn data_page_encodings(bytes: &bytes::Bytes, column: usize) -> Vec<parquet::basic::Encoding> {
    use parquet::column::page::Page;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(bytes.clone()).expect("parquet");
    let group = reader.get_row_group(0).expect("row group");
    group
        .get_column_page_reader(column)
        .expect("pages")
        .map(|page| page.expect("page"))
        .filter_map(|page| match page {
            Page::DataPage { encoding, .. } | Page::DataPageV2 { encoding, .. } => Some(encoding),
            Page::DictionaryPage { .. } => None,
        })
        .collect()
}

#[test]
fn repeating_columns_keep_their_dictionary_and_unique_integers_are_deltas() {
    use std::sync::Arc;

    use arrow::array::{Float64Array, Int64Array};
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::basic::Encoding;
    // 40,000 rows, one row group: `price` takes 8,000 values (5 rows each,
    // a 64 KB dictionary, past the 16 KiB limit for columns not known to
    // repeat); `key` is unique (a 320 KB dictionary if kept).
    let n = 40_000_i64;
    let schema = Arc::new(Schema::new(vec![
        Field::new("key", DataType::Int64, false),
        Field::new("price", DataType::Float64, false),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(Int64Array::from_iter_values(0..n)),
            Arc::new(Float64Array::from_iter_values(
                (0..n).map(|i| (i % 8_000) as f64 / 100.0),
            )),
        ],
    )
    .expect("batch");
    let mut writer = SuperfileWriter::new(schema, &IndexSpec::default(), &WriterOptions::default())
        .expect("writer");
    // A small first batch alone would look unique: the writer judges the
    // rows of the whole first row group.
    writer.write(&batch.slice(0, 1_000)).expect("write");
    writer
        .write(&batch.slice(1_000, batch.num_rows() - 1_000))
        .expect("write");
    let bytes = writer.finish().expect("finish");
    // Columns: `_id`, `key`, `price`.
    let ids = data_page_encodings(&bytes, 0);
    let key = data_page_encodings(&bytes, 1);
    let price = data_page_encodings(&bytes, 2);
    // Integers without a dictionary are stored as deltas: `_id` always,
    // `key` (unique in the first row group) from its first page, with no
    // dictionary page, and both uncompressed.
    assert!(
        ids.iter().all(|e| *e == Encoding::DELTA_BINARY_PACKED),
        "_id as deltas: {ids:?}"
    );
    assert!(
        key.iter().all(|e| *e == Encoding::DELTA_BINARY_PACKED),
        "key as deltas: {key:?}"
    );
    let meta = parquet::file::metadata::ParquetMetaDataReader::new()
        .parse_and_finish(&bytes)
        .expect("footer");
    for leaf in [0, 1] {
        let chunk = meta.row_group(0).column(leaf);
        assert_eq!(
            chunk.compression(),
            parquet::basic::Compression::UNCOMPRESSED
        );
        assert_eq!(chunk.dictionary_page_offset(), None, "column {leaf}");
    }
    assert!(
        price.iter().all(|e| *e == Encoding::RLE_DICTIONARY),
        "price kept its dictionary: {price:?}"
    );
    let file = Superfile::open(bytes, OpenOptions::default()).expect("open");
    let rows = file.fetch_rows(&[39_999], None).expect("fetch");
    assert_eq!(
        rows.column_by_name("price")
            .expect("price")
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("f64")
            .value(0),
        79.99
    );
}

#[test]
fn an_indexed_text_column_keeps_a_dictionary_only_when_its_values_repeat() {
    use std::sync::Arc;

    use arrow::array::StringArray;
    use arrow::datatypes::{DataType, Field, Schema};
    use infino_fts::FtsConfig;
    use parquet::basic::Encoding;
    // 20,000 rows: `code` takes 500 values (a tag an equality filter is put
    // on), `text` is unique per row. Both are full-text indexed.
    let n = 20_000;
    let schema = Arc::new(Schema::new(vec![
        Field::new("code", DataType::Utf8, false),
        Field::new("text", DataType::Utf8, false),
    ]));
    let code = |i: usize| format!("c{}", i * 7919 % 500);
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(StringArray::from_iter_values((0..n).map(code))),
            Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| format!("document number {i} says {}", i * 31)),
            )),
        ],
    )
    .expect("batch");
    let spec = IndexSpec::default()
        .with_fts("code", FtsConfig::default())
        .with_fts("text", FtsConfig::default());
    let mut writer =
        SuperfileWriter::new(schema, &spec, &WriterOptions::default()).expect("writer");
    writer.write(&batch).expect("write");
    let bytes = writer.finish().expect("finish");
    // Columns: `_id`, `code`, `text`.
    let codes = data_page_encodings(&bytes, 1);
    let texts = data_page_encodings(&bytes, 2);
    assert!(
        codes.iter().all(|e| *e == Encoding::RLE_DICTIONARY),
        "code keeps a dictionary: {codes:?}"
    );
    assert!(
        texts.iter().all(|e| *e == Encoding::PLAIN),
        "text has none: {texts:?}"
    );
    // Values and the index read back the same either way.
    let file = Superfile::open(bytes, OpenOptions::default()).expect("open");
    let rows = file.fetch_rows(&[12_345], None).expect("fetch");
    let value = |name: &str| {
        rows.column_by_name(name)
            .expect("column")
            .as_string::<i32>()
            .value(0)
            .to_owned()
    };
    assert_eq!(value("code"), code(12_345));
    assert_eq!(
        value("text"),
        format!("document number 12345 says {}", 12_345 * 31)
    );
    let fts = file.fts("code").expect("index");
    let matched =
        infino_fts::token_match(fts, &code(12_345), infino_fts::MatchMode::All).expect("match");
    let expected: Vec<u32> = (0..n as u32)
        .filter(|&i| code(i as usize) == code(12_345))
        .collect();
    assert_eq!(matched.iter().collect::<Vec<_>>(), expected);
}

#[test]
fn a_small_full_text_memory_budget_spills_to_the_same_file() {
    // 4,000 documents of ~40 words accumulate a few hundred KB of
    // postings: a 16 KiB budget spills them dozens of times.
    let rows = generated_docs(4_000, 11);
    let unbounded = build(
        &rows,
        &WriterOptions {
            fts_memory_budget: None,
            ..small_groups()
        },
    );
    let spilled = build(
        &rows,
        &WriterOptions {
            fts_memory_budget: Some(16 * 1024),
            ..small_groups()
        },
    );
    assert!(unbounded == spilled, "the spilled build wrote other bytes");
}
