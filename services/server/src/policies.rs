//! The policy registry: the decision-policy plugins loaded in the server, and every call into
//! them.
//!
//! The set of loaded policies is an immutable snapshot behind an [`ArcSwap`]. A call takes the
//! policy's current [`LoadedPolicy`] (an `Arc`) and keeps it until it finishes, so replacing a
//! policy (hot swap) never disturbs a call in flight: calls already running finish on the old
//! version, new calls get the new one, and no call fails. Libraries are never unloaded (see
//! `accord_policy_sdk::host`). Loads, replacements and health changes are serialised by one
//! async mutex; reads take no lock.
//!
//! Each policy runs in process or isolated, chosen per library (configuration, or `LoadPolicy`
//! and `ReplacePolicy`). In process, calls run on tokio's blocking pool with a time limit: a call
//! that panics inside the plugin fails with INTERNAL; a call past its limit fails with
//! DEADLINE_EXCEEDED and marks the policy unhealthy (its thread cannot be stopped, so no new call
//! may pile up behind it) until an operator reloads or replaces it; a library that crashes the
//! process takes the server with it. Isolated ([`crate::isolated`]), the library runs in a
//! supervised runner process: a crash or a call past its limit costs the calls in flight, the
//! runner is restarted and the policy stays healthy. Hot swap works the same in both modes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use accord_policy_sdk::electorate::ElectorateSnapshot;
use accord_policy_sdk::host::{CallError, LoadError, PolicyLibrary, default_private_dir};
use accord_policy_sdk::proto::{
    Decision, DecisionRequest, DecisionResponse, Member, PolicyDescriptor, PolicyHealth,
    PolicyIdentity,
};
use accord_policy_sdk::request::parse_parameter;
use accord_proto::v1 as pb;
use arc_swap::ArcSwap;
use prost::Message;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::config::Isolation;
use crate::error::{DomainError, DomainResult};
use crate::isolated::{IsolatedError, IsolatedPolicy, RunnerSettings, StartError};

/// Where one loaded version runs.
#[derive(Debug)]
enum Backend {
    /// Mapped into the server process.
    InProcess(PolicyLibrary),
    /// Served by a supervised runner process.
    Isolated(IsolatedPolicy),
}

/// How the registry chooses and runs isolated policies.
#[derive(Debug, Clone)]
pub struct IsolationSettings {
    /// The mode of a library loaded without one.
    pub default: Isolation,
    /// Library file names that run isolated when loaded without a mode.
    pub isolated_files: Vec<String>,
    /// How runners are started and limited.
    pub runner: RunnerSettings,
}

impl Default for IsolationSettings {
    fn default() -> Self {
        Self {
            default: Isolation::InProcess,
            isolated_files: Vec::new(),
            runner: RunnerSettings {
                program: crate::config::default_plugin_dir().join("accord-policy-runner"),
                memory_limit_mb: 1024,
                cpu_seconds: 30,
                threads: 2,
            },
        }
    }
}

/// One loaded version of a policy.
#[derive(Debug)]
pub struct LoadedPolicy {
    backend: Backend,
    descriptor: PolicyDescriptor,
    identity: PolicyIdentity,
    file_name: String,
    load_time: SystemTime,
    health: Mutex<(PolicyHealth, String)>,
}

impl LoadedPolicy {
    /// The policy id.
    pub fn id(&self) -> &str {
        &self.descriptor.id
    }

    /// The library's identity.
    pub fn identity(&self) -> &PolicyIdentity {
        &self.identity
    }

    /// Where the library runs.
    pub fn isolation(&self) -> Isolation {
        match self.backend {
            Backend::InProcess(_) => Isolation::InProcess,
            Backend::Isolated(_) => Isolation::Isolated,
        }
    }

    /// The library's file name in the plugin directory.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// The health an operator set or a time limit caused; isolated and otherwise healthy: healthy
    /// with the last restart as the reason, or unhealthy while no runner can be started.
    fn health(&self) -> (PolicyHealth, String) {
        let health = self.health.lock().expect("health lock").clone();
        match (&self.backend, health.0) {
            (Backend::Isolated(isolated), PolicyHealth::Healthy) => match isolated.note() {
                (note, true) => (PolicyHealth::Unhealthy, note),
                (note, false) => (PolicyHealth::Healthy, note),
            },
            _ => health,
        }
    }

    fn set_health(&self, health: PolicyHealth, reason: impl Into<String>) {
        *self.health.lock().expect("health lock") = (health, reason.into());
    }

