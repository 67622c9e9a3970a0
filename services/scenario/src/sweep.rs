//! Sensitivity sweeps: every proposal of a scenario evaluated across a grid of policy
//! parameters or stance assumptions (a member's salience or position, the lead's pressure),
//! by the server in batches (`ProposalService.EvaluateBatch`); the results as CSV or JSON.
//!
//! Guarantee: a sweep changes nothing on the server, and its results are in a fixed order
//! (grid point, then proposal, then column) whatever order the server finishes in. A bad
//! variable is refused before anything is sent, with the line of the file (or the `--vary`
//! text) that names it.
//!
//! A variable is `[PROPOSAL:]TARGET.FIELD`:
//! - `POLICY.PARAMETER` (`pressure.pressure`, `bargaining.tolerance`): the parameter of every
//!   column of that policy;
//! - `CODE.salience`, `CODE.position`: a member's stance;
//! - `@TAG.salience`, `@TAG.position`: every member of the stances tagged `TAG`;
//! - the `PROPOSAL:` prefix restricts it to one proposal. Otherwise it applies to every
//!   proposal it fits (a position on dates only to end and extend proposals, and so on).
//!
//! Only the proposals some variable applies to are evaluated.

use std::collections::HashSet;

use accord_proto::client::Conn;
use accord_proto::v1::proposal_service_client::ProposalServiceClient;
use accord_proto::v1::{
    Decision, EvaluateBatchRequest, EvaluateProposalRequest, Outcome, PolicyRef, Position,
    evaluate_proposal_request::Subject, position,
};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};

use crate::forecast;
use crate::format::{
    ActionSpec, Locator, PositionValue, Problem, ProposalSpec, ScenarioFile, SweepSpec,
    is_member_code, is_plain_date,
};
use crate::run::{
    DEFAULT_SEED, RunError, applies, ballots_for, check_on_server, code_name, column_parameters,
    policy_parameters, proposal_for,
};

/// Most grid points of one sweep.
pub const MAX_POINTS: usize = 20_000;
/// Most variables of one sweep (a line chart for one, a heat map for two).
pub const MAX_VARIABLES: usize = 2;
/// Items per EvaluateBatch call.
pub const BATCH: usize = 250;

/// What a variable changes.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A parameter of every column of a policy.
    Parameter {
        /// Policy id.
        policy: String,
        /// Parameter name.
        parameter: String,
    },
    /// The salience of these members' stances.
    Salience(Vec<String>),
    /// The position of these members' stances.
    Position(Vec<String>),
}

/// One variable of a sweep, resolved against the scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    /// As written, e.g. `end-nmi:@longer-period.position`.
    pub name: String,
    /// The only proposal it applies to, when prefixed.
    pub proposal: Option<String>,
    /// What it changes.
    pub target: Target,
    /// True when its values are dates (days since 1970-01-01).
    pub dates: bool,
    /// The tag, for `@TAG` variables: only the stances tagged so are varied.
    pub tag: Option<String>,
    /// The grid, in order.
    pub values: Vec<f64>,
}

impl Variable {
    /// A value of this variable as text (a date, or a number).
    pub fn text(&self, v: f64) -> String {
        if self.dates {
            forecast::date_text(v)
        } else {
            number_text(v)
        }
    }

    fn tagged_in(&self, spec: &ProposalSpec) -> bool {
        self.tag.as_ref().is_none_or(|tag| {
            spec.stances
                .iter()
                .any(|s| s.tag.as_ref().is_some_and(|t| t.get_ref() == tag))
        })
    }

    /// Whether `code`'s stance on `spec` is varied by this variable.
    fn varies(&self, spec: &ProposalSpec, code: &str) -> bool {
        spec.stances.iter().any(|s| {
            s.members.get_ref().iter().any(|m| m.get_ref() == code)
                && self
                    .tag
                    .as_ref()
                    .is_none_or(|tag| s.tag.as_ref().is_some_and(|t| t.get_ref() == tag))
        })
    }

