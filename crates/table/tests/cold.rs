//! Cold reads against the S3 server, through a loopback proxy that holds
//! every request a fixed delay (a model of object-storage latency) and logs
//! what it forwards: a cold open reads the manifest and nothing else, a cold
//! selective BM25 or vector top-10 reads only the superfiles it must, in at
//! most three sequential round trips, and the reported cost equals what the
//! proxy saw.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{
    AsArray, FixedSizeListArray, Float32Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use hyper::Method;
use infino_fts::FtsConfig;
use infino_store::{CostScope, QueryCost};
use infino_superfile::IndexSpec;
use infino_table::{Connection, Table, VectorQuery};
use infino_testkit::fault_proxy::FaultProxy;
use infino_testkit::server::{ObjectStoreServer, ServerKind};
use infino_vector::{BuildParams, Metric};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const FILES: usize = 32;
const ROWS: usize = 300;
const DIM: usize = 8;
/// Round trips are counted as the longest chain of requests each started
/// after the previous one ended, so a file whose next read is late (the
/// loopback server answering many reads at once, or this process starved
/// of CPU by parallel tests) can pass for one more step after another
/// file's read. A delay well above such stalls keeps the count to the
/// query's real sequential steps.
const DELAY: Duration = Duration::from_millis(100);
/// A word only two files hold.
const RARE: &str = "quokkafjord";
const RARE_AT: [(usize, usize); 2] = [(7, 10), (23, 100)];

fn schema() -> SchemaRef {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("body", DataType::Utf8, true),
        Field::new("v", DataType::FixedSizeList(item, DIM as i32), false),
    ]))
}

fn file_batch(file: usize, rng: &mut StdRng) -> (RecordBatch, Vec<Vec<f32>>) {
    let first = (file * ROWS) as i64;
    let mut bodies = crate::common::bodies(ROWS, file as u64);
    for &(f, row) in &RARE_AT {
        if f == file {
            bodies[row] = Some(format!("the {RARE} was here"));
        }
    }
    let vectors: Vec<Vec<f32>> = (0..ROWS)
        .map(|_| (0..DIM).map(|_| rng.random_range(-1.0..1.0)).collect())
        .collect();
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let flat: Vec<f32> = vectors.iter().flatten().copied().collect();
    let list =
        FixedSizeListArray::try_new(item, DIM as i32, Arc::new(Float32Array::from(flat)), None)
            .expect("list");
    let texts: StringArray = bodies.iter().map(Option::as_deref).collect();
    let batch = RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(first..first + ROWS as i64)),
            Arc::new(texts),
            Arc::new(list),
        ],
    )
    .expect("batch");
    (batch, vectors)
}

/// The proxy's requests since `from`, as (method, path).
fn since(proxy: &FaultProxy, from: usize) -> Vec<(Method, String)> {
    proxy.request_log().split_off(from)
}

/// Data files (superfiles) named in `log`.
fn data_files(log: &[(Method, String)]) -> BTreeSet<String> {
    log.iter()
        .filter(|(_, p)| p.contains("/data/"))
        .map(|(_, p)| p.rsplit('/').next().unwrap_or_default().to_owned())
        .collect()
}

fn file_names(table: &Table, files: &[usize]) -> BTreeSet<String> {
    files
        .iter()
        .map(|&i| {
            let path = &table.manifest().files[i].path;
            path.rsplit('/').next().unwrap_or_default().to_owned()
        })
        .collect()
}

