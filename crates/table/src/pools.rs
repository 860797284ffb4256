//! Separate thread pools for building files and for answering queries.
//!
//! CPU work never runs on the async runtime's threads: index builds go to
//! the writer pool, per-file query evaluation to the reader pool, so a
//! large ingest cannot starve searches of threads (and neither blocks the
//! runtime's I/O). Sizes come from `INFINO_WRITER_THREADS` and
//! `INFINO_READER_THREADS`, defaulting to the machine's parallelism.

use std::sync::OnceLock;

use rayon::{ThreadPool, ThreadPoolBuilder};
use tokio::sync::oneshot;

use crate::error::{Result, TableError};

fn pool(
    cell: &'static OnceLock<Option<ThreadPool>>,
    name: &'static str,
    var: &str,
) -> Option<&'static ThreadPool> {
    cell.get_or_init(|| {
        let threads = std::env::var(var)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
        ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(move |i| format!("infino-{name}-{i}"))
            .build()
            .ok()
    })
    .as_ref()
}

static READER: OnceLock<Option<ThreadPool>> = OnceLock::new();
static WRITER: OnceLock<Option<ThreadPool>> = OnceLock::new();

async fn run<T: Send + 'static>(
    pool: Option<&'static ThreadPool>,
    job: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let Some(pool) = pool else {
        // No pool could be started (thread limits): run on tokio's
        // blocking threads instead.
        return tokio::task::spawn_blocking(job)
            .await
            .map_err(|e| TableError::Schema {
                column: String::new(),
                reason: format!("a worker task failed: {e}"),
            })?;
    };
    let (tx, rx) = oneshot::channel();
    pool.spawn(move || {
        let _ = tx.send(job());
    });
    rx.await.map_err(|_| TableError::Schema {
        column: String::new(),
        reason: "a worker thread panicked".into(),
    })?
}

/// Run `job` on the reader pool (query evaluation); `job` may use rayon's
/// parallel iterators, which then stay on that pool.
pub(crate) async fn read<T: Send + 'static>(
    job: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    run(pool(&READER, "reader", "INFINO_READER_THREADS"), job).await
}

/// Run `job` on the writer pool (building superfiles).
pub(crate) async fn write<T: Send + 'static>(
    job: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    run(pool(&WRITER, "writer", "INFINO_WRITER_THREADS"), job).await
}
