//! [`Connection`]: the catalog of tables under one storage root.
//!
//! Layout under the root: `_catalog/<table>` claims a name (created with
//! create-if-absent, so two processes creating the same table cannot both
//! win), and everything of a table lives under `<table>/`.

use arrow::datatypes::SchemaRef;
use infino_store::{Path, Store, StoreError};
use infino_superfile::{IndexSpec, SuperfileWriter, WriterOptions};

use crate::error::{Result, TableError};
use crate::manifest::{Manifest, version_path};
use crate::table::Table;
use crate::versions;

/// Options of a new table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableOptions {
    /// The column [`Table::upsert`] matches rows by (an integer or string
    /// column). Appends do not check it; upserts keep it unique among the
    /// rows they write.
    pub key: Option<String>,
    /// Rows per superfile appends aim at (default
    /// [`TARGET_ROWS_PER_FILE`](crate::TARGET_ROWS_PER_FILE)); an append
    /// splits its rows into the fewest equal shards within the targets.
    pub target_rows: Option<u64>,
    /// In-memory Arrow bytes per superfile appends aim at (unbounded by
    /// default): wide rows (long texts, large vectors) then get smaller
    /// files than the row target alone would give.
    pub target_bytes: Option<u64>,
}

impl TableOptions {
    /// Declare `column` as the key.
    pub fn with_key(mut self, column: impl Into<String>) -> Self {
        self.key = Some(column.into());
        self
    }

    /// Aim appends at `rows` rows per superfile.
    pub fn with_target_rows(mut self, rows: u64) -> Self {
        self.target_rows = Some(rows);
        self
    }

    /// Aim appends at `bytes` bytes of Arrow data per superfile.
    pub fn with_target_bytes(mut self, bytes: u64) -> Self {
        self.target_bytes = Some(bytes);
        self
    }
}

/// A connection to a storage root holding tables.
#[derive(Debug, Clone)]
pub struct Connection {
    store: Store,
}

fn catalog_path(name: &str) -> Path {
    Path::from(format!("_catalog/{name}"))
}

