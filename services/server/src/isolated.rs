//! Isolated mode: a policy library run out of the server's process, by an
//! `accord-policy-runner` child that answers the same protobuf messages over a pipe.
//!
//! Guarantee: whatever the library does — segfault, abort, exit, leak until its memory limit,
//! spin until its CPU limit, hang — costs at most the calls in flight on its runner, and the
//! policy stays available. A call past its time limit gets DEADLINE_EXCEEDED and its runner is
//! killed (a hung thread cannot be stopped any other way); a runner that ends for any reason has
//! its calls in flight failed at once (INTERNAL for a crash, UNAVAILABLE for the calls caught by
//! another call's time limit) and is restarted with back-off; calls that arrive meanwhile wait
//! for the new runner, within their own time limit. Calls are pipelined through one runner by
//! call id (the runner decides on a few worker threads); the runner runs a private copy of the
//! library's bytes, so a restart runs exactly the version that was loaded, whatever happens to
//! the file. A runner stops when its version is no longer used: after a hot swap, once the last
//! call in flight on it has finished.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use accord_policy_runner::{
    HELLO_ID, HELLO_REFUSED, KEPT_ELECTORATES, PROTOCOL_VERSION, Reply, electorate_frame,
    frame_len, parse_hello, parse_reply, request_frame,
};
use accord_policy_sdk::abi::Status;
use accord_policy_sdk::electorate::ElectorateSnapshot;
use accord_policy_sdk::proto::PolicyDescriptor;
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::{info, warn};

/// How long a runner may take to load its library and pass the self-test.
pub const START_LIMIT: Duration = Duration::from_secs(30);
/// The first wait before restarting a runner that ended; doubled after each restart whose runner
/// never answered a call, up to [`MAX_BACKOFF`].
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(50);
/// The longest wait between two restarts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// How runners are started and limited (from the server's configuration).
#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// The `accord-policy-runner` binary.
    pub program: PathBuf,
    /// Address-space limit of each runner, in MiB (0: none).
    pub memory_limit_mb: u64,
    /// CPU seconds a runner may spend without answering a call (0: none).
    pub cpu_seconds: u64,
    /// Calls one runner decides at once.
    pub threads: usize,
}

/// Why an isolated call did not get an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IsolatedError {
    /// The call ran past its time limit; its runner was killed and is being restarted.
    TimedOut,
    /// The runner crashed (or exited) while the call was in flight.
    Crashed(String),
    /// The runner was killed for another call's time limit while this call was in flight.
    Interrupted(String),
    /// No runner could be started within the call's time limit.
    NotRunning(String),
}

/// Why a runner could not be started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartError {
    /// The runner loaded the library and refused it (the loader's message).
    Refused(String),
    /// The runner could not be started or broke the protocol.
    Failed(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused(m) | Self::Failed(m) => f.write_str(m),
        }
    }
}

/// A policy library served by a supervised runner process. Dropping it stops the runner.
#[derive(Debug)]
pub struct IsolatedPolicy {
    inner: Arc<Inner>,
    _stop: oneshot::Sender<()>,
}

#[derive(Debug)]
struct Inner {
    label: String,
    library: PathBuf,
    sha256: String,
    settings: RunnerSettings,
    slot: watch::Sender<Slot>,
    restarts: AtomicU64,
    /// The last restart, or why the runner cannot be started now.
    note: Mutex<(String, bool)>,
}

#[derive(Debug, Clone)]
enum Slot {
    Starting,
    Up(Arc<Runner>),
    Stopped,
}

/// One runner process and its calls in flight.
#[derive(Debug)]
struct Runner {
    pid: u32,
    frames: mpsc::UnboundedSender<Vec<u8>>,
    calls: Mutex<Calls>,
    next_id: AtomicU64,
    kill: Mutex<Option<oneshot::Sender<String>>>,
    answered: AtomicBool,
    /// The electorates sent to this process, newest last (it keeps as many).
    electorates: Mutex<VecDeque<u64>>,
}

