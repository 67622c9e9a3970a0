//! Test harness for the accord server's integration tests: starts the real `accord-server`
//! binary on a free port with a temporary database and a temporary plugin directory holding
//! copies of the real policy libraries, and hands out tonic clients over a real channel.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use accord_proto::v1::member_service_client::MemberServiceClient;
use accord_proto::v1::mission_service_client::MissionServiceClient;
use accord_proto::v1::partner_service_client::PartnerServiceClient;
use accord_proto::v1::policy_service_client::PolicyServiceClient;
use accord_proto::v1::proposal_service_client::ProposalServiceClient;
use accord_proto::v1::*;
use tempfile::TempDir;
use tonic::transport::Channel;

/// The three bundled policy libraries.
pub const UNANIMITY: &str = "libaccord_unanimity.so";
/// The weighted policy library.
pub const WEIGHTED: &str = "libaccord_weighted.so";
/// The pressure policy library.
pub const PRESSURE: &str = "libaccord_pressure.so";
/// Fixture: panics when the title contains "panic".
pub const PANICKING: &str = "libaccord_fixture_panicking.so";
/// Fixture: sleeps when the title contains "hang".
pub const HANGING: &str = "libaccord_fixture_hanging.so";

/// How a test server is started.
#[derive(Debug, Clone)]
pub struct Options {
    /// Libraries loaded at start (`--plugins`); also copied into the plugin directory.
    pub plugins: Vec<String>,
    /// Further libraries copied into the plugin directory but not loaded at start.
    pub extra_libraries: Vec<String>,
    /// `--policy-timeout-ms`.
    pub policy_timeout_ms: Option<u64>,
    /// `--operator-token`.
    pub operator_token: Option<String>,
    /// `--default-policy`.
    pub default_policy: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            plugins: vec![UNANIMITY.into(), WEIGHTED.into(), PRESSURE.into()],
            extra_libraries: Vec::new(),
            policy_timeout_ms: None,
            operator_token: None,
            default_policy: None,
        }
    }
}

impl Options {
    /// Also copies `libraries` into the plugin directory (without loading them).
    pub fn with_extra(mut self, libraries: &[&str]) -> Self {
        self.extra_libraries
            .extend(libraries.iter().map(|s| s.to_string()));
        self
    }
}

/// A running `accord-server` process with its own database and plugin directory.
pub struct TestServer {
    child: Option<Child>,
    /// The address it listens on (changes on restart).
    pub addr: SocketAddr,
    channel: Channel,
    dir: TempDir,
    options: Options,
    starts: u32,
}

/// The directory cargo built the server binary and the plugin libraries into.
pub fn build_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_accord-server"))
        .parent()
        .expect("the binary has a parent directory")
        .to_path_buf()
}

/// Lower-case hex SHA-256 of a file, computed by `sha256sum`.
pub fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("run sha256sum");
    assert!(out.status.success(), "sha256sum {} failed", path.display());
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .split_whitespace()
        .next()
        .expect("a hash")
        .to_string()
}

impl TestServer {
    /// Starts a server with `options` on a fresh temporary database and plugin directory.
    pub async fn start(options: Options) -> TestServer {
        let dir = tempfile::Builder::new()
            .prefix("accord-server-test")
            .tempdir()
            .expect("tempdir");
        let plugin_dir = dir.path().join("plugins");
        std::fs::create_dir(&plugin_dir).expect("plugin dir");
        let build = build_dir();
        for library in options.plugins.iter().chain(&options.extra_libraries) {
            let from = build.join(library);
            assert!(
                from.is_file(),
                "{} is missing: run `cargo build --workspace` first",
                from.display()
            );
            std::fs::copy(&from, plugin_dir.join(library)).expect("copy plugin library");
        }
        let (child, addr) = spawn(dir.path(), &options, 1).await;
        let channel = connect(addr).await;
        TestServer {
            child: Some(child),
            addr,
            channel,
            dir,
            options,
            starts: 1,
        }
    }

    /// Starts a server with the bundled policies and default options.
    pub async fn start_default() -> TestServer {
        Self::start(Options::default()).await
    }

    /// The plugin directory.
    pub fn plugin_dir(&self) -> PathBuf {
        self.dir.path().join("plugins")
    }

    /// The server's log (stderr) of its latest start.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("server-{}.log", self.starts)))
            .unwrap_or_default()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// A channel to the server.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// Client of the member service.
    pub fn members(&self) -> MemberServiceClient<Channel> {
        MemberServiceClient::new(self.channel())
    }

    /// Client of the partner service.
    pub fn partners(&self) -> PartnerServiceClient<Channel> {
        PartnerServiceClient::new(self.channel())
    }

    /// Client of the mission service.
    pub fn missions(&self) -> MissionServiceClient<Channel> {
        MissionServiceClient::new(self.channel())
    }

