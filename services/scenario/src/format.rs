//! The scenario file format (TOML), and its validation with line-precise errors.
//!
//! A scenario puts one or more proposals to the alliance, says how every member stands on each
//! (choice, optional preferred value and salience, reason — each with its source), and lists the
//! policies to compare. The format is documented in `docs/scenarios.md`; the seed scenario is
//! `scenarios/factory-settings-2026.toml`.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::Deserialize;
use serde_spanned::Spanned;
use toml::value::Datetime;

use crate::electorate::{self, ElectorateSpec};

/// A scenario file as written, with the byte spans of the values checked after parsing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Title, description, sources and seed.
    pub scenario: Meta,
    /// The policies to compare: one column (row) of the report each.
    pub policies: Vec<PolicyColumn>,
    /// Pressure settings for every `pressure` column (a proposal's own settings override them).
    #[serde(default)]
    pub pressure: BTreeMap<String, Spanned<ParameterValue>>,
    /// The proposals, in the order they are reported.
    pub proposals: Vec<ProposalSpec>,
    /// A sensitivity sweep (`accord scenario sweep`): what to vary and which columns to
    /// evaluate. See [`crate::sweep`].
    pub sweep: Option<SweepSpec>,
    /// Another council than the NATO dataset's allies: its members and weights (the runner
    /// then decides among them; see `docs/scenarios.md`).
    pub electorate: Option<Spanned<ElectorateSpec>>,
}

/// `[sweep]`: the default sensitivity sweep of the scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// The policy columns (labels) to evaluate; default: every column.
    #[serde(default)]
    pub policies: Vec<Spanned<String>>,
    /// The variables, each over a grid; the sweep evaluates their product.
    #[serde(default)]
    pub vary: Vec<VarySpec>,
}

/// `[[sweep.vary]]`: one variable of a sweep, from `from` to `to` in steps of `step`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VarySpec {
    /// What varies: `POLICY.PARAMETER` (`pressure.pressure`), `CODE.salience`,
    /// `CODE.position`, `@TAG.salience` or `@TAG.position` (every member of the stances
    /// tagged TAG); optionally prefixed `PROPOSAL:` to vary it on one proposal only.
    pub name: Spanned<String>,
    /// First value (a number, or a date for a position on dates).
    pub from: Spanned<PositionValue>,
    /// Last value (included when the steps land on it).
    pub to: Spanned<PositionValue>,
    /// Step, > 0 (in days for dates).
    pub step: Spanned<f64>,
}

/// `[scenario]`: what the scenario is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// Title.
    pub title: String,
    /// What the scenario is about.
    #[serde(default)]
    pub description: String,
    /// Where its facts and assumptions come from.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Seed for policies that use randomness (default 2026).
    pub seed: Option<u64>,
}

/// `[[policies]]`: one policy, with its parameters, to decide every proposal under.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyColumn {
    /// How the report names this column, e.g. "Consensus (silence procedure)".
    pub label: Spanned<String>,
    /// The policy id, e.g. "unanimity".
    pub policy: Spanned<String>,
    /// Overrides every proposal's procedure for this column: "open" or "silence".
    pub procedure: Option<Spanned<String>>,
    /// Parameters, by name; numbers and booleans may be written bare.
    #[serde(default)]
    pub parameters: BTreeMap<String, Spanned<ParameterValue>>,
    /// Only these proposals (ids) get this column; default: every proposal. For policies
    /// that need a quantity (a bargaining forecast, positions under pressure).
    #[serde(default)]
    pub proposals: Option<Spanned<Vec<Spanned<String>>>>,
    /// Also ask the server what could pass under this column (the zone of agreement):
    /// `"unanimity"` or `"qualified_majority"` (quota from `zone_quota`).
    pub zone: Option<Spanned<String>>,
    /// Quota of a `qualified_majority` zone (default 0.55, or a weighted column's quota).
    pub zone_quota: Option<Spanned<f64>>,
}

/// A parameter value as written: text, a number or a boolean (sent to the policy as text).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ParameterValue {
    /// `true` / `false`.
    Boolean(bool),
    /// A whole number.
    Integer(i64),
    /// A number.
    Float(f64),
    /// Text.
    Text(String),
    /// Per-member numbers, `{ DEU = 0.2, FRA = 0.1 }`.
    Table(BTreeMap<String, f64>),
}

