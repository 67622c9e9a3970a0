//! The pressure policy on the bundled dataset of the 32 allies, in the scenario of the story the
//! project starts from: the United States presses the allies to end NATO Mission Iraq early.

#[path = "support/members_csv.rs"]
mod members_csv;

use accord_policy_sdk::DecisionPolicy;
use accord_policy_sdk::proto::{Ballot, Choice, DecisionRequest, Outcome};
use accord_policy_sdk::request::member_name;
use accord_pressure::PressurePolicy;

/// USA proposes to end the mission in September; most allies would rather wind it down over a
/// longer period. Choices and saliences are illustrative, not reported positions.
fn request(params: &[(&str, &str)]) -> DecisionRequest {
    let members = members_csv::load();
    let stance = |code: &str| match code {
        "ITA" | "ESP" | "TUR" => Some((Choice::Object, 0.7)),
        "DEU" | "FRA" | "DNK" | "NOR" | "CAN" => Some((Choice::Object, 0.4)),
        "BEL" | "NLD" => Some((Choice::Abstain, 0.3)),
        "ALB" | "MNE" | "MKD" | "ISL" => None,
        _ => Some((Choice::Support, 0.5)),
    };
    let ballots = members
        .iter()
        .filter_map(|m| {
            stance(&m.code).map(|(choice, salience)| Ballot {
                member: member_name(&m.code),
                choice: choice as i32,
                salience: Some(salience),
                ..Default::default()
            })
        })
        .collect();
    DecisionRequest {
        members,
        ballots,
        parameters: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        seed: 2026,
        ..Default::default()
    }
}

#[test]
fn the_dataset_has_32_allies_with_sensible_default_susceptibilities() {
    let d = PressurePolicy.decide_message(&request(&[])).unwrap();
    assert_eq!(d.member_results.len(), 32);
    assert_eq!(d.metrics["dissenters"], 10.0);
    let s = |code: &str| {
        d.member_results
            .iter()
            .find(|r| r.member == member_name(code))
            .unwrap()
            .metrics["susceptibility"]
    };
    for r in &d.member_results {
        let v = r.metrics["susceptibility"];
        assert!((0.0..=1.0).contains(&v), "{}: {v}", r.member);
    }
    // Germany hosts the most US troops relative to its forces; France next to none.
    assert!(s("DEU") > s("FRA"));
    // Spain hosts more US troops relative to its forces and spends less than Türkiye.
    assert!(s("ESP") > s("TUR"));
    // Four silent members follow the lead.
    let silent = d
        .member_results
        .iter()
        .filter(|r| r.cast_choice == Choice::Unspecified as i32)
        .count();
    assert_eq!(silent, 4);
}

#[test]
fn both_modes_give_a_coherent_forecast_on_the_dataset() {
    for mode in ["monte_carlo", "deterministic"] {
        let d = PressurePolicy
            .decide_message(&request(&[("mode", mode), ("threads", "2")]))
            .unwrap();
        let a = d.adoption_probability.unwrap();
        assert!((0.0..=1.0).contains(&a));
        assert_eq!(
            d.outcome,
            if a >= 0.5 {
                Outcome::Adopted
            } else {
                Outcome::Rejected
            } as i32
        );
        assert!((0.0..=1.0).contains(&d.support_share));
        assert!(d.metrics["expected_rounds"] >= 0.0);
        // Every holdout concedes with probability below ½ and objects or abstains.
        for h in &d.likely_holdouts {
            let r = d.member_results.iter().find(|r| &r.member == h).unwrap();
            assert!(r.metrics["concede_probability"] < 0.5);
            assert_ne!(r.counted_choice, Choice::Support as i32);
        }
        assert!(d.explanation.len() > 10, "{mode}: {:#?}", d.explanation);
        // Shown with `cargo test -p accord-pressure --test dataset -- --nocapture`.
        println!("{mode}:\n  {}", d.explanation.join("\n  "));
    }
}
