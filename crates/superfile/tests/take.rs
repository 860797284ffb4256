//! A row take reads exactly what Parquet's own reader reads for the same
//! rows — on superfiles and on plain Parquet files of other layouts (v2
//! pages, no dictionaries, other codecs) — and refuses what it cannot read.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Date32Array, Float32Array, Float64Array,
    Int16Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray, UInt32Array,
    UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use bytes::Bytes;
use infino_fts::FtsConfig;
use infino_store::{Path, Store};
use infino_superfile::{IndexSpec, PageDirectory, RowTake, SuperfileWriter, WriterOptions};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};

const ROWS: usize = 5_000;

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn schema() -> SchemaRef {
    let tz: Arc<str> = "+02:00".into();
    Arc::new(Schema::new(vec![
        Field::new("seq", DataType::Int64, false),
        Field::new("big", DataType::Int64, true),
        Field::new("small", DataType::Int16, true),
        Field::new("count", DataType::UInt32, false),
        Field::new("wide", DataType::UInt64, true),
        Field::new("ratio", DataType::Float32, true),
        Field::new("price", DataType::Float64, false),
        Field::new("tag", DataType::Utf8, true),
        Field::new("text", DataType::Utf8, true),
        Field::new("blob", DataType::Binary, true),
        Field::new("day", DataType::Date32, true),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Millisecond, Some(tz)),
            true,
        ),
    ]))
}

/// Columns with nulls, repeats and unique values, negative and huge
/// numbers, empty and non-ASCII strings.
fn batch(range: std::ops::Range<usize>) -> RecordBatch {
    let n = |i: usize, k: u64| mix(i as u64 * 31 + k);
    let null = |i: usize, every: usize| i % every == 3;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(
            range.clone().map(|i| i as i64 * 3),
        )),
        Arc::new(Int64Array::from_iter(range.clone().map(|i| {
            (!null(i, 7)).then(|| (n(i, 1) as i64).wrapping_mul(if i % 2 == 0 { 1 } else { -1 }))
        }))),
        Arc::new(Int16Array::from_iter(
            range
                .clone()
                .map(|i| (!null(i, 5)).then(|| (n(i, 2) % 60_000) as i16)),
        )),
        Arc::new(UInt32Array::from_iter_values(
            range.clone().map(|i| (n(i, 3) >> 30) as u32),
        )),
        Arc::new(UInt64Array::from_iter(
            range
                .clone()
                .map(|i| (!null(i, 11)).then(|| n(i, 4) | 1 << 63)),
        )),
        Arc::new(Float32Array::from_iter(
            range
                .clone()
                .map(|i| (!null(i, 4)).then(|| (n(i, 5) % 1000) as f32 / 7.0)),
        )),
        Arc::new(Float64Array::from_iter_values(
            range.clone().map(|i| (n(i, 6) % 100) as f64 * 0.25),
        )),
        Arc::new(StringArray::from_iter(range.clone().map(|i| {
            (!null(i, 6))
                .then(|| ["", "alpha", "bêta", "gamma δ"][(n(i, 7) % 4) as usize].to_owned())
        }))),
        Arc::new(StringArray::from_iter(range.clone().map(|i| {
            (!null(i, 9)).then(|| format!("row {i} — unique text {}", n(i, 8)))
        }))),
        Arc::new(BinaryArray::from_iter(range.clone().map(|i| {
            (!null(i, 8)).then(|| n(i, 9).to_le_bytes()[..(i % 9)].to_vec())
        }))),
        Arc::new(Date32Array::from_iter(
            range
                .clone()
                .map(|i| (!null(i, 10)).then(|| 19_000 + (i / 50) as i32)),
        )),
        Arc::new(
            TimestampMillisecondArray::from_iter(
                range.map(|i| (!null(i, 12)).then(|| 1_700_000_000_000 + i as i64 * 1_000)),
            )
            .with_timezone("+02:00"),
        ),
    ];
    RecordBatch::try_new(schema(), columns).expect("batch")
}

fn superfile() -> Bytes {
    let spec = IndexSpec::default()
        .with_fts("tag", FtsConfig::default())
        .with_fts("text", FtsConfig::default());
    let options = WriterOptions {
        row_group_rows: 1_500,
        page_rows: 200,
        ..WriterOptions::default()
    };
    let mut writer = SuperfileWriter::new(schema(), &spec, &options).expect("writer");
    for start in (0..ROWS).step_by(700) {
        writer
            .write(&batch(start..(start + 700).min(ROWS)))
            .expect("write");
    }
    writer.finish().expect("finish")
}

