//! Admission limits: the one module of caps. Every string, list, page and message a request can
//! carry has a cap here, and every expensive call a per-caller and a server-wide bound.
//!
//! Guarantees: a request over a cap fails with RESOURCE_EXHAUSTED before anything is read or
//! written, and its error names the field, the size and the cap — never the oversize value
//! itself (error.rs also cuts every message to [`MAX_ERROR_MESSAGE`] bytes). Timestamps must be
//! in years 1–9999 with nanos in range (INVALID_ARGUMENT). Evaluations (EvaluateProposal, which
//! runs policies that may simulate) are admitted by [`EvaluationLimiter`]: at most
//! [`MAX_EVALUATIONS_PER_CALLER`] in flight per caller, at most `max(1, cores / 2)` policy calls of
//! evaluations running in the whole server (the rest wait, up to [`EVALUATION_QUEUE_WAIT`]), and
//! Monte Carlo parameters capped — so a burst of evaluations queues instead of pushing a policy
//! past its time limit (which would mark it UNHEALTHY for everyone).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use accord_proto::v1::{
    Ballot, EvaluateBatchRequest, EvaluateProposalRequest, Member, Mission, Partner, PolicyRef,
    Proposal, evaluate_proposal_request, proposal::Action,
};
use prost_types::Timestamp;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{DomainError, DomainResult};

/// Largest request message accepted (gRPC decoding limit).
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;
/// Largest response message sent (gRPC encoding limit).
pub const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;
/// Largest request to ProposalService, whose EvaluateBatch carries up to 1,000 evaluations (a
/// sweep sends 250 at a time, about 0.4 MiB); every other message there is small anyway, its
/// fields capped one by one below.
pub const MAX_BATCH_REQUEST_BYTES: usize = 4 * 1024 * 1024;
/// Largest ProposalService response: the answers to a whole batch.
pub const MAX_BATCH_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
/// Ballots in all the evaluations of one batch together.
pub const MAX_BATCH_BALLOTS: usize = 64 * 1024;
/// Longest error message a client is sent (defined with the error mapping).
pub use crate::error::MAX_ERROR_MESSAGE;
/// Resource names, ids, codes, file names, members, nonces' container fields.
pub const MAX_NAME: usize = 128;
/// Proposal titles, display names, labels.
pub const MAX_TITLE: usize = 200;
/// Ballot reasons.
pub const MAX_REASON: usize = 2_000;
/// Descriptions, motion texts, mandates, notes.
pub const MAX_TEXT: usize = 10_000;
/// Ballot nonces.
pub const MAX_NONCE: usize = 64;
/// Entries of a map or list in a request (parameters, partners, contributions, attributes).
pub const MAX_ITEMS: usize = 64;
/// A policy parameter's value.
pub const MAX_PARAMETER_VALUE: usize = 256;
/// Ballots laid over an evaluated proposal.
pub const MAX_EVALUATION_BALLOTS: usize = 256;
/// Policies asked in one evaluation.
pub const MAX_EVALUATION_POLICIES: usize = 8;
/// Evaluations one caller may have in flight.
pub const MAX_EVALUATIONS_PER_CALLER: usize = 2;
/// How long an evaluation waits for a free slot before RESOURCE_EXHAUSTED.
pub const EVALUATION_QUEUE_WAIT: Duration = Duration::from_secs(10);
/// Monte Carlo trials a proposal or an evaluation may ask for (parameters named `trials`).
pub const MAX_TRIALS: u64 = 200_000;
/// Threads a policy call may ask for (parameters named `threads`).
pub const MAX_THREADS: u64 = 2;
/// Cascade rounds a policy call may ask for (parameters named `rounds`).
pub const MAX_ROUNDS: u64 = 10_000;
/// Largest audit export page.
pub const MAX_AUDIT_PAGE: usize = 10_000;
/// Connections the server keeps open at once.
pub const MAX_CONNECTIONS: usize = 1024;
/// Streams one connection may have open at once.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 256;
/// HTTP/2 keepalive ping interval and timeout; a peer that does not answer is dropped.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// See [`KEEPALIVE_INTERVAL`].
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection is asked to go away (gracefully) after this long, idle or not.
pub const MAX_CONNECTION_AGE: Duration = Duration::from_secs(3600);
/// Smallest secret accepted as a token (characters).
pub const MIN_TOKEN_LEN: usize = 32;
/// Longest token looked at (longer ones are refused unread).
pub const MAX_TOKEN_LEN: usize = 512;

