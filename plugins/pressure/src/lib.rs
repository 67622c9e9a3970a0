//! The `pressure` policy: a lead nation (the United States by default) presses the members whose
//! ballot differs from its own, and concessions spread as a threshold cascade (Granovetter).
//!
//! With `model = friedkin_johnsen` it works on positions instead (an end date, a ceiling): each
//! member moves towards the lead's position at the Friedkin–Johnsen equilibrium of a network built
//! from measurable ties ([`influence`], read from the request in `equilibrium.rs`), and the
//! decision names who still blocks the proposal as tabled and the smallest pressure at which the
//! last blocker gives way.
//!
//! The cascade itself is in [`model`], free of protocol types, with its formulas; this module reads
//! a [`Request`] into a [`model::Scenario`], runs it (Monte Carlo or mean field) and writes
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

mod equilibrium;
pub mod influence;
pub mod model;

use std::collections::BTreeMap;

use accord_policy_sdk::proto::{
    Choice, Decision, MemberResult, MemberStatus, Outcome, ParameterSpec, ParameterType,
    PolicyDescriptor,
};
use accord_policy_sdk::request::{Electorate, Parameters, Voter, deadline_passed, member_name};
use accord_policy_sdk::{DecisionPolicy, PolicyError, Request};

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

/// A probability for a person: never a bare `0.000` for a positive value. Values in
/// [0.001, 0.999] get three decimals; smaller ones two significant digits (`3.2e-7`); larger
/// ones their distance from 1 (`1 − 4.0e-6`); exactly 0 and 1 are written `0` and `1`.
pub fn format_probability(p: f64) -> String {
    if p <= 0.0 {
        "0".to_string()
    } else if p >= 1.0 {
        "1".to_string()
    } else if p < 0.001 {
        format!("{p:.1e}")
    } else if p > 0.999 {
        format!("1 − {:.1e}", 1.0 - p)
    } else {
        format!("{p:.3}")
    }
}

