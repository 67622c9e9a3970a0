//! `accord proposals …`: create a proposal (one subcommand per action), show and list them,
//! vote, list ballots, withdraw, close, evaluate under the policies, and watch one's events.

use accord_proto::names::{MEMBERS, MISSIONS, PARTNERS, PROPOSALS};
use accord_proto::v1::evaluate_proposal_request::Subject;
use accord_proto::v1::proposal::Action;
use accord_proto::v1::{
    Ballot, CastBallotRequest, Choice, CloseProposalRequest, CreateProposalRequest, EndMission,
    EvaluateProposalRequest, EvaluateProposalResponse, ExtendMission, GenericMotion,
    GetProposalRequest, LaunchMission, ListBallotsRequest, ListBallotsResponse,
    ListProposalsRequest, ListProposalsResponse, PolicyRef, Procedure, Proposal, ProposalEventType,
    ProposalKind, ProposalState, ResizeMission, SetSummitParticipation, SummitParticipation,
    WatchProposalRequest, WatchProposalResponse, WithdrawProposalRequest,
};

use super::collect_pages;
use crate::cli::{CreateAction, GlobalOptions, ProposalsCommand};
use crate::client::Client;
use crate::output::{self, print, print_fields, print_json, resource_name};

/// "proposals/{id}" for "3" or "proposals/3".
pub fn proposal_name(input: &str) -> String {
    resource_name(PROPOSALS, input, false)
}

