//! Object-store servers on loopback for tests and benchmarks.
//!
//! The servers are installed and started by `scripts/objstore-servers.sh`, the
//! one script that tests, benchmarks and CI share. A fixture owns one server
//! process: it starts it on free ports in a fresh state directory and stops
//! it by PID when dropped.
//!
//! A missing or broken server fails the test; set `INFINO_SKIP_SERVER_TESTS=1`
//! to skip server-backed tests explicitly instead (for example on a machine
//! without Python or Node).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

/// Which server to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// SeaweedFS `weed mini`: an S3-compatible server.
    SeaweedFs,
    /// Azurite: the Azure Blob Storage emulator.
    Azurite,
}

impl ServerKind {
    fn script_name(self) -> &'static str {
        match self {
            ServerKind::SeaweedFs => "seaweedfs",
            ServerKind::Azurite => "azurite",
        }
    }
}

/// A running server; stopped on drop.
#[derive(Debug)]
pub struct ObjectStoreServer {
    kind: ServerKind,
    env: HashMap<String, String>,
    state: tempfile::TempDir,
}

/// Path of the shared server script.
pub fn script_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/objstore-servers.sh")
}

/// Whether the caller asked to skip server-backed tests.
pub fn skip_requested() -> bool {
    std::env::var("INFINO_SKIP_SERVER_TESTS").is_ok_and(|v| v == "1")
}

impl ObjectStoreServer {
    /// Start a server, or `None` when `INFINO_SKIP_SERVER_TESTS=1`.
    ///
    /// # Panics
    /// When the server cannot be installed or started: a test that needs it
    /// must not pass silently.
    pub fn start_or_skip(kind: ServerKind) -> Option<Self> {
        if skip_requested() {
            eprintln!("skipping {kind:?} tests: INFINO_SKIP_SERVER_TESTS=1");
            return None;
        }
        match Self::start(kind) {
            Ok(server) => Some(server),
            Err(message) => panic!("cannot start {kind:?}: {message}"),
        }
    }

    /// Start a server in a fresh state directory.
    ///
    /// # Errors
    /// The script's stderr when it fails.
    pub fn start(kind: ServerKind) -> Result<Self, String> {
        let state = tempfile::Builder::new()
            .prefix("infino-server-")
            .tempdir()
            .map_err(|e| format!("tempdir: {e}"))?;
        let output = Command::new("bash")
            .arg(script_path())
            .args(["start", kind.script_name()])
            .arg(state.path())
            .output()
            .map_err(|e| format!("running {}: {e}", script_path().display()))?;
        let server = Self {
            kind,
            env: parse_env(&String::from_utf8_lossy(&output.stdout)),
            state,
        };
        if !output.status.success() {
            return Err(format!(
                "{} start {} failed ({}):\n{}",
                script_path().display(),
                kind.script_name(),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(server)
    }

    /// Which server this is.
    pub fn kind(&self) -> ServerKind {
        self.kind
    }

    /// A value the script reported (`INFINO_S3_ENDPOINT`, …).
    pub fn var(&self, key: &str) -> Option<&str> {
        self.env.get(key).map(String::as_str)
    }

    /// A storage URI for `prefix` in the server's bucket/container.
    pub fn uri(&self, prefix: &str) -> String {
        match self.kind {
            ServerKind::SeaweedFs => format!("s3://{}/{prefix}", self.get("INFINO_S3_BUCKET")),
            ServerKind::Azurite => format!("az://{}/{prefix}", self.get("INFINO_AZURE_CONTAINER")),
        }
    }

    /// [`options`](Self::options) with the endpoint replaced by `endpoint`,
    /// e.g. a [`FaultProxy`](crate::fault_proxy::FaultProxy) in front of the
    /// server (signatures still verify: the proxy keeps the Host header).
    pub fn options_through(&self, endpoint: &str) -> Vec<(String, String)> {
        let key = match self.kind {
            ServerKind::SeaweedFs => "aws_endpoint",
            ServerKind::Azurite => "azure_storage_endpoint",
        };
        let mut options = self.options();
        for (k, v) in &mut options {
            if k == key {
                endpoint.clone_into(v);
            }
        }
        options
    }

    /// Storage options (object_store keys) that reach this server.
    pub fn options(&self) -> Vec<(String, String)> {
        let pairs: Vec<(&str, String)> = match self.kind {
            ServerKind::SeaweedFs => vec![
                ("aws_endpoint", self.get("INFINO_S3_ENDPOINT")),
                ("aws_access_key_id", self.get("INFINO_S3_ACCESS_KEY_ID")),
                (
                    "aws_secret_access_key",
                    self.get("INFINO_S3_SECRET_ACCESS_KEY"),
                ),
                ("aws_region", self.get("INFINO_S3_REGION")),
                ("aws_allow_http", "true".to_owned()),
            ],
            ServerKind::Azurite => vec![
                (
                    "azure_storage_account_name",
                    self.get("INFINO_AZURE_ACCOUNT"),
                ),
                ("azure_storage_account_key", self.get("INFINO_AZURE_KEY")),
                ("azure_storage_endpoint", self.get("INFINO_AZURE_ENDPOINT")),
                ("azure_allow_http", "true".to_owned()),
            ],
        };
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    fn get(&self, key: &str) -> String {
        self.env.get(key).cloned().unwrap_or_default()
    }
}

impl Drop for ObjectStoreServer {
    fn drop(&mut self) {
        let status = Command::new("bash")
            .arg(script_path())
            .arg("stop")
            .arg(self.state.path())
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!(
                "warning: stopping {:?} server in {} failed: {status:?}",
                self.kind,
                self.state.path().display()
            );
        }
    }
}

fn parse_env(stdout: &str) -> HashMap<String, String> {
    stdout
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}
