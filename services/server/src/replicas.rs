//! Replica coordination: what lets any number of `accord-server` processes on one PostgreSQL
//! database serve one alliance. (On SQLite the server is the database's only writer and none of
//! this runs: the store reports no changes and records no policy changes.)
//!
//! The invariants kept here:
//! - **Caches stay exact across replicas.** Every change another replica commits reaches this
//!   one as a [`Change`] (the store's LISTEN/NOTIFY, delivered in commit order); a member,
//!   partner or mission change (an operator's write or an adoption's effect) invalidates the
//!   records of that kind, a close invalidates the proposal, and a lost notification connection
//!   ([`Change::Resync`]) invalidates everything. Until a notice arrives a replica may serve a
//!   record as it was before (a proposal as still open, a mission as before its update) — reads
//!   through another replica follow a write within the notice's delivery — but nothing it
//!   *writes* depends on that: the store refuses a ballot on a closed proposal and a second
//!   close, whichever replica tries, and updates read the record from the store.
//! - **Credentials are the same everywhere.** A token issued or revoked, or a ballot key
//!   registered, through any replica reaches the others as [`Change::Credentials`]: each reloads
//!   every token and key from the store (as at start), so a token revoked through one replica is
//!   refused by all once the notice arrives. A lost notification connection
//!   ([`Change::Resync`]) reloads them too.
//! - **Watchers see every event, wherever it happened.** A ballot or a close committed by
//!   another replica is published to this replica's watchers (read back from the database; the
//!   notice only names it), after the events of that replica's earlier commits.
//! - **Every replica serves the policies the alliance wants, within a bound.** Loads,
//!   replacements, disables and default changes made through any replica are recorded in the
//!   store's policy-change log; each replica applies the log on the change notice and, should a
//!   notice be lost, by polling every `policy_poll_ms` (default 2 s): a change made through one
//!   replica is in force on every other within that interval plus the time to load the library.
//!   A replica checks a library file's SHA-256 against the recorded one before mapping it, and a
//!   replica that cannot load what the alliance wants reports itself not ready (health
//!   NOT_SERVING) until it can.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use accord_policy_sdk::proto::PolicyHealth;
use accord_proto::v1::{
    Choice, Procedure, ProposalEventType, ProposalState, WatchProposalResponse,
};
use accord_store::{Change, PolicyChange};
use sha2::{Digest, Sha256};
use tokio::sync::broadcast::error::RecvError;
use tracing::{info, warn};

use crate::app::App;
use crate::error::{DomainError, DomainResult};
use crate::policies::LoadedPolicy;

/// Follows the other replicas' changes until the task is aborted (returns at once on a store
/// no other process writes).
pub async fn follow_changes(app: Arc<App>) {
    let Some(mut changes) = app.store.changes() else {
        return;
    };
    loop {
        let change = match changes.recv().await {
            Ok(change) => change,
            Err(RecvError::Lagged(missed)) => {
                warn!(missed, "fell behind the other replicas' changes; resyncing");
                Change::Resync
            }
            Err(RecvError::Closed) => return,
        };
        apply(&app, change).await;
    }
}

async fn apply(app: &App, change: Change) {
    match change {
        Change::Members => app.members.invalidate(),
        Change::Partners => app.partners.invalidate(),
        Change::Missions => app.missions.invalidate(),
        Change::ProposalCreated { .. } => app.deadlines_changed.notify_one(),
        Change::Ballot {
            proposal_id,
            sequence,
        } => {
            let id = proposal_id.to_string();
            if app.events.is_watched(&id) {
                publish_ballot(app, &id, sequence).await;
            }
        }
        Change::Closed { proposal_id } => {
            let id = proposal_id.to_string();
            app.proposals.invalidate(&id);
            app.effects_applied(); // as after a close on this replica
            if app.events.is_watched(&id) {
                publish_close(app, &id).await;
            }
            app.events.close(&id);
            app.settlers.forget(&id);
        }
        Change::Setting { .. } => {}
        Change::Policy => app.policies_changed.notify_one(),
        Change::Credentials => reload_credentials(app).await,
        Change::Resync => {
            reload_credentials(app).await;
            app.members.invalidate();
            app.partners.invalidate();
            app.missions.invalidate();
            app.proposals.invalidate("*");
            app.policies_changed.notify_one();
            app.deadlines_changed.notify_one();
        }
    }
}

