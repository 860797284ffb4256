//! The cold cell: a table on the S3 server on loopback, read through a
//! proxy that holds every request a fixed delay before forwarding it and
//! streams the answer back (a model of object-storage latency, the same
//! the peers' cold-path proxy adds). Per query kind (selective BM25, phrase, vector, hybrid, SQL
//! point lookup and range aggregate): the cold first query on a fresh
//! connection (latency, requests, bytes, sequential round trips), the warm
//! latency after a restart on a filled disk cache, and the warm latency of
//! the same table on local disk. Plus the cold open of the table.
//!
//! Requests, bytes and round trips come from the store-wide counter (no
//! other traffic runs during a probe: no cache, so no background fill);
//! round trips are the longest chain of requests each started after the
//! previous finished, the way the peers' cold analysis counts RTTs.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{FixedSizeListArray, Float32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use infino_sql::SqlContext;
use infino_store::{Path, Store};
use infino_table::{Connection, Fusion, Table, VectorQuery};
use infino_testkit::fault_proxy::FaultProxy;
use infino_testkit::server::{ObjectStoreServer, ServerKind};

use crate::cells::queries::{QuerySpec, query_classes};
use crate::cells::table::{DIM, spec, vectors};
use crate::corpus::Corpus;
use crate::report::{Report, percentile_ms};

const CELL: &str = "cold";
const TABLE: &str = "cold";
/// Cold probes per query kind (each on a fresh connection).
const PROBES: usize = 5;

/// What one query cost.
#[derive(Debug, Clone, Copy)]
struct Probe {
    took: Duration,
    requests: u64,
    bytes: u64,
    round_trips: u64,
}

/// Run `f` and measure it against `store`'s counter.
async fn probe<T, Fut>(store: &Store, f: Fut) -> anyhow::Result<(T, Probe)>
where
    Fut: Future<Output = anyhow::Result<T>>,
{
    let before = store.stats();
    let started = Instant::now();
    let out = f.await?;
    let took = started.elapsed();
    let io = store.stats().since(&before);
    Ok((
        out,
        Probe {
            took,
            requests: io.total_requests(),
            bytes: io.bytes_read,
            round_trips: io.round_trips,
        },
    ))
}

/// `id`, `text` and an `embedding` of `dim` floats.
fn docs_schema(dim: usize) -> anyhow::Result<SchemaRef> {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    Ok(Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("text", DataType::Utf8, false),
        Field::new(
            "embedding",
            DataType::FixedSizeList(item, i32::try_from(dim)?),
            false,
        ),
    ])))
}

/// Rows `range` of the corpus with their vectors.
fn docs_batch(
    corpus: &Corpus,
    vecs: &[f32],
    dim: usize,
    range: std::ops::Range<usize>,
) -> anyhow::Result<RecordBatch> {
    let list = FixedSizeListArray::try_new(
        Arc::new(Field::new("item", DataType::Float32, false)),
        i32::try_from(dim)?,
        Arc::new(Float32Array::from(
            vecs[range.start * dim..range.end * dim].to_vec(),
        )),
        None,
    )?;
    Ok(RecordBatch::try_new(
        docs_schema(dim)?,
        vec![
            Arc::new(Int64Array::from(corpus.ids[range.clone()].to_vec())),
            Arc::new(StringArray::from_iter_values(&corpus.texts[range])),
            Arc::new(list),
        ],
    )?)
}

/// One query of a kind, runnable on any handle of the table.
#[derive(Debug, Clone)]
enum Query {
    Text(String),
    Vector(Vec<f32>),
    Hybrid(String, Vec<f32>),
    Sql(String),
}

/// An open table and, once a SQL query needs it, a SQL session over its
/// connection (kept, as an application would keep it).
struct Handle {
    conn: Connection,
    table: Table,
    sql: tokio::sync::OnceCell<SqlContext>,
}

impl Handle {
    fn new(conn: Connection, table: Table) -> Self {
        Self {
            conn,
            table,
            sql: tokio::sync::OnceCell::new(),
        }
    }
}

impl Query {
    async fn run(&self, handle: &Handle) -> anyhow::Result<()> {
        let table = &handle.table;
        match self {
            Query::Text(q) => drop(table.search("text", q, 10, &["id"]).await?),
            Query::Vector(v) => drop(
                table
                    .vector_search(&VectorQuery::new("embedding", v, 10), &["id"])
                    .await?,
            ),
            Query::Hybrid(q, v) => drop(
                table
                    .hybrid_search(
                        "text",
                        q,
                        &VectorQuery::new("embedding", v, 10),
                        10,
                        Fusion::default(),
                        &["id"],
                    )
                    .await?,
            ),
            Query::Sql(q) => {
                // The first SQL query of a connection pays for its session
                // (the catalog listing and the tables' manifests).
                let sql = handle
                    .sql
                    .get_or_try_init(|| SqlContext::new(&handle.conn))
                    .await?;
                drop(sql.sql(q).await?);
            }
        }
        Ok(())
    }
}

