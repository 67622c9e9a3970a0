//! Proposals: the list with its filters, and a proposal's page — seat chart (live), deadline,
//! decision, the side-by-side evaluation under every loaded policy, and the ballot form of the
//! delegation the browser sits as.
//!
//! Votes go through `ProposalService::CastBallot` in process, with the caller's metadata, so
//! they follow exactly the rules of the gRPC API: a form error (a salience of 7, a date that is
//! not a date) is refused with the service's own message and changes nothing. The only checks
//! made here are those of turning form text into a ballot (a number must be a number).

use std::collections::HashMap;

use accord_proto::v1::proposal_service_server::ProposalService;
use accord_proto::v1::{
    Ballot, CastBallotRequest, Choice, Date, Decision, EvaluateProposalRequest, GetProposalRequest,
    ListBallotsRequest, ListProposalsRequest, MemberStatus, Outcome, PolicyEvaluation, Position,
    Procedure, Proposal, ProposalKind, ProposalState, WithdrawProposalRequest,
    evaluate_proposal_request::Subject, position, proposal::Action,
};
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use crate::Web;
use crate::alliance;
use crate::chart;
use crate::error::WebError;
use crate::layout::{
    self, bar, choice_class, choice_symbol, choice_word, enum_word, id_of, percent, rfc3339, when,
};
use crate::session::{self, CSRF_FIELD, Caller, Session};

/// What a proposal would do, in one line (the scenario report's wording).
pub fn describe(proposal: &Proposal) -> String {
    accord_scenario::report::describe_action(&accord_scenario::run::ProposalReport {
        id: String::new(),
        proposal: proposal.clone(),
        ballots: Vec::new(),
        source: String::new(),
        rows: Vec::new(),
    })
}

fn state_word(state: i32) -> String {
    enum_word(
        ProposalState::try_from(state)
            .unwrap_or_default()
            .as_str_name(),
        "PROPOSAL_STATE_",
    )
}

fn outcome_word(outcome: i32) -> String {
    enum_word(
        Outcome::try_from(outcome).unwrap_or_default().as_str_name(),
        "OUTCOME_",
    )
}

/// The list's filters (`GET /proposals?state=open&kind=end-mission&target=missions/KFOR`).
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    state: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    target: String,
}

const STATES: [ProposalState; 5] = [
    ProposalState::Open,
    ProposalState::Adopted,
    ProposalState::Rejected,
    ProposalState::Expired,
    ProposalState::Withdrawn,
];
const KINDS: [ProposalKind; 6] = [
    ProposalKind::LaunchMission,
    ProposalKind::EndMission,
    ProposalKind::ResizeMission,
    ProposalKind::ExtendMission,
    ProposalKind::SetSummitParticipation,
    ProposalKind::GenericMotion,
];

fn slug(word: String) -> String {
    word.replace(' ', "-")
}

