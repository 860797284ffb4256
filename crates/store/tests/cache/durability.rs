//! What survives and what does not: failed and killed fills, corrupt and
//! truncated cache files, restarts, and a directory another process holds.

use std::path::Path as FsPath;
use std::time::Duration;

use bytes::Bytes;
use hyper::Method;
use infino_store::{RequestKind, Store, StoreError};
use infino_testkit::fault_proxy::{Fault, FaultProxy, Rule};
use infino_testkit::server::{ObjectStoreServer, ServerKind};

use super::{files_with, memory_uri, open, payload, stats, superfile};

#[tokio::test]
async fn corrupt_or_truncated_cache_files_are_refetched_never_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let uri = memory_uri("corrupt");
    let data = payload(200_000, 9);
    let path = superfile(3);
    {
        let store = open(&uri, dir.path(), &[]);
        store.put(&path, data.clone()).await.expect("put");
        store.get_range(&path, 0..10).await.expect("cold");
        store.wait_for_cache_fills().await;
        // Flip one byte in the middle of the object bytes, before first use.
        let file = files_with(dir.path(), ".entry").pop().expect("cache file");
        let mut bytes = std::fs::read(&file).expect("read");
        bytes[123_456] ^= 0x40;
        std::fs::write(&file, bytes).expect("write");

        let before = store.stats();
        assert_eq!(
            store.get(&path).await.expect("read"),
            data,
            "never the flipped byte"
        );
        assert_eq!(
            store.stats().since(&before).requests(RequestKind::Get),
            1,
            "refetched"
        );
        assert_eq!(stats(&store).corrupt_dropped, 1);
        store.wait_for_cache_fills().await;
        assert_eq!(stats(&store).entries, 1, "filled again");
    }
    // Truncate the refilled file while no store has it open, then restart.
    let file = files_with(dir.path(), ".entry").pop().expect("cache file");
    let len = std::fs::metadata(&file).expect("meta").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .expect("open")
        .set_len(len - 1000)
        .expect("truncate");
    let store = open(&uri, dir.path(), &[]);
    assert_eq!(stats(&store).restored, 0);
    assert!(
        files_with(dir.path(), ".entry").is_empty(),
        "dropped at open"
    );
    let before = store.stats();
    assert_eq!(store.get(&path).await.expect("read"), data);
    assert_eq!(store.stats().since(&before).requests(RequestKind::Get), 1);
}

#[tokio::test]
async fn restart_keeps_intact_entries_and_cleans_leftovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let uri = memory_uri("restart");
    let objects: Vec<Bytes> = (0..2).map(|i| payload(50_000, 60 + i)).collect();
    {
        let store = open(&uri, dir.path(), &[]);
        for (i, data) in objects.iter().enumerate() {
            store.put(&superfile(i), data.clone()).await.expect("put");
            store.get_range(&superfile(i), 0..1).await.expect("cold");
        }
        store.wait_for_cache_fills().await;
        assert_eq!(stats(&store).entries, 2);
        // A second store on the same directory in this process shares the cache.
        let again = open(&uri, dir.path(), &[]);
        assert_eq!(stats(&again).entries, 2);
    }
    // What a crash mid-fill leaves, and a file that is not ours.
    std::fs::write(dir.path().join("0123.tmp"), b"half a fill").expect("tmp");
    std::fs::write(dir.path().join("4567.entry"), b"no trailer at all").expect("junk");

    let store = open(&uri, dir.path(), &[]);
    let s = stats(&store);
    assert_eq!((s.restored, s.entries), (2, 2));
    assert!(files_with(dir.path(), ".tmp").is_empty());
    assert_eq!(files_with(dir.path(), ".entry").len(), 2);
    let before = store.stats();
    for (i, data) in objects.iter().enumerate() {
        assert_eq!(store.get(&superfile(i)).await.expect("hit"), *data);
    }
    assert_eq!(
        store.stats().since(&before).total_requests(),
        0,
        "served from disk"
    );
}

