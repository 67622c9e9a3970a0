//! Proposals and ballots: creating a proposal (validated against its action), casting ballots,
//! deciding with the proposal's policy, closing it and applying what an adopted decision
//! changes in the alliance, evaluating proposals without changing anything, and watching them.

use std::collections::HashMap;
use std::sync::Arc;

use accord_policy_sdk::electorate::ElectorateSnapshot;
use accord_policy_sdk::proto::DecisionRequest;
use accord_proto::names::{self, MEMBERS, MISSIONS, PARTNERS, POLICIES, PROPOSALS};
use accord_proto::v1::{
    Ballot, Choice, Decision, EvaluateBatchRequest, EvaluateProposalRequest,
    EvaluateProposalResponse, Member, MemberStatus, Mission, MissionArea, MissionStatus, Outcome,
    PolicyEvaluation, PolicyRef, Procedure, Proposal, ProposalEventType, ProposalKind,
    ProposalState, SummitParticipation, WatchProposalResponse, position, proposal::Action,
};
use accord_store::{Closing, Effect, ProposalFilter, StoreError};
use prost_types::Timestamp;
use tracing::{info, warn};

use crate::app::{App, parse_enum, parse_name};
use crate::error::{DomainError, DomainResult};
use crate::time;

/// How long a proposal stays open when it is created without a deadline: 14 days.
pub const DEFAULT_OPEN_SECONDS: i64 = 14 * 24 * 3600;
/// The seed used for evaluations that do not give one.
pub const DEFAULT_SEED: u64 = 2026;

/// The numeric id in "proposals/{id}".
pub fn proposal_id<'a>(field: &str, name: &'a str) -> DomainResult<&'a str> {
    let id = parse_name(field, PROPOSALS, name)?;
    if !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(DomainError::invalid(
            field,
            format!("`{name}`: proposal ids are numbers"),
        ));
    }
    Ok(id)
}

/// The kind of a proposal's action.
pub fn kind_of(action: &Action) -> ProposalKind {
    match action {
        Action::LaunchMission(_) => ProposalKind::LaunchMission,
        Action::EndMission(_) => ProposalKind::EndMission,
        Action::ResizeMission(_) => ProposalKind::ResizeMission,
        Action::ExtendMission(_) => ProposalKind::ExtendMission,
        Action::SetSummitParticipation(_) => ProposalKind::SetSummitParticipation,
        Action::GenericMotion(_) => ProposalKind::GenericMotion,
    }
}

/// The resource an action is about ("missions/KFOR", "partners/UKR"), or the motion's target.
pub fn target_of(action: &Action) -> String {
    match action {
        Action::LaunchMission(a) => names::name(MISSIONS, &a.mission_id),
        Action::EndMission(a) => a.mission.clone(),
        Action::ResizeMission(a) => a.mission.clone(),
        Action::ExtendMission(a) => a.mission.clone(),
        Action::SetSummitParticipation(a) => a.partners.join(","),
        Action::GenericMotion(a) => a.target.clone(),
    }
}

fn valid_mission_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 32
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
}

impl App {
    async fn mission_for(&self, field: &str, name: &str) -> DomainResult<Mission> {
        let id = parse_name(field, MISSIONS, name)?;
        Ok(self.store.get_mission(id).await?)
    }

