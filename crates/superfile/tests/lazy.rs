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

#[tokio::test]
async fn per_query_reads_fetch_only_the_query_lists() {
    use infino_fts::{Bm25Params, Query};
    let rows = generated_docs(8_000, 11);
    let bytes = build(&rows, &small_groups());
    let eager = Superfile::open(bytes.clone(), OpenOptions::default()).expect("eager");
    let whole = eager.fts("body").expect("eager index");
    let store = Store::open("memory://").expect("store");
    let path = Path::from("t/data/q.sf.parquet");
    store.put(&path, bytes).await.expect("put");
    let lazy = LazySuperfile::open(&store, &path, OpenOptions::default())
        .await
        .expect("lazy open");
    let region_len = lazy.directory().regions[0].length;
    // Larger than the first read, so the lookup prefix is read alone.
    assert!(
        region_len > infino_superfile::PREFIX_READ_BYTES,
        "{region_len}"
    );

    let before = store.stats();
    let lookup = lazy.fts_lookup("body").await.expect("lookup prefix");
    let _again = lazy.fts_lookup("body").await.expect("cached");
    let cost = store.stats().since(&before);
    assert!(cost.requests(RequestKind::Get) <= 2, "{cost}");
    assert!(!lookup.is_whole());
    assert!(cost.bytes_read < region_len, "{cost} of {region_len}");

    let words: Vec<String> = whole.analyzer().terms(rows[0].2.as_deref().expect("body"));
    let queries = [
        words[0].clone(),
        format!("{} {}", words[0], words[1]),
        format!("\"{} {}\"", words[0], words[1]),
        format!("{}* -{}", &words[1][..1], words[0]),
    ];
    for input in &queries {
        let query = Query::parse(input).expect("parse");
        let before = store.stats();
        let index = lazy
            .fts_for_query("body", &query, false)
            .await
            .expect("lists");
        let cost = store.stats().since(&before);
        // Only the terms' lists (plus gaps the store coalesces across),
        // never the whole region.
        assert!(cost.bytes_read < region_len, "{input}: {cost}");
        let terms = query.scoring_terms(whole).expect("terms");
        let stats = whole
            .local_stats(terms.iter().map(|(t, _)| t.as_str()))
            .expect("stats");
        let params = Bm25Params::default();
        assert_eq!(
            query.top_k(&index, 10, params, &stats, None).expect("lazy"),
            query.top_k(whole, 10, params, &stats, None).expect("eager"),
            "{input}"
        );
        assert_eq!(
            query.count(&index).expect("lazy"),
            query.count(whole).expect("eager")
        );
    }
}

#[tokio::test]
async fn a_kept_page_index_lets_row_fetches_read_single_pages() {
    let rows = generated_docs(3_000, 4);
    let bytes = build(&rows, &small_groups());
    let eager = Superfile::open(bytes.clone(), OpenOptions::default()).expect("eager");
    let store = Store::open("memory://").expect("store");
    let path = Path::from("t/data/p.sf.parquet");
    store.put(&path, bytes.clone()).await.expect("put");
    let lazy = LazySuperfile::open(&store, &path, OpenOptions::default())
        .await
        .expect("lazy open");
    // The suffix read reached back past the page index, so it was kept.
    let tail = lazy.footer_tail().clone();
    let footer_only = {
        let n = tail.len();
        let footer = u32::from_le_bytes([tail[n - 8], tail[n - 7], tail[n - 6], tail[n - 5]]);
        tail.slice(n - footer as usize - 8..)
    };
    assert!(tail.len() > footer_only.len(), "page index kept");
    assert_eq!(
        tail.len() as u64,
        lazy.size() - lazy.directory().regions_end()
    );
    let without = LazySuperfile::from_footer(
        &store,
        &path,
        lazy.size(),
        footer_only,
        OpenOptions::default(),
    )
    .expect("footer only");

    let wanted = [1_550u32];
    let mut fetched = Vec::new();
    for file in [&lazy, &without] {
        let before = store.stats();
        let batch = file
            .fetch_rows(&wanted, Some(&["body"]))
            .await
            .expect("fetch");
        fetched.push((batch, store.stats().since(&before).bytes_read));
    }
    let [(paged, paged_bytes), (chunked, chunk_bytes)] = <[_; 2]>::try_from(fetched).expect("two");
    let expected = eager
        .fetch_rows(&wanted, Some(&["body"]))
        .expect("eager rows");
    assert_eq!(paged, expected);
    assert_eq!(chunked, expected);
    // One page of 100 rows instead of the row group's whole chunk of 1,000.
    assert!(
        paged_bytes * 4 < chunk_bytes,
        "page {paged_bytes} B vs chunk {chunk_bytes} B"
    );

    // A damaged page index in a kept tail is refused, never used.
    let mut bad = tail.to_vec();
    bad[0] ^= 0xff;
    assert!(
        LazySuperfile::from_footer(
            &store,
            &path,
            lazy.size(),
            bad.into(),
            OpenOptions::default()
        )
        .is_err()
    );
}

#[tokio::test]
async fn a_row_fetch_of_a_unique_column_reads_no_whole_dictionary() {
    // Default pages and row groups: 20,000 unique ids and titles in one
    // row group. A dictionary would hold every value of the group.
    let rows = generated_docs(20_000, 5);
    let bytes = build(&rows, &infino_superfile::WriterOptions::default());
    let eager = Superfile::open(bytes.clone(), OpenOptions::default()).expect("eager");
    let store = Store::open("memory://").expect("store");
    let path = Path::from("t/data/u.sf.parquet");
    store.put(&path, bytes).await.expect("put");
    let lazy = LazySuperfile::open(&store, &path, OpenOptions::default())
        .await
        .expect("lazy open");
    let wanted = [12_345u32];
    for column in ["id", "title"] {
        let before = store.stats();
        let batch = lazy
            .fetch_rows(&wanted, Some(&[column]))
            .await
            .expect("fetch");
        let read = store.stats().since(&before).bytes_read;
        assert_eq!(
            batch,
            eager.fetch_rows(&wanted, Some(&[column])).expect("eager")
        );
        // A 4,096-row page plus a dictionary page capped at 16 KiB; the
        // values of the whole group are 160 KB (ids) and 500 KB (titles).
        assert!(read < 64 * 1024, "{column}: {read} B for one row");
    }
}
