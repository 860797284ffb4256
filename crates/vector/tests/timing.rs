//! A larger measured run, ignored by default (run it in release:
//! `cargo test --release -p infino-vector --test tests -- --ignored --nocapture`).

use std::time::Instant;

use infino_vector::{BuildParams, Metric, SearchOptions};

use crate::common::{blobs, build, exact_knn, queries, recall};

#[test]
#[ignore = "large: a release-build measurement"]
fn synthetic_100k_384() {
    let (n, dim) = (100_000, 384);
    let data = blobs(n, dim, 300, 41);
    for metric in [Metric::L2, Metric::Cosine] {
        let start = Instant::now();
        let index = build(&data, dim, metric, BuildParams::default());
        let built = start.elapsed();
        let qs = queries(&data, dim, 100, 42);
        let opts = SearchOptions::new(10);
        let start = Instant::now();
        let results: Vec<_> = qs
            .iter()
            .map(|q| index.search(q, &opts).expect("search"))
            .collect();
        let per_query = start.elapsed() / qs.len() as u32;
        let r: f64 = qs
            .iter()
            .zip(&results)
            .map(|(q, got)| recall(got, &exact_knn(&data, dim, metric, q, 10, |_| true)))
            .sum::<f64>()
            / qs.len() as f64;
        println!(
            "100k×384 {metric:?}: lists {}, build {built:?}, {per_query:?}/query, recall@10 {r:.4}",
            index.lists()
        );
        assert!(r >= 0.95, "recall {r}");
    }
}
