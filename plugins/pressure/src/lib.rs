//! The `pressure` policy: a lead nation (the United States by default) presses the members whose
//! ballot differs from its own, and concessions spread as a threshold cascade (Granovetter).
//!
//! The model itself is in [`model`], free of protocol types, with its formulas; this module reads
//! a [`DecisionRequest`] into a [`model::Scenario`], runs it (Monte Carlo or mean field) and writes
//! the [`Decision`]. It is a scenario tool: its assumptions are stated, not validated. See
//! docs/policies.md (section "pressure") for the model, every parameter and what is reported.
//!
//! Reading of the request:
//! - the electorate is the active members, each with its last ballot;
//! - the lead must be an active member with a ballot, otherwise the request is invalid;
//! - a member that has not voted is taken to follow the lead (silence = consent) and is not pressed;
//! - a member's resistance is its ballot's salience, or `default_salience` when the ballot has none;
//! - a member's susceptibility is its `susceptibility` override, or the default computed from its
//!   attributes ([`model::default_susceptibility`]).
#![forbid(unsafe_code)]

pub mod influence;
pub mod model;

use std::collections::HashMap;

use accord_policy_sdk::proto::{
    Choice, Decision, DecisionRequest, MemberResult, MemberStatus, Outcome, ParameterSpec,
    ParameterType, PolicyDescriptor,
};
use accord_policy_sdk::request::{Electorate, Parameters, deadline_passed, member_name};
use accord_policy_sdk::{DecisionPolicy, PolicyError};

use model::{Ally, BaseRule, Dynamics, Forecast, MonteCarlo, Profile, Scenario, Stance};

/// Most Monte Carlo trials one request may ask for.
pub const MAX_TRIALS: i64 = 10_000_000;
/// Most threshold draws (trials × dissenters) one Monte Carlo request may need: about two seconds
/// of one core, well inside the host's default time limit for a policy call (5 s), which a call
/// must not exceed (the host then stops using the policy).
pub const MAX_DRAWS: u64 = 100_000_000;
/// Most worker threads one request may ask for.
pub const MAX_THREADS: i64 = 256;
/// Most cascade rounds one request may ask for.
pub const MAX_ROUNDS: i64 = 1_000_000;

/// The lead-nation pressure policy.
#[derive(Debug, Default)]
pub struct PressurePolicy;

accord_policy_sdk::export_policy!(PressurePolicy);

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

fn stance(choice: Choice) -> Option<Stance> {
    match choice {
        Choice::Support => Some(Stance::Support),
        Choice::Object => Some(Stance::Object),
        Choice::Abstain => Some(Stance::Abstain),
        Choice::Unspecified => None,
    }
}

fn choice(stance: Stance) -> Choice {
    match stance {
        Stance::Support => Choice::Support,
        Stance::Object => Choice::Object,
        Stance::Abstain => Choice::Abstain,
    }
}

fn verb(stance: Stance) -> &'static str {
    match stance {
        Stance::Support => "supports",
        Stance::Object => "objects",
        Stance::Abstain => "abstains",
    }
}

fn integer_in(params: &Parameters, name: &str, min: i64, max: i64) -> Result<i64, PolicyError> {
    let v = params.integer(name);
    if v < min || v > max {
        return Err(PolicyError::parameter(
            name,
            format!("{v} is outside [{min}, {max}]"),
        ));
    }
    Ok(v)
}

/// The parameters of one request, checked.
struct Settings {
    lead: String,
    monte_carlo: bool,
    trials: u64,
    threads: usize,
    dynamics: Dynamics,
    default_salience: f64,
    rule: BaseRule,
    rule_name: &'static str,
}

impl Settings {
    fn read(params: &Parameters) -> Result<Self, PolicyError> {
        let lead = params.text("lead").trim();
        let lead = lead
            .strip_prefix("members/")
            .unwrap_or(lead)
            .to_ascii_uppercase();
        if lead.is_empty() {
            return Err(PolicyError::parameter(
                "lead",
                "must name a member, e.g. USA",
            ));
        }
        let quota = params.number_in("base_quota", f64::MIN_POSITIVE, 1.0)?;
        let (rule, rule_name) = match params.choice("base_rule") {
            "qualified_majority" => (BaseRule::QualifiedMajority { quota }, "qualified majority"),
            _ => (BaseRule::Unanimity, "unanimity"),
        };
        Ok(Settings {
            lead,
            monte_carlo: params.choice("mode") == "monte_carlo",
            trials: integer_in(params, "trials", 1, MAX_TRIALS)? as u64,
            threads: integer_in(params, "threads", 0, MAX_THREADS)? as usize,
            dynamics: Dynamics {
                pressure: params.number_in("pressure", 0.0, f64::MAX)?,
                spread: params.number_in("spread", 0.0, f64::MAX)?,
                max_rounds: integer_in(params, "max_rounds", 1, MAX_ROUNDS)? as u32,
            },
            default_salience: params.number_in("default_salience", 0.0, 1.0)?,
            rule,
            rule_name,
        })
    }
}

