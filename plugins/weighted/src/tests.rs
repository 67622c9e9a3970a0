//! Unit tests of the policy logic, on requests built in code, and the NATO figures.

use std::collections::HashMap;
use std::time::Instant;

use accord_policy_sdk::descriptor::validate_descriptor;
use accord_policy_sdk::proto::{
    Ballot, Choice, Contribution, Decision, DecisionRequest, Member, MemberStatus, Mission,
    Outcome, Proposal,
};
use accord_policy_sdk::request::member_name;
use accord_policy_sdk::selftest::{sample_request, self_test_request};
use accord_policy_sdk::{DecisionPolicy, PolicyError};
use prost_types::Timestamp;

use super::*;

const SPENDING: &str = "defence_expenditure_usd_mn";

fn member(code: &str, spending: f64) -> Member {
    Member {
        name: member_name(code),
        code: code.to_string(),
        display_name: format!("{code} land"),
        status: MemberStatus::Active as i32,
        attributes: HashMap::from([(SPENDING.to_string(), spending)]),
        ..Default::default()
    }
}

/// Members with the given spending weights, ballots by code, parameters; `now` before or after
/// the deadline.
fn request(
    members: &[(&str, f64)],
    ballots: &[(&str, Choice)],
    parameters: &[(&str, &str)],
    deadline_passed: bool,
) -> DecisionRequest {
    DecisionRequest {
        proposal: Some(Proposal {
            name: "proposals/1".to_string(),
            deadline: Some(Timestamp {
                seconds: 1_000,
                nanos: 0,
            }),
            ..Default::default()
        }),
        members: members.iter().map(|&(c, w)| member(c, w)).collect(),
        ballots: ballots
            .iter()
            .map(|&(code, choice)| Ballot {
                member: member_name(code),
                choice: choice as i32,
                ..Default::default()
            })
            .collect(),
        parameters: parameters
            .iter()
            .map(|&(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        seed: 0,
        now: Some(Timestamp {
            seconds: if deadline_passed { 2_000 } else { 500 },
            nanos: 0,
        }),
        mission: None,
        electorate_id: 0,
    }
}

fn decide(request: &DecisionRequest) -> Decision {
    WeightedPolicy.decide_message(request).expect("decides")
}

fn outcome(d: &Decision) -> Outcome {
    Outcome::try_from(d.outcome).unwrap()
}

fn result<'a>(d: &'a Decision, code: &str) -> &'a MemberResult {
    d.member_results
        .iter()
        .find(|r| r.member == member_name(code))
        .unwrap()
}

const EEC: [(&str, f64); 6] = [
    ("FRA", 4.0),
    ("DEU", 4.0),
    ("ITA", 4.0),
    ("BEL", 2.0),
    ("NLD", 2.0),
    ("LUX", 1.0),
];

use Choice::{Abstain, Object, Support};

#[test]
fn descriptor_is_valid_and_documented() {
    let d = WeightedPolicy.descriptor();
    validate_descriptor(&d).unwrap();
    assert_eq!(d.id, "weighted");
    assert!(d.parameters.iter().all(|p| !p.doc.is_empty()));
    let names: Vec<&str> = d.parameters.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "weight",
            "weight_unit",
            "quota",
            "member_quota",
            "min_blocking",
            "strict",
            "abstention",
            "indices",
            "power_method",
            "power_samples"
        ]
    );
}

#[test]
fn sdk_sample_requests_decide() {
    let d = decide(&self_test_request());
    assert_eq!(outcome(&d), Outcome::Adopted);
    assert!(d.settled);
    assert_eq!(d.support_share, 1.0);
    let a = decide(&sample_request(42));
    assert_eq!(a, decide(&sample_request(42)));
    assert!(!a.explanation.is_empty());
}

