//! The deadline scheduler: a background task that closes open proposals when their deadline
//! comes (also those whose deadline passed while the server was down) and terminates missions
//! whose end date has passed.
//!
//! With several replicas on one database, each runs a scheduler: a replica first *claims* the
//! proposals that are due (`Store::claim_due_proposals`: a lease taken with `FOR UPDATE SKIP
//! LOCKED`), so no two replicas decide the same one at once, and the close itself happens at most
//! once whoever tries (the store refuses a second close). A replica that dies holding a claim
//! leaves nothing half done — a close is one transaction — and the claim runs out after
//! [`CLAIM_LEASE`], when another replica takes it over.

use std::sync::Arc;
use std::time::Duration;

use accord_proto::v1::{MissionStatus, ProposalState};
use accord_store::PageRequest;
use tracing::{info, warn};

use crate::app::App;
use crate::time;

/// The longest the scheduler sleeps between checks (missions end at dates, not instants).
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// How long a claim on a due proposal keeps other replicas off it.
pub const CLAIM_LEASE: Duration = Duration::from_secs(30);
/// The most due proposals claimed at once.
const CLAIM_BATCH: usize = 64;

/// Runs until the task is aborted.
pub async fn run(app: Arc<App>) {
    loop {
        let wait = match tick(&app).await {
            Ok(wait) => wait,
            Err(e) => {
                warn!(error = %e, "deadline scheduler could not read the store; retrying");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = app.deadlines_changed.notified() => {}
        }
    }
}

/// Closes what is due; returns how long to sleep until the next deadline.
async fn tick(app: &App) -> Result<Duration, accord_store::StoreError> {
    let now = time::now();
    let now_ms = now
        .seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(now.nanos) / 1_000_000);
    let mut wait = MAX_SLEEP;
    let claimed = app
        .store
        .claim_due_proposals(now_ms, CLAIM_LEASE.as_millis() as i64, CLAIM_BATCH)
        .await?;
    for proposal in &claimed {
        let Some(id) = accord_proto::names::parse(accord_proto::names::PROPOSALS, &proposal.name)
        else {
            continue;
        };
        app.settle(id).await;
        if app
            .store
            .get_proposal(id)
            .await
            .map(|p| p.state == ProposalState::Open as i32)
            .unwrap_or(false)
        {
            wait = wait.min(Duration::from_secs(1)); // could not close it yet: retry soon
        }
    }
    for proposal in app.store.open_proposals().await? {
        let Some(deadline) = proposal.deadline else {
            continue;
        };
        if time::before(&now, &deadline) {
            let secs = time::seconds_until(&now, &deadline).max(0.0);
            wait = wait.min(Duration::from_secs_f64(secs) + Duration::from_millis(5));
        } else if !claimed.iter().any(|c| c.name == proposal.name) {
            // Due, but claimed by another replica: look again, to take it over should that
            // replica die before closing it.
            wait = wait.min(Duration::from_secs(1));
        }
    }
    if claimed.len() == CLAIM_BATCH {
        wait = Duration::ZERO;
    }
    terminate_ended_missions(app).await?;
    Ok(wait)
}

async fn terminate_ended_missions(app: &App) -> Result<(), accord_store::StoreError> {
    let today = time::to_naive(&time::today());
    let page = PageRequest {
        size: 1000,
        token: String::new(),
    };
    for mut mission in app
        .store
        .list_missions(Some(MissionStatus::DrawingDown), page)
        .await?
        .items
    {
        let ended = mission
            .end_date
            .as_ref()
            .and_then(time::to_naive)
            .is_some_and(|d| Some(d) <= today);
        if ended {
            mission.status = MissionStatus::Terminated as i32;
            let updated = app.store.update_mission(&mission).await;
            app.missions.invalidate();
            updated?;
            info!(mission = %mission.name, "mission reached its end date: terminated");
        }
    }
    Ok(())
}