    /// Client of the proposal service.
    pub fn proposals(&self) -> ProposalServiceClient<Channel> {
        ProposalServiceClient::new(self.channel())
    }

    /// Client of the policy service.
    pub fn policies(&self) -> PolicyServiceClient<Channel> {
        PolicyServiceClient::new(self.channel())
    }

    /// `message` as a request carrying the operator token the server was started with.
    pub fn operator<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(token) = &self.options.operator_token {
            request.metadata_mut().insert(
                "authorization",
                format!("Bearer {token}").parse().expect("ascii token"),
            );
        }
        request
    }

    /// Kills the server with SIGKILL (no chance to clean up) and reaps it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL the server");
            child.wait().expect("reap the server");
        }
    }

    /// Stops the server with SIGTERM (graceful shutdown) and waits for it to exit.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("wait for the server") {
                assert!(
                    status.success(),
                    "the server should exit cleanly on SIGTERM, got {status}; log:\n{}",
                    self.log()
                );
                return;
            }
            if Instant::now() > until {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server did not stop within 30 s of SIGTERM");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts the server again on the same database and plugin directory (stopping it first
    /// with SIGKILL if it is still running).
    pub async fn restart(&mut self) {
        self.kill9();
        self.starts += 1;
        let (child, addr) = spawn(self.dir.path(), &self.options, self.starts).await;
        self.child = Some(child);
        self.addr = addr;
        self.channel = connect(addr).await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- accord-server log (start {}) ---\n{}",
                self.starts,
                self.log()
            );
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn spawn(dir: &Path, options: &Options, start: u32) -> (Child, SocketAddr) {
    let log_path = dir.join(format!("server-{start}.log"));
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut command = Command::new(env!("CARGO_BIN_EXE_accord-server"));
    // Nothing from the environment of the test run may change the server's configuration.
    for (key, _) in std::env::vars() {
        if key.starts_with("ACCORD_") {
            command.env_remove(key);
        }
    }
    command
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--database-url")
        .arg(format!("sqlite://{}", dir.join("accord.db").display()))
        .arg("--plugin-dir")
        .arg(dir.join("plugins"))
        .arg("--plugins")
        .arg(options.plugins.join(","))
        .arg("--shutdown-grace-ms")
        .arg("5000")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log));
    if let Some(ms) = options.policy_timeout_ms {
        command.arg("--policy-timeout-ms").arg(ms.to_string());
    }
    if let Some(token) = &options.operator_token {
        command.arg("--operator-token").arg(token);
    }
    if let Some(policy) = &options.default_policy {
        command.arg("--default-policy").arg(policy);
    }
    let mut child = command.spawn().expect("start accord-server");
    let stdout = child.stdout.take().expect("piped stdout");
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
    let until = Instant::now() + Duration::from_secs(120);
    let addr = loop {
        match rx.try_recv() {
            Ok(addr) => break addr,
            Err(mpsc::TryRecvError::Disconnected) => {
                let status = child.wait().ok();
                panic!(
                    "accord-server exited ({status:?}) before listening; log:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            Err(mpsc::TryRecvError::Empty) => {
                if Instant::now() > until {
                    let _ = child.kill();
                    panic!("accord-server did not start listening within 120 s");
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let addr: SocketAddr = addr.parse().expect("a socket address");
    (child, addr)
}

async fn connect(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("connect to the server")
}

// ---------------------------------------------------------------------------------------------
// Builders and helpers shared by the tests.

/// "members/{code}".
pub fn member(code: &str) -> String {
    format!("members/{code}")
}

/// A protocol date.
pub fn date(year: i32, month: i32, day: i32) -> Date {
    Date { year, month, day }
}

/// Today's date (UTC), as the server computes it.
pub fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

/// A timestamp `d` from now (negative for the past).
pub fn from_now(d: Duration) -> prost_types::Timestamp {
    prost_types::Timestamp::from(std::time::SystemTime::now() + d)
}

/// A timestamp `d` ago.
pub fn ago(d: Duration) -> prost_types::Timestamp {
    prost_types::Timestamp::from(std::time::SystemTime::now() - d)
}

/// A policy reference with default parameters.
pub fn policy(id: &str) -> PolicyRef {
    PolicyRef {
        policy_id: id.to_string(),
        parameters: Default::default(),
    }
}

/// A proposal (not yet created) with `action`, sponsored by the USA, open vote, 1 hour.
pub fn proposal(title: &str, action: proposal::Action, policy_id: &str) -> Proposal {
    Proposal {
        title: title.to_string(),
        description: format!("{title} (integration test)"),
        action: Some(action),
        sponsor: member("USA"),
        procedure: Procedure::OpenVote as i32,
        policy: Some(policy(policy_id)),
        deadline: Some(from_now(Duration::from_secs(3600))),
        ..Default::default()
    }
}

/// End `mission` on `end`.
pub fn end_mission(mission: &str, end: Date) -> proposal::Action {
    proposal::Action::EndMission(EndMission {
        mission: format!("missions/{mission}"),
        end_date: Some(end),
    })
}

/// A generic motion.
pub fn motion(text: &str) -> proposal::Action {
    proposal::Action::GenericMotion(GenericMotion {
        target: "free text".into(),
        text: text.to_string(),
    })
}

/// A ballot of `code` with `choice`.
pub fn ballot(code: &str, choice: Choice) -> Ballot {
    Ballot {
        member: member(code),
        choice: choice as i32,
        reason: format!("{code} says {}", choice.as_str_name()),
        ..Default::default()
    }
}

/// The codes of every member, in order.
pub async fn member_codes(server: &TestServer) -> Vec<String> {
    server
        .members()
        .list_members(ListMembersRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("list members")
        .into_inner()
        .members
        .into_iter()
        .map(|m| m.code)
        .collect()
}

/// Creates `proposal`, returning it as stored.
pub async fn create(server: &TestServer, proposal: Proposal) -> Proposal {
    server
        .proposals()
        .create_proposal(CreateProposalRequest {
            proposal: Some(proposal),
        })
        .await
        .expect("create proposal")
        .into_inner()
        .proposal
        .expect("a proposal")
}

/// Casts a ballot, returning the stored ballot and the proposal after it.
pub async fn cast(server: &TestServer, proposal: &str, ballot: Ballot) -> (Ballot, Proposal) {
    let r = server
        .proposals()
        .cast_ballot(CastBallotRequest {
            proposal: proposal.to_string(),
            ballot: Some(ballot.clone()),
        })
        .await
        .unwrap_or_else(|e| panic!("cast {ballot:?} on {proposal}: {e}"))
        .into_inner();
    (r.ballot.expect("a ballot"), r.proposal.expect("a proposal"))
}

/// Gets a proposal.
pub async fn get_proposal(server: &TestServer, name: &str) -> Proposal {
    server
        .proposals()
        .get_proposal(GetProposalRequest {
            name: name.to_string(),
        })
        .await
        .expect("get proposal")
        .into_inner()
        .proposal
        .expect("a proposal")
}

/// Gets a mission by id.
pub async fn get_mission(server: &TestServer, id: &str) -> Mission {
    server
        .missions()
        .get_mission(GetMissionRequest {
            name: format!("missions/{id}"),
        })
        .await
        .expect("get mission")
        .into_inner()
        .mission
        .expect("a mission")
}

/// Gets a loaded policy by id.
pub async fn get_policy(server: &TestServer, id: &str) -> LoadedPolicy {
    server
        .policies()
        .get_policy(GetPolicyRequest {
            name: format!("policies/{id}"),
        })
        .await
        .expect("get policy")
        .into_inner()
        .policy
        .expect("a policy")
}

/// Every ballot on a proposal, paging through ListBallots.
pub async fn all_ballots(server: &TestServer, proposal: &str) -> Vec<Ballot> {
    let mut ballots = Vec::new();
    let mut token = String::new();
    loop {
        let page = server
            .proposals()
            .list_ballots(ListBallotsRequest {
                proposal: proposal.to_string(),
                page_size: 1000,
                page_token: token,
            })
            .await
            .expect("list ballots")
            .into_inner();
        ballots.extend(page.ballots);
        if page.next_page_token.is_empty() {
            return ballots;
        }
        token = page.next_page_token;
    }
}

/// Polls the proposal until it is no longer open, or panics after `limit`.
pub async fn wait_closed(server: &TestServer, name: &str, limit: Duration) -> Proposal {
    let until = Instant::now() + limit;
    loop {
        let p = get_proposal(server, name).await;
        if p.state != ProposalState::Open as i32 {
            return p;
        }
        assert!(
            Instant::now() < until,
            "{name} is still open {limit:?} later (deadline {:?})",
            p.deadline
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asserts that `result` failed with `code` and a message containing each of `needles`
/// (case-insensitive).
#[track_caller]
pub fn assert_status<T: std::fmt::Debug>(
    result: Result<T, tonic::Status>,
    code: tonic::Code,
    needles: &[&str],
) -> tonic::Status {
    let status = match result {
        Ok(value) => panic!("expected {code:?}, got OK: {value:?}"),
        Err(status) => status,
    };
    assert_eq!(
        status.code(),
        code,
        "wrong code; message: {}",
        status.message()
    );
    let message = status.message().to_lowercase();
    for needle in needles {
        assert!(
            message.contains(&needle.to_lowercase()),
            "the {code:?} message {:?} should mention {needle:?}",
            status.message()
        );
    }
    status
}

/// The next event of a watch stream (None when it ended), or panics after 10 s.
pub async fn next_event(
    stream: &mut tonic::Streaming<WatchProposalResponse>,
) -> Option<WatchProposalResponse> {
    tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("a watch event (or the end of the stream) within 10 s")
        .expect("the watch stream does not fail")
}
