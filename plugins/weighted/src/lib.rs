//! The `weighted` decision policy: a qualified majority of weighted votes, as in the EU Council
//! or the IMF, applied to the allies — a counterfactual to NATO's consensus rule.
//!
//! Each eligible member gets an integer weight (defence spending, population, GDP, troops in the
//! mission, or equal weights), and the proposal is adopted when the weight in favour reaches a
//! quota of the counted weight, optionally with a member quota (double majority) and a minimum
//! blocking minority. Besides the outcome the policy reports each member's a-priori voting power
//! under the rule — the Banzhaf, Shapley–Shubik, Deegan–Packel, Holler, Johnston and Coleman
//! indices chosen by the `indices` parameter, computed exactly by [`power`] where tractable and
//! estimated by Monte Carlo (with error bounds) where not — and the veto players, dictator and
//! dummies of the game. Without indices the decision is linear in the number of members. See
//! `docs/policies.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cache;
pub mod power;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use accord_policy_sdk::proto::{
    Choice, Decision, MemberResult, Outcome, ParameterSpec, ParameterType, PolicyDescriptor,
};
use accord_policy_sdk::request::{Electorate, Parameters, Voter, deadline_passed, member_name};
use accord_policy_sdk::{DecisionPolicy, PolicyError, Request};

use num_traits::ToPrimitive;
use power::{Game, IndexSet, MethodChoice, Options, PowerIndices, WinningRule};

/// The policy's identifier.
pub const POLICY_ID: &str = "weighted";
/// The policy's version.
pub const VERSION: &str = "1.2.0";

/// The default quota: two thirds (as text; any fraction within 10⁻⁹ of a whole weight is
/// snapped to it, so this is exactly ⅔ of the counted weight).
pub const DEFAULT_QUOTA: &str = "0.6666666666666666";

/// The indices reported by default.
pub const DEFAULT_INDICES: &str = "banzhaf,shapley_shubik";

/// The `weighted` policy. Everything comes from the request; the power analyses are kept in a
/// small cache keyed by the game and the options ([`cache`]), so that deciding the same
/// electorate under the same rule again does not analyse it again.
#[derive(Debug, Default, Clone, Copy)]
pub struct WeightedPolicy;

accord_policy_sdk::export_policy!(WeightedPolicy);

/// What a member's weight is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightBasis {
    /// Defence expenditure, attribute `defence_expenditure_usd_mn` (US$ million).
    DefenceSpending,
    /// Population, attribute `population_mn` (million).
    Population,
    /// GDP, attribute `gdp_usd_bn` (US$ billion).
    Gdp,
    /// Troops the member contributes to the request's mission.
    Troops,
    /// One vote each.
    Equal,
    /// Votes held, attribute `votes` (any council whose members have a number of votes: an
    /// IMF-style board, a shareholders' meeting).
    Votes,
}

impl WeightBasis {
    const CHOICES: [(&'static str, WeightBasis); 6] = [
        ("defence_spending", Self::DefenceSpending),
        ("population", Self::Population),
        ("gdp", Self::Gdp),
        ("troops", Self::Troops),
        ("equal", Self::Equal),
        ("votes", Self::Votes),
    ];

    fn parse(text: &str) -> Option<Self> {
        Self::CHOICES
            .iter()
            .find(|(name, _)| *name == text)
            .map(|&(_, basis)| basis)
    }

    /// The member attribute the weight is read from, if any.
    pub fn attribute(self) -> Option<&'static str> {
        match self {
            Self::DefenceSpending => Some("defence_expenditure_usd_mn"),
            Self::Population => Some("population_mn"),
            Self::Gdp => Some("gdp_usd_bn"),
            Self::Votes => Some("votes"),
            Self::Troops | Self::Equal => None,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::DefenceSpending => "defence spending (US$ million)",
            Self::Population => "population (million)",
            Self::Gdp => "GDP (US$ billion)",
            Self::Troops => "troops contributed to the mission",
            Self::Equal => "one vote per member",
            Self::Votes => "votes held",
        }
    }
}

/// How abstentions (and, after the deadline, members who did not vote) count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abstention {
    /// An abstainer's weight counts towards the total but not in favour: abstaining is as good
    /// as objecting.
    Against,
    /// Abstainers are left out: the quotas are taken over the members who supported or objected.
    Excluded,
}

