//! The `bargaining` policy: forecasts the value the allies settle on for the proposal's quantity
//! (an end date or an amount), and decides the proposal *as tabled* from that forecast.
//!
//! Guarantee: the forecast lies within the range of the members' stated positions, is the same
//! for every seed (the models have no randomness), and every forecast is reported next to the
//! compromise baseline (the capability × salience weighted mean) and the weighted median.
//!
//! The models are in [`model`], free of protocol types, with their formulas; this module reads a
//! [`DecisionRequest`] into actors, runs the models, applies the documented decision rule and
//! writes the [`Decision`]. It is a scenario tool: see docs/policies.md ("bargaining").
//!
//! Reading of the request:
//! - the electorate is the active members, each with its last ballot;
//! - an *actor* is an eligible member whose ballot carries a position; all positions, and the
//!   tabled value, must be of one kind (dates or amounts);
//! - an actor's salience is its ballot's, or `default_salience`; its capability comes from the
//!   `capability` parameter (an attribute, equal, or a per-member list).
//!
//! The decision rule. With `F` the chosen forecast, `T` the tabled value, `Δ₀` the range of the
//! initial positions and `d_i = tolerance · (1 − s_i) · Δ₀` actor `i`'s slack, actor `i` *blocks*
//! when the tabled value is worse for it than the forecast by more than its slack:
//! `|T − x_i| − |F − x_i| > d_i`. (For an actor on the far side of `F` from `T` this reads
//! `|T − F| > d_i`: the tabled value must lie within its acceptable distance of the forecast.)
//! A member with a ballot but no position counts by its choice (an objection blocks); a member
//! without a ballot acquiesces, or blocks under `missing = block`. Adopted iff nobody blocks.
//! Without a tabled value, or without any position, every member counts by its choice.
#![forbid(unsafe_code)]

pub mod model;

use std::collections::BTreeMap;

use accord_policy_sdk::proto::{
    Choice, Decision, MemberResult, Outcome, ParameterSpec, ParameterType, PolicyDescriptor,
};
use accord_policy_sdk::quantity::{self, Quantity, QuantityKind};
use accord_policy_sdk::request::{Electorate, Parameters, deadline_passed, member_name};
use accord_policy_sdk::{DecisionPolicy, PolicyError, Request};

use model::{Actor, EuForecast, Risk, Settings};

/// Most rounds of challenges one request may ask for.
pub const MAX_ROUNDS: i64 = 1000;
/// Most actors (members with a position): the rounds cost O(n³) each.
pub const MAX_ACTORS: usize = 200;

/// The bargaining-forecast policy.
#[derive(Debug, Default)]
pub struct Bargaining;

accord_policy_sdk::export_policy!(Bargaining);

fn param(name: &str, kind: ParameterType, default: &str, doc: &str) -> ParameterSpec {
    ParameterSpec {
        name: name.to_string(),
        r#type: kind as i32,
        default_value: default.to_string(),
        doc: doc.to_string(),
        choices: Vec::new(),
    }
}

fn choice_param(name: &str, default: &str, choices: &[&str], doc: &str) -> ParameterSpec {
    ParameterSpec {
        choices: choices.iter().map(|c| c.to_string()).collect(),
        ..param(name, ParameterType::Choice, default, doc)
    }
}

/// Which forecast decides the proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Forecaster {
    ExpectedUtility,
    Mean,
    Median,
}

impl Forecaster {
    fn label(self) -> &'static str {
        match self {
            Forecaster::ExpectedUtility => "expected-utility",
            Forecaster::Mean => "compromise mean",
            Forecaster::Median => "weighted median",
        }
    }
}

/// Where a member's capability comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Basis {
    Attribute(&'static str, &'static str),
    Equal,
    List,
}

struct Config {
    forecaster: Forecaster,
    basis: Basis,
    list: BTreeMap<String, f64>,
    default_salience: f64,
    tolerance: f64,
    missing_blocks: bool,
    settings: Settings,
}