/// `value` (of `field`) is at most `max` bytes.
pub fn text(field: &str, value: &str, max: usize) -> DomainResult<()> {
    if value.len() > max {
        return Err(DomainError::TooLarge {
            field: field.to_string(),
            size: value.len(),
            max,
        });
    }
    Ok(())
}

/// `count` items (of `field`) are at most `max`.
pub fn items(field: &str, count: usize, max: usize) -> DomainResult<()> {
    if count > max {
        return Err(DomainError::TooLarge {
            field: field.to_string(),
            size: count,
            max,
        });
    }
    Ok(())
}

/// A timestamp in years 1–9999 with nanos in [0, 1e9).
pub fn timestamp(field: &str, time: &Timestamp) -> DomainResult<()> {
    // 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
    const MIN: i64 = -62_135_596_800;
    const MAX: i64 = 253_402_300_799;
    if !(0..1_000_000_000).contains(&time.nanos) {
        return Err(DomainError::invalid(
            field,
            format!("nanos {} is outside [0, 999999999]", time.nanos),
        ));
    }
    if !(MIN..=MAX).contains(&time.seconds) {
        return Err(DomainError::invalid(
            field,
            format!("{} seconds is outside the years 1 to 9999", time.seconds),
        ));
    }
    Ok(())
}

/// A policy reference's parameters.
pub fn policy_ref(field: &str, policy: &PolicyRef) -> DomainResult<()> {
    text(&format!("{field}.policy_id"), &policy.policy_id, MAX_NAME)?;
    items(
        &format!("{field}.parameters"),
        policy.parameters.len(),
        MAX_ITEMS,
    )?;
    for (name, value) in &policy.parameters {
        text(&format!("{field}.parameters (a name)"), name, MAX_NAME)?;
        text(
            &format!("{field}.parameters value"),
            value,
            MAX_PARAMETER_VALUE,
        )?;
    }
    Ok(())
}

/// Every string, list and time of a proposal.
pub fn proposal(p: &Proposal) -> DomainResult<()> {
    text("proposal.name", &p.name, MAX_NAME)?;
    text("proposal.title", &p.title, MAX_TITLE)?;
    text("proposal.description", &p.description, MAX_TEXT)?;
    text("proposal.sponsor", &p.sponsor, MAX_NAME)?;
    if let Some(policy) = &p.policy {
        policy_ref("proposal.policy", policy)?;
    }
    for (field, time) in [
        ("proposal.deadline", &p.deadline),
        ("proposal.create_time", &p.create_time),
        ("proposal.close_time", &p.close_time),
    ] {
        if let Some(time) = time {
            timestamp(field, time)?;
        }
    }
    match &p.action {
        Some(Action::LaunchMission(a)) => {
            text(
                "proposal.launch_mission.mission_id",
                &a.mission_id,
                MAX_NAME,
            )?;
            text(
                "proposal.launch_mission.display_name",
                &a.display_name,
                MAX_TITLE,
            )?;
            text("proposal.launch_mission.location", &a.location, MAX_TITLE)?;
            text("proposal.launch_mission.mandate", &a.mandate, MAX_TEXT)?;
        }
        Some(Action::EndMission(a)) => text("proposal.end_mission.mission", &a.mission, MAX_NAME)?,
        Some(Action::ResizeMission(a)) => {
            text("proposal.resize_mission.mission", &a.mission, MAX_NAME)?
        }
        Some(Action::ExtendMission(a)) => {
            text("proposal.extend_mission.mission", &a.mission, MAX_NAME)?
        }
        Some(Action::SetSummitParticipation(a)) => {
            let field = "proposal.set_summit_participation.partners";
            items(field, a.partners.len(), MAX_ITEMS)?;
            for partner in &a.partners {
                text(field, partner, MAX_NAME)?;
            }
            text(
                "proposal.set_summit_participation.summit",
                &a.summit,
                MAX_TITLE,
            )?;
        }
        Some(Action::GenericMotion(a)) => {
            text("proposal.generic_motion.target", &a.target, MAX_TITLE)?;
            text("proposal.generic_motion.text", &a.text, MAX_TEXT)?;
        }
        None => {}
    }
    Ok(())
}