/// The scenario read from a request, with what the decision reports about each member.
struct Reading<'a> {
    scenario: Scenario,
    codes: Vec<&'a str>,
    cast: Vec<Choice>,
    lead_index: usize,
}

fn read_request<'a>(
    request: &'a DecisionRequest,
    electorate: &Electorate<'a>,
    settings: &Settings,
    overrides: &std::collections::BTreeMap<String, f64>,
) -> Result<Reading<'a>, PolicyError> {
    let lead_code = settings.lead.as_str();
    let Some(lead_member) = request.members.iter().find(|m| m.code == lead_code) else {
        return Err(PolicyError::parameter(
            "lead",
            format!("the request has no member {lead_code}"),
        ));
    };
    if lead_member.status != MemberStatus::Active as i32 {
        return Err(PolicyError::InvalidRequest(format!(
            "the lead nation {lead_code} is not an active member"
        )));
    }
    let voters = electorate.members();
    let lead_index = voters
        .iter()
        .position(|v| v.code == lead_code)
        .ok_or_else(|| {
            PolicyError::InvalidRequest(format!("the lead nation {lead_code} is not eligible"))
        })?;
    // A lead that has not voted but sponsors the proposal supports its own proposal.
    let sponsors = request
        .proposal
        .as_ref()
        .is_some_and(|p| p.sponsor.trim_start_matches("members/") == lead_code);
    let lead_stance = match stance(voters[lead_index].choice()) {
        Some(stance) => stance,
        None if sponsors => Stance::Support,
        None => {
            return Err(PolicyError::InvalidRequest(format!(
                "the lead nation {lead_code} has not cast a ballot and does not sponsor the proposal"
            )));
        }
    };
    for (code, value) in overrides {
        if !request.members.iter().any(|m| &m.code == code) {
            return Err(PolicyError::parameter(
                "susceptibility",
                format!("the request has no member {code}"),
            ));
        }
        if !(0.0..=1.0).contains(value) {
            return Err(PolicyError::parameter(
                "susceptibility",
                format!("{code}={value} is outside [0, 1]"),
            ));
        }
    }

    let lead_gdp = lead_member.attributes.get("gdp_usd_bn").copied();
    let lead_is_us = lead_code == "USA";
    let mut allies = Vec::with_capacity(voters.len());
    for voter in voters {
        let resistance = match voter.salience() {
            Some(s) if s.is_finite() && (0.0..=1.0).contains(&s) => s,
            Some(s) => {
                return Err(PolicyError::InvalidRequest(format!(
                    "the ballot of {} has salience {s}, outside [0, 1]",
                    voter.code
                )));
            }
            None => settings.default_salience,
        };
        let susceptibility = match overrides.get(voter.code) {
            Some(s) => *s,
            None => {
                let profile = Profile {
                    us_troops_hosted: voter.attribute("us_troops_hosted"),
                    armed_forces_personnel_thousands: voter
                        .attribute("armed_forces_personnel_thousands"),
                    defence_pct_gdp: voter.attribute("defence_pct_gdp"),
                    gdp_usd_bn: voter.attribute("gdp_usd_bn"),
                };
                model::default_susceptibility(&profile, lead_gdp, lead_is_us).value
            }
        };
        allies.push(Ally {
            stance: stance(voter.choice()),
            susceptibility,
            resistance,
        });
    }
    Ok(Reading {
        scenario: Scenario {
            lead: lead_stance,
            allies,
            dynamics: settings.dynamics,
            rule: settings.rule,
        },
        codes: voters.iter().map(|v| v.code).collect(),
        cast: voters.iter().map(|v| v.choice()).collect(),
        lead_index,
    })
}

fn names(codes: &[&str], indices: &[usize]) -> String {
    indices
        .iter()
        .map(|&i| codes[i])
        .collect::<Vec<_>>()
        .join(", ")
}