/// The policy's parameters for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// What a member's weight is.
    pub basis: WeightBasis,
    /// Attribute value per integer weight unit.
    pub weight_unit: f64,
    /// Weight quota, a fraction of the counted weight.
    pub quota: f64,
    /// Member quota, a fraction of the counted members (0: off).
    pub member_quota: f64,
    /// Minimum blocking minority in members (0: off).
    pub min_blocking: usize,
    /// `true`: the weight in favour must exceed the quota; `false`: reach it.
    pub strict: bool,
    /// How abstentions count.
    pub abstention: Abstention,
    /// Which power indices to report (`None`: none, and the decision stays linear in the
    /// number of members).
    pub indices: Option<IndexSet>,
    /// How to compute them.
    pub power_method: MethodChoice,
    /// Monte Carlo sample size.
    pub power_samples: u64,
}

/// Parses the `indices` parameter: comma-separated index names, `all` or `none`.
pub fn parse_indices(text: &str) -> Result<Option<IndexSet>, PolicyError> {
    let mut set = IndexSet::BANZHAF;
    let mut any = false;
    for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match name {
            "none" => return Ok(None),
            "all" => set = IndexSet::ALL,
            "banzhaf" | "coleman" => {}
            "shapley_shubik" => set.shapley_shubik = true,
            "deegan_packel" => set.deegan_packel = true,
            "holler" => set.holler = true,
            "johnston" => set.johnston = true,
            other => {
                return Err(PolicyError::parameter(
                    "indices",
                    format!(
                        "unknown index {other:?} (banzhaf, shapley_shubik, deegan_packel, holler, \
                         johnston, coleman, all or none)"
                    ),
                ));
            }
        }
        any = true;
    }
    Ok(any.then_some(set))
}

impl Config {
    /// Reads and checks the parameters.
    pub fn from_parameters(p: &Parameters) -> Result<Self, PolicyError> {
        let basis = WeightBasis::parse(p.choice("weight"))
            .ok_or_else(|| PolicyError::parameter("weight", "unknown weight basis"))?;
        let weight_unit = p.number("weight_unit");
        if weight_unit <= 0.0 || !weight_unit.is_finite() {
            return Err(PolicyError::parameter(
                "weight_unit",
                format!("{weight_unit} is not a positive number"),
            ));
        }
        let quota = p.number("quota");
        if !(quota > 0.0 && quota <= 1.0) {
            return Err(PolicyError::parameter(
                "quota",
                format!("{quota} is outside (0, 1]"),
            ));
        }
        let member_quota = p.number_in("member_quota", 0.0, 1.0)?;
        let min_blocking = usize::try_from(p.integer("min_blocking")).map_err(|_| {
            PolicyError::parameter("min_blocking", "must be zero (off) or a positive number")
        })?;
        let abstention = match p.choice("abstention") {
            "excluded" => Abstention::Excluded,
            _ => Abstention::Against,
        };
        let indices = parse_indices(p.text("indices"))?;
        let power_method = match p.choice("power_method") {
            "exact" => MethodChoice::Exact,
            "monte_carlo" => MethodChoice::MonteCarlo,
            _ => MethodChoice::Auto,
        };
        let power_samples = u64::try_from(p.integer("power_samples"))
            .ok()
            .filter(|&s| s >= 1)
            .ok_or_else(|| PolicyError::parameter("power_samples", "must be a positive number"))?;
        Ok(Self {
            basis,
            weight_unit,
            quota,
            member_quota,
            min_blocking,
            strict: p.boolean("strict"),
            abstention,
            indices,
            power_method,
            power_samples,
        })
    }

    /// The winning rule over `players` counted members of total weight `total`: the weight
    /// quota as an integer threshold, the member quota as a number of members (at least one:
    /// a proposal nobody supports is never adopted), the blocking minority at most `players`.
    pub fn rule(&self, players: usize, total: u64) -> WinningRule {
        let threshold = snap(self.quota * total as f64);
        // Non-strict: w ≥ x ⇔ w ≥ ⌈x⌉. Strict: w > x ⇔ w > ⌊x⌋.
        let quota = if self.strict {
            threshold.floor()
        } else {
            threshold.ceil()
        } as u64;
        let members = snap(self.member_quota * players as f64).ceil() as usize;
        WinningRule {
            quota,
            strict: self.strict,
            min_members: members.max(1),
            min_blocking: self.min_blocking.min(players),
        }
    }
}