impl ParameterValue {
    /// The value as the text a policy parses.
    pub fn to_text(&self) -> String {
        match self {
            Self::Boolean(b) => b.to_string(),
            Self::Integer(i) => i.to_string(),
            Self::Float(f) => f.to_string(),
            Self::Text(t) => t.clone(),
            Self::Table(map) => map
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// `[[proposals]]`: one question put to the alliance.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalSpec {
    /// A short id used in reports and file names, e.g. "end-nmi".
    pub id: Spanned<String>,
    /// Title.
    pub title: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// The sponsoring member's code, e.g. "USA".
    pub sponsor: Spanned<String>,
    /// "open" (default) or "silence".
    pub procedure: Option<Spanned<String>>,
    /// The proposal's deadline (an offset date-time); the decisions are taken as at the
    /// deadline, when every ballot is in. Default: one day from now.
    pub deadline: Option<Spanned<Datetime>>,
    /// What the alliance would do.
    pub action: Spanned<ActionSpec>,
    /// The choice of every member not named in a stance: "support", "object", "abstain" or
    /// "none" (casts no ballot; the default).
    pub default_choice: Option<Spanned<String>>,
    /// Pressure settings for this proposal (override the scenario's).
    #[serde(default)]
    pub pressure: BTreeMap<String, Spanned<ParameterValue>>,
    /// Where the proposal comes from.
    #[serde(default)]
    pub source: String,
    /// How members stand.
    #[serde(default)]
    pub stances: Vec<StanceSpec>,
}

/// What a proposal would do.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionSpec {
    /// End an active mission on a date.
    EndMission {
        /// Mission id, e.g. "NMI".
        mission: String,
        /// End date.
        end_date: Datetime,
    },
    /// Change an active mission's personnel ceiling.
    ResizeMission {
        /// Mission id.
        mission: String,
        /// New ceiling.
        ceiling: i64,
    },
    /// Move a mission's end date.
    ExtendMission {
        /// Mission id.
        mission: String,
        /// New end date.
        end_date: Datetime,
    },
    /// Launch a new mission.
    LaunchMission {
        /// New mission id.
        mission: String,
        /// Full name.
        name: String,
        /// Where.
        #[serde(default)]
        location: String,
        /// Personnel ceiling.
        #[serde(default)]
        ceiling: i64,
        /// Inside the treaty area.
        #[serde(default)]
        in_area: bool,
        /// Mandate.
        #[serde(default)]
        mandate: String,
    },
    /// Set partners' participation in a summit.
    SummitParticipation {
        /// Partner codes, e.g. ["UKR", "AUS"].
        partners: Vec<String>,
        /// "full", "restricted" or "none".
        participation: String,
        /// The summit, e.g. "Ankara 2026".
        #[serde(default)]
        summit: String,
    },
    /// Any other motion.
    Motion {
        /// Its text.
        text: String,
        /// What it is about.
        #[serde(default)]
        target: String,
    },
}

/// `[[proposals.stances]]`: how one or more members stand on the proposal.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StanceSpec {
    /// The members (codes) this stance applies to.
    pub members: Spanned<Vec<Spanned<String>>>,
    /// "support", "object" or "abstain".
    pub choice: Spanned<String>,
    /// Preferred value: a date (end and extend proposals) or a number (resize and launch).
    pub position: Option<Spanned<PositionValue>>,
    /// How much the issue matters, 0 to 1.
    pub salience: Option<Spanned<f64>>,
    /// Why, in words.
    #[serde(default)]
    pub reason: String,
    /// Where this stance comes from, or "assumption: …".
    #[serde(default)]
    pub source: String,
    /// The values these members would accept, `[low, high]` (dates or numbers, like
    /// `position`); used by the zone of agreement. Unset: derived from position and salience.
    pub acceptable: Option<Spanned<Vec<PositionValue>>>,
    /// A name for this group of members, so that a sweep can vary it (`@TAG.position`).
    pub tag: Option<Spanned<String>>,
}

/// A preferred value as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum PositionValue {
    /// A date.
    Date(Datetime),
    /// A whole number.
    Integer(i64),
    /// A number.
    Float(f64),
}

pub use crate::location::{Locator, Problem, Problems};

