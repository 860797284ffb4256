//! Faults on the wire, through a proxy in front of the real S3 server:
//! lost replies to conditional writes are recovered, transient failures are
//! retried, 4xx are not.

use bytes::Bytes;
use hyper::Method;
use infino_store::{Path, Store, StoreError};
use infino_testkit::fault_proxy::{Fault, FaultProxy, Rule};
use infino_testkit::server::{ObjectStoreServer, ServerKind};

/// A store that talks to `server` through `proxy`, retrying quickly.
fn through(proxy: &FaultProxy, server: &ObjectStoreServer, prefix: &str) -> Store {
    let mut options = server.options_through(&proxy.endpoint());
    options.extend(
        [
            ("max_retries", "3"),
            ("backoff_initial_ms", "10"),
            ("backoff_max_ms", "50"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    Store::open_with(&server.uri(prefix), options).expect("open")
}

fn rule(method: Method, header: Option<&'static str>, times: usize, fault: Fault) -> Rule {
    Rule {
        method: Some(method),
        header,
        times,
        fault,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_replies_and_retries_on_s3() {
    let Some(server) = ObjectStoreServer::start_or_skip(ServerKind::SeaweedFs) else {
        return;
    };
    let endpoint = server
        .var("INFINO_S3_ENDPOINT")
        .expect("endpoint")
        .to_owned();
    let proxy = FaultProxy::start(&endpoint).await.expect("proxy");
    let store = through(&proxy, &server, "faults");

    // Create applied, connection dropped: the retry sees 412, the read-back shows our bytes.
    let path = Path::from("lost/create-drop");
    proxy.add_rule(rule(
        Method::PUT,
        Some("if-none-match"),
        1,
        Fault::DropAfterForward,
    ));
    let info = store
        .create_if_absent(&path, Bytes::from_static(b"ours: token-1"))
        .await
        .expect("recovered");
    assert!(
        info.recovered,
        "the lost reply was recovered, not reported as a conflict"
    );
    assert_eq!(store.get(&path).await.expect("get"), "ours: token-1");

    // Create applied, then a 500: same outcome.
    let path = Path::from("lost/create-500");
    proxy.add_rule(rule(
        Method::PUT,
        Some("if-none-match"),
        1,
        Fault::StatusAfterForward(500),
    ));
    let info = store
        .create_if_absent(&path, Bytes::from_static(b"ours: token-2"))
        .await
        .expect("recovered");
    assert!(info.recovered);

    // A real conflict through the same path stays a conflict.
    let lost = store
        .create_if_absent(&path, Bytes::from_static(b"theirs: token-3"))
        .await;
    assert!(
        matches!(lost, Err(StoreError::AlreadyExists { .. })),
        "{lost:?}"
    );

    // Conditional replace applied, reply lost.
    let (_, version) = store.get_versioned(&path).await.expect("read");
    proxy.add_rule(rule(
        Method::PUT,
        Some("if-match"),
        1,
        Fault::StatusAfterForward(503),
    ));
    let info = store
        .replace_if_match(&path, Bytes::from_static(b"v2: token-4"), &version)
        .await
        .expect("recovered");
    assert!(info.recovered);
    assert_eq!(store.get(&path).await.expect("get"), "v2: token-4");
    let stale = store
        .replace_if_match(&path, Bytes::from_static(b"v3: token-5"), &version)
        .await;
    assert!(
        matches!(stale, Err(StoreError::PreconditionFailed { .. })),
        "{stale:?}"
    );

    // Transient 503s on a read are retried until it succeeds.
    let before = proxy.requests();
    proxy.add_rule(rule(Method::GET, None, 2, Fault::Status(503)));
    assert_eq!(store.get(&path).await.expect("retried"), "v2: token-4");
    assert_eq!(proxy.requests() - before, 3, "two failures, then success");

    // A 4xx is final: one request, no retry.
    let before = proxy.requests();
    proxy.add_rule(rule(Method::GET, None, 1, Fault::Status(403)));
    let denied = store.get(&path).await;
    assert!(
        matches!(denied, Err(StoreError::AccessDenied { .. })),
        "{denied:?}"
    );
    assert_eq!(proxy.requests() - before, 1, "4xx are not retried");

    // A server that answers a range with fewer bytes than it claims.
    proxy.add_rule(rule(Method::GET, None, 1, Fault::ShortBody(3)));
    let short = store.get_range(&path, 0..8).await;
    assert!(
        matches!(
            short,
            Err(StoreError::ShortRead {
                expected: 8,
                got: 3,
                ..
            })
        ),
        "{short:?}"
    );

    // A server that keeps failing: bounded retries, then a typed error.
    let before = proxy.requests();
    proxy.add_rule(rule(Method::GET, None, 100, Fault::Status(503)));
    let failed = store.get(&path).await;
    assert!(
        matches!(failed, Err(StoreError::Backend { .. })),
        "{failed:?}"
    );
    assert_eq!(proxy.requests() - before, 4, "1 try + max_retries 3");
}
