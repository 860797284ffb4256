//! infino's own storage knobs, accepted beside the backend's options.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Result, StoreError};

/// How a connection with a disk cache treats an object it has not cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheMode {
    /// `ranged`: read only the ranges asked for; never fill the cache (it
    /// still serves what other connections cached).
    Ranged,
    /// `fill` (default): serve the ranges from the backend now and fetch the
    /// whole object into the cache in the background.
    #[default]
    Fill,
    /// `prefetch`: the first read of an object fetches all of it into the
    /// cache and waits for that; later reads are local.
    Prefetch,
}

/// The opt-in disk cache of immutable objects (superfiles, manifests,
/// deletion vectors). Present only when `cache_dir` is given.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheConfig {
    /// `cache_dir`: where cached objects live; one process per directory.
    pub dir: PathBuf,
    /// `cache_disk_budget`: most bytes of cache files on disk (10 GiB).
    pub disk_budget: u64,
    /// `cache_memory_budget`: most bytes of cached files kept mapped in
    /// memory before the least recently used are advised out (1 GiB).
    pub memory_budget: u64,
    /// `cache_mode`: `ranged`, `fill` or `prefetch`.
    pub mode: CacheMode,
    /// `cache_fill_concurrency`: most whole-object fills running at once (2).
    pub fill_concurrency: usize,
    /// `cache_suffixes`: comma-separated path endings of objects that are
    /// immutable and so may be cached (`.parquet,.manifest,.del`). Never list
    /// a mutable key such as `_latest`.
    pub suffixes: Vec<String>,
}

impl CacheConfig {
    fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            disk_budget: 10 << 30,
            memory_budget: 1 << 30,
            mode: CacheMode::Fill,
            fill_concurrency: 2,
            suffixes: immutable_suffixes(),
        }
    }
}

/// Path endings of the objects infino writes once and never changes:
/// superfiles, manifests, deletion vectors.
pub(crate) fn immutable_suffixes() -> Vec<String> {
    [".parquet", ".manifest", ".del"]
        .map(str::to_owned)
        .to_vec()
}

/// Storage behaviour that is ours rather than the backend's.
///
/// Every field has an option key of the same name (durations in
/// milliseconds with an `_ms` suffix). Retry settings only matter for
/// remote backends; local and memory stores never fail transiently.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StoreConfig {
    /// `put` switches to a multipart upload at this many bytes.
    pub multipart_threshold: u64,
    /// Size of each multipart part (S3 needs at least 5 MiB but the last).
    pub multipart_part_size: u64,
    /// Two ranges of a vectored read closer than this are fetched as one.
    pub coalesce_gap: u64,
    /// Most requests one vectored read keeps in flight.
    pub max_concurrent_requests: usize,
    /// Retries of a transient failure (5xx, 429, timeouts, resets); 4xx never retry.
    pub max_retries: usize,
    /// Give up retrying one request after this long.
    pub retry_timeout: Duration,
    /// First backoff; each retry doubles it, with jitter, up to `backoff_max`.
    pub backoff_initial: Duration,
    /// Longest backoff between two tries.
    pub backoff_max: Duration,
    /// The disk cache, when `cache_dir` is set.
    pub cache: Option<CacheConfig>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            multipart_threshold: 16 << 20,
            multipart_part_size: 8 << 20,
            coalesce_gap: 256 << 10,
            max_concurrent_requests: 16,
            max_retries: 5,
            retry_timeout: Duration::from_secs(60),
            backoff_initial: Duration::from_millis(50),
            backoff_max: Duration::from_secs(5),
            cache: None,
        }
    }
}

const MIN_PART_SIZE: u64 = 5 << 20;

impl StoreConfig {
    /// Take our keys out of `options`; return the config and the options left
    /// for the backend.
    pub(crate) fn from_options(
        options: &[(String, String)],
    ) -> Result<(Self, Vec<(String, String)>)> {
        let mut config = Self::default();
        let mut leftover = Vec::new();
        let mut cache_keys = Vec::new();
        for (key, value) in options {
            let bad = |reason: &str| StoreError::InvalidOptionValue {
                key: key.clone(),
                value: value.clone(),
                reason: reason.to_owned(),
            };
            let number = || {
                value
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| bad("expected a non-negative integer"))
            };
            match key.as_str() {
                "multipart_threshold" => config.multipart_threshold = number()?,
                "multipart_part_size" => {
                    config.multipart_part_size = number()?;
                    if config.multipart_part_size < MIN_PART_SIZE {
                        return Err(bad("parts must be at least 5 MiB (5242880 bytes)"));
                    }
                }
                "coalesce_gap" => config.coalesce_gap = number()?,
                "max_concurrent_requests" => {
                    config.max_concurrent_requests =
                        usize::try_from(number()?.max(1)).map_err(|_| bad("too large"))?;
                }
                "max_retries" => {
                    config.max_retries = usize::try_from(number()?).map_err(|_| bad("too large"))?
                }
                "retry_timeout_ms" => config.retry_timeout = Duration::from_millis(number()?),
                "backoff_initial_ms" => config.backoff_initial = Duration::from_millis(number()?),
                "backoff_max_ms" => config.backoff_max = Duration::from_millis(number()?),
                k if k.starts_with("cache_") => cache_keys.push((key.clone(), value.clone())),
                _ => leftover.push((key.clone(), value.clone())),
            }
        }
        config.cache = cache_from_options(&cache_keys)?;
        Ok((config, leftover))
    }
}

/// The `cache_*` options, or `None` when there is no `cache_dir`.
fn cache_from_options(options: &[(String, String)]) -> Result<Option<CacheConfig>> {
    let Some((_, dir)) = options.iter().find(|(k, _)| k == "cache_dir") else {
        return match options.first() {
            Some((key, value)) => Err(StoreError::InvalidOptionValue {
                key: key.clone(),
                value: value.clone(),
                reason: "cache options need `cache_dir` as well".to_owned(),
            }),
            None => Ok(None),
        };
    };
    if dir.trim().is_empty() {
        return Err(StoreError::InvalidOptionValue {
            key: "cache_dir".to_owned(),
            value: dir.clone(),
            reason: "empty path".to_owned(),
        });
    }
    let mut cache = CacheConfig::new(PathBuf::from(dir));
    for (key, value) in options {
        let bad = |reason: &str| StoreError::InvalidOptionValue {
            key: key.clone(),
            value: value.clone(),
            reason: reason.to_owned(),
        };
        let positive = || match value.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(bad("expected a positive integer")),
        };
        match key.as_str() {
            "cache_dir" => {}
            "cache_disk_budget" => cache.disk_budget = positive()?,
            "cache_memory_budget" => cache.memory_budget = positive()?,
            "cache_fill_concurrency" => {
                cache.fill_concurrency =
                    usize::try_from(positive()?).map_err(|_| bad("too large"))?;
            }
            "cache_mode" => {
                cache.mode = match value.trim() {
                    "ranged" => CacheMode::Ranged,
                    "fill" => CacheMode::Fill,
                    "prefetch" => CacheMode::Prefetch,
                    _ => return Err(bad("expected `ranged`, `fill` or `prefetch`")),
                }
            }
            "cache_suffixes" => {
                cache.suffixes = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                if cache.suffixes.is_empty() {
                    return Err(bad(
                        "expected a comma-separated list such as `.parquet,.manifest`",
                    ));
                }
            }
            _ => {
                return Err(StoreError::UnknownOption {
                    key: key.clone(),
                    backend: "disk cache",
                });
            }
        }
    }
    Ok(Some(cache))
}