fn plain(props: WriterProperties) -> Bytes {
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema(), Some(props)).expect("writer");
    for start in (0..ROWS).step_by(700) {
        writer
            .write(&batch(start..(start + 700).min(ROWS)))
            .expect("write");
    }
    writer.close().expect("close");
    Bytes::from(out)
}

fn metadata(file: &Bytes) -> Arc<ParquetMetaData> {
    Arc::new(
        ParquetMetaDataReader::new()
            .with_page_index_policy(PageIndexPolicy::Required)
            .parse_and_finish(file)
            .expect("footer"),
    )
}

/// Every column of the file as the reader reads it, strings and binaries
/// as views (the types a take produces).
fn everything(file: &Bytes) -> RecordBatch {
    let reader = ParquetRecordBatchReaderBuilder::try_new(file.clone())
        .expect("parquet")
        .build()
        .expect("reader");
    let batches: Vec<RecordBatch> = reader.map(|b| b.expect("batch")).collect();
    let all = arrow::compute::concat_batches(&batches[0].schema(), &batches).expect("concat");
    let schema = view_schema(&all.schema());
    let columns = all
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| arrow::compute::cast(c, f.data_type()).expect("cast"))
        .collect();
    RecordBatch::try_new(schema, columns).expect("views")
}

fn view_schema(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| {
                let t = match f.data_type() {
                    DataType::Utf8 | DataType::LargeUtf8 => DataType::Utf8View,
                    DataType::Binary | DataType::LargeBinary => DataType::BinaryView,
                    t => t.clone(),
                };
                Field::new(f.name(), t, f.is_nullable())
            })
            .collect::<Vec<_>>(),
    ))
}

/// The take of `rows` against the reader's rows picked by `arrow::take`:
/// without a page directory, and with `directory` (which this take may
/// fill, or read what earlier takes left).
fn check(file: &Bytes, all: &RecordBatch, rows: &[u32], directory: &Arc<PageDirectory>) {
    check_take(file, all, rows, None);
    check_take(file, all, rows, Some(directory));
}

fn check_take(
    file: &Bytes,
    all: &RecordBatch,
    rows: &[u32],
    directory: Option<&Arc<PageDirectory>>,
) {
    let mut take = RowTake::plan(metadata(file), all.schema(), rows.to_vec()).expect("takeable");
    if let Some(directory) = directory {
        take = take.with_directory(Arc::clone(directory));
    }
    let ranges = take.ranges();
    let bytes: Vec<Bytes> = ranges
        .iter()
        .map(|r| file.slice(r.start as usize..r.end as usize))
        .collect();
    let got = take.decode(bytes).expect("decode");
    let mut sorted = rows.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(take.rows(), sorted.as_slice());
    let indices = UInt32Array::from(sorted);
    let want = arrow::compute::take_record_batch(all, &indices).expect("take");
    assert_eq!(got, want, "rows {:?}…", &rows[..rows.len().min(5)]);
    for column in got.columns() {
        assert_pages_only_where_needed(column.as_ref());
    }
}

/// A byte column's views carry page buffers only when some value is too
/// long to sit inside its view (over 12 bytes): short values (the `tag`
/// and `blob` columns) come out with no buffers at all.
fn assert_pages_only_where_needed(column: &dyn Array) {
    let (views, buffers) = match column.data_type() {
        DataType::Utf8View => {
            let a = column.as_string_view();
            (a.views().clone(), a.data_buffers().len())
        }
        DataType::BinaryView => {
            let a = column.as_binary_view();
            (a.views().clone(), a.data_buffers().len())
        }
        _ => return,
    };
    let long = views.iter().any(|v| (*v as u32) > 12);
    assert_eq!(buffers > 0, long, "{buffers} buffers, long values: {long}");
}

fn row_sets() -> Vec<Vec<u32>> {
    let n = ROWS as u32;
    vec![
        vec![],
        vec![0],
        vec![n - 1],
        (0..n).collect(),
        (1_490..1_520).collect(),
        (0..n)
            .filter(|i| mix(u64::from(*i)).is_multiple_of(97))
            .collect(),
        (0..n)
            .filter(|i| mix(u64::from(*i) + 5).is_multiple_of(5))
            .collect(),
        // Unordered with repeats.
        vec![4_000, 17, 17, 2_500, 3, 4_999, 3],
    ]
}