#[test]
fn eec_1958_powers_and_qualified_majority() {
    // The treaty's qualified majority: 12 of 17 votes.
    let params = [("quota", "0.7"), ("weight_unit", "1")]; // 0.7 × 17 = 11.9 → 12
    let ballots = [
        ("FRA", Support),
        ("DEU", Support),
        ("ITA", Support),
        ("BEL", Object),
        ("NLD", Object),
        ("LUX", Support),
    ];
    let d = decide(&request(&EEC, &ballots, &params, true));
    assert_eq!(outcome(&d), Outcome::Adopted);
    assert!(d.settled);
    assert_eq!(d.metrics["quota_weight"], 12.0);
    assert_eq!(d.metrics["weight_for"], 13.0);
    assert_eq!(d.metrics["coalitions_winning"], 14.0);
    assert!((d.support_share - 13.0 / 17.0).abs() < 1e-12);
    let fra = result(&d, "FRA");
    assert!((fra.metrics["banzhaf"] - 5.0 / 21.0).abs() < 1e-12);
    assert!((fra.metrics["banzhaf_absolute"] - 5.0 / 16.0).abs() < 1e-12);
    assert!((fra.metrics["shapley_shubik"] - 7.0 / 30.0).abs() < 1e-12);
    assert_eq!(fra.metrics["swings"], 10.0);
    assert!((result(&d, "BEL").metrics["shapley_shubik"] - 0.15).abs() < 1e-12);
    assert_eq!(result(&d, "LUX").metrics["swings"], 0.0);
    // Luxembourg is a dummy; each big three is pivotal here (13 − 4 = 9 < 12), Luxembourg not.
    assert!(
        d.explanation
            .iter()
            .any(|l| l.contains("Dummies") && l.contains("LUX land"))
    );
    assert_eq!(
        d.pivotal_members,
        ["members/FRA", "members/DEU", "members/ITA"]
    );
    assert!(d.blockers.is_empty());
    assert!(
        d.explanation
            .iter()
            .any(|l| l.starts_with("Weight for 13 of 17 (76.5%) ≥ quota 70.0%")),
        "{:#?}",
        d.explanation
    );
}

#[test]
fn default_quota_is_exactly_two_thirds() {
    // Total 3: two thirds is exactly 2.
    let members = [("AAA", 1.0), ("BBB", 1.0), ("CCC", 1.0)];
    let d = decide(&request(
        &members,
        &[("AAA", Support), ("BBB", Support), ("CCC", Object)],
        &[],
        true,
    ));
    assert_eq!(outcome(&d), Outcome::Adopted);
    assert_eq!(d.metrics["quota_weight"], 2.0);
    // Strict: more than two thirds.
    let d = decide(&request(
        &members,
        &[("AAA", Support), ("BBB", Support), ("CCC", Object)],
        &[("strict", "true")],
        true,
    ));
    assert_eq!(outcome(&d), Outcome::Rejected);
    assert_eq!(d.metrics["quota_weight"], 3.0);
}

#[test]
fn pending_until_certain_before_the_deadline() {
    let members = [("BIG", 60.0), ("MID", 30.0), ("SML", 10.0)];
    // 60 of 100 for, quota 2/3 (67): the others can still decide.
    let d = decide(&request(&members, &[("BIG", Support)], &[], false));
    assert_eq!(outcome(&d), Outcome::Pending);
    assert!(!d.settled);
    assert!(d.explanation.iter().any(|l| l.starts_with("Pending")));
    // Reaching 67 is certain once MID supports too.
    let d = decide(&request(
        &members,
        &[("BIG", Support), ("MID", Support)],
        &[],
        false,
    ));
    assert_eq!(outcome(&d), Outcome::Adopted);
    assert!(d.settled);
    assert!(
        d.explanation
            .iter()
            .any(|l| l.starts_with("Adopted already"))
    );
    // BIG objects: 40 is all the rest can gather.
    let d = decide(&request(&members, &[("BIG", Object)], &[], false));
    assert_eq!(outcome(&d), Outcome::Rejected);
    assert!(d.settled);
    assert_eq!(d.blockers, ["members/BIG"]);
    assert!(result(&d, "BIG").blocker);
    assert_eq!(
        Choice::try_from(result(&d, "MID").counted_choice).unwrap(),
        Choice::Unspecified
    );
    // After the deadline, MID and SML have abstained: 60 < 67.
    let d = decide(&request(&members, &[("BIG", Support)], &[], true));
    assert_eq!(outcome(&d), Outcome::Rejected);
    assert!(d.settled);
    assert_eq!(
        Choice::try_from(result(&d, "MID").counted_choice).unwrap(),
        Choice::Abstain
    );
    assert!(
        d.explanation
            .iter()
            .any(|l| l.contains("deadline has passed"))
    );
    // Either MID or SML joining would have carried it; BIG leaving it cannot matter.
    assert_eq!(d.pivotal_members, ["members/MID", "members/SML"]);
}

