//! The storage contract, run against every backend.
//!
//! Each check states one promise of `Store`; a backend passes when all hold.
//! `open` makes a fresh client (its own connection pool) on the same
//! location, so races below are between independent clients.

use std::sync::Arc;

use bytes::Bytes;
use infino_store::{Path, RequestKind, Store, StoreError};
use tokio::sync::Barrier;

/// Opens a new client onto the same storage location.
pub(crate) type Opener = Arc<dyn Fn() -> Store + Send + Sync>;

/// Run every check; `race_rounds` sets the length of the race checks.
pub(crate) async fn run_all(open: Opener, race_rounds: usize) {
    let store = open();
    reads_are_exact(&store).await;
    missing_objects_are_typed(&store).await;
    vectored_reads_coalesce(&store).await;
    conditional_writes(&store).await;
    listing_and_delete(&store).await;
    multipart_upload(&open).await;
    replace_race(&open, 3, race_rounds).await;
    create_race(&open, 3, race_rounds).await;
    cas_counter(&open, 4, 10).await;
}

fn payload(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect::<Vec<u8>>()
        .into()
}

async fn reads_are_exact(store: &Store) {
    // A mutable-looking name and an immutable one (which a local store
    // reads from a memory mapping): the same answers either way.
    for name in ["conf/exact/object.bin", "conf/exact/object.parquet"] {
        reads_of_one_object_are_exact(store, &Path::from(name)).await;
    }
}

async fn reads_of_one_object_are_exact(store: &Store, path: &Path) {
    let path = path.clone();
    let data = payload(10_000, 7);
    store.put(&path, data.clone()).await.expect("put");
    assert_eq!(store.get(&path).await.expect("get"), data);
    let info = store.head(&path).await.expect("head");
    assert_eq!(info.size, 10_000);
    assert!(
        info.version.e_tag.is_some() || info.version.version.is_some(),
        "a version for CAS"
    );

    assert_eq!(
        store.get_range(&path, 100..228).await.expect("range"),
        data.slice(100..228)
    );
    assert_eq!(
        store
            .get_range(&path, 9_999..10_000)
            .await
            .expect("last byte"),
        data.slice(9_999..)
    );

    let past = store.get_range(&path, 9_000..10_001).await;
    assert!(
        matches!(past, Err(StoreError::RangeOutOfBounds { size: 10_000, .. })),
        "range past the end: {past:?}"
    );
    let beyond = store.get_range(&path, 20_000..20_010).await;
    assert!(
        matches!(beyond, Err(StoreError::RangeOutOfBounds { .. })),
        "range beyond: {beyond:?}"
    );
    assert!(matches!(
        store.get_range(&path, 5..5).await,
        Err(StoreError::InvalidRange { .. })
    ));

    let tail = store.get_suffix(&path, 16).await.expect("suffix");
    assert_eq!(tail.object_size, 10_000);
    assert_eq!(tail.bytes, data.slice(10_000 - 16..));
    let all = store
        .get_suffix(&path, 50_000)
        .await
        .expect("suffix longer than object");
    assert_eq!((all.object_size, all.bytes.len()), (10_000, 10_000));
    assert_eq!(all.bytes, data);
}

async fn missing_objects_are_typed(store: &Store) {
    let path = Path::from("conf/missing/nothing-here");
    assert!(matches!(
        store.get(&path).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.head(&path).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.get_range(&path, 0..4).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.get_suffix(&path, 4).await,
        Err(StoreError::NotFound { .. })
    ));
    store
        .delete(&path)
        .await
        .expect("deleting a missing object succeeds");
}

async fn vectored_reads_coalesce(store: &Store) {
    let path = Path::from("conf/vectored/object.bin");
    let data = payload(64 << 10, 3);
    store.put(&path, data.clone()).await.expect("put");
    // All within the default 256 KiB gap: one GET for three ranges.
    let ranges = [40_000..40_100, 10..20, 1_000..5_000];
    let before = store.stats();
    let got = store.get_ranges(&path, &ranges).await.expect("get_ranges");
    let cost = store.stats().since(&before);
    for (r, bytes) in ranges.iter().zip(&got) {
        assert_eq!(bytes, &data.slice(r.start as usize..r.end as usize));
    }
    assert_eq!(
        cost.requests(RequestKind::Get),
        1,
        "nearby ranges share one request: {cost}"
    );
    assert_eq!(cost.bytes_read, 40_100 - 10);
    // The same fetch, returned merged: one buffer covering all three.
    let before = store.stats();
    let covering = store.get_covering(&path, &ranges).await.expect("covering");
    assert_eq!(store.stats().since(&before), cost, "the same requests");
    assert_eq!(covering, vec![(10, data.slice(10..40_100))]);
    let bad = store.get_ranges(&path, &[0..10, 65_000..70_000]).await;
    assert!(
        matches!(bad, Err(StoreError::RangeOutOfBounds { .. })),
        "{bad:?}"
    );
}