    fn fits(&self, spec: &ProposalSpec, file: &ScenarioFile) -> bool {
        if self
            .proposal
            .as_ref()
            .is_some_and(|p| p != spec.id.get_ref())
        {
            return false;
        }
        match &self.target {
            Target::Parameter { policy, .. } => file
                .policies
                .iter()
                .any(|c| c.policy.get_ref() == policy && applies(c, spec)),
            Target::Salience(codes) => self.tagged_in(spec) && has_stance(spec, codes),
            Target::Position(codes) => {
                self.tagged_in(spec)
                    && has_stance(spec, codes)
                    && quantity_kind(spec) == Some(self.dates)
            }
        }
    }
}

fn number_text(v: f64) -> String {
    let text = format!("{v:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

fn has_stance(spec: &ProposalSpec, codes: &[String]) -> bool {
    spec.stances.iter().any(|s| {
        s.members
            .get_ref()
            .iter()
            .any(|m| codes.contains(m.get_ref()))
    })
}

/// True when `spec` tables a quantity (an end date or a ceiling).
pub fn has_quantity(spec: &ProposalSpec) -> bool {
    quantity_kind(spec).is_some()
}

/// `Some(true)` for a quantity on dates, `Some(false)` on amounts, `None` without one.
fn quantity_kind(spec: &ProposalSpec) -> Option<bool> {
    match spec.action.get_ref() {
        ActionSpec::EndMission { .. } | ActionSpec::ExtendMission { .. } => Some(true),
        ActionSpec::ResizeMission { .. } | ActionSpec::LaunchMission { .. } => Some(false),
        _ => None,
    }
}

pub use crate::format::scalar;

/// Which part of a variable's spec a problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The name.
    Name,
    /// `from`.
    From,
    /// `to`.
    To,
    /// `step`.
    Step,
}

/// A variable as written: in the file or on the command line.
#[derive(Debug, Clone)]
pub struct VaryInput {
    /// The name.
    pub name: String,
    /// First value.
    pub from: PositionValue,
    /// Last value.
    pub to: PositionValue,
    /// Step.
    pub step: f64,
}

/// Parses `NAME=FROM..TO:STEP` (`--vary`); FROM and TO are numbers or dates (YYYY-MM-DD).
pub fn parse_vary(text: &str) -> Result<VaryInput, String> {
    let bad = || format!("`{text}` is not NAME=FROM..TO:STEP (e.g. pressure.pressure=0..2:0.25)");
    let (name, rest) = text.split_once('=').ok_or_else(bad)?;
    let (range, step) = rest.rsplit_once(':').ok_or_else(bad)?;
    let (from, to) = range.split_once("..").ok_or_else(bad)?;
    let value = |t: &str| -> Result<PositionValue, String> {
        let t = t.trim();
        if let Ok(d) = t.parse::<toml::value::Datetime>() {
            if is_plain_date(&d) {
                return Ok(PositionValue::Date(d));
            }
        }
        t.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(PositionValue::Float)
            .ok_or_else(|| format!("`{t}` in `{text}` is neither a number nor a date (YYYY-MM-DD)"))
    };
    let step: f64 = step
        .trim()
        .parse()
        .map_err(|_| format!("step `{}` in `{text}` is not a number", step.trim()))?;
    Ok(VaryInput {
        name: name.trim().to_string(),
        from: value(from)?,
        to: value(to)?,
        step,
    })
}

/// Resolves one variable against the scenario, or says which part is wrong and why.
pub fn resolve(file: &ScenarioFile, input: &VaryInput) -> Result<Variable, (Part, String)> {
    let name = input.name.as_str();
    let (proposal, rest) = match name.split_once(':') {
        Some((p, rest)) => {
            if !file.proposals.iter().any(|s| s.id.get_ref() == p) {
                return Err((Part::Name, format!("no proposal has the id `{p}`")));
            }
            (Some(p.to_string()), rest)
        }
        None => (None, name),
    };
    let specs: Vec<&ProposalSpec> = file
        .proposals
        .iter()
        .filter(|s| proposal.as_ref().is_none_or(|p| p == s.id.get_ref()))
        .collect();
    let Some((who, field)) = rest.split_once('.') else {
        return Err((
            Part::Name,
            format!(
                "`{name}` is not POLICY.PARAMETER, CODE.salience, CODE.position, @TAG.salience or @TAG.position"
            ),
        ));
    };
    let dates = matches!(input.from, PositionValue::Date(_));
    if dates != matches!(input.to, PositionValue::Date(_)) {
        return Err((
            Part::To,
            "from and to must both be dates or both be numbers".into(),
        ));
    }
    let stance_members = |select: &dyn Fn(&crate::format::StanceSpec) -> bool| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for spec in &specs {
            for stance in spec.stances.iter().filter(|s| select(s)) {
                for m in stance.members.get_ref() {
                    if !out.contains(m.get_ref()) {
                        out.push(m.get_ref().clone());
                    }
                }
            }
        }
        out
    };
    let target = if let Some(tag) = who.strip_prefix('@') {
        let codes = stance_members(&|s| s.tag.as_ref().is_some_and(|t| t.get_ref() == tag));
        if codes.is_empty() {
            return Err((Part::Name, format!("no stance is tagged `{tag}`")));
        }
        member_target(field, codes)?
    } else if is_member_code(who) {
        let codes = stance_members(&|s| s.members.get_ref().iter().any(|m| m.get_ref() == who));
        if codes.is_empty() {
            return Err((Part::Name, format!("{who} has no stance to vary")));
        }
        member_target(field, vec![who.to_string()])?
    } else {
        if !file.policies.iter().any(|c| c.policy.get_ref() == who) {
            return Err((
                Part::Name,
                format!(
                    "`{who}` is neither a member code, a @tag nor a policy of the scenario's columns"
                ),
            ));
        }
        if field.is_empty() || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err((Part::Name, format!("`{field}` is not a parameter name")));
        }
        Target::Parameter {
            policy: who.to_string(),
            parameter: field.to_string(),
        }
    };
    if dates && !matches!(target, Target::Position(_)) {
        return Err((Part::From, "only a position takes dates".into()));
    }
    if let Target::Position(_) = &target {
        let kinds: HashSet<Option<bool>> = specs.iter().map(|s| quantity_kind(s)).collect();
        if !kinds.contains(&Some(dates)) {
            return Err((
                Part::From,
                if dates {
                    "no proposal here ends or extends a mission: a position on dates does not fit"
                } else {
                    "no proposal here resizes or launches a mission: a position in troops does not fit"
                }
                .into(),
            ));
        }
    }
    let (from, to, step) = (scalar(&input.from), scalar(&input.to), input.step);
    if !(step.is_finite() && step > 0.0) {
        return Err((Part::Step, format!("step {step} must be a number above 0")));
    }
    if dates && step.fract() != 0.0 {
        return Err((
            Part::Step,
            format!("step {step} must be a whole number of days"),
        ));
    }
    if from > to {
        return Err((Part::To, "to is below from".into()));
    }
    if matches!(target, Target::Salience(_)) && (from < 0.0 || to > 1.0) {
        return Err((Part::From, "a salience runs from 0 to 1".into()));
    }
    if matches!(target, Target::Position(_)) && !dates && from < 0.0 {
        return Err((Part::From, "a troop number is zero or more".into()));
    }
    let count = ((to - from) / step + 1e-9).floor() + 1.0;
    if count > MAX_POINTS as f64 {
        return Err((
            Part::Step,
            format!("{count} values: a sweep has at most {MAX_POINTS} points"),
        ));
    }
    let values = (0..count as usize)
        .map(|k| from + k as f64 * step)
        .collect();
    Ok(Variable {
        name: name.to_string(),
        proposal,
        target,
        dates,
        tag: who.strip_prefix('@').map(str::to_string),
        values,
    })
}

