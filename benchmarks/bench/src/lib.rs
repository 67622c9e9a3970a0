//! The cases accord's benchmarks measure, shared by the criterion benches (`benches/`) and the
//! one-table report (`src/bin/bench-report.rs`), so that both time exactly the same work.
//!
//! - [`end_nmi_request`]: the 32 allies deciding to end NATO Mission Iraq on 2026-09-30.
//! - [`release_library`]: the release-built policy libraries, loaded through the real host.
//! - [`nato_spending_game`], [`synthetic_game`]: weighted voting games for the power indices.
//! - [`nato_pressure_scenario`], [`synthetic_pressure_scenario`]: pressure-model scenarios.
//! - [`synthetic_request`]: a decision request with any number of members (issue 10's large
//!   electorates).
//! - [`timing`]: the small timer the report uses (warm-up, batches, median).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use accord_policy_sdk::host::PolicyLibrary;
use accord_policy_sdk::proto::{
    Ballot, Choice, Date, Decision, DecisionRequest, EndMission, Member, MemberStatus, Procedure,
    Proposal, ProposalState, proposal::Action,
};
use accord_policy_sdk::request::member_name;
use accord_pressure::model::{
    Ally, BaseRule, Dynamics, Profile, Scenario, Stance, default_susceptibility,
};
use accord_weighted::power::Game;
use prost_types::Timestamp;

pub mod timing;

/// The allies that support ending the mission besides the United States (salience 0.3).
pub const EARLY_SUPPORTERS: [&str; 4] = ["POL", "EST", "LVA", "GRC"];
/// Salience of the United States' support.
pub const USA_SALIENCE: f64 = 0.8;
/// Salience of the four other supporters.
pub const SUPPORTER_SALIENCE: f64 = 0.3;
/// Salience of the 27 objectors.
pub const OBJECTOR_SALIENCE: f64 = 0.4;
/// The request's seed.
pub const SEED: u64 = 2026;
/// 2026-03-01T00:00:00Z, the proposal's deadline.
const DEADLINE: i64 = 1_772_323_200;
/// 2026-03-02T00:00:00Z, the moment of evaluation: a day after the deadline.
const NOW: i64 = 1_772_409_600;
/// 2026-02-15T00:00:00Z, when the ballots were cast.
const CAST: i64 = 1_771_113_600;

fn timestamp(seconds: i64) -> Option<Timestamp> {
    Some(Timestamp { seconds, nanos: 0 })
}

/// The ballot of ally `code` on ending NATO Mission Iraq: the USA supports (salience 0.8), so do
/// Poland, Estonia, Latvia and Greece (0.3); the 27 others object (0.4).
pub fn end_nmi_ballot(code: &str) -> (Choice, f64) {
    if code == "USA" {
        (Choice::Support, USA_SALIENCE)
    } else if EARLY_SUPPORTERS.contains(&code) {
        (Choice::Support, SUPPORTER_SALIENCE)
    } else {
        (Choice::Object, OBJECTOR_SALIENCE)
    }
}

/// The 32 allies (from `accord_store::dataset`) deciding, after the deadline, whether to end NATO
/// Mission Iraq on 2026-09-30, sponsored by the USA, with the ballots of [`end_nmi_ballot`] and
/// the mission itself in the request, as the server builds it. No parameters; seed [`SEED`].
pub fn end_nmi_request() -> DecisionRequest {
    let members = accord_store::dataset::members();
    assert_eq!(members.len(), 32, "the dataset should hold the 32 allies");
    let mission = accord_store::dataset::missions()
        .into_iter()
        .find(|m| m.id == "NMI")
        .expect("the dataset has NATO Mission Iraq (NMI)");
    let ballots = members
        .iter()
        .map(|m| {
            let (choice, salience) = end_nmi_ballot(&m.code);
            Ballot {
                name: String::new(),
                member: member_name(&m.code),
                choice: choice as i32,
                position: None,
                salience: Some(salience),
                reason: String::new(),
                cast_time: timestamp(CAST),
                ..Default::default()
            }
        })
        .collect();
    DecisionRequest {
        proposal: Some(Proposal {
            name: "proposals/1".to_string(),
            title: "End NATO Mission Iraq by 30 September 2026".to_string(),
            action: Some(Action::EndMission(EndMission {
                mission: mission.name.clone(),
                end_date: Some(Date {
                    year: 2026,
                    month: 9,
                    day: 30,
                }),
            })),
            sponsor: member_name("USA"),
            procedure: Procedure::OpenVote as i32,
            state: ProposalState::Open as i32,
            deadline: timestamp(DEADLINE),
            create_time: timestamp(CAST),
            ..Default::default()
        }),
        members,
        ballots,
        parameters: HashMap::new(),
        seed: SEED,
        now: timestamp(NOW),
        mission: Some(mission),
        electorate_id: 0,
    }
}