#[test]
fn abstention_against_or_excluded() {
    let members = [("AAA", 50.0), ("BBB", 30.0), ("CCC", 20.0)];
    let ballots = [("AAA", Support), ("BBB", Abstain), ("CCC", Object)];
    // Against: 50 of 100 < 67.
    let d = decide(&request(&members, &ballots, &[], true));
    assert_eq!(outcome(&d), Outcome::Rejected);
    assert_eq!(d.metrics["weight_total"], 100.0);
    assert_eq!(d.support_share, 0.5);
    // Excluded: 50 of 70 = 71% ≥ 67%.
    let d = decide(&request(
        &members,
        &ballots,
        &[("abstention", "excluded")],
        true,
    ));
    assert_eq!(outcome(&d), Outcome::Adopted);
    assert_eq!(d.metrics["weight_total"], 70.0);
    assert!((d.support_share - 50.0 / 70.0).abs() < 1e-12);
    assert_eq!(d.metrics["members_counted"], 2.0);
    // Before the deadline, with CCC silent, excluded abstentions: the worst case (CCC objects)
    // gives 50/70 — adopted already.
    let d = decide(&request(
        &members,
        &[("AAA", Support), ("BBB", Abstain)],
        &[("abstention", "excluded")],
        false,
    ));
    assert_eq!(outcome(&d), Outcome::Adopted);
    assert!(d.settled);
    // Everybody abstains: nothing is adopted without a supporter.
    let d = decide(&request(
        &members,
        &[("AAA", Abstain), ("BBB", Abstain), ("CCC", Abstain)],
        &[("abstention", "excluded")],
        true,
    ));
    assert_eq!(outcome(&d), Outcome::Rejected);
    assert_eq!(d.support_share, 0.0);
}

#[test]
fn double_majority_and_blocking_minority() {
    // EU-like: 55% of members and 65% of weight; a blocking minority needs 4 members.
    let members = [
        ("AAA", 40.0),
        ("BBB", 30.0),
        ("CCC", 10.0),
        ("DDD", 10.0),
        ("EEE", 5.0),
        ("FFF", 5.0),
    ];
    let params = [
        ("quota", "0.65"),
        ("member_quota", "0.55"),
        ("min_blocking", "4"),
    ];
    // AAA and BBB: 70% of the weight but 2 of 6 members (< 4 needed), and the four others can
    // block.
    let d = decide(&request(
        &members,
        &[
            ("AAA", Support),
            ("BBB", Support),
            ("CCC", Object),
            ("DDD", Object),
            ("EEE", Object),
            ("FFF", Object),
        ],
        &params,
        true,
    ));
    assert_eq!(outcome(&d), Outcome::Rejected);
    assert_eq!(d.metrics["member_quota_members"], 4.0);
    // With CCC and DDD too: 90%, 4 members.
    let mut ballots = vec![
        ("AAA", Support),
        ("BBB", Support),
        ("CCC", Support),
        ("DDD", Support),
        ("EEE", Object),
        ("FFF", Object),
    ];
    let d = decide(&request(&members, &ballots, &params, true));
    assert_eq!(outcome(&d), Outcome::Adopted);
    // The four small ones against AAA and BBB: 30% of the weight, but only two members are not
    // in favour, fewer than a blocking minority.
    ballots = vec![
        ("AAA", Object),
        ("BBB", Object),
        ("CCC", Support),
        ("DDD", Support),
        ("EEE", Support),
        ("FFF", Support),
    ];
    let d = decide(&request(&members, &ballots, &params, true));
    assert_eq!(outcome(&d), Outcome::Adopted);
    assert!(
        d.explanation
            .iter()
            .any(|l| l.contains("fewer than the blocking minority of 4")),
        "{:#?}",
        d.explanation
    );
    // Power of the rule: nobody has a veto, the indices sum to 1.
    let sum: f64 = d
        .member_results
        .iter()
        .map(|r| r.metrics["shapley_shubik"])
        .sum();
    assert!((sum - 1.0).abs() < 1e-12);
}