impl Config {
    fn read(params: &Parameters) -> Result<Self, PolicyError> {
        let forecaster = match params.choice("forecast") {
            "mean" => Forecaster::Mean,
            "median" => Forecaster::Median,
            _ => Forecaster::ExpectedUtility,
        };
        let basis = match params.choice("capability") {
            "gdp" => Basis::Attribute("gdp_usd_bn", "GDP (US$ bn)"),
            "population" => Basis::Attribute("population_mn", "population (millions)"),
            "equal" => Basis::Equal,
            "list" => Basis::List,
            _ => Basis::Attribute("defence_expenditure_usd_mn", "defence spending (US$ mn)"),
        };
        let list = params.member_numbers("capabilities").clone();
        if let Some((code, v)) = list.iter().find(|(_, v)| **v < 0.0) {
            return Err(PolicyError::parameter(
                "capabilities",
                format!("{code}={v} is negative"),
            ));
        }
        let rounds = params.integer("rounds");
        if !(0..=MAX_ROUNDS).contains(&rounds) {
            return Err(PolicyError::parameter(
                "rounds",
                format!("{rounds} is outside [0, {MAX_ROUNDS}]"),
            ));
        }
        Ok(Config {
            forecaster,
            basis,
            list,
            default_salience: params.number_in("default_salience", 0.0, 1.0)?,
            tolerance: params.number_in("tolerance", 0.0, 1.0)?,
            missing_blocks: params.choice("missing") == "block",
            settings: Settings {
                rounds: rounds as u32,
                status_quo: params.number_in("status_quo_probability", 0.0, 1.0)?,
                improvement: params.number_in("improvement_probability", 0.0, 1.0)?,
                risk: if params.choice("risk") == "neutral" {
                    Risk::Neutral
                } else {
                    Risk::Computed
                },
            },
        })
    }
}

/// How the policy counts a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Count {
    Supports,
    Acquiesces,
    Blocks,
}

/// The forecasts made from the actors.
struct Forecasts {
    mean: f64,
    median: f64,
    eu: EuForecast,
    chosen: f64,
}

fn names(codes: &[&str]) -> String {
    codes.join(", ")
}

impl DecisionPolicy for Bargaining {
    fn descriptor(&self) -> PolicyDescriptor {
        use ParameterType::{Integer, MemberNumbers, Number};
        PolicyDescriptor {
            id: "bargaining".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            summary: "Forecasts the value the allies settle on (compromise mean, weighted median, \
                      Bueno de Mesquita's expected-utility rounds) and adopts the proposal as \
                      tabled only if it lies within every member's acceptable distance of the \
                      forecast (a scenario tool, not a validated model)."
                .to_string(),
            parameters: vec![
                choice_param(
                    "forecast",
                    "expected_utility",
                    &["expected_utility", "mean", "median"],
                    "The forecast that decides: `expected_utility` (Bueno de Mesquita's rounds \
                     of challenges, Scholz et al. 2011), `mean` (capability × salience weighted \
                     mean, the compromise baseline) or `median` (weighted median, Black). All \
                     three are always reported.",
                ),
                choice_param(
                    "capability",
                    "defence_spending",
                    &["defence_spending", "gdp", "population", "equal", "list"],
                    "A member's capability: attribute `defence_expenditure_usd_mn` (US$ million), \
                     `gdp_usd_bn` (US$ billion), `population_mn` (million people), 1 each \
                     (`equal`), or `list` (every member with a position must be in \
                     `capabilities`). A missing attribute counts as 0. Only ratios matter.",
                ),
                param(
                    "capabilities",
                    MemberNumbers,
                    "",
                    "Per-member capabilities (≥ 0, any unit, only ratios matter), e.g. \
                     `DEU=1.5,USA=10`: the whole list under `capability = list`, overrides of \
                     the chosen attribute otherwise.",
                ),
                param(
                    "default_salience",
                    Number,
                    "0.5",
                    "Salience, 0 to 1, of a member whose ballot gives a position but no salience.",
                ),
                param(
                    "rounds",
                    Integer,
                    "10",
                    "Most rounds of challenges in the expected-utility model, 0 to 1000 (0: the \
                     forecast is the compromise mean). Rounds stop early when nobody moves.",
                ),
                choice_param(
                    "risk",
                    "computed",
                    &["computed", "neutral"],
                    "Risk attitudes in the expected-utility model: `computed` from each \
                     member's exposure to challenges (r from 1/2 to 2), or `neutral` (r = 1).",
                ),
                param(
                    "status_quo_probability",
                    Number,
                    "1",
                    "Q, 0 to 1: probability that the status quo holds when a member does not \
                     challenge (expected-utility model).",
                ),
                param(
                    "improvement_probability",
                    Number,
                    "1",
                    "T, 0 to 1: probability that a change of the status quo is an improvement \
                     for the member (used only when Q < 1).",
                ),
                param(
                    "tolerance",
                    Number,
                    "0.1",
                    "Acceptable distance, as a share (0 to 1) of the range of the initial \
                     positions, of a member of salience 0; a member of salience s accepts \
                     tolerance × (1 − s) × range.",
                ),
                choice_param(
                    "missing",
                    "acquiesce",
                    &["acquiesce", "block"],
                    "How a member without a ballot counts: `acquiesce` (does not stand in the \
                     way) or `block`.",
                ),
            ],
        }
    }