/// Medians of `probes` under `name`: latency, requests, bytes, round trips.
fn record_probes(report: &mut Report, name: &str, probes: &[Probe]) {
    let m = |f: fn(&Probe) -> f64| median(probes.iter().map(f).collect());
    report.record(CELL, name, "p50", m(|p| p.took.as_secs_f64() * 1e3), "ms");
    report.record(CELL, name, "requests", m(|p| p.requests as f64), "requests");
    report.record(CELL, name, "bytes", m(|p| p.bytes as f64 / 1e3), "KB");
    report.record(
        CELL,
        name,
        "round_trips",
        m(|p| p.round_trips as f64),
        "RTs",
    );
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// Copy every object under `prefixes` from one store to another.
async fn copy_objects(from: &Store, to: &Store, prefixes: &[&str]) -> anyhow::Result<()> {
    for prefix in prefixes {
        for object in from.list(Some(&Path::from(*prefix))).await? {
            to.put(&object.path, from.get(&object.path).await?).await?;
        }
    }
    Ok(())
}

pub(crate) async fn run(report: &mut Report, corpus: &Corpus, delay_ms: u64) -> anyhow::Result<()> {
    let server = ObjectStoreServer::start(ServerKind::SeaweedFs).map_err(anyhow::Error::msg)?;
    let uri = server.uri("coldbench");
    let direct = Connection::connect_with(&uri, server.options())?;

    // Build: eight appends, so the table has several superfiles.
    let n = corpus.texts.len();
    // The corpus's own embeddings when it has them (like for like with a
    // peer on the same corpus), else clustered synthetic vectors.
    let (dim, vecs) = match &corpus.embeddings {
        Some((dim, data)) => (*dim, data.clone()),
        None => (DIM, vectors(n, 1)),
    };
    let started = Instant::now();
    let mut table = direct
        .create_table(TABLE, docs_schema(dim)?, &spec())
        .await?;
    for part in 0..8 {
        table = table
            .append(&[docs_batch(
                corpus,
                &vecs,
                dim,
                part * n / 8..(part + 1) * n / 8,
            )?])
            .await?;
    }
    let files = table.manifest().files.len();
    let table_bytes: u64 = table.manifest().files.iter().map(|f| f.size).sum();
    report.record(
        CELL,
        &format!("build on S3 ({files} files)"),
        "seconds",
        started.elapsed().as_secs_f64(),
        "s",
    );
    report.record(CELL, "table", "size", table_bytes as f64 / 1e6, "MB");

    // The same objects on local disk, for the warm comparison.
    let local_dir = tempfile::tempdir()?;
    let local_uri = local_dir.path().to_string_lossy().into_owned();
    let local = Connection::connect(&local_uri)?;
    copy_objects(direct.store(), local.store(), &[TABLE, "_catalog"]).await?;

    let proxy = FaultProxy::with_latency(
        server.var("INFINO_S3_ENDPOINT").unwrap_or_default(),
        Duration::from_millis(delay_ms),
    )
    .await?;
    let delayed = server.options_through(&proxy.endpoint());
    let label = |what: &str| format!("{what} @{delay_ms}ms");

    let kinds = query_kinds(&local, corpus, &vecs, dim).await?;

    // Cold open, and each kind's cold first query on a fresh connection.
    let mut opens = Vec::new();
    for (kind, queries) in &kinds {
        let mut cold = Vec::new();
        for q in queries {
            let conn = Connection::connect_with(&uri, delayed.clone())?;
            let store = conn.store().clone();
            let (t, open) = probe(&store, async { Ok(conn.open_table(TABLE).await?) }).await?;
            opens.push(open);
            let handle = Handle::new(conn, t);
            let ((), p) = probe(&store, q.run(&handle)).await?;
            cold.push(p);
        }
        let name = label(&format!("{kind} cold first query"));
        record_probes(report, &name, &cold);
        let bytes = median(cold.iter().map(|p| p.bytes as f64).collect());
        report.record(
            CELL,
            &name,
            "bytes_pct_of_table",
            bytes * 100.0 / table_bytes.max(1) as f64,
            "%",
        );
        report.record(
            CELL,
            &name,
            "round_trips_max",
            cold.iter().map(|p| p.round_trips).max().unwrap_or(0) as f64,
            "RTs",
        );
    }
    record_probes(report, &label("open (cold)"), &opens);

    // Warm: fill a disk cache, restart on it, and time beside local disk.
    let cache_dir = tempfile::tempdir()?;
    let mut cached = delayed.clone();
    cached.push((
        "cache_dir".to_owned(),
        cache_dir.path().to_string_lossy().into_owned(),
    ));
    let filler = Connection::connect_with(&uri, cached.clone())?;
    let t = filler.open_table(TABLE).await?;
    let filler = Handle::new(filler, t);
    for (_, queries) in &kinds {
        for q in queries {
            q.run(&filler).await?;
        }
    }
    filler.conn.store().wait_for_cache_fills().await;
    let restarted = Connection::connect_with(&uri, cached)?;
    let t = restarted.open_table(TABLE).await?;
    let warm_handle = Handle::new(restarted, t);
    let t = local.open_table(TABLE).await?;
    let local_handle = Handle::new(local, t);
    for (kind, queries) in &kinds {
        let (mut warm, mut on_disk) = time_warm(queries, &warm_handle, &local_handle).await?;
        let (w, l) = (
            percentile_ms(&mut warm, 50.0),
            percentile_ms(&mut on_disk, 50.0),
        );
        report.record(
            CELL,
            &label(&format!("{kind} warm (disk cache)")),
            "p50",
            w,
            "ms",
        );
        report.record(CELL, &format!("{kind} local disk"), "p50", l, "ms");
        report.record(
            CELL,
            &label(&format!("{kind} warm / local")),
            "ratio",
            w / l.max(1e-9),
            "x",
        );
    }
    Ok(())
}

/// Each query once on both handles to warm up, then five timed runs on
/// each, alternating, so load that comes and goes on a shared machine
/// falls on both sides of the ratio alike.
async fn time_warm(
    queries: &[Query],
    warm: &Handle,
    local: &Handle,
) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    let (mut on_warm, mut on_local) = (Vec::new(), Vec::new());
    for q in queries {
        q.run(warm).await?;
        q.run(local).await?;
        for _ in 0..5 {
            for (handle, out) in [(warm, &mut on_warm), (local, &mut on_local)] {
                let t = Instant::now();
                q.run(handle).await?;
                out.push(t.elapsed());
            }
        }
    }
    Ok((on_warm, on_local))
}