/// `GET /proposals`.
pub async fn list(
    State(web): State<Web>,
    Query(filters): Query<Filters>,
    headers: HeaderMap,
) -> Result<Html<String>, WebError> {
    let state = STATES
        .iter()
        .find(|s| slug(enum_word(s.as_str_name(), "PROPOSAL_STATE_")) == filters.state)
        .map_or(0, |s| *s as i32);
    let kind = KINDS
        .iter()
        .find(|k| slug(enum_word(k.as_str_name(), "PROPOSAL_KIND_")) == filters.kind)
        .map_or(0, |k| *k as i32);
    let caller = session::caller(&web, &headers).await;
    let mut proposals = Vec::new();
    let mut token = String::new();
    loop {
        let page = web
            .api
            .list_proposals(caller.request(ListProposalsRequest {
                page_size: 1000,
                page_token: token,
                state,
                kind,
                target: filters.target.trim().to_string(),
            }))
            .await?
            .into_inner();
        proposals.extend(page.proposals);
        if page.next_page_token.is_empty() || proposals.len() >= 5000 {
            break;
        }
        token = page.next_page_token;
    }
    proposals.reverse(); // newest first
    Ok(layout::page(
        "Proposals",
        Some("/proposals"),
        html! {
            h1 { "Proposals" }
            form.filters method="get" action="/proposals" aria-label="Filter proposals" {
                label { "State "
                    select name="state" {
                        option value="" { "any" }
                        @for s in STATES {
                            @let w = slug(enum_word(s.as_str_name(), "PROPOSAL_STATE_"));
                            option value=(w) selected[w == filters.state] { (w) }
                        }
                    }
                }
                label { "Kind "
                    select name="kind" {
                        option value="" { "any" }
                        @for k in KINDS {
                            @let w = slug(enum_word(k.as_str_name(), "PROPOSAL_KIND_"));
                            option value=(w) selected[w == filters.kind] { (w.replace('-', " ")) }
                        }
                    }
                }
                label { "Target "
                    input type="text" name="target" value=(filters.target) placeholder="missions/KFOR" size="16";
                }
                button type="submit" { "Filter" }
            }
            @if proposals.is_empty() {
                p { "No proposal matches. Create one with " code { "accord proposals create …" } " or run " code { "scripts/chamber" } "." }
            } @else {
                table #proposals {
                    caption { (proposals.len()) " proposals, newest first" }
                    thead { tr {
                        th scope="col" { "#" } th scope="col" { "Title" } th scope="col" { "What" }
                        th scope="col" { "Sponsor" } th scope="col" { "Policy" } th scope="col" { "State" }
                        th scope="col" { "Deadline" }
                    } }
                    tbody {
                        @for p in &proposals {
                            tr {
                                td { (id_of(&p.name)) }
                                td { a href=(format!("/{}", p.name)) { (p.title) } }
                                td { (describe(p)) }
                                td { (id_of(&p.sponsor)) }
                                td { (p.policy.as_ref().map(|p| p.policy_id.as_str()).unwrap_or("")) }
                                td { span.(format!("state state-{}", state_word(p.state))) { (state_word(p.state)) } }
                                td { (when(&p.deadline)) }
                            }
                        }
                    }
                }
            }
        },
    ))
}

fn proposal_name(id: &str) -> Result<String, WebError> {
    if id.is_empty() || id.len() > 19 || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(WebError::not_found("proposal ids are numbers"));
    }
    Ok(format!("proposals/{id}"))
}

async fn get(web: &Web, caller: &Caller, name: &str) -> Result<Proposal, WebError> {
    web.api
        .get_proposal(caller.request(GetProposalRequest {
            name: name.to_string(),
        }))
        .await?
        .into_inner()
        .proposal
        .ok_or_else(|| WebError::not_found(format!("no {name}")))
}

