//! Vector columns: stored as an ordinary Parquet column, indexed in a region.

use std::sync::Arc;

use arrow::array::{Array, AsArray, FixedSizeListArray, Float32Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Float32Type, Schema};
use infino_store::{Path, Store};
use infino_superfile::{
    IndexSpec, LazySuperfile, OpenOptions, Superfile, SuperfileError, SuperfileWriter,
    WriterOptions,
};
use infino_vector::{BuildParams, Metric, SearchOptions};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub(crate) const DIM: usize = 16;

pub(crate) fn schema() -> Arc<Schema> {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("embedding", DataType::FixedSizeList(item, DIM as i32), true),
    ]))
}

/// `n` random vectors; every 10th row is null.
fn rows(n: usize) -> Vec<Option<Vec<f32>>> {
    let mut rng = StdRng::seed_from_u64(3);
    (0..n)
        .map(|i| (i % 10 != 4).then(|| (0..DIM).map(|_| rng.random_range(-1.0..1.0)).collect()))
        .collect()
}

/// `rows` as a batch of `id` and a nullable `embedding` column.
pub(crate) fn batch(rows: &[Option<Vec<f32>>]) -> RecordBatch {
    let values: Vec<f32> = rows
        .iter()
        .flat_map(|r| r.clone().unwrap_or_else(|| vec![0.0; DIM]))
        .collect();
    let validity: Vec<bool> = rows.iter().map(Option::is_some).collect();
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let list = FixedSizeListArray::try_new(
        item,
        DIM as i32,
        Arc::new(Float32Array::from(values)),
        Some(validity.into()),
    )
    .expect("list");
    let ids = Int64Array::from_iter_values(0..rows.len() as i64);
    RecordBatch::try_new(schema(), vec![Arc::new(ids), Arc::new(list)]).expect("batch")
}

fn build(rows: &[Option<Vec<f32>>]) -> bytes::Bytes {
    let params = BuildParams {
        rerank: infino_vector::Rerank::F32,
        ..BuildParams::default()
    };
    let spec = IndexSpec::default().with_vector("embedding", Metric::L2, params);
    let mut writer =
        SuperfileWriter::new(schema(), &spec, &WriterOptions::default()).expect("writer");
    for chunk in rows.chunks(400) {
        writer.write(&batch(chunk)).expect("write");
    }
    writer.finish().expect("finish")
}

fn exact(rows: &[Option<Vec<f32>>], q: &[f32], k: usize) -> Vec<u32> {
    let mut d: Vec<(f32, u32)> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            r.as_ref().map(|v| {
                (
                    v.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum(),
                    i as u32,
                )
            })
        })
        .collect();
    d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    d.into_iter().take(k).map(|(_, i)| i).collect()
}

#[test]
fn vectors_read_as_parquet_and_search_exactly() {
    let data = rows(2_000);
    let file = build(&data);
    // Any Parquet reader sees the vectors as a fixed-size list column.
    let reader = ParquetRecordBatchReaderBuilder::try_new(file.clone())
        .expect("parquet")
        .build()
        .expect("reader");
    let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().expect("read");
    let all = arrow::compute::concat_batches(&batches[0].schema(), &batches).expect("concat");
    let list = all
        .column_by_name("embedding")
        .expect("embedding")
        .as_fixed_size_list();
    assert_eq!(list.null_count(), 200);
    let first = list.value(1);
    assert_eq!(
        first.as_primitive::<Float32Type>().values().to_vec(),
        data[1].clone().expect("row 1")
    );

    let sf = Superfile::open(file, OpenOptions::default()).expect("open");
    let index = sf.vector("embedding").expect("vector index");
    assert_eq!(index.header().len(), 1_800, "null vectors are not indexed");
    let q = data[7].clone().expect("row 7");
    let got: Vec<u32> = index
        .search(
            &q,
            &SearchOptions {
                exact: true,
                ..SearchOptions::new(10)
            },
        )
        .expect("search")
        .into_iter()
        .map(|n| n.0)
        .collect();
    assert_eq!(got, exact(&data, &q, 10));
    assert_eq!(got[0], 7);
    assert!(matches!(
        sf.vector("id"),
        Err(SuperfileError::NoSuchColumn { .. })
    ));
}