/// Runs a `proposals` subcommand.
pub async fn run(
    client: &Client,
    global: &GlobalOptions,
    command: ProposalsCommand,
) -> anyhow::Result<()> {
    let json = global.json;
    match command {
        ProposalsCommand::Create(action) => {
            let proposal = build_proposal(action);
            let response = client
                .proposals()
                .create_proposal(CreateProposalRequest {
                    proposal: Some(proposal),
                })
                .await?
                .into_inner();
            if json {
                print_json(&accord_proto::json::to_json(&response));
            } else if let Some(p) = &response.proposal {
                print(format!("created {}", p.name));
                print_proposal(p);
            }
        }
        ProposalsCommand::Show { proposal } => {
            let response = client
                .proposals()
                .get_proposal(GetProposalRequest {
                    name: proposal_name(&proposal),
                })
                .await?
                .into_inner();
            if json {
                print_json(&accord_proto::json::to_json(&response));
            } else if let Some(p) = &response.proposal {
                print_proposal(p);
            }
        }
        ProposalsCommand::List {
            state,
            kind,
            target,
            page,
        } => {
            let state = state.map(ProposalState::from).unwrap_or_default() as i32;
            let kind = kind.map(ProposalKind::from).unwrap_or_default() as i32;
            let target = target.unwrap_or_default();
            let proposals = collect_pages(|page_token| {
                let mut service = client.proposals();
                let request = ListProposalsRequest {
                    page_size: page.size(),
                    page_token,
                    state,
                    kind,
                    target: target.clone(),
                };
                async move {
                    let r = service.list_proposals(request).await?.into_inner();
                    Ok((r.proposals, r.next_page_token))
                }
            })
            .await?;
            if json {
                print_json(&accord_proto::json::to_json(&ListProposalsResponse {
                    total_size: proposals.len() as i32,
                    proposals,
                    next_page_token: String::new(),
                }));
            } else {
                print_list(&proposals);
            }
        }
        ProposalsCommand::Vote {
            proposal,
            member,
            choice,
            withdraw,
            salience,
            reason,
            position,
            acceptable_range,
            sign_with,
            nonce,
        } => {
            let mut ballot = Ballot {
                member: resource_name(MEMBERS, &member, true),
                choice: choice.map_or(0, |c| Choice::from(c) as i32),
                withdrawn: withdraw,
                position,
                salience,
                reason: reason.unwrap_or_default(),
                acceptable_range,
                ..Default::default()
            };
            let proposal = proposal_name(&proposal);
            if let Some(key) = sign_with {
                use ed25519_dalek::Signer as _;
                let key = super::trust::read_key(&key)?;
                ballot.nonce = nonce.unwrap_or_else(|| {
                    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
                });
                let bytes = accord_proto::canonical::ballot(&proposal, &ballot);
                ballot.signature = key.sign(&bytes).to_bytes().to_vec();
            }
            let request = CastBallotRequest {
                proposal,
                ballot: Some(ballot),
            };
            let response = client.proposals().cast_ballot(request).await?.into_inner();
            if json {
                print_json(&accord_proto::json::to_json(&response));
            } else {
                if let Some(b) = &response.ballot {
                    print(format!("{} ({})", ballot_summary(b), b.name));
                }
                if let Some(p) = &response.proposal {
                    let state = output::proposal_state(p.state);
                    if p.state == ProposalState::Open as i32 {
                        print(format!("{} is open", p.name));
                    } else {
                        print(format!("{} is now {state}", p.name));
                        if let Some(d) = &p.decision {
                            output::print_decision(d);
                        }
                    }
                }
            }
        }
        ProposalsCommand::Ballots { proposal, page } => {
            let name = proposal_name(&proposal);
            let ballots = collect_pages(|page_token| {
                let mut service = client.proposals();
                let request = ListBallotsRequest {
                    proposal: name.clone(),
                    page_size: page.size(),
                    page_token,
                };
                async move {
                    let r = service.list_ballots(request).await?.into_inner();
                    Ok((r.ballots, r.next_page_token))
                }
            })
            .await?;
            if json {
                print_json(&accord_proto::json::to_json(&ListBallotsResponse {
                    ballots,
                    next_page_token: String::new(),
                }));
            } else {
                print_ballots(&ballots);
            }
        }
        ProposalsCommand::Withdraw {
            proposal,
            requester,
        } => {
            let response = client
                .proposals()
                .withdraw_proposal(WithdrawProposalRequest {
                    name: proposal_name(&proposal),
                    requester: resource_name(MEMBERS, &requester, true),
                })
                .await?
                .into_inner();
            if json {
                print_json(&accord_proto::json::to_json(&response));
            } else if let Some(p) = &response.proposal {
                print(format!("{} is {}", p.name, output::proposal_state(p.state)));
            }
        }
        ProposalsCommand::Close { proposal } => {
            let response = client
                .proposals()
                .close_proposal(CloseProposalRequest {
                    name: proposal_name(&proposal),
                })
                .await?
                .into_inner();
            if json {
                print_json(&accord_proto::json::to_json(&response));
            } else if let Some(p) = &response.proposal {
                print(format!(
                    "closed {}: {}",
                    p.name,
                    output::proposal_state(p.state)
                ));
                if let Some(d) = &p.decision {
                    output::print_decision(d);
                }
            }
        }
        ProposalsCommand::Evaluate {
            proposal,
            policies,
            seed,
            ballots,
            at,
            explain,
            what_could_pass,
            quota,
            weight,
            tolerance,
        } => {
            let what_could_pass =
                what_could_pass.map(|rule| super::zone::request(rule, quota, weight, tolerance));
            let request = EvaluateProposalRequest {
                subject: Some(Subject::Name(proposal_name(&proposal))),
                ballots: ballots
                    .into_iter()
                    .map(|(member, choice)| Ballot {
                        member: resource_name(MEMBERS, &member, true),
                        choice: choice as i32,
                        ..Default::default()
                    })
                    .collect(),
                policies,
                seed: seed.unwrap_or(0),
                evaluate_time: at,
                what_could_pass,
            };
            let response = client
                .proposals()
                .evaluate_proposal(request)
                .await?
                .into_inner();
            if json {
                print_json(&accord_proto::json::to_json(&response));
            } else {
                print_evaluations(&response, explain);
                if let Some(zone) = &response.zone_of_agreement {
                    print("");
                    print(super::zone::render(zone));
                }
            }
        }
        ProposalsCommand::Watch { proposal } => {
            let mut stream = client
                .proposals()
                .watch_proposal(WatchProposalRequest {
                    name: proposal_name(&proposal),
                })
                .await?
                .into_inner();
            while let Some(event) = stream.message().await? {
                if json {
                    output::print_json_line(&accord_proto::json::to_json(&event));
                } else {
                    print(event_line(&event));
                }
            }
        }
    }
    Ok(())
}

