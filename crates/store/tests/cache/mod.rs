//! The disk cache: fills, shared fills, hits, eviction with pinned readers,
//! memory budget, modes, and budgets and cost scopes with a cache (failures,
//! corruption and restarts are in `durability`). Request counts come from
//! the store-wide counter, which sits directly over the backend.

mod durability;

use std::path::{Path as FsPath, PathBuf};

use bytes::Bytes;
use infino_store::{
    Budget, CacheStats, CostScope, Path, PriceTable, RequestKind, Store, StoreError,
};
use infino_testkit::server::{ObjectStoreServer, ServerKind};

fn payload(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn superfile(n: usize) -> Path {
    Path::from(format!("t/data/{n:04}.sf.parquet"))
}

fn memory_uri(test: &str) -> String {
    format!("memory://cache-{test}-{}", std::process::id())
}

fn open(uri: &str, dir: &FsPath, extra: &[(&str, &str)]) -> Store {
    let mut options = vec![("cache_dir".to_owned(), dir.display().to_string())];
    options.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    Store::open_with(uri, options).expect("open cached store")
}

fn stats(store: &Store) -> CacheStats {
    store.cache_stats().expect("cache configured")
}

fn files_with(dir: &FsPath, suffix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read cache dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    found.sort();
    found
}

#[test]
fn cache_options_are_validated() {
    let bad = |options: &[(&str, &str)]| {
        Store::open_with("memory://", options.iter().copied()).expect_err("rejected")
    };
    let err = bad(&[("cache_dir", "/tmp/x"), ("cache_mode", "eager")]);
    assert!(matches!(err, StoreError::InvalidOptionValue { ref key, .. } if key == "cache_mode"));
    let err = bad(&[("cache_mode", "fill")]);
    assert!(err.to_string().contains("cache_dir"), "{err}");
    let err = bad(&[("cache_dir", "/tmp/x"), ("cache_disk_budget", "0")]);
    assert!(
        matches!(err, StoreError::InvalidOptionValue { .. }),
        "{err:?}"
    );
    let err = bad(&[("cache_dir", "/tmp/x"), ("cache_dsk_budget", "10")]);
    assert!(matches!(err, StoreError::UnknownOption { .. }), "{err:?}");
    assert!(
        Store::open("memory://")
            .expect("open")
            .cache_stats()
            .is_none()
    );
}

#[tokio::test]
async fn a_cold_read_fills_and_later_reads_are_local() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&memory_uri("fill"), dir.path(), &[]);
    let data = payload(300_000, 1);
    let path = superfile(1);
    store.put(&path, data.clone()).await.expect("put");
    let mutable = Path::from("t/_latest");
    store.put(&mutable, "v1".into()).await.expect("put");

    let before = store.stats();
    let query = store.scoped();
    assert_eq!(
        query.get_range(&path, 100..200).await.expect("cold"),
        data.slice(100..200)
    );
    store.wait_for_cache_fills().await;
    let cold = store.stats().since(&before);
    // The foreground range, then one whole-object fill.
    assert_eq!(cold.requests(RequestKind::Get), 2);
    assert_eq!(cold.bytes_read, 100 + data.len() as u64);
    assert_eq!(
        (
            query.stats().cache_misses,
            query.stats().requests(RequestKind::Get)
        ),
        (1, 1)
    );
    let s = stats(&store);
    assert_eq!((s.entries, s.fills_started, s.fills_completed), (1, 1, 1));
    assert_eq!(files_with(dir.path(), ".entry").len(), 1);
    assert!(files_with(dir.path(), ".tmp").is_empty());

    let before = store.stats();
    let warm = store.scoped();
    assert_eq!(
        warm.get_range(&path, 5..70_000).await.expect("hit"),
        data.slice(5..70_000)
    );
    assert_eq!(warm.get(&path).await.expect("whole"), data);
    let tail = warm.get_suffix(&path, 10).await.expect("suffix");
    assert_eq!(
        (tail.bytes, tail.object_size),
        (data.slice(data.len() - 10..), data.len() as u64)
    );
    assert_eq!(
        warm.head(&path).await.expect("head").size,
        data.len() as u64
    );
    let parts = warm
        .get_ranges(&path, &[0..3, 200_000..200_010])
        .await
        .expect("ranges");
    assert_eq!(parts[1], data.slice(200_000..200_010));
    let err = warm
        .get_range(&path, 299_990..300_010)
        .await
        .expect_err("past the end");
    assert!(
        matches!(err, StoreError::RangeOutOfBounds { size: 300_000, .. }),
        "{err:?}"
    );
    assert_eq!(
        store.stats().since(&before).total_requests(),
        0,
        "all local"
    );
    assert!(warm.stats().cache_hits >= 6);
    assert_eq!(warm.stats().cache_misses, 0);

    // A cold read of a whole object fills the cache from its own bytes.
    let manifest = Path::from("t/_versions/00000001.manifest");
    let small = payload(5000, 2);
    store.put(&manifest, small.clone()).await.expect("put");
    let before = store.stats();
    assert_eq!(store.get(&manifest).await.expect("cold"), small);
    store.wait_for_cache_fills().await;
    assert_eq!(store.get(&manifest).await.expect("hit"), small);
    assert_eq!(store.stats().since(&before).requests(RequestKind::Get), 1);
    assert_eq!(stats(&store).entries, 2);

    // Mutable keys are never cached.
    let before = store.stats();
    store.get(&mutable).await.expect("get");
    store.get(&mutable).await.expect("get");
    assert_eq!(stats(&store).entries, 2);
    assert_eq!(store.stats().since(&before).requests(RequestKind::Get), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_cold_readers_share_one_fill_and_cost_matches_on_s3() {
    let Some(server) = ObjectStoreServer::start_or_skip(ServerKind::SeaweedFs) else {
        return;
    };
    // Through a proxy that holds every request 100 ms, like slow object
    // storage: requests issued together then overlap however the local
    // cache lookups before them are scheduled, so they are one round trip.
    let proxy = infino_testkit::fault_proxy::FaultProxy::with_latency(
        server.var("INFINO_S3_ENDPOINT").expect("endpoint"),
        std::time::Duration::from_millis(100),
    )
    .await
    .expect("proxy");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = server.options_through(&proxy.endpoint());
    options.push(("cache_dir".to_owned(), dir.path().display().to_string()));
    let store = Store::open_with(&server.uri("shared-fill"), options).expect("open");
    let size = 1 << 20;
    let data = payload(size, 7);
    let path = superfile(16);
    store.put(&path, data.clone()).await.expect("put");

    let before = store.stats();
    let query = store.scoped();
    let reads = (0..16u64).map(|i| query.get_range(&path, i * 4096..i * 4096 + 1000));
    let got = futures::future::try_join_all(reads)
        .await
        .expect("cold reads");
    for (i, bytes) in got.iter().enumerate() {
        assert_eq!(*bytes, data.slice(i * 4096..i * 4096 + 1000));
    }
    store.wait_for_cache_fills().await;
    let seen = store.stats().since(&before);
    let s = stats(&store);
    assert_eq!(
        (s.fills_started, s.fills_completed, s.fills_failed),
        (1, 1, 0)
    );
    assert_eq!(s.fill_bytes, size as u64);
    // 16 ranged GETs and exactly one whole-object GET reached the server.
    assert_eq!(seen.requests(RequestKind::Get), 17);
    assert_eq!(seen.bytes_read, 16 * 1000 + size as u64);
    // The query's report is exactly its share: everything but the fill.
    let cost = query.cost();
    assert_eq!(
        cost.io.requests(RequestKind::Get),
        seen.requests(RequestKind::Get) - 1
    );
    assert_eq!(cost.io.bytes_read, seen.bytes_read - s.fill_bytes);
    assert_eq!(
        cost.io.total_requests(),
        seen.total_requests() - s.fill_requests
    );
    assert_eq!(s.fill_requests, 1);
    assert_eq!((cost.io.cache_misses, cost.io.cache_hits), (16, 0));
    assert_eq!(
        cost.io.round_trips, 1,
        "16 concurrent reads are one round trip"
    );

    let before = store.stats();
    let warm = store.scoped();
    assert_eq!(warm.get(&path).await.expect("hit"), data);
    assert_eq!(store.stats().since(&before).total_requests(), 0);
    assert_eq!(
        (warm.cost().io.cache_hits, warm.cost().estimated_usd),
        (1, 0.0)
    );
}

/// Room for two 100 KB objects (plus trailers), not three.
const TIGHT: (&str, &str) = ("cache_disk_budget", "250000");

#[tokio::test]
async fn eviction_under_a_tight_budget_never_breaks_a_pinned_reader_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&memory_uri("evict"), dir.path(), &[TIGHT]);
    eviction_keeps_reads_exact(&store, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eviction_under_a_tight_budget_never_breaks_a_pinned_reader_s3() {
    let Some(server) = ObjectStoreServer::start_or_skip(ServerKind::SeaweedFs) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = server.options();
    options.push(("cache_dir".to_owned(), dir.path().display().to_string()));
    options.push((TIGHT.0.to_owned(), TIGHT.1.to_owned()));
    let store = Store::open_with(&server.uri("evict"), options).expect("open");
    eviction_keeps_reads_exact(&store, dir.path()).await;
}

async fn eviction_keeps_reads_exact(store: &Store, dir: &FsPath) {
    let objects: Vec<Bytes> = (0..5).map(|i| payload(100_000, i)).collect();
    for (i, data) in objects.iter().enumerate() {
        store.put(&superfile(i), data.clone()).await.expect("put");
    }
    store.get(&superfile(0)).await.expect("cold");
    store.wait_for_cache_fills().await;
    let pinned = store.get(&superfile(0)).await.expect("hit");
    assert_eq!(stats(store).entries, 1);

    for (i, data) in objects.iter().enumerate().skip(1) {
        let before = store.stats();
        assert_eq!(store.get(&superfile(i)).await.expect("cold"), *data);
        store.wait_for_cache_fills().await;
        // One GET: the cold whole read fills the cache from its own bytes.
        assert_eq!(store.stats().since(&before).requests(RequestKind::Get), 1);
        let s = stats(store);
        assert!(s.disk_bytes <= 250_000, "budget kept: {s:?}");
        assert_eq!(files_with(dir, ".entry").len() as u64, s.entries);
    }
    let s = stats(store);
    assert_eq!(s.fills_completed, 5);
    assert!(s.evictions >= 3, "{s:?}");
    // Object 0 is pinned: never evicted under its reader, bytes intact.
    assert_eq!(pinned, objects[0]);
    let before = store.stats();
    assert_eq!(
        store.get(&superfile(0)).await.expect("still cached"),
        objects[0]
    );
    assert_eq!(store.stats().since(&before).total_requests(), 0);

    // Unpinned, it goes like any other; every read stays byte-exact.
    drop(pinned);
    for round in 0..2 {
        for (i, data) in objects.iter().enumerate().rev() {
            assert_eq!(
                store.get(&superfile(i)).await.expect("read"),
                *data,
                "{round}/{i}"
            );
            store.wait_for_cache_fills().await;
        }
    }
    assert!(stats(store).disk_bytes <= 250_000);

    // A mapping outlives its unlinked file: delete the object under a reader.
    let before = store.stats();
    let held = store
        .get_range(&superfile(0), 10..90_000)
        .await
        .expect("hit");
    assert_eq!(
        store.stats().since(&before).total_requests(),
        0,
        "from the cache"
    );
    let files = files_with(dir, ".entry").len();
    store.delete(&superfile(0)).await.expect("delete");
    assert_eq!(files_with(dir, ".entry").len(), files - 1, "unlinked");
    assert_eq!(held, objects[0].slice(10..90_000));
    assert!(matches!(
        store.get(&superfile(0)).await,
        Err(StoreError::NotFound { .. })
    ));
}

#[tokio::test]
async fn memory_budget_advises_out_but_keeps_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(
        &memory_uri("advise"),
        dir.path(),
        &[("cache_memory_budget", "150000")],
    );
    let objects: Vec<Bytes> = (0..3).map(|i| payload(100_000, 40 + i)).collect();
    for (i, data) in objects.iter().enumerate() {
        store.put(&superfile(i), data.clone()).await.expect("put");
        store.get(&superfile(i)).await.expect("cold");
        store.wait_for_cache_fills().await;
    }
    let before = store.stats();
    for _ in 0..3 {
        for (i, data) in objects.iter().enumerate() {
            assert_eq!(store.get(&superfile(i)).await.expect("hit"), *data);
        }
    }
    let s = stats(&store);
    assert_eq!(
        store.stats().since(&before).total_requests(),
        0,
        "files stay on disk"
    );
    assert!(s.advised_out >= 8, "{s:?}");
    assert!(s.resident_bytes <= 150_000, "{s:?}");
    assert_eq!(s.entries, 3);
}