#[tokio::test]
async fn lazy_vector_region_is_one_request() {
    let data = rows(1_000);
    let store = Store::open("memory://").expect("store");
    let path = Path::from("v.sf.parquet");
    store.put(&path, build(&data)).await.expect("put");
    let lazy = LazySuperfile::open(&store, &path, OpenOptions::default())
        .await
        .expect("open");
    let before = store.stats();
    let index = lazy.vector("embedding").await.expect("vector");
    let _cached = lazy.vector("embedding").await.expect("cached");
    assert_eq!(store.stats().since(&before).total_requests(), 1);
    assert_eq!(index.header().dim(), DIM);
}

#[test]
fn wrong_vector_columns_are_named() {
    let spec = IndexSpec::default().with_vector("id", Metric::L2, BuildParams::default());
    let err =
        SuperfileWriter::new(schema(), &spec, &WriterOptions::default()).expect_err("int column");
    assert!(
        matches!(err, SuperfileError::Schema { ref column, .. } if column == "id"),
        "{err}"
    );
    let mut nan = rows(20);
    nan[3] = Some(vec![f32::NAN; DIM]);
    let spec =
        IndexSpec::default().with_vector("embedding", Metric::Cosine, BuildParams::default());
    let mut writer =
        SuperfileWriter::new(schema(), &spec, &WriterOptions::default()).expect("writer");
    let outcome = writer
        .write(&batch(&nan))
        .and_then(|()| writer.finish().map(|_| ()));
    assert!(outcome.is_err(), "NaN components are refused");
}

/// A cold two-phase read (heads, shortlist, shortlisted payload entries)
/// answers exactly as a read of whole planned blocks, for a fraction of
/// the bytes; a repeat is served from what it kept.
#[tokio::test]
async fn two_phase_reads_match_whole_blocks_for_fewer_bytes() {
    let data = rows(60_000);
    let store = Store::open("memory://").expect("store");
    let path = Path::from("v.sf.parquet");
    store.put(&path, build(&data)).await.expect("put");
    let open = || LazySuperfile::open(&store, &path, OpenOptions::default());
    let mut rng = StdRng::seed_from_u64(9);
    for _ in 0..3 {
        let q: Vec<f32> = (0..DIM).map(|_| rng.random_range(-1.0..1.0)).collect();
        let two = open().await.expect("open");
        let header = two.vector_header("embedding").await.expect("header");
        // The breadth this test was written for (the default then): at
        // 200 the shortlisted entries of this small file sit close enough
        // that merging gaps reads about two thirds of the payload.
        let opts = SearchOptions {
            nprobe: Some(header.lists() / 2),
            rerank_breadth: Some(100),
            ..SearchOptions::new(10)
        };
        let planned = header.plan(&q, &opts, None).expect("plan");
        assert!(two.vector_two_phase_pays("embedding", &header, &planned));
        let before = store.stats();
        let heads = two
            .vector_heads("embedding", &planned)
            .await
            .expect("heads");
        let list = header
            .shortlist(&q, &opts, None, heads.as_slice())
            .expect("shortlist");
        let ranges = list.payload_ranges();
        let payloads = two
            .vector_payloads("embedding", &ranges)
            .await
            .expect("payloads");
        let sparse = store.stats().since(&before);
        let got = list.rerank(&payloads).expect("rerank");
        assert!(
            sparse.total_requests() <= (planned.len() + 16) as u64,
            "{sparse:?}"
        );

        let one = open().await.expect("open");
        let header = one.vector_header("embedding").await.expect("header");
        let before = store.stats();
        let blocks = one
            .vector_clusters("embedding", &planned)
            .await
            .expect("blocks");
        let whole = store.stats().since(&before);
        let want = header
            .search_clusters(&q, &opts, None, blocks.as_slice(), None)
            .expect("search");
        assert_eq!(got, want);
        let truth = exact(&data, &q, 10);
        let found = got.iter().filter(|h| truth.contains(&h.0)).count();
        assert!(found >= 5, "{found} of the exact top-10");
        assert!(
            sparse.bytes_read * 2 < whole.bytes_read,
            "two-phase {} vs whole {}",
            sparse.bytes_read,
            whole.bytes_read
        );

        // Kept: a repeat reads nothing.
        let before = store.stats();
        two.vector_heads("embedding", &planned)
            .await
            .expect("heads");
        two.vector_payloads("embedding", &ranges)
            .await
            .expect("payloads");
        assert_eq!(store.stats().since(&before).total_requests(), 0);
    }
}
