//! One real `accord-server` process for a test: the real binary on `127.0.0.1:0`, a temporary
//! directory holding its SQLite database, its plugin directory (copies of the real libraries)
//! and its log.
//!
//! Guarantee: the server never outlives the test process. It runs under a small `sh` guard that
//! kills it when the guard's standard input closes — when the [`ServerProcess`] is dropped, or
//! when the test process exits, so a server kept in a `static` for a whole test file stops too.
//! The guard exits with the server's own exit status, so a graceful stop can be checked.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::artifacts::{BARGAINING, PRESSURE, UNANIMITY, WEIGHTED, build_dir, server_bin};
use crate::database::sqlite_url;

/// How a test server is started.
#[derive(Debug, Clone)]
pub struct Options {
    /// Libraries copied into the plugin directory and loaded at start (`--plugins`).
    pub plugins: Vec<String>,
    /// Further libraries copied into the plugin directory but not loaded: (library in the build
    /// directory, file name in the plugin directory).
    pub extra: Vec<(String, String)>,
    /// `--policy-timeout-ms`.
    pub policy_timeout_ms: Option<u64>,
    /// `--operator-token`.
    pub operator_token: Option<String>,
    /// `--default-policy`.
    pub default_policy: Option<String>,
    /// `--shutdown-grace-ms`.
    pub shutdown_grace_ms: u64,
    /// `--database-url`; `None`: a SQLite file in the server's temporary directory. Several
    /// servers given one PostgreSQL URL are replicas of one alliance.
    pub database_url: Option<String>,
    /// Also serve the web interface (`--web-listen 127.0.0.1:0`); its address is
    /// [`ServerProcess::web`].
    pub web: bool,
    /// TLS: `--tls-cert`, `--tls-key` and, for client certificates, `--tls-client-ca`.
    pub tls: Option<TlsOptions>,
    /// `--plugin-pins`.
    pub plugin_pins: Vec<String>,
    /// Serve Prometheus metrics (`--metrics-listen 127.0.0.1:0`); the address is
    /// [`ServerProcess::metrics_addr`].
    pub metrics: bool,
    /// `--otlp-endpoint`.
    pub otlp_endpoint: Option<String>,
    /// Further flags, as given.
    pub args: Vec<String>,
}

/// The TLS files of a test server (see `trust::Pki`).
#[derive(Debug, Clone)]
pub struct TlsOptions {
    /// Server certificate (PEM file).
    pub cert: PathBuf,
    /// Server key (PEM file).
    pub key: PathBuf,
    /// CA of client certificates (PEM file), for mTLS.
    pub client_ca: Option<PathBuf>,
    /// The CA certificate clients trust (PEM text).
    pub ca_pem: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            plugins: vec![
                UNANIMITY.into(),
                WEIGHTED.into(),
                PRESSURE.into(),
                BARGAINING.into(),
            ],
            extra: Vec::new(),
            policy_timeout_ms: None,
            operator_token: None,
            default_policy: None,
            shutdown_grace_ms: 5000,
            database_url: None,
            web: false,
            tls: None,
            plugin_pins: Vec::new(),
            args: Vec::new(),
            metrics: false,
            otlp_endpoint: None,
        }
    }
}

impl Options {
    /// The same options on the database at `url` (e.g. a `TempPostgres` database).
    pub fn on_database(mut self, url: impl Into<String>) -> Self {
        self.database_url = Some(url.into());
        self
    }

    /// Default options with a random operator token: authentication on, every caller needs a
    /// credential (the test clients of `grpc::TestServer` carry them).
    pub fn secured() -> Self {
        Self {
            operator_token: Some(crate::trust::random_token()),
            ..Self::default()
        }
    }

    /// Also copies `libraries` into the plugin directory under their own names (not loaded).
    pub fn with_extra(mut self, libraries: &[&str]) -> Self {
        self.extra
            .extend(libraries.iter().map(|s| (s.to_string(), s.to_string())));
        self
    }
}

/// The guard: starts the server, prints its pid, lets go of the stdout pipe (so that only the
/// server holds it), kills the server when the guard's stdin reaches end of file, and exits with
/// the server's status.
const GUARD: &str = r#"server="$1"; shift
"$server" "$@" &
pid=$!
echo "accord-test-guard server-pid $pid"
exec >/dev/null
exec 3<&0
( read -r _ <&3 || true; kill "$pid" 2>/dev/null ) &
wait "$pid"
exit $?"#;