#[derive(Debug, Default)]
struct Calls {
    pending: HashMap<u64, oneshot::Sender<Reply>>,
    /// Why the runner ended, and whether the server killed it.
    ended: Option<(String, bool)>,
}

impl Runner {
    /// Records that electorate `id` is sent now; false when it was already sent.
    fn note_electorate(&self, id: u64) -> bool {
        let mut sent = self.electorates.lock().expect("electorates lock");
        if sent.contains(&id) {
            return false;
        }
        if sent.len() >= KEPT_ELECTORATES {
            sent.pop_front();
        }
        sent.push_back(id);
        true
    }

    /// Forgets that electorate `id` was sent (the runner said it does not hold it).
    fn forget_electorate(&self, id: u64) {
        self.electorates
            .lock()
            .expect("electorates lock")
            .retain(|sent| *sent != id);
    }

    fn ended(&self) -> Option<(String, bool)> {
        self.calls.lock().expect("calls lock").ended.clone()
    }

    fn kill(&self, reason: String) {
        if let Some(kill) = self.kill.lock().expect("kill lock").take() {
            let _ = kill.send(reason);
        }
    }
}

impl Drop for IsolatedPolicy {
    fn drop(&mut self) {
        info!(policy = %self.inner.label, "isolated policy version no longer used: stopping its runner");
    }
}

impl IsolatedPolicy {
    /// Starts a runner for the library at `library` (a private copy the policy owns from now on:
    /// it is deleted when the policy is dropped), waits for its hello and returns the policy and
    /// the library's descriptor.
    pub async fn start(
        label: String,
        library: PathBuf,
        sha256: String,
        settings: RunnerSettings,
    ) -> Result<(Self, PolicyDescriptor), StartError> {
        let inner = Arc::new(Inner {
            label,
            library,
            sha256,
            settings,
            slot: watch::Sender::new(Slot::Starting),
            restarts: AtomicU64::new(0),
            note: Mutex::new((String::new(), false)),
        });
        let (runner, descriptor, exited) = match spawn_runner(&inner).await {
            Ok(started) => started,
            Err(e) => {
                let _ = std::fs::remove_file(&inner.library);
                return Err(e);
            }
        };
        inner.slot.send_replace(Slot::Up(runner.clone()));
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(supervise(inner.clone(), runner, exited, stopped));
        Ok((Self { inner, _stop: stop }, descriptor))
    }

    /// How many times the runner was restarted.
    pub fn restarts(&self) -> u64 {
        self.inner.restarts.load(Ordering::Relaxed)
    }

    /// The process id of the runner serving now (0 while none is).
    pub fn pid(&self) -> u32 {
        match &*self.inner.slot.borrow() {
            Slot::Up(runner) if runner.ended().is_none() => runner.pid,
            _ => 0,
        }
    }

    /// What happened to the runner last (empty if nothing), and whether it cannot be started now.
    pub fn note(&self) -> (String, bool) {
        self.inner.note.lock().expect("note lock").clone()
    }

    /// Sends `request` (an encoded DecisionRequest) to the runner; returns the ABI status and
    /// the payload, or why no answer came within `limit`. With `electorate`, the request has no
    /// members and names it: the runner gets each electorate once (again after a restart, or
    /// when it answers that it no longer holds it).
    pub async fn call(
        &self,
        request: &[u8],
        electorate: Option<&ElectorateSnapshot>,
        limit: Duration,
    ) -> Result<Reply, IsolatedError> {
        let deadline = Instant::now() + limit;
        let reply = self.call_once(request, electorate, deadline, limit).await?;
        match electorate {
            Some(electorate) if reply.status == Status::UnknownElectorate as i32 => {
                self.call_once(request, Some(electorate), deadline, limit)
                    .await
            }
            _ => Ok(reply),
        }
    }

