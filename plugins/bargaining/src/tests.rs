//! Tests of the plugin's `decide` on requests built in code.

use std::collections::HashMap;

use accord_policy_sdk::descriptor::validate_descriptor;
use accord_policy_sdk::proto::{
    Ballot, Date, DecisionRequest, EndMission, Member, MemberStatus, Position, Proposal,
    ResizeMission, position, proposal::Action,
};
use accord_policy_sdk::selftest::{sample_request, self_test_request};

use super::*;

fn decide(request: &DecisionRequest) -> Result<Decision, PolicyError> {
    Bargaining.decide_message(request)
}

fn with(mut request: DecisionRequest, params: &[(&str, &str)]) -> DecisionRequest {
    for (k, v) in params {
        request.parameters.insert(k.to_string(), v.to_string());
    }
    request
}

fn member(code: &str, attributes: &[(&str, f64)]) -> Member {
    Member {
        name: member_name(code),
        code: code.to_string(),
        status: MemberStatus::Active as i32,
        attributes: attributes
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        ..Default::default()
    }
}

fn amount(v: f64) -> Option<Position> {
    Some(Position {
        value: Some(position::Value::Amount(v)),
    })
}

fn date(year: i32, month: i32, day: i32) -> Date {
    Date { year, month, day }
}

fn at(d: Date) -> Option<Position> {
    Some(Position {
        value: Some(position::Value::Date(d)),
    })
}

fn ballot(code: &str, choice: Choice, position: Option<Position>, salience: f64) -> Ballot {
    Ballot {
        member: member_name(code),
        choice: choice as i32,
        position,
        salience: Some(salience),
        ..Default::default()
    }
}

fn result<'a>(d: &'a Decision, code: &str) -> &'a MemberResult {
    d.member_results
        .iter()
        .find(|r| r.member == member_name(code))
        .unwrap()
}

/// The EC emissions case as a resize proposal tabled at `tabled` (an amount), with the
/// capabilities given as a per-member list.
fn ec_request(tabled: i32) -> DecisionRequest {
    // (code, capability, position, salience)
    let rows = [
        ("NLD", 0.08, 4.0, 0.80),
        ("BEL", 0.08, 7.0, 0.40),
        ("LUX", 0.03, 4.0, 0.20),
        ("DEU", 0.16, 4.0, 0.80),
        ("FRA", 0.16, 10.0, 0.60),
        ("ITA", 0.16, 10.0, 0.60),
        ("GBR", 0.16, 10.0, 0.90),
        ("IRL", 0.05, 7.0, 0.10),
        ("DNK", 0.05, 4.0, 1.00),
        ("GRC", 0.08, 7.0, 0.70),
    ];
    let list: Vec<String> = rows.iter().map(|r| format!("{}={}", r.0, r.1)).collect();
    DecisionRequest {
        proposal: Some(Proposal {
            action: Some(Action::ResizeMission(ResizeMission {
                mission: "missions/X".into(),
                personnel_ceiling: tabled,
            })),
            ..Default::default()
        }),
        members: rows.iter().map(|r| member(r.0, &[])).collect(),
        ballots: rows
            .iter()
            .map(|r| ballot(r.0, Choice::Support, amount(r.2), r.3))
            .collect(),
        parameters: HashMap::from([
            ("capability".to_string(), "list".to_string()),
            ("capabilities".to_string(), list.join(",")),
        ]),
        ..Default::default()
    }
}

#[test]
fn descriptor_is_valid_and_documented() {
    let d = Bargaining.descriptor();
    validate_descriptor(&d).unwrap();
    assert_eq!(d.id, "bargaining");
    assert!(d.parameters.iter().all(|p| !p.doc.trim().is_empty()));
    // Every default parses.
    Parameters::resolve(&d, &HashMap::new()).unwrap();
}

#[test]
fn self_test_without_positions_counts_choices_and_is_adopted() {
    let d = decide(&self_test_request()).unwrap();
    assert_eq!(d.outcome, Outcome::Adopted as i32);
    assert!(d.settled);
    assert!(d.forecast_position.is_none());
    assert!(d.explanation.iter().any(|l| l.contains("no forecast")));
}