/// How long a stopping server may take before the test kills it and fails.
pub const STOP_LIMIT: Duration = Duration::from_secs(30);

/// A running `accord-server` with its own database and plugin directory.
pub struct ServerProcess {
    guard: Option<Child>,
    stdin: Option<ChildStdin>,
    pid: u32,
    /// The address it listens on (changes on restart).
    pub addr: SocketAddr,
    /// The web interface's address, when [`Options::web`] is set (changes on restart).
    pub web: Option<SocketAddr>,
    /// The address of its metrics endpoint, if [`Options::metrics`] (changes on restart).
    pub metrics_addr: Option<SocketAddr>,
    dir: TempDir,
    options: Options,
    starts: u32,
}

impl ServerProcess {
    /// Starts a server with `options` on a fresh temporary database and plugin directory.
    pub fn start(options: Options) -> ServerProcess {
        let dir = tempfile::Builder::new()
            .prefix("accord-server-test")
            .tempdir()
            .expect("tempdir");
        let plugin_dir = dir.path().join("plugins");
        std::fs::create_dir(&plugin_dir).expect("plugin dir");
        let copies = options
            .plugins
            .iter()
            .map(|p| (p.clone(), p.clone()))
            .chain(options.extra.iter().cloned());
        for (from, to) in copies {
            let from = build_dir().join(from);
            assert!(from.is_file(), "{} is missing", from.display());
            std::fs::copy(&from, plugin_dir.join(to)).expect("copy plugin library");
        }
        let mut server = ServerProcess {
            guard: None,
            stdin: None,
            pid: 0,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            web: None,
            metrics_addr: None,
            dir,
            options,
            starts: 0,
        };
        server.spawn();
        server
    }

    /// Starts a server with the three bundled policies.
    pub fn start_default() -> ServerProcess {
        Self::start(Options::default())
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The options it was started with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The temporary directory holding the database, the plugin directory and the logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The plugin directory.
    pub fn plugin_dir(&self) -> PathBuf {
        self.dir.path().join("plugins")
    }

    /// The database URL it was started with.
    pub fn database_url(&self) -> String {
        self.options
            .database_url
            .clone()
            .unwrap_or_else(|| sqlite_url(&self.database()))
    }

    /// The database file (of a server on SQLite).
    pub fn database(&self) -> PathBuf {
        self.dir.path().join("accord.db")
    }

    /// The server's log (stderr) of its latest start.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join(format!("server-{}.log", self.starts))
    }

