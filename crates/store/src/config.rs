//! infino's own storage knobs, accepted beside the backend's options.

use std::time::Duration;

use crate::error::{Result, StoreError};

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
                _ => leftover.push((key.clone(), value.clone())),
            }
        }
        Ok((config, leftover))
    }
}