#[test]
fn sample_request_without_positions_is_blocked_by_the_objectors() {
    let d = decide(&sample_request(42)).unwrap();
    assert_eq!(d.outcome, Outcome::Rejected as i32);
    assert_eq!(d.blockers, ["members/DEU", "members/FRA"]);
    assert_eq!(result(&d, "LUX").counted_choice, Choice::Abstain as i32);
    let d = decide(&with(sample_request(42), &[("missing", "block")])).unwrap();
    assert!(d.blockers.contains(&"members/LUX".to_string()));
}

#[test]
fn ec_emissions_forecasts_are_reported_side_by_side() {
    let d = decide(&with(ec_request(7), &[("rounds", "1")])).unwrap();
    assert!((d.metrics["mean"] - 7.389956).abs() < 5e-7);
    assert_eq!(d.metrics["median"], 7.0);
    assert!((d.metrics["eu_forecast"] - 7.444520).abs() < 5e-7);
    assert_eq!(d.metrics["eu_rounds"], 1.0);
    assert_eq!(result(&d, "LUX").metrics["eu_position"], 10.0);
    assert!((result(&d, "IRL").metrics["eu_position"] - 7.188031).abs() < 5e-7);
    let Some(Position {
        value: Some(position::Value::Amount(f)),
    }) = d.forecast_position
    else {
        panic!("{:?}", d.forecast_position)
    };
    assert_eq!(f, d.metrics["eu_forecast"]);
    let round = d
        .explanation
        .iter()
        .find(|l| l.starts_with("Round 1:"))
        .unwrap();
    assert!(
        round.contains("LUX expects to lose a confrontation with FRA: 4 → 10"),
        "{round}"
    );
    assert!(
        round.contains("IRL compromises with FRA: 7 → 7.188031"),
        "{round}"
    );
    assert!(
        d.explanation
            .iter()
            .any(|l| l.contains("Compromise baseline") && l.contains("7.389956"))
    );
}

#[test]
fn ec_emissions_decision_follows_the_forecast_and_the_tolerance() {
    // Forecast ≈ 7.39 (mean). Tabled 7: members at 10 find 7 worse than 7.39 by 0.39; their
    // slack is 0.1 × (1 − s) × 6 (0.24 for FRA/ITA, 0.06 for GBR): they block.
    let d = decide(&with(ec_request(7), &[("forecast", "mean")])).unwrap();
    assert_eq!(d.outcome, Outcome::Rejected as i32);
    assert_eq!(
        d.blockers,
        ["members/FRA", "members/ITA", "members/GBR"],
        "{:?}",
        d.explanation
    );
    // The one furthest beyond its slack is the likeliest holdout.
    assert_eq!(d.likely_holdouts[0], "members/GBR");
    assert!(!result(&d, "NLD").blocker, "7 is better for NLD than 7.39");
    // With a generous tolerance everyone accepts 7.
    let d = decide(&with(
        ec_request(7),
        &[("forecast", "mean"), ("tolerance", "1")],
    ))
    .unwrap();
    // GBR's slack is now 1 × 0.1 × 6 = 0.6 ≥ 0.39.
    assert!(d.blockers.is_empty(), "{:?}", d.blockers);
    assert_eq!(d.outcome, Outcome::Adopted as i32);
    // The median forecast 7 makes 7 acceptable to everyone.
    let d = decide(&with(ec_request(7), &[("forecast", "median")])).unwrap();
    assert_eq!(d.outcome, Outcome::Adopted as i32, "{:?}", d.explanation);
    assert_eq!(d.support_share, 1.0);
}

