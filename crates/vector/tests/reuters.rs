//! Recall@10 on real 384-d sentence embeddings (Reuters-21578), cosine,
//! against the dataset's exact top-100 lists.

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float32Type, Int32Type, Int64Type};
use bytes::Bytes;
use infino_vector::{BuildParams, Metric, SearchOptions, VectorIndex, VectorIndexBuilder};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn dataset() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/reuters");
    dir.join("docs.parquet").exists().then_some(dir)
}

/// `(id, embedding)` per row of a Parquet file with columns `id_column`
/// and `embedding`.
fn read(path: PathBuf, id_column: &str) -> Vec<(i64, Vec<f32>)> {
    let file = File::open(path).expect("open parquet");
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("parquet")
        .build()
        .expect("reader");
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.expect("batch");
        let ids = batch.column_by_name(id_column).expect("id column");
        let ids: Vec<i64> = if let Some(a) = ids.as_primitive_opt::<Int64Type>() {
            a.values().to_vec()
        } else {
            ids.as_primitive::<Int32Type>()
                .values()
                .iter()
                .map(|&v| i64::from(v))
                .collect()
        };
        let emb = batch.column_by_name("embedding").expect("embedding column");
        let emb = emb.as_fixed_size_list();
        let values = emb.values().as_primitive::<Float32Type>();
        let dim = emb.value_length() as usize;
        for (i, id) in ids.into_iter().enumerate() {
            let off = (emb.offset() + i) * dim;
            out.push((id, values.values()[off..off + dim].to_vec()));
        }
    }
    out
}

#[test]
fn reuters_recall_at_10() {
    let Some(dir) = dataset() else {
        println!("skip: reuters dataset not found beside the repository");
        return;
    };
    let docs = read(dir.join("docs.parquet"), "id");
    let queries = read(dir.join("queries.parquet"), "qid");
    let dim = docs[0].1.len();
    assert_eq!(dim, 384);
    let tsv = std::fs::read_to_string(dir.join("knn.tsv")).expect("knn.tsv");
    let mut truth: HashMap<i64, Vec<(usize, i64)>> = HashMap::new();
    for line in tsv.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let (qid, rank, doc) = (
            f[0].parse().expect("qid"),
            f[1].parse().expect("rank"),
            f[2].parse().expect("doc"),
        );
        truth.entry(qid).or_default().push((rank, doc));
    }

    // Local rows are positions; map doc ids to them.
    let row_of: HashMap<i64, u32> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| (d.0, i as u32))
        .collect();
    let start = std::time::Instant::now();
    let mut b =
        VectorIndexBuilder::new(dim, Metric::Cosine, BuildParams::default()).expect("builder");
    for (i, (_, v)) in docs.iter().enumerate() {
        b.add(i as u32, v).expect("add");
    }
    let region = b.finish().expect("finish");
    let built = start.elapsed();
    let index = VectorIndex::open(Bytes::from(region)).expect("open");

    let opts = SearchOptions::new(10);
    let start = std::time::Instant::now();
    let (mut total, mut counted) = (0.0, 0);
    for (qid, q) in &queries {
        let Some(t) = truth.get_mut(qid) else {
            continue;
        };
        t.sort_unstable();
        let want: Vec<u32> = t.iter().take(10).map(|(_, d)| row_of[d]).collect();
        let got = index.search(q, &opts).expect("search");
        total += crate::common::recall(&got, &want);
        counted += 1;
    }
    let searched = start.elapsed();
    let r = total / f64::from(counted);
    println!(
        "reuters: {} docs, lists {}, build {built:?}, {counted} queries in {searched:?}, recall@10 {r:.4}",
        docs.len(),
        index.lists()
    );
    assert!(counted > 100);
    assert!(r >= 0.95, "reuters recall@10 {r}");
}