/// Reloads the issued tokens and ballot keys (another replica issued or revoked a token or
/// registered a key, or notices may have been missed).
async fn reload_credentials(app: &App) {
    if let Err(e) = crate::load_credentials(app).await {
        warn!(error = %e, "cannot reload the tokens and ballot keys another replica changed");
    }
}

async fn publish_ballot(app: &App, id: &str, sequence: i64) {
    let (ballot, proposal) = match (
        app.store.get_ballot(id, sequence).await,
        app.proposals.get(&*app.store, id).await,
    ) {
        (Ok(ballot), Ok(proposal)) => (ballot, proposal),
        (Err(e), _) | (_, Err(e)) => {
            warn!(proposal = %id, sequence, error = %e, "cannot read another replica's ballot for watchers");
            return;
        }
    };
    let event = |kind: ProposalEventType| WatchProposalResponse {
        r#type: kind as i32,
        proposal: Some(accord_proto::v1::Proposal::clone(&proposal)),
        ballot: Some(ballot.clone()),
        decision: None,
        event_time: ballot.cast_time,
    };
    app.events.publish(id, event(ProposalEventType::BallotCast));
    if proposal.procedure == Procedure::Silence as i32 && ballot.choice == Choice::Object as i32 {
        app.events
            .publish(id, event(ProposalEventType::SilenceBroken));
    }
}

async fn publish_close(app: &App, id: &str) {
    let proposal = match app.store.get_proposal(id).await {
        Ok(proposal) => proposal,
        Err(e) => {
            warn!(proposal = %id, error = %e, "cannot read another replica's close for watchers");
            return;
        }
    };
    let kind = if proposal.state == ProposalState::Withdrawn as i32 {
        ProposalEventType::Withdrawn
    } else {
        ProposalEventType::Decided
    };
    let event = WatchProposalResponse {
        r#type: kind as i32,
        decision: proposal.decision.clone(),
        event_time: proposal.close_time,
        ballot: None,
        proposal: Some(proposal),
    };
    app.events.publish(id, event);
}

/// Applies the recorded policy changes on every change notice and every `policy_poll_ms`, until
/// the task is aborted (returns at once on a store no other process writes).
pub async fn follow_policies(app: Arc<App>) {
    if !app.store.shared() {
        return;
    }
    loop {
        tokio::select! {
            _ = tokio::time::sleep(app.config.policy_poll) => {}
            _ = app.policies_changed.notified() => {}
        }
        sync_policies(&app).await;
    }
}

/// What the policy-change log wants of one policy.
#[derive(Debug, Default)]
struct Wanted {
    file_name: String,
    sha256: String,
    disabled: bool,
}

/// Brings the loaded policies in line with the policy-change log; records in the registry
/// whether that succeeded (readiness). Does nothing on a store no other process writes.
pub async fn sync_policies(app: &App) {
    if !app.store.shared() {
        return;
    }
    let changes = match app.store.policy_changes(0).await {
        Ok(changes) => changes,
        Err(e) => {
            warn!(error = %e, "cannot read the policy changes");
            return;
        }
    };
    let mut wanted: BTreeMap<String, Wanted> = BTreeMap::new();
    let mut default = None;
    for change in changes {
        match change.action.as_str() {
            "load" | "replace" => {
                wanted.insert(
                    change.policy_id,
                    Wanted {
                        file_name: change.file_name,
                        sha256: change.sha256,
                        disabled: false,
                    },
                );
            }
            "disable" => wanted.entry(change.policy_id).or_default().disabled = true,
            "default" => default = Some(change.policy_id),
            other => warn!(action = other, "unknown policy change"),
        }
    }
    let mut problems = Vec::new();
    for (id, want) in &wanted {
        if let Err(problem) = bring_in_line(app, id, want).await {
            problems.push(problem);
        }
    }
    if let Some(id) = default {
        if !app.policies.is_default(&id) {
            info!(policy = %id, "default policy changed by another replica");
            app.policies.set_default_unchecked(&id);
        }
    }
    let problem = (!problems.is_empty()).then(|| problems.join("; "));
    if let Some(problem) = &problem {
        warn!(%problem, "this replica does not serve the policies the alliance wants: not ready");
    }
    app.policies.set_sync_problem(problem);
}

