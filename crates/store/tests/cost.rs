//! Per-query cost: scoped counters equal the store-wide counter exactly,
//! round trips are sequential waves, budgets refuse before sending.

use bytes::Bytes;
use infino_store::{
    Budget, BudgetExceeded, BudgetLimit, CostScope, Path, PriceTable, RequestKind, Store,
    StoreError,
};
use infino_testkit::server::{ObjectStoreServer, ServerKind};
use object_store::ObjectStoreExt;

fn payload(len: usize) -> Bytes {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// A mix of every request kind through a scope; the scope's report must equal
/// what the store-wide counter (directly over the backend) saw, kind by kind.
/// `waves` is the round trips expected: memory answers each request before
/// the next one starts, so its concurrent reads are sequential in time.
async fn scope_equals_counter(root: &Store, waves: u64) {
    let data = payload(64 << 10);
    root.put(&Path::from("cost/a.bin"), data.clone())
        .await
        .expect("seed");
    let before = root.stats();
    let query = root.scoped();
    query
        .put(&Path::from("cost/b.bin"), data.clone())
        .await
        .expect("put");
    let got = query
        .get_range(&Path::from("cost/a.bin"), 10..1000)
        .await
        .expect("range");
    assert_eq!(got, data.slice(10..1000));
    let far = [0..10, 30_000..30_010, 60_000..60_010];
    let parts = query
        .get_ranges(&Path::from("cost/a.bin"), &far)
        .await
        .expect("ranges");
    assert_eq!(parts[2], data.slice(60_000..60_010));
    query.head(&Path::from("cost/b.bin")).await.expect("head");
    query
        .get_suffix(&Path::from("cost/a.bin"), 8)
        .await
        .expect("suffix");
    assert_eq!(
        query
            .list(Some(&Path::from("cost")))
            .await
            .expect("list")
            .len(),
        2
    );
    query
        .delete(&Path::from("cost/b.bin"))
        .await
        .expect("delete");

    let cost = query.cost();
    let seen = root.stats().since(&before);
    for kind in RequestKind::ALL {
        assert_eq!(cost.io.requests(kind), seen.requests(kind), "{kind:?}");
    }
    assert_eq!(cost.io.bytes_read, seen.bytes_read);
    assert_eq!(cost.io.bytes_written, seen.bytes_written);
    assert_eq!(cost.io.requests(RequestKind::Get), 1 + 3 + 1);
    assert_eq!(cost.io.bytes_read, 990 + 30 + 8);
    assert_eq!(cost.io.bytes_written, data.len() as u64);
    assert_eq!(cost.io.round_trips, waves, "{cost}");
    assert_eq!((cost.io.cache_hits, cost.io.cache_misses), (0, 0));
    let prices = PriceTable::default();
    let expected = 5.0 * 0.0004 / 1000.0
        + 0.0004 / 1000.0
        + 0.005 / 1000.0 * 2.0
        + (990.0 + 38.0) / f64::from(1u32 << 30) * 0.09;
    assert!((cost.estimated_usd - expected).abs() < 1e-15, "{cost}");
    assert!((prices.estimate(&cost.io) - cost.estimated_usd).abs() < 1e-18);
}

#[tokio::test]
async fn scoped_cost_equals_store_counter_memory() {
    let uri = format!("memory://cost-{}", std::process::id());
    let root = Store::open_with(&uri, [("coalesce_gap", "1000")]).expect("open");
    // put, range, 3 ranges, head, suffix, list, delete: one after another.
    scope_equals_counter(&root, 9).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoped_cost_equals_store_counter_s3() {
    let Some(server) = ObjectStoreServer::start_or_skip(ServerKind::SeaweedFs) else {
        return;
    };
    let mut options = server.options();
    options.push(("coalesce_gap".to_owned(), "1000".to_owned()));
    let root = Store::open_with(&server.uri("cost"), options).expect("open");
    // put, range, 3 concurrent ranges (one wave), head, suffix, list, delete.
    scope_equals_counter(&root, 7).await;
}

#[tokio::test]
async fn round_trips_are_sequential_waves() {
    let store = Store::open("memory://").expect("open");
    let path = Path::from("x");
    store.put(&path, payload(4096)).await.expect("put");
    let scope = store.scoped();
    for start in [0, 100, 200] {
        scope
            .get_range(&path, start..start + 10)
            .await
            .expect("get");
    }
    assert_eq!(scope.stats().round_trips, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_are_one_round_trip_on_s3() {
    let Some(server) = ObjectStoreServer::start_or_skip(ServerKind::SeaweedFs) else {
        return;
    };
    let store = Store::open_with(&server.uri("waves"), server.options()).expect("open");
    let path = Path::from("x");
    store.put(&path, payload(4096)).await.expect("put");
    let scope = store.scoped();
    let reads = (0..8).map(|i| scope.get_range(&path, i * 500..i * 500 + 10));
    futures::future::try_join_all(reads)
        .await
        .expect("concurrent");
    let io = scope.stats();
    assert_eq!((io.requests(RequestKind::Get), io.round_trips), (8, 1));
    scope.get_range(&path, 0..1).await.expect("after");
    assert_eq!(scope.stats().round_trips, 2);
}

#[tokio::test]
async fn scopes_nest() {
    let root = Store::open("memory://").expect("open");
    root.put(&Path::from("x"), payload(100)).await.expect("put");
    let outer = root.scoped();
    let inner = outer.scoped();
    inner.get(&Path::from("x")).await.expect("get");
    outer.head(&Path::from("x")).await.expect("head");
    assert_eq!(inner.stats().total_requests(), 1);
    assert_eq!(outer.stats().total_requests(), 2);
    assert_eq!(outer.stats().bytes_read, 100);
}

#[tokio::test]
async fn request_budget_refuses_before_sending() {
    let root = Store::open("memory://").expect("open");
    let path = Path::from("x");
    root.put(&path, payload(1000)).await.expect("put");
    let before = root.stats();
    let budget = Budget {
        max_requests: Some(2),
        max_bytes: None,
    };
    let query = root.scoped_with(budget, PriceTable::default());
    query.get_range(&path, 0..10).await.expect("first");
    query.get_range(&path, 10..20).await.expect("second");
    let err = query.get_range(&path, 20..30).await.expect_err("third");
    let StoreError::BudgetExceeded { exceeded, .. } = &err else {
        panic!("expected BudgetExceeded, got {err:?}");
    };
    assert_eq!(
        *exceeded,
        BudgetExceeded {
            limit: BudgetLimit::Requests,
            max: 2,
            would_be: 3
        }
    );
    // Nothing beyond the budget reached the backend: no HEAD to explain it either.
    assert_eq!(root.stats().since(&before).total_requests(), 2);
    assert_eq!(query.stats().total_requests(), 2);
}

#[tokio::test]
async fn byte_budget_refuses_ranges_before_sending_and_whole_reads_before_the_body() {
    let root = Store::open("memory://").expect("open");
    let path = Path::from("x");
    root.put(&path, payload(1000)).await.expect("put");
    let budget = Budget {
        max_requests: None,
        max_bytes: Some(150),
    };
    let query = root.scoped_with(budget, PriceTable::default());
    query.get_range(&path, 0..100).await.expect("fits");
    let before = root.stats();
    let err = query.get_range(&path, 100..200).await.expect_err("over");
    assert!(
        matches!(
            err,
            StoreError::BudgetExceeded {
                exceeded: BudgetExceeded {
                    limit: BudgetLimit::Bytes,
                    max: 150,
                    would_be: 200
                },
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(root.stats().since(&before).total_requests(), 0, "not sent");

    // A whole-object read's length is known only from the reply.
    let fresh = root.scoped_with(budget, PriceTable::default());
    let err = fresh.get(&path).await.expect_err("too big");
    assert!(matches!(err, StoreError::BudgetExceeded { .. }), "{err:?}");

    // Through the raw object_store view the refusal is findable in the chain.
    let raw = query.object_store();
    let err = raw.get_range(&path, 300..400).await.expect_err("over");
    let found = BudgetExceeded::find(&err).expect("typed refusal in the chain");
    assert_eq!(found.limit, BudgetLimit::Bytes);
}

/// Every kind of request made through the root handle inside a
/// [`CostScope`] is charged to it, exactly as the store-wide counter saw.
async fn task_scope_equals_counter(root: &Store) {
    let data = payload(20_000);
    let path = Path::from("task/a.bin");
    root.put(&path, data.clone()).await.expect("seed");
    let before = root.stats();
    let scope = CostScope::default();
    scope
        .run(async {
            root.put(&Path::from("task/b.bin"), data.clone())
                .await
                .expect("put");
            assert_eq!(
                root.get_range(&path, 0..10).await.expect("get"),
                data.slice(0..10)
            );
            root.head(&path).await.expect("head");
            root.list(Some(&Path::from("task"))).await.expect("list");
            let raw = root.object_store();
            raw.get_range(&path, 100..200).await.expect("raw get");
            root.delete(&Path::from("task/b.bin"))
                .await
                .expect("delete");
        })
        .await;
    let cost = scope.cost();
    let seen = root.stats().since(&before);
    for kind in RequestKind::ALL {
        assert_eq!(cost.io.requests(kind), seen.requests(kind), "{kind:?}");
    }
    assert_eq!(
        (cost.io.bytes_read, cost.io.bytes_written),
        (seen.bytes_read, seen.bytes_written)
    );
    assert_eq!(cost.io.total_requests(), 6);
    assert_eq!(cost.io.bytes_read, 110);
    assert!(cost.estimated_usd > 0.0);
}

#[tokio::test]
async fn task_scope_equals_store_counter_memory() {
    let root = Store::open("memory://").expect("open");
    task_scope_equals_counter(&root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_scope_equals_store_counter_s3() {
    let Some(server) = ObjectStoreServer::start_or_skip(ServerKind::SeaweedFs) else {
        return;
    };
    let root = Store::open_with(&server.uri("task-scope"), server.options()).expect("open");
    task_scope_equals_counter(&root).await;
}

#[tokio::test]
async fn task_scopes_attribute_interleaved_futures_nest_and_budget() {
    let root = Store::open("memory://").expect("open");
    let path = Path::from("x");
    root.put(&path, payload(1000)).await.expect("put");
    let reads = |n: u64| {
        let root = root.clone();
        let path = path.clone();
        async move {
            for i in 0..n {
                root.get_range(&path, i..i + 1).await.expect("get");
                tokio::task::yield_now().await;
            }
        }
    };
    // Two queries interleaved on one task are told apart.
    let (a, b) = (CostScope::default(), CostScope::default());
    tokio::join!(a.run(reads(3)), b.run(reads(5)));
    assert_eq!(a.stats().requests(RequestKind::Get), 3);
    assert_eq!(b.stats().requests(RequestKind::Get), 5);

    // An inner scope's requests are charged to the outer one too.
    let (outer, inner) = (CostScope::default(), CostScope::default());
    outer
        .run(async {
            reads(1).await;
            inner.run(reads(2)).await;
        })
        .await;
    assert_eq!(inner.stats().requests(RequestKind::Get), 2);
    assert_eq!(outer.stats().requests(RequestKind::Get), 3);

    // Work spawned onto another task is not the scope's (documented).
    let scope = CostScope::default();
    scope
        .run(async { tokio::spawn(reads(2)).await.expect("spawned") })
        .await;
    assert_eq!(scope.stats().total_requests(), 0);

    // A budget refuses before sending.
    let one = Budget {
        max_requests: Some(1),
        max_bytes: None,
    };
    let scope = CostScope::new(one, PriceTable::default());
    let before = root.stats();
    let outcome = scope
        .run(async {
            root.get_range(&path, 0..1).await.expect("first");
            root.get_range(&path, 1..2).await
        })
        .await;
    assert!(
        matches!(outcome, Err(StoreError::BudgetExceeded { .. })),
        "{outcome:?}"
    );
    assert_eq!(root.stats().since(&before).total_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_scope_handles_count_spawned_work_once() {
    let root = Store::open("memory://").expect("open");
    let path = Path::from("x");
    root.put(&path, payload(1000)).await.expect("put");
    let read = |store: &Store, start: u64| {
        let (store, path) = (store.clone(), path.clone());
        async move {
            store
                .get_range(&path, start..start + 10)
                .await
                .map(|b| b.len())
        }
    };
    let before = root.stats();
    let scope = CostScope::default();
    let handle = scope.store(&root);
    scope
        .run(async {
            // Through the handle on the query's task: charged once, not twice.
            read(&handle, 0).await.expect("handle");
            // Through the handle on a spawned task (DataFusion's partitions).
            tokio::spawn(read(&handle, 10))
                .await
                .expect("join")
                .expect("spawned");
            // Through another handle on the query's task (a table's store).
            read(&root, 20).await.expect("root");
            // Spawned through another handle: not the scope's, unless carried.
            tokio::spawn(read(&root, 30))
                .await
                .expect("join")
                .expect("lost");
            tokio::spawn(CostScope::carry(read(&root, 40)))
                .await
                .expect("join")
                .expect("carried");
        })
        .await;
    assert_eq!(root.stats().since(&before).requests(RequestKind::Get), 5);
    let io = scope.stats();
    assert_eq!((io.requests(RequestKind::Get), io.bytes_read), (4, 40));
    assert_eq!(handle.stats(), io, "the handle reports the scope");

    // The scope's budget holds once, whichever way the request comes.
    let two = Budget {
        max_requests: Some(2),
        max_bytes: None,
    };
    let scope = CostScope::new(two, PriceTable::default());
    let handle = scope.store(&root);
    let outcome = scope
        .run(async {
            read(&handle, 0).await?;
            tokio::spawn(read(&handle, 10)).await.expect("join")?;
            read(&root, 20).await
        })
        .await;
    assert!(
        matches!(outcome, Err(StoreError::BudgetExceeded { .. })),
        "{outcome:?}"
    );
    assert_eq!(scope.stats().total_requests(), 2);
}