/// `x`, or the nearest whole number when `x` is within a relative 10⁻⁹ of it (so that a quota
/// written as 0.6666666666666666 is exactly two thirds of a weight divisible by three).
fn snap(x: f64) -> f64 {
    let r = x.round();
    if (x - r).abs() <= 1e-9 * r.abs().max(1.0) {
        r
    } else {
        x
    }
}

fn spec(
    name: &str,
    kind: ParameterType,
    default: &str,
    choices: &[&str],
    doc: &str,
) -> ParameterSpec {
    ParameterSpec {
        name: name.to_string(),
        r#type: kind as i32,
        default_value: default.to_string(),
        doc: doc.to_string(),
        choices: choices.iter().map(|c| c.to_string()).collect(),
    }
}

/// The policy's descriptor.
pub fn descriptor() -> PolicyDescriptor {
    let bases: Vec<&str> = WeightBasis::CHOICES.iter().map(|(name, _)| *name).collect();
    PolicyDescriptor {
        id: POLICY_ID.to_string(),
        version: VERSION.to_string(),
        summary: "Qualified majority of weighted votes (by defence spending, population, GDP, \
                  troops or equal), with optional double majority and blocking minority; \
                  reports each member's voting power (Banzhaf and Shapley-Shubik by default; \
                  Deegan-Packel, Holler, Johnston and Coleman on request)."
            .to_string(),
        parameters: vec![
            spec(
                "weight",
                ParameterType::Choice,
                "defence_spending",
                &bases,
                "What a member's weight is: defence_spending (attribute \
                 defence_expenditure_usd_mn), population (population_mn), gdp (gdp_usd_bn), \
                 troops (troops it contributes to the request's mission), equal (one each) or \
                 votes (votes, for any council whose members hold votes). \
                 A missing attribute counts as 0.",
            ),
            spec(
                "weight_unit",
                ParameterType::Number,
                "1",
                &[],
                "Attribute value per integer weight unit: weight = round(value / weight_unit). \
                 1 means $1 million of spending, 1 million people, $1 billion of GDP or one \
                 soldier; use 0.01 for population in 10,000s. Ignored for equal weights. \
                 Finer units make the exact power indices slower.",
            ),
            spec(
                "quota",
                ParameterType::Number,
                DEFAULT_QUOTA,
                &[],
                "Weight quota: the share of the counted weight that must be in favour, in (0, 1]. \
                 Default two thirds.",
            ),
            spec(
                "member_quota",
                ParameterType::Number,
                "0",
                &[],
                "Member quota (double majority): the share of the counted members that must be \
                 in favour, in [0, 1]; for example 0.55 with quota 0.65 as in the EU Council. \
                 0 switches it off (at least one member must still support).",
            ),
            spec(
                "min_blocking",
                ParameterType::Integer,
                "0",
                &[],
                "Minimum blocking minority: if fewer than this many counted members are not in \
                 favour, the proposal is adopted whatever the weights (EU Council: 4). 0 \
                 switches it off.",
            ),
            spec(
                "strict",
                ParameterType::Boolean,
                "false",
                &[],
                "false: the weight in favour must reach the quota (>=); true: it must exceed it \
                 (>).",
            ),
            spec(
                "abstention",
                ParameterType::Choice,
                "against",
                &["against", "excluded"],
                "against: an abstainer's weight counts in the total but not in favour; excluded: \
                 the quotas are taken over the members who supported or objected only. After \
                 the deadline members who did not vote count as abstainers.",
            ),
            spec(
                "indices",
                ParameterType::Text,
                DEFAULT_INDICES,
                &[],
                "The a-priori voting power indices to report, comma-separated: banzhaf (with \
                 Coleman's measures, always included), shapley_shubik, deegan_packel, holler, \
                 johnston; or all, or none (the decision is then linear in the number of \
                 members).",
            ),
            spec(
                "power_method",
                ParameterType::Choice,
                "auto",
                &["auto", "exact", "monte_carlo"],
                "auto: exact counts where the tables fit, Monte Carlo estimates otherwise; exact: \
                 exact or no indices; monte_carlo: estimates from power_samples random coalitions \
                 and orderings (Deegan-Packel and Holler are then not reported).",
            ),
            spec(
                "power_samples",
                ParameterType::Integer,
                "100000",
                &[],
                "Monte Carlo sample size; the standard error of an estimated share p is \
                 sqrt(p(1-p)/samples).",
            ),
        ],
    }
}