#[tokio::test]
async fn prefetch_and_ranged_modes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let uri = memory_uri("modes");
    let data = payload(80_000, 3);
    let ranged = open(&uri, dir.path(), &[("cache_mode", "ranged")]);
    ranged.put(&superfile(0), data.clone()).await.expect("put");
    ranged.put(&superfile(1), data.clone()).await.expect("put");
    for _ in 0..2 {
        assert_eq!(
            ranged.get_range(&superfile(0), 0..10).await.expect("read"),
            data.slice(0..10)
        );
    }
    ranged.wait_for_cache_fills().await;
    assert_eq!(stats(&ranged).fills_started, 0, "ranged never fills");

    // Prefetch: the first read fetches the whole object, on the query's account.
    let prefetch = open(&uri, dir.path(), &[("cache_mode", "prefetch")]);
    let query = prefetch.scoped();
    assert_eq!(
        query.get_range(&superfile(1), 10..20).await.expect("read"),
        data.slice(10..20)
    );
    let io = query.stats();
    assert_eq!(
        (io.requests(RequestKind::Get), io.bytes_read),
        (1, data.len() as u64)
    );
    assert_eq!(stats(&prefetch).entries, 1);

    // The ranged connection is served by what the other one cached.
    let before = ranged.stats();
    assert_eq!(ranged.get(&superfile(1)).await.expect("hit"), data);
    assert_eq!(ranged.stats().since(&before).total_requests(), 0);
}