/// Every string of a ballot.
pub fn ballot(field: &str, b: &Ballot) -> DomainResult<()> {
    text(&format!("{field}.name"), &b.name, MAX_NAME)?;
    text(&format!("{field}.member"), &b.member, MAX_NAME)?;
    text(&format!("{field}.reason"), &b.reason, MAX_REASON)?;
    text(&format!("{field}.nonce"), &b.nonce, MAX_NONCE)?;
    if b.signature.len() > 64 {
        return Err(DomainError::TooLarge {
            field: format!("{field}.signature"),
            size: b.signature.len(),
            max: 64,
        });
    }
    if let Some(time) = &b.cast_time {
        timestamp(&format!("{field}.cast_time"), time)?;
    }
    Ok(())
}

/// Every string and list of a member.
pub fn member(m: &Member) -> DomainResult<()> {
    text("member.name", &m.name, MAX_NAME)?;
    text("member.code", &m.code, MAX_NAME)?;
    text("member.display_name", &m.display_name, MAX_TITLE)?;
    text("member.region", &m.region, MAX_TITLE)?;
    items("member.attributes", m.attributes.len(), MAX_ITEMS)?;
    for name in m.attributes.keys() {
        text("member.attributes (a name)", name, MAX_NAME)?;
    }
    Ok(())
}

/// Every string and list of a partner.
pub fn partner(p: &Partner) -> DomainResult<()> {
    text("partner.name", &p.name, MAX_NAME)?;
    text("partner.code", &p.code, MAX_NAME)?;
    text("partner.display_name", &p.display_name, MAX_TITLE)?;
    text("partner.framework", &p.framework, MAX_TITLE)?;
    text("partner.attendance_notes", &p.attendance_notes, MAX_TEXT)?;
    Ok(())
}

/// Every string and list of a mission.
pub fn mission(m: &Mission) -> DomainResult<()> {
    text("mission.name", &m.name, MAX_NAME)?;
    text("mission.id", &m.id, MAX_NAME)?;
    text("mission.display_name", &m.display_name, MAX_TITLE)?;
    text("mission.location", &m.location, MAX_TITLE)?;
    text("mission.mandate", &m.mandate, MAX_TEXT)?;
    items("mission.contributions", m.contributions.len(), MAX_ITEMS)?;
    for c in &m.contributions {
        text("mission.contributions.member", &c.member, MAX_NAME)?;
    }
    Ok(())
}

/// Caps the cost parameters of a policy call: `trials` at [`MAX_TRIALS`], `threads` at
/// [`MAX_THREADS`], `rounds` at [`MAX_ROUNDS`]. A value over the cap is refused (RESOURCE_EXHAUSTED), not lowered.
/// Checks an evaluation's sizes: its hypothetical proposal, time, ballots and policies.
pub fn evaluation(r: &EvaluateProposalRequest) -> DomainResult<()> {
    if let Some(evaluate_proposal_request::Subject::Proposal(p)) = &r.subject {
        proposal(p)?;
    }
    if let Some(time) = &r.evaluate_time {
        timestamp("evaluate_time", time)?;
    }
    items("ballots", r.ballots.len(), MAX_EVALUATION_BALLOTS)?;
    for (i, b) in r.ballots.iter().enumerate() {
        ballot(&format!("ballots[{i}]"), b)?;
    }
    items("policies", r.policies.len(), MAX_EVALUATION_POLICIES)?;
    for (i, p) in r.policies.iter().enumerate() {
        let field = format!("policies[{i}]");
        policy_ref(&field, p)?;
        evaluation_parameters(&field, p)?;
    }
    Ok(())
}

