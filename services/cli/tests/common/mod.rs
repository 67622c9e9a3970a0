//! Test harness of the `accord` command line: starts the real `accord-server` binary (from the
//! directory cargo built `accord` into) on 127.0.0.1:0 with a temporary database and plugin
//! directory, and runs the real `accord` binary against it.
//!
//! The server runs under a small `sh` guard that kills it when the guard's standard input
//! closes, so a server shared by every test of a file (kept in a `static`, never dropped) still
//! stops when the test process exits.
#![allow(dead_code)] // each test file uses a different part of the harness

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use tempfile::TempDir;

/// The bundled policy libraries.
pub const UNANIMITY: &str = "libaccord_unanimity.so";
/// The weighted policy library.
pub const WEIGHTED: &str = "libaccord_weighted.so";
/// The pressure policy library.
pub const PRESSURE: &str = "libaccord_pressure.so";

/// The `accord` binary under test.
pub fn accord_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_accord"))
}

/// The directory cargo built `accord`, `accord-server` and the plugin libraries into.
pub fn build_dir() -> PathBuf {
    accord_bin()
        .parent()
        .expect("the binary has a parent directory")
        .to_path_buf()
}

/// How a test server is started.
#[derive(Debug, Clone)]
pub struct Options {
    /// Libraries copied into the plugin directory and loaded at start.
    pub plugins: Vec<String>,
    /// Further files copied into the plugin directory, not loaded: (source library, name).
    pub extra: Vec<(String, String)>,
    /// `--operator-token`.
    pub operator_token: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            plugins: vec![UNANIMITY.into(), WEIGHTED.into(), PRESSURE.into()],
            extra: Vec::new(),
            operator_token: None,
        }
    }
}

/// A running `accord-server`.
pub struct Server {
    guard: Child,
    stdin: Option<ChildStdin>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    dir: TempDir,
}

/// The result of one `accord` run.
#[derive(Debug)]
pub struct Run {
    /// The exit code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// The result of a finished process.
    pub fn from_output(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts success and returns stdout.
    pub fn ok(self) -> String {
        assert_eq!(
            self.code, 0,
            "accord failed ({}):\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self.stdout
    }

    /// Asserts success and parses stdout as one JSON document.
    pub fn json(self) -> serde_json::Value {
        let stdout = self.ok();
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{stdout}"))
    }

    /// Asserts that the run failed with `code`, printing exactly one line on stderr that starts
    /// with `error: {status}`; returns that line.
    pub fn fails(self, code: i32, status: &str) -> String {
        assert_eq!(
            self.code, code,
            "expected exit code {code}:\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line on stderr, got:\n{}", self.stderr);
        let prefix = format!("error: {status}");
        assert!(
            lines[0].starts_with(&prefix),
            "stderr should start with `{prefix}`: {}",
            lines[0]
        );
        lines[0].to_string()
    }
}

/// An `accord` command with the test's environment cleaned of `ACCORD_…` variables.
pub fn accord_command() -> Command {
    let mut command = Command::new(accord_bin());
    for (key, _) in std::env::vars() {
        if key.starts_with("ACCORD_") {
            command.env_remove(key);
        }
    }
    command.stdin(Stdio::null());
    command
}

/// Runs `accord` with `args` (no `--addr`).
pub fn accord_raw(args: &[&str]) -> Run {
    Run::from_output(accord_command().args(args).output().expect("run accord"))
}

impl Server {
    /// Starts a server with `options`.
    pub fn start(options: Options) -> Server {
        let build = build_dir();
        let server_bin = build.join("accord-server");
        assert!(
            server_bin.is_file(),
            "{} is missing: run `cargo build --workspace` first",
            server_bin.display()
        );
        let dir = tempfile::Builder::new()
            .prefix("accord-cli-test")
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
            let from = build.join(from);
            assert!(
                from.is_file(),
                "{} is missing: run `cargo build --workspace` first",
                from.display()
            );
            std::fs::copy(&from, plugin_dir.join(to)).expect("copy plugin library");
        }
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        // The guard starts the server, lets go of the stdout pipe (so that only the server
        // holds it), and kills the server when its own stdin reaches end of file.
        let script = r#"server="$1"; shift
"$server" "$@" &
pid=$!
exec >/dev/null
read -r _ || true
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
exit 0"#;
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(script)
            .arg("accord-server-guard")
            .arg(&server_bin)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--database-url")
            .arg(format!(
                "sqlite://{}",
                dir.path().join("accord.db").display()
            ))
            .arg("--plugin-dir")
            .arg(&plugin_dir)
            .arg("--plugins")
            .arg(options.plugins.join(","))
            .arg("--shutdown-grace-ms")
            .arg("1000");
        if let Some(token) = &options.operator_token {
            command.arg("--operator-token").arg(token);
        }
        for (key, _) in std::env::vars() {
            if key.starts_with("ACCORD_") {
                command.env_remove(key);
            }
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
            let mut sent = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !sent {
                    if let Some(addr) = line.strip_prefix("accord-server listening on ") {
                        sent = tx.send(addr.trim().to_string()).is_ok();
                    }
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(addr) => addr,
            Err(e) => {
                let _ = guard.kill();
                panic!(
                    "accord-server did not start ({e:?}); log:\n{}",
                    std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default()
                );
            }
        };
        Server {
            guard,
            stdin,
            url: format!("http://{addr}"),
            dir,
        }
    }

    /// Starts a server with the three bundled policies.
    pub fn start_default() -> Server {
        Server::start(Options::default())
    }

    /// The plugin directory.
    pub fn plugin_dir(&self) -> PathBuf {
        self.dir.path().join("plugins")
    }

    /// The server's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// An `accord` command aimed at this server (`--addr` set).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = accord_command();
        command.arg("--addr").arg(&self.url).args(args);
        command
    }

    /// Runs `accord --addr URL args…`.
    pub fn accord(&self, args: &[&str]) -> Run {
        Run::from_output(self.command(args).output().expect("run accord"))
    }

    /// Runs `accord --addr URL --json args…`, asserts success, parses the JSON.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        self.accord(&all).json()
    }