#[test]
fn weights_from_troops_population_and_equal() {
    let mut r = request(
        &[("AAA", 0.0), ("BBB", 0.0), ("CCC", 0.0)],
        &[("AAA", Support), ("BBB", Object), ("CCC", Object)],
        &[("weight", "troops")],
        true,
    );
    let err = WeightedPolicy.decide_message(&r).unwrap_err();
    assert!(matches!(err, PolicyError::InvalidRequest(ref m) if m.contains("mission")));
    r.mission = Some(Mission {
        name: "missions/KFOR".to_string(),
        contributions: vec![
            Contribution {
                member: member_name("AAA"),
                troops: 700,
            },
            Contribution {
                member: member_name("BBB"),
                troops: 200,
            },
            Contribution {
                member: member_name("AAA"),
                troops: 100,
            },
        ],
        ..Default::default()
    });
    let d = decide(&r);
    assert_eq!(result(&d, "AAA").weight, 800.0);
    assert_eq!(result(&d, "CCC").weight, 0.0);
    assert_eq!(outcome(&d), Outcome::Adopted); // 800 of 1000
    // Equal weights: 1 of 3.
    r.parameters
        .insert("weight".to_string(), "equal".to_string());
    let d = decide(&r);
    assert_eq!(result(&d, "AAA").weight, 1.0);
    assert_eq!(outcome(&d), Outcome::Rejected);
    // Population in units of 0.5 million, missing attribute = 0.
    r.members[0]
        .attributes
        .insert("population_mn".to_string(), 10.2);
    r.members[1]
        .attributes
        .insert("population_mn".to_string(), 2.4);
    r.parameters
        .insert("weight".to_string(), "population".to_string());
    r.parameters
        .insert("weight_unit".to_string(), "0.5".to_string());
    let d = decide(&r);
    assert_eq!(result(&d, "AAA").weight, 20.0);
    assert_eq!(result(&d, "BBB").weight, 5.0);
    assert_eq!(result(&d, "CCC").weight, 0.0);
    assert_eq!(result(&d, "AAA").metrics["weight_value"], 10.2);
}

#[test]
fn only_active_members_count() {
    let mut r = request(
        &[("AAA", 10.0), ("BBB", 10.0), ("CCC", 100.0)],
        &[("AAA", Support), ("BBB", Support), ("CCC", Object)],
        &[],
        true,
    );
    r.members[2].status = MemberStatus::Suspended as i32;
    let d = decide(&r);
    assert_eq!(outcome(&d), Outcome::Adopted);
    assert_eq!(d.member_results.len(), 2);
    r.members
        .iter_mut()
        .for_each(|m| m.status = MemberStatus::Invited as i32);
    assert!(matches!(
        WeightedPolicy.decide_message(&r).unwrap_err(),
        PolicyError::InvalidRequest(_)
    ));
}

#[test]
fn dictator_veto_and_dummies_are_named() {
    let members = [("BIG", 60.0), ("MID", 30.0), ("SML", 10.0)];
    let d = decide(&request(
        &members,
        &[("BIG", Support), ("MID", Object), ("SML", Object)],
        &[("quota", "0.51")],
        true,
    ));
    assert_eq!(outcome(&d), Outcome::Adopted);
    assert!(
        d.explanation
            .iter()
            .any(|l| l.starts_with("Dictator: BIG land"))
    );
    assert!(
        d.explanation
            .iter()
            .any(|l| l.starts_with("Dummies") && l.contains("MID land, SML land"))
    );
    assert_eq!(result(&d, "BIG").metrics["banzhaf"], 1.0);
    assert_eq!(d.pivotal_members, ["members/BIG"]);
    let d = decide(&request(
        &[("AAA", 50.0), ("BBB", 50.0)],
        &[("AAA", Support), ("BBB", Object)],
        &[("quota", "0.51")],
        true,
    ));
    assert!(
        d.explanation
            .iter()
            .any(|l| l.contains("Veto players") && l.contains("AAA land, BBB land"))
    );
    assert_eq!(d.blockers, ["members/BBB"]);
}

