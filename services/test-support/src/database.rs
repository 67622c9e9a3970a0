//! Temporary databases for tests: a SQLite file in its own temporary directory ([`TempSqlite`]),
//! or a fresh database in a PostgreSQL 15 server that the tests start themselves
//! ([`TempPostgres`]), and [`TempDatabase`], either one by [`Backend`], for the suites that run
//! against both.
//!
//! Guarantees: a PostgreSQL server started here runs from `initdb` in a temporary directory
//! (data directory and Unix socket directory inside it) on a free port of 127.0.0.1, is stopped
//! (`pg_ctl stop -m immediate`) and its directory removed when the test process exits — a small
//! `sh` guard does it when its standard input, held by this process, closes — and never outlives
//! the tests. Each test gets a database of its own ([`TempPostgres::database`]). If PostgreSQL
//! cannot be found, the test FAILS with a message saying how to install it: a suite that claims
//! to test both backends never silently tests one.
//!
//! PostgreSQL refuses to run as root: as root, its programs run as the `postgres` user (through
//! `runuser`), and the temporary directory is handed to that user.

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

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

/// The database backends a store test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A database in a PostgreSQL server.
    Postgres,
}

impl Backend {
    /// Every backend.
    pub const ALL: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];
}

/// A fresh temporary database of either backend.
pub enum TempDatabase {
    /// A SQLite file.
    Sqlite(TempSqlite),
    /// A database of the process's shared PostgreSQL server ([`TempPostgres::shared`]).
    Postgres(String),
}

impl TempDatabase {
    /// A new, empty database of `backend`.
    pub fn new(backend: Backend) -> TempDatabase {
        match backend {
            Backend::Sqlite => TempDatabase::Sqlite(TempSqlite::new()),
            Backend::Postgres => TempDatabase::Postgres(TempPostgres::shared().database()),
        }
    }

    /// Its URL (`sqlite://…` or `postgres://…`).
    pub fn url(&self) -> String {
        match self {
            TempDatabase::Sqlite(db) => db.url(),
            TempDatabase::Postgres(url) => url.clone(),
        }
    }

    /// Its backend.
    pub fn backend(&self) -> Backend {
        match self {
            TempDatabase::Sqlite(_) => Backend::Sqlite,
            TempDatabase::Postgres(_) => Backend::Postgres,
        }
    }
}

/// A PostgreSQL server of the tests' own, in a temporary directory (see the module doc).
pub struct TempPostgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    /// The guard's stdin: when it closes (this process exits), the guard stops the server.
    _guard: Mutex<(Child, ChildStdin)>,
}

/// The user PostgreSQL's programs run as when the tests run as root.
const POSTGRES_USER: &str = "postgres";

impl TempPostgres {
    /// The server shared by every test of this process, started on first use.
    pub fn shared() -> &'static TempPostgres {
        static SHARED: OnceLock<TempPostgres> = OnceLock::new();
        SHARED.get_or_init(TempPostgres::start)
    }

    /// Starts a new server (for a test that stops and restarts PostgreSQL itself).
    pub fn start() -> TempPostgres {
        let bin = postgres_bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("accord-pg-test")
            .tempdir()
            .expect("tempdir")
            .keep();
        std::fs::create_dir(dir.join("sock")).expect("socket directory");
        if running_as_root() {
            let status = Command::new("chown")
                .arg("-R")
                .arg(format!("{POSTGRES_USER}:"))
                .arg(&dir)
                .status()
                .expect("run chown");
            assert!(status.success(), "chown {} failed", dir.display());
        }
        run(
            as_postgres(&bin.join("initdb"))
                .arg("-D")
                .arg(dir.join("data"))
                .args(["-U", "accord", "-A", "trust", "-E", "UTF8", "--locale=C"])
                .arg("--no-sync"),
            "initdb",
        );
        // Stop the server and remove its directory when this process exits.
        let pg_ctl = bin.join("pg_ctl");
        let stop = format!(
            "read -r _ || true; {} '{}' -D '{}' stop -m immediate >/dev/null 2>&1; rm -rf '{}'",
            as_postgres_prefix(),
            pg_ctl.display(),
            dir.join("data").display(),
            dir.display()
        );
        let mut guard = Command::new("sh")
            .arg("-c")
            .arg(stop)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the PostgreSQL guard");
        let stdin = guard.stdin.take().expect("piped stdin");
        let server = TempPostgres {
            bin,
            dir,
            port: free_port(),
            _guard: Mutex::new((guard, stdin)),
        };
        server.start_again();
        server
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://accord@127.0.0.1:{}/{name}", self.port)
    }

    /// A new, empty database; returns its URL.
    pub fn database(&self) -> String {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "accord_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        run(
            Command::new(self.bin.join("createdb"))
                .args(["-h", "127.0.0.1", "-U", "accord", "-p"])
                .arg(self.port.to_string())
                .arg(&name),
            "createdb",
        );
        self.url(&name)
    }

    /// Stops the server at once, as a crash would (`pg_ctl stop -m immediate`: no checkpoint;
    /// the next start recovers from the WAL).
    pub fn stop_immediate(&self) {
        run(
            as_postgres(&self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.dir.join("data"))
                .args(["stop", "-m", "immediate", "-w"]),
            "pg_ctl stop -m immediate",
        );
    }

    /// Starts the server (again) on the same data directory and port.
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=300 \
             -c fsync=on -c synchronous_commit=on -c shared_buffers=32MB",
            self.port,
            self.dir.join("sock").display()
        );
        run(
            as_postgres(&self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.dir.join("data"))
                .arg("-l")
                .arg(self.dir.join("postgres.log"))
                .args(["-w", "-t", "60", "-o", &options, "start"]),
            "pg_ctl start",
        );
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default()
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        // Tell the guard to stop the server now (it also would when this process exits).
        if let Ok(mut guard) = self._guard.lock() {
            let _ = guard.1.write_all(b"stop\n");
            let _ = guard.1.flush();
            let _ = guard.0.wait();
        }
    }
}