/// Each member's current ballot (the last one cast).
async fn current_ballots(
    web: &Web,
    caller: &Caller,
    name: &str,
) -> Result<HashMap<String, Ballot>, WebError> {
    let mut current = HashMap::new();
    let mut token = String::new();
    loop {
        let page = web
            .api
            .list_ballots(caller.request(ListBallotsRequest {
                proposal: name.to_string(),
                page_size: 1000,
                page_token: token,
            }))
            .await?
            .into_inner();
        for b in page.ballots {
            // A withdrawal leaves the member with no ballot.
            if b.withdrawn {
                current.remove(id_of(&b.member));
            } else {
                current.insert(id_of(&b.member).to_string(), b);
            }
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    Ok(current)
}

async fn evaluations(
    web: &Web,
    caller: &Caller,
    name: &str,
) -> Result<Vec<PolicyEvaluation>, WebError> {
    Ok(web
        .api
        .evaluate_proposal(caller.request(EvaluateProposalRequest {
            subject: Some(Subject::Name(name.to_string())),
            ..Default::default()
        }))
        .await?
        .into_inner()
        .evaluations)
}

/// What the vote form sends.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct VoteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    choice: String,
    #[serde(default)]
    position: String,
    #[serde(default)]
    salience: String,
    #[serde(default)]
    reason: String,
    /// "1": withdraw the current ballot instead of casting one.
    #[serde(default)]
    withdraw: String,
}

/// The page's state beyond the proposal: a message after a vote, or a refused form.
#[derive(Default)]
struct Notice {
    ok: Option<String>,
    error: Option<String>,
    form: Option<VoteForm>,
}

/// What a position is for this proposal: (label, input type, hint).
fn position_field(proposal: &Proposal) -> Option<(&'static str, &'static str, &'static str)> {
    match proposal.action.as_ref() {
        Some(Action::EndMission(_) | Action::ExtendMission(_)) => Some((
            "Preferred end date",
            "date",
            "The date your delegation would accept (YYYY-MM-DD).",
        )),
        Some(Action::ResizeMission(_) | Action::LaunchMission(_)) => Some((
            "Preferred personnel ceiling",
            "number",
            "The troop number your delegation would accept.",
        )),
        _ => None,
    }
}

async fn render(
    web: &Web,
    caller: &Caller,
    session: &Session,
    id: &str,
    notice: Notice,
) -> Result<Html<String>, WebError> {
    let name = proposal_name(id)?;
    let proposal = get(web, caller, &name).await?;
    let ballots = current_ballots(web, caller, &name).await?;
    let members = alliance::members(web, caller).await?;
    let active: Vec<_> = members
        .iter()
        .filter(|m| m.status == MemberStatus::Active as i32)
        .collect();
    let choices: HashMap<String, i32> = ballots
        .iter()
        .map(|(code, b)| (code.clone(), b.choice))
        .collect();
    let evaluations = evaluations(web, caller, &name).await?;
    let open = proposal.state == ProposalState::Open as i32;
    let mine = caller.delegation().and_then(|code| ballots.get(code));
    let procedure = enum_word(
        Procedure::try_from(proposal.procedure)
            .unwrap_or_default()
            .as_str_name(),
        "PROCEDURE_",
    );
    let back = format!("/{name}");
    let body = html! {
        div #proposal data-proposal=(id) data-state=(state_word(proposal.state)) {
        h1 { (proposal.title) }
        p.lead { (describe(&proposal)) }
        dl.facts {
            dt { "Sponsor" } dd { (id_of(&proposal.sponsor)) }
            dt { "Policy" } dd { (proposal.policy.as_ref().map(|p| p.policy_id.as_str()).unwrap_or("")) }
            dt { "Procedure" } dd { (procedure) }
            dt { "State" } dd { span #state .(format!("state state-{}", state_word(proposal.state))) aria-live="polite" { (state_word(proposal.state)) } }
            dt { "Deadline" } dd {
                time #deadline datetime=(rfc3339(&proposal.deadline)) { (when(&proposal.deadline)) }
                @if open { " " span #countdown aria-live="off" {} }
            }
        }
        @if !proposal.description.is_empty() { p { (proposal.description) } }
        section #decision aria-labelledby="decision-h" aria-live="polite" {
            h2 #decision-h { "Decision" }
            @match &proposal.decision {
                Some(d) => p #decision-text { "Decided: " strong { (outcome_word(d.outcome)) } " — support " (percent(d.support_share)) " (" (when(&proposal.close_time)) ")." },
                None if open => p #decision-text { "Not decided yet: the proposal is open." },
                None => p #decision-text { "Closed without a decision: " (state_word(proposal.state)) "." },
            }
        }
        section aria-labelledby="chamber-h" {
            h2 #chamber-h { "The chamber" }
            p #live-status .muted aria-live="polite" { @if open { "Live updates need JavaScript; reload the page to see new ballots." } }
            (chart::seat_chart(&active, &choices))
        }
        (vote_section(caller, session, &proposal, mine, &members, &back, notice))
        section #evaluation-section aria-labelledby="evaluation-h" {
            h2 #evaluation-h { "Every policy's verdict" }
            div #evaluation { (evaluation_table(&evaluations)) }
        }
        section aria-labelledby="ballots-h" {
            h2 #ballots-h { "Ballots" }
            table #ballots {
                caption { "The current ballot of every active ally (the seat chart's text alternative)" }
                thead { tr { th scope="col" { "Ally" } th scope="col" { "Ballot" } th scope="col" { "Preferred" } th scope="col" class="num" { "Salience" } th scope="col" { "Reason" } } }
                tbody {
                    @for m in &active {
                        @let b = ballots.get(&m.code);
                        @let c = b.map_or(0, |b| b.choice);
                        tr #(format!("ballot-{}", m.code)) {
                            th scope="row" { (m.code) " " span.muted { (m.display_name) } }
                            td.choice { span.(format!("tag {}", choice_class(c))) { (choice_symbol(c)) " " (choice_word(c)) } }
                            td.position { (b.map(|b| layout::position(&b.position)).unwrap_or_default()) }
                            td.salience.num { (b.and_then(|b| b.salience).map(|s| format!("{s:.2}")).unwrap_or_default()) }
                            td.reason { (b.map(|b| b.reason.as_str()).unwrap_or("")) }
                        }
                    }
                }
            }
        }
        }
    };
    Ok(layout::page(&proposal.title, Some("/proposals"), body))
}

