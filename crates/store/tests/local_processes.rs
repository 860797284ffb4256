//! Conditional writes on the local filesystem hold across OS processes.
//!
//! The parent test re-runs this test binary as `PROCESSES` children (each
//! runs only `child_worker`, selected by name and told its job through the
//! environment). The children race on a CAS counter and on create-if-absent
//! keys through separate `Store`s on one directory.

use std::process::{Command, Stdio};

use bytes::Bytes;
use infino_store::{Path, Store, StoreError};

const PROCESSES: usize = 4;
const INCREMENTS: usize = 25;
const CREATE_KEYS: usize = 40;
const CHILD_ENV: &str = "INFINO_LOCAL_CAS_CHILD_DIR";

#[test]
fn conditional_writes_are_atomic_across_processes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_str().expect("utf8").to_owned();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let store = Store::open(&root).expect("open");
    runtime
        .block_on(store.put(&Path::from("counter"), Bytes::from_static(b"0")))
        .expect("seed");

    let exe = std::env::current_exe().expect("test binary path");
    let children: Vec<_> = (0..PROCESSES)
        .map(|i| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "local_processes::child_worker",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD_ENV, &root)
                .env("INFINO_CHILD_INDEX", i.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn child")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "a child failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    runtime.block_on(async {
        let counter = store.get(&Path::from("counter")).await.expect("counter");
        let value: usize = std::str::from_utf8(&counter)
            .expect("utf8")
            .split(' ')
            .next()
            .expect("n")
            .parse()
            .expect("n");
        assert_eq!(
            value,
            PROCESSES * INCREMENTS,
            "no increment lost across processes"
        );

        let mut total_wins = 0;
        for i in 0..PROCESSES {
            let wins = store
                .get(&Path::from(format!("wins/{i}")))
                .await
                .expect("wins file");
            for key in std::str::from_utf8(&wins).expect("utf8").split_whitespace() {
                let stored = store
                    .get(&Path::from(format!("created/{key}")))
                    .await
                    .expect("created");
                assert_eq!(
                    stored,
                    format!("child {i}"),
                    "key {key}: the claimed winner's bytes are stored"
                );
                total_wins += 1;
            }
        }
        assert_eq!(total_wins, CREATE_KEYS, "exactly one winner per key");
    });
}

/// Runs only inside a child process started by the test above.
#[test]
fn child_worker() {
    let Ok(root) = std::env::var(CHILD_ENV) else {
        return;
    };
    let index: usize = std::env::var("INFINO_CHILD_INDEX")
        .expect("index")
        .parse()
        .expect("index");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let store = Store::open(&root).expect("open");
        let path = Path::from("counter");
        for i in 0..INCREMENTS {
            loop {
                let (bytes, version) = store.get_versioned(&path).await.expect("read");
                let n: usize = std::str::from_utf8(&bytes)
                    .expect("utf8")
                    .split(' ')
                    .next()
                    .expect("n")
                    .parse()
                    .expect("n");
                let body = Bytes::from(format!("{} by {index}/{i}", n + 1));
                match store.replace_if_match(&path, body, &version).await {
                    Ok(_) => break,
                    Err(StoreError::PreconditionFailed { .. }) => continue,
                    Err(other) => panic!("child {index}: {other}"),
                }
            }
        }
        let mut wins = String::new();
        for key in 0..CREATE_KEYS {
            let target = Path::from(format!("created/{key}"));
            match store
                .create_if_absent(&target, Bytes::from(format!("child {index}")))
                .await
            {
                Ok(_) => wins.push_str(&format!("{key} ")),
                Err(StoreError::AlreadyExists { .. }) => {}
                Err(other) => panic!("child {index}: {other}"),
            }
        }
        store
            .put(&Path::from(format!("wins/{index}")), Bytes::from(wins))
            .await
            .expect("wins");
    });
}
