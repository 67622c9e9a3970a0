//! The real server driven through the real `accord` binary: [`CliServer`] (a [`ServerProcess`]
//! plus `accord --addr URL …` runs), the result of a run ([`Run`]) with its exit-code and
//! one-line-error checks, and [`Watcher`] for `accord proposals watch`.

use std::io::{BufRead, BufReader};
use std::ops::Deref;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::artifacts::cli_bin;
use crate::process::{Options, ServerProcess};

/// A running `accord-server` that tests talk to through the `accord` binary. Derefs to its
/// [`ServerProcess`].
pub struct CliServer {
    process: ServerProcess,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Deref for CliServer {
    type Target = ServerProcess;
    fn deref(&self) -> &ServerProcess {
        &self.process
    }
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
    let mut command = Command::new(cli_bin());
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

impl CliServer {
    /// Starts a server with `options` (a shorter shutdown grace than the default: the CLI tests
    /// never stop a server gracefully).
    pub fn start(options: Options) -> CliServer {
        let process = ServerProcess::start(options);
        let url = process.url();
        CliServer { process, url }
    }

    /// Starts a server with the three bundled policies.
    pub fn start_default() -> CliServer {
        CliServer::start(Options::default())
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
