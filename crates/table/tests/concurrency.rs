//! Concurrent appends: every acknowledged row present exactly once, `_id`s
//! unique, versions contiguous.

use std::collections::HashSet;

use infino_table::Connection;
use infino_testkit::server::{ObjectStoreServer, ServerKind};

use crate::common::{all_ids, batch, bodies, schema, spec};

async fn hammer(
    uri: String,
    options: Vec<(String, String)>,
    writers: usize,
    appends: usize,
    rows: usize,
) {
    let conn = Connection::connect_with(&uri, options.clone()).expect("connect");
    conn.create_table("race", schema(), &spec())
        .await
        .expect("create");
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (uri, options) = (uri.clone(), options.clone());
        tasks.push(tokio::spawn(async move {
            let conn = Connection::connect_with(&uri, options).expect("connect");
            let t = conn.open_table("race").await.expect("open");
            for a in 0..appends {
                let first = ((w * appends + a) * rows) as i64;
                t.append(&[batch(first, &bodies(rows, first.cast_unsigned()))])
                    .await
                    .expect("append");
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    let table = conn.open_table("race").await.expect("open");
    let commits = (writers * appends) as u64;
    assert_eq!(table.version(), commits, "one version per append");
    for v in 0..=commits {
        let at = conn
            .open_table_at("race", v)
            .await
            .expect("every version readable");
        assert_eq!(at.version(), v);
    }
    let ids = all_ids(&conn, &table).await;
    assert_eq!(
        ids.len(),
        writers * appends * rows,
        "every acknowledged row present"
    );
    let engine: HashSet<u64> = ids.iter().map(|(id, _)| *id).collect();
    assert_eq!(engine.len(), ids.len(), "`_id`s unique");
    let user: HashSet<i64> = ids.iter().map(|(_, u)| *u).collect();
    assert_eq!(
        user,
        (0..(writers * appends * rows) as i64).collect(),
        "each row exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_writers_on_memory() {
    hammer(
        format!("memory://race-{}", std::process::id()),
        vec![],
        8,
        5,
        40,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_writers_on_local_filesystem() {
    let dir = tempfile::tempdir().expect("tempdir");
    hammer(
        dir.path().to_str().expect("utf8").to_owned(),
        vec![],
        8,
        5,
        40,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_writers_on_s3() {
    let Some(server) = ObjectStoreServer::start_or_skip(ServerKind::SeaweedFs) else {
        return;
    };
    hammer(server.uri("threads-root"), server.options(), 8, 3, 20).await;
}
