//! From a URI and options to a configured backend.
//!
//! The scheme picks the backend; the options are `object_store`'s own
//! configuration keys for that backend (`aws_endpoint`, `azure_storage_account_name`,
//! `google_service_account`, …) plus infino's knobs in [`StoreConfig`]. A key
//! that neither the backend nor infino knows is rejected by name, so a typo
//! or an option meant for another cloud never passes silently.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, LazyLock, Mutex};

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{BackoffConfig, ObjectStore, RetryConfig};

use crate::config::StoreConfig;
use crate::error::{Result, StoreError};
use crate::local_cas::LocalCasStore;

/// Which kind of backend a URI selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendKind {
    /// `memory://[name]`: process-local, for tests and demos.
    Memory,
    /// A plain path or `file://`: a local directory.
    Local,
    /// `s3://bucket[/prefix]`: Amazon S3 or an S3-compatible server.
    S3,
    /// `az://container[/prefix]`: Azure Blob Storage (or Azurite).
    Azure,
    /// `gs://bucket[/prefix]`: Google Cloud Storage.
    Gcs,
}

impl BackendKind {
    /// Short human name, used in messages.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Memory => "memory",
            BackendKind::Local => "local filesystem",
            BackendKind::S3 => "S3",
            BackendKind::Azure => "Azure Blob",
            BackendKind::Gcs => "Google Cloud Storage",
        }
    }

    /// Whether requests cross a network (and so are retried and priced).
    pub fn is_remote(self) -> bool {
        matches!(
            self,
            BackendKind::S3 | BackendKind::Azure | BackendKind::Gcs
        )
    }
}

/// A backend ready to use, before infino's decorators are applied.
pub(crate) struct Backend {
    pub(crate) kind: BackendKind,
    pub(crate) store: Arc<dyn ObjectStore>,
    /// Key prefix under which everything of this store lives.
    pub(crate) prefix: Path,
    /// Names the bucket (or directory, or named memory store) and endpoint,
    /// so disk-cache entries of different backends never mix.
    pub(crate) id: String,
    pub(crate) config: StoreConfig,
}