async fn conditional_writes(store: &Store) {
    let path = Path::from("conf/cond/manifest");
    store.delete(&path).await.expect("clean");
    let first = store
        .create_if_absent(&path, Bytes::from_static(b"writer-a"))
        .await
        .expect("create");
    assert!(!first.recovered);
    let lost = store
        .create_if_absent(&path, Bytes::from_static(b"writer-b"))
        .await;
    assert!(
        matches!(lost, Err(StoreError::AlreadyExists { .. })),
        "{lost:?}"
    );
    // Our own bytes already there (a retried create whose first reply was lost).
    let again = store
        .create_if_absent(&path, Bytes::from_static(b"writer-a"))
        .await
        .expect("own create");
    assert!(again.recovered);

    let (bytes, version) = store.get_versioned(&path).await.expect("read");
    assert_eq!(bytes, "writer-a");
    let replaced = store
        .replace_if_match(&path, Bytes::from_static(b"v2"), &version)
        .await
        .expect("cas");
    assert!(!replaced.recovered);
    let stale = store
        .replace_if_match(&path, Bytes::from_static(b"v3"), &version)
        .await;
    assert!(
        matches!(stale, Err(StoreError::PreconditionFailed { .. })),
        "{stale:?}"
    );
    assert_eq!(store.get(&path).await.expect("read"), "v2");
    let (_, current) = store.get_versioned(&path).await.expect("read");
    assert_eq!(
        current, replaced.version,
        "the version returned by a write matches a later read"
    );

    let missing = Path::from("conf/cond/never-created");
    let none = store
        .replace_if_match(&missing, Bytes::from_static(b"x"), &version)
        .await;
    assert!(
        matches!(none, Err(StoreError::PreconditionFailed { .. })),
        "{none:?}"
    );
}

async fn listing_and_delete(store: &Store) {
    for name in ["c", "a", "b/nested"] {
        store
            .put(
                &Path::from(format!("conf/list/{name}")),
                Bytes::from_static(b"x"),
            )
            .await
            .expect("put");
    }
    store
        .put(&Path::from("conf/listed-not/z"), Bytes::from_static(b"x"))
        .await
        .expect("put");
    let listed: Vec<String> = store
        .list(Some(&Path::from("conf/list")))
        .await
        .expect("list")
        .into_iter()
        .map(|i| i.path.to_string())
        .collect();
    assert_eq!(listed, ["conf/list/a", "conf/list/b/nested", "conf/list/c"]);
    store
        .delete(&Path::from("conf/list/a"))
        .await
        .expect("delete");
    let after = store
        .list(Some(&Path::from("conf/list")))
        .await
        .expect("list");
    assert_eq!(after.len(), 2);
    assert!(matches!(
        store.get(&Path::from("conf/list/a")).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn multipart_upload(open: &Opener) {
    let store = open();
    let path = Path::from("conf/multipart/big.bin");
    let data = payload(12 << 20, 11);
    let before = store.stats();
    store.put(&path, data.clone()).await.expect("multipart put");
    let cost = store.stats().since(&before);
    assert!(
        cost.requests(RequestKind::Put) >= 3,
        "create + parts + complete: {cost}"
    );
    assert_eq!(cost.bytes_written, 12 << 20);
    assert_eq!(store.head(&path).await.expect("head").size, 12 << 20);
    let across = (8 << 20) - 100..(8 << 20) + 100;
    let got = store
        .get_range(&path, across.clone())
        .await
        .expect("range across parts");
    assert_eq!(got, data.slice(across.start as usize..across.end as usize));
}

/// `clients` independent clients replace one key each round from the same
/// version: exactly one may win, and the stored bytes are the winner's.
async fn replace_race(open: &Opener, clients: usize, rounds: usize) {
    let path = Path::from("conf/race/pointer");
    let setup = open();
    setup
        .put(&path, Bytes::from_static(b"round-start"))
        .await
        .expect("seed");
    let stores: Vec<Store> = (0..clients).map(|_| open()).collect();
    for round in 0..rounds {
        let (_, version) = setup.get_versioned(&path).await.expect("read");
        let barrier = Arc::new(Barrier::new(clients));
        let mut tasks = Vec::new();
        for (c, store) in stores.iter().enumerate() {
            let (store, path, version, barrier) = (
                store.clone(),
                path.clone(),
                version.clone(),
                barrier.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let body = Bytes::from(format!("round {round} client {c} {}", uuid_like(round, c)));
                barrier.wait().await;
                match store.replace_if_match(&path, body.clone(), &version).await {
                    Ok(_) => Some(body),
                    Err(StoreError::PreconditionFailed { .. }) => None,
                    Err(other) => panic!("round {round} client {c}: unexpected {other}"),
                }
            }));
        }
        let mut winners = Vec::new();
        for t in tasks {
            if let Some(body) = t.await.expect("join") {
                winners.push(body);
            }
        }
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one winner, got {}",
            winners.len()
        );
        assert_eq!(
            setup.get(&path).await.expect("read"),
            winners[0],
            "round {round}: winner's bytes stored"
        );
    }
}