/// The proposal a `create` subcommand describes.
pub fn build_proposal(action: CreateAction) -> Proposal {
    let common = action.common().clone();
    let mission = |m: &str| resource_name(MISSIONS, m, true);
    let action = match action {
        CreateAction::EndMission {
            mission: m,
            end_date,
            ..
        } => Action::EndMission(EndMission {
            mission: mission(&m),
            end_date: Some(end_date),
        }),
        CreateAction::ResizeMission {
            mission: m,
            ceiling,
            ..
        } => Action::ResizeMission(ResizeMission {
            mission: mission(&m),
            personnel_ceiling: ceiling,
        }),
        CreateAction::ExtendMission {
            mission: m,
            end_date,
            ..
        } => Action::ExtendMission(ExtendMission {
            mission: mission(&m),
            end_date: Some(end_date),
        }),
        CreateAction::LaunchMission {
            id,
            name,
            location,
            ceiling,
            in_area,
            mandate,
            ..
        } => Action::LaunchMission(LaunchMission {
            mission_id: id.trim().to_ascii_uppercase(),
            display_name: name,
            location: location.unwrap_or_default(),
            personnel_ceiling: ceiling,
            in_area,
            mandate: mandate.unwrap_or_default(),
        }),
        CreateAction::SummitParticipation {
            partners,
            participation,
            summit,
            ..
        } => Action::SetSummitParticipation(SetSummitParticipation {
            partners: partners
                .iter()
                .map(|p| resource_name(PARTNERS, p, true))
                .collect(),
            summit,
            participation: SummitParticipation::from(participation) as i32,
        }),
        CreateAction::Motion { text, target, .. } => Action::GenericMotion(GenericMotion {
            target: target.unwrap_or_default(),
            text,
        }),
    };
    Proposal {
        title: common.title.clone(),
        description: common.description.clone().unwrap_or_default(),
        action: Some(action),
        sponsor: resource_name(MEMBERS, &common.sponsor, true),
        procedure: Procedure::from(common.procedure) as i32,
        policy: common.policy_ref(),
        deadline: common.deadline(),
        ..Default::default()
    }
}

/// The kind of a proposal's action in words (the `create` subcommand's name).
pub fn kind_word(action: Option<&Action>) -> &'static str {
    match action {
        Some(Action::LaunchMission(_)) => "launch-mission",
        Some(Action::EndMission(_)) => "end-mission",
        Some(Action::ResizeMission(_)) => "resize-mission",
        Some(Action::ExtendMission(_)) => "extend-mission",
        Some(Action::SetSummitParticipation(_)) => "summit-participation",
        Some(Action::GenericMotion(_)) => "motion",
        None => "-",
    }
}

/// What a proposal's action is about ("missions/KFOR").
pub fn target(action: Option<&Action>) -> String {
    match action {
        Some(Action::LaunchMission(a)) => format!("{MISSIONS}/{}", a.mission_id),
        Some(Action::EndMission(a)) => a.mission.clone(),
        Some(Action::ResizeMission(a)) => a.mission.clone(),
        Some(Action::ExtendMission(a)) => a.mission.clone(),
        Some(Action::SetSummitParticipation(a)) => a.partners.join(", "),
        Some(Action::GenericMotion(a)) => a.target.clone(),
        None => String::new(),
    }
}