fn explain(
    reading: &Reading<'_>,
    settings: &Settings,
    seed: u64,
    forecast: &Forecast,
    outcome: Outcome,
) -> Vec<String> {
    let sc = &reading.scenario;
    let codes = &reading.codes;
    let lead = codes[reading.lead_index];
    let dissenters: Vec<usize> = (0..codes.len())
        .filter(|&i| forecast.dissenter[i])
        .collect();
    let mut lines = Vec::new();
    if sc.lead == Stance::Abstain {
        lines.push(format!(
            "Lead-nation pressure (a scenario tool, not a validated model): the lead {lead} \
             abstains, so it presses nobody."
        ));
    } else if dissenters.is_empty() {
        lines.push(format!(
            "Lead-nation pressure (a scenario tool, not a validated model): the lead {lead} {}; \
             no eligible member dissents, so nobody is pressed.",
            verb(sc.lead)
        ));
    } else {
        let list: Vec<String> = dissenters
            .iter()
            .filter_map(|&i| {
                sc.allies[i]
                    .stance
                    .map(|s| format!("{} {}", codes[i], verb(s)))
            })
            .collect();
        lines.push(format!(
            "Lead-nation pressure (a scenario tool, not a validated model): the lead {lead} {}; \
             {} of {} eligible members dissent and are pressed: {}.",
            verb(sc.lead),
            dissenters.len(),
            codes.len(),
            list.join(", ")
        ));
    }
    let silent: Vec<usize> = (0..codes.len())
        .filter(|&i| sc.allies[i].stance.is_none())
        .collect();
    if !silent.is_empty() {
        lines.push(format!(
            "{} member(s) have not voted and are taken to follow the lead (silence = consent): {}.",
            silent.len(),
            names(codes, &silent)
        ));
    }
    let d = &sc.dynamics;
    if !dissenters.is_empty() {
        lines.push(format!(
            "Pull on a dissenter = (1 − resistance) × ({:.2} × susceptibility + {:.2} × share of \
             dissenters already conceded); it concedes once the pull reaches its threshold.",
            d.pressure, d.spread
        ));
        lines.push(if settings.monte_carlo {
            format!(
                "Monte Carlo: {} trials with seed {seed}, thresholds uniform on (0, 1], at most {} \
                 rounds.",
                forecast.trials, d.max_rounds
            )
        } else {
            format!(
                "Deterministic (mean field): expected concessions iterated to a fixed point (at \
                 most {} rounds); members taken as independent for the adoption probability.",
                d.max_rounds
            )
        });
        for &i in &dissenters {
            let a = &sc.allies[i];
            lines.push(format!(
                "{}: susceptibility {:.2}, resistance {:.2} → concedes with probability {:.2}",
                codes[i], a.susceptibility, a.resistance, forecast.concede_probability[i]
            ));
        }
        lines.push(format!(
            "Expected rounds with a concession: {:.2}; expected final support: {:.1}% of the \
             eligible members.",
            forecast.expected_rounds,
            100.0 * forecast.expected_support_share
        ));
    }
    let quota = match sc.rule {
        BaseRule::QualifiedMajority { quota } => format!(" (quota {quota})"),
        BaseRule::Unanimity => String::new(),
    };
    let holdouts = forecast.likely_holdouts();
    let holdout_text = if holdouts.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = holdouts
            .iter()
            .map(|&i| {
                format!(
                    "{} ({:.2} of holding out)",
                    codes[i],
                    1.0 - forecast.concede_probability[i]
                )
            })
            .collect();
        format!("; most likely holdouts: {}", list.join(", "))
    };
    lines.push(format!(
        "Probability of adoption under {}{quota}: {:.3} → {}{holdout_text}.",
        settings.rule_name,
        forecast.adoption_probability,
        if outcome == Outcome::Adopted {
            "adopted"
        } else {
            "rejected"
        }
    ));
    lines
}

impl DecisionPolicy for PressurePolicy {
    fn descriptor(&self) -> PolicyDescriptor {
        use ParameterType::{Integer, MemberNumbers, Number, Text};
        PolicyDescriptor {
            id: "pressure".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            summary: "Lead-nation pressure: the lead presses dissenting allies, whose concessions \
                      spread as a threshold cascade; gives the probability of adoption and the \
                      likely holdouts (a scenario tool, not a validated model)."
                .to_string(),
            parameters: vec![
                param(
                    "lead",
                    Text,
                    "USA",
                    "The lead nation's member code. It must be an active member with a ballot; \
                     the members whose ballot differs from its own are pressed.",
                ),
                choice_param(
                    "mode",
                    "monte_carlo",
                    &["monte_carlo", "deterministic"],
                    "`monte_carlo`: thresholds drawn at random, `trials` times, from the request's \
                     seed; `deterministic`: expected values (mean field), members independent.",
                ),
                param(
                    "trials",
                    Integer,
                    "100000",
                    "Monte Carlo trials, 1 to 10000000; trials × dissenters may be at most \
                     100000000 (about two seconds of one core).",
                ),
                param(
                    "threads",
                    Integer,
                    "1",
                    "Worker threads for Monte Carlo, 0 to 256; 0 means one per core. The result \
                     does not depend on it.",
                ),
                param(
                    "pressure",
                    Number,
                    "1.0",
                    "Strength of the lead's pressure (≥ 0): multiplies each dissenter's \
                     susceptibility in its pull.",
                ),
                param(
                    "spread",
                    Number,
                    "0.5",
                    "Weight (≥ 0) of the share of dissenters that have already conceded in the \
                     pull on the others (the cascade); 0 turns the cascade off.",
                ),
                param(
                    "default_salience",
                    Number,
                    "0.5",
                    "Resistance, 0 to 1, of a member whose ballot gives no salience.",
                ),
                param(
                    "susceptibility",
                    MemberNumbers,
                    "",
                    "Per-member susceptibility, 0 to 1, overriding the default computed from \
                     the member's attributes, e.g. `DEU=0.2,FRA=0.1`.",
                ),
                param(
                    "max_rounds",
                    Integer,
                    "100",
                    "Most rounds of the cascade, 1 to 1000000.",
                ),
                choice_param(
                    "base_rule",
                    "unanimity",
                    &["unanimity", "qualified_majority"],
                    "How the proposal is decided after the cascade: `unanimity` (adopted when no \
                     member objects and one supports; abstention does not stand in the way) or \
                     `qualified_majority` (adopted when at least `base_quota` of the eligible \
                     members support).",
                ),
                param(
                    "base_quota",
                    Number,
                    "0.55",
                    "For `qualified_majority`: the fraction of eligible members, above 0 and at \
                     most 1, that must support.",
                ),
            ],
        }
    }