/// Checks every item of a batch as [`evaluation`] does, naming `evaluations[i]` (the number of
/// items is checked where the batch is run).
pub fn evaluation_batch(r: &EvaluateBatchRequest) -> DomainResult<()> {
    let ballots: usize = r.evaluations.iter().map(|e| e.ballots.len()).sum();
    items("evaluations[].ballots", ballots, MAX_BATCH_BALLOTS)?;
    for (i, item) in r.evaluations.iter().enumerate() {
        evaluation(item).map_err(|e| e.in_item(&format!("evaluations[{i}]")))?;
    }
    Ok(())
}

pub fn evaluation_parameters(field: &str, policy: &PolicyRef) -> DomainResult<()> {
    for (name, value) in &policy.parameters {
        let cap = match name.as_str() {
            "trials" => MAX_TRIALS,
            "threads" => MAX_THREADS,
            "rounds" => MAX_ROUNDS,
            _ => continue,
        };
        if let Ok(n) = value.trim().parse::<u64>() {
            if n > cap {
                return Err(DomainError::TooLarge {
                    field: format!("{field}.parameters.{name}"),
                    size: n as usize,
                    max: cap as usize,
                });
            }
        }
    }
    Ok(())
}

/// Admission of evaluations: per caller and server-wide (see the module doc). Both wait, up to
/// [`EVALUATION_QUEUE_WAIT`] in all, for a free place, then refuse with RESOURCE_EXHAUSTED.
#[derive(Debug)]
pub struct EvaluationLimiter {
    slots: Arc<Semaphore>,
    capacity: u32,
    /// One semaphore of [`MAX_EVALUATIONS_PER_CALLER`] places per caller (callers are actors:
    /// operator, observer, members/…, anonymous — a bounded set).
    per_caller: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Default for EvaluationLimiter {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let capacity = (cores / 2).max(1);
        Self {
            slots: Arc::new(Semaphore::new(capacity)),
            capacity: capacity as u32,
            per_caller: Mutex::new(HashMap::new()),
        }
    }
}

/// An admitted evaluation; frees its places when dropped.
#[derive(Debug)]
pub struct Admitted {
    _caller: OwnedSemaphorePermit,
    _slots: OwnedSemaphorePermit,
}

fn busy(what: &str) -> DomainError {
    DomainError::Exhausted(format!(
        "{what} (waited {EVALUATION_QUEUE_WAIT:?} for a free place); try again later"
    ))
}

impl EvaluationLimiter {
    /// Admits one evaluation by `caller` that makes `calls` policy calls (each takes a slot).
    pub async fn admit(&self, caller: &str, calls: usize) -> DomainResult<Admitted> {
        let own = self
            .per_caller
            .lock()
            .expect("limiter lock")
            .entry(caller.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(MAX_EVALUATIONS_PER_CALLER)))
            .clone();
        let deadline = tokio::time::Instant::now() + EVALUATION_QUEUE_WAIT;
        let caller_permit = tokio::time::timeout_at(deadline, own.acquire_owned())
            .await
            .map_err(|_| {
                busy(&format!(
                    "{caller} already has {MAX_EVALUATIONS_PER_CALLER} evaluations in flight"
                ))
            })?
            .map_err(|_| DomainError::ShuttingDown)?;
        // Asking for more permits than exist would wait for ever: at most all of them.
        let want = (calls.clamp(1, MAX_EVALUATION_POLICIES) as u32).min(self.capacity);
        let slots = tokio::time::timeout_at(deadline, self.slots.clone().acquire_many_owned(want))
            .await
            .map_err(|_| busy("the server is busy with other evaluations"))?
            .map_err(|_| DomainError::ShuttingDown)?;
        Ok(Admitted {
            _caller: caller_permit,
            _slots: slots,
        })
    }
}