/// A pressure for a person: `> 0` for "any positive pressure", `∞` for none, else the number.
pub fn format_pressure(p: f64, open: bool) -> String {
    if open && p == 0.0 {
        "> 0 (any positive pressure)".to_string()
    } else if p.is_infinite() {
        "∞".to_string()
    } else {
        let text = format!("{p:.4}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Standard error of a Monte Carlo estimate `p` from `trials` independent trials,
/// `√(p(1 − p)/trials)`.
pub fn standard_error(p: f64, trials: u64) -> f64 {
    if trials == 0 {
        return 0.0;
    }
    (p * (1.0 - p) / trials as f64).max(0.0).sqrt()
}

/// A Monte Carlo estimate with its standard error; an estimate of 0 (or 1) from `n` trials also
/// gets the 95 % bound of the rule of three (`3/n`), since its standard error is 0.
pub fn format_estimate(p: f64, trials: u64) -> String {
    let hits = (p * trials as f64).round() as u64;
    if hits == 0 {
        format!(
            "0 of {trials} trials (below {} at 95 %)",
            format_probability(3.0 / trials as f64)
        )
    } else if hits == trials {
        format!(
            "{trials} of {trials} trials (above 1 − {:.1e} at 95 %)",
            3.0 / trials as f64
        )
    } else {
        format!(
            "{} ± {:.1e} (standard error, {trials} trials)",
            format_probability(p),
            standard_error(p, trials)
        )
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
    /// `model = friedkin_johnsen` (positions) rather than the threshold cascade (choices).
    friedkin_johnsen: bool,
    /// For Friedkin–Johnsen: acceptable distance as a share of the range of positions.
    tolerance: f64,
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
            friedkin_johnsen: params.choice("model") == "friedkin_johnsen",
            tolerance: params.number_in("tolerance", 0.0, 1.0)?,
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

/// Checks the `susceptibility` overrides: known members, values in [0, 1].
fn check_overrides(
    request: &Request<'_>,
    overrides: &std::collections::BTreeMap<String, f64>,
) -> Result<(), PolicyError> {
    // A set of the codes, so that many overrides stay linear in the number of members.
    let codes: std::collections::HashSet<&str> = if overrides.is_empty() {
        std::collections::HashSet::new()
    } else {
        request.members().iter().map(|m| m.code.as_str()).collect()
    };
    for (code, value) in overrides {
        if !codes.contains(code.as_str()) {
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
    Ok(())
}

/// A member's resistance: its ballot's salience, or `default_salience`.
fn resistance(voter: &Voter<'_>, default_salience: f64) -> Result<f64, PolicyError> {
    match voter.salience() {
        Some(s) if s.is_finite() && (0.0..=1.0).contains(&s) => Ok(s),
        Some(s) => Err(PolicyError::InvalidRequest(format!(
            "the ballot of {} has salience {s}, outside [0, 1]",
            voter.code
        ))),
        None => Ok(default_salience),
    }
}

/// The measurable ties to the lead that make a member's susceptibility.
struct Ties {
    lead_gdp: Option<f64>,
    lead_is_us: bool,
}

impl Ties {
    fn new(lead: &accord_policy_sdk::proto::Member, lead_code: &str) -> Self {
        Ties {
            lead_gdp: lead.attributes.get("gdp_usd_bn").copied(),
            lead_is_us: lead_code == "USA",
        }
    }

    /// The member's `susceptibility` override, or the default from its attributes
    /// ([`model::default_susceptibility`]).
    fn susceptibility(
        &self,
        voter: &Voter<'_>,
        overrides: &std::collections::BTreeMap<String, f64>,
    ) -> f64 {
        match overrides.get(voter.code) {
            Some(s) => *s,
            None => {
                let profile = Profile {
                    us_troops_hosted: voter.attribute("us_troops_hosted"),
                    armed_forces_personnel_thousands: voter
                        .attribute("armed_forces_personnel_thousands"),
                    defence_pct_gdp: voter.attribute("defence_pct_gdp"),
                    gdp_usd_bn: voter.attribute("gdp_usd_bn"),
                };
                model::default_susceptibility(&profile, self.lead_gdp, self.lead_is_us).value
            }
        }
    }
}

fn read_request<'a>(
    request: &Request<'a>,
    electorate: &Electorate<'a>,
    settings: &Settings,
    overrides: &std::collections::BTreeMap<String, f64>,
) -> Result<Reading<'a>, PolicyError> {
    let lead_code = settings.lead.as_str();
    let Some(lead_member) = request.members().iter().find(|m| m.code == lead_code) else {
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
    check_overrides(request, overrides)?;
    let ties = Ties::new(lead_member, lead_code);
    let mut allies = Vec::with_capacity(voters.len());
    for voter in voters {
        allies.push(Ally {
            stance: stance(voter.choice()),
            susceptibility: ties.susceptibility(voter, overrides),
            resistance: resistance(voter, settings.default_salience)?,
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
    mean_field: Option<&Forecast>,
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
            let p = forecast.concede_probability[i];
            let estimate = match mean_field {
                Some(m) => format!(
                    "{}; mean field {}",
                    format_estimate(p, forecast.trials),
                    format_probability(m.concede_probability[i])
                ),
                None => format_probability(p),
            };
            lines.push(format!(
                "{}: susceptibility {:.2}, resistance {:.2} → concedes with probability {estimate}",
                codes[i], a.susceptibility, a.resistance
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
                    "{} ({} of holding out)",
                    codes[i],
                    format_probability(1.0 - forecast.concede_probability[i])
                )
            })
            .collect();
        format!("; most likely holdouts: {}", list.join(", "))
    };
    let adoption = match mean_field {
        Some(m) => format!(
            "Monte Carlo {}; mean field (members independent) {}",
            format_estimate(forecast.adoption_probability, forecast.trials),
            format_probability(m.adoption_probability)
        ),
        None => format_probability(forecast.adoption_probability),
    };
    lines.push(format!(
        "Probability of adoption under {}{quota}: {adoption} → {}{holdout_text}.",
        settings.rule_name,
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
                    "Strength of the lead's pressure, dimensionless, ≥ 0: multiplies each \
                     member's susceptibility. Calibration (a stated assumption, not fitted): at 1 \
                     a dissenter with susceptibility s and resistance r concedes alone with \
                     probability s(1 − r) per cascade; in `friedkin_johnsen` the influence weight \
                     is min(1, pressure × s).",
                ),
                param(
                    "spread",
                    Number,
                    "0.5",
                    "Weight (≥ 0, probability per unit share) of the share of dissenters that \
                     have already conceded in the pull on the others: at 0.5, all others having \
                     conceded adds 0.5 × (1 − r) to a dissenter's probability of conceding. 0 \
                     turns the cascade off. Not used by `friedkin_johnsen`.",
                ),
                param(
                    "default_salience",
                    Number,
                    "0.5",
                    "Salience, 0 to 1, of a member whose ballot gives none: its resistance in \
                     the cascade, its stubbornness in `friedkin_johnsen` (0.5: keeps half of its \
                     distance from the lead at full influence).",
                ),
                param(
                    "susceptibility",
                    MemberNumbers,
                    "",
                    "Per-member susceptibility (tie to the lead), 0 to 1, overriding the \
                     default 0.5 × troop dependence + 0.3 × spending gap to 2 % + 0.2 × economic \
                     smallness (docs/policies.md), e.g. `DEU=0.2,FRA=0.1`.",
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
                choice_param(
                    "model",
                    "cascade",
                    &["cascade", "friedkin_johnsen"],
                    "`cascade`: ballots (support, object, abstain) and a Granovetter threshold \
                     cascade of concessions; `friedkin_johnsen`: positions (dates or amounts) \
                     pulled towards the lead's at the Friedkin–Johnsen equilibrium, and who still \
                     blocks the proposal as tabled.",
                ),
                param(
                    "tolerance",
                    Number,
                    "0.1",
                    "For `friedkin_johnsen`: a member accepts when its equilibrium position lies \
                     within this share (0 to 1) of the range of the initial positions (the \
                     lead's and the tabled value included) of the tabled value.",
                ),
            ],
        }
    }

    fn decide(&self, request: &Request<'_>) -> Result<Decision, PolicyError> {
        let params = Parameters::resolve(&self.descriptor(), &request.parameters)?;
        let settings = Settings::read(&params)?;
        let electorate = Electorate::new(request)?;
        if settings.friedkin_johnsen {
            return equilibrium::decide(
                request,
                &electorate,
                &settings,
                params.member_numbers("susceptibility"),
            );
        }
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
            let mut metrics = BTreeMap::from([
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
        // Monte Carlo estimates are reported next to the mean field, so that a small probability
        // estimated as 0 from the trials is seen next to its deterministic value.
        let mean_field = if settings.monte_carlo {
            Some(reading.scenario.deterministic().map_err(model_error)?)
        } else {
            None
        };
        let explanation = explain(
            &reading,
            &settings,
            request.seed,
            &forecast,
            mean_field.as_ref(),
            outcome,
        );
        Ok(Decision {
            outcome: outcome as i32,
            settled: deadline_passed(request),
            support_share: forecast.expected_support_share.clamp(0.0, 1.0),
            member_results,
            blockers,
            pivotal_members: Vec::new(),
            explanation,
            metrics: BTreeMap::from([
                (
                    "adoption_probability".to_string(),
                    forecast.adoption_probability,
                ),
                ("expected_rounds".to_string(), forecast.expected_rounds),
                ("trials".to_string(), forecast.trials as f64),
                ("dissenters".to_string(), forecast.dissenters() as f64),
                (
                    "adoption_probability_standard_error".to_string(),
                    standard_error(forecast.adoption_probability, forecast.trials),
                ),
                (
                    "adoption_probability_mean_field".to_string(),
                    mean_field
                        .as_ref()
                        .unwrap_or(&forecast)
                        .adoption_probability,
                ),
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
