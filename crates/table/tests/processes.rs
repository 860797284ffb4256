//! Four OS processes append to one table through the store alone — on the
//! local filesystem and on the S3 server — and no acknowledged row is lost.
//!
//! The parent re-runs this test binary as children that run only
//! `child_appender`, told the storage URI and options through the environment.

use std::collections::HashSet;
use std::process::{Command, Stdio};

use infino_table::Connection;
use infino_testkit::server::{ObjectStoreServer, ServerKind};

use crate::common::{all_ids, batch, bodies, schema, spec};

const PROCESSES: usize = 4;
const APPENDS: usize = 5;
const ROWS: usize = 20;

pub(crate) fn encode(options: &[(String, String)]) -> String {
    options
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(";")
}

pub(crate) fn decode(text: &str) -> Vec<(String, String)> {
    text.split(';')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

async fn run_processes(uri: &str, options: &[(String, String)]) {
    let conn = Connection::connect_with(uri, options.to_vec()).expect("connect");
    conn.create_table("procs", schema(), &spec())
        .await
        .expect("create");
    let exe = std::env::current_exe().expect("test binary");
    let children: Vec<_> = (0..PROCESSES)
        .map(|i| {
            Command::new(&exe)
                .args(["--exact", "processes::child_appender", "--test-threads=1"])
                .env("INFINO_CHILD_URI", uri)
                .env("INFINO_CHILD_OPTIONS", encode(options))
                .env("INFINO_CHILD_INDEX", i.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "child failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let table = conn.open_table("procs").await.expect("open");
    assert_eq!(
        table.version(),
        (PROCESSES * APPENDS) as u64,
        "versions contiguous, one per append"
    );
    let ids = all_ids(&conn, &table).await;
    assert_eq!(ids.len(), PROCESSES * APPENDS * ROWS);
    assert_eq!(
        ids.iter().map(|(id, _)| *id).collect::<HashSet<_>>().len(),
        ids.len(),
        "`_id`s unique across processes"
    );
    let user: HashSet<i64> = ids.iter().map(|(_, u)| *u).collect();
    assert_eq!(
        user,
        (0..(PROCESSES * APPENDS * ROWS) as i64).collect(),
        "every acknowledged row exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_on_local_filesystem() {
    let dir = tempfile::tempdir().expect("tempdir");
    run_processes(dir.path().to_str().expect("utf8"), &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_on_s3() {
    let Some(server) = ObjectStoreServer::start_or_skip(ServerKind::SeaweedFs) else {
        return;
    };
    run_processes(&server.uri("procs-root"), &server.options()).await;
}

/// Runs only inside a child started above.
#[test]
fn child_appender() {
    let Ok(uri) = std::env::var("INFINO_CHILD_URI") else {
        return;
    };
    let options = decode(&std::env::var("INFINO_CHILD_OPTIONS").unwrap_or_default());
    let index: usize = std::env::var("INFINO_CHILD_INDEX")
        .expect("index")
        .parse()
        .expect("index");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("rt");
    runtime.block_on(async {
        let conn = Connection::connect_with(&uri, options).expect("connect");
        let table = conn.open_table("procs").await.expect("open");
        for a in 0..APPENDS {
            let first = ((index * APPENDS + a) * ROWS) as i64;
            table
                .append(&[batch(first, &bodies(ROWS, first.cast_unsigned()))])
                .await
                .expect("append");
        }
    });
}
