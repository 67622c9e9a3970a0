//! Scenarios: pick a file from `scenarios/` or upload one, and see its report — the same run as
//! `accord scenario run` (the scenario crate's parser, runner and SVG charts, against this
//! server's gRPC port; nothing on the server changes). An invalid file is shown with its lines
//! numbered and each problem next to its line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use accord_proto::v1::{Choice, MemberStatus, Outcome};
use accord_scenario::run::{ProposalReport, Report};
use accord_scenario::{Problems, RunError};
use axum::extract::{Multipart, Query, State};
use axum::response::Html;
use maud::{Markup, html};
use serde::Deserialize;

use crate::Web;
use crate::error::WebError;
use crate::layout::{self, choice_word, enum_word, id_of, percent};
use crate::session::{self, CSRF_FIELD, Caller, Session};

/// The scenario files offered: `*.toml` in the scenario directory.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".toml") && !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

fn picker(web: &Web, session: &Session) -> Markup {
    let files = files(&web.scenario_dir);
    html! {
        section aria-labelledby="pick-h" {
            h2 #pick-h { "Run a scenario file" }
            @if files.is_empty() {
                p { "No scenario files in " code { (web.scenario_dir.display()) } " (the server's working directory)." }
            } @else {
                form method="get" action="/scenarios/run" {
                    label for="file" { "File " }
                    select #file name="file" { @for f in &files { option value=(f) { (f) } } }
                    " " button type="submit" { "Run" }
                }
            }
        }
        section aria-labelledby="upload-h" {
            h2 #upload-h { "Upload a scenario" }
            form method="post" action="/scenarios" enctype="multipart/form-data" {
                input type="hidden" name=(CSRF_FIELD) value=(session.csrf);
                div.field {
                    label for="scenario" { "Scenario file (TOML, at most 1 MiB; format in docs/scenarios.md)" }
                    input #scenario type="file" name="scenario" accept=".toml,text/plain" required;
                }
                button type="submit" { "Upload and run" }
            }
        }
    }
}

/// `GET /scenarios`.
pub async fn page(
    State(web): State<Web>,
    axum::Extension(session): axum::Extension<Session>,
) -> Html<String> {
    layout::page(
        "Scenarios",
        Some("/scenarios"),
        html! { h1 { "Scenarios" } (picker(&web, &session)) },
    )
}

/// `GET /scenarios/run?file=NAME`.
#[derive(Debug, Deserialize)]
pub struct RunQuery {
    file: String,
}

/// `GET /scenarios/run?file=…`: runs a file of the scenario directory.
pub async fn run_file(
    State(web): State<Web>,
    axum::Extension(session): axum::Extension<Session>,
    headers: axum::http::HeaderMap,
    Query(query): Query<RunQuery>,
) -> Result<Html<String>, WebError> {
    let caller = session::caller(&web, &headers).await;
    // Only a file the picker offers: no paths.
    if !files(&web.scenario_dir).contains(&query.file) {
        return Err(WebError::not_found("no such scenario file"));
    }
    let path = web.scenario_dir.join(&query.file);
    let text = tokio::fs::read_to_string(&path)
        .await
        .map_err(|e| WebError::not_found(format!("cannot read {}: {e}", query.file)))?;
    Ok(run_text(&web, &caller, &session, PathBuf::from(&query.file), text).await)
}

/// `POST /scenarios` (multipart): runs an uploaded file.
pub async fn upload(
    State(web): State<Web>,
    axum::Extension(session): axum::Extension<Session>,
    headers: axum::http::HeaderMap,
    mut multipart: Multipart,
) -> Result<Html<String>, WebError> {
    let mut token = String::new();
    let mut file: Option<(String, String)> = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| WebError::bad_request(format!("the upload could not be read: {e}")))?
    {
        match field.name() {
            Some(CSRF_FIELD) => token = field.text().await.unwrap_or_default(),
            Some("scenario") => {
                let name = field
                    .file_name()
                    .map(|n| {
                        n.rsplit(['/', '\\'])
                            .next()
                            .unwrap_or("scenario.toml")
                            .chars()
                            .take(80)
                            .collect()
                    })
                    .unwrap_or_else(|| "scenario.toml".to_string());
                let bytes = field.bytes().await.map_err(|e| {
                    WebError::bad_request(format!("the upload could not be read: {e}"))
                })?;
                let text = String::from_utf8(bytes.to_vec())
                    .map_err(|_| WebError::bad_request("a scenario file must be UTF-8 text"))?;
                file = Some((name, text));
            }
            _ => {}
        }
    }
    session::check_form(&session, &headers, &token)?;
    let caller = session::caller(&web, &headers).await;
    let (name, text) = file.ok_or_else(|| WebError::bad_request("choose a file to upload"))?;
    Ok(run_text(&web, &caller, &session, PathBuf::from(name), text).await)
}