fn member_target(field: &str, codes: Vec<String>) -> Result<Target, (Part, String)> {
    match field {
        "salience" => Ok(Target::Salience(codes)),
        "position" => Ok(Target::Position(codes)),
        other => Err((
            Part::Name,
            format!("a member's `{other}` cannot vary: use salience or position"),
        )),
    }
}

fn input_of(vary: &crate::format::VarySpec) -> VaryInput {
    VaryInput {
        name: vary.name.get_ref().clone(),
        from: vary.from.get_ref().clone(),
        to: vary.to.get_ref().clone(),
        step: *vary.step.get_ref(),
    }
}

/// Checks a scenario's `[sweep]` section, each problem at its line.
pub fn check(file: &ScenarioFile, sweep: &SweepSpec, at: &Locator) -> Vec<Problem> {
    let mut problems = Vec::new();
    for label in &sweep.policies {
        if !file
            .policies
            .iter()
            .any(|c| c.label.get_ref() == label.get_ref())
        {
            problems.push(at.at(
                label,
                format!("no policy column is labelled `{}`", label.get_ref()),
            ));
        }
    }
    if sweep.vary.len() > MAX_VARIABLES {
        problems.push(at.at(
            &sweep.vary[MAX_VARIABLES].name,
            format!("a sweep varies at most {MAX_VARIABLES} things at once"),
        ));
    }
    let mut points = 1usize;
    for vary in &sweep.vary {
        match resolve(file, &input_of(vary)) {
            Ok(v) => points = points.saturating_mul(v.values.len()),
            Err((part, message)) => {
                let offset = match part {
                    Part::Name => vary.name.span().start,
                    Part::From => vary.from.span().start,
                    Part::To => vary.to.span().start,
                    Part::Step => vary.step.span().start,
                };
                problems.push(at.problem(offset, format!("sweep: {message}")));
            }
        }
    }
    if points > MAX_POINTS {
        if let Some(v) = sweep.vary.first() {
            problems.push(at.at(
                &v.name,
                format!("the grid has {points} points: a sweep has at most {MAX_POINTS}"),
            ));
        }
    }
    problems
}