/// How a member is counted in one scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vote {
    For,
    Against,
    Abstain,
}

/// One eligible member as the policy sees it.
struct Seat<'a> {
    voter: Voter<'a>,
    /// The value of the weight's attribute (or troops, or 1).
    value: f64,
    weight: u64,
    cast: Choice,
}

impl Seat<'_> {
    fn name(&self) -> &str {
        let display = self.voter.member.display_name.as_str();
        if display.is_empty() {
            self.voter.code
        } else {
            display
        }
    }
}

/// The tally of one scenario and whether it adopts.
#[derive(Debug, Clone, Copy)]
struct Tally {
    players: usize,
    total: u64,
    members_for: usize,
    weight_for: u64,
    rule: WinningRule,
    adopted: bool,
}

fn tally(config: &Config, seats: &[Seat<'_>], vote: impl Fn(usize) -> Vote) -> Tally {
    let (mut players, mut total, mut members_for, mut weight_for) = (0usize, 0u64, 0usize, 0u64);
    for (i, seat) in seats.iter().enumerate() {
        let v = vote(i);
        if v == Vote::Abstain && config.abstention == Abstention::Excluded {
            continue;
        }
        players += 1;
        total += seat.weight;
        if v == Vote::For {
            members_for += 1;
            weight_for += seat.weight;
        }
    }
    let rule = config.rule(players, total);
    Tally {
        players,
        total,
        members_for,
        weight_for,
        rule,
        adopted: rule.wins(players, members_for, u128::from(weight_for)),
    }
}

fn counted(choice: Choice, missing: Vote) -> Vote {
    match choice {
        Choice::Support => Vote::For,
        Choice::Object => Vote::Against,
        Choice::Abstain => Vote::Abstain,
        Choice::Unspecified => missing,
    }
}

/// The largest total weight accepted (so that sums stay exact in `f64` and `u64`).
const MAX_TOTAL_WEIGHT: f64 = 9.0e15;

fn seats<'a>(
    config: &Config,
    electorate: &Electorate<'a>,
    request: &Request<'_>,
) -> Result<Vec<Seat<'a>>, PolicyError> {
    let troops: Option<HashMap<&str, f64>> = match config.basis {
        WeightBasis::Troops => {
            let mission = request.mission.as_ref().ok_or_else(|| {
                PolicyError::InvalidRequest(
                    "weight=troops needs the mission the proposal is about, and the request has none"
                        .to_string(),
                )
            })?;
            let mut by_code = HashMap::new();
            for c in &mission.contributions {
                let code = c.member.strip_prefix("members/").unwrap_or(&c.member);
                *by_code.entry(code).or_insert(0.0) += f64::from(c.troops);
            }
            Some(by_code)
        }
        _ => None,
    };
    let mut out = Vec::with_capacity(electorate.len());
    let mut total = 0.0;
    for voter in electorate.members() {
        let value = match (config.basis, &troops) {
            (WeightBasis::Equal, _) => 1.0,
            (_, Some(troops)) => troops.get(voter.code).copied().unwrap_or(0.0),
            (basis, None) => basis
                .attribute()
                .and_then(|key| voter.attribute(key))
                .unwrap_or(0.0),
        };
        if !(value.is_finite() && value >= 0.0) {
            return Err(PolicyError::InvalidRequest(format!(
                "member {} has weight value {value}: weights must be zero or more",
                voter.code
            )));
        }
        let units = if config.basis == WeightBasis::Equal {
            1.0
        } else {
            (value / config.weight_unit).round()
        };
        total += units;
        if total > MAX_TOTAL_WEIGHT {
            return Err(PolicyError::parameter(
                "weight_unit",
                format!(
                    "{} is too fine: the weights add up to more than {MAX_TOTAL_WEIGHT:e} units",
                    config.weight_unit
                ),
            ));
        }
        out.push(Seat {
            voter: *voter,
            value,
            weight: units as u64,
            cast: voter.choice(),
        });
    }
    Ok(out)
}

impl DecisionPolicy for WeightedPolicy {
    fn descriptor(&self) -> PolicyDescriptor {
        descriptor()
    }

    fn decide(&self, request: &Request<'_>) -> Result<Decision, PolicyError> {
        let parameters = Parameters::resolve(&descriptor(), &request.parameters)?;
        let config = Config::from_parameters(&parameters)?;
        let electorate = Electorate::new(request)?;
        if electorate.is_empty() {
            return Err(PolicyError::InvalidRequest(
                "no member is eligible (active)".to_string(),
            ));
        }
        let seats = seats(&config, &electorate, request)?;
        Ok(decide(&config, &seats, deadline_passed(request)))
    }
}

