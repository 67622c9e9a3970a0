//! Running a scenario against an accord server: every proposal, with the ballots its stances
//! give, evaluated under every policy column (nothing on the server changes).

use std::collections::{BTreeMap, HashMap, HashSet};

use accord_proto::client::Conn;
use accord_proto::v1::member_service_client::MemberServiceClient;
use accord_proto::v1::policy_service_client::PolicyServiceClient;
use accord_proto::v1::proposal_service_client::ProposalServiceClient;
use accord_proto::v1::{
    AcceptableRange, AgreementRule, Ballot, Choice, Date, Decision, EndMission,
    EvaluateProposalRequest, ExtendMission, GenericMotion, LaunchMission, ListMembersRequest,
    ListPoliciesRequest, Member, MemberStatus, PolicyRef, Position, Procedure, Proposal,
    ResizeMission, SetSummitParticipation, SummitParticipation, ZoneOfAgreement,
    ZoneOfAgreementRequest, evaluate_proposal_request::Subject, position, proposal::Action,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use prost_types::Timestamp;
use serde_spanned::Spanned;
use toml::value::Datetime;

use crate::format::{
    ActionSpec, Locator, ParameterValue, PolicyColumn, PositionValue, Problem, Problems,
    ProposalSpec, ScenarioFile,
};

/// The seed used when the scenario gives none.
pub const DEFAULT_SEED: u64 = 2026;

/// What one policy column made of one proposal.
#[derive(Debug, Clone)]
pub struct Row {
    /// The column's label.
    pub label: String,
    /// The policy id.
    pub policy: String,
    /// The procedure the proposal was decided under.
    pub procedure: Procedure,
    /// The parameters sent.
    pub parameters: BTreeMap<String, String>,
    /// The decision, or the gRPC error (code name and message).
    pub result: Result<Decision, (String, String)>,
    /// What could pass under this column's zone rule, when the column asks (`zone`).
    pub zone: Option<ZoneOfAgreement>,
}

/// One proposal's results.
#[derive(Debug, Clone)]
pub struct ProposalReport {
    /// The scenario's id for it.
    pub id: String,
    /// The proposal as sent (procedure and policy of the first column).
    pub proposal: Proposal,
    /// The ballots sent, one per member that votes.
    pub ballots: Vec<Ballot>,
    /// Where the proposal comes from.
    pub source: String,
    /// One row per policy column.
    pub rows: Vec<Row>,
}

/// A whole scenario's results.
#[derive(Debug, Clone)]
pub struct Report {
    /// The scenario's title.
    pub title: String,
    /// Its description.
    pub description: String,
    /// The seed used.
    pub seed: u64,
    /// The members of the alliance, by code (for charts).
    pub members: Vec<Member>,
    /// One entry per proposal, in file order.
    pub proposals: Vec<ProposalReport>,
    /// The scenario's own sweep, when the report was asked to include it (`accord demo`).
    pub sweep: Option<crate::sweep::SweepResult>,
}

/// Why a scenario could not run.
#[derive(Debug)]
pub enum RunError {
    /// Problems in the file that only the server could reveal (unknown members, policies,
    /// missions), each with its line.
    Problems(Problems),
    /// The server failed.
    Rpc(tonic::Status),
    /// A request given outside the file (a `--vary` on the command line) does not fit what the
    /// server has; the message names it.
    Invalid(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Problems(p) => write!(f, "{p}"),
            Self::Invalid(m) => write!(f, "{m}"),
            Self::Rpc(s) => write!(f, "{}: {}", code_name(s.code()), s.message()),
        }
    }
}

impl std::error::Error for RunError {}

impl From<tonic::Status> for RunError {
    fn from(status: tonic::Status) -> Self {
        Self::Rpc(status)
    }
}