#[test]
fn takes_equal_parquet_reads_on_superfiles() {
    let file = superfile();
    let all = everything(&file);
    let directory = Arc::new(PageDirectory::new(&metadata(&file)));
    // Twice: the first round fills the directory, the second reads it.
    for _ in 0..2 {
        for rows in row_sets() {
            check(&file, &all, &rows, &directory);
        }
    }
    // Only the pages holding the rows are read: for one row, one data page
    // and at most one dictionary page per column.
    let take = RowTake::plan(metadata(&file), all.schema(), vec![2_222]).expect("takeable");
    let ranges = take.ranges();
    let bytes: u64 = ranges.iter().map(|r| r.end - r.start).sum();
    assert!(ranges.len() <= 2 * all.num_columns(), "{ranges:?}");
    assert!(bytes * 5 < file.len() as u64, "{bytes} of {}", file.len());
}

/// A take cut by row group reads, piece after piece, the rows of the whole
/// take; each piece holds the rows of one row group only, and all decode
/// from one fetch of the whole take's pages (one batched read of the file).
#[tokio::test]
async fn takes_cut_by_row_group_read_the_same_rows() {
    let file = superfile();
    let all = everything(&file);
    let directory = Arc::new(PageDirectory::new(&metadata(&file)));
    let store = Store::open("memory://").expect("store");
    let path = Path::from("t.sf.parquet");
    store.put(&path, file.clone()).await.expect("put");
    for rows in row_sets() {
        let take = RowTake::plan(metadata(&file), all.schema(), rows.clone())
            .expect("takeable")
            .with_directory(Arc::clone(&directory));
        let pieces: Vec<RowTake> = (0..take.group_sizes().len())
            .map(|g| take.group_span(g..g + 1))
            .collect();
        let groups: std::collections::BTreeSet<u32> =
            take.rows().iter().map(|r| r / 1_500).collect();
        assert_eq!(pieces.len(), groups.len(), "one piece per row group read");
        let before = store.stats();
        let pages = take.fetch(&store, &path).await.expect("fetch");
        let fetched = store.stats().since(&before);
        let mut got = Vec::new();
        for piece in &pieces {
            let first = piece.rows().first().map(|r| r / 1_500);
            assert!(piece.rows().iter().all(|r| Some(r / 1_500) == first));
            got.push(piece.decode_fetched(&pages).expect("decode"));
        }
        assert_eq!(
            store.stats().since(&before),
            fetched,
            "pieces read nothing more"
        );
        let rows: Vec<u32> = pieces.iter().flat_map(|p| p.rows().to_vec()).collect();
        assert_eq!(rows, take.rows());
        let want = arrow::compute::take_record_batch(&all, &UInt32Array::from(rows)).expect("take");
        let got = arrow::compute::concat_batches(&all.schema(), &got).expect("concat");
        assert_eq!(got, want);
        // Spans of two row groups (the last one shorter when odd), and
        // spans past the end, which are cut to the groups there are.
        let sizes = take.group_sizes();
        assert_eq!(sizes.iter().sum::<usize>(), take.rows().len());
        let mut spans = Vec::new();
        for start in (0..sizes.len()).step_by(2) {
            let span = take.group_span(start..start + 2);
            assert_eq!(
                span.rows().len(),
                sizes[start..(start + 2).min(sizes.len())]
                    .iter()
                    .sum::<usize>()
            );
            spans.push(span.decode_fetched(&pages).expect("decode span"));
        }
        assert!(
            take.group_span(sizes.len()..sizes.len() + 3)
                .rows()
                .is_empty()
        );
        let spans = arrow::compute::concat_batches(&all.schema(), &spans).expect("concat");
        assert_eq!(spans, want);
    }
}

#[test]
fn takes_equal_parquet_reads_on_other_layouts() {
    let layouts = [
        WriterProperties::builder()
            .set_writer_version(WriterVersion::PARQUET_2_0)
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_data_page_row_count_limit(300)
            .set_write_batch_size(100)
            .build(),
        WriterProperties::builder()
            .set_dictionary_enabled(false)
            .set_data_page_row_count_limit(256)
            .set_write_batch_size(64)
            .set_max_row_group_row_count(Some(2_048))
            .build(),
        // Uncompressed version 2 pages with dictionaries: headers parsed
        // in place, levels located by the header.
        WriterProperties::builder()
            .set_writer_version(WriterVersion::PARQUET_2_0)
            .set_compression(Compression::UNCOMPRESSED)
            .set_data_page_row_count_limit(200)
            .set_write_batch_size(50)
            .build(),
        WriterProperties::builder()
            .set_dictionary_enabled(false)
            .set_writer_version(WriterVersion::PARQUET_2_0)
            .set_column_encoding("seq".into(), Encoding::DELTA_BINARY_PACKED)
            .set_column_encoding("big".into(), Encoding::DELTA_BINARY_PACKED)
            .set_column_encoding("count".into(), Encoding::DELTA_BINARY_PACKED)
            // (Version 2 would choose DELTA_BYTE_ARRAY, which a take does
            // not read.)
            .set_column_encoding("tag".into(), Encoding::PLAIN)
            .set_column_encoding("text".into(), Encoding::PLAIN)
            .set_column_encoding("blob".into(), Encoding::PLAIN)
            .set_compression(Compression::SNAPPY)
            .set_data_page_row_count_limit(128)
            .set_write_batch_size(32)
            .build(),
    ];
    for props in layouts {
        let file = plain(props);
        let all = everything(&file);
        let directory = Arc::new(PageDirectory::new(&metadata(&file)));
        for _ in 0..2 {
            for rows in row_sets() {
                check(&file, &all, &rows, &directory);
            }
        }
    }
}