/// A store over S3 through `proxy`, with a disk cache in `dir`.
fn through_proxy(server: &ObjectStoreServer, proxy: &FaultProxy, dir: &FsPath) -> Store {
    let mut options = server.options_through(&proxy.endpoint());
    options.extend(
        [
            ("max_retries", "1"),
            ("backoff_initial_ms", "10"),
            ("backoff_max_ms", "20"),
            ("cache_dir", &dir.display().to_string()),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    Store::open_with(&server.uri("failed-fills"), options).expect("open")
}

/// Fills are the only GETs carrying `If-Match` (the ETag the first read saw).
fn fill_fault(times: usize, fault: Fault) -> Rule {
    Rule {
        method: Some(Method::GET),
        header: Some("if-match"),
        times,
        fault,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_and_killed_fills_leave_nothing_that_is_served_on_s3() {
    let Some(server) = ObjectStoreServer::start_or_skip(ServerKind::SeaweedFs) else {
        return;
    };
    let endpoint = server
        .var("INFINO_S3_ENDPOINT")
        .expect("endpoint")
        .to_owned();
    let proxy = FaultProxy::start(&endpoint).await.expect("proxy");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = payload(500_000, 11);
    let path = superfile(9);
    {
        let store = through_proxy(&server, &proxy, dir.path());
        store.put(&path, data.clone()).await.expect("put");

        // The fill's connection drops (every retry too).
        proxy.add_rule(fill_fault(10, Fault::DropAfterForward));
        assert_eq!(
            store.get_range(&path, 0..100).await.expect("cold"),
            data.slice(0..100)
        );
        store.wait_for_cache_fills().await;
        let s = stats(&store);
        assert_eq!((s.fills_failed, s.entries), (1, 0), "{s:?}");
        assert!(files_with(dir.path(), ".tmp").is_empty());
        assert!(files_with(dir.path(), ".entry").is_empty());
        proxy.clear_rules();

        // The fill's reply is cut short: a truncated body is never published.
        proxy.add_rule(fill_fault(10, Fault::ShortBody(4096)));
        let got = store.get_range(&path, 1000..2000).await.expect("miss");
        assert_eq!(got, data.slice(1000..2000));
        store.wait_for_cache_fills().await;
        let s = stats(&store);
        assert_eq!((s.fills_failed, s.entries), (2, 0), "{s:?}");
        assert!(files_with(dir.path(), ".tmp").is_empty());
        proxy.clear_rules();
    }

    // A fill killed mid-flight: its runtime is shut down while the reply is held.
    proxy.add_rule(fill_fault(1, Fault::Delay(Duration::from_secs(5))));
    let (srv, prx, cache_dir, p) = (&server, &proxy, dir.path().to_owned(), path.clone());
    let store = through_proxy(srv, prx, &cache_dir);
    tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            store.get_range(&p, 0..100).await.expect("cold");
            tokio::time::sleep(Duration::from_millis(300)).await;
        });
        runtime.shutdown_timeout(Duration::ZERO);
    })
    .await
    .expect("killed runtime");
    proxy.clear_rules();

    let store = through_proxy(&server, &proxy, dir.path());
    let s = stats(&store);
    assert_eq!((s.entries, s.restored), (0, 0), "{s:?}");
    assert!(files_with(dir.path(), ".tmp").is_empty());
    let before = store.stats();
    let got = store.get_range(&path, 0..100).await.expect("miss");
    assert_eq!(got, data.slice(0..100));
    store.wait_for_cache_fills().await;
    assert_eq!(store.stats().since(&before).requests(RequestKind::Get), 2);
    let before = store.stats();
    assert_eq!(store.get(&path).await.expect("hit"), data);
    assert_eq!(store.stats().since(&before).total_requests(), 0);
}

#[test]
fn a_cache_directory_locked_by_another_process_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    // An exclusive flock on the lock file from another open file description
    // is exactly what a second process holding the directory looks like.
    let other = std::fs::File::create(dir.path().join(".lock")).expect("lock file");
    other.try_lock().expect("lock as the other process");
    let options = [("cache_dir", dir.path().to_str().expect("utf8"))];
    let err = Store::open_with("memory://", options).expect_err("in use");
    assert!(matches!(err, StoreError::CacheDirInUse { .. }), "{err:?}");
    drop(other);
    let store = Store::open_with("memory://", options).expect("free again");
    assert_eq!(stats(&store).entries, 0);
}