/// `request` with the given parameters set.
pub fn with_parameters(
    mut request: DecisionRequest,
    parameters: &[(&str, &str)],
) -> DecisionRequest {
    for (name, value) in parameters {
        request
            .parameters
            .insert((*name).to_string(), (*value).to_string());
    }
    request
}

/// Whether two decisions are the same apart from the policy identity (which only the host sets).
pub fn same_decision(a: &Decision, b: &Decision) -> bool {
    let strip = |d: &Decision| Decision {
        policy: None,
        ..d.clone()
    };
    strip(a) == strip(b)
}

/// The directory of the cargo profile this binary was built in: `target/release` for
/// `target/release/deps/boundary-…` (a bench) and for `target/release/bench-report` (a binary).
fn profile_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let dir = exe
        .parent()
        .ok_or_else(|| format!("{} has no directory", exe.display()))?;
    Ok(
        if dir
            .file_name()
            .is_some_and(|n| n == "deps" || n == "examples")
        {
            dir.parent().unwrap_or(dir).to_path_buf()
        } else {
            dir.to_path_buf()
        },
    )
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path)
        .ok()
        .filter(|m| m.is_file())?
        .modified()
        .ok()
}

/// The release-built policy library `lib{name}.so` of this build, for benchmarking the plugin
/// boundary: found with [`accord_policy_sdk::conformance::locate_library`], or in
/// `target/release/deps`, where cargo leaves the `cdylib` of a dependency (only the libraries of
/// the packages it was asked to build are copied up to `target/release`); the newest wins.
///
/// Refuses — with a message saying what to run — an unoptimised benchmark binary, a binary that
/// is not in `target/release` (`cargo bench` and `--release` both build there), and a library
/// found anywhere else (a debug build, say).
pub fn release_library_path(name: &str) -> Result<PathBuf, String> {
    let hint = "run `cargo bench -p accord-bench` or `cargo run --release -p accord-bench --bin bench-report`";
    if cfg!(debug_assertions) {
        return Err(format!(
            "this benchmark binary is not optimised (debug assertions on): {hint}"
        ));
    }
    let profile = profile_dir()?;
    if profile.file_name().is_none_or(|n| n != "release") {
        return Err(format!(
            "this benchmark binary was built in {}, not in a release (bench-profile) target \
             directory: {hint}",
            profile.display()
        ));
    }
    let file = format!(
        "{}{name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let deps = profile.join("deps");
    let found = accord_policy_sdk::conformance::locate_library(name);
    let candidates = found
        .iter()
        .cloned()
        .chain([deps.join(&file), profile.join(&file)]);
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    for path in candidates {
        let Some(dir) = path.parent() else { continue };
        if dir != profile && dir != deps {
            continue;
        }
        if let Some(time) = modified(&path) {
            if best.as_ref().is_none_or(|(t, _)| time > *t) {
                best = Some((time, path));
            }
        }
    }
    best.map(|(_, p)| p).ok_or_else(|| match found {
        Some(other) => format!(
            "{file}: the only build found is {}, not the release build in {}: {hint}",
            other.display(),
            profile.display()
        ),
        None => format!(
            "{file} is not built in {} or {}: {hint}",
            profile.display(),
            deps.display()
        ),
    })
}

/// The release-built `accord-policy-runner` binary next to this benchmark (isolated mode), or a
/// message saying what to build.
pub fn release_runner_path() -> Result<PathBuf, String> {
    let profile = profile_dir()?;
    let runner = profile.join("accord-policy-runner");
    if cfg!(debug_assertions) || profile.file_name().is_none_or(|n| n != "release") {
        return Err(
            "the isolated-mode rows need a release build: run `cargo build --release \
             -p accord-policy-runner` and `cargo run --release -p accord-bench --bin bench-report`"
                .to_string(),
        );
    }
    if !runner.is_file() {
        return Err(format!(
            "{} is not built: run `cargo build --release -p accord-policy-runner`",
            runner.display()
        ));
    }
    Ok(runner)
}

/// Loads the release-built library `name` through the real host loader (handshake and
/// self-test), or panics with the reason.
pub fn release_library(name: &str) -> PolicyLibrary {
    let path = release_library_path(name).unwrap_or_else(|e| panic!("accord-bench: {e}"));
    PolicyLibrary::load(&path)
        .unwrap_or_else(|e| panic!("accord-bench: cannot load {}: {e}", path.display()))
}

/// Every ally's 2024 defence spending in US$ million (`defence_expenditure_usd_mn`; a missing
/// figure, Iceland's, counts as 0), in dataset order.
pub fn nato_spending_usd_mn() -> Vec<f64> {
    accord_store::dataset::members()
        .iter()
        .map(|m| {
            m.attributes
                .get("defence_expenditure_usd_mn")
                .copied()
                .unwrap_or(0.0)
        })
        .collect()
}

/// `⌈2W/3⌉`: the least weight that is at least two thirds of `total`.
pub fn two_thirds_quota(total: u64) -> u64 {
    (2 * total).div_ceil(3)
}

/// The 32 allies weighted by defence spending in units of `unit_usd_mn` million dollars
/// (weight = `round(spending / unit)`, as the `weighted` policy's `weight_unit`), quota ⅔ of the
/// total.
pub fn nato_spending_game(unit_usd_mn: f64) -> Game {
    let weights: Vec<u64> = nato_spending_usd_mn()
        .iter()
        .map(|s| (s / unit_usd_mn).round() as u64)
        .collect();
    let total = weights.iter().sum();
    Game::weighted(weights, two_thirds_quota(total))
}

/// SplitMix64: a small fixed generator, so that the synthetic cases never change.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi)`.
    pub fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

/// The seed of every synthetic case.
pub const SYNTHETIC_SEED: u64 = 0x00ac_c0d0;

/// A synthetic alliance of `members` players whose weights total about `total`: each weight is
/// drawn uniformly from `[0.5, 1.5)`, scaled so that the weights sum to `total`, rounded, and at
/// least 1. Quota ⅔ of the actual total. Fixed seed: the same game every run.
pub fn synthetic_game(members: usize, total: u64) -> Game {
    let mut rng = SplitMix64(SYNTHETIC_SEED ^ ((members as u64) << 32) ^ total);
    let raw: Vec<f64> = (0..members).map(|_| rng.between(0.5, 1.5)).collect();
    let sum: f64 = raw.iter().sum();
    let weights: Vec<u64> = raw
        .iter()
        .map(|x| ((x * total as f64 / sum).round() as u64).max(1))
        .collect();
    let actual = weights.iter().sum();
    Game::weighted(weights, two_thirds_quota(actual))
}

/// The default dynamics of the `pressure` policy: pressure 1, spread 0.5, at most 100 rounds.
pub const DEFAULT_DYNAMICS: Dynamics = Dynamics {
    pressure: 1.0,
    spread: 0.5,
    max_rounds: 100,
};

fn stance(choice: Choice) -> Option<Stance> {
    match choice {
        Choice::Support => Some(Stance::Support),
        Choice::Object => Some(Stance::Object),
        Choice::Abstain => Some(Stance::Abstain),
        Choice::Unspecified => None,
    }
}

/// The end-NMI request as the `pressure` policy reads it with its default parameters (lead USA,
/// default susceptibility, resistance = salience, unanimity): 27 dissenters. Built here with the
/// model's public API because the policy's own request reader is private; [`pressure_mapping_matches`]
/// checks that it gives the policy's answer.
pub fn nato_pressure_scenario() -> Scenario {
    let request = end_nmi_request();
    let lead = request
        .members
        .iter()
        .find(|m| m.code == "USA")
        .expect("the USA is an ally");
    let lead_gdp = lead.attributes.get("gdp_usd_bn").copied();
    let allies = request
        .members
        .iter()
        .map(|m| {
            let a = |k: &str| m.attributes.get(k).copied();
            let profile = Profile {
                us_troops_hosted: a("us_troops_hosted"),
                armed_forces_personnel_thousands: a("armed_forces_personnel_thousands"),
                defence_pct_gdp: a("defence_pct_gdp"),
                gdp_usd_bn: a("gdp_usd_bn"),
            };
            let (choice, salience) = end_nmi_ballot(&m.code);
            Ally {
                stance: stance(choice),
                susceptibility: default_susceptibility(&profile, lead_gdp, true).value,
                resistance: salience,
            }
        })
        .collect();
    Scenario {
        lead: Stance::Support,
        allies,
        dynamics: DEFAULT_DYNAMICS,
        rule: BaseRule::Unanimity,
    }
}

/// Checks that [`nato_pressure_scenario`] is what the policy decides: the model's adoption
/// probability and concede probabilities for `trials` trials equal those the linked-in
/// `PressurePolicy` reports for the end-NMI request with the same trials and seed.
pub fn pressure_mapping_matches(trials: u64) -> Result<(), String> {
    use accord_policy_sdk::DecisionPolicy;
    use accord_pressure::model::MonteCarlo;
    let trials_text = trials.to_string();
    let request = with_parameters(end_nmi_request(), &[("trials", &trials_text)]);
    let decision = accord_pressure::PressurePolicy
        .decide_message(&request)
        .map_err(|e| e.to_string())?;
    let forecast = nato_pressure_scenario()
        .monte_carlo(&MonteCarlo {
            trials,
            seed: SEED,
            threads: 1,
        })
        .map_err(|e| e.to_string())?;
    let policy = decision.metrics.get("adoption_probability").copied();
    if policy != Some(forecast.adoption_probability) {
        return Err(format!(
            "adoption probability: policy {policy:?}, model {}",
            forecast.adoption_probability
        ));
    }
    for (result, p) in decision
        .member_results
        .iter()
        .zip(&forecast.concede_probability)
    {
        let reported = result.metrics.get("concede_probability").copied();
        if reported.unwrap_or(0.0) != *p {
            return Err(format!(
                "{}: concede probability {reported:?} from the policy, {p} from the model",
                result.member
            ));
        }
    }
    Ok(())
}

/// The share of members that dissent in the synthetic pressure scenarios.
pub const SYNTHETIC_DISSENT: f64 = 0.8;

/// A synthetic alliance of `members` for the pressure model: member 0 leads and supports
/// (resistance 0.8); `round(0.8 · members)` of the others object, the rest support; each
/// susceptibility is drawn from `[0.1, 0.5)` and each resistance from `[0.2, 0.6)` with a fixed
/// seed. Default dynamics, unanimity.
pub fn synthetic_pressure_scenario(members: usize) -> Scenario {
    assert!(members >= 2, "a lead and at least one other member");
    let dissenters = ((SYNTHETIC_DISSENT * members as f64).round() as usize).min(members - 1);
    let mut rng = SplitMix64(SYNTHETIC_SEED ^ members as u64);
    let allies = (0..members)
        .map(|i| {
            let susceptibility = rng.between(0.1, 0.5);
            let resistance = rng.between(0.2, 0.6);
            if i == 0 {
                Ally {
                    stance: Some(Stance::Support),
                    susceptibility,
                    resistance: 0.8,
                }
            } else {
                Ally {
                    stance: Some(if i <= dissenters {
                        Stance::Object
                    } else {
                        Stance::Support
                    }),
                    susceptibility,
                    resistance,
                }
            }
        })
        .collect();
    Scenario {
        lead: Stance::Support,
        allies,
        dynamics: DEFAULT_DYNAMICS,
        rule: BaseRule::Unanimity,
    }
}

/// The code of synthetic member `i` (from 0): `"M00001"`, `"M00002"`, … (five digits at least).
pub fn synthetic_code(i: usize) -> String {
    format!("M{:05}", i + 1)
}

/// The choice of synthetic member `i` with random draw `u` in `[0, 1)`: member 0 (the sponsor
/// and the pressure policy's lead when `lead` = `M00001`) supports; of the others about 60 %
/// support, 25 % object, 10 % abstain and 5 % have not voted.
fn synthetic_choice(i: usize, u: f64) -> Option<Choice> {
    if i == 0 || u < 0.60 {
        Some(Choice::Support)
    } else if u < 0.85 {
        Some(Choice::Object)
    } else if u < 0.95 {
        Some(Choice::Abstain)
    } else {
        None
    }
}

/// A decision request of `members` synthetic members `M00001`, `M00002`, … (see
/// [`synthetic_code`]), all active, deciding after the deadline whether to end NATO Mission
/// Iraq, as in [`end_nmi_request`] but sponsored by `M00001`.
///
/// Each member has the attributes of `accord_store::dataset::members()` drawn with a fixed seed
/// (`population_mn` 0.3–80, `gdp_usd_bn` 10–4,000, `defence_expenditure_usd_mn` 100–90,000,
/// `defence_pct_gdp` 0.5–4, `defence_pct_gdp_2025e`, `armed_forces_personnel_thousands` 1–200,
/// and `us_troops_hosted` for one member in five) and the ballots of [`synthetic_choice`]
/// (salience 0.1–0.9; about 5 % have no ballot and count as abstaining after the deadline).
/// No parameters: the pressure policy needs `lead` = `M00001` ([`synthetic_lead`]). The same
/// request every run.
pub fn synthetic_request(members: usize) -> DecisionRequest {
    assert!(members >= 1, "at least one member");
    let mut request = end_nmi_request();
    let mut rng = SplitMix64(SYNTHETIC_SEED ^ 0x5ca1e ^ members as u64);
    let mut list = Vec::with_capacity(members);
    let mut ballots = Vec::with_capacity(members);
    for i in 0..members {
        let code = synthetic_code(i);
        let mut attributes = HashMap::new();
        let mut put = |key: &str, value: f64| {
            attributes.insert(key.to_string(), (value * 100.0).round() / 100.0);
        };
        put("population_mn", rng.between(0.3, 80.0));
        put("gdp_usd_bn", rng.between(10.0, 4_000.0));
        put("defence_expenditure_usd_mn", rng.between(100.0, 90_000.0));
        let pct = rng.between(0.5, 4.0);
        put("defence_pct_gdp", pct);
        put("defence_pct_gdp_2025e", pct + rng.between(0.0, 0.5));
        put("armed_forces_personnel_thousands", rng.between(1.0, 200.0));
        if rng.unit() < 0.2 {
            put("us_troops_hosted", rng.between(100.0, 35_000.0).round());
        }
        let choice = synthetic_choice(i, rng.unit());
        let salience = rng.between(0.1, 0.9);
        if let Some(choice) = choice {
            ballots.push(Ballot {
                member: member_name(&code),
                choice: choice as i32,
                salience: Some((salience * 100.0).round() / 100.0),
                cast_time: timestamp(CAST),
                ..Default::default()
            });
        }
        list.push(Member {
            name: member_name(&code),
            display_name: format!("Member {}", i + 1),
            accession_year: 1949 + (i % 76) as i32,
            status: MemberStatus::Active as i32,
            region: [
                "North America",
                "Western Europe",
                "Northern Europe",
                "Eastern Europe",
            ][i % 4]
                .to_string(),
            attributes,
            code,
        });
    }
    if let Some(proposal) = request.proposal.as_mut() {
        proposal.sponsor = member_name(&synthetic_code(0));
    }
    request.members = list;
    request.ballots = ballots;
    request
}

/// The pressure policy's `lead` parameter for [`synthetic_request`]: member 0.
pub fn synthetic_lead() -> (&'static str, &'static str) {
    ("lead", "M00001")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_nmi_request_has_the_stated_ballots() {
        let request = end_nmi_request();
        let count = |c: Choice| {
            request
                .ballots
                .iter()
                .filter(|b| b.choice == c as i32)
                .count()
        };
        assert_eq!(request.ballots.len(), 32);
        assert_eq!(count(Choice::Support), 5);
        assert_eq!(count(Choice::Object), 27);
        assert!(accord_policy_sdk::request::deadline_passed(&request));
    }

    #[test]
    fn the_nato_game_is_the_documented_one() {
        // docs/policies.md: total 1,474,401, quota weight 982,934 at $1 m units.
        let game = nato_spending_game(1.0);
        assert_eq!(game.total_weight(), 1_474_401);
        assert_eq!(game.rule.quota, 982_934);
    }

    #[test]
    fn synthetic_cases_are_what_they_say() {
        let game = synthetic_game(64, 10_000);
        assert_eq!(game.players(), 64);
        let total = game.total_weight() as f64;
        assert!((total - 10_000.0).abs() <= 64.0, "{total}");
        let scenario = synthetic_pressure_scenario(128);
        assert_eq!(scenario.dissenters().len(), 102);
        assert_eq!(synthetic_pressure_scenario(8).dissenters().len(), 6);
    }

    #[test]
    fn the_synthetic_request_has_the_stated_members_and_ballots() {
        let request = synthetic_request(2_000);
        assert_eq!(request.members.len(), 2_000);
        assert_eq!(request.members[0].code, "M00001");
        assert_eq!(request.members[1_999].code, "M02000");
        let count = |c: Choice| {
            request
                .ballots
                .iter()
                .filter(|b| b.choice == c as i32)
                .count()
        };
        let share = |k: usize| k as f64 / 2_000.0;
        assert!((share(count(Choice::Support)) - 0.60).abs() < 0.05);
        assert!((share(count(Choice::Object)) - 0.25).abs() < 0.05);
        assert!((share(count(Choice::Abstain)) - 0.10).abs() < 0.05);
        assert!((share(2_000 - request.ballots.len()) - 0.05).abs() < 0.03);
        assert_eq!(request.ballots[0].choice, Choice::Support as i32);
        assert!(
            request
                .members
                .iter()
                .all(|m| m.attributes.contains_key("defence_expenditure_usd_mn"))
        );
        assert_eq!(synthetic_request(2_000), request, "fixed seed");
    }

    #[test]
    fn the_pressure_scenario_is_what_the_policy_reads() {
        assert_eq!(nato_pressure_scenario().dissenters().len(), 27);
        pressure_mapping_matches(5_000).unwrap();
    }
}
