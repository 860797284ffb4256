//! Lazy reads over a store: the footer in one request, regions on demand.

use infino_store::{Path, RequestKind, Store};
use infino_superfile::{LazySuperfile, OpenOptions, Superfile};

use crate::common::{build, generated_docs, small_groups};

#[tokio::test]
async fn lazy_open_costs_one_request_and_matches_eager() {
    let rows = generated_docs(3_000, 9);
    let bytes = build(&rows, &small_groups());
    let eager = Superfile::open(bytes.clone(), OpenOptions::default()).expect("eager");
    let store = Store::open("memory://").expect("store");
    let path = Path::from("t/data/a.sf.parquet");
    store.put(&path, bytes.clone()).await.expect("put");

    let before = store.stats();
    let lazy = LazySuperfile::open(&store, &path, OpenOptions::default())
        .await
        .expect("lazy open");
    let open_cost = store.stats().since(&before);
    assert_eq!(
        open_cost.total_requests(),
        1,
        "one suffix read: {open_cost}"
    );
    assert_eq!(lazy.directory(), eager.directory());

    let before = store.stats();
    let index = lazy.fts("body").await.expect("region");
    let _again = lazy.fts("body").await.expect("cached");
    let cost = store.stats().since(&before);
    assert_eq!(
        cost.requests(RequestKind::Get),
        1,
        "region fetched once: {cost}"
    );
    assert_eq!(
        index.doc_count(),
        eager.fts("body").expect("eager index").doc_count()
    );

    let wanted = [5u32, 2_999, 1_500];
    let from_lazy = lazy
        .fetch_rows(&wanted, Some(&["_id", "body"]))
        .await
        .expect("lazy rows");
    let from_eager = eager
        .fetch_rows(&wanted, Some(&["_id", "body"]))
        .expect("eager rows");
    assert_eq!(from_lazy, from_eager);

    // Reopen from the kept footer: no request at all.
    let before = store.stats();
    let reopened = LazySuperfile::from_footer(
        &store,
        &path,
        lazy.size(),
        lazy.footer_tail().clone(),
        OpenOptions::default(),
    )
    .expect("from footer");
    assert_eq!(store.stats().since(&before).total_requests(), 0);
    assert_eq!(reopened.rows(), 3_000);
}