/// The query kinds, each with [`PROBES`] queries drawn from the corpus.
async fn query_kinds(
    local: &Connection,
    corpus: &Corpus,
    vecs: &[f32],
    dim: usize,
) -> anyhow::Result<Vec<(&'static str, Vec<Query>)>> {
    let n = corpus.texts.len();
    let table = local.open_table(TABLE).await?;
    let first = &table.manifest().files[0];
    let index = infino_superfile::Superfile::open(
        local.store().get(&Path::from(first.path.as_str())).await?,
        infino_superfile::OpenOptions::default(),
    )?;
    let classes = query_classes(index.fts("text")?, &corpus.texts, PROBES);
    let class = |name: &str| -> Vec<String> {
        classes
            .iter()
            .find(|(c, _)| *c == name)
            .map(|(_, qs)| qs.iter().map(QuerySpec::to_infino).collect())
            .unwrap_or_default()
    };
    let rare = class("single_rare");
    let step = (n / PROBES).max(1);
    // Queries like the data: stored vectors, slightly moved.
    let probes = infino_testkit::vectors::rows_moved(vecs, dim, PROBES, 3, 0.05);
    Ok(vec![
        (
            "bm25 rare term",
            rare.iter().cloned().map(Query::Text).collect(),
        ),
        (
            "bm25 2 mid terms",
            class("or_2").into_iter().map(Query::Text).collect(),
        ),
        (
            "phrase",
            class("phrase").into_iter().map(Query::Text).collect(),
        ),
        (
            "vector",
            probes.iter().cloned().map(Query::Vector).collect(),
        ),
        (
            "hybrid",
            rare.iter()
                .zip(&probes)
                .map(|(q, v)| Query::Hybrid(q.clone(), v.clone()))
                .collect(),
        ),
        (
            "sql point",
            (0..PROBES)
                .map(|i| {
                    let id = corpus.ids[(i * step + step / 2).min(n - 1)];
                    Query::Sql(format!("SELECT id, text FROM {TABLE} WHERE id = {id}"))
                })
                .collect(),
        ),
        (
            "sql range count",
            (0..PROBES)
                .map(|i| {
                    let lo = corpus.ids[(i * step).min(n - 1)];
                    Query::Sql(format!(
                        "SELECT count(*), max(id) FROM {TABLE} WHERE id >= {lo} AND id < {}",
                        lo + 1000
                    ))
                })
                .collect(),
        ),
    ])
}