/// A proposal's action in words.
pub fn describe_action(action: Option<&Action>) -> String {
    match action {
        Some(Action::LaunchMission(a)) => format!(
            "launch mission {} \"{}\"{}, ceiling {}, {}{}",
            a.mission_id,
            a.display_name,
            if a.location.is_empty() {
                String::new()
            } else {
                format!(" in {}", a.location)
            },
            a.personnel_ceiling,
            if a.in_area { "in area" } else { "out of area" },
            if a.mandate.is_empty() {
                String::new()
            } else {
                format!("; mandate: {}", a.mandate)
            }
        ),
        Some(Action::EndMission(a)) => {
            format!("end {} on {}", a.mission, output::date(a.end_date.as_ref()))
        }
        Some(Action::ResizeMission(a)) => format!(
            "resize {} to a ceiling of {} troops",
            a.mission, a.personnel_ceiling
        ),
        Some(Action::ExtendMission(a)) => format!(
            "extend {} to {}",
            a.mission,
            output::date(a.end_date.as_ref())
        ),
        Some(Action::SetSummitParticipation(a)) => format!(
            "{} take(s) part in {}: {}",
            a.partners.join(", "),
            if a.summit.is_empty() {
                "the summit"
            } else {
                &a.summit
            },
            output::participation(a.participation)
        ),
        Some(Action::GenericMotion(a)) if a.target.is_empty() => {
            format!("motion: {}", a.text)
        }
        Some(Action::GenericMotion(a)) => format!("motion on {}: {}", a.target, a.text),
        None => "(no action)".to_string(),
    }
}

