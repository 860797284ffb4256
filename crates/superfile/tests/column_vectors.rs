//! Stored vectors read by row for a rerank from the column: addressed
//! straight in their pages when the layout allows, through Parquet
//! otherwise, the same vectors either way.

use infino_store::{Path, Store};
use infino_superfile::{
    IndexSpec, LazySuperfile, OpenOptions, SuperfileError, SuperfileWriter, WriterOptions,
};
use infino_vector::{BuildParams, Metric, Rerank, RowVectors, SearchOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::vectors::{DIM, batch, schema};

/// `n` random vectors; with `nulls`, every 10th row is null.
fn rows(n: usize, nulls: bool) -> Vec<Option<Vec<f32>>> {
    let mut rng = StdRng::seed_from_u64(5);
    (0..n)
        .map(|i| {
            let v: Vec<f32> = (0..DIM).map(|_| rng.random_range(-1.0..1.0)).collect();
            (!nulls || i % 10 != 4).then_some(v)
        })
        .collect()
}

/// A superfile of `rows` in row groups of 1,000, indexed without a rerank
/// payload, stored at `v.sf.parquet`.
async fn stored(rows: &[Option<Vec<f32>>]) -> (Store, Path) {
    let params = BuildParams {
        rerank: Rerank::None,
        ..BuildParams::default()
    };
    let spec = IndexSpec::default().with_vector("embedding", Metric::L2, params);
    let options = WriterOptions {
        row_group_rows: 1_000,
        ..WriterOptions::default()
    };
    let mut writer = SuperfileWriter::new(schema(), &spec, &options).expect("writer");
    for chunk in rows.chunks(700) {
        writer.write(&batch(chunk)).expect("write");
    }
    let store = Store::open("memory://").expect("store");
    let path = Path::from("v.sf.parquet");
    store
        .put(&path, writer.finish().expect("finish"))
        .await
        .expect("put");
    (store, path)
}

/// The test's own vectors by row.
struct Flat<'a>(&'a [Option<Vec<f32>>]);

impl RowVectors for Flat<'_> {
    fn vector(&self, row: u32) -> Option<&[f32]> {
        self.0.get(row as usize)?.as_deref()
    }
}

#[tokio::test]
async fn addressed_rows_read_only_their_bytes() {
    let data = rows(2_500, false);
    let (store, path) = stored(&data).await;
    let file = LazySuperfile::open(&store, &path, OpenOptions::default())
        .await
        .expect("open");
    // Rows on both sides of row-group edges, and one repeated.
    let wanted = [0, 1, 999, 1_000, 1_001, 1_234, 2_499, 1_234];
    let got = file
        .column_vectors("embedding", DIM, &wanted)
        .await
        .expect("rows");
    assert_eq!(got.len(), 7);
    for row in wanted {
        assert_eq!(got.vector(row), data[row as usize].as_deref(), "row {row}");
    }
    // Once the page index is known, two neighbouring rows are one request
    // for exactly their bytes; kept rows cost nothing.
    let before = store.stats();
    let got = file
        .column_vectors("embedding", DIM, &[1_500, 1_501])
        .await
        .expect("rows");
    let read = store.stats().since(&before);
    assert_eq!(got.vector(1_501), data[1_501].as_deref());
    assert_eq!(read.total_requests(), 1);
    assert_eq!(read.bytes_read, 2 * 4 * DIM as u64);
    let before = store.stats();
    file.column_vectors("embedding", DIM, &[0, 1_500])
        .await
        .expect("kept");
    assert_eq!(store.stats().since(&before).total_requests(), 0);
    assert!(matches!(
        file.column_vectors("embedding", DIM, &[2_500]).await,
        Err(SuperfileError::RowOutOfRange { row: 2_500, .. })
    ));
}

#[tokio::test]
async fn null_vectors_fall_back_to_parquet() {
    let data = rows(2_500, true);
    let (store, path) = stored(&data).await;
    let file = LazySuperfile::open(&store, &path, OpenOptions::default())
        .await
        .expect("open");
    let wanted: Vec<u32> = (0..2_500).step_by(7).collect();
    let got = file
        .column_vectors("embedding", DIM, &wanted)
        .await
        .expect("rows");
    for row in wanted {
        assert_eq!(got.vector(row), data[row as usize].as_deref(), "row {row}");
    }
    assert!(matches!(
        file.column_vectors("embedding", DIM + 1, &[3]).await,
        Err(SuperfileError::Schema { .. })
    ));
}

#[tokio::test]
async fn column_rerank_matches_an_exact_source() {
    let data = rows(20_000, false);
    let (store, path) = stored(&data).await;
    let file = LazySuperfile::open(&store, &path, OpenOptions::default())
        .await
        .expect("open");
    let header = file.vector_header("embedding").await.expect("header");
    let mut rng = StdRng::seed_from_u64(8);
    for _ in 0..5 {
        let q: Vec<f32> = (0..DIM).map(|_| rng.random_range(-1.0..1.0)).collect();
        let opts = SearchOptions::new(10);
        let planned = header.plan(&q, &opts, None).expect("plan");
        let heads = file
            .vector_heads("embedding", &planned)
            .await
            .expect("heads");
        let mut list = header
            .shortlist(&q, &opts, None, heads.as_slice())
            .expect("shortlist");
        let vectors = file
            .column_vectors("embedding", DIM, &list.rows())
            .await
            .expect("rows");
        let got = list.rerank_exact(&vectors).expect("rerank");
        let blocks = file
            .vector_clusters("embedding", &planned)
            .await
            .expect("blocks");
        let want = header
            .search_clusters(&q, &opts, None, blocks.as_slice(), Some(&Flat(&data)))
            .expect("search");
        assert_eq!(got, want);
        assert_eq!(got.len(), 10);
    }
}