/// A gRPC code in the protocol's upper-case spelling, e.g. `NOT_FOUND`.
pub fn code_name(code: tonic::Code) -> String {
    let mut out = String::new();
    for (i, c) in format!("{code:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn date(d: &Datetime) -> Option<Date> {
    d.date.map(|d| Date {
        year: d.year as i32,
        month: d.month as i32,
        day: d.day as i32,
    })
}

fn timestamp(d: &Datetime) -> Option<Timestamp> {
    chrono::DateTime::parse_from_rfc3339(&d.to_string())
        .ok()
        .map(|t| Timestamp {
            seconds: t.timestamp(),
            nanos: t.timestamp_subsec_nanos() as i32,
        })
}

fn choice(name: &str) -> Choice {
    match name {
        "support" => Choice::Support,
        "object" => Choice::Object,
        "abstain" => Choice::Abstain,
        _ => Choice::Unspecified,
    }
}

fn procedure(name: Option<&Spanned<String>>) -> Procedure {
    match name.map(|n| n.get_ref().as_str()) {
        Some("silence") => Procedure::Silence,
        _ => Procedure::OpenVote,
    }
}

fn action(spec: &ActionSpec) -> Action {
    let mission = |id: &str| format!("missions/{id}");
    match spec {
        ActionSpec::EndMission {
            mission: m,
            end_date,
        } => Action::EndMission(EndMission {
            mission: mission(m),
            end_date: date(end_date),
        }),
        ActionSpec::ResizeMission {
            mission: m,
            ceiling,
        } => Action::ResizeMission(ResizeMission {
            mission: mission(m),
            personnel_ceiling: (*ceiling).clamp(0, i32::MAX as i64) as i32,
        }),
        ActionSpec::ExtendMission {
            mission: m,
            end_date,
        } => Action::ExtendMission(ExtendMission {
            mission: mission(m),
            end_date: date(end_date),
        }),
        ActionSpec::LaunchMission {
            mission: m,
            name,
            location,
            ceiling,
            in_area,
            mandate,
        } => Action::LaunchMission(LaunchMission {
            mission_id: m.clone(),
            display_name: name.clone(),
            location: location.clone(),
            personnel_ceiling: (*ceiling).clamp(0, i32::MAX as i64) as i32,
            in_area: *in_area,
            mandate: mandate.clone(),
        }),
        ActionSpec::SummitParticipation {
            partners,
            participation,
            summit,
        } => Action::SetSummitParticipation(SetSummitParticipation {
            partners: partners.iter().map(|p| format!("partners/{p}")).collect(),
            summit: summit.clone(),
            participation: match participation.as_str() {
                "full" => SummitParticipation::Full,
                "restricted" => SummitParticipation::Restricted,
                _ => SummitParticipation::None,
            } as i32,
        }),
        ActionSpec::Motion { text, target } => Action::GenericMotion(GenericMotion {
            target: target.clone(),
            text: text.clone(),
        }),
    }
}

pub(crate) fn position_value(value: &PositionValue) -> Position {
    Position {
        value: Some(match value {
            PositionValue::Date(d) => match date(d) {
                Some(d) => position::Value::Date(d),
                None => position::Value::Amount(0.0),
            },
            PositionValue::Integer(n) => position::Value::Amount(*n as f64),
            PositionValue::Float(n) => position::Value::Amount(*n),
        }),
    }
}

async fn all_members(channel: &Conn) -> Result<Vec<Member>, tonic::Status> {
    let mut client = MemberServiceClient::new(channel.clone());
    let mut members = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_members(ListMembersRequest {
                page_size: 1000,
                page_token: token,
                status: 0,
            })
            .await?
            .into_inner();
        members.extend(page.members);
        if page.next_page_token.is_empty() {
            return Ok(members);
        }
        token = page.next_page_token;
    }
}

/// Every loaded policy's declared parameter names, by policy id.
pub(crate) async fn policy_parameters(
    channel: &Conn,
) -> Result<HashMap<String, Vec<String>>, tonic::Status> {
    let mut client = PolicyServiceClient::new(channel.clone());
    let page = client
        .list_policies(ListPoliciesRequest {
            page_size: 1000,
            page_token: String::new(),
        })
        .await?
        .into_inner();
    Ok(page
        .policies
        .into_iter()
        .filter_map(|p| p.descriptor)
        .map(|d| (d.id, d.parameters.into_iter().map(|p| p.name).collect()))
        .collect())
}