fn vote_section(
    caller: &Caller,
    session: &Session,
    proposal: &Proposal,
    mine: Option<&Ballot>,
    members: &[accord_proto::v1::Member],
    back: &str,
    notice: Notice,
) -> Markup {
    let open = proposal.state == ProposalState::Open as i32;
    let form = notice.form.clone().unwrap_or_else(|| VoteForm {
        choice: mine
            .map(|b| choice_class(b.choice).to_string())
            .unwrap_or_default(),
        position: mine
            .map(|b| layout::position(&b.position))
            .unwrap_or_default(),
        salience: mine
            .and_then(|b| b.salience)
            .map(|s| format!("{s}"))
            .unwrap_or_default(),
        reason: mine.map(|b| b.reason.clone()).unwrap_or_default(),
        ..Default::default()
    });
    html! {
        section #vote aria-labelledby="vote-h" {
            h2 #vote-h { "Your delegation" }
            @if let Some(message) = &notice.ok { p.notice #vote-ok role="status" { (message) } }
            @if let Some(message) = &notice.error { p.error #vote-error role="alert" { "Your ballot was not cast: " (message) } }
            @if caller.secured {
                p #seat-status {
                    @match caller.delegation() {
                        Some(code) => { "Signed in as the delegation of " strong { (code) } ". " a href="/session" { "Sign out or switch" } }
                        None => { "You are " (caller.role) ". " a href="/session" { "Sign in with your delegation's token" } " to vote." }
                    }
                }
            } @else {
                form.seat method="post" action="/seat" {
                    input type="hidden" name=(CSRF_FIELD) value=(session.csrf);
                    input type="hidden" name="back" value=(back);
                    label for="seat" { "Sit as " }
                    select #seat name="seat" {
                        option value="" selected[caller.delegation().is_none()] { "an observer (watch only)" }
                        @for m in members.iter().filter(|m| m.status == MemberStatus::Active as i32) {
                            option value=(m.code) selected[caller.delegation() == Some(m.code.as_str())] { (m.code) " — " (m.display_name) }
                        }
                    }
                    " " button type="submit" { "Take this seat" }
                }
            }
            @match caller.delegation() {
                None if caller.secured => p { "Only a delegation votes, for its own member." },
                None => p { "You are observing. Choose a delegation to vote; authentication is off on this server, so anyone who can reach this page may sit as any delegation." },
                Some(code) if !open => p { "The proposal is " (state_word(proposal.state)) "; " (code) " can no longer vote." },
                Some(code) => {
                    @if let Some(b) = mine {
                        p #current-ballot { (code) "'s current ballot: " strong { (choice_symbol(b.choice)) " " (choice_word(b.choice)) } ". Casting again replaces it." }
                    } @else {
                        p #current-ballot { (code) " has not voted yet." }
                    }
                    form #vote-form method="post" action=(format!("{back}/ballots")) {
                        input type="hidden" name=(CSRF_FIELD) value=(session.csrf);
                        fieldset {
                            legend { "Ballot of " (code) }
                            @for (value, label) in [("support", "Support"), ("object", "Object"), ("abstain", "Abstain")] {
                                label.radio {
                                    input type="radio" name="choice" value=(value) required checked[form.choice == value];
                                    " " (label)
                                }
                            }
                        }
                        @if let Some((label, kind, hint)) = position_field(proposal) {
                            div.field {
                                label for="position" { (label) " (optional)" }
                                input #position name="position" type=(kind) value=(form.position) aria-describedby="position-hint" min=[(kind == "number").then_some("0")];
                                small #position-hint { (hint) }
                            }
                        }
                        div.field {
                            label for="salience" { "Salience (optional, 0 to 1)" }
                            input #salience name="salience" type="text" inputmode="decimal" value=(form.salience) aria-describedby="salience-hint";
                            small #salience-hint { "How much the question matters to your delegation: 0 not at all, 1 above all." }
                        }
                        div.field {
                            label for="reason" { "Reason (optional)" }
                            textarea #reason name="reason" rows="2" maxlength="500" { (form.reason) }
                        }
                        button type="submit" { "Cast ballot" }
                    }
                    @if mine.is_some() {
                        form #withdraw-ballot-form method="post" action=(format!("{back}/ballots")) {
                            input type="hidden" name=(CSRF_FIELD) value=(session.csrf);
                            input type="hidden" name="withdraw" value="1";
                            p { (code) " may take its ballot back and have none again. "
                                button #withdraw-ballot type="submit" { "Withdraw my ballot" } }
                        }
                    }
                    @if proposal.sponsor == format!("members/{code}") {
                        form method="post" action=(format!("{back}/withdraw")) {
                            input type="hidden" name=(CSRF_FIELD) value=(session.csrf);
                            p { "As the sponsor, " (code) " may withdraw the proposal. "
                                button type="submit" { "Withdraw the proposal" } }
                        }
                    }
                    p.muted { "Every ballot and withdrawal is kept in the record; the latest counts." }
                }
            }
        }
    }
}