    /// The protocol view of this policy.
    pub fn to_proto(&self, is_default: bool) -> pb::LoadedPolicy {
        let (health, reason) = self.health();
        let (isolation, runner_restarts, runner_pid) = match &self.backend {
            Backend::InProcess(_) => (pb::PolicyIsolation::InProcess, 0, 0),
            Backend::Isolated(isolated) => (
                pb::PolicyIsolation::Isolated,
                isolated.restarts(),
                isolated.pid(),
            ),
        };
        pb::LoadedPolicy {
            name: accord_proto::names::name(accord_proto::names::POLICIES, self.id()),
            descriptor: Some(self.descriptor.clone()),
            identity: Some(self.identity().clone()),
            file_name: self.file_name.clone(),
            health: health as i32,
            health_reason: reason,
            is_default,
            load_time: Some(prost_types::Timestamp::from(self.load_time)),
            isolation: isolation as i32,
            runner_restarts,
            runner_pid,
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Snapshot {
    policies: BTreeMap<String, Arc<LoadedPolicy>>,
    default: Option<String>,
}

/// The member list an electorate snapshot was made from, and the snapshot.
type CurrentElectorate = (Arc<Vec<Member>>, Arc<ElectorateSnapshot>);

/// The loaded policies and the default one.
#[derive(Debug)]
pub struct PolicyRegistry {
    dir: PathBuf,
    call_limit: Duration,
    isolation: IsolationSettings,
    snapshot: ArcSwap<Snapshot>,
    changes: tokio::sync::Mutex<()>,
    /// Why this server does not serve the policies the alliance wants (replicas: a recorded
    /// change it could not apply), if it does not.
    sync_problem: Mutex<Option<String>>,
    /// The only library SHA-256 values that may be loaded (empty: any).
    pins: Vec<String>,
    /// The members' encoding for the policies (ABI 1.1), for the member list it was made from.
    electorate: Mutex<Option<CurrentElectorate>>,
}

impl PolicyRegistry {
    /// An empty registry loading from `dir`, with `call_limit` per call.
    pub fn new(dir: impl Into<PathBuf>, call_limit: Duration) -> Self {
        Self {
            dir: dir.into(),
            call_limit,
            isolation: IsolationSettings::default(),
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
            changes: tokio::sync::Mutex::new(()),
            sync_problem: Mutex::new(None),
            pins: Vec::new(),
            electorate: Mutex::new(None),
        }
    }

    /// Chooses and runs isolated policies with `isolation`.
    pub fn with_isolation(mut self, isolation: IsolationSettings) -> Self {
        self.isolation = isolation;
        self
    }

    /// The mode a library runs in when loaded without one.
    pub fn configured_isolation(&self, file_name: &str) -> Isolation {
        if self.isolation.isolated_files.iter().any(|f| f == file_name) {
            Isolation::Isolated
        } else {
            self.isolation.default
        }
    }

    /// Refuses, at start and on every load or replace, any library whose SHA-256 is not in
    /// `pins` (unless it is empty).
    pub fn with_pins(mut self, pins: Vec<String>) -> Self {
        self.pins = pins;
        self
    }

    /// The plugin directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Loads the libraries named in `files` (`*` = every shared library in the directory) at
    /// start. A library that is refused is logged and skipped; the server still starts.
    pub async fn load_startup(&self, files: &[String]) -> Vec<(String, DomainError)> {
        let mut names: Vec<String> = if files.iter().any(|f| f == "*") {
            let suffix = std::env::consts::DLL_SUFFIX;
            std::fs::read_dir(&self.dir)
                .map(|entries| {
                    entries
                        .filter_map(|e| e.ok())
                        .filter_map(|e| e.file_name().into_string().ok())
                        .filter(|n| n.ends_with(suffix))
                        .collect()
                })
                .unwrap_or_default()
        } else {
            files.to_vec()
        };
        names.sort();
        let mut refused = Vec::new();
        for name in names {
            match self.load(&name, None).await {
                Ok(policy) => info!(policy = %policy.id(), version = %policy.identity().version,
                    sha256 = %policy.identity().library_sha256, file = %name, "policy loaded"),
                Err(e) => {
                    warn!(file = %name, error = %e, "policy library refused");
                    refused.push((name, e));
                }
            }
        }
        refused
    }

    fn resolve_file(&self, file_name: &str) -> DomainResult<PathBuf> {
        let valid = !file_name.is_empty()
            && file_name != "."
            && file_name != ".."
            && !file_name.contains(['/', '\\', '\0']);
        if !valid {
            return Err(DomainError::invalid(
                "file_name",
                format!(
                    "`{file_name}` must be a plain file name in the plugin directory, not a path"
                ),
            ));
        }
        let path = self.dir.join(file_name);
        if !path.is_file() {
            return Err(DomainError::not_found(
                "plugin file",
                format!("{file_name} (in {})", self.dir.display()),
            ));
        }
        Ok(path)
    }

    async fn open(
        &self,
        file_name: &str,
        isolation: Option<Isolation>,
    ) -> DomainResult<Arc<LoadedPolicy>> {
        let path = self.resolve_file(file_name)?;
        let isolation = isolation.unwrap_or_else(|| self.configured_isolation(file_name));
        let (backend, descriptor, identity) = match isolation {
            Isolation::InProcess => {
                let pins = self.pins.clone();
                let library =
                    tokio::task::spawn_blocking(move || PolicyLibrary::load_pinned(path, &pins))
                        .await
                        .map_err(|e| DomainError::Storage(format!("loader task failed: {e}")))??;
                let descriptor = library.descriptor().clone();
                let identity = library.identity().clone();
                (Backend::InProcess(library), descriptor, identity)
            }
            Isolation::Isolated => self.open_isolated(file_name, path).await?,
        };
        Ok(Arc::new(LoadedPolicy {
            backend,
            descriptor,
            identity,
            file_name: file_name.to_string(),
            load_time: SystemTime::now(),
            health: Mutex::new((PolicyHealth::Healthy, String::new())),
        }))
    }

    /// Starts a runner on a private copy of the file's bytes; its loader checks the library
    /// (handshake, descriptor, self-test) in the runner's process, never in this one.
    async fn open_isolated(
        &self,
        file_name: &str,
        path: PathBuf,
    ) -> DomainResult<(Backend, PolicyDescriptor, PolicyIdentity)> {
        let io = |source| {
            DomainError::PluginRefused(LoadError::Io {
                path: path.clone(),
                source,
            })
        };
        let bytes = tokio::fs::read(&path).await.map_err(io)?;
        let sha256: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if !self.pins.is_empty() && !self.pins.contains(&sha256) {
            return Err(DomainError::PluginRefused(LoadError::NotPinned {
                path,
                sha256,
            }));
        }
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("policy")
            .to_string();
        let copy = crate::isolated::private_copy(&default_private_dir(), &stem, &sha256, &bytes)
            .map_err(io)?;
        let (isolated, descriptor) = IsolatedPolicy::start(
            file_name.to_string(),
            copy,
            sha256.clone(),
            self.isolation.runner.clone(),
        )
        .await
        .map_err(|e| match e {
            StartError::Refused(message) => DomainError::PluginRefusedIsolated(message),
            StartError::Failed(message) => DomainError::Precondition(message),
        })?;
        let identity = PolicyIdentity {
            policy_id: descriptor.id.clone(),
            version: descriptor.version.clone(),
            library_sha256: sha256,
        };
        Ok((Backend::Isolated(isolated), descriptor, identity))
    }

    fn publish(&self, update: impl FnOnce(&mut Snapshot)) {
        let mut next = Snapshot::clone(&self.snapshot.load());
        update(&mut next);
        self.snapshot.store(Arc::new(next));
    }

    /// Why the loaded policies are not those the alliance wants, if they are not (see
    /// `replicas`); `None` when in step.
    pub fn sync_problem(&self) -> Option<String> {
        self.sync_problem.lock().expect("sync lock").clone()
    }

    /// Records whether the loaded policies are those the alliance wants.
    pub fn set_sync_problem(&self, problem: Option<String>) {
        *self.sync_problem.lock().expect("sync lock") = problem;
    }

    /// The health of policy `id`'s current version, if loaded.
    pub fn health_of(&self, id: &str) -> Option<PolicyHealth> {
        self.get_any(id).ok().map(|p| p.health().0)
    }

    /// Loads a library by file name. Refused if a healthy policy with the same id is loaded
    /// (replace it instead); a disabled or unhealthy one is replaced.
    pub async fn load(
        &self,
        file_name: &str,
        isolation: Option<Isolation>,
    ) -> DomainResult<Arc<LoadedPolicy>> {
        let _guard = self.changes.lock().await;
        let policy = self.open(file_name, isolation).await?;
        let id = policy.id().to_string();
        if let Some(existing) = self.snapshot.load().policies.get(&id) {
            if existing.health().0 == PolicyHealth::Healthy {
                return Err(DomainError::AlreadyExists {
                    kind: "policy",
                    name: format!("policies/{id}"),
                    hint: "use ReplacePolicy to load a new version",
                });
            }
        }
        self.publish(|s| {
            s.policies.insert(id, policy.clone());
        });
        Ok(policy)
    }

    /// Replaces policy `id` with the library `file_name`, whose descriptor must have the same
    /// id, run as `isolation` (`None`: as the previous version runs). Returns the new and the
    /// previous version. Calls in flight finish on the previous one.
    pub async fn replace(
        &self,
        id: &str,
        file_name: &str,
        isolation: Option<Isolation>,
    ) -> DomainResult<(Arc<LoadedPolicy>, Arc<LoadedPolicy>)> {
        let _guard = self.changes.lock().await;
        let previous = self.get_any(id)?;
        let isolation = isolation.unwrap_or(previous.isolation());
        let policy = self.open(file_name, Some(isolation)).await?;
        if policy.id() != id {
            return Err(DomainError::invalid(
                "file_name",
                format!("{file_name} holds policy `{}`, not `{id}`", policy.id()),
            ));
        }
        self.publish(|s| {
            s.policies.insert(id.to_string(), policy.clone());
        });
        info!(policy = %id, from = %previous.identity().version, to = %policy.identity().version,
            sha256 = %policy.identity().library_sha256, "policy replaced");
        Ok((policy, previous))
    }

    /// Disables policy `id`: it takes no new calls until loaded again.
    pub async fn disable(&self, id: &str) -> DomainResult<Arc<LoadedPolicy>> {
        let _guard = self.changes.lock().await;
        let policy = self.get_any(id)?;
        policy.set_health(PolicyHealth::Disabled, "disabled by an operator");
        Ok(policy)
    }

    /// Makes `id` the default policy; it must be loaded and healthy.
    pub async fn set_default(&self, id: &str) -> DomainResult<Arc<LoadedPolicy>> {
        let _guard = self.changes.lock().await;
        if self.is_disabled(id) {
            return Err(DomainError::Precondition(format!(
                "policy policies/{id} is disabled: it cannot be the default"
            )));
        }
        let policy = self.get(id)?;
        self.publish(|s| s.default = Some(id.to_string()));
        Ok(policy)
    }

    /// Sets the default at start without checks (the policy may be missing; calls will say so).
    pub fn set_default_unchecked(&self, id: &str) {
        self.publish(|s| s.default = Some(id.to_string()));
    }

    /// The default policy's id, if one is set.
    pub fn default_id(&self) -> Option<String> {
        self.snapshot.load().default.clone()
    }

    /// Every loaded policy, by id, with whether it is the default.
    pub fn list(&self) -> Vec<(Arc<LoadedPolicy>, bool)> {
        let snapshot = self.snapshot.load();
        snapshot
            .policies
            .values()
            .map(|p| (p.clone(), snapshot.default.as_deref() == Some(p.id())))
            .collect()
    }

    /// Ids of the policies that take calls.
    pub fn healthy_ids(&self) -> Vec<String> {
        self.snapshot
            .load()
            .policies
            .values()
            .filter(|p| p.health().0 == PolicyHealth::Healthy)
            .map(|p| p.id().to_string())
            .collect()
    }

    /// Whether `id` is the default.
    /// Whether `id` is loaded and disabled by an operator.
    pub fn is_disabled(&self, id: &str) -> bool {
        self.get_any(id)
            .is_ok_and(|p| p.health().0 == PolicyHealth::Disabled)
    }

    pub fn is_default(&self, id: &str) -> bool {
        self.snapshot.load().default.as_deref() == Some(id)
    }

    /// The current version of `id`, whatever its health.
    pub fn get_any(&self, id: &str) -> DomainResult<Arc<LoadedPolicy>> {
        self.snapshot
            .load()
            .policies
            .get(id)
            .cloned()
            .ok_or_else(|| DomainError::not_found("policy", format!("policies/{id}")))
    }

    /// The current version of `id`, if it takes calls.
    pub fn get(&self, id: &str) -> DomainResult<Arc<LoadedPolicy>> {
        let policy = self.get_any(id)?;
        match policy.health() {
            (PolicyHealth::Healthy, _) => Ok(policy),
            (_, reason) => Err(DomainError::PolicyUnavailable {
                policy: id.to_string(),
                reason,
            }),
        }
    }

    /// Checks `parameters` against the descriptor of `id` (names known, values parse).
    pub fn check_parameters(
        &self,
        id: &str,
        parameters: &std::collections::HashMap<String, String>,
    ) -> DomainResult<()> {
        let policy = self.get_any(id)?;
        let descriptor = &policy.descriptor;
        for (name, value) in parameters {
            let spec = descriptor
                .parameters
                .iter()
                .find(|p| &p.name == name)
                .ok_or_else(|| {
                    DomainError::invalid(
                        format!("policy.parameters.{name}"),
                        format!("policy `{id}` has no parameter `{name}`"),
                    )
                })?;
            parse_parameter(spec, value).map_err(|e| {
                DomainError::invalid(format!("policy.parameters.{name}"), e.to_string())
            })?;
        }
        Ok(())
    }

    /// The electorate snapshot of `members` (the member cache's current list): encoded once per
    /// version of the alliance's members, and registered once with each ABI 1.1 library.
    pub fn electorate(&self, members: &Arc<Vec<Member>>) -> Arc<ElectorateSnapshot> {
        let mut current = self.electorate.lock().expect("electorate lock");
        if let Some((of, snapshot)) = &mut *current {
            if Arc::ptr_eq(of, members) {
                return snapshot.clone();
            }
            // The list was read again (after a change, or a replica's resync): keep the id the
            // libraries hold if nothing changed.
            if **of == **members {
                *of = members.clone();
                return snapshot.clone();
            }
        }
        let snapshot = Arc::new(ElectorateSnapshot::new(members));
        *current = Some((members.clone(), snapshot.clone()));
        snapshot
    }

    /// Decides `request` — whose members are `electorate`'s, its own `members` field empty —
    /// under policy `id`, off the async workers (in process) or in its runner (isolated),
    /// within the time limit.
    pub async fn decide(
        &self,
        id: &str,
        request: DecisionRequest,
        electorate: Arc<ElectorateSnapshot>,
    ) -> DomainResult<Decision> {
        let policy = self.get(id)?;
        if let Backend::Isolated(isolated) = &policy.backend {
            return self
                .decide_isolated(&policy, isolated, &request, &electorate)
                .await;
        }
        let call = {
            let policy = policy.clone();
            tokio::task::spawn_blocking(move || match &policy.backend {
                Backend::InProcess(library) => library.decide_in(&electorate, &request),
                Backend::Isolated(_) => unreachable!("isolated calls go to the runner"),
            })
        };
        match tokio::time::timeout(self.call_limit, call).await {
            Ok(Ok(Ok(decision))) => Ok(decision),
            Ok(Ok(Err(error))) => Err(DomainError::from_call(id, error)),
            Ok(Err(join)) => Err(DomainError::PolicyFailed {
                policy: id.to_string(),
                message: format!("the call task failed: {join}"),
            }),
            Err(_elapsed) => {
                policy.set_health(
                    PolicyHealth::Unhealthy,
                    format!(
                        "a call exceeded the {:?} limit; reload or replace it",
                        self.call_limit
                    ),
                );
                warn!(policy = %id, limit = ?self.call_limit, "policy call timed out; marked unhealthy");
                Err(DomainError::PolicyTimedOut {
                    policy: id.to_string(),
                    limit: self.call_limit,
                    isolated: false,
                })
            }
        }
    }

    async fn decide_isolated(
        &self,
        policy: &LoadedPolicy,
        isolated: &IsolatedPolicy,
        request: &DecisionRequest,
        electorate: &ElectorateSnapshot,
    ) -> DomainResult<Decision> {
        let id = policy.id();
        let reply = isolated
            .call(&request.encode_to_vec(), Some(electorate), self.call_limit)
            .await
            .map_err(|e| match e {
                IsolatedError::TimedOut => DomainError::PolicyTimedOut {
                    policy: id.to_string(),
                    limit: self.call_limit,
                    isolated: true,
                },
                IsolatedError::Crashed(message) => DomainError::PolicyCrashed {
                    policy: id.to_string(),
                    message,
                },
                IsolatedError::Interrupted(reason) | IsolatedError::NotRunning(reason) => {
                    DomainError::PolicyUnavailable {
                        policy: id.to_string(),
                        reason,
                    }
                }
            })?;
        if reply.status != 0 {
            return Err(DomainError::from_call(
                id,
                CallError::from_status(reply.status, reply.payload),
            ));
        }
        let bad = |message: String| DomainError::from_call(id, CallError::BadResponse(message));
        let mut decision = DecisionResponse::decode(reply.payload.as_slice())
            .map_err(|e| bad(format!("not an accord.v1.DecisionResponse: {e}")))?
            .decision
            .ok_or_else(|| bad("the response has no decision".to_string()))?;
        decision.policy = Some(policy.identity.clone());
        Ok(decision)
    }
}