fn check_name(name: &str) -> Result<()> {
    let invalid = |reason| {
        Err(TableError::InvalidName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() || name.len() > 128 {
        return invalid("use 1 to 128 characters");
    }
    if name.starts_with('_') {
        return invalid("names starting with `_` are reserved");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return invalid("use ASCII letters, digits, `_` and `-`");
    }
    Ok(())
}

impl Connection {
    /// Connect to `uri` (any URI `Store::open` accepts) with default options.
    ///
    /// # Errors
    /// As `Store::open_with`.
    pub fn connect(uri: &str) -> Result<Self> {
        Ok(Self {
            store: Store::open(uri)?,
        })
    }

    /// Connect with storage options.
    ///
    /// # Errors
    /// As `Store::open_with`.
    pub fn connect_with<K: Into<String>, V: Into<String>>(
        uri: &str,
        options: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self> {
        Ok(Self {
            store: Store::open_with(uri, options)?,
        })
    }

    /// The storage handle (for its I/O counters).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Create an empty table at version 0.
    ///
    /// # Errors
    /// [`TableError::InvalidName`], [`TableError::TableExists`],
    /// [`TableError::Superfile`] for a spec that does not fit the schema.
    pub async fn create_table(
        &self,
        name: &str,
        schema: SchemaRef,
        spec: &IndexSpec,
    ) -> Result<Table> {
        self.create_table_with(name, schema, spec, &TableOptions::default())
            .await
    }

    /// [`Connection::create_table`] with table options (a key column for
    /// [`Table::upsert`]).
    ///
    /// # Errors
    /// As [`Connection::create_table`]; [`TableError::Key`] for a key that
    /// is not an integer or string column of `schema`.
    pub async fn create_table_with(
        &self,
        name: &str,
        schema: SchemaRef,
        spec: &IndexSpec,
        options: &TableOptions,
    ) -> Result<Table> {
        check_name(name)?;
        SuperfileWriter::new(schema.clone(), spec, &WriterOptions::default())?;
        let mut manifest = Manifest::create(name, &schema, spec)?;
        if let Some(key) = &options.key {
            let key_error = |reason: String| TableError::Key {
                table: name.to_owned(),
                reason,
            };
            let field = schema
                .field_with_name(key)
                .map_err(|_| key_error(format!("no column `{key}` to serve as the key")))?;
            use arrow::datatypes::DataType as T;
            if !matches!(
                field.data_type(),
                T::Int32 | T::Int64 | T::UInt32 | T::UInt64 | T::Utf8 | T::LargeUtf8
            ) {
                return Err(key_error(format!(
                    "key `{key}` is {}; use an integer or string column",
                    field.data_type()
                )));
            }
            manifest.key = Some(key.clone());
        }
        for (what, target) in [
            ("target_rows", options.target_rows),
            ("target_bytes", options.target_bytes),
        ] {
            if target == Some(0) {
                return Err(TableError::InvalidOption {
                    table: name.to_owned(),
                    reason: format!("{what} must be at least 1"),
                });
            }
        }
        manifest.target_rows = options.target_rows;
        manifest.target_bytes = options.target_bytes;
        manifest.commit_id = uuid::Uuid::new_v4().to_string();
        manifest.timestamp_ms = versions::now_ms();
        match self
            .store
            .create_if_absent(&catalog_path(name), manifest.commit_id.clone().into())
            .await
        {
            Ok(_) => {}
            Err(StoreError::AlreadyExists { .. }) => {
                return Err(TableError::TableExists(name.to_owned()));
            }
            Err(e) => return Err(e.into()),
        }
        match self
            .store
            .create_if_absent(&version_path(name, 0), manifest.encode())
            .await
        {
            Ok(_) => Table::from_manifest(self.store.clone(), manifest),
            Err(StoreError::AlreadyExists { .. }) => Err(TableError::TableExists(name.to_owned())),
            Err(e) => Err(e.into()),
        }
    }

    /// The table at its latest version.
    ///
    /// # Errors
    /// [`TableError::NoSuchTable`], storage errors, a corrupt manifest.
    pub async fn open_table(&self, name: &str) -> Result<Table> {
        // The catalog check and the manifest reads go out together.
        let (known, latest) =
            futures::join!(self.require(name), versions::read_latest(&self.store, name));
        known?;
        Table::from_manifest(self.store.clone(), latest?)
    }

    /// The table at `version` (time travel).
    ///
    /// # Errors
    /// [`TableError::NoSuchVersion`], [`TableError::NoSuchTable`], storage errors.
    pub async fn open_table_at(&self, name: &str, version: u64) -> Result<Table> {
        self.require(name).await?;
        let manifest = versions::read_version(&self.store, name, version).await?;
        Table::from_manifest(self.store.clone(), manifest)
    }

    /// Names of all tables, sorted.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn list_tables(&self) -> Result<Vec<String>> {
        let entries = self.store.list(Some(&Path::from("_catalog"))).await?;
        Ok(entries
            .iter()
            .filter_map(|e| e.path.filename().map(str::to_owned))
            .collect())
    }

    /// Drop a table: its files, then its catalog entry. Readers holding a
    /// handle keep it but will fail to read deleted files.
    ///
    /// # Errors
    /// [`TableError::NoSuchTable`], storage errors.
    pub async fn drop_table(&self, name: &str) -> Result<()> {
        self.require(name).await?;
        for object in self.store.list(Some(&Path::from(name))).await? {
            self.store.delete(&object.path).await?;
        }
        self.store.delete(&catalog_path(name)).await?;
        Ok(())
    }

    async fn require(&self, name: &str) -> Result<()> {
        check_name(name)?;
        match self.store.head(&catalog_path(name)).await {
            Ok(_) => Ok(()),
            Err(StoreError::NotFound { .. }) => Err(TableError::NoSuchTable(name.to_owned())),
            Err(e) => Err(e.into()),
        }
    }
}