#[tokio::test]
async fn cache_hits_are_free_under_a_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&memory_uri("budget"), dir.path(), &[]);
    let data = payload(10_000, 5);
    store.put(&superfile(0), data.clone()).await.expect("put");
    store.put(&superfile(1), data.clone()).await.expect("put");
    store.get(&superfile(0)).await.expect("cold");
    store.wait_for_cache_fills().await;
    let none = Budget {
        max_requests: Some(0),
        max_bytes: Some(0),
    };
    let fills = stats(&store).fills_started;
    let query = store.scoped_with(none, PriceTable::default());
    assert_eq!(query.get(&superfile(0)).await.expect("hit"), data);
    let err = query
        .get(&superfile(1))
        .await
        .expect_err("miss needs a request");
    assert!(matches!(err, StoreError::BudgetExceeded { .. }), "{err:?}");
    assert_eq!(query.stats().total_requests(), 0);
    store.wait_for_cache_fills().await;
    let s = stats(&store);
    assert_eq!(s.fills_started, fills, "a refused read starts no fill");
    assert_eq!(s.entries, 1);
}

#[tokio::test]
async fn task_scopes_see_hits_misses_and_prefetches_but_not_fills() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = payload(40_000, 21);
    let prefetch = open(
        &memory_uri("task-prefetch"),
        dir.path(),
        &[("cache_mode", "prefetch")],
    );
    prefetch
        .put(&superfile(0), data.clone())
        .await
        .expect("put");
    let cold = CostScope::default();
    let got = cold.run(prefetch.get_range(&superfile(0), 0..10)).await;
    assert_eq!(got.expect("read"), data.slice(0..10));
    let io = cold.stats();
    assert_eq!((io.requests(RequestKind::Get), io.bytes_read), (1, 40_000));
    assert_eq!((io.cache_misses, io.cache_hits), (1, 0));
    let warm = CostScope::default();
    assert_eq!(
        warm.run(prefetch.get(&superfile(0))).await.expect("hit"),
        data
    );
    let io = warm.stats();
    assert_eq!((io.total_requests(), io.cache_hits), (0, 1));
    // A hit through the scope's own handle inside its run counts once.
    let both = CostScope::default();
    let handle = both.store(&prefetch);
    assert_eq!(
        both.run(handle.get(&superfile(0))).await.expect("hit"),
        data
    );
    assert_eq!((both.stats().cache_hits, both.stats().cache_misses), (1, 0));

    let dir = tempfile::tempdir().expect("tempdir");
    let fill = open(&memory_uri("task-fill"), dir.path(), &[]);
    fill.put(&superfile(1), data.clone()).await.expect("put");
    let before = fill.stats();
    let scope = CostScope::default();
    let got = scope.run(fill.get_range(&superfile(1), 5..15)).await;
    assert_eq!(got.expect("read"), data.slice(5..15));
    fill.wait_for_cache_fills().await;
    assert_eq!(
        scope.stats().requests(RequestKind::Get),
        1,
        "the fill is not the query's"
    );
    assert_eq!(fill.stats().since(&before).requests(RequestKind::Get), 2);
}