async fn run_text(
    web: &Web,
    caller: &Caller,
    session: &Session,
    path: PathBuf,
    text: String,
) -> Html<String> {
    let title = path.display().to_string();
    let parsed = accord_scenario::parse(&path, &text);
    let outcome = match parsed {
        Err(problems) => Err(problems),
        Ok((file, at)) => match connect(web, caller).await {
            Err(e) => Ok(Err(e)),
            Ok(channel) => match accord_scenario::run(&file, &at, channel, false).await {
                Ok(report) => Ok(Ok(report)),
                Err(RunError::Problems(problems)) => Err(problems),
                Err(RunError::Rpc(status)) => Ok(Err(status.message().to_string())),
                Err(RunError::Invalid(message)) => Ok(Err(message)),
            },
        },
    };
    let body = match outcome {
        Err(problems) => problems_view(&title, &text, &problems),
        Ok(Err(message)) => {
            html! { p.error role="alert" { "The scenario could not run: " (message) } }
        }
        Ok(Ok(report)) => report_view(&report).await,
    };
    layout::page(
        &format!("Scenario {title}"),
        Some("/scenarios"),
        html! {
            h1 { "Scenario " code { (title) } }
            (body)
            (picker(web, session))
        },
    )
}

/// A connection to this server's gRPC port carrying `caller`'s credential, so that the run
/// may do exactly what the caller may.
async fn connect(web: &Web, caller: &Caller) -> Result<accord_proto::client::Conn, String> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", web.grpc))
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| format!("cannot reach this server's gRPC port {}: {e}", web.grpc))?;
    Ok(accord_proto::client::conn(channel, caller.bearer()))
}

/// The file with numbered lines, each problem next to its line.
fn problems_view(title: &str, text: &str, problems: &Problems) -> Markup {
    let mut by_line: BTreeMap<usize, Vec<&accord_scenario::Problem>> = BTreeMap::new();
    for p in &problems.0 {
        by_line.entry(p.line).or_default().push(p);
    }
    html! {
        div.error role="alert" #scenario-problems {
            p { strong { (problems.0.len()) " problem(s) in " code { (title) } "; nothing was run." } }
            ul { @for p in &problems.0 { li { a href=(format!("#line-{}", p.line)) { "line " (p.line) ", column " (p.column) } ": " (p.message) } } }
        }
        div.source.scroll tabindex="0" role="region" aria-label="The scenario file, with its problems" {
            table.source {
                @for (i, line) in text.lines().enumerate() {
                    @let n = i + 1;
                    @let here = by_line.get(&n);
                    tr id=(format!("line-{n}")) class=[here.map(|_| "bad")] {
                        th scope="row" { (n) }
                        td { code { (line) } }
                        td.problem { @if let Some(ps) = here { @for p in ps { span { "⚠ column " (p.column) ": " (p.message) } br; } } }
                    }
                }
            }
        }
    }
}

fn outcome_word(outcome: i32) -> String {
    enum_word(
        Outcome::try_from(outcome).unwrap_or_default().as_str_name(),
        "OUTCOME_",
    )
}