#[test]
fn bad_parameters_are_refused_by_name() {
    let members = [("AAA", 1.0)];
    for (name, value) in [
        ("quota", "0"),
        ("quota", "1.5"),
        ("member_quota", "-0.1"),
        ("weight_unit", "0"),
        ("weight_unit", "-1"),
        ("min_blocking", "-1"),
        ("weight", "tanks"),
        ("abstention", "maybe"),
        ("nonsense", "1"),
    ] {
        let err = WeightedPolicy
            .decide_message(&request(&members, &[], &[(name, value)], true))
            .unwrap_err();
        assert!(
            matches!(&err, PolicyError::InvalidParameter { name: n, .. } if n == name),
            "{name}={value}: {err:?}"
        );
    }
    // Negative attribute values are refused.
    let err = WeightedPolicy
        .decide_message(&request(&[("AAA", -5.0)], &[], &[], true))
        .unwrap_err();
    assert!(matches!(err, PolicyError::InvalidRequest(_)));
}

#[test]
fn too_fine_weights_still_decide_without_power_indices() {
    let members = [
        ("AAA", 3_000_000.123),
        ("BBB", 2_900_000.457),
        ("CCC", 1_000_000.789),
    ];
    let d = decide(&request(
        &members,
        &[("AAA", Support), ("BBB", Support), ("CCC", Object)],
        &[("weight_unit", "0.001")],
        true,
    ));
    assert_eq!(outcome(&d), Outcome::Adopted);
    // By default the indices are then estimated, and the explanation says so.
    assert!(
        d.explanation
            .iter()
            .any(|l| l.starts_with("Some indices are Monte Carlo estimates")),
        "{:?}",
        d.explanation
    );
    assert_eq!(d.metrics["power_exact"], 0.0);
    assert!(result(&d, "AAA").metrics.contains_key("banzhaf"));
    assert!(!result(&d, "AAA").metrics.contains_key("swings"));

    // Exact or nothing.
    let d = decide(&request(
        &members,
        &[("AAA", Support), ("BBB", Support), ("CCC", Object)],
        &[("weight_unit", "0.001"), ("power_method", "exact")],
        true,
    ));
    assert_eq!(outcome(&d), Outcome::Adopted);
    assert!(
        d.explanation
            .iter()
            .any(|l| l.starts_with("Power indices not computed"))
    );
    assert!(!result(&d, "AAA").metrics.contains_key("banzhaf"));
}

#[test]
fn indices_parameter_selects_the_indices() {
    let all: Vec<(&str, Choice)> = EEC.iter().map(|&(c, _)| (c, Support)).collect();
    let d = decide(&request(&EEC, &all, &[("indices", "none")], true));
    assert_eq!(outcome(&d), Outcome::Adopted);
    assert!(!result(&d, "FRA").metrics.contains_key("banzhaf"));
    assert!(!d.metrics.contains_key("coleman_power"));

    let d = decide(&request(
        &EEC,
        &all,
        &[("indices", "all"), ("quota", "0.7")],
        true,
    ));
    let fra = &result(&d, "FRA").metrics;
    assert!((fra["johnston"] - 0.25).abs() < 1e-12);
    assert!((fra["holler"] - 0.2).abs() < 1e-12);
    assert!((fra["deegan_packel"] - 5.0 / 24.0).abs() < 1e-12);
    assert!((fra["coleman_prevent"] - 5.0 / 7.0).abs() < 1e-12);
    assert_eq!(d.metrics["coalitions_minimal_winning"], 4.0);

    let d = decide(&request(
        &EEC,
        &all,
        &[("indices", "banzhaf, holler")],
        true,
    ));
    assert!(result(&d, "FRA").metrics.contains_key("holler"));
    assert!(!result(&d, "FRA").metrics.contains_key("shapley_shubik"));

    let err = WeightedPolicy
        .decide_message(&request(&EEC, &all, &[("indices", "gini")], true))
        .unwrap_err();
    assert!(matches!(err, PolicyError::InvalidParameter { ref name, .. } if name == "indices"));
}