/// Like `replace_race`, with create-if-absent on a fresh key per round.
async fn create_race(open: &Opener, clients: usize, rounds: usize) {
    let stores: Vec<Store> = (0..clients).map(|_| open()).collect();
    for round in 0..rounds {
        let path = Path::from(format!("conf/create-race/{round}"));
        stores[0].delete(&path).await.expect("clean");
        let barrier = Arc::new(Barrier::new(clients));
        let mut tasks = Vec::new();
        for (c, store) in stores.iter().enumerate() {
            let (store, path, barrier) = (store.clone(), path.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                let body = Bytes::from(format!("create {round} by {c} {}", uuid_like(round, c)));
                barrier.wait().await;
                match store.create_if_absent(&path, body.clone()).await {
                    Ok(_) => Some(body),
                    Err(StoreError::AlreadyExists { .. }) => None,
                    Err(other) => panic!("round {round} client {c}: unexpected {other}"),
                }
            }));
        }
        let mut winners = Vec::new();
        for t in tasks {
            if let Some(body) = t.await.expect("join") {
                winners.push(body);
            }
        }
        assert_eq!(winners.len(), 1, "create round {round}: exactly one winner");
        assert_eq!(stores[0].get(&path).await.expect("read"), winners[0]);
    }
}

/// `clients` × `increments` read-modify-write increments with retry: none lost.
async fn cas_counter(open: &Opener, clients: usize, increments: usize) {
    let path = Path::from("conf/cas/counter");
    let setup = open();
    setup
        .put(&path, Bytes::from_static(b"0"))
        .await
        .expect("seed");
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (store, path) = (open(), path.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..increments {
                loop {
                    let (bytes, version) = store.get_versioned(&path).await.expect("read");
                    let text = std::str::from_utf8(&bytes).expect("utf8");
                    let n: u64 = text
                        .split(' ')
                        .next()
                        .expect("value")
                        .parse()
                        .expect("number");
                    // The token keeps identical counter values from different
                    // clients distinguishable for lost-reply recovery.
                    let body = Bytes::from(format!("{}", n + 1));
                    let tagged = tag(body, c, i);
                    match store.replace_if_match(&path, tagged, &version).await {
                        Ok(_) => break,
                        Err(StoreError::PreconditionFailed { .. }) => continue,
                        Err(other) => panic!("client {c}: {other}"),
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("join");
    }
    let final_bytes = setup.get(&path).await.expect("read");
    let text = std::str::from_utf8(&final_bytes).expect("utf8");
    let n: usize = text
        .split(' ')
        .next()
        .expect("value")
        .parse()
        .expect("number");
    assert_eq!(n, clients * increments, "no increment lost");
}

fn tag(body: Bytes, client: usize, i: usize) -> Bytes {
    let mut v = body.to_vec();
    v.extend_from_slice(format!(" by {client}/{i}").as_bytes());
    v.into()
}

fn uuid_like(round: usize, client: usize) -> String {
    format!("{:x}-{round}-{client}", std::process::id())
}