/// Named in-memory stores, so two connections to `memory://name` share data.
static NAMED_MEMORY: LazyLock<Mutex<HashMap<String, Arc<InMemory>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Parse `uri` and `options` into a backend.
pub(crate) fn open_backend(uri: &str, options: &[(String, String)]) -> Result<Backend> {
    let invalid = |reason: &str| StoreError::InvalidUri {
        uri: uri.to_owned(),
        reason: reason.to_owned(),
    };
    if uri.trim().is_empty() {
        return Err(invalid("empty URI"));
    }
    let Some((scheme, rest)) = uri.split_once("://") else {
        return open_local(uri, uri, options);
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme == "file" {
        if !rest.starts_with('/') {
            return Err(invalid(
                "file:// URIs need an absolute path, as in file:///data/tables",
            ));
        }
        return open_local(uri, rest, options);
    }
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let prefix = parse_prefix(uri, path)?;
    match scheme.as_str() {
        "memory" => {
            let (config, leftover) = StoreConfig::from_options(options)?;
            reject_leftover(&leftover, BackendKind::Memory)?;
            let store: Arc<dyn ObjectStore> = if host.is_empty() {
                Arc::new(InMemory::new())
            } else {
                let mut named = NAMED_MEMORY
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let entry = named
                    .entry(host.to_owned())
                    .or_insert_with(|| Arc::new(InMemory::new()));
                Arc::clone(entry) as Arc<dyn ObjectStore>
            };
            let id = if host.is_empty() {
                format!("memory-private://{}", uuid::Uuid::new_v4().simple())
            } else {
                format!("memory://{host}")
            };
            Ok(Backend {
                kind: BackendKind::Memory,
                store,
                prefix,
                id,
                config,
            })
        }
        "s3" | "s3a" => {
            if host.is_empty() {
                return Err(invalid("s3:// needs a bucket, as in s3://bucket/prefix"));
            }
            let (config, leftover) = StoreConfig::from_options(options)?;
            let mut builder = AmazonS3Builder::new().with_bucket_name(host);
            for (key, value) in &leftover {
                let parsed =
                    AmazonS3ConfigKey::from_str(key).map_err(|_| unknown(key, BackendKind::S3))?;
                builder = builder.with_config(parsed, value);
            }
            let store = builder
                .with_retry(retry_config(&config))
                .build()
                .map_err(|e| build_error(uri, &e))?;
            Ok(Backend {
                kind: BackendKind::S3,
                store: Arc::new(store),
                prefix,
                id: remote_id("s3", host, &leftover),
                config,
            })
        }
        "az" | "azure" | "abfs" | "abfss" => {
            if host.is_empty() {
                return Err(invalid(
                    "az:// needs a container, as in az://container/prefix",
                ));
            }
            let (config, leftover) = StoreConfig::from_options(options)?;
            let mut builder = MicrosoftAzureBuilder::new().with_container_name(host);
            for (key, value) in &leftover {
                let parsed =
                    AzureConfigKey::from_str(key).map_err(|_| unknown(key, BackendKind::Azure))?;
                builder = builder.with_config(parsed, value);
            }
            let store = builder
                .with_retry(retry_config(&config))
                .build()
                .map_err(|e| build_error(uri, &e))?;
            Ok(Backend {
                kind: BackendKind::Azure,
                store: Arc::new(store),
                prefix,
                id: remote_id("az", host, &leftover),
                config,
            })
        }
        "gs" | "gcs" => {
            if host.is_empty() {
                return Err(invalid("gs:// needs a bucket, as in gs://bucket/prefix"));
            }
            let (config, leftover) = StoreConfig::from_options(options)?;
            let mut builder = GoogleCloudStorageBuilder::new().with_bucket_name(host);
            for (key, value) in &leftover {
                let parsed =
                    GoogleConfigKey::from_str(key).map_err(|_| unknown(key, BackendKind::Gcs))?;
                builder = builder.with_config(parsed, value);
            }
            let store = builder
                .with_retry(retry_config(&config))
                .build()
                .map_err(|e| build_error(uri, &e))?;
            Ok(Backend {
                kind: BackendKind::Gcs,
                store: Arc::new(store),
                prefix,
                id: remote_id("gs", host, &leftover),
                config,
            })
        }
        _ => Err(StoreError::UnsupportedScheme {
            scheme,
            uri: uri.to_owned(),
        }),
    }
}

/// A local directory (created if missing) with conditional replace added.
fn open_local(uri: &str, dir: &str, options: &[(String, String)]) -> Result<Backend> {
    let (config, leftover) = StoreConfig::from_options(options)?;
    reject_leftover(&leftover, BackendKind::Local)?;
    let io_err = |source| StoreError::LocalIo {
        op: "open",
        path: dir.to_owned(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io_err)?;
    let root = std::fs::canonicalize(dir).map_err(io_err)?;
    let fs = LocalFileSystem::new_with_prefix(&root)
        .map_err(|e| StoreError::InvalidUri {
            uri: uri.to_owned(),
            reason: e.to_string(),
        })?
        .with_automatic_cleanup(true);
    let store = Arc::new(LocalCasStore::new(
        fs,
        &root,
        crate::config::immutable_suffixes(),
    ));
    Ok(Backend {
        kind: BackendKind::Local,
        store,
        prefix: Path::default(),
        id: format!("file://{}", root.display()),
        config,
    })
}

/// `scheme://host` plus every endpoint or account option, in key order.
fn remote_id(scheme: &str, host: &str, options: &[(String, String)]) -> String {
    let mut where_: Vec<String> = options
        .iter()
        .filter(|(k, _)| k.contains("endpoint") || k.contains("account_name"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    where_.sort();
    format!("{scheme}://{host}?{}", where_.join("&"))
}

fn parse_prefix(uri: &str, path: &str) -> Result<Path> {
    Path::parse(path.trim_matches('/')).map_err(|e| StoreError::InvalidUri {
        uri: uri.to_owned(),
        reason: e.to_string(),
    })
}

fn unknown(key: &str, backend: BackendKind) -> StoreError {
    StoreError::UnknownOption {
        key: key.to_owned(),
        backend: backend.name(),
    }
}

fn reject_leftover(leftover: &[(String, String)], backend: BackendKind) -> Result<()> {
    match leftover.first() {
        Some((key, _)) => Err(unknown(key, backend)),
        None => Ok(()),
    }
}

fn build_error(uri: &str, err: &object_store::Error) -> StoreError {
    StoreError::InvalidUri {
        uri: uri.to_owned(),
        reason: format!("cannot configure the backend: {err}"),
    }
}

fn retry_config(config: &StoreConfig) -> RetryConfig {
    let backoff = BackoffConfig {
        init_backoff: config.backoff_initial,
        max_backoff: config.backoff_max,
        base: 2.0,
    };
    RetryConfig {
        backoff,
        max_retries: config.max_retries,
        retry_timeout: config.retry_timeout,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn open(uri: &str, options: &[(&str, &str)]) -> Result<Backend> {
        let options: Vec<(String, String)> = options
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        open_backend(uri, &options)
    }

    #[test]
    fn schemes_select_backends() {
        assert_eq!(
            open("memory://", &[]).map(|b| b.kind).ok(),
            Some(BackendKind::Memory)
        );
        let s3 = open("s3://bkt/some/prefix", &[("aws_region", "us-east-1")]).expect("s3");
        assert_eq!(s3.kind, BackendKind::S3);
        assert_eq!(s3.prefix.as_ref(), "some/prefix");
        let az = open(
            "az://ctr",
            &[
                ("azure_storage_account_name", "acct"),
                ("azure_storage_account_key", "a2V5"),
            ],
        );
        assert_eq!(az.map(|b| b.kind).ok(), Some(BackendKind::Azure));
        let gs = open("gs://bkt/p", &[("google_service_account_key", "{}")]);
        assert!(matches!(
            gs.map(|b| b.kind),
            Ok(BackendKind::Gcs) | Err(StoreError::InvalidUri { .. })
        ));
        let dir = tempfile::tempdir().expect("tempdir");
        let local = open(dir.path().to_str().expect("utf8"), &[]).expect("local");
        assert_eq!(local.kind, BackendKind::Local);
        let file_uri = format!("file://{}", dir.path().display());
        assert_eq!(
            open(&file_uri, &[]).map(|b| b.kind).ok(),
            Some(BackendKind::Local)
        );
    }

    #[test]
    fn bad_uris_are_typed() {
        assert!(matches!(open("", &[]), Err(StoreError::InvalidUri { .. })));
        assert!(
            matches!(open("ftp://x/y", &[]), Err(StoreError::UnsupportedScheme { scheme, .. }) if scheme == "ftp")
        );
        assert!(matches!(
            open("s3://", &[]),
            Err(StoreError::InvalidUri { .. })
        ));
        assert!(matches!(
            open("file://relative/path", &[]),
            Err(StoreError::InvalidUri { .. })
        ));
        assert!(matches!(
            open("s3://bkt/a/../b", &[]),
            Err(StoreError::InvalidUri { .. })
        ));
    }

    #[test]
    fn unknown_and_cross_backend_options_are_named() {
        let err = open("s3://bkt", &[("aws_endpoit", "http://x")]).err();
        assert!(
            matches!(err, Some(StoreError::UnknownOption { ref key, backend: "S3" }) if key == "aws_endpoit")
        );
        let err = open("az://ctr", &[("aws_endpoint", "http://x")]).err();
        assert!(
            matches!(err, Some(StoreError::UnknownOption { ref key, .. }) if key == "aws_endpoint")
        );
        let err = open("memory://", &[("aws_region", "x")]).err();
        assert!(
            matches!(err, Some(StoreError::UnknownOption { ref key, backend: "memory" }) if key == "aws_region")
        );
        let err = open("memory://", &[("coalesce_gap", "lots")]).err();
        assert!(matches!(err, Some(StoreError::InvalidOptionValue { .. })));
    }

    #[test]
    fn named_memory_stores_are_shared() {
        let a = open("memory://shared-test", &[]).expect("a");
        let b = open("memory://shared-test", &[]).expect("b");
        assert!(Arc::ptr_eq(&a.store, &b.store));
        let c = open("memory://", &[]).expect("c");
        let d = open("memory://", &[]).expect("d");
        assert!(!Arc::ptr_eq(&c.store, &d.store));
    }

    #[test]
    fn retry_knobs_reach_the_config() {
        let b = open(
            "s3://bkt",
            &[("max_retries", "2"), ("retry_timeout_ms", "1500")],
        )
        .expect("s3");
        assert_eq!(b.config.max_retries, 2);
        assert_eq!(b.config.retry_timeout, Duration::from_millis(1500));
    }
}
