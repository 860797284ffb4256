//! Storage for infino: one [`Store`] handle over any `object_store` backend.
//!
//! A [`Store`] is opened from a URI — `memory://`, a local path or `file://`,
//! `s3://`, `az://`, `gs://` — and options (the backend's own `object_store`
//! keys plus infino's [`StoreConfig`] knobs). It gives the rest of the engine
//! the contract it builds on:
//!
//! - **Exact reads.** [`Store::get_range`] returns exactly the bytes asked for
//!   or a typed error; [`Store::get_suffix`] returns a file's tail and its size
//!   in one request (footers); [`Store::get_ranges`] coalesces nearby ranges
//!   and fetches them concurrently.
//! - **Conditional writes.** [`Store::create_if_absent`] and
//!   [`Store::replace_if_match`] are atomic on every backend — on the local
//!   filesystem through per-key `flock`s, since `object_store` has no
//!   compare-and-swap there — and recover a write whose reply was lost by
//!   reading it back.
//! - **Accounting.** Every request and byte is counted by kind ([`IoStats`]);
//!   [`Store::scoped`] or a [`CostScope`] gives one query its own counters,
//!   an optional [`Budget`] and a priced [`QueryCost`].
//! - **Disk cache.** With `cache_dir` ([`CacheConfig`]), immutable objects
//!   are filled to local disk in the background and later read from a
//!   memory map, within disk and memory budgets, across restarts.
//! - **Retries.** Remote backends retry transient failures (5xx, 429,
//!   timeouts, resets) with jittered exponential backoff; 4xx are final.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use infino_store::{Path, Store, StoreError};
//! let store = Store::open("memory://")?;
//! let path = Path::from("tables/t/_versions/1.manifest");
//! store.create_if_absent(&path, "v1".into()).await?;
//! let again = store.create_if_absent(&path, "other".into()).await;
//! assert!(matches!(again, Err(StoreError::AlreadyExists { .. })));
//! assert_eq!(store.get_range(&path, 1..2).await?, "1");
//! # Ok::<(), StoreError>(())
//! # }).unwrap();
//! ```
//!
//! One query's cost, and a budget it may not pass:
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use infino_store::{Budget, CostScope, Path, PriceTable, RequestKind, Store, StoreError};
//! let store = Store::open("memory://")?;
//! let path = Path::from("t/data/a.sf.parquet");
//! store.put(&path, vec![7u8; 4096].into()).await?;
//! let scope = CostScope::default();
//! scope.run(async { store.get_range(&path, 0..100).await }).await?;
//! let cost = scope.cost();
//! assert_eq!((cost.io.requests(RequestKind::Get), cost.io.bytes_read), (1, 100));
//! let one = Budget { max_requests: Some(1), max_bytes: None };
//! let query = store.scoped_with(one, PriceTable::default());
//! query.get_range(&path, 0..10).await?;
//! let refused = query.get_range(&path, 10..20).await;
//! assert!(matches!(refused, Err(StoreError::BudgetExceeded { .. })));
//! # Ok::<(), StoreError>(())
//! # }).unwrap();
//! ```

mod cache;
mod config;
mod cost;
mod counting;
mod error;
mod local_cas;
mod local_map;
mod location;
mod ranges;
mod scope;
mod store;

pub use cache::CacheStats;
pub use config::{CacheConfig, CacheMode, StoreConfig};
pub use cost::{Budget, BudgetExceeded, BudgetLimit, CostScope, PriceTable, QueryCost};
pub use counting::{IoCounters, IoStats, RequestKind};
pub use error::{Result, StoreError};
pub use location::BackendKind;
pub use object_store::path::Path;
pub use store::{ObjectInfo, ObjectVersion, PutInfo, Store, SuffixRead};