/// The side-by-side evaluation: one card per policy.
pub fn evaluation_table(evaluations: &[PolicyEvaluation]) -> Markup {
    html! {
        div.verdicts {
            @for e in evaluations {
                article.verdict aria-labelledby=(format!("verdict-{}", id_of(&e.policy))) {
                    h3 id=(format!("verdict-{}", id_of(&e.policy))) { (id_of(&e.policy)) }
                    @match &e.decision {
                        None => p.error { "Could not decide: " (e.error_message) },
                        Some(d) => (decision_card(d)),
                    }
                }
            }
        }
    }
}

fn decision_card(d: &Decision) -> Markup {
    let outcome = outcome_word(d.outcome);
    let mut power: Vec<(String, f64)> = d
        .member_results
        .iter()
        .filter_map(|m| {
            m.metrics
                .get("banzhaf")
                .or_else(|| m.metrics.get("shapley_shubik"))
                .map(|p| (id_of(&m.member).to_string(), *p))
        })
        .collect();
    power.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let max = power.first().map_or(0.0, |p| p.1);
    let list = |names: &[String]| {
        if names.is_empty() {
            "none".to_string()
        } else {
            names
                .iter()
                .map(|n| id_of(n).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    html! {
        p.outcome { span.(format!("tag outcome-{outcome}")) { (outcome) } @if !d.settled { " (not settled: ballots may still change it)" } }
        (bar("support", d.support_share, 1.0, &percent(d.support_share)))
        @if let Some(p) = d.adoption_probability {
            (bar("P(adopted)", p, 1.0, &percent(p)))
        }
        dl {
            dt { "Blockers" } dd { (list(&d.blockers)) }
            dt { "Pivotal" } dd { (list(&d.pivotal_members)) }
            @if !d.likely_holdouts.is_empty() { dt { "Likely holdouts" } dd { (list(&d.likely_holdouts)) } }
            @if d.forecast_position.is_some() { dt { "Forecast" } dd { (layout::position(&d.forecast_position)) } }
        }
        @if !power.is_empty() {
            details {
                summary { "Voting power (Banzhaf index)" }
                div.power { @for (code, p) in power.iter().take(12) { (bar(code, *p, max, &format!("{p:.3}"))) } }
                @if power.len() > 12 { p.muted { "…and " (power.len() - 12) " more." } }
            }
        }
        @if !d.explanation.is_empty() {
            details { summary { "Why" } ul { @for line in &d.explanation { li { (line) } } } }
        }
    }
}

/// `GET /proposals/{id}`.
pub async fn page(
    State(web): State<Web>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Html<String>, WebError> {
    let caller = session::caller(&web, &headers).await;
    let notice = Notice {
        ok: query.get("cast").map(|c| {
            if c == "withdrawn" {
                "Ballot withdrawn: your delegation has no ballot now.".to_string()
            } else {
                format!(
                    "Ballot cast: {}.",
                    choice_word(parse_choice(c).unwrap_or(0))
                )
            }
        }),
        ..Default::default()
    };
    render(&web, &caller, &session, &id, notice).await
}

/// `GET /proposals/{id}/evaluation`: the evaluation alone, for live refreshes.
pub async fn evaluation_fragment(
    State(web): State<Web>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Html<String>, WebError> {
    let caller = session::caller(&web, &headers).await;
    let name = proposal_name(&id)?;
    let evaluations = evaluations(&web, &caller, &name).await?;
    Ok(Html(evaluation_table(&evaluations).into_string()))
}

fn parse_choice(word: &str) -> Option<i32> {
    match word {
        "support" => Some(Choice::Support as i32),
        "object" => Some(Choice::Object as i32),
        "abstain" => Some(Choice::Abstain as i32),
        _ => None,
    }
}

/// Turns the form into a ballot; only what text cannot say is checked here — the services
/// check the rest.
fn ballot_of(code: &str, proposal: &Proposal, form: &VoteForm) -> Result<Ballot, String> {
    let choice =
        parse_choice(form.choice.trim()).ok_or("choose support, object or abstain".to_string())?;
    let salience = match form.salience.trim() {
        "" => None,
        s => Some(
            s.parse::<f64>()
                .map_err(|_| format!("salience must be a number from 0 to 1, not “{}”", clip(s)))?,
        ),
    };
    let position = match form.position.trim() {
        "" => None,
        p => Some(Position {
            value: Some(match proposal.action.as_ref() {
                Some(Action::EndMission(_) | Action::ExtendMission(_)) => {
                    let d = chrono::NaiveDate::parse_from_str(p, "%Y-%m-%d").map_err(|_| {
                        format!("the preferred date must be YYYY-MM-DD, not “{}”", clip(p))
                    })?;
                    use chrono::Datelike;
                    position::Value::Date(Date {
                        year: d.year(),
                        month: d.month() as i32,
                        day: d.day() as i32,
                    })
                }
                _ => position::Value::Amount(p.parse::<f64>().map_err(|_| {
                    format!("the preferred ceiling must be a number, not “{}”", clip(p))
                })?),
            }),
        }),
    };
    if form.reason.chars().count() > 500 {
        return Err("the reason is longer than 500 characters".to_string());
    }
    Ok(Ballot {
        member: format!("members/{code}"),
        choice,
        position,
        salience,
        reason: form.reason.trim().to_string(),
        ..Default::default()
    })
}

/// At most 40 characters of user input, for messages.
fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

/// `POST /proposals/{id}/ballots`: the delegation the browser sits as casts (or changes) its
/// ballot through `CastBallot`.
pub async fn vote(
    State(web): State<Web>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<VoteForm>,
) -> Result<Response, WebError> {
    session::check_form(&session, &headers, &form.csrf)?;
    let caller = session::caller(&web, &headers).await;
    let Some(code) = caller.delegation().map(str::to_string) else {
        return Err(WebError::forbidden(
            "observers watch only: choose a delegation to vote",
        ));
    };
    let name = proposal_name(&id)?;
    let proposal = get(&web, &caller, &name).await?;
    let refused = |message: String, status: StatusCode| {
        let form = form.clone();
        let (web, caller, session, id) = (web.clone(), caller.clone(), session.clone(), id.clone());
        async move {
            let notice = Notice {
                error: Some(message),
                form: Some(form),
                ..Default::default()
            };
            let page = render(&web, &caller, &session, &id, notice).await?;
            Ok::<Response, WebError>((status, page).into_response())
        }
    };
    let ballot = if form.withdraw == "1" {
        Ok(Ballot {
            member: format!("members/{code}"),
            withdrawn: true,
            ..Default::default()
        })
    } else {
        ballot_of(&code, &proposal, &form)
    };
    let ballot = match ballot {
        Ok(ballot) => ballot,
        Err(message) => return refused(message, StatusCode::BAD_REQUEST).await,
    };
    let cast = web
        .api
        .cast_ballot(caller.request(CastBallotRequest {
            proposal: name.clone(),
            ballot: Some(ballot),
        }))
        .await;
    match cast {
        Ok(_) => {
            let cast = if form.withdraw == "1" {
                "withdrawn"
            } else {
                form.choice.trim()
            };
            Ok(Redirect::to(&format!("/{name}?cast={cast}#vote")).into_response())
        }
        Err(status) => {
            let code = crate::error::http_status(status.code());
            refused(status.message().to_string(), code).await
        }
    }
}

/// The withdraw form.
#[derive(Debug, Deserialize)]
pub struct WithdrawForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /proposals/{id}/withdraw`: the sponsor withdraws its proposal.
pub async fn withdraw(
    State(web): State<Web>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<WithdrawForm>,
) -> Result<Response, WebError> {
    session::check_form(&session, &headers, &form.csrf)?;
    let caller = session::caller(&web, &headers).await;
    let Some(code) = caller.delegation() else {
        return Err(WebError::forbidden("observers watch only"));
    };
    let name = proposal_name(&id)?;
    web.api
        .withdraw_proposal(caller.request(WithdrawProposalRequest {
            name: name.clone(),
            requester: format!("members/{code}"),
        }))
        .await?;
    Ok(Redirect::to(&format!("/{name}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end_mission() -> Proposal {
        Proposal {
            action: Some(Action::EndMission(Default::default())),
            ..Default::default()
        }
    }

    #[test]
    fn form_text_becomes_a_ballot_or_a_clear_message() {
        let form = VoteForm {
            choice: "object".into(),
            position: "2027-03-31".into(),
            salience: "0.6".into(),
            reason: " slower ".into(),
            ..Default::default()
        };
        let b = ballot_of("DEU", &end_mission(), &form).unwrap();
        assert_eq!(b.member, "members/DEU");
        assert_eq!(b.choice, Choice::Object as i32);
        assert_eq!(b.salience, Some(0.6));
        assert_eq!(b.reason, "slower");
        let bad = VoteForm {
            salience: "lots".into(),
            ..form.clone()
        };
        let err = ballot_of("DEU", &end_mission(), &bad).unwrap_err();
        assert!(err.contains("salience") && err.contains("lots"), "{err}");
        let bad = VoteForm {
            choice: "maybe".into(),
            ..form
        };
        assert!(ballot_of("DEU", &end_mission(), &bad).is_err());
    }
}