/// Without indices the decision is linear in the number of members (the issue reported
/// ~30 s for 100,000 members: the pivotal members were found by re-tallying once per member).
#[test]
fn ten_thousand_members_decide_without_indices() {
    // How fast is measured in the benchmarks (`bench-report scale`), not here.
    let codes: Vec<String> = (0..10_000).map(|i| format!("M{i:05}")).collect();
    let members: Vec<(&str, f64)> = codes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), 1.0 + (i % 7) as f64))
        .collect();
    let ballots: Vec<(&str, Choice)> = codes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), if i % 4 == 0 { Object } else { Support }))
        .collect();
    let r = request(&members, &ballots, &[("indices", "none")], true);
    let d = decide(&r);
    assert_eq!(d.member_results.len(), 10_000);
    assert_eq!(outcome(&d), Outcome::Adopted);
    assert!(
        d.member_results
            .iter()
            .all(|r| !r.metrics.contains_key("banzhaf")),
        "no indices were asked for"
    );
}

/// The 32 allies from `data/nato/members.csv`, with every numeric column as an attribute.
fn nato_members() -> Vec<Member> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/nato/members.csv");
    let text = std::fs::read_to_string(path).expect("data/nato/members.csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(fields.len(), header.len(), "{line}");
            let mut m = member(fields[0], 0.0);
            m.display_name = fields[1].to_string();
            m.attributes = header
                .iter()
                .zip(&fields)
                .filter_map(|(h, v)| Some((h.to_string(), v.parse::<f64>().ok()?)))
                .collect();
            m
        })
        .collect()
}

#[test]
fn nato_allies_by_defence_spending() {
    let members = nato_members();
    assert_eq!(members.len(), 32);
    let request = DecisionRequest {
        members,
        ..request(&[], &[], &[], true)
    };
    let started = Instant::now();
    let d = decide(&request);
    let elapsed = started.elapsed();
    let total = d.metrics["weight_eligible"];
    let usa = result(&d, "USA");
    // Iceland has no spending figure: weight 0, a dummy.
    assert_eq!(result(&d, "ISL").weight, 0.0);
    assert_eq!(result(&d, "ISL").metrics["swings"], 0.0);
    // The US holds more than a third of the weight, so at 2/3 nothing passes without it.
    assert!(usa.weight > total / 3.0);
    assert!(
        d.explanation
            .iter()
            .any(|l| l.contains("Veto players") && l.contains("United States"))
    );
    // …but less than 2/3: it needs partners, and every coalition with it and ≥ q − w(US) more wins.
    assert!(usa.weight < d.metrics["quota_weight"]);
    println!("NATO 2024 defence spending, $1 m units, quota 2/3:");
    println!(
        "  total weight {total}, quota weight {}, winning coalitions {} (Coleman {:.6})",
        d.metrics["quota_weight"], d.metrics["coalitions_winning"], d.metrics["coleman_power"]
    );
    for code in ["USA", "DEU", "GBR", "FRA", "POL", "LUX", "ISL"] {
        let r = result(&d, code);
        println!(
            "  {code}: weight {:>9} ({:>6.3}% of total)  swings {:>12}  Banzhaf {:.6e}  absolute {:.6e}  Shapley-Shubik {:.6e}",
            r.weight,
            100.0 * r.weight / total,
            r.metrics["swings"],
            r.metrics["banzhaf"],
            r.metrics["banzhaf_absolute"],
            r.metrics["shapley_shubik"]
        );
    }
    // The exact indices alone (Banzhaf and Shapley–Shubik), timed without the decision around.
    let weights: Vec<u64> = d.member_results.iter().map(|r| r.weight as u64).collect();
    let quota = (2 * weights.iter().sum::<u64>()).div_ceil(3);
    let started = Instant::now();
    let p = power::power_indices(&power::Game::weighted(weights, quota)).unwrap();
    let indices = started.elapsed();
    let swings = p.swings.as_ref().unwrap();
    assert_eq!(swings[31].to_f64().unwrap(), usa.metrics["swings"]);
    println!(
        "  decision in {elapsed:?}, power indices alone in {indices:?} (this build's profile)"
    );
    for line in &d.explanation {
        println!("  | {line}");
    }
    let sum: f64 = d
        .member_results
        .iter()
        .map(|r| r.metrics["shapley_shubik"])
        .sum();
    assert!((sum - 1.0).abs() < 1e-9);
    // US swings are the winning coalitions: it is a swing in every one.
    assert_eq!(usa.metrics["swings"], d.metrics["coalitions_winning"]);
}