/// A policy reference in words ("pressure (mode=deterministic, trials=20000)").
pub fn describe_policy(policy: Option<&PolicyRef>) -> String {
    let Some(policy) = policy else {
        return "(server default)".to_string();
    };
    let id = if policy.policy_id.is_empty() {
        "(server default)"
    } else {
        &policy.policy_id
    };
    if policy.parameters.is_empty() {
        return id.to_string();
    }
    let mut parameters: Vec<_> = policy.parameters.iter().collect();
    parameters.sort();
    format!(
        "{id} ({})",
        parameters
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn print_proposal(p: &Proposal) {
    print_fields(&[
        ("Proposal", format!("{}: {}", p.name, p.title)),
        ("Action", describe_action(p.action.as_ref())),
        ("Description", p.description.clone()),
        ("Sponsor", output::short(&p.sponsor).to_string()),
        ("Procedure", output::procedure(p.procedure)),
        ("Policy", describe_policy(p.policy.as_ref())),
        ("Deadline", output::timestamp(p.deadline.as_ref())),
        ("State", output::proposal_state(p.state)),
        ("Created", output::timestamp(p.create_time.as_ref())),
        ("Closed", output::timestamp(p.close_time.as_ref())),
    ]);
    if let Some(decision) = &p.decision {
        output::print_decision(decision);
    }
}

fn print_list(proposals: &[Proposal]) {
    let mut table = output::table(&[
        "Id", "Title", "Kind", "Target", "Sponsor", "State", "Policy", "Deadline",
    ]);
    for p in proposals {
        table.add_row(vec![
            output::short(&p.name).to_string(),
            p.title.clone(),
            kind_word(p.action.as_ref()).to_string(),
            target(p.action.as_ref()),
            output::short(&p.sponsor).to_string(),
            output::proposal_state(p.state),
            describe_policy(p.policy.as_ref()),
            output::timestamp(p.deadline.as_ref()),
        ]);
    }
    output::align_right(&mut table, &[0]);
    print(table);
    print(format!(
        "{} proposal{}",
        proposals.len(),
        if proposals.len() == 1 { "" } else { "s" }
    ));
}

/// "DEU: support (position 2500, salience 0.7) — reason".
fn ballot_summary(b: &Ballot) -> String {
    let mut details = Vec::new();
    let position = output::position(b.position.as_ref());
    if !position.is_empty() {
        details.push(format!("position {position}"));
    }
    if let Some(s) = b.salience {
        details.push(format!("salience {}", output::number(s)));
    }
    let choice = if b.withdrawn {
        "withdrawn".to_string()
    } else {
        output::choice(b.choice).to_string()
    };
    let mut text = format!("{}: {}", output::short(&b.member), choice);
    if !details.is_empty() {
        text.push_str(&format!(" ({})", details.join(", ")));
    }
    if !b.reason.is_empty() {
        text.push_str(&format!(" — {}", b.reason));
    }
    text
}

fn print_ballots(ballots: &[Ballot]) {
    let mut table = output::table(&[
        "#", "Member", "Choice", "Position", "Salience", "Reason", "Cast",
    ]);
    for b in ballots {
        table.add_row(vec![
            output::short(&b.name).to_string(),
            output::short(&b.member).to_string(),
            output::choice(b.choice),
            output::position(b.position.as_ref()),
            b.salience.map(output::number).unwrap_or_default(),
            b.reason.clone(),
            output::timestamp(b.cast_time.as_ref()),
        ]);
    }
    output::align_right(&mut table, &[0, 4]);
    print(table);
    print(format!(
        "{} ballot{}",
        ballots.len(),
        if ballots.len() == 1 { "" } else { "s" }
    ));
}

fn print_evaluations(response: &EvaluateProposalResponse, explain: bool) {
    let failed = response.evaluations.iter().any(|e| e.decision.is_none());
    let mut header = vec![
        "Policy",
        "Outcome",
        "Settled",
        "Support",
        "Blockers",
        "Pivotal",
        "P(adopted)",
        "Likely holdouts",
    ];
    if failed {
        header.push("Error");
    }
    let mut table = output::table(&header);
    for e in &response.evaluations {
        let id = output::short(&e.policy).to_string();
        let mut row = match &e.decision {
            Some(d) => vec![
                id,
                output::outcome(d.outcome),
                if d.settled { "yes" } else { "no" }.to_string(),
                output::percent(d.support_share),
                output::member_codes(&d.blockers, 6),
                output::member_codes(&d.pivotal_members, 6),
                d.adoption_probability
                    .map(|p| format!("{p:.3}"))
                    .unwrap_or_else(|| "-".to_string()),
                if d.likely_holdouts.is_empty() {
                    "-".to_string()
                } else {
                    output::member_codes(&d.likely_holdouts, 5)
                },
            ],
            None => {
                let mut row = vec![id, "error".to_string()];
                row.extend(std::iter::repeat_n("-".to_string(), 6));
                row
            }
        };
        if failed {
            row.push(if e.decision.is_some() {
                String::new()
            } else {
                format!(
                    "{}: {}",
                    output::code_name(tonic::Code::from(e.error_code)),
                    e.error_message
                )
            });
        }
        table.add_row(row);
    }
    output::align_right(&mut table, &[3, 6]);
    print(table);
    if explain {
        for e in &response.evaluations {
            if let Some(d) = &e.decision {
                print("");
                print(format!("{}:", e.policy));
                output::print_decision(d);
            }
        }
    }
}

/// One line for a watched event.
pub fn event_line(event: &WatchProposalResponse) -> String {
    let at = output::timestamp(event.event_time.as_ref());
    let proposal = event.proposal.clone().unwrap_or_default();
    let what = match ProposalEventType::try_from(event.r#type) {
        Ok(ProposalEventType::Snapshot) => format!(
            "{} \"{}\" is {}; deadline {}",
            proposal.name,
            proposal.title,
            output::proposal_state(proposal.state),
            output::timestamp(proposal.deadline.as_ref())
        ),
        Ok(ProposalEventType::BallotCast) => event
            .ballot
            .as_ref()
            .map(ballot_summary)
            .unwrap_or_default(),
        Ok(ProposalEventType::SilenceBroken) => format!(
            "{} broke silence",
            event
                .ballot
                .as_ref()
                .map(|b| output::short(&b.member).to_string())
                .unwrap_or_default()
        ),
        Ok(ProposalEventType::Decided) => {
            let mut text = format!(
                "{} {}",
                proposal.name,
                output::proposal_state(proposal.state)
            );
            if let Some(d) = event.decision.as_ref().or(proposal.decision.as_ref()) {
                text.push_str(&format!(
                    " ({}: {}, support {}, blockers {})",
                    d.policy
                        .as_ref()
                        .map(|p| p.policy_id.as_str())
                        .unwrap_or("policy"),
                    output::outcome(d.outcome),
                    output::percent(d.support_share),
                    output::member_codes(&d.blockers, 6)
                ));
            }
            text
        }
        Ok(ProposalEventType::Withdrawn) => format!("{} withdrawn", proposal.name),
        _ => String::new(),
    };
    format!("{at} {}: {what}", output::event_type(event.r#type))
}