/// Member codes: 1 to 16 upper-case letters, digits, `-` or `_`, starting with a letter (the
/// server's rule, `accord_server::alliance::is_member_code`).
pub fn is_member_code(code: &str) -> bool {
    accord_server::alliance::is_member_code(code)
}

/// Partner codes are three upper-case letters (ISO 3166-1 alpha-3).
pub fn is_partner_code(code: &str) -> bool {
    code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase())
}

const CHOICES: [&str; 3] = ["support", "object", "abstain"];

/// Reads and checks a scenario file; on failure, every problem with its line and column.
/// (The `[sweep]` section is checked by [`crate::load`], which also runs [`crate::sweep::check`].)
pub fn load(path: &Path) -> Result<(ScenarioFile, Locator), Problems> {
    let text = read_text(path)?;
    parse(path, &text)
}

/// The text of the file at `path`, or the problem of reading it.
pub fn read_text(path: &Path) -> Result<String, Problems> {
    std::fs::read_to_string(path).map_err(|e| {
        Problems(vec![Problem {
            path: path.to_path_buf(),
            line: 0,
            column: 0,
            message: format!("cannot read the file: {e}"),
        }])
    })
}

/// Parses and checks scenario `text` (named `path` in messages).
pub fn parse(path: &Path, text: &str) -> Result<(ScenarioFile, Locator), Problems> {
    let (file, locator, problems) = read(path, text)?;
    if problems.is_empty() {
        Ok((file, locator))
    } else {
        Err(Problems(problems))
    }
}

/// Parses `text`: a TOML error fails at once; otherwise the file, its locator and the problems
/// found in it (possibly none), for callers that add checks of their own.
pub fn read(path: &Path, text: &str) -> Result<(ScenarioFile, Locator, Vec<Problem>), Problems> {
    let locator = Locator::new(path, text);
    let mut file: ScenarioFile = toml::from_str(text).map_err(|e| {
        let offset = e.span().map(|s| s.start).unwrap_or(0);
        Problems(vec![
            locator.problem(offset, e.message().trim().to_string()),
        ])
    })?;
    let mut problems = check(&file, &locator);
    if let Some(spec) = file.electorate.as_mut() {
        match electorate::resolve(spec.get_ref(), &locator) {
            Ok(resolved) => spec.get_mut().resolved = Some(resolved),
            Err(p) => problems.extend(p),
        }
    }
    Ok((file, locator, problems))
}

/// A position or range value as one number (days since 1970-01-01 for a date).
pub fn scalar(value: &PositionValue) -> f64 {
    match value {
        PositionValue::Date(d) => d
            .date
            .map(|d| {
                crate::forecast::days_from_civil(
                    i64::from(d.year),
                    u32::from(d.month),
                    u32::from(d.day),
                ) as f64
            })
            .unwrap_or(0.0),
        PositionValue::Integer(n) => *n as f64,
        PositionValue::Float(f) => *f,
    }
}

fn date_only(value: &Datetime) -> bool {
    value.date.is_some() && value.time.is_none() && value.offset.is_none()
}