/// The variables and columns of a sweep: from `--vary` and `--policy` when given, otherwise
/// from the file's `[sweep]`. Errors are one line each, naming the `--vary` text.
pub fn plan(
    file: &ScenarioFile,
    vary: &[String],
    columns: &[String],
) -> Result<(Vec<Variable>, Vec<String>), String> {
    let variables: Vec<Variable> = if vary.is_empty() {
        let sweep = file.sweep.as_ref().ok_or_else(|| {
            "the scenario has no [sweep] section: say what to vary with --vary NAME=FROM..TO:STEP"
                .to_string()
        })?;
        // Already checked with line numbers when the file was read.
        sweep
            .vary
            .iter()
            .map(|v| resolve(file, &input_of(v)).map_err(|(_, m)| m))
            .collect::<Result<_, _>>()?
    } else {
        vary.iter()
            .map(|text| {
                let input = parse_vary(text).map_err(|m| format!("--vary: {m}"))?;
                resolve(file, &input).map_err(|(_, m)| format!("--vary `{text}`: {m}"))
            })
            .collect::<Result<_, _>>()?
    };
    if variables.is_empty() {
        return Err("nothing to vary: give --vary NAME=FROM..TO:STEP or [[sweep.vary]]".into());
    }
    if variables.len() > MAX_VARIABLES {
        return Err(format!(
            "a sweep varies at most {MAX_VARIABLES} things at once"
        ));
    }
    let points: usize = variables.iter().map(|v| v.values.len()).product();
    if points > MAX_POINTS {
        return Err(format!(
            "the grid has {points} points: a sweep has at most {MAX_POINTS}"
        ));
    }
    let labels: Vec<String> = if !columns.is_empty() {
        for label in columns {
            if !file.policies.iter().any(|c| c.label.get_ref() == label) {
                let known: Vec<&str> = file
                    .policies
                    .iter()
                    .map(|c| c.label.get_ref().as_str())
                    .collect();
                return Err(format!(
                    "--policy `{label}`: no policy column has this label (labels: {})",
                    known.join("; ")
                ));
            }
        }
        columns.to_vec()
    } else {
        match file.sweep.as_ref().filter(|s| !s.policies.is_empty()) {
            Some(s) => s.policies.iter().map(|l| l.get_ref().clone()).collect(),
            None => file
                .policies
                .iter()
                .map(|c| c.label.get_ref().clone())
                .collect(),
        }
    };
    Ok((variables, labels))
}