async fn policy_ids(channel: &Conn) -> Result<HashSet<String>, tonic::Status> {
    let mut client = PolicyServiceClient::new(channel.clone());
    let page = client
        .list_policies(ListPoliciesRequest {
            page_size: 1000,
            page_token: String::new(),
        })
        .await?
        .into_inner();
    Ok(page
        .policies
        .into_iter()
        .filter_map(|p| p.descriptor.map(|d| d.id))
        .collect())
}

fn merged(layers: &[&BTreeMap<String, Spanned<ParameterValue>>]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for layer in layers {
        for (name, value) in layer.iter() {
            out.insert(name.clone(), value.get_ref().to_text());
        }
    }
    out
}

/// The checks only the server can make (members, policies), still pointing at the file's
/// lines; returns the alliance's members.
pub(crate) async fn check_on_server(
    file: &ScenarioFile,
    at: &Locator,
    channel: &Conn,
) -> Result<Vec<Member>, RunError> {
    let mut members = all_members(channel).await?;
    let policies = policy_ids(channel).await?;

    // Checks only the server can make, still pointing at the file's lines.
    let mut problems: Vec<Problem> = Vec::new();
    if let (Some(electorate), Some(spec)) = (file.electorate(), &file.electorate) {
        // The scenario's own council: the server's active members must be exactly it (an
        // embedded server is given it first; see `electorate::provision`).
        members.retain(|m| m.status == MemberStatus::Active as i32);
        let active: HashSet<&str> = members.iter().map(|m| m.code.as_str()).collect();
        let wanted: HashSet<&str> = electorate.members.iter().map(|m| m.code.as_str()).collect();
        if active != wanted {
            let missing = wanted.difference(&active).count();
            let extra = active.difference(&wanted).count();
            problems.push(at.at(
                spec,
                format!(
                    "the server's active members are not this electorate ({missing} of its \
                     members missing, {extra} others active): run with --embedded, or make them \
                     the server's members (accord members create / update)"
                ),
            ));
        }
    }
    let codes: HashSet<&str> = members.iter().map(|m| m.code.as_str()).collect();
    for column in &file.policies {
        if !policies.contains(column.policy.get_ref()) {
            let mut known: Vec<_> = policies.iter().cloned().collect();
            known.sort();
            problems.push(at.at(
                &column.policy,
                format!(
                    "policy `{}` is not loaded on the server (loaded: {})",
                    column.policy.get_ref(),
                    known.join(", ")
                ),
            ));
        }
    }
    for proposal in &file.proposals {
        if !codes.contains(proposal.sponsor.get_ref().as_str()) {
            problems.push(at.at(
                &proposal.sponsor,
                format!(
                    "{} is not a member of the alliance",
                    proposal.sponsor.get_ref()
                ),
            ));
        }
        for stance in &proposal.stances {
            for member in stance.members.get_ref() {
                if !codes.contains(member.get_ref().as_str()) {
                    problems.push(at.at(
                        member,
                        format!("{} is not a member of the alliance", member.get_ref()),
                    ));
                }
            }
        }
    }
    if !problems.is_empty() {
        problems.sort_by_key(|p| (p.line, p.column));
        return Err(RunError::Problems(Problems(problems)));
    }

    Ok(members)
}