/// An SVG file as a `data:` URI for an `<img>` (images cannot run scripts).
fn data_uri(svg: &str) -> String {
    let mut out = String::from("data:image/svg+xml;charset=utf-8,");
    for c in svg.chars() {
        match c {
            '%' => out.push_str("%25"),
            '#' => out.push_str("%23"),
            '"' => out.push_str("%22"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '\n' => out.push_str("%0A"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// The charts of a report: (file name, data URI).
async fn charts(report: &Report) -> Vec<(String, String)> {
    let report = report.clone();
    tokio::task::spawn_blocking(move || {
        let Ok(dir) = tempfile::tempdir() else {
            return Vec::new();
        };
        let Ok(files) = accord_scenario::svg::write_all(&report, dir.path()) else {
            return Vec::new();
        };
        files
            .iter()
            .filter_map(|f| {
                let name = f.file_name()?.to_string_lossy().to_string();
                let svg = std::fs::read_to_string(f).ok()?;
                Some((name, data_uri(&svg)))
            })
            .collect()
    })
    .await
    .unwrap_or_default()
}

fn tally(proposal: &ProposalReport, active: usize) -> String {
    let count = |c: Choice| {
        proposal
            .ballots
            .iter()
            .filter(|b| b.choice == c as i32)
            .count()
    };
    let cast = proposal.ballots.len();
    format!(
        "{} support, {} object, {} abstain, {} no ballot",
        count(Choice::Support),
        count(Choice::Object),
        count(Choice::Abstain),
        active.saturating_sub(cast)
    )
}

async fn report_view(report: &Report) -> Markup {
    let charts = charts(report).await;
    let active = report
        .members
        .iter()
        .filter(|m| m.status == MemberStatus::Active as i32)
        .count();
    html! {
        p.lead #scenario-title { (report.title) }
        @if !report.description.is_empty() { p { (report.description) } }
        p.muted { "Seed " (report.seed) ". Evaluated without changing anything on the server." }
        @for proposal in &report.proposals {
            section.scenario-proposal aria-labelledby=(format!("sp-{}", proposal.id)) {
                h2 id=(format!("sp-{}", proposal.id)) { (proposal.proposal.title) }
                p { (crate::proposals::describe(&proposal.proposal)) ". Ballots: " (tally(proposal, active)) "." }
                @if !proposal.source.is_empty() { p.muted { "Source: " (proposal.source) } }
                table {
                    caption { "Every policy column's verdict" }
                    thead { tr { th scope="col" { "Column" } th scope="col" { "Policy" } th scope="col" { "Outcome" } th scope="col" class="num" { "Support" } th scope="col" { "Blockers" } th scope="col" class="num" { "P(adopted)" } th scope="col" { "Forecast" } } }
                    tbody {
                        @for row in &proposal.rows {
                            tr {
                                th scope="row" { (row.label) }
                                td { (row.policy) }
                                @match &row.result {
                                    Ok(d) => {
                                        td { span.(format!("tag outcome-{}", outcome_word(d.outcome))) { (outcome_word(d.outcome)) } }
                                        td.num { (percent(d.support_share)) }
                                        td { (d.blockers.iter().map(|b| id_of(b)).collect::<Vec<_>>().join(", ")) }
                                        td.num { (d.adoption_probability.map(percent).unwrap_or_default()) }
                                        td { (layout::position(&d.forecast_position)) }
                                    }
                                    Err((code, message)) => td colspan="5" .error { (code) ": " (message) },
                                }
                            }
                        }
                    }
                }
                @for (name, uri) in charts.iter().filter(|(n, _)| n.starts_with(&format!("{}-", proposal.id))) {
                    figure.chart {
                        img src=(uri) alt=(chart_alt(name, proposal, active)) width="900";
                        figcaption { (name) }
                    }
                }
                details {
                    summary { "Ballots (" (proposal.ballots.len()) ")" }
                    ul { @for b in &proposal.ballots { li { (id_of(&b.member)) ": " (choice_word(b.choice)) @if !b.reason.is_empty() { " — " (b.reason) } } } }
                }
            }
        }
    }
}

fn chart_alt(name: &str, proposal: &ProposalReport, active: usize) -> String {
    if name.ends_with("-seats.svg") {
        format!(
            "Seat chart of {}: {}.",
            proposal.proposal.title,
            tally(proposal, active)
        )
    } else {
        format!(
            "Bar chart of each pressed member's probability of conceding on {} (the table above gives every policy's verdict).",
            proposal.proposal.title
        )
    }
}