/// One evaluation of a sweep.
#[derive(Debug, Clone)]
pub struct SweepRow {
    /// Index of the grid point.
    pub point: usize,
    /// The variables' values at it.
    pub values: Vec<f64>,
    /// The proposal id.
    pub proposal: String,
    /// The column label.
    pub column: String,
    /// The policy id.
    pub policy: String,
    /// The decision, or the error (code name and message).
    pub result: Result<Decision, (String, String)>,
}

impl SweepRow {
    /// P(adopted): the policy's probability, or 1 / 0 from the outcome.
    pub fn p_adopted(&self) -> Option<f64> {
        let d = self.result.as_ref().ok()?;
        Some(
            d.adoption_probability
                .unwrap_or(if d.outcome == Outcome::Adopted as i32 {
                    1.0
                } else {
                    0.0
                }),
        )
    }

    /// The forecast value as a number (days for a date).
    pub fn forecast(&self) -> Option<f64> {
        forecast::number(self.result.as_ref().ok()?.forecast_position.as_ref())
    }
}

/// A whole sweep's results.
#[derive(Debug, Clone)]
pub struct SweepResult {
    /// The scenario's title.
    pub title: String,
    /// The variables, in order (the first varies slowest).
    pub variables: Vec<Variable>,
    /// The proposals evaluated, in file order.
    pub proposals: Vec<String>,
    /// The columns evaluated, in file order.
    pub columns: Vec<String>,
    /// Every evaluation: by grid point, then proposal, then column.
    pub rows: Vec<SweepRow>,
    /// How many evaluations the server made.
    pub evaluations: usize,
}

fn grid(variables: &[Variable]) -> Vec<Vec<f64>> {
    let mut points = vec![Vec::new()];
    for v in variables {
        let mut next = Vec::with_capacity(points.len() * v.values.len());
        for p in &points {
            for x in &v.values {
                let mut q = p.clone();
                q.push(*x);
                next.push(q);
            }
        }
        points = next;
    }
    points
}

fn set_position(kind_dates: bool, v: f64) -> Position {
    Position {
        value: Some(if kind_dates {
            let text = forecast::date_text(v);
            let mut parts = text.split('-').map(|p| p.parse::<i32>().unwrap_or(1));
            position::Value::Date(accord_proto::v1::Date {
                year: parts.next().unwrap_or(1970),
                month: parts.next().unwrap_or(1),
                day: parts.next().unwrap_or(1),
            })
        } else {
            position::Value::Amount(v)
        }),
    }
}