    async fn call_once(
        &self,
        request: &[u8],
        electorate: Option<&ElectorateSnapshot>,
        deadline: Instant,
        limit: Duration,
    ) -> Result<Reply, IsolatedError> {
        let runner = match tokio::time::timeout_at(deadline, self.inner.running()).await {
            Ok(Some(runner)) => runner,
            Ok(None) => return Err(IsolatedError::NotRunning("the runner was stopped".into())),
            Err(_) => {
                let (note, _) = self.note();
                return Err(IsolatedError::NotRunning(format!(
                    "no runner was ready within {limit:?}{}",
                    if note.is_empty() {
                        String::new()
                    } else {
                        format!(" ({note})")
                    }
                )));
            }
        };
        let id = runner.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        {
            let mut calls = runner.calls.lock().expect("calls lock");
            if let Some((reason, killed)) = &calls.ended {
                return Err(lost(reason, *killed));
            }
            calls.pending.insert(id, reply);
        }
        let electorate_id = match electorate {
            Some(electorate) => {
                if runner.note_electorate(electorate.id()) {
                    let _ = runner.frames.send(electorate_frame(
                        electorate.id(),
                        electorate.members_field(),
                    ));
                }
                electorate.id()
            }
            None => 0,
        };
        let _ = runner
            .frames
            .send(request_frame(id, electorate_id, request));
        match tokio::time::timeout_at(deadline, answer).await {
            Ok(Ok(reply)) => {
                runner.answered.store(true, Ordering::Relaxed);
                if reply.status == Status::UnknownElectorate as i32 && electorate_id != 0 {
                    runner.forget_electorate(electorate_id);
                }
                Ok(reply)
            }
            Ok(Err(_)) => {
                let (reason, killed) = runner
                    .ended()
                    .unwrap_or_else(|| ("the runner ended".to_string(), false));
                Err(lost(&reason, killed))
            }
            Err(_) => {
                runner.calls.lock().expect("calls lock").pending.remove(&id);
                warn!(policy = %self.inner.label, pid = runner.pid, ?limit,
                    "isolated policy call exceeded its time limit: killing the runner");
                runner.kill(format!(
                    "was killed: a call exceeded the {limit:?} time limit"
                ));
                Err(IsolatedError::TimedOut)
            }
        }
    }
}

fn lost(reason: &str, killed: bool) -> IsolatedError {
    if killed {
        IsolatedError::Interrupted(format!("the policy runner {reason}"))
    } else {
        IsolatedError::Crashed(format!("the policy runner {reason}"))
    }
}

impl Inner {
    /// The runner serving now; waits while one is being started. `None` once stopped.
    async fn running(&self) -> Option<Arc<Runner>> {
        let mut slot = self.slot.subscribe();
        loop {
            match &*slot.borrow_and_update() {
                Slot::Up(runner) if runner.ended().is_none() => return Some(runner.clone()),
                Slot::Stopped => return None,
                _ => {}
            }
            slot.changed().await.ok()?;
        }
    }
}