    /// Creates a proposal with `accord --json proposals create …` and returns its number.
    pub fn create(&self, args: &[&str]) -> String {
        let mut all = vec!["proposals", "create"];
        all.extend_from_slice(args);
        let json = self.json(&all);
        let name = json["proposal"]["name"]
            .as_str()
            .unwrap_or_else(|| panic!("no proposal name in {json}"))
            .to_string();
        name.strip_prefix("proposals/")
            .expect("proposals/N")
            .to_string()
    }

    /// Creates a motion sponsored by the USA, decided by `policy`, and returns its number.
    pub fn motion(&self, title: &str, extra: &[&str]) -> String {
        let mut args = vec![
            "motion",
            "--text",
            "A motion for the command-line tests",
            "--title",
            title,
            "--sponsor",
            "USA",
        ];
        args.extend_from_slice(extra);
        self.create(&args)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Closing the guard's stdin makes it kill the server.
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.flush();
        }
        let _ = self.guard.wait();
    }
}

/// A running `accord … watch` whose lines are read as they come.
pub struct Watcher {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Watcher {
    /// Spawns `command` with stdout piped and reads its lines in a thread.
    pub fn spawn(mut command: Command) -> Watcher {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn accord watch");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watcher { child, lines: rx }
    }

    /// The next line, waiting up to 30 s.
    pub fn next_line(&mut self) -> String {
        match self.lines.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => line,
            Err(e) => {
                let _ = self.child.kill();
                let mut stderr = String::new();
                if let Some(mut pipe) = self.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                panic!("no line from watch ({e:?}); stderr: {stderr}");
            }
        }
    }

    /// Waits for the process to exit (up to 30 s) and returns its exit code.
    pub fn wait(mut self) -> i32 {
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().expect("wait for watch") {
                return status.code().unwrap_or(-1);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        panic!("watch did not exit within 30 s of the proposal closing");
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
