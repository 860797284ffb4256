//! Recall@10 against exact kNN on clustered synthetic data, default options.

use infino_vector::{BuildParams, Metric, Rerank, SearchOptions};

use crate::common::{blobs, build, exact_knn, queries, recall};

fn check(metric: Metric, rerank: Rerank, min_recall: f64) {
    let (n, dim) = (20_000, 128);
    let data = blobs(n, dim, 100, 1);
    let params = BuildParams {
        rerank,
        ..BuildParams::default()
    };
    let index = build(&data, dim, metric, params);
    let qs = queries(&data, dim, 100, 2);
    let opts = SearchOptions::new(10);
    let mut total = 0.0;
    for q in &qs {
        let got = index.search(q, &opts).expect("search");
        assert_eq!(got.len(), 10);
        assert!(
            got.windows(2).all(|w| w[0].1 <= w[1].1),
            "sorted best first"
        );
        total += recall(&got, &exact_knn(&data, dim, metric, q, 10, |_| true));
    }
    let r = total / qs.len() as f64;
    println!("recall@10 {metric:?} {rerank:?}: {r:.4}");
    assert!(
        r >= min_recall,
        "{metric:?} {rerank:?}: recall {r} < {min_recall}"
    );
}

#[test]
fn l2_default() {
    check(Metric::L2, Rerank::Sq8, 0.95);
}

#[test]
fn cosine_default() {
    check(Metric::Cosine, Rerank::Sq8, 0.95);
}

#[test]
fn inner_product_default() {
    check(Metric::InnerProduct, Rerank::Sq8, 0.95);
}

#[test]
fn l2_f32_rerank() {
    check(Metric::L2, Rerank::F32, 0.95);
}

#[test]
fn l2_no_rerank_payload() {
    // Ordered by the 1-bit estimate alone: lower but still useful.
    check(Metric::L2, Rerank::None, 0.5);
}