    /// Checks a proposal's action against the alliance as it is now.
    async fn validate_action(&self, action: Option<&Action>) -> DomainResult<()> {
        let action = action.ok_or_else(|| {
            DomainError::invalid("proposal.action", "a proposal needs an action (launch, end, resize, extend, summit participation or a generic motion)")
        })?;
        let check_date = |field: &str, date: &Option<accord_proto::v1::Date>| -> DomainResult<()> {
            let date = date
                .as_ref()
                .ok_or_else(|| DomainError::invalid(field, "is required"))?;
            time::to_naive(date).map(|_| ()).ok_or_else(|| {
                DomainError::invalid(
                    field,
                    format!("{} is not a valid date", time::format_date(date)),
                )
            })
        };
        let not_terminated = |mission: &Mission, what: &str| -> DomainResult<()> {
            match MissionStatus::try_from(mission.status) {
                Ok(MissionStatus::Active) | Ok(MissionStatus::DrawingDown) => Ok(()),
                Ok(status) => Err(DomainError::Precondition(format!(
                    "cannot {what} mission {}: it is {}",
                    mission.name,
                    format!("{status:?}").to_lowercase()
                ))),
                Err(_) => Err(DomainError::Precondition(format!(
                    "mission {} has an unknown status",
                    mission.name
                ))),
            }
        };
        match action {
            Action::LaunchMission(a) => {
                if !valid_mission_id(&a.mission_id) {
                    return Err(DomainError::invalid(
                        "proposal.launch_mission.mission_id",
                        format!(
                            "`{}` must be 1-32 upper-case letters, digits or hyphens",
                            a.mission_id
                        ),
                    ));
                }
                if a.display_name.trim().is_empty() {
                    return Err(DomainError::invalid(
                        "proposal.launch_mission.display_name",
                        "is required",
                    ));
                }
                if a.personnel_ceiling < 0 {
                    return Err(DomainError::invalid(
                        "proposal.launch_mission.personnel_ceiling",
                        format!("{} is negative", a.personnel_ceiling),
                    ));
                }
                match self.store.get_mission(&a.mission_id).await {
                    Ok(_) => Err(DomainError::AlreadyExists {
                        kind: "mission",
                        name: names::name(MISSIONS, &a.mission_id),
                        hint: "choose another mission id",
                    }),
                    Err(StoreError::NotFound { .. }) => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
            Action::EndMission(a) => {
                check_date("proposal.end_mission.end_date", &a.end_date)?;
                let mission = self
                    .mission_for("proposal.end_mission.mission", &a.mission)
                    .await?;
                if mission.status != MissionStatus::Active as i32 {
                    return Err(DomainError::Precondition(format!(
                        "cannot end mission {}: only an active mission can be ended (it is {})",
                        mission.name,
                        format!(
                            "{:?}",
                            MissionStatus::try_from(mission.status)
                                .unwrap_or(MissionStatus::Unspecified)
                        )
                        .to_lowercase()
                    )));
                }
                Ok(())
            }
            Action::ResizeMission(a) => {
                if a.personnel_ceiling < 0 {
                    return Err(DomainError::invalid(
                        "proposal.resize_mission.personnel_ceiling",
                        format!(
                            "{} is negative: a ceiling is zero or more troops",
                            a.personnel_ceiling
                        ),
                    ));
                }
                let mission = self
                    .mission_for("proposal.resize_mission.mission", &a.mission)
                    .await?;
                not_terminated(&mission, "resize")
            }
            Action::ExtendMission(a) => {
                check_date("proposal.extend_mission.end_date", &a.end_date)?;
                let mission = self
                    .mission_for("proposal.extend_mission.mission", &a.mission)
                    .await?;
                not_terminated(&mission, "extend")?;
                // Extending moves an end date later; a mission without one has nothing to extend
                // from, so any date sets it.
                let current = mission.end_date.as_ref().and_then(time::to_naive);
                let proposed = a.end_date.as_ref().and_then(time::to_naive);
                if let (Some(current), Some(proposed)) = (current, proposed) {
                    if proposed <= current {
                        return Err(DomainError::invalid(
                            "proposal.extend_mission.end_date",
                            format!(
                                "{proposed} is not later than the mission's end date {current}"
                            ),
                        ));
                    }
                }
                Ok(())
            }
            Action::SetSummitParticipation(a) => {
                let field = "proposal.set_summit_participation.partners";
                if a.partners.is_empty() {
                    return Err(DomainError::invalid(field, "name at least one partner"));
                }
                let mut seen = std::collections::HashSet::new();
                for partner in &a.partners {
                    let code = parse_name(field, PARTNERS, partner)?;
                    if !seen.insert(code) {
                        return Err(DomainError::invalid(
                            field,
                            format!("{partner} is named twice"),
                        ));
                    }
                    self.store.get_partner(code).await?;
                }
                let participation: SummitParticipation = parse_enum(
                    "proposal.set_summit_participation.participation",
                    a.participation,
                )?;
                if participation == SummitParticipation::Unspecified {
                    return Err(DomainError::invalid(
                        "proposal.set_summit_participation.participation",
                        "is required (full, restricted or none)",
                    ));
                }
                Ok(())
            }
            Action::GenericMotion(a) => {
                if a.text.trim().is_empty() {
                    return Err(DomainError::invalid(
                        "proposal.generic_motion.text",
                        "is required",
                    ));
                }
                Ok(())
            }
        }
    }

    /// Resolves a proposal's policy reference: empty id → the default policy; the policy must
    /// be loaded and its parameters must parse.
    fn resolve_policy(&self, field: &str, policy: Option<PolicyRef>) -> DomainResult<PolicyRef> {
        let mut policy = policy.unwrap_or_default();
        if policy.policy_id.is_empty() {
            policy.policy_id = self.policies.default_id().ok_or_else(|| {
                DomainError::Precondition("no policy named and no default policy is set".into())
            })?;
        }
        if let Some(id) = names::parse(POLICIES, &policy.policy_id) {
            policy.policy_id = id.to_string();
        }
        self.policies
            .get_any(&policy.policy_id)
            .map_err(|e| match e {
                DomainError::NotFound { .. } => DomainError::not_found(
                    "policy",
                    format!("policies/{} ({field})", policy.policy_id),
                ),
                other => other,
            })?;
        self.policies
            .check_parameters(&policy.policy_id, &policy.parameters)?;
        Ok(policy)
    }

    async fn active_member(&self, field: &str, name: &str) -> DomainResult<String> {
        let code = parse_name(field, MEMBERS, name)?;
        let status = self.members.with(&*self.store, code, |m| m.status).await?;
        if status != MemberStatus::Active as i32 {
            return Err(DomainError::Precondition(format!(
                "member {name} is not an active member and takes no part in decisions"
            )));
        }
        Ok(code.to_string())
    }

    /// Creates a proposal.
    pub async fn create_proposal(&self, proposal: Option<Proposal>) -> DomainResult<Proposal> {
        let mut proposal =
            proposal.ok_or_else(|| DomainError::invalid("proposal", "is required"))?;
        if proposal.title.trim().is_empty() {
            return Err(DomainError::invalid("proposal.title", "is required"));
        }
        self.active_member("proposal.sponsor", &proposal.sponsor)
            .await?;
        let procedure: Procedure = parse_enum("proposal.procedure", proposal.procedure)?;
        let now = time::now();
        match &proposal.deadline {
            Some(deadline) if !time::before(&now, deadline) => {
                return Err(DomainError::invalid("proposal.deadline", "is in the past"));
            }
            Some(_) => {}
            None => proposal.deadline = Some(time::plus_seconds(&now, DEFAULT_OPEN_SECONDS)),
        }
        self.validate_action(proposal.action.as_ref()).await?;
        let policy = self.resolve_policy("proposal.policy", proposal.policy.take())?;
        if self.policies.is_disabled(&policy.policy_id) {
            return Err(DomainError::Precondition(format!(
                "policy policies/{} is disabled: it cannot decide a new proposal",
                policy.policy_id
            )));
        }
        proposal.policy = Some(policy);
        proposal.procedure = if procedure == Procedure::Unspecified {
            Procedure::OpenVote
        } else {
            procedure
        } as i32;
        proposal.name = String::new();
        proposal.state = ProposalState::Open as i32;
        proposal.create_time = Some(now);
        proposal.close_time = None;
        proposal.decision = None;
        let action = proposal.action.as_ref().expect("validated");
        let (kind, target) = (kind_of(action), target_of(action));
        let stored = self.store.create_proposal(&proposal, kind, &target).await?;
        info!(proposal = %stored.name, kind = ?kind, target = %target, "proposal created");
        self.deadlines_changed.notify_one();
        Ok(stored)
    }

    /// Gets a proposal by name, from memory when it is kept there (`cache.rs`): a closed one
    /// always (it never changes again); an open one only on a store no other replica writes
    /// (its record changes only when it closes, which invalidates it), since another replica's
    /// close reaches this one only with its notice and a read should not lag a close it follows.
    pub async fn get_proposal(&self, name: &str) -> DomainResult<Proposal> {
        let id = proposal_id("name", name)?;
        let open_too = !self.store.shared();
        let proposal = self.proposals.read(&*self.store, id, open_too).await?;
        Ok(Proposal::clone(&proposal))
    }

    /// Lists proposals.
    pub async fn list_proposals(
        &self,
        state: i32,
        kind: i32,
        target: &str,
        page: accord_store::PageRequest,
    ) -> DomainResult<accord_store::Page<Proposal>> {
        let state: ProposalState = parse_enum("state", state)?;
        let kind: ProposalKind = parse_enum("kind", kind)?;
        let filter = ProposalFilter {
            state: (state != ProposalState::Unspecified).then_some(state),
            kind: (kind != ProposalKind::Unspecified).then_some(kind),
            target: (!target.is_empty()).then(|| target.to_string()),
        };
        Ok(self.store.list_proposals(&filter, page).await?)
    }

    /// Validates a ballot for `proposal` (member active, choice known, salience and position
    /// in range and of the proposal's quantity).
    async fn validate_ballot(
        &self,
        proposal: &Proposal,
        ballot: &mut Ballot,
        field: &str,
    ) -> DomainResult<()> {
        let code = self
            .active_member(&format!("{field}.member"), &ballot.member)
            .await?;
        ballot.member = names::name(MEMBERS, &code);
        if ballot.withdrawn {
            let stated = ballot.choice != 0
                || ballot.position.is_some()
                || ballot.salience.is_some()
                || ballot.constructive_abstention
                || !ballot.reservation.is_empty()
                || ballot.acceptable_range.is_some();
            if stated {
                return Err(DomainError::invalid(
                    format!("{field}.withdrawn"),
                    "a withdrawal states no choice, position, salience, abstention, reservation \
                     or range (a reason may say why)",
                ));
            }
            return Ok(());
        }
        let choice: Choice = parse_enum(&format!("{field}.choice"), ballot.choice)?;
        if choice == Choice::Unspecified {
            return Err(DomainError::invalid(
                format!("{field}.choice"),
                "is required (support, object or abstain)",
            ));
        }
        if let Some(s) = ballot.salience {
            if !(0.0..=1.0).contains(&s) {
                return Err(DomainError::invalid(
                    format!("{field}.salience"),
                    format!("{s} is outside [0, 1]"),
                ));
            }
        }
        if let Some(value) = ballot.position.as_ref().and_then(|p| p.value.as_ref()) {
            let field = format!("{field}.position");
            match (proposal.action.as_ref(), value) {
                (
                    Some(Action::EndMission(_) | Action::ExtendMission(_)),
                    position::Value::Date(d),
                ) => {
                    if time::to_naive(d).is_none() {
                        return Err(DomainError::invalid(
                            field,
                            format!("{} is not a valid date", time::format_date(d)),
                        ));
                    }
                }
                (
                    Some(Action::ResizeMission(_) | Action::LaunchMission(_)),
                    position::Value::Amount(a),
                ) => {
                    if !a.is_finite() || *a < 0.0 {
                        return Err(DomainError::invalid(
                            field,
                            format!("{a} is not a troop number (zero or more)"),
                        ));
                    }
                }
                _ => {
                    return Err(DomainError::invalid(
                        field,
                        "does not fit the proposal: a date for end and extend proposals, an amount for resize and launch proposals, none otherwise",
                    ));
                }
            }
        }
        crate::forecasts::check_range(proposal, ballot, field)?;
        Ok(())
    }

    /// Casts a ballot. Durable when this returns; the proposal is then settled if its result
    /// can no longer change.
    pub async fn cast_ballot(
        &self,
        proposal_name: &str,
        ballot: Option<Ballot>,
    ) -> DomainResult<(Ballot, Proposal)> {
        let id = proposal_id("proposal", proposal_name)?;
        let mut ballot = ballot.ok_or_else(|| DomainError::invalid("ballot", "is required"))?;
        let proposal = self.proposals.get(&*self.store, id).await?;
        self.validate_ballot(&proposal, &mut ballot, "ballot")
            .await?;
        let now = time::now();
        if proposal.state == ProposalState::Open as i32
            && proposal
                .deadline
                .as_ref()
                .is_some_and(|d| !time::before(&now, d))
        {
            return Err(DomainError::Precondition(format!(
                "proposal {} reached its deadline and is being closed: it takes no more ballots",
                proposal.name
            )));
        }
        self.ballot_keys.check(&proposal.name, &ballot)?;
        if ballot.withdrawn {
            let current = self.store.last_ballots(id).await?;
            if !current
                .iter()
                .any(|b| b.member == ballot.member && !b.withdrawn)
            {
                return Err(DomainError::Precondition(format!(
                    "{} has no ballot on {} to withdraw",
                    ballot.member, proposal.name
                )));
            }
        }
        ballot.name = String::new();
        ballot.cast_time = Some(now);
        let stored = self.store.cast_ballot(id, &ballot).await?;
        self.metrics.ballot_cast();

        let silence_broken = proposal.procedure == Procedure::Silence as i32
            && ballot.choice == Choice::Object as i32;
        self.events.publish_with(id, || WatchProposalResponse {
            r#type: ProposalEventType::BallotCast as i32,
            proposal: Some(Proposal::clone(&proposal)),
            ballot: Some(stored.clone()),
            decision: None,
            event_time: Some(now),
        });
        if silence_broken {
            self.events.publish_with(id, || WatchProposalResponse {
                r#type: ProposalEventType::SilenceBroken as i32,
                proposal: Some(Proposal::clone(&proposal)),
                ballot: Some(stored.clone()),
                decision: None,
                event_time: Some(now),
            });
        }
        self.settle(id).await;
        let proposal = self.proposals.get(&*self.store, id).await?;
        Ok((stored, Proposal::clone(&proposal)))
    }

    /// Builds the request a policy decides: without its members, which travel as the
    /// alliance's electorate snapshot (encoded once per version of the members; ABI 1.1).
    async fn decision_request(
        &self,
        proposal: &Proposal,
        ballots: Vec<Ballot>,
        now: Timestamp,
        seed: u64,
    ) -> DomainResult<Decidable> {
        let members = self.members.all(&*self.store).await?;
        let electorate = self.policies.electorate(&members);
        let mission = match proposal.action.as_ref() {
            Some(Action::EndMission(a)) => Some(&a.mission),
            Some(Action::ResizeMission(a)) => Some(&a.mission),
            Some(Action::ExtendMission(a)) => Some(&a.mission),
            _ => None,
        };
        let mission = match mission.and_then(|m| names::parse(MISSIONS, m)) {
            Some(id) => Some(self.store.get_mission(id).await?),
            None => None,
        };
        // A withdrawn ballot is no ballot: policies never see withdrawals.
        let mut ballots = ballots;
        ballots.retain(|b| !b.withdrawn);
        let request = DecisionRequest {
            proposal: Some(proposal.clone()),
            members: Vec::new(),
            ballots,
            parameters: proposal
                .policy
                .as_ref()
                .map(|p| p.parameters.clone())
                .unwrap_or_default(),
            seed,
            now: Some(now),
            mission,
            electorate_id: 0,
        };
        Ok(Decidable {
            request,
            members,
            electorate,
        })
    }

    fn seed_of(proposal: &Proposal) -> u64 {
        names::parse(PROPOSALS, &proposal.name)
            .and_then(|id| id.parse().ok())
            .unwrap_or(DEFAULT_SEED)
    }

    /// Decides an open proposal as of `now` with its own policy. Also returns the highest
    /// ballot sequence the decision saw, for [`Closing::last_ballot`].
    async fn decide_now(
        &self,
        proposal: &Proposal,
        now: Timestamp,
    ) -> DomainResult<(Decision, i64)> {
        let id = proposal_id("name", &proposal.name)?;
        let ballots = self.store.last_ballots(id).await?;
        let last_ballot = ballots
            .iter()
            .filter_map(|b| {
                b.name
                    .rsplit('/')
                    .next()
                    .and_then(|s| s.parse::<i64>().ok())
            })
            .max()
            .unwrap_or(0);
        let decidable = self
            .decision_request(proposal, ballots, now, Self::seed_of(proposal))
            .await?;
        let policy = proposal
            .policy
            .as_ref()
            .map(|p| p.policy_id.clone())
            .unwrap_or_default();
        Ok((
            self.call_policy(&policy, decidable.request, decidable.electorate)
                .await?,
            last_ballot,
        ))
    }

    /// Decides `request` (its members in `electorate`) under policy `id`, recording the call's
    /// duration if a call was made.
    async fn call_policy(
        &self,
        id: &str,
        request: DecisionRequest,
        electorate: Arc<ElectorateSnapshot>,
    ) -> DomainResult<Decision> {
        let started = std::time::Instant::now();
        let result = self.policies.decide(id, request, electorate).await;
        // A policy that is missing or unavailable was not called.
        let called = !matches!(
            result,
            Err(DomainError::NotFound { .. } | DomainError::PolicyUnavailable { .. })
        );
        if called {
            self.metrics
                .policy_called(id, started.elapsed(), result.is_ok());
        }
        result
    }

    /// Settles proposal `id` if its result can no longer change (or its deadline has passed),
    /// and returns once a settle that started after this call has finished — so a ballot's
    /// caller sees the decision its ballot led to.
    ///
    /// Concurrent calls for the same proposal coalesce: one settle runs at a time, and each
    /// settle answers every call made before it started (it reads every ballot committed by
    /// then). A call takes a ticket; while a settle runs, the others wait, and when it finishes
    /// those it did not cover run one more settle, which covers all of them. No caller settles
    /// more than once (bar a close refused as stale, which decides again), so under a steady
    /// stream of ballots no call is kept settling for the others.
    pub async fn settle(&self, id: &str) {
        self.settlers
            .coalesce(id, || async {
                loop {
                    match self.settle_once(id).await {
                        Ok(()) => break,
                        // A ballot arrived after the decision was made: decide again.
                        Err(DomainError::Conflict(_)) => continue,
                        Err(e) => {
                            warn!(proposal = %id, error = %e, "could not settle proposal");
                            break;
                        }
                    }
                }
            })
            .await;
    }

    async fn settle_once(&self, id: &str) -> DomainResult<()> {
        let proposal = self.proposals.get(&*self.store, id).await?;
        if proposal.state != ProposalState::Open as i32 {
            return Ok(());
        }
        let now = time::now();
        let deadline_passed = proposal
            .deadline
            .as_ref()
            .is_some_and(|d| !time::before(&now, d));
        match self.decide_now(&proposal, now).await {
            Ok((decision, last_ballot)) if decision.settled || deadline_passed => {
                self.close(&proposal, decision, now, Some(last_ballot))
                    .await?;
            }
            Ok(_) => {}
            Err(error) if deadline_passed => {
                let decision = Decision {
                    outcome: Outcome::Pending as i32,
                    settled: true,
                    explanation: vec![format!(
                        "the deadline passed but the proposal could not be decided: {error}"
                    )],
                    ..Default::default()
                };
                self.close(&proposal, decision, now, None).await?;
            }
            Err(error) => return Err(error),
        }
        Ok(())
    }

    /// Closes `proposal` with `decision`: adopted (effects applied), rejected, or expired.
    async fn close(
        &self,
        proposal: &Proposal,
        mut decision: Decision,
        now: Timestamp,
        last_ballot: Option<i64>,
    ) -> DomainResult<Proposal> {
        let id = proposal_id("name", &proposal.name)?;
        let outcome = Outcome::try_from(decision.outcome).unwrap_or(Outcome::Unspecified);
        let (state, effects) = match outcome {
            Outcome::Adopted => match self.effects(proposal).await {
                Ok(effects) => (ProposalState::Adopted, effects),
                Err(reason) => {
                    decision.explanation.push(format!(
                        "adopted, but it can no longer take effect: {reason}"
                    ));
                    (ProposalState::Expired, Vec::new())
                }
            },
            Outcome::Rejected => (ProposalState::Rejected, Vec::new()),
            Outcome::Pending | Outcome::Unspecified => (ProposalState::Expired, Vec::new()),
        };
        let closing = Closing {
            state,
            decision: Some(decision.clone()),
            close_time: now,
            effects,
            last_ballot,
        };
        let closed = self.store.close_proposal(id, &closing).await;
        self.proposals.invalidate(id);
        self.effects_applied();
        let closed = closed?;
        let policy_id = proposal.policy.as_ref().map(|p| p.policy_id.as_str());
        self.metrics
            .decided(policy_id.unwrap_or_default(), state_word(state as i32));
        info!(proposal = %closed.name, state = ?state, policy = ?decision.policy.as_ref().map(|p| &p.policy_id), "proposal closed");
        self.events.publish(
            id,
            WatchProposalResponse {
                r#type: ProposalEventType::Decided as i32,
                proposal: Some(closed.clone()),
                ballot: None,
                decision: Some(decision),
                event_time: Some(now),
            },
        );
        self.events.close(id);
        self.settlers.forget(id);
        Ok(closed)
    }

    /// What adopting `proposal` changes, computed against the alliance as it is now.
    async fn effects(&self, proposal: &Proposal) -> Result<Vec<Effect>, String> {
        let mission = |name: &str| {
            let name = name.to_string();
            async move {
                let id = names::parse(MISSIONS, &name)
                    .ok_or_else(|| format!("`{name}` is not a mission name"))?;
                let mission = self
                    .store
                    .get_mission(id)
                    .await
                    .map_err(|e| e.to_string())?;
                if mission.status == MissionStatus::Terminated as i32 {
                    return Err(format!("mission {name} is already terminated"));
                }
                Ok::<Mission, String>(mission)
            }
        };
        Ok(match proposal.action.as_ref() {
            Some(Action::EndMission(a)) => {
                let mut m = mission(&a.mission).await?;
                m.end_date = a.end_date;
                let ended = a
                    .end_date
                    .as_ref()
                    .is_some_and(|d| time::to_naive(d) <= time::to_naive(&time::today()));
                m.status = if ended {
                    MissionStatus::Terminated
                } else {
                    MissionStatus::DrawingDown
                } as i32;
                vec![Effect::UpdateMission(m)]
            }
            Some(Action::ResizeMission(a)) => {
                let mut m = mission(&a.mission).await?;
                m.personnel_ceiling = a.personnel_ceiling;
                vec![Effect::UpdateMission(m)]
            }
            Some(Action::ExtendMission(a)) => {
                let mut m = mission(&a.mission).await?;
                m.end_date = a.end_date;
                vec![Effect::UpdateMission(m)]
            }
            Some(Action::LaunchMission(a)) => {
                if self.store.get_mission(&a.mission_id).await.is_ok() {
                    return Err(format!("mission {} exists already", a.mission_id));
                }
                vec![Effect::CreateMission(Mission {
                    name: names::name(MISSIONS, &a.mission_id),
                    id: a.mission_id.clone(),
                    display_name: a.display_name.clone(),
                    location: a.location.clone(),
                    start_year: time::today().year,
                    area: if a.in_area {
                        MissionArea::InArea
                    } else {
                        MissionArea::OutOfArea
                    } as i32,
                    article5: false,
                    personnel_ceiling: a.personnel_ceiling,
                    status: MissionStatus::Active as i32,
                    end_date: None,
                    contributions: Vec::new(),
                    mandate: a.mandate.clone(),
                })]
            }
            Some(Action::SetSummitParticipation(a)) => {
                let mut effects = Vec::new();
                for name in &a.partners {
                    let code = names::parse(PARTNERS, name)
                        .ok_or_else(|| format!("`{name}` is not a partner name"))?;
                    let mut partner = self
                        .store
                        .get_partner(code)
                        .await
                        .map_err(|e| e.to_string())?;
                    partner.summit_participation = a.participation;
                    effects.push(Effect::UpdatePartner(partner));
                }
                effects
            }
            Some(Action::GenericMotion(_)) | None => Vec::new(),
        })
    }

    /// Withdraws an open proposal; only its sponsor may.
    pub async fn withdraw(&self, name: &str, requester: &str) -> DomainResult<Proposal> {
        let id = proposal_id("name", name)?;
        let proposal = self.store.get_proposal(id).await?;
        parse_name("requester", MEMBERS, requester)?;
        if requester != proposal.sponsor {
            return Err(DomainError::PermissionDenied(format!(
                "only the sponsor {} may withdraw {name}; {requester} may not",
                proposal.sponsor
            )));
        }
        let now = time::now();
        let closing = Closing {
            state: ProposalState::Withdrawn,
            decision: None,
            close_time: now,
            effects: Vec::new(),
            last_ballot: None,
        };
        let closed = self.store.close_proposal(id, &closing).await;
        self.proposals.invalidate(id);
        let closed = closed?;
        self.events.publish(
            id,
            WatchProposalResponse {
                r#type: ProposalEventType::Withdrawn as i32,
                proposal: Some(closed.clone()),
                ballot: None,
                decision: None,
                event_time: Some(now),
            },
        );
        self.events.close(id);
        self.settlers.forget(id);
        Ok(closed)
    }

    /// Closes an open proposal now, deciding it as if its deadline had come.
    pub async fn close_now(&self, name: &str) -> DomainResult<Proposal> {
        let id = proposal_id("name", name)?;
        let proposal = self.store.get_proposal(id).await?;
        if proposal.state != ProposalState::Open as i32 {
            return Err(StoreError::ProposalClosed {
                id: id.to_string(),
                state: state_word(proposal.state),
            }
            .into());
        }
        let now = time::now();
        // Decide as at the deadline, or now if the deadline is already behind us.
        let at = match &proposal.deadline {
            Some(d) if time::before(&now, d) => *d,
            _ => now,
        };
        // A ballot cast while deciding makes the close stale: decide again (a few times).
        let mut attempts = 0;
        loop {
            let (decision, last_ballot) = self.decide_now(&proposal, at).await?;
            match self
                .close(&proposal, decision, now, Some(last_ballot))
                .await
            {
                Err(DomainError::Conflict(_)) if attempts < 5 => attempts += 1,
                result => return result,
            }
        }
    }

    /// Decides an existing or hypothetical proposal under one, several or all policies (and
    /// answers what could pass, when asked).
    pub async fn evaluate(
        &self,
        request: EvaluateProposalRequest,
    ) -> DomainResult<EvaluateProposalResponse> {
        let prepared = self.prepare_evaluation(request).await?;
        self.run_evaluation(prepared, true, false).await
    }

    /// Evaluates every item of a batch: all are checked first (one invalid item fails the
    /// call, naming `evaluations[i]`), then decided, a few at a time. Changes nothing.
    pub async fn evaluate_batch(
        &self,
        request: EvaluateBatchRequest,
    ) -> DomainResult<Vec<EvaluateProposalResponse>> {
        use futures::StreamExt;
        if request.evaluations.is_empty() || request.evaluations.len() > MAX_BATCH {
            return Err(DomainError::invalid(
                "evaluations",
                format!("{} items: give 1 to {MAX_BATCH}", request.evaluations.len()),
            ));
        }
        let parallel = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            * 2;
        // Every item is checked before any is decided; the first bad one (by index) fails all.
        let checked: Vec<DomainResult<PreparedEvaluation>> =
            futures::stream::iter(request.evaluations)
                .map(|item| self.prepare_evaluation(item))
                .buffered(parallel)
                .collect()
                .await;
        let mut prepared = Vec::with_capacity(checked.len());
        for (i, item) in checked.into_iter().enumerate() {
            prepared.push(item.map_err(|e| e.in_item(&format!("evaluations[{i}]")))?);
        }
        let brief = request.brief;
        let results: Vec<DomainResult<EvaluateProposalResponse>> = futures::stream::iter(prepared)
            .map(|item| self.run_evaluation(item, false, brief))
            .buffered(parallel)
            .collect()
            .await;
        results.into_iter().collect()
    }

    /// Checks an evaluation and builds what its policies are asked (nothing is decided yet).
    async fn prepare_evaluation(
        &self,
        request: EvaluateProposalRequest,
    ) -> DomainResult<PreparedEvaluation> {
        use accord_proto::v1::evaluate_proposal_request::Subject;
        let (proposal, mut ballots) = match request.subject {
            Some(Subject::Name(name)) => {
                let id = proposal_id("name", &name)?;
                let proposal = Proposal::clone(&*self.proposals.get(&*self.store, id).await?);
                let ballots = self.store.last_ballots(id).await?;
                (proposal, ballots)
            }
            Some(Subject::Proposal(mut proposal)) => {
                self.validate_action(proposal.action.as_ref()).await?;
                if !proposal.sponsor.is_empty() {
                    self.active_member("proposal.sponsor", &proposal.sponsor)
                        .await?;
                }
                parse_enum::<Procedure>("proposal.procedure", proposal.procedure)?;
                if proposal.name.is_empty() {
                    proposal.name = "proposals/hypothetical".to_string();
                }
                proposal.state = ProposalState::Open as i32;
                (proposal, Vec::new())
            }
            None => {
                return Err(DomainError::invalid(
                    "subject",
                    "name an existing proposal or give a hypothetical one",
                ));
            }
        };
        for (i, ballot) in request.ballots.into_iter().enumerate() {
            let mut ballot = ballot;
            self.validate_ballot(&proposal, &mut ballot, &format!("ballots[{i}]"))
                .await?;
            ballots.retain(|b| b.member != ballot.member);
            ballots.push(ballot);
        }
        if let Some(zone) = &request.what_could_pass {
            crate::forecasts::check_request("what_could_pass", zone)?;
            if crate::forecasts::has_no_quantity(&proposal) {
                return Err(DomainError::invalid(
                    "what_could_pass",
                    "the proposal tables no quantity (an end date or a personnel ceiling): only \
                     end, extend, resize and launch proposals have a zone of agreement",
                ));
            }
        }
        let now = request.evaluate_time.unwrap_or_else(time::now);
        let seed = if request.seed == 0 {
            DEFAULT_SEED
        } else {
            request.seed
        };

        let asked: Vec<PolicyRef> = if request.policies.is_empty() {
            // Every policy that takes calls; the proposal's own policy with its own parameters.
            let own = proposal.policy.clone().unwrap_or_default();
            self.policies
                .healthy_ids()
                .into_iter()
                .map(|policy_id| PolicyRef {
                    parameters: if policy_id == own.policy_id {
                        own.parameters.clone()
                    } else {
                        HashMap::new()
                    },
                    policy_id,
                })
                .collect()
        } else {
            request
                .policies
                .into_iter()
                .enumerate()
                .map(|(i, p)| self.resolve_policy(&format!("policies[{i}]"), Some(p)))
                .collect::<DomainResult<_>>()?
        };
        let base = self.decision_request(&proposal, ballots, now, seed).await?;
        Ok(PreparedEvaluation {
            base,
            asked,
            zone: request.what_could_pass,
        })
    }

    /// Decides a prepared evaluation. With `single_fails`, a lone policy's failure is the
    /// call's error (EvaluateProposal); otherwise every failure stays in its evaluation.
    /// `brief` drops explanations and member results.
    async fn run_evaluation(
        &self,
        prepared: PreparedEvaluation,
        single_fails: bool,
        brief: bool,
    ) -> DomainResult<EvaluateProposalResponse> {
        let PreparedEvaluation { base, asked, zone } = prepared;
        let single = asked.len() == 1;
        let calls = asked.into_iter().map(|policy| {
            let electorate = base.electorate.clone();
            let mut request = base.request.clone();
            request.parameters = policy.parameters.clone();
            if let Some(p) = request.proposal.as_mut() {
                p.policy = Some(policy.clone());
            }
            async move {
                (
                    policy.policy_id.clone(),
                    self.call_policy(&policy.policy_id, request, electorate)
                        .await,
                )
            }
        });
        let results = futures::future::join_all(calls).await;
        if single && single_fails {
            if let Some((_, Err(_))) = results.first() {
                let (_, result) = results.into_iter().next().expect("one result");
                return Err(result.expect_err("checked"));
            }
        }
        let zone_of_agreement = match (&zone, base.request.proposal.as_ref()) {
            (Some(zone), Some(proposal)) => Some(crate::forecasts::zone_of_agreement(
                proposal,
                &base.members,
                &base.request.ballots,
                zone,
            )?),
            _ => None,
        };
        let evaluations = results
            .into_iter()
            .map(|(id, result)| match result {
                Ok(mut decision) => {
                    if brief {
                        decision.explanation.clear();
                        decision.member_results.clear();
                    }
                    PolicyEvaluation {
                        policy: names::name(POLICIES, &id),
                        decision: Some(decision),
                        error_code: 0,
                        error_message: String::new(),
                    }
                }
                Err(error) => PolicyEvaluation {
                    policy: names::name(POLICIES, &id),
                    decision: None,
                    error_code: error.code() as i32,
                    error_message: error.to_string(),
                },
            })
            .collect();
        Ok(EvaluateProposalResponse {
            evaluations,
            zone_of_agreement,
        })
    }
}

/// Most items in one EvaluateBatch call.
pub const MAX_BATCH: usize = 1000;

/// A decision request and its members: the request's own `members` field is empty, the
/// policies get them as `electorate` (ABI 1.1; spliced back in for a 1.0 library).
struct Decidable {
    request: DecisionRequest,
    members: Arc<Vec<Member>>,
    electorate: Arc<ElectorateSnapshot>,
}

/// An evaluation checked and ready to decide.
struct PreparedEvaluation {
    base: Decidable,
    asked: Vec<PolicyRef>,
    zone: Option<accord_proto::v1::ZoneOfAgreementRequest>,
}

/// A proposal state in words.
pub fn state_word(state: i32) -> &'static str {
    match ProposalState::try_from(state) {
        Ok(ProposalState::Open) => "open",
        Ok(ProposalState::Adopted) => "adopted",
        Ok(ProposalState::Rejected) => "rejected",
        Ok(ProposalState::Expired) => "expired",
        Ok(ProposalState::Withdrawn) => "withdrawn",
        _ => "in an unknown state",
    }
}