    fn decide(&self, request: &DecisionRequest) -> Result<Decision, PolicyError> {
        let params = Parameters::resolve(&self.descriptor(), &request.parameters)?;
        let settings = Settings::read(&params)?;
        let electorate = Electorate::new(request)?;
        let reading = read_request(
            request,
            &electorate,
            &settings,
            params.member_numbers("susceptibility"),
        )?;
        let model_error = |e: model::ModelError| {
            if e.field.starts_with("allies") {
                PolicyError::Failed(e.to_string())
            } else {
                PolicyError::parameter(e.field, e.reason)
            }
        };
        let forecast = if settings.monte_carlo {
            let draws = settings
                .trials
                .saturating_mul(reading.scenario.dissenters().len() as u64);
            if draws > MAX_DRAWS {
                return Err(PolicyError::parameter(
                    "trials",
                    format!(
                        "{} trials × {} dissenters = {draws} threshold draws, more than the \
                         {MAX_DRAWS} one request may take; ask for fewer trials or use \
                         mode=deterministic",
                        settings.trials,
                        reading.scenario.dissenters().len()
                    ),
                ));
            }
            reading
                .scenario
                .monte_carlo(&MonteCarlo {
                    trials: settings.trials,
                    seed: request.seed,
                    threads: settings.threads,
                })
                .map_err(model_error)?
        } else {
            reading.scenario.deterministic().map_err(model_error)?
        };

        let outcome = if forecast.adoption_probability >= 0.5 {
            Outcome::Adopted
        } else {
            Outcome::Rejected
        };
        let unanimity = matches!(settings.rule, BaseRule::Unanimity);
        let mut member_results = Vec::with_capacity(reading.codes.len());
        let mut blockers = Vec::new();
        for (i, code) in reading.codes.iter().enumerate() {
            let ally = &reading.scenario.allies[i];
            let counted = forecast.expected_stance[i];
            let blocker = unanimity && counted == Stance::Object;
            if blocker {
                blockers.push(member_name(code));
            }
            let mut metrics = HashMap::from([
                ("susceptibility".to_string(), ally.susceptibility),
                ("resistance".to_string(), ally.resistance),
            ]);
            if forecast.dissenter[i] {
                metrics.insert(
                    "concede_probability".to_string(),
                    forecast.concede_probability[i],
                );
            }
            member_results.push(MemberResult {
                member: member_name(code),
                cast_choice: reading.cast[i] as i32,
                counted_choice: choice(counted) as i32,
                weight: 1.0,
                blocker,
                pivotal: false,
                metrics,
            });
        }
        let explanation = explain(&reading, &settings, request.seed, &forecast, outcome);
        Ok(Decision {
            outcome: outcome as i32,
            settled: deadline_passed(request),
            support_share: forecast.expected_support_share.clamp(0.0, 1.0),
            member_results,
            blockers,
            pivotal_members: Vec::new(),
            explanation,
            metrics: HashMap::from([
                (
                    "adoption_probability".to_string(),
                    forecast.adoption_probability,
                ),
                ("expected_rounds".to_string(), forecast.expected_rounds),
                ("trials".to_string(), forecast.trials as f64),
                ("dissenters".to_string(), forecast.dissenters() as f64),
            ]),
            adoption_probability: Some(forecast.adoption_probability),
            likely_holdouts: forecast
                .likely_holdouts()
                .into_iter()
                .map(|i| member_name(reading.codes[i]))
                .collect(),
            forecast_position: None,
            policy: None,
        })
    }
}

#[cfg(test)]
mod tests;