#[test]
fn an_end_date_is_forecast_as_a_date() {
    let request = DecisionRequest {
        proposal: Some(Proposal {
            action: Some(Action::EndMission(EndMission {
                mission: "missions/NMI".into(),
                end_date: Some(date(2026, 9, 30)),
            })),
            ..Default::default()
        }),
        members: vec![
            member("USA", &[("defence_expenditure_usd_mn", 3.0)]),
            member("DEU", &[("defence_expenditure_usd_mn", 1.0)]),
            member("ISL", &[]),
        ],
        ballots: vec![
            ballot("USA", Choice::Support, at(date(2026, 9, 30)), 0.5),
            ballot("DEU", Choice::Object, at(date(2027, 9, 30)), 0.5),
            ballot("ISL", Choice::Object, at(date(2030, 1, 1)), 0.5),
        ],
        parameters: HashMap::from([("forecast".to_string(), "mean".to_string())]),
        ..Default::default()
    };
    let d = decide(&request).unwrap();
    // ISL has no spending figure: capability 0, no weight. Mean = ¾ · 0 + ¼ · 365 days.
    let Some(Position {
        value: Some(position::Value::Date(f)),
    }) = d.forecast_position
    else {
        panic!("{:?}", d.forecast_position)
    };
    assert_eq!(f, date(2026, 12, 30)); // 30 Sep + 91.25 days, rounded
    assert!(
        d.explanation
            .iter()
            .any(|l| l.contains("No such attribute for ISL"))
    );
    assert_eq!(d.outcome, Outcome::Rejected as i32);
    assert!(d.blockers.contains(&"members/DEU".to_string()));
    assert_eq!(result(&d, "USA").counted_choice, Choice::Support as i32);
}

#[test]
fn positions_of_another_kind_are_refused() {
    let mut request = ec_request(7);
    request.ballots[0].position = at(date(2026, 1, 1));
    let err = decide(&request).unwrap_err();
    assert!(
        matches!(&err, PolicyError::InvalidRequest(m) if m.contains("NLD") && m.contains("a date")),
        "{err:?}"
    );
}

#[test]
fn capability_list_must_cover_every_member_with_a_position() {
    let mut request = ec_request(7);
    request
        .parameters
        .insert("capabilities".into(), "NLD=1,BEL=2".into());
    assert!(matches!(
        decide(&request).unwrap_err(),
        PolicyError::InvalidParameter { name, reason } if name == "capabilities" && reason.contains("LUX")
    ));
    request
        .parameters
        .insert("capabilities".into(), "ZZZ=1".into());
    assert!(matches!(
        decide(&request).unwrap_err(),
        PolicyError::InvalidParameter { name, .. } if name == "capabilities"
    ));
    request
        .parameters
        .insert("capabilities".into(), "NLD=-1".into());
    assert!(matches!(
        decide(&request).unwrap_err(),
        PolicyError::InvalidParameter { name, .. } if name == "capabilities"
    ));
    // Equal capabilities with an override.
    let d = decide(&with(
        ec_request(7),
        &[("capability", "equal"), ("capabilities", "DEU=1.5,GBR=10")],
    ))
    .unwrap();
    assert_eq!(result(&d, "DEU").metrics["capability"], 1.5);
    assert_eq!(result(&d, "GBR").metrics["capability"], 10.0);
    assert_eq!(result(&d, "NLD").metrics["capability"], 1.0);
}

#[test]
fn bad_parameters_are_refused_by_name() {
    let name_of = |params: &[(&str, &str)]| match decide(&with(ec_request(7), params)) {
        Err(PolicyError::InvalidParameter { name, .. }) => name,
        other => panic!("{params:?} gave {other:?}"),
    };
    assert_eq!(name_of(&[("rounds", "-1")]), "rounds");
    assert_eq!(name_of(&[("rounds", "1001")]), "rounds");
    assert_eq!(name_of(&[("tolerance", "2")]), "tolerance");
    assert_eq!(name_of(&[("default_salience", "-0.1")]), "default_salience");
    assert_eq!(
        name_of(&[("status_quo_probability", "1.1")]),
        "status_quo_probability"
    );
    assert_eq!(name_of(&[("forecast", "oracle")]), "forecast");
    assert_eq!(name_of(&[("nonsense", "1")]), "nonsense");
}

#[test]
fn the_seed_does_not_change_the_decision() {
    let mut a = ec_request(7);
    a.seed = 1;
    let mut b = ec_request(7);
    b.seed = 99;
    assert_eq!(decide(&a).unwrap(), decide(&b).unwrap());
}

#[test]
fn a_unanimous_alliance_adopts_its_common_position() {
    let mut request = ec_request(6);
    for b in &mut request.ballots {
        b.position = amount(6.0);
    }
    let d = decide(&request).unwrap();
    assert_eq!(d.metrics["forecast"], 6.0);
    assert_eq!(d.outcome, Outcome::Adopted as i32);
    // Tabled elsewhere, everyone blocks (range 0: no slack).
    request.proposal = ec_request(7).proposal;
    let d = decide(&request).unwrap();
    assert_eq!(d.blockers.len(), 10);
}