    /// The server's process id (of its latest start).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Kills the server with SIGKILL (no chance to clean up) and waits for it.
    pub fn kill9(&mut self) {
        if self.guard.is_some() {
            signal(self.pid, "-KILL");
            let until = Instant::now() + STOP_LIMIT;
            while self.poll_stopped(until).is_none() {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    /// Stops the server with SIGTERM (graceful shutdown), waits for it and asserts that it
    /// exited cleanly. (Async tests use `grpc::TestServer::stop`, which waits without blocking
    /// the runtime their own calls run on.)
    pub fn stop(&mut self) {
        if !self.begin_stop() {
            return;
        }
        let until = Instant::now() + STOP_LIMIT;
        loop {
            if let Some(code) = self.poll_stopped(until) {
                self.assert_clean_exit(code);
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM; false if the server is not running.
    pub fn begin_stop(&mut self) -> bool {
        if self.guard.is_none() {
            return false;
        }
        signal(self.pid, "-TERM");
        true
    }

    /// After [`Self::begin_stop`]: the server's exit code once it has exited (`Some(None)` when
    /// killed by a signal), `None` while it still runs. Kills it and panics past `until`.
    pub fn poll_stopped(&mut self, until: Instant) -> Option<Option<i32>> {
        let guard = self.guard.as_mut()?;
        if let Some(status) = guard.try_wait().expect("wait for the server") {
            self.guard = None;
            // Let the guard's watcher go.
            drop(self.stdin.take());
            return Some(status.code());
        }
        if Instant::now() > until {
            signal(self.pid, "-KILL");
            let _ = guard.kill();
            let _ = guard.wait();
            self.guard = None;
            drop(self.stdin.take());
            panic!("the server did not stop in time; log:\n{}", self.log());
        }
        None
    }

    /// Asserts that a stop ended with exit code 0.
    pub fn assert_clean_exit(&self, code: Option<i32>) {
        assert!(
            code == Some(0),
            "the server should exit cleanly on SIGTERM, got {code:?}; log:\n{}",
            self.log()
        );
    }

    /// Starts the server again on the same database and plugin directory (killing it first with
    /// SIGKILL if it is still running).
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    fn spawn(&mut self) {
        self.starts += 1;
        let log = std::fs::File::create(self.log_path()).expect("log file");
        let options = &self.options;
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(GUARD)
            .arg("accord-server-guard")
            .arg(server_bin())
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--database-url")
            .arg(self.database_url())
            .arg("--plugin-dir")
            .arg(self.plugin_dir())
            .arg("--plugins")
            .arg(options.plugins.join(","))
            .arg("--shutdown-grace-ms")
            .arg(options.shutdown_grace_ms.to_string());
        if let Some(ms) = options.policy_timeout_ms {
            command.arg("--policy-timeout-ms").arg(ms.to_string());
        }

        if let Some(policy) = &options.default_policy {
            command.arg("--default-policy").arg(policy);
        }
        if let Some(tls) = &options.tls {
            command.arg("--tls-cert").arg(&tls.cert);
            command.arg("--tls-key").arg(&tls.key);
            if let Some(ca) = &tls.client_ca {
                command.arg("--tls-client-ca").arg(ca);
            }
        }
        if !options.plugin_pins.is_empty() {
            command
                .arg("--plugin-pins")
                .arg(options.plugin_pins.join(","));
        }
        command.args(&options.args);
        if options.web {
            command.arg("--web-listen").arg("127.0.0.1:0");
        }
        if options.metrics {
            command.arg("--metrics-listen").arg("127.0.0.1:0");
        }
        if let Some(endpoint) = &options.otlp_endpoint {
            command.arg("--otlp-endpoint").arg(endpoint);
        }
        // Nothing from the environment of the test run may change the server's configuration.
        for (key, _) in std::env::vars() {
            if key.starts_with("ACCORD_") {
                command.env_remove(key);
            }
        }
        if let Some(token) = &options.operator_token {
            // Through the environment, not argv, as an operator should.
            command.env("ACCORD_OPERATOR_TOKEN", token);
        }
        let mut guard = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start the server guard");
        let stdin = guard.stdin.take();
        let stdout = guard.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(pid) = line.strip_prefix("accord-test-guard server-pid ") {
                    let _ = tx.send(Line::Pid(pid.trim().parse().expect("a pid")));
                } else if let Some(addr) =
                    line.strip_prefix("accord-server web listening on http://")
                {
                    let _ = tx.send(Line::Web(addr.trim().to_string()));
                } else if let Some(url) = line.strip_prefix("accord-server metrics on http://") {
                    let addr = url.trim().trim_end_matches("/metrics").to_string();
                    let _ = tx.send(Line::Metrics(addr));
                } else if let Some(addr) = line.strip_prefix("accord-server listening on ") {
                    let _ = tx.send(Line::Addr(addr.trim().to_string()));
                }
            }
        });
        let until = Instant::now() + Duration::from_secs(120);
        let mut pid = None;
        let mut web = None;
        let mut metrics_addr = None;
        let addr = loop {
            let left = until.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(Line::Pid(p)) => pid = Some(p),
                Ok(Line::Web(addr)) => web = Some(addr.parse().expect("a socket address")),
                Ok(Line::Metrics(addr)) => {
                    metrics_addr = Some(addr.parse().expect("a socket address"));
                }
                Ok(Line::Addr(addr)) => break addr,
                Err(e) => {
                    let _ = guard.kill();
                    let status = guard.wait().ok();
                    panic!(
                        "accord-server did not start listening ({e:?}, guard {status:?}); log:\n{}",
                        self.log()
                    );
                }
            }
        };
        self.pid = pid.expect("the guard prints the server's pid first");
        self.addr = addr.parse().expect("a socket address");
        self.web = web;
        assert_eq!(
            metrics_addr.is_some(),
            self.options.metrics,
            "the server announces a metrics address exactly when asked to serve metrics"
        );
        self.metrics_addr = metrics_addr;
        self.stdin = stdin;
        self.guard = Some(guard);
    }
}

enum Line {
    Pid(u32),
    Web(String),
    Metrics(String),
    Addr(String),
}

fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(signal)
        .arg(pid.to_string())
        .status();
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- accord-server log (start {}) ---\n{}",
                self.starts,
                self.log()
            );
        }
        // A test that is over needs no graceful stop: SIGKILL, then let the guard go.
        if let Some(mut guard) = self.guard.take() {
            signal(self.pid, "-KILL");
            drop(self.stdin.take());
            let _ = guard.wait();
        }
    }
}