fn decide(config: &Config, seats: &[Seat<'_>], deadline_passed: bool) -> Decision {
    let n = seats.len();
    // Members who have not voted: abstainers once the deadline has passed (and in the
    // provisional tally); before it, the outcome is what is certain whatever they do.
    let now = tally(config, seats, |i| counted(seats[i].cast, Vote::Abstain));
    let waiting = seats
        .iter()
        .filter(|s| s.cast == Choice::Unspecified)
        .count();
    let (outcome, settled) = if deadline_passed || waiting == 0 {
        (outcome_of(now.adopted), true)
    } else {
        // Objecting is never better for adoption than abstaining, nor supporting worse.
        let worst = tally(config, seats, |i| counted(seats[i].cast, Vote::Against));
        let best = tally(config, seats, |i| counted(seats[i].cast, Vote::For));
        if worst.adopted {
            (Outcome::Adopted, true)
        } else if !best.adopted {
            (Outcome::Rejected, true)
        } else {
            (Outcome::Pending, false)
        }
    };

    // A-priori power under the rule, over all eligible members (only when asked for).
    let weights: Vec<u64> = seats.iter().map(|s| s.weight).collect();
    let eligible_weight: u64 = weights.iter().sum();
    let game = Game::new(weights, config.rule(n, eligible_weight));
    let power = config.indices.map(|indices| {
        cache::analyse(
            &game,
            &Options {
                indices,
                method: config.power_method,
                samples: config.power_samples,
                ..Options::default()
            },
        )
    });
    let power = power.as_deref();

    // Pivotal: a switch (for ↔ not for) of the member alone flips the provisional outcome.
    // Each switch changes the tally by one member, so it is re-evaluated in O(1).
    let pivotal: Vec<bool> = (0..n)
        .map(|j| {
            let v = counted(seats[j].cast, Vote::Abstain);
            let w = seats[j].weight;
            let excluded = config.abstention == Abstention::Excluded;
            let mut t = now;
            if v == Vote::For {
                t.members_for -= 1;
                t.weight_for -= w;
            } else {
                if v == Vote::Abstain && excluded {
                    t.players += 1;
                    t.total += w;
                }
                t.members_for += 1;
                t.weight_for += w;
            }
            let rule = config.rule(t.players, t.total);
            rule.wins(t.players, t.members_for, u128::from(t.weight_for)) != now.adopted
        })
        .collect();
    // Veto players from the definition, O(n) (the analysis reports the same).
    let (_, veto_players) = power::dictator_and_vetoes(&game);
    let mut veto = vec![false; n];
    for i in veto_players {
        veto[i] = true;
    }
    let blocker: Vec<bool> = (0..n)
        .map(|i| veto[i] && seats[i].cast == Choice::Object)
        .collect();

    let mut member_results = Vec::with_capacity(n);
    for (i, seat) in seats.iter().enumerate() {
        let counted_choice = match seat.cast {
            Choice::Unspecified if deadline_passed => Choice::Abstain,
            other => other,
        };
        let mut metrics = BTreeMap::new();
        metrics.insert("weight_value".to_string(), seat.value);
        if let Some(Ok(p)) = &power {
            metrics.insert("banzhaf".to_string(), p.banzhaf[i]);
            metrics.insert("banzhaf_absolute".to_string(), p.banzhaf_absolute[i]);
            metrics.insert("coleman_prevent".to_string(), p.coleman_prevent[i]);
            metrics.insert("coleman_initiate".to_string(), p.coleman_initiate[i]);
            for (name, index) in [
                ("shapley_shubik", &p.shapley_shubik),
                ("deegan_packel", &p.deegan_packel),
                ("holler", &p.holler),
                ("johnston", &p.johnston),
            ] {
                if let Some(values) = index {
                    metrics.insert(name.to_string(), values[i]);
                }
            }
            if let Some(swings) = &p.swings {
                metrics.insert(
                    "swings".to_string(),
                    swings[i].to_f64().unwrap_or(f64::INFINITY),
                );
            }
        }
        member_results.push(MemberResult {
            member: member_name(seat.voter.code),
            cast_choice: seat.cast as i32,
            counted_choice: counted_choice as i32,
            weight: seat.weight as f64,
            blocker: blocker[i],
            pivotal: pivotal[i],
            metrics,
        });
    }

    let sum_weight = |pred: &dyn Fn(&Seat<'_>) -> bool| -> u64 {
        seats.iter().filter(|s| pred(s)).map(|s| s.weight).sum()
    };
    let count = |pred: &dyn Fn(&Seat<'_>) -> bool| seats.iter().filter(|s| pred(s)).count();
    let weight_against = sum_weight(&|s| s.cast == Choice::Object);
    let weight_abstain = sum_weight(&|s| s.cast == Choice::Abstain);
    let weight_waiting = sum_weight(&|s| s.cast == Choice::Unspecified);
    let support_share = if now.total > 0 {
        now.weight_for as f64 / now.total as f64
    } else {
        0.0
    };

    let mut metrics = BTreeMap::from([
        ("weight_for".to_string(), now.weight_for as f64),
        ("weight_against".to_string(), weight_against as f64),
        ("weight_abstain".to_string(), weight_abstain as f64),
        ("weight_not_voted".to_string(), weight_waiting as f64),
        ("weight_total".to_string(), now.total as f64),
        ("weight_eligible".to_string(), eligible_weight as f64),
        ("weight_unit".to_string(), config.weight_unit),
        ("quota".to_string(), config.quota),
        ("quota_weight".to_string(), now.rule.quota_weight() as f64),
        ("member_quota".to_string(), config.member_quota),
        (
            "member_quota_members".to_string(),
            now.rule.min_members as f64,
        ),
        ("min_blocking".to_string(), now.rule.min_blocking as f64),
        ("members_eligible".to_string(), n as f64),
        ("members_counted".to_string(), now.players as f64),
        ("members_for".to_string(), now.members_for as f64),
        (
            "members_against".to_string(),
            count(&|s| s.cast == Choice::Object) as f64,
        ),
        (
            "members_abstain".to_string(),
            count(&|s| s.cast == Choice::Abstain) as f64,
        ),
        ("members_not_voted".to_string(), waiting as f64),
    ]);
    if let Some(Ok(p)) = &power {
        if let Some(winning) = &p.winning_coalitions {
            metrics.insert(
                "coalitions_winning".to_string(),
                winning.to_f64().unwrap_or(f64::INFINITY),
            );
        }
        if let Some(minimal) = &p.minimal_winning_coalitions {
            metrics.insert(
                "coalitions_minimal_winning".to_string(),
                minimal.to_f64().unwrap_or(f64::INFINITY),
            );
        }
        metrics.insert("coalitions_total".to_string(), 2f64.powi(n as i32));
        metrics.insert("coleman_power".to_string(), p.coleman_power);
        metrics.insert("veto_players".to_string(), p.veto_players.len() as f64);
        if let Some(dummies) = &p.dummies {
            metrics.insert("dummies".to_string(), dummies.len() as f64);
        }
        metrics.insert(
            "power_exact".to_string(),
            f64::from(u8::from(p.banzhaf.method.is_exact())),
        );
    }

    let explanation = explain(&Explain {
        config,
        seats,
        now: &now,
        outcome,
        settled,
        deadline_passed,
        waiting,
        weight_waiting,
        power,
        blocker: &blocker,
        eligible_weight,
    });

    Decision {
        outcome: outcome as i32,
        settled,
        support_share,
        member_results,
        blockers: seats
            .iter()
            .zip(&blocker)
            .filter(|&(_, &b)| b)
            .map(|(s, _)| member_name(s.voter.code))
            .collect(),
        pivotal_members: seats
            .iter()
            .zip(&pivotal)
            .filter(|&(_, &p)| p)
            .map(|(s, _)| member_name(s.voter.code))
            .collect(),
        explanation,
        metrics,
        ..Default::default()
    }
}

fn outcome_of(adopted: bool) -> Outcome {
    if adopted {
        Outcome::Adopted
    } else {
        Outcome::Rejected
    }
}

struct Explain<'a> {
    config: &'a Config,
    seats: &'a [Seat<'a>],
    now: &'a Tally,
    outcome: Outcome,
    settled: bool,
    deadline_passed: bool,
    waiting: usize,
    weight_waiting: u64,
    power: Option<&'a Result<PowerIndices, power::PowerError>>,
    blocker: &'a [bool],
    eligible_weight: u64,
}