/// Restarts the runner whenever it ends, with back-off, until the policy is dropped.
async fn supervise(
    inner: Arc<Inner>,
    mut runner: Arc<Runner>,
    mut exited: oneshot::Receiver<String>,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut backoff = INITIAL_BACKOFF;
    loop {
        let reason = tokio::select! {
            _ = &mut stopped => {
                runner.kill("was stopped: its policy version is no longer used".into());
                inner.slot.send_replace(Slot::Stopped);
                let _ = std::fs::remove_file(&inner.library);
                return;
            }
            reason = &mut exited => reason.unwrap_or_else(|_| "ended".to_string()),
        };
        let restarts = inner.restarts.fetch_add(1, Ordering::Relaxed) + 1;
        warn!(policy = %inner.label, pid = runner.pid, %reason, restarts,
            "policy runner ended; restarting it");
        *inner.note.lock().expect("note lock") = (
            format!(
                "runner {} {reason}; restarted ({restarts} restart{})",
                runner.pid,
                if restarts == 1 { "" } else { "s" }
            ),
            false,
        );
        if runner.answered.load(Ordering::Relaxed) {
            backoff = INITIAL_BACKOFF;
        }
        inner.slot.send_replace(Slot::Starting);
        loop {
            tokio::select! {
                _ = &mut stopped => {
                    inner.slot.send_replace(Slot::Stopped);
                    let _ = std::fs::remove_file(&inner.library);
                    return;
                }
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            match spawn_runner(&inner).await {
                Ok((next, _descriptor, next_exited)) => {
                    runner = next;
                    exited = next_exited;
                    inner.note.lock().expect("note lock").1 = false;
                    inner.slot.send_replace(Slot::Up(runner.clone()));
                    break;
                }
                Err(e) => {
                    warn!(policy = %inner.label, error = %e, ?backoff, "policy runner did not start");
                    *inner.note.lock().expect("note lock") =
                        (format!("the runner cannot be started: {e}"), true);
                }
            }
        }
    }
}

/// Starts one runner and waits for its hello; returns it, the descriptor it reported, and a
/// receiver told why it ended.
async fn spawn_runner(
    inner: &Inner,
) -> Result<(Arc<Runner>, PolicyDescriptor, oneshot::Receiver<String>), StartError> {
    let s = &inner.settings;
    let mut child = Command::new(&s.program)
        .arg("--library")
        .arg(&inner.library)
        .arg("--sha256")
        .arg(&inner.sha256)
        .arg("--memory-limit-mb")
        .arg(s.memory_limit_mb.to_string())
        .arg("--cpu-seconds")
        .arg(s.cpu_seconds.to_string())
        .arg("--threads")
        .arg(s.threads.max(1).to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            StartError::Failed(format!(
                "cannot start the policy runner {}: {e}",
                s.program.display()
            ))
        })?;
    let pid = child.id().unwrap_or(0);
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut stdout = child.stdout.take().expect("piped stdout");

    let hello = match tokio::time::timeout(START_LIMIT, read_frame(&mut stdout)).await {
        Ok(Ok(Some(body))) => parse_reply(body).map_err(|e| StartError::Failed(e.to_string())),
        Ok(Ok(None)) => Err(StartError::Failed(format!(
            "the policy runner {}",
            describe_exit(child.wait().await.ok())
        ))),
        Ok(Err(e)) => Err(StartError::Failed(format!(
            "cannot read the policy runner's hello: {e}"
        ))),
        Err(_) => Err(StartError::Failed(format!(
            "the policy runner was not ready within {START_LIMIT:?}"
        ))),
    };
    let descriptor = hello.and_then(|hello| {
        if hello.id != HELLO_ID {
            return Err(StartError::Failed(format!(
                "the policy runner's first frame is call {}, not its hello",
                hello.id
            )));
        }
        if hello.status == HELLO_REFUSED {
            return Err(StartError::Refused(
                String::from_utf8_lossy(&hello.payload).into_owned(),
            ));
        }
        let (version, descriptor) =
            parse_hello(&hello.payload).map_err(|e| StartError::Failed(e.to_string()))?;
        if hello.status != 0 || version != PROTOCOL_VERSION {
            return Err(StartError::Failed(format!(
                "the policy runner speaks protocol {version} (status {}); this server speaks {PROTOCOL_VERSION}",
                hello.status
            )));
        }
        PolicyDescriptor::decode(descriptor).map_err(|e| {
            StartError::Failed(format!(
                "the policy runner's descriptor does not decode: {e}"
            ))
        })
    });
    let descriptor = match descriptor {
        Ok(descriptor) => descriptor,
        Err(e) => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            return Err(e);
        }
    };

    let (frames, mut outgoing) = mpsc::unbounded_channel::<Vec<u8>>();
    let (kill, killed) = oneshot::channel();
    let runner = Arc::new(Runner {
        pid,
        frames,
        calls: Mutex::new(Calls::default()),
        next_id: AtomicU64::new(HELLO_ID + 1),
        kill: Mutex::new(Some(kill)),
        answered: AtomicBool::new(false),
        electorates: Mutex::new(VecDeque::new()),
    });
    // Writer: frames go out whole, in order, whatever happens to the callers that sent them.
    tokio::spawn(async move {
        while let Some(frame) = outgoing.recv().await {
            if stdin.write_all(&frame).await.is_err() || stdin.flush().await.is_err() {
                break;
            }
        }
    });
    // Reader: replies to the callers waiting for them.
    let reader = {
        let runner = runner.clone();
        let label = inner.label.clone();
        tokio::spawn(async move {
            loop {
                match read_frame(&mut stdout).await {
                    Ok(Some(body)) => match parse_reply(body) {
                        Ok(reply) => {
                            let waiting = runner
                                .calls
                                .lock()
                                .expect("calls lock")
                                .pending
                                .remove(&reply.id);
                            if let Some(waiting) = waiting {
                                let _ = waiting.send(reply);
                            }
                        }
                        Err(e) => {
                            warn!(policy = %label, error = %e, "policy runner broke the protocol");
                            runner.kill(format!("was killed: {e}"));
                            return;
                        }
                    },
                    Ok(None) => return,
                    Err(e) => {
                        runner.kill(format!("was killed: cannot read its answer: {e}"));
                        return;
                    }
                }
            }
        })
    };
    // Monitor: waits for the runner to end (or kills it), then fails its calls in flight.
    let (ended, exited) = oneshot::channel();
    {
        let runner = runner.clone();
        tokio::spawn(async move {
            let (reason, by_us) = wait_or_kill(&mut child, killed).await;
            // Answers the runner wrote before it ended still reach their callers.
            let _ = tokio::time::timeout(Duration::from_secs(1), reader).await;
            let pending = {
                let mut calls = runner.calls.lock().expect("calls lock");
                calls.ended = Some((reason.clone(), by_us));
                std::mem::take(&mut calls.pending)
            };
            drop(pending); // each waiting caller sees the runner gone
            let _ = ended.send(reason);
        });
    }
    info!(policy = %inner.label, pid, "policy runner ready");
    Ok((runner, descriptor, exited))
}