/// Runs the sweep against the server on `channel`: every grid point × every proposal a
/// variable applies to × every chosen column that applies to it, in batches.
pub async fn run(
    file: &ScenarioFile,
    at: &Locator,
    channel: Conn,
    variables: Vec<Variable>,
    labels: Vec<String>,
    progress: bool,
) -> Result<SweepResult, RunError> {
    let members = check_on_server(file, at, &channel).await?;
    // A parameter the policy does not declare: at the file's line, or naming the --vary.
    let declared = policy_parameters(&channel).await?;
    for v in &variables {
        let Target::Parameter { policy, parameter } = &v.target else {
            continue;
        };
        let names = declared.get(policy).cloned().unwrap_or_default();
        if names.contains(parameter) {
            continue;
        }
        let message = format!(
            "policy `{policy}` has no parameter `{parameter}` (it has: {})",
            names.join(", ")
        );
        let spec = file
            .sweep
            .iter()
            .flat_map(|s| &s.vary)
            .find(|x| x.name.get_ref() == &v.name);
        return Err(match spec {
            Some(spec) => RunError::Problems(crate::format::Problems(vec![
                at.at(&spec.name, format!("sweep: {message}")),
            ])),
            None => RunError::Invalid(format!("--vary `{}`: {message}", v.name)),
        });
    }
    let seed = file.scenario.seed.unwrap_or(DEFAULT_SEED);
    let specs: Vec<&ProposalSpec> = file
        .proposals
        .iter()
        .filter(|s| variables.iter().any(|v| v.fits(s, file)))
        .collect();
    let columns: Vec<_> = file
        .policies
        .iter()
        .filter(|c| labels.contains(c.label.get_ref()))
        .collect();
    let points = grid(&variables);

    // Every item, in the order reported.
    let mut items: Vec<(usize, String, String, String, EvaluateProposalRequest)> = Vec::new();
    for (k, point) in points.iter().enumerate() {
        for spec in &specs {
            let (proposal, deadline) = proposal_for(spec);
            let mut ballots = ballots_for(spec, &members, false);
            for (v, x) in variables.iter().zip(point) {
                if !v.fits(spec, file) {
                    continue;
                }
                let codes = match &v.target {
                    Target::Salience(c) | Target::Position(c) => c,
                    Target::Parameter { .. } => continue,
                };
                for b in ballots.iter_mut() {
                    let code = b.member.trim_start_matches("members/");
                    if codes.iter().any(|c| c == code) && v.varies(spec, code) {
                        match &v.target {
                            Target::Salience(_) => b.salience = Some(*x),
                            Target::Position(_) => b.position = Some(set_position(v.dates, *x)),
                            Target::Parameter { .. } => {}
                        }
                    }
                }
            }
            for column in columns.iter().filter(|c| applies(c, spec)) {
                let mut parameters = column_parameters(file, spec, column);
                for (v, x) in variables.iter().zip(point) {
                    if let Target::Parameter { policy, parameter } = &v.target {
                        if policy == column.policy.get_ref() && v.fits(spec, file) {
                            parameters.insert(parameter.clone(), number_text(*x));
                        }
                    }
                }
                let mut proposal = proposal.clone();
                if let Some(p) = &column.procedure {
                    proposal.procedure = if p.get_ref() == "silence" {
                        accord_proto::v1::Procedure::Silence
                    } else {
                        accord_proto::v1::Procedure::OpenVote
                    } as i32;
                }
                let policy = PolicyRef {
                    policy_id: column.policy.get_ref().clone(),
                    parameters: parameters.clone(),
                };
                proposal.policy = Some(policy.clone());
                items.push((
                    k,
                    spec.id.get_ref().clone(),
                    column.label.get_ref().clone(),
                    column.policy.get_ref().clone(),
                    EvaluateProposalRequest {
                        subject: Some(Subject::Proposal(proposal)),
                        ballots: ballots.clone(),
                        policies: vec![policy],
                        seed,
                        evaluate_time: Some(deadline),
                        what_could_pass: None,
                    },
                ));
            }
        }
    }

    let bar = if progress && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let bar =
            ProgressBar::with_draw_target(Some(items.len() as u64), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} sweep {bar:30} {pos}/{len} evaluations {per_sec} ETA {eta}",
            )
            .expect("valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let client =
        ProposalServiceClient::new(channel.clone()).max_decoding_message_size(64 * 1024 * 1024);
    let requests: Vec<EvaluateBatchRequest> = items
        .chunks(BATCH)
        .map(|chunk| EvaluateBatchRequest {
            evaluations: chunk.iter().map(|i| i.4.clone()).collect(),
            brief: true,
        })
        .collect();
    let answers: Vec<Result<_, tonic::Status>> = futures::stream::iter(requests)
        .map(|request| {
            let mut client = client.clone();
            let bar = bar.clone();
            async move {
                let n = request.evaluations.len() as u64;
                let r = client.evaluate_batch(request).await.map(|r| r.into_inner());
                bar.inc(n);
                r
            }
        })
        .buffered(2)
        .collect()
        .await;
    bar.finish_and_clear();
    let mut results = Vec::with_capacity(items.len());
    for answer in answers {
        let answer = answer.map_err(RunError::Rpc)?;
        results.extend(answer.results);
    }
    let rows = items
        .into_iter()
        .zip(results)
        .map(|((k, proposal, column, policy, _), response)| {
            let e = response.evaluations.into_iter().next();
            let result = match e {
                Some(e) if e.error_code == 0 => e
                    .decision
                    .ok_or_else(|| ("INTERNAL".to_string(), "no decision".to_string())),
                Some(e) => Err((code_name(tonic::Code::from(e.error_code)), e.error_message)),
                None => Err(("INTERNAL".to_string(), "no evaluation".to_string())),
            };
            SweepRow {
                point: k,
                values: points[k].clone(),
                proposal,
                column,
                policy,
                result,
            }
        })
        .collect::<Vec<_>>();
    Ok(SweepResult {
        title: file.scenario.title.clone(),
        evaluations: rows.len(),
        variables,
        proposals: specs.iter().map(|s| s.id.get_ref().clone()).collect(),
        columns: columns.iter().map(|c| c.label.get_ref().clone()).collect(),
        rows,
    })
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The sweep as CSV: one line per evaluation.
pub fn to_csv(sweep: &SweepResult) -> String {
    let mut header = vec!["proposal".to_string(), "policy".to_string()];
    header.extend(sweep.variables.iter().map(|v| v.name.clone()));
    header.extend(
        [
            "outcome",
            "adopted",
            "support_share",
            "adoption_probability",
            "forecast",
            "blockers",
            "error",
        ]
        .map(String::from),
    );
    let mut out = header
        .iter()
        .map(|h| csv_field(h))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for row in &sweep.rows {
        let mut fields = vec![csv_field(&row.proposal), csv_field(&row.column)];
        fields.extend(
            sweep
                .variables
                .iter()
                .zip(&row.values)
                .map(|(v, x)| v.text(*x)),
        );
        match &row.result {
            Ok(d) => {
                fields.push(outcome_word(d).to_string());
                fields.push((d.outcome == Outcome::Adopted as i32).to_string());
                fields.push(format!("{:.6}", d.support_share));
                fields.push(
                    d.adoption_probability
                        .map(|p| format!("{p:.6}"))
                        .unwrap_or_default(),
                );
                fields.push(forecast_text(d));
                fields.push(d.blockers.len().to_string());
                fields.push(String::new());
            }
            Err((code, message)) => {
                fields.extend(std::iter::repeat_n(String::new(), 6));
                fields.push(csv_field(&format!("{code}: {message}")));
            }
        }
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

fn outcome_word(d: &Decision) -> &'static str {
    match Outcome::try_from(d.outcome) {
        Ok(Outcome::Adopted) => "adopted",
        Ok(Outcome::Rejected) => "rejected",
        Ok(Outcome::Pending) => "pending",
        _ => "unspecified",
    }
}

fn forecast_text(d: &Decision) -> String {
    if d.forecast_position
        .as_ref()
        .and_then(|p| p.value.as_ref())
        .is_some()
    {
        forecast::value(d.forecast_position.as_ref())
    } else {
        String::new()
    }
}

/// The sweep as data.
pub fn to_json(sweep: &SweepResult) -> Value {
    json!({
        "title": sweep.title,
        "variables": sweep.variables.iter().map(|v| json!({
            "name": v.name,
            "kind": if v.dates { "date" } else { "number" },
            "from": v.text(v.values[0]),
            "to": v.text(*v.values.last().unwrap_or(&v.values[0])),
            "points": v.values.len(),
        })).collect::<Vec<_>>(),
        "proposals": sweep.proposals,
        "policies": sweep.columns,
        "evaluations": sweep.evaluations,
        "results": sweep.rows.iter().map(|row| {
            let values: serde_json::Map<String, Value> = sweep
                .variables
                .iter()
                .zip(&row.values)
                .map(|(v, x)| (v.name.clone(), if v.dates { json!(v.text(*x)) } else { json!(x) }))
                .collect();
            match &row.result {
                Ok(d) => json!({
                    "proposal": row.proposal,
                    "policy": row.column,
                    "values": values,
                    "outcome": outcome_word(d),
                    "adopted": d.outcome == Outcome::Adopted as i32,
                    "support_share": d.support_share,
                    "adoption_probability": d.adoption_probability,
                    "forecast": if forecast_text(d).is_empty() { Value::Null } else { json!(forecast_text(d)) },
                    "blockers": d.blockers.iter().map(|b| b.trim_start_matches("members/")).collect::<Vec<_>>(),
                }),
                Err((code, message)) => json!({
                    "proposal": row.proposal,
                    "policy": row.column,
                    "values": values,
                    "error": { "code": code, "message": message },
                }),
            }
        }).collect::<Vec<_>>(),
    })
}

/// Lines summing a sweep up per proposal and column: the range of the forecast and of
/// P(adopted) over the grid.
pub fn summary(sweep: &SweepResult) -> Vec<String> {
    let mut lines = vec![format!(
        "Sensitivity: {} over {} ({} evaluations)",
        sweep
            .variables
            .iter()
            .map(|v| format!(
                "{} from {} to {}",
                v.name,
                v.text(v.values[0]),
                v.text(*v.values.last().unwrap_or(&v.values[0]))
            ))
            .collect::<Vec<_>>()
            .join(" × "),
        sweep
            .variables
            .iter()
            .map(|v| v.values.len().to_string())
            .collect::<Vec<_>>()
            .join(" × ")
            + " points",
        sweep.evaluations
    )];
    for proposal in &sweep.proposals {
        for column in &sweep.columns {
            let rows: Vec<&SweepRow> = sweep
                .rows
                .iter()
                .filter(|r| &r.proposal == proposal && &r.column == column)
                .collect();
            if rows.is_empty() {
                continue;
            }
            let adopted = rows
                .iter()
                .filter(|r| r.p_adopted().is_some_and(|p| p >= 0.5))
                .count();
            let forecasts: Vec<(f64, &SweepRow)> = rows
                .iter()
                .filter_map(|r| r.forecast().map(|f| (f, *r)))
                .collect();
            let mut line = format!(
                "  {proposal} · {column}: adopted at {adopted} of {} points",
                rows.len()
            );
            if let (Some(lo), Some(hi)) = (
                forecasts.iter().min_by(|a, b| a.0.total_cmp(&b.0)),
                forecasts.iter().max_by(|a, b| a.0.total_cmp(&b.0)),
            ) {
                line.push_str(&format!(
                    "; forecast from {} to {}",
                    forecast_text(lo.1.result.as_ref().expect("has a forecast")),
                    forecast_text(hi.1.result.as_ref().expect("has a forecast"))
                ));
            }
            let errors = rows.iter().filter(|r| r.result.is_err()).count();
            if errors > 0 {
                line.push_str(&format!("; {errors} errors"));
            }
            lines.push(line);
        }
    }
    lines
}