    fn decide(&self, request: &Request<'_>) -> Result<Decision, PolicyError> {
        let params = Parameters::resolve(&self.descriptor(), &request.parameters)?;
        let config = Config::read(&params)?;
        let electorate = Electorate::new(request)?;
        if electorate.is_empty() {
            return Err(PolicyError::InvalidRequest(
                "no eligible member in the request".into(),
            ));
        }
        // A set of the codes, so that a long list stays linear in the number of members.
        let known: std::collections::HashSet<&str> = if config.list.is_empty() {
            std::collections::HashSet::new()
        } else {
            request.members().iter().map(|m| m.code.as_str()).collect()
        };
        for code in config.list.keys() {
            if !known.contains(code.as_str()) {
                return Err(PolicyError::parameter(
                    "capabilities",
                    format!("the request has no member {code}"),
                ));
            }
        }
        let voters = electorate.members();
        let codes: Vec<&str> = voters.iter().map(|v| v.code).collect();

        // The tabled value and the positions, all of one kind.
        let tabled = match &request.proposal {
            Some(p) => quantity::tabled(p)?,
            None => None,
        };
        let mut kind = tabled.map(|q| q.kind);
        let mut positions: Vec<Option<f64>> = Vec::with_capacity(voters.len());
        for v in voters {
            let q = match v.ballot.and_then(|b| b.position.as_ref()) {
                Some(p) => quantity::position(p, &format!("the position of {}", v.code))?,
                None => None,
            };
            if let Some(Quantity { kind: k, value }) = q {
                match kind {
                    Some(expected) if expected != k => {
                        return Err(PolicyError::InvalidRequest(format!(
                            "the position of {} is {} {}, but the proposal's quantity is {} {}",
                            v.code,
                            article(k),
                            k.label(),
                            article(expected),
                            expected.label()
                        )));
                    }
                    _ => kind = Some(k),
                }
                positions.push(Some(value));
            } else {
                positions.push(None);
            }
        }

        // Actors: members with a position.
        let mut actor_index: Vec<Option<usize>> = vec![None; voters.len()];
        let mut actors = Vec::new();
        let mut missing_attribute = Vec::new();
        for (m, v) in voters.iter().enumerate() {
            let Some(x) = positions[m] else { continue };
            let salience = match v.salience() {
                Some(s) if s.is_finite() && (0.0..=1.0).contains(&s) => s,
                Some(s) => {
                    return Err(PolicyError::InvalidRequest(format!(
                        "the ballot of {} has salience {s}, outside [0, 1]",
                        v.code
                    )));
                }
                None => config.default_salience,
            };
            let capability = match (config.list.get(v.code), config.basis) {
                (Some(c), _) => *c,
                (None, Basis::List) => {
                    return Err(PolicyError::parameter(
                        "capabilities",
                        format!(
                            "capability = list, but {} (which has a position) is not listed",
                            v.code
                        ),
                    ));
                }
                (None, Basis::Equal) => 1.0,
                (None, Basis::Attribute(key, _)) => match v.attribute(key) {
                    Some(c) if c.is_finite() && c >= 0.0 => c,
                    Some(c) => {
                        return Err(PolicyError::InvalidRequest(format!(
                            "member {} has {key} = {c}, not a finite number ≥ 0",
                            v.code
                        )));
                    }
                    None => {
                        missing_attribute.push(v.code);
                        0.0
                    }
                },
            };
            actor_index[m] = Some(actors.len());
            actors.push(Actor {
                position: x,
                capability,
                salience,
            });
        }
        if actors.len() > MAX_ACTORS {
            return Err(PolicyError::InvalidRequest(format!(
                "{} members have a position; the policy takes at most {MAX_ACTORS}",
                actors.len()
            )));
        }

        let forecasts = if actors.is_empty() {
            None
        } else {
            model::validate(&actors).map_err(|e| PolicyError::InvalidRequest(e.to_string()))?;
            let eu = model::expected_utility(&actors, &config.settings)
                .map_err(|e| PolicyError::Failed(e.to_string()))?;
            let mean = model::weighted_mean(&actors);
            let median = model::weighted_median(&actors);
            let chosen = match config.forecaster {
                Forecaster::ExpectedUtility => eu.mean,
                Forecaster::Mean => mean,
                Forecaster::Median => median,
            };
            Some(Forecasts {
                mean,
                median,
                eu,
                chosen,
            })
        };

        let (lo, hi) = actors
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), a| {
                (l.min(a.position), h.max(a.position))
            });
        let span = if actors.is_empty() { 0.0 } else { hi - lo };
        let judged = forecasts.as_ref().zip(tabled);

        // Count every member.
        let mut counts = Vec::with_capacity(voters.len());
        let mut excess = vec![0.0f64; voters.len()];
        let mut slack = vec![None; voters.len()];
        for (m, v) in voters.iter().enumerate() {
            let by_choice = match v.choice() {
                Choice::Support => Count::Supports,
                Choice::Abstain => Count::Acquiesces,
                Choice::Object => Count::Blocks,
                Choice::Unspecified if config.missing_blocks => Count::Blocks,
                Choice::Unspecified => Count::Acquiesces,
            };
            let count = match (actor_index[m], judged) {
                (Some(a), Some((f, t))) => {
                    let actor = &actors[a];
                    let d = config.tolerance * (1.0 - actor.salience) * span;
                    slack[m] = Some(d);
                    let worse =
                        (t.value - actor.position).abs() - (f.chosen - actor.position).abs();
                    // A hair of tolerance against rounding (dates are whole days).
                    let eps = 1e-9 * (1.0 + span.abs() + t.value.abs());
                    excess[m] = worse - d;
                    if worse > d + eps {
                        Count::Blocks
                    } else if v.choice() == Choice::Abstain {
                        Count::Acquiesces
                    } else {
                        Count::Supports
                    }
                }
                _ => by_choice,
            };
            counts.push(count);
        }
        let blocking: Vec<usize> = (0..voters.len())
            .filter(|&m| counts[m] == Count::Blocks)
            .collect();
        let supporters = counts.iter().filter(|c| **c == Count::Supports).count();
        let outcome = if blocking.is_empty() {
            Outcome::Adopted
        } else {
            Outcome::Rejected
        };
        let mut holdouts = blocking.clone();
        holdouts.sort_by(|&a, &b| excess[b].total_cmp(&excess[a]).then(a.cmp(&b)));

        // Member results.
        let total_capability: f64 = actors.iter().map(|a| a.capability).sum();
        let member_results = voters
            .iter()
            .enumerate()
            .map(|(m, v)| {
                let mut metrics = BTreeMap::new();
                if let Some(a) = actor_index[m] {
                    let actor = &actors[a];
                    metrics.insert("position".to_string(), actor.position);
                    metrics.insert("capability".to_string(), actor.capability);
                    if total_capability > 0.0 {
                        metrics.insert(
                            "capability_share".to_string(),
                            actor.capability / total_capability,
                        );
                    }
                    metrics.insert("salience".to_string(), actor.salience);
                    if let Some(f) = &forecasts {
                        metrics.insert("eu_position".to_string(), f.eu.positions[a]);
                        if let Some(r) = f.eu.rounds.first() {
                            metrics.insert("risk_exponent".to_string(), r.risk[a]);
                        }
                    }
                    if let Some(d) = slack[m] {
                        metrics.insert("acceptable_distance".to_string(), d);
                        metrics.insert("excess_distance".to_string(), excess[m]);
                    }
                }
                MemberResult {
                    member: member_name(v.code),
                    cast_choice: v.choice() as i32,
                    counted_choice: match counts[m] {
                        Count::Supports => Choice::Support,
                        Count::Acquiesces => Choice::Abstain,
                        Count::Blocks => Choice::Object,
                    } as i32,
                    weight: actor_index[m].map_or(0.0, |a| actors[a].weight()),
                    blocker: counts[m] == Count::Blocks,
                    pivotal: blocking.len() == 1 && blocking[0] == m,
                    metrics,
                }
            })
            .collect();

        // Explanation.
        let kind = kind.unwrap_or(QuantityKind::Amount);
        let fmt = |v: f64| quantity::format_value(kind, v);
        let mut lines = Vec::new();
        let with_position: Vec<&str> = (0..voters.len())
            .filter(|&m| actor_index[m].is_some())
            .map(|m| codes[m])
            .collect();
        lines.push(format!(
            "Bargaining forecast (a scenario tool, not a validated model): {} of {} eligible \
             members state a position on the proposal's {}{}.",
            with_position.len(),
            voters.len(),
            kind.label(),
            match tabled {
                Some(t) => format!(", tabled at {}", fmt(t.value)),
                None => ", which tables no value".to_string(),
            }
        ));
        let basis_text = match config.basis {
            Basis::Attribute(_, label) => label.to_string(),
            Basis::Equal => "equal (1 each)".to_string(),
            Basis::List => "the `capabilities` list".to_string(),
        };
        let overrides = if config.list.is_empty() || config.basis == Basis::List {
            String::new()
        } else {
            format!(
                ", overridden for {}",
                config.list.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        };
        if let Some(f) = &forecasts {
            lines.push(format!(
                "Capability: {basis_text}{overrides}; weight = capability × salience.{}",
                if missing_attribute.is_empty() {
                    String::new()
                } else {
                    format!(
                        " No such attribute for {}: capability 0.",
                        names(&missing_attribute)
                    )
                }
            ));
            lines.push(format!(
                "Compromise baseline (capability × salience weighted mean): {}; weighted median \
                 (Black): {}.",
                fmt(f.mean),
                fmt(f.median)
            ));
            let actor_codes: Vec<&str> = with_position.clone();
            for round in &f.eu.rounds {
                let moves: Vec<String> = round
                    .moves
                    .iter()
                    .map(|mv| {
                        let (t, c) = (actor_codes[mv.target], actor_codes[mv.challenger]);
                        let what = match mv.response {
                            model::Response::Conflict => {
                                format!("{t} expects to lose a confrontation with {c}")
                            }
                            model::Response::Compromise => format!("{t} compromises with {c}"),
                            model::Response::Capitulation => format!("{t} gives in to {c}"),
                        };
                        format!(
                            "{what}: {} → {} (EU_{c}({t}) = {:.3}, EU_{t}({c}) = {:.3})",
                            fmt(mv.from),
                            fmt(mv.to),
                            mv.challenger_eu,
                            mv.target_eu
                        )
                    })
                    .collect();
                lines.push(format!(
                    "Round {}: {}; mean {}, median {}.",
                    round.number,
                    if moves.is_empty() {
                        "nobody moves".to_string()
                    } else {
                        moves.join("; ")
                    },
                    fmt(round.mean),
                    fmt(round.median)
                ));
            }
            lines.push(format!(
                "Expected-utility forecast (Bueno de Mesquita, per Scholz et al. 2011; risk {}, \
                 Q = {}, T = {}): {} after {} round(s){}; weighted median then {}.",
                match config.settings.risk {
                    Risk::Computed => "computed",
                    Risk::Neutral => "neutral",
                },
                config.settings.status_quo,
                config.settings.improvement,
                fmt(f.eu.mean),
                f.eu.rounds.len(),
                if f.eu.converged {
                    ", when nobody moved any more"
                } else {
                    ", the round limit"
                },
                fmt(f.eu.median)
            ));
            lines.push(format!(
                "Forecast used: {} {} (compromise mean {}, weighted median {}, expected-utility {}).",
                config.forecaster.label(),
                fmt(f.chosen),
                fmt(f.mean),
                fmt(f.median),
                fmt(f.eu.mean)
            ));
        } else {
            lines.push(
                "No member states a position: no forecast; every member counts by its choice."
                    .to_string(),
            );
        }
        match (judged, forecasts.as_ref()) {
            (Some((f, t)), _) => lines.push(format!(
                "Rule: a member with a position blocks when the tabled value {} is farther from \
                 its position than the forecast {} by more than tolerance {} × (1 − salience) × \
                 range {} {}; other members count by their choice, members without a ballot {}.",
                fmt(t.value),
                fmt(f.chosen),
                config.tolerance,
                quantity::format_value(QuantityKind::Amount, span),
                kind.unit(),
                if config.missing_blocks {
                    "block"
                } else {
                    "acquiesce"
                }
            )),
            (None, Some(_)) => lines.push(
                "The proposal tables no value to compare with the forecast: every member counts \
                 by its choice."
                    .to_string(),
            ),
            (None, None) => {}
        }
        let blocking_codes: Vec<&str> = holdouts.iter().map(|&m| codes[m]).collect();
        lines.push(if blocking.is_empty() {
            format!(
                "Nobody stands in the way: adopted as tabled ({supporters} of {} support).",
                voters.len()
            )
        } else {
            format!(
                "Blocked by {} member(s): {} → rejected as tabled.",
                blocking.len(),
                names(&blocking_codes)
            )
        });

        let mut metrics = BTreeMap::from([
            ("eligible".to_string(), voters.len() as f64),
            ("actors".to_string(), actors.len() as f64),
            ("blocking".to_string(), blocking.len() as f64),
        ]);
        if let Some(f) = &forecasts {
            metrics.insert("mean".to_string(), f.mean);
            metrics.insert("median".to_string(), f.median);
            metrics.insert("eu_forecast".to_string(), f.eu.mean);
            metrics.insert("eu_median".to_string(), f.eu.median);
            metrics.insert("eu_rounds".to_string(), f.eu.rounds.len() as f64);
            metrics.insert("forecast".to_string(), f.chosen);
            metrics.insert("range".to_string(), span);
        }
        if let Some(t) = tabled {
            metrics.insert("tabled".to_string(), t.value);
        }

        Ok(Decision {
            outcome: outcome as i32,
            settled: deadline_passed(request),
            support_share: supporters as f64 / voters.len() as f64,
            member_results,
            blockers: blocking.iter().map(|&m| member_name(codes[m])).collect(),
            pivotal_members: if blocking.len() == 1 {
                vec![member_name(codes[blocking[0]])]
            } else {
                Vec::new()
            },
            explanation: lines,
            metrics,
            adoption_probability: None,
            likely_holdouts: holdouts.iter().map(|&m| member_name(codes[m])).collect(),
            forecast_position: forecasts
                .as_ref()
                .map(|f| quantity::to_position(kind, f.chosen)),
            policy: None,
        })
    }
}

fn article(kind: QuantityKind) -> &'static str {
    match kind {
        QuantityKind::Date => "a",
        QuantityKind::Amount => "an",
    }
}

#[cfg(test)]
mod tests;