/// The ballots `spec`'s stances give, one per active member that votes (with reasons when
/// `reasons`; a sweep leaves them out to keep its requests small).
pub(crate) fn ballots_for(spec: &ProposalSpec, members: &[Member], reasons: bool) -> Vec<Ballot> {
    let stance_of: HashMap<&str, &crate::format::StanceSpec> = spec
        .stances
        .iter()
        .flat_map(|s| {
            s.members
                .get_ref()
                .iter()
                .map(move |m| (m.get_ref().as_str(), s))
        })
        .collect();
    let default = spec
        .default_choice
        .as_ref()
        .map(|c| c.get_ref().as_str())
        .unwrap_or("none");
    members
        .iter()
        .filter(|m| m.status == MemberStatus::Active as i32)
        .filter_map(|m| match stance_of.get(m.code.as_str()) {
            Some(stance) => Some(Ballot {
                member: m.name.clone(),
                choice: choice(stance.choice.get_ref()) as i32,
                position: stance
                    .position
                    .as_ref()
                    .map(|p| position_value(p.get_ref())),
                salience: stance.salience.as_ref().map(|s| *s.get_ref()),
                reason: if reasons {
                    stance.reason.clone()
                } else {
                    String::new()
                },
                acceptable_range: stance.acceptable.as_ref().map(|r| AcceptableRange {
                    low: r.get_ref().first().map(position_value),
                    high: r.get_ref().get(1).map(position_value),
                }),
                ..Default::default()
            }),
            None if default != "none" => Some(Ballot {
                member: m.name.clone(),
                choice: choice(default) as i32,
                reason: if reasons {
                    "default stance of the scenario".to_string()
                } else {
                    String::new()
                },
                ..Default::default()
            }),
            None => None,
        })
        .collect()
}

/// The hypothetical proposal `spec` puts, and its deadline (one day from now by default).
pub(crate) fn proposal_for(spec: &ProposalSpec) -> (Proposal, Timestamp) {
    let deadline = spec
        .deadline
        .as_ref()
        .and_then(|d| timestamp(d.get_ref()))
        .unwrap_or_else(|| Timestamp {
            seconds: chrono::Utc::now().timestamp() + 86_400,
            nanos: 0,
        });
    let base = Proposal {
        title: spec.title.clone(),
        description: spec.description.clone(),
        action: Some(action(spec.action.get_ref())),
        sponsor: format!("members/{}", spec.sponsor.get_ref()),
        procedure: procedure(spec.procedure.as_ref()) as i32,
        deadline: Some(deadline),
        ..Default::default()
    };

    (base, deadline)
}