async fn bring_in_line(app: &App, id: &str, want: &Wanted) -> Result<(), String> {
    let health = app.policies.health_of(id);
    if !want.sha256.is_empty() {
        let current_sha = app
            .policies
            .get_any(id)
            .ok()
            .map(|p| p.identity().library_sha256.clone());
        let enabled = health.is_some_and(|h| h != PolicyHealth::Disabled);
        let in_step =
            current_sha.as_deref() == Some(want.sha256.as_str()) && (enabled || want.disabled);
        if !in_step {
            // Check the file before mapping it: a library is never unloaded once mapped.
            let path = app.policies.dir().join(&want.file_name);
            let found = file_sha256(&path)
                .await
                .map_err(|e| format!("policies/{id}: cannot read {}: {e}", want.file_name))?;
            if found != want.sha256 {
                return Err(format!(
                    "policies/{id}: {} has SHA-256 {found}, the alliance runs {}",
                    want.file_name, want.sha256
                ));
            }
            let loaded = if health == Some(PolicyHealth::Healthy) {
                app.policies
                    .replace(id, &want.file_name, None)
                    .await
                    .map(|(new, _)| new)
            } else {
                app.policies.load(&want.file_name, None).await
            }
            .map_err(|e| format!("policies/{id}: {e}"))?;
            if loaded.identity().library_sha256 != want.sha256 {
                let _ = app.policies.disable(id).await;
                return Err(format!(
                    "policies/{id}: {} changed while it was loaded",
                    want.file_name
                ));
            }
            info!(policy = %id, sha256 = %want.sha256, file = %want.file_name,
                "policy brought in line with the other replicas");
        }
    }
    if want.disabled
        && app
            .policies
            .health_of(id)
            .is_some_and(|h| h != PolicyHealth::Disabled)
    {
        app.policies
            .disable(id)
            .await
            .map_err(|e| format!("policies/{id}: {e}"))?;
        info!(policy = %id, "policy disabled by another replica");
    }
    Ok(())
}

/// The SHA-256 of a file, lower-case hex (off the async workers).
async fn file_sha256(path: &std::path::Path) -> std::io::Result<String> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let bytes = std::fs::read(path)?;
        Ok(hex_lower(&Sha256::digest(&bytes)))
    })
    .await
    .map_err(std::io::Error::other)?
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl App {
    /// Records a policy change made through this replica, for the others to apply ("load",
    /// "replace", "disable" or "default"). Nothing is recorded on a store no other process
    /// writes.
    pub async fn policy_changed(&self, action: &str, policy: &LoadedPolicy) -> DomainResult<()> {
        if !self.store.shared() {
            return Ok(());
        }
        let with_file = matches!(action, "load" | "replace");
        let change = PolicyChange {
            sequence: 0,
            action: action.to_string(),
            policy_id: policy.id().to_string(),
            file_name: if with_file {
                policy.file_name().to_string()
            } else {
                String::new()
            },
            sha256: if with_file {
                policy.identity().library_sha256.clone()
            } else {
                String::new()
            },
        };
        self.store
            .record_policy_change(&change)
            .await
            .map_err(DomainError::from)?;
        Ok(())
    }

    /// Why this replica is not ready to serve, if it is not: the database does not answer, or
    /// it does not serve the policies the alliance wants, or it is shutting down.
    pub async fn not_ready(&self) -> Option<String> {
        if *self.shutting_down.borrow() {
            return Some("shutting down".into());
        }
        if let Err(e) = self.store.ping().await {
            return Some(format!("the database does not answer: {e}"));
        }
        self.policies.sync_problem()
    }
}

/// How often readiness is checked.
pub const READINESS_INTERVAL: Duration = Duration::from_millis(500);