fn check(file: &ScenarioFile, at: &Locator) -> Vec<Problem> {
    let mut problems = Vec::new();
    if file.policies.is_empty() {
        problems.push(at.problem(
            0,
            "the scenario lists no policies to compare ([[policies]])",
        ));
    }
    if file.proposals.is_empty() {
        problems.push(at.problem(0, "the scenario has no proposals ([[proposals]])"));
    }
    let procedure_ok = |p: &Spanned<String>, problems: &mut Vec<Problem>| {
        if !["open", "silence"].contains(&p.get_ref().as_str()) {
            problems.push(at.at(
                p,
                format!("procedure `{}` is not `open` or `silence`", p.get_ref()),
            ));
        }
    };
    let mut labels = HashSet::new();
    for column in &file.policies {
        if !labels.insert(column.label.get_ref().clone()) {
            problems.push(at.at(
                &column.label,
                format!("policy label `{}` is used twice", column.label.get_ref()),
            ));
        }
        if !accord_proto_policy_id(column.policy.get_ref()) {
            problems.push(at.at(
                &column.policy,
                format!(
                    "`{}` is not a policy id (lower-case letters, digits, hyphens)",
                    column.policy.get_ref()
                ),
            ));
        }
        if let Some(p) = &column.procedure {
            procedure_ok(p, &mut problems);
        }
    }
    let mut ids = HashSet::new();
    for proposal in &file.proposals {
        let id = proposal.id.get_ref();
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            problems.push(at.at(
                &proposal.id,
                format!(
                    "proposal id `{id}` must be letters, digits, `-` or `_` (it names output files)"
                ),
            ));
        } else if !ids.insert(id.clone()) {
            problems.push(at.at(&proposal.id, format!("proposal id `{id}` is used twice")));
        }
        if !is_member_code(proposal.sponsor.get_ref()) {
            problems.push(at.at(
                &proposal.sponsor,
                format!(
                    "sponsor `{}` is not a member code like `USA`",
                    proposal.sponsor.get_ref()
                ),
            ));
        }
        if let Some(p) = &proposal.procedure {
            procedure_ok(p, &mut problems);
        }
        if let Some(d) = &proposal.deadline {
            if d.get_ref().date.is_none()
                || d.get_ref().time.is_none()
                || d.get_ref().offset.is_none()
            {
                problems.push(at.at(
                    d,
                    "the deadline must be a date-time with an offset, like 2026-07-07T09:00:00Z",
                ));
            }
        }
        let wants = match proposal.action.get_ref() {
            ActionSpec::EndMission { end_date, .. }
            | ActionSpec::ExtendMission { end_date, .. } => {
                if !date_only(end_date) {
                    problems.push(at.at(
                        &proposal.action,
                        format!("end_date `{end_date}` must be a date like 2026-09-30"),
                    ));
                }
                Some("date")
            }
            ActionSpec::ResizeMission { ceiling, .. } => {
                if *ceiling < 0 {
                    problems
                        .push(at.at(&proposal.action, format!("ceiling {ceiling} is negative")));
                }
                Some("number")
            }
            ActionSpec::LaunchMission { ceiling, .. } => {
                if *ceiling < 0 {
                    problems
                        .push(at.at(&proposal.action, format!("ceiling {ceiling} is negative")));
                }
                Some("number")
            }
            ActionSpec::SummitParticipation {
                partners,
                participation,
                ..
            } => {
                if partners.is_empty() {
                    problems.push(at.at(&proposal.action, "name at least one partner"));
                }
                for partner in partners {
                    if !is_partner_code(partner) {
                        problems.push(at.at(
                            &proposal.action,
                            format!("partner `{partner}` is not a code like `UKR`"),
                        ));
                    }
                }
                if !["full", "restricted", "none"].contains(&participation.as_str()) {
                    problems.push(at.at(
                        &proposal.action,
                        format!(
                            "participation `{participation}` is not `full`, `restricted` or `none`"
                        ),
                    ));
                }
                None
            }
            ActionSpec::Motion { text, .. } => {
                if text.trim().is_empty() {
                    problems.push(at.at(&proposal.action, "a motion needs a text"));
                }
                None
            }
        };
        if let Some(choice) = &proposal.default_choice {
            if !CHOICES.contains(&choice.get_ref().as_str()) && choice.get_ref() != "none" {
                problems.push(at.at(
                    choice,
                    format!(
                        "default_choice `{}` is not support, object, abstain or none",
                        choice.get_ref()
                    ),
                ));
            }
        }
        let mut seen = HashSet::new();
        for stance in &proposal.stances {
            if stance.members.get_ref().is_empty() {
                problems.push(at.at(&stance.members, "a stance needs at least one member"));
            }
            for member in stance.members.get_ref() {
                if !is_member_code(member.get_ref()) {
                    problems.push(at.at(
                        member,
                        format!("`{}` is not a member code like `DEU`", member.get_ref()),
                    ));
                } else if !seen.insert(member.get_ref().clone()) {
                    problems.push(at.at(
                        member,
                        format!(
                            "{} already has a stance on proposal `{id}`",
                            member.get_ref()
                        ),
                    ));
                }
            }
            if !CHOICES.contains(&stance.choice.get_ref().as_str()) {
                problems.push(at.at(
                    &stance.choice,
                    format!(
                        "choice `{}` is not support, object or abstain",
                        stance.choice.get_ref()
                    ),
                ));
            }
            if let Some(s) = &stance.salience {
                if !(0.0..=1.0).contains(s.get_ref()) {
                    problems.push(at.at(s, format!("salience {} is outside 0 to 1", s.get_ref())));
                }
            }
            if let Some(position) = &stance.position {
                match (wants, position.get_ref()) {
                    (Some("date"), PositionValue::Date(d)) if date_only(d) => {}
                    (Some("date"), _) => problems.push(at.at(
                        position,
                        "this proposal's position is a date like 2027-09-30",
                    )),
                    (Some("number"), PositionValue::Integer(n)) if *n >= 0 => {}
                    (Some("number"), PositionValue::Float(n)) if *n >= 0.0 && n.is_finite() => {}
                    (Some("number"), _) => problems.push(at.at(
                        position,
                        "this proposal's position is a troop number (zero or more)",
                    )),
                    (_, _) => {
                        problems.push(at.at(position, "this kind of proposal takes no position"))
                    }
                }
            }
        }
    }
    let ids: HashSet<&str> = file
        .proposals
        .iter()
        .map(|p| p.id.get_ref().as_str())
        .collect();
    for column in &file.policies {
        if let Some(list) = &column.proposals {
            if list.get_ref().is_empty() {
                problems.push(at.at(list, "name at least one proposal, or leave `proposals` out"));
            }
            for id in list.get_ref() {
                if !ids.contains(id.get_ref().as_str()) {
                    problems.push(at.at(id, format!("no proposal has the id `{}`", id.get_ref())));
                }
            }
        }
        if let Some(zone) = &column.zone {
            if !["unanimity", "qualified_majority"].contains(&zone.get_ref().as_str()) {
                problems.push(at.at(
                    zone,
                    format!(
                        "zone `{}` is not `unanimity` or `qualified_majority`",
                        zone.get_ref()
                    ),
                ));
            }
        }
        if let Some(q) = &column.zone_quota {
            if !(*q.get_ref() > 0.0 && *q.get_ref() <= 1.0) {
                problems.push(at.at(q, format!("zone_quota {} is outside (0, 1]", q.get_ref())));
            }
        }
    }
    for proposal in &file.proposals {
        for stance in &proposal.stances {
            if let Some(range) = &stance.acceptable {
                let values = range.get_ref();
                let kind_ok = |v: &PositionValue| match (&proposal.action.get_ref(), v) {
                    (
                        ActionSpec::EndMission { .. } | ActionSpec::ExtendMission { .. },
                        PositionValue::Date(d),
                    ) => date_only(d),
                    (
                        ActionSpec::ResizeMission { .. } | ActionSpec::LaunchMission { .. },
                        PositionValue::Integer(n),
                    ) => *n >= 0,
                    (
                        ActionSpec::ResizeMission { .. } | ActionSpec::LaunchMission { .. },
                        PositionValue::Float(n),
                    ) => *n >= 0.0 && n.is_finite(),
                    _ => false,
                };
                if values.len() != 2 {
                    problems.push(at.at(range, "acceptable is [low, high]: two values"));
                } else if !values.iter().all(kind_ok) {
                    problems.push(at.at(
                        range,
                        "acceptable takes two values of the proposal's quantity: dates for end and extend proposals, troop numbers for resize and launch",
                    ));
                } else if scalar(&values[0]) > scalar(&values[1]) {
                    problems.push(at.at(range, "acceptable: low is above high"));
                }
            }
            if let Some(tag) = &stance.tag {
                if tag.get_ref().is_empty()
                    || !tag
                        .get_ref()
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    problems.push(at.at(
                        tag,
                        format!(
                            "tag `{}` must be letters, digits, `-` or `_`",
                            tag.get_ref()
                        ),
                    ));
                }
            }
        }
    }
    problems.sort_by_key(|p| (p.line, p.column));
    problems
}

/// True when `value` is a date without a time.
pub fn is_plain_date(value: &Datetime) -> bool {
    date_only(value)
}

impl ScenarioFile {
    /// The scenario's own electorate, when it defines one (checked by [`parse`]).
    pub fn electorate(&self) -> Option<&crate::electorate::Electorate> {
        self.electorate
            .as_ref()
            .and_then(|e| e.get_ref().resolved.as_ref())
    }
}

fn accord_proto_policy_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}
