//! The storage conformance suite on every backend we can run here, plus
//! checks that only make sense for one backend.
//!
//! GCS has no working emulator from the package registries, so it is covered
//! through the same code paths on memory; `gs://` URIs are only parsed here.

#![expect(clippy::cast_possible_truncation, reason = "test sizes are small")]

mod cache;
mod conformance;
mod cost;
mod local_processes;
mod lost_replies;

use std::sync::Arc;

use conformance::Opener;
use infino_store::{BackendKind, Path, Store, StoreError};
use infino_testkit::server::{ObjectStoreServer, ServerKind};

const MULTIPART: [(&str, &str); 2] = [
    ("multipart_threshold", "6291456"),
    ("multipart_part_size", "5242880"),
];

fn opener(uri: String, mut options: Vec<(String, String)>) -> Opener {
    options.extend(
        MULTIPART
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    Arc::new(move || Store::open_with(&uri, options.clone()).expect("open store"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_memory() {
    let name = format!("memory://conformance-{}", std::process::id());
    conformance::run_all(opener(name, vec![]), 30).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_local_filesystem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let uri = dir.path().to_str().expect("utf8 path").to_owned();
    conformance::run_all(opener(uri, vec![]), 30).await;
    // The lock directory never shows up as data.
    let store = Store::open(dir.path().to_str().expect("utf8")).expect("open");
    let all = store.list(None).await.expect("list");
    assert!(
        all.iter().all(|i| !i.path.as_ref().starts_with(".infino")),
        "lock files are hidden"
    );
}

/// Immutable objects of a local store are read from memory mappings; a
/// mapping never serves bytes the file no longer holds.
#[tokio::test]
async fn local_mapped_reads_follow_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().to_str().expect("utf8")).expect("open");
    let path = Path::from("t/data/a.sf.parquet");
    let first: Vec<u8> = (0..4096_u32).map(|i| (i % 251) as u8).collect();
    store.put(&path, first.clone().into()).await.expect("put");
    assert_eq!(
        store.get_range(&path, 10..20).await.expect("range"),
        first[10..20]
    );
    // The version a read reports is the one HEAD reports (conditional
    // writes compare them).
    let (_, version) = store.get_versioned(&path).await.expect("get");
    assert_eq!(version, store.head(&path).await.expect("head").version);

    // Replaced behind the store's back (another process, by rename): the
    // next read sees the new file, not the old mapping.
    // Same length, other bytes: only the file's identity tells them apart.
    let second: Vec<u8> = (0..4096_u32).map(|i| (i % 13) as u8).collect();
    let on_disk = dir.path().join("t/data/a.sf.parquet");
    let staged = dir.path().join("t/data/staged");
    std::fs::write(&staged, &second).expect("write");
    std::fs::rename(&staged, &on_disk).expect("rename");
    assert_ne!(first[100..110], second[100..110]);
    assert_eq!(
        store.get_range(&path, 100..110).await.expect("range"),
        second[100..110]
    );
    assert_eq!(store.get(&path).await.expect("get"), second);

    // Deleted through the store, or behind it: typed not-found.
    store.delete(&path).await.expect("delete");
    assert!(matches!(
        store.get_range(&path, 0..4).await,
        Err(StoreError::NotFound { .. })
    ));
    let other = Path::from("t/data/b.sf.parquet");
    store.put(&other, first.clone().into()).await.expect("put");
    store.get_range(&other, 0..4).await.expect("mapped");
    std::fs::remove_file(dir.path().join("t/data/b.sf.parquet")).expect("rm");
    assert!(matches!(
        store.get_range(&other, 0..4).await,
        Err(StoreError::NotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_s3_seaweedfs() {
    let Some(server) = ObjectStoreServer::start_or_skip(ServerKind::SeaweedFs) else {
        return;
    };
    conformance::run_all(opener(server.uri("conformance"), server.options()), 30).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_azure_azurite() {
    let Some(server) = ObjectStoreServer::start_or_skip(ServerKind::Azurite) else {
        return;
    };
    let open = opener(server.uri("conformance"), server.options());
    assert_eq!(open().kind(), BackendKind::Azure);
    conformance::run_all(open, 30).await;
}

#[tokio::test]
async fn prefixes_isolate_stores() {
    let a = Store::open("memory://prefix-iso/a").expect("a");
    let b = Store::open("memory://prefix-iso/b").expect("b");
    let root = Store::open("memory://prefix-iso").expect("root");
    a.put(&Path::from("x"), "in a".into()).await.expect("put");
    assert!(matches!(
        b.get(&Path::from("x")).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(root.get(&Path::from("a/x")).await.expect("get"), "in a");
    assert_eq!(a.list(None).await.expect("list")[0].path.as_ref(), "x");
}

#[tokio::test]
async fn unreachable_endpoint_is_typed() {
    // Port 9 (discard) on loopback: nothing listens; retries are cut short.
    let store = Store::open_with(
        "s3://bucket/p",
        [
            ("aws_endpoint", "http://127.0.0.1:9"),
            ("aws_allow_http", "true"),
            ("aws_region", "us-east-1"),
            ("aws_access_key_id", "k"),
            ("aws_secret_access_key", "s"),
            ("max_retries", "1"),
            ("retry_timeout_ms", "500"),
            ("backoff_initial_ms", "10"),
        ],
    )
    .expect("open does no I/O");
    let err = store
        .get(&Path::from("x"))
        .await
        .expect_err("nothing listens");
    assert!(matches!(err, StoreError::Unreachable { .. }), "{err:?}");
    assert!(
        err.to_string().contains("check the endpoint"),
        "message says what to do: {err}"
    );
}

#[tokio::test]
async fn wrong_credentials_are_access_denied() {
    let Some(server) = ObjectStoreServer::start_or_skip(ServerKind::SeaweedFs) else {
        return;
    };
    let mut options = server.options();
    for (k, v) in &mut options {
        if k == "aws_secret_access_key" {
            *v = "definitely-wrong".to_owned();
        }
    }
    options.push(("max_retries".to_owned(), "0".to_owned()));
    let store = Store::open_with(&server.uri("denied"), options).expect("open");
    let err = store
        .put(&Path::from("x"), "x".into())
        .await
        .expect_err("bad key");
    assert!(
        matches!(
            err,
            StoreError::AccessDenied { .. } | StoreError::Backend { .. }
        ),
        "{err:?}"
    );
}