/// Runs `file` against the server on `channel`. `progress` shows a progress bar on stderr
/// (only when stderr is a terminal).
pub async fn run(
    file: &ScenarioFile,
    at: &Locator,
    channel: Conn,
    progress: bool,
) -> Result<Report, RunError> {
    let members = check_on_server(file, at, &channel).await?;

    let seed = file.scenario.seed.unwrap_or(DEFAULT_SEED);
    let bar = if progress && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let bar = ProgressBar::with_draw_target(
            Some((file.proposals.len() * file.policies.len()) as u64),
            ProgressDrawTarget::stderr(),
        );
        bar.set_style(
            ProgressStyle::with_template("{spinner} {bar:30} {pos}/{len} {msg}")
                .expect("valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };

    let mut client = ProposalServiceClient::new(channel.clone());
    let mut reports = Vec::new();
    for spec in &file.proposals {
        let ballots = ballots_for(spec, &members, true);
        let (base, deadline) = proposal_for(spec);

        let mut rows = Vec::new();
        for column in &file.policies {
            bar.set_message(format!(
                "{} · {}",
                spec.id.get_ref(),
                column.label.get_ref()
            ));
            if !applies(column, spec) {
                continue;
            }
            let parameters = column_parameters(file, spec, column);
            let mut proposal = base.clone();
            if let Some(p) = &column.procedure {
                proposal.procedure = procedure(Some(p)) as i32;
            }
            let policy = PolicyRef {
                policy_id: column.policy.get_ref().clone(),
                parameters: parameters.clone(),
            };
            proposal.policy = Some(policy.clone());
            let request = EvaluateProposalRequest {
                subject: Some(Subject::Proposal(proposal.clone())),
                ballots: ballots.clone(),
                policies: vec![policy],
                seed,
                evaluate_time: Some(deadline),
                what_could_pass: if crate::sweep::has_quantity(spec) {
                    zone_request(column)
                } else {
                    None
                },
            };
            let mut zone = None;
            let result = match client.evaluate_proposal(request).await {
                Ok(response) => {
                    let response = response.into_inner();
                    zone = response.zone_of_agreement;
                    response
                        .evaluations
                        .into_iter()
                        .next()
                        .and_then(|e| e.decision)
                        .ok_or_else(|| {
                            (
                                "INTERNAL".to_string(),
                                "the server returned no decision".to_string(),
                            )
                        })
                }
                Err(status) => {
                    // The proposal itself is wrong (unknown mission, terminated mission, …):
                    // point at the action in the file rather than failing each column.
                    if matches!(
                        status.code(),
                        tonic::Code::InvalidArgument
                            | tonic::Code::NotFound
                            | tonic::Code::FailedPrecondition
                            | tonic::Code::AlreadyExists
                    ) && status.message().contains("proposal")
                    {
                        bar.finish_and_clear();
                        return Err(RunError::Problems(Problems(vec![at.at(
                            &spec.action,
                            format!("the server refused this proposal: {}", status.message()),
                        )])));
                    }
                    Err((code_name(status.code()), status.message().to_string()))
                }
            };
            rows.push(Row {
                label: column.label.get_ref().clone(),
                policy: column.policy.get_ref().clone(),
                procedure: Procedure::try_from(proposal.procedure).unwrap_or(Procedure::OpenVote),
                parameters: parameters.into_iter().collect(),
                result,
                zone,
            });
            bar.inc(1);
        }
        reports.push(ProposalReport {
            id: spec.id.get_ref().clone(),
            proposal: base,
            ballots,
            source: spec.source.clone(),
            rows,
        });
    }
    bar.finish_and_clear();
    Ok(Report {
        title: file.scenario.title.clone(),
        description: file.scenario.description.clone(),
        seed,
        members,
        proposals: reports,
        sweep: None,
    })
}

/// Whether `column` is asked about `spec` (its `proposals` list, when it has one).
pub(crate) fn applies(column: &PolicyColumn, spec: &ProposalSpec) -> bool {
    column.proposals.as_ref().is_none_or(|ids| {
        ids.get_ref()
            .iter()
            .any(|id| id.get_ref() == spec.id.get_ref())
    })
}

/// The parameters `column` sends for `spec`: for `pressure` columns the scenario's
/// `[pressure]`, then the proposal's, then the column's own; otherwise the column's.
pub(crate) fn column_parameters(
    file: &ScenarioFile,
    spec: &ProposalSpec,
    column: &PolicyColumn,
) -> HashMap<String, String> {
    if column.policy.get_ref() == "pressure" {
        merged(&[&file.pressure, &spec.pressure, &column.parameters])
    } else {
        merged(&[&column.parameters])
    }
}

/// The zone question `column` asks, if any.
pub(crate) fn zone_request(column: &PolicyColumn) -> Option<ZoneOfAgreementRequest> {
    // A weighted column's zone counts the same weight as the column (where the zone knows it).
    let param = |name: &str| column.parameters.get(name).map(|v| v.get_ref().to_text());
    let weighted = column.policy.get_ref() == "weighted";
    column.zone.as_ref().map(|z| ZoneOfAgreementRequest {
        rule: if z.get_ref() == "qualified_majority" {
            AgreementRule::QualifiedMajority
        } else {
            AgreementRule::Unanimity
        } as i32,
        quota: column
            .zone_quota
            .as_ref()
            .map(|q| *q.get_ref())
            .or_else(|| {
                weighted
                    .then(|| param("quota").and_then(|q| q.parse().ok()))
                    .flatten()
            }),
        weight: if weighted {
            param("weight")
                .filter(|w| {
                    ["equal", "defence_spending", "gdp", "population"].contains(&w.as_str())
                })
                .unwrap_or_else(|| "defence_spending".to_string())
        } else {
            String::new()
        },
        ..Default::default()
    })
}