#[test]
fn refuses_what_it_cannot_read() {
    let file = superfile();
    let meta = metadata(&file);
    let all = everything(&file);
    // A row past the end.
    assert!(RowTake::plan(Arc::clone(&meta), all.schema(), vec![ROWS as u32]).is_none());
    // A column of another type, and one that is not there.
    for field in [
        Field::new("seq", DataType::Int32, false),
        Field::new("nope", DataType::Int64, false),
    ] {
        let schema = Arc::new(Schema::new(vec![field]));
        assert!(RowTake::plan(Arc::clone(&meta), schema, vec![1]).is_none());
    }
    // Booleans are read through Parquet.
    let flags = Arc::new(Schema::new(vec![Field::new("f", DataType::Boolean, false)]));
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, Arc::clone(&flags), None).expect("writer");
    let b = RecordBatch::try_new(
        Arc::clone(&flags),
        vec![Arc::new(BooleanArray::from(vec![true, false]))],
    )
    .expect("batch");
    writer.write(&b).expect("write");
    writer.close().expect("close");
    let file = Bytes::from(out);
    let meta = ParquetMetaDataReader::new()
        .with_page_index_policy(PageIndexPolicy::Optional)
        .parse_and_finish(&file)
        .expect("footer");
    assert!(RowTake::plan(Arc::new(meta), flags, vec![0]).is_none());
    // Nor are strings in DELTA_BYTE_ARRAY (version 2's default without a
    // dictionary).
    let props = WriterProperties::builder()
        .set_dictionary_enabled(false)
        .set_writer_version(WriterVersion::PARQUET_2_0)
        .build();
    let text = Arc::new(Schema::new(vec![Field::new(
        "text",
        DataType::Utf8View,
        true,
    )]));
    assert!(RowTake::plan(metadata(&plain(props)), text, vec![0]).is_none());
    // Without an offset index nothing is addressable.
    let props = WriterProperties::builder()
        .set_statistics_enabled(EnabledStatistics::None)
        .set_offset_index_disabled(true)
        .build();
    let file = plain(props);
    let meta = ParquetMetaDataReader::new()
        .with_page_index_policy(PageIndexPolicy::Optional)
        .parse_and_finish(&file)
        .expect("footer");
    if meta.offset_index().is_none() {
        assert!(RowTake::plan(Arc::new(meta), schema(), vec![0]).is_none());
    }
}

#[test]
fn damaged_pages_give_errors_not_panics() {
    let file = superfile();
    let all = everything(&file);
    let rows: Vec<u32> = (0..ROWS as u32).step_by(37).collect();
    let take = RowTake::plan(metadata(&file), all.schema(), rows).expect("takeable");
    let ranges = take.ranges();
    let clean: Vec<Bytes> = ranges
        .iter()
        .map(|r| file.slice(r.start as usize..r.end as usize))
        .collect();
    let total: usize = clean.iter().map(Bytes::len).sum();
    // Flip bytes all over the fetched pages; each decode either fails with
    // an error or returns rows — it never panics. A short buffer fails.
    for k in (0..total).step_by(total / 400 + 1) {
        let mut left = k;
        let mut damaged = clean.clone();
        for part in &mut damaged {
            if left < part.len() {
                let mut v = part.to_vec();
                v[left] ^= 0x5a;
                *part = Bytes::from(v);
                break;
            }
            left -= part.len();
        }
        let _ = take.decode(damaged);
    }
    let mut short = clean.clone();
    if let Some(last) = short.last_mut() {
        *last = last.slice(..last.len() / 2);
    }
    assert!(take.decode(short).is_err());
}