/// Issue 10: a large electorate (20,000 members, no indices) decides as its tallies say: the
/// outcome, the tallies and the pivotal members equal a reference computed here in one pass.
#[test]
fn a_large_electorate_decides_as_its_tallies_say() {
    const N: usize = 20_000;
    let codes: Vec<String> = (0..N).map(|i| format!("L{i:05}")).collect();
    let weight = |i: usize| 1 + (i * 7919 % 13) as u64;
    let choice = |i: usize| match i % 5 {
        0 => Some(Object),
        1 => Some(Abstain),
        2 => None,
        _ => Some(Support),
    };
    let members: Vec<(&str, f64)> = codes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), weight(i) as f64))
        .collect();
    let ballots: Vec<(&str, Choice)> = codes
        .iter()
        .enumerate()
        .filter_map(|(i, c)| choice(i).map(|ch| (c.as_str(), ch)))
        .collect();
    let d = decide(&request(&members, &ballots, &[("indices", "none")], true));

    // Reference: abstainers and (after the deadline) non-voters count against; quota ⅔.
    let total: u64 = (0..N).map(weight).sum();
    let sum = |pred: &dyn Fn(Option<Choice>) -> bool| -> u64 {
        (0..N).filter(|&i| pred(choice(i))).map(weight).sum()
    };
    let weight_for = sum(&|c| c == Some(Support));
    let quota = (2 * total).div_ceil(3);
    let adopted = weight_for >= quota;
    assert_eq!(
        outcome(&d),
        if adopted {
            Outcome::Adopted
        } else {
            Outcome::Rejected
        }
    );
    assert_eq!(d.metrics["weight_for"], weight_for as f64);
    assert_eq!(d.metrics["weight_total"], total as f64);
    assert_eq!(d.metrics["quota_weight"], quota as f64);
    assert_eq!(
        d.metrics["weight_against"],
        sum(&|c| c == Some(Object)) as f64
    );
    assert_eq!(
        d.metrics["weight_abstain"],
        sum(&|c| c == Some(Abstain)) as f64
    );
    assert_eq!(d.metrics["weight_not_voted"], sum(&|c| c.is_none()) as f64);
    assert_eq!(d.metrics["members_for"], (2 * N / 5) as f64);
    assert_eq!(d.member_results.len(), N);
    // Pivotal: a supporter whose switch drops the weight below the quota, or a member not in
    // favour whose support would lift it to the quota.
    let pivotal: Vec<String> = (0..N)
        .filter(|&i| {
            if choice(i) == Some(Support) {
                adopted && weight_for - weight(i) < quota
            } else {
                !adopted && weight_for + weight(i) >= quota
            }
        })
        .map(|i| member_name(&codes[i]))
        .collect();
    assert_eq!(d.pivotal_members, pivotal);
    assert!(d.blockers.is_empty(), "nobody has a veto among 20,000");
}

/// Issue 10: deciding the same electorate under the same rule again (the power analysis from the
/// cache, see `cache.rs`) gives the same decision, whatever the ballots.
#[test]
fn the_same_electorate_and_rule_reuse_the_power_analysis() {
    let codes: Vec<String> = (0..300).map(|i| format!("K{i:04}")).collect();
    let members: Vec<(&str, f64)> = codes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), 3.0 + (i % 11) as f64))
        .collect();
    let ballots: Vec<(&str, Choice)> = codes.iter().map(|c| (c.as_str(), Support)).collect();
    let r = request(
        &members,
        &ballots,
        &[("power_samples", "2000"), ("power_method", "monte_carlo")],
        true,
    );
    let first = decide(&r);
    assert_eq!(decide(&r), first);
    // The same electorate with other ballots: the same game, the same indices.
    let mut other = r.clone();
    other.ballots.truncate(100);
    let d = decide(&other);
    assert_eq!(
        result(&d, "K0007").metrics["banzhaf"],
        result(&first, "K0007").metrics["banzhaf"]
    );
}
