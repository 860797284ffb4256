//! The storage cell: ranged-read latency and throughput per backend.
//!
//! Memory and a local directory always run; the S3 server (SeaweedFS on
//! loopback, started by the shared script) runs unless `--no-server`.
//! Latencies are per request with one request in flight; throughput is for
//! large sequential ranges.

use std::time::{Duration, Instant};

use bytes::Bytes;
use infino_store::{Path, Store};
use infino_testkit::server::{ObjectStoreServer, ServerKind};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

use crate::report::{Report, percentile_ms};

const CELL: &str = "storage";
const OBJECT_BYTES: u64 = 64 << 20;
const SMALL_READS: usize = 300;
const SMALL_READ: u64 = 4 << 10;
const LARGE_READ: u64 = 8 << 20;

pub(crate) async fn run(report: &mut Report, with_server: bool) -> anyhow::Result<()> {
    measure(report, "memory", &Store::open("memory://bench-storage")?).await?;
    let dir = tempfile::tempdir()?;
    let local = dir
        .path()
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("temp path is not UTF-8"))?;
    measure(report, "local", &Store::open(local)?).await?;
    if with_server {
        let server = ObjectStoreServer::start(ServerKind::SeaweedFs).map_err(anyhow::Error::msg)?;
        let store = Store::open_with(&server.uri("bench-storage"), server.options())?;
        measure(report, "s3-seaweedfs", &store).await?;
    }
    Ok(())
}

async fn measure(report: &mut Report, backend: &str, store: &Store) -> anyhow::Result<()> {
    let path = Path::from("bench/object.bin");
    let mut data = vec![0u8; usize::try_from(OBJECT_BYTES)?];
    let mut rng = StdRng::seed_from_u64(7);
    rng.fill_bytes(&mut data);
    let data = Bytes::from(data);

    let started = Instant::now();
    store.put(&path, data.clone()).await?;
    report.record(
        CELL,
        backend,
        "put_64MiB_throughput",
        mb_per_s(OBJECT_BYTES, started.elapsed()),
        "MB/s",
    );

    let before = store.stats();
    let mut small = Vec::with_capacity(SMALL_READS);
    for _ in 0..SMALL_READS {
        let start = rng.random_range(0..OBJECT_BYTES - SMALL_READ);
        let t = Instant::now();
        let got = store.get_range(&path, start..start + SMALL_READ).await?;
        small.push(t.elapsed());
        anyhow::ensure!(got.len() as u64 == SMALL_READ, "short read");
    }
    let cost = store.stats().since(&before);
    report.record(
        CELL,
        backend,
        "range_4KiB_p50",
        percentile_ms(&mut small, 50.0),
        "ms",
    );
    report.record(
        CELL,
        backend,
        "range_4KiB_p95",
        percentile_ms(&mut small, 95.0),
        "ms",
    );
    report.record(
        CELL,
        backend,
        "range_4KiB_requests_per_read",
        cost.total_requests() as f64 / SMALL_READS as f64,
        "requests",
    );

    let mut suffix = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let tail = store.get_suffix(&path, 64 << 10).await?;
        suffix.push(t.elapsed());
        anyhow::ensure!(tail.object_size == OBJECT_BYTES, "wrong size");
    }
    report.record(
        CELL,
        backend,
        "suffix_64KiB_p50",
        percentile_ms(&mut suffix, 50.0),
        "ms",
    );

    let mut vectored = Vec::new();
    for _ in 0..50 {
        let ranges: Vec<_> = (0..16)
            .map(|_| {
                let s = rng.random_range(0..OBJECT_BYTES - SMALL_READ);
                s..s + SMALL_READ
            })
            .collect();
        let t = Instant::now();
        store.get_ranges(&path, &ranges).await?;
        vectored.push(t.elapsed());
    }
    report.record(
        CELL,
        backend,
        "vectored_16x4KiB_p50",
        percentile_ms(&mut vectored, 50.0),
        "ms",
    );

    let t = Instant::now();
    let mut offset = 0;
    while offset < OBJECT_BYTES {
        store.get_range(&path, offset..offset + LARGE_READ).await?;
        offset += LARGE_READ;
    }
    report.record(
        CELL,
        backend,
        "range_8MiB_throughput",
        mb_per_s(OBJECT_BYTES, t.elapsed()),
        "MB/s",
    );

    let t = Instant::now();
    let whole = store.get(&path).await?;
    anyhow::ensure!(
        whole == data,
        "whole-object read differs from what was written"
    );
    report.record(
        CELL,
        backend,
        "get_64MiB_throughput",
        mb_per_s(OBJECT_BYTES, t.elapsed()),
        "MB/s",
    );
    store.delete(&path).await?;
    Ok(())
}

fn mb_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / 1e6 / elapsed.as_secs_f64().max(1e-9)
}