async fn wait_or_kill(child: &mut Child, killed: oneshot::Receiver<String>) -> (String, bool) {
    tokio::select! {
        status = child.wait() => (describe_exit(status.ok()), false),
        reason = killed => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            (reason.unwrap_or_else(|_| "was killed".to_string()), true)
        }
    }
}

/// "exited with status 3", "was killed by signal 11 (SIGSEGV)", …
fn describe_exit(status: Option<ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    let Some(status) = status else {
        return "ended (its status is unknown)".to_string();
    };
    if let Some(code) = status.code() {
        return format!("exited with status {code}");
    }
    match status.signal() {
        Some(signal) => {
            let name = match signal {
                4 => " (SIGILL)",
                6 => " (SIGABRT)",
                7 => " (SIGBUS)",
                9 => " (SIGKILL)",
                11 => " (SIGSEGV)",
                24 => " (SIGXCPU: CPU time limit)",
                _ => "",
            };
            format!("was killed by signal {signal}{name}")
        }
        None => format!("ended ({status})"),
    }
}

async fn read_frame(stdout: &mut ChildStdout) -> std::io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; 4];
    match stdout.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = frame_len(header).map_err(std::io::Error::other)?;
    let mut body = vec![0u8; len];
    stdout.read_exact(&mut body).await?;
    Ok(Some(body))
}

/// Writes a private copy of `bytes` for a runner to load (see [`IsolatedPolicy::start`]).
pub fn private_copy(
    dir: &Path,
    stem: &str,
    sha256: &str,
    bytes: &[u8],
) -> std::io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!(
        "{stem}-{}-isolated-{}.so",
        &sha256[..16.min(sha256.len())],
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, bytes)?;
    Ok(path)
}