#[expect(clippy::print_stderr, reason = "the request log is the test's report")]
fn report(what: &str, cost: &QueryCost, log: &[(Method, String)]) {
    eprintln!("{what}: {cost}");
    for (method, path) in log {
        eprintln!("    {method} {path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_queries_read_only_what_they_need_in_few_round_trips() {
    let Some(server) = ObjectStoreServer::start_or_skip(ServerKind::SeaweedFs) else {
        return;
    };
    let uri = server.uri("cold-reads");
    // Build directly against the server.
    let spec = IndexSpec::default()
        .with_fts("body", FtsConfig::default())
        .with_vector("v", Metric::L2, BuildParams::default());
    let direct = Connection::connect_with(&uri, server.options()).expect("connect");
    let mut table = direct
        .create_table("docs", schema(), &spec)
        .await
        .expect("create");
    let mut rng = StdRng::seed_from_u64(9);
    let mut all_vectors = Vec::new();
    for file in 0..FILES {
        let (batch, vectors) = file_batch(file, &mut rng);
        all_vectors.extend(vectors);
        table = table.append(&[batch]).await.expect("append");
    }
    assert_eq!(table.manifest().files.len(), FILES);

    // Read through the delaying proxy.
    let endpoint = server.var("INFINO_S3_ENDPOINT").expect("endpoint");
    let proxy = FaultProxy::with_latency(endpoint, DELAY)
        .await
        .expect("proxy");
    let options = server.options_through(&proxy.endpoint());
    let cold = || Connection::connect_with(&uri, options.clone()).expect("connect");

    // Cold open: the latest manifest, found without listing, and nothing else.
    let conn = cold();
    let mark = proxy.requests();
    let scope = CostScope::default();
    let opened = scope.run(conn.open_table("docs")).await.expect("open");
    let log = since(&proxy, mark);
    report("cold open", &scope.cost(), &log);
    assert_eq!(opened.version(), table.version());
    assert!(
        log.iter()
            .all(|(m, p)| (*m == Method::GET || *m == Method::HEAD)
                && (p.ends_with("/_catalog/docs") || p.contains("/docs/_"))),
        "open reads only manifest objects: {log:?}"
    );
    // The catalog entry and the hint, then the manifest and a probe of the
    // next version: four requests in two round trips.
    assert!(
        log.len() <= 4,
        "open reads the catalog, hint, manifest and one probe"
    );
    assert!(scope.cost().io.round_trips <= 2, "{}", scope.cost());
    assert_eq!(scope.cost().io.total_requests(), log.len() as u64);

    // Cold selective BM25 top-10 with a projected column.
    let mark = proxy.requests();
    let scope = CostScope::default();
    let found = scope
        .run(opened.search("body", RARE, 10, &["id"]))
        .await
        .expect("search");
    let log = since(&proxy, mark);
    let cost = scope.cost();
    report("cold BM25", &cost, &log);
    let ids: BTreeSet<i64> = found
        .column_by_name("id")
        .expect("id")
        .as_primitive::<Int64Type>()
        .values()
        .iter()
        .copied()
        .collect();
    let want: BTreeSet<i64> = RARE_AT
        .iter()
        .map(|&(f, r)| (f * ROWS + r) as i64)
        .collect();
    assert_eq!(ids, want);
    let admitted = opened.files_for_query("body", RARE).expect("plan");
    assert!(admitted.len() < FILES / 4, "blooms prune: {admitted:?}");
    assert_eq!(
        data_files(&log),
        file_names(&opened, &admitted),
        "only files whose bloom admits the term are read"
    );
    assert_eq!(
        cost.io.total_requests(),
        log.len() as u64,
        "cost == proxy count"
    );
    assert!(cost.io.round_trips <= 3, "round trips: {cost}");

    // Cold vector top-10 on a fresh connection, over the version of the
    // first four files (time travel; the loopback server answers 32 files'
    // concurrent reads over a wider spread).
    let conn = cold();
    let opened = conn.open_table_at("docs", 4).await.expect("open");
    assert_eq!(opened.manifest().files.len(), 4);
    let query = all_vectors[1042].clone();
    let mark = proxy.requests();
    let scope = CostScope::default();
    let found = scope
        .run(opened.vector_search(&VectorQuery::new("v", &query, 10), &["id"]))
        .await
        .expect("vector search");
    let log = since(&proxy, mark);
    let cost = scope.cost();
    report("cold vector", &cost, &log);
    assert_eq!(found.num_rows(), 10);
    let first = found
        .column_by_name("id")
        .expect("id")
        .as_primitive::<Int64Type>()
        .value(0);
    assert_eq!(first, 1042, "the query vector is its own nearest neighbour");
    assert_eq!(
        cost.io.total_requests(),
        log.len() as u64,
        "cost == proxy count"
    );
    assert!(cost.io.round_trips <= 3, "round trips: {cost}");
}
