//! Temporary databases for tests: each lives in its own temporary directory, removed with it.

use std::path::PathBuf;

use tempfile::TempDir;

/// A SQLite database file in a fresh temporary directory (not created until opened).
pub struct TempSqlite {
    dir: TempDir,
}

impl TempSqlite {
    /// A new, empty temporary directory for the database.
    pub fn new() -> TempSqlite {
        TempSqlite {
            dir: tempfile::Builder::new()
                .prefix("accord-db-test")
                .tempdir()
                .expect("tempdir"),
        }
    }

    /// The database file.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("accord.db")
    }

    /// Its `sqlite://` URL.
    pub fn url(&self) -> String {
        sqlite_url(&self.path())
    }
}

impl Default for TempSqlite {
    fn default() -> Self {
        Self::new()
    }
}

/// The `sqlite://` URL of a database file.
pub fn sqlite_url(path: &std::path::Path) -> String {
    format!("sqlite://{}", path.display())
}