/// `"1234567"` → `"1,234,567"`.
fn thousands(digits: &str) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn percent(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn names(seats: &[Seat<'_>], indices: impl IntoIterator<Item = usize>) -> String {
    indices
        .into_iter()
        .map(|i| seats[i].name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn explain(e: &Explain<'_>) -> Vec<String> {
    let config = e.config;
    let now = e.now;
    let n = e.seats.len();
    let mut lines = Vec::new();

    let unit = match config.basis {
        WeightBasis::Equal => String::new(),
        _ if config.weight_unit == 1.0 => String::new(),
        _ => format!(", in units of {}", config.weight_unit),
    };
    lines.push(format!(
        "Weighted vote of {n} eligible members, weights by {}{unit}: total weight {}.",
        config.basis.describe(),
        thousands(&e.eligible_weight.to_string())
    ));
    let mut rule = format!(
        "Rule: weight for {} {} of the counted weight",
        if config.strict { ">" } else { "≥" },
        percent(config.quota)
    );
    if config.member_quota > 0.0 {
        let _ = write!(
            rule,
            ", and members for ≥ {} of the counted members",
            percent(config.member_quota)
        );
    }
    if config.min_blocking > 0 {
        let _ = write!(
            rule,
            "; a blocking minority needs at least {} members",
            config.min_blocking
        );
    }
    rule.push_str(match config.abstention {
        Abstention::Against => "; abstentions count as not in favour.",
        Abstention::Excluded => "; abstainers are left out of the count.",
    });
    lines.push(rule);
    if e.eligible_weight == 0 {
        lines.push(
            "Every eligible member has weight 0: any supported proposal reaches the weight quota."
                .to_string(),
        );
    }

    let count = |c: Choice| e.seats.iter().filter(|s| s.cast == c).count();
    let weight = |c: Choice| -> u64 {
        e.seats
            .iter()
            .filter(|s| s.cast == c)
            .map(|s| s.weight)
            .sum()
    };
    let mut tally_line = format!(
        "Ballots: {} for (weight {}), {} against ({}), {} abstaining ({})",
        count(Choice::Support),
        thousands(&weight(Choice::Support).to_string()),
        count(Choice::Object),
        thousands(&weight(Choice::Object).to_string()),
        count(Choice::Abstain),
        thousands(&weight(Choice::Abstain).to_string()),
    );
    if e.waiting > 0 {
        let _ = write!(
            tally_line,
            ", {} not voted ({})",
            e.waiting,
            thousands(&e.weight_waiting.to_string())
        );
    }
    tally_line.push('.');
    lines.push(tally_line);
    if e.waiting > 0 && e.deadline_passed {
        lines.push(format!(
            "The deadline has passed: the {} members who did not vote count as abstaining.",
            e.waiting
        ));
    }

    // The arithmetic of the provisional (or final) tally.
    let verdict = if now.adopted { "adopted" } else { "rejected" };
    let share = if now.total > 0 {
        now.weight_for as f64 / now.total as f64
    } else {
        0.0
    };
    let weight_ok = u128::from(now.weight_for) >= now.rule.quota_weight();
    let members_ok = now.members_for >= now.rule.min_members;
    let cannot_block = now.players - now.members_for < now.rule.min_blocking;
    let provisional = if e.waiting > 0 && !e.deadline_passed {
        "so far "
    } else {
        ""
    };
    let mut arithmetic = format!(
        "Weight for {} of {} ({}) {} quota {} ({} needed)",
        thousands(&now.weight_for.to_string()),
        thousands(&now.total.to_string()),
        percent(share),
        if weight_ok { "≥" } else { "<" },
        percent(config.quota),
        thousands(&now.rule.quota_weight().to_string()),
    );
    if config.member_quota > 0.0 || now.members_for == 0 {
        let _ = write!(
            arithmetic,
            "; members for {} of {} {} the {} needed",
            now.members_for,
            now.players,
            if members_ok { "≥" } else { "<" },
            now.rule.min_members
        );
    }
    if cannot_block {
        let _ = write!(
            arithmetic,
            "; only {} counted members are not in favour, fewer than the blocking minority of {}",
            now.players - now.members_for,
            now.rule.min_blocking
        );
    }
    let _ = write!(arithmetic, ": {provisional}{verdict}.");
    lines.push(arithmetic);

    match (e.outcome, e.settled) {
        (Outcome::Pending, _) => lines.push(format!(
            "Pending: the {} members who have not voted (weight {}) can still decide it before \
             the deadline.",
            e.waiting,
            thousands(&e.weight_waiting.to_string())
        )),
        (Outcome::Adopted, true) if e.waiting > 0 && !e.deadline_passed => lines.push(format!(
            "Adopted already: even if the {} members who have not voted all object, the quota \
             is met.",
            e.waiting
        )),
        (Outcome::Rejected, true) if e.waiting > 0 && !e.deadline_passed => lines.push(format!(
            "Rejected already: even if the {} members who have not voted all support, the quota \
             cannot be met.",
            e.waiting
        )),
        _ => {}
    }

    let blockers: Vec<usize> = (0..n).filter(|&i| e.blocker[i]).collect();
    if !blockers.is_empty() {
        lines.push(format!(
            "Blocked by the objection of a veto player: {}.",
            names(e.seats, blockers)
        ));
    }

    match e.power {
        None => {}
        Some(Ok(p)) => {
            // By monotonicity something can win iff all the members together win.
            let all_members = e.seats.iter().map(|s| u128::from(s.weight)).sum();
            if !p.veto_players.is_empty()
                && p.veto_players.len() == n
                && !config.rule(n, e.eligible_weight).wins(n, n, all_members)
            {
                lines.push(
                    "No coalition of the eligible members can reach the quota: nothing can be \
                     adopted under this rule."
                        .to_string(),
                );
            } else {
                if let Some(d) = p.dictator {
                    lines.push(format!(
                        "Dictator: {} wins alone and belongs to every winning coalition.",
                        e.seats[d].name()
                    ));
                } else if !p.veto_players.is_empty() {
                    lines.push(format!(
                        "Veto players (in every winning coalition): {}.",
                        names(e.seats, p.veto_players.iter().copied())
                    ));
                }
                if let Some(dummies) = p.dummies.as_ref().filter(|d| !d.is_empty()) {
                    lines.push(format!(
                        "Dummies (never decisive): {}.",
                        names(e.seats, dummies.iter().copied())
                    ));
                }
            }
            let (label, key): (&str, &[f64]) = match &p.shapley_shubik {
                Some(ss) => ("Shapley-Shubik / Banzhaf", ss),
                None => ("Banzhaf", &p.banzhaf),
            };
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| {
                key[b]
                    .total_cmp(&key[a])
                    .then(e.seats[b].weight.cmp(&e.seats[a].weight))
                    .then(a.cmp(&b))
            });
            let top: Vec<String> = order
                .iter()
                .take(5)
                .map(|&i| match &p.shapley_shubik {
                    Some(ss) => format!(
                        "{} {} / {}",
                        e.seats[i].name(),
                        percent(ss[i]),
                        percent(p.banzhaf[i])
                    ),
                    None => format!("{} {}", e.seats[i].name(), percent(p.banzhaf[i])),
                })
                .collect();
            lines.push(format!(
                "Voting power ({label}), largest first: {}.",
                top.join("; ")
            ));
            let total = if n < 128 {
                thousands(&(1u128 << n).to_string())
            } else {
                format!("2^{n}")
            };
            match &p.winning_coalitions {
                Some(w) => lines.push(format!(
                    "{} of {total} coalitions win (Coleman power to act {}).",
                    thousands(&w.to_string()),
                    percent(p.coleman_power)
                )),
                None => lines.push(format!(
                    "About {} of the {total} coalitions win (Coleman power to act, estimated).",
                    percent(p.coleman_power)
                )),
            }
            if let power::Method::MonteCarlo {
                samples,
                hoeffding_95,
                ..
            } = [&p.banzhaf]
                .into_iter()
                .chain(&p.shapley_shubik)
                .chain(&p.johnston)
                .map(|x| x.method)
                .find(|m| !m.is_exact())
                .unwrap_or(power::Method::Exact)
            {
                lines.push(format!(
                    "Some indices are Monte Carlo estimates from {} samples (each share within \
                     ±{:.4} at 95% confidence).",
                    thousands(&samples.to_string()),
                    hoeffding_95
                ));
            }
        }
        Some(Err(err)) => lines.push(format!("Power indices not computed: {err}.")),
    }
    if let Some(Ok(p)) = e.power {
        for note in &p.not_computed {
            lines.push(format!("Not computed: {note}."));
        }
    }
    lines
}

#[cfg(test)]
mod tests;