/// The directory of PostgreSQL's programs: `$ACCORD_PG_BIN`, else `pg_config --bindir`, else
/// the newest `/usr/lib/postgresql/*/bin`. Panics with instructions if there is none.
pub fn postgres_bin_dir() -> PathBuf {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = DIR.get_or_init(|| {
        let has_initdb = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
        if let Some(dir) = std::env::var_os("ACCORD_PG_BIN").map(PathBuf::from) {
            return if has_initdb(&dir) {
                Ok(dir)
            } else {
                Err(format!(
                    "ACCORD_PG_BIN={} holds no initdb and pg_ctl",
                    dir.display()
                ))
            };
        }
        if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if out.status.success() && has_initdb(&dir) {
                return Ok(dir);
            }
        }
        let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let version = e.file_name().to_str()?.parse::<u32>().ok()?;
                Some((version, e.path().join("bin")))
            })
            .filter(|(_, dir)| has_initdb(dir))
            .collect();
        dirs.sort();
        dirs.pop()
            .map(|(_, dir)| dir)
            .ok_or_else(|| "no initdb and pg_ctl in $ACCORD_PG_BIN, pg_config --bindir or /usr/lib/postgresql/*/bin".to_string())
    });
    match found {
        Ok(dir) => dir.clone(),
        Err(why) => panic!(
            "PostgreSQL is needed by these tests and was not found ({why}). Install it \
             (`apt-get install -y postgresql-15`, as .ci/run does) or point ACCORD_PG_BIN at \
             the directory holding initdb and pg_ctl."
        ),
    }
}

fn running_as_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| {
        Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false)
    })
}

/// What runs a program as the PostgreSQL user in a shell command ("" when not root).
fn as_postgres_prefix() -> String {
    if running_as_root() {
        format!("runuser -u {POSTGRES_USER} --")
    } else {
        String::new()
    }
}

/// A command running `program` as the PostgreSQL user.
fn as_postgres(program: &Path) -> Command {
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", POSTGRES_USER, "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// Runs `command` to completion (output to a file, never a pipe a server could keep open);
/// panics with its output if it fails.
fn run(command: &mut Command, what: &str) {
    let out = tempfile::NamedTempFile::new().expect("temporary output file");
    let file = out.reopen().expect("reopen output file");
    let status = command
        .stdin(Stdio::null())
        .stdout(Stdio::from(file.try_clone().expect("clone output file")))
        .stderr(Stdio::from(file))
        .status()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    if !status.success() {
        let output = std::fs::read_to_string(out.path()).unwrap_or_default();
        panic!("{what} failed ({status}):\n{output}");
    }
}

/// A port of 127.0.0.1 that nothing listens on now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    std::thread::sleep(Duration::from_millis(1));
    port
}
