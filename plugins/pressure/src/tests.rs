//! Tests of the plugin's `decide` on requests built in code.

use std::collections::HashMap;

use accord_policy_sdk::descriptor::validate_descriptor;
use accord_policy_sdk::proto::{Ballot, DecisionRequest, Member};
use accord_policy_sdk::selftest::{sample_request, self_test_request};

use super::*;

fn decide(request: &DecisionRequest) -> Result<Decision, PolicyError> {
    PressurePolicy.decide_message(request)
}

fn with(mut request: DecisionRequest, params: &[(&str, &str)]) -> DecisionRequest {
    for (k, v) in params {
        request.parameters.insert(k.to_string(), v.to_string());
    }
    request
}

fn result<'a>(decision: &'a Decision, code: &str) -> &'a MemberResult {
    decision
        .member_results
        .iter()
        .find(|r| r.member == member_name(code))
        .unwrap()
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

fn ballot(code: &str, choice: Choice, salience: Option<f64>) -> Ballot {
    Ballot {
        member: member_name(code),
        choice: choice as i32,
        salience,
        ..Default::default()
    }
}

#[test]
fn descriptor_is_valid_and_documented() {
    let d = PressurePolicy.descriptor();
    validate_descriptor(&d).unwrap();
    assert_eq!(d.id, "pressure");
    assert!(d.parameters.iter().all(|p| !p.doc.trim().is_empty()));
    let names: Vec<&str> = d.parameters.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "lead",
            "mode",
            "trials",
            "threads",
            "pressure",
            "spread",
            "default_salience",
            "susceptibility",
            "max_rounds",
            "base_rule",
            "base_quota",
            "model",
            "tolerance"
        ]
    );
}

#[test]
fn the_self_test_request_is_adopted_without_pressure() {
    let d = decide(&self_test_request()).unwrap();
    assert_eq!(d.outcome, Outcome::Adopted as i32);
    assert!(d.settled);
    assert_eq!(d.adoption_probability, Some(1.0));
    assert_eq!(d.metrics["dissenters"], 0.0);
    assert_eq!(d.support_share, 1.0);
    assert!(d.likely_holdouts.is_empty());
    assert!(
        d.explanation[0].contains("nobody is pressed"),
        "{:?}",
        d.explanation
    );
}

#[test]
fn sample_request_names_dissenters_holdouts_and_silent_members() {
    let d = decide(&sample_request(42)).unwrap();
    assert_eq!(
        d.metrics["dissenters"], 3.0,
        "DEU, FRA object; ITA abstains"
    );
    assert_eq!(d.metrics["trials"], 100_000.0);
    let deu = result(&d, "DEU");
    assert_eq!(deu.cast_choice, Choice::Object as i32);
    assert_eq!(deu.metrics["resistance"], 0.6);
    assert!(deu.metrics.contains_key("concede_probability"));
    // LUX has not voted: it follows the lead and is not pressed.
    let lux = result(&d, "LUX");
    assert_eq!(lux.cast_choice, Choice::Unspecified as i32);
    assert_eq!(lux.counted_choice, Choice::Support as i32);
    assert!(!lux.metrics.contains_key("concede_probability"));
    // The lead and the other supporter are not pressed either.
    assert!(
        !result(&d, "USA")
            .metrics
            .contains_key("concede_probability")
    );
    assert_eq!(result(&d, "POL").counted_choice, Choice::Support as i32);
    // Holdouts: concede probability below ½, least likely to concede first.
    let p = |code: &str| result(&d, code).metrics.get("concede_probability").copied();
    let mut previous = -1.0;
    for name in &d.likely_holdouts {
        let code = name.strip_prefix("members/").unwrap();
        let q = p(code).unwrap();
        assert!(q < 0.5);
        assert!(
            q >= previous,
            "holdouts are ordered by probability of holding out"
        );
        previous = q;
    }
    // Adoption under unanimity needs both objectors to concede.
    let a = d.adoption_probability.unwrap();
    assert_eq!(d.metrics["adoption_probability"], a);
    assert!(a <= p("DEU").unwrap().min(p("FRA").unwrap()) + 1e-12);
    assert_eq!(
        d.outcome,
        if a >= 0.5 {
            Outcome::Adopted
        } else {
            Outcome::Rejected
        } as i32
    );
    assert_eq!(d.member_results.len(), 6);
    assert!(
        d.explanation
            .iter()
            .any(|l| l.starts_with("DEU: susceptibility "))
    );
    assert!(
        d.explanation
            .iter()
            .any(|l| l.contains("silence = consent"))
    );
}

#[test]
fn same_seed_same_decision_and_threads_do_not_matter() {
    let a = decide(&sample_request(7)).unwrap();
    assert_eq!(a, decide(&sample_request(7)).unwrap());
    let threaded = decide(&with(sample_request(7), &[("threads", "2")])).unwrap();
    assert_eq!(a, threaded);
    let all = decide(&with(sample_request(7), &[("threads", "0")])).unwrap();
    assert_eq!(a, all);
    assert_ne!(
        a.adoption_probability,
        decide(&sample_request(8)).unwrap().adoption_probability
    );
}

#[test]
fn modes_agree_without_cascade() {
    let mc = decide(&with(
        sample_request(3),
        &[("spread", "0"), ("trials", "400000"), ("threads", "2")],
    ))
    .unwrap();
    let det = decide(&with(
        sample_request(3),
        &[("spread", "0"), ("mode", "deterministic")],
    ))
    .unwrap();
    assert_eq!(det.metrics["trials"], 0.0);
    let tol = 4.0 * (0.25f64 / 400_000.0).sqrt();
    for (m, d) in mc.member_results.iter().zip(&det.member_results) {
        if let Some(p) = m.metrics.get("concede_probability") {
            assert!((p - d.metrics["concede_probability"]).abs() < tol);
        }
    }
    let (a, b) = (
        mc.adoption_probability.unwrap(),
        det.adoption_probability.unwrap(),
    );
    assert!((a - b).abs() < tol, "{a} vs {b}");
    // Deterministic unanimity: the product of the objectors' concede probabilities.
    let p = |code: &str| result(&det, code).metrics["concede_probability"];
    assert!((b - p("DEU") * p("FRA")).abs() < 1e-15);
}

#[test]
fn no_pressure_nobody_concedes() {
    let d = decide(&with(sample_request(1), &[("pressure", "0")])).unwrap();
    assert_eq!(d.outcome, Outcome::Rejected as i32);
    assert_eq!(d.adoption_probability, Some(0.0));
    assert_eq!(
        d.likely_holdouts,
        ["members/DEU", "members/FRA", "members/ITA"]
    );
    assert_eq!(d.blockers, ["members/DEU", "members/FRA"]);
    assert!(result(&d, "DEU").blocker);
    assert_eq!(result(&d, "ITA").counted_choice, Choice::Abstain as i32);
    // USA, POL and LUX (silent) support: 3 of 6.
    assert!((d.support_share - 0.5).abs() < 1e-15);
}

#[test]
fn full_pressure_without_resistance_everyone_concedes() {
    let mut request = sample_request(1);
    for b in &mut request.ballots {
        b.salience = Some(0.0);
    }
    let request = with(
        request,
        &[("susceptibility", "DEU=1,FRA=1,ITA=1"), ("pressure", "1")],
    );
    for mode in ["monte_carlo", "deterministic"] {
        let d = decide(&with(request.clone(), &[("mode", mode)])).unwrap();
        assert_eq!(d.outcome, Outcome::Adopted as i32, "{mode}");
        assert_eq!(d.adoption_probability, Some(1.0));
        assert_eq!(d.support_share, 1.0);
        assert!(d.likely_holdouts.is_empty());
        assert!(d.blockers.is_empty());
        assert_eq!(result(&d, "DEU").counted_choice, Choice::Support as i32);
        assert_eq!(result(&d, "DEU").metrics["susceptibility"], 1.0);
    }
}

#[test]
fn the_cascade_carries_a_member_that_would_not_concede_alone() {
    let members = vec![member("USA", &[]), member("AAA", &[]), member("BBB", &[])];
    let request = DecisionRequest {
        members,
        ballots: vec![
            ballot("USA", Choice::Support, None),
            ballot("AAA", Choice::Object, Some(0.0)),
            ballot("BBB", Choice::Object, Some(0.0)),
        ],
        ..Default::default()
    };
    let base = [
        ("susceptibility", "AAA=1,BBB=0.1"),
        ("mode", "deterministic"),
    ];
    let alone = decide(&with(request.clone(), &[base[0], base[1], ("spread", "0")])).unwrap();
    let with_cascade = decide(&with(request, &[base[0], base[1], ("spread", "1")])).unwrap();
    let p = |d: &Decision| result(d, "BBB").metrics["concede_probability"];
    assert!((p(&alone) - 0.1).abs() < 1e-15);
    assert!((p(&with_cascade) - 0.6).abs() < 1e-12);
    assert_eq!(alone.likely_holdouts, ["members/BBB"]);
    assert!(with_cascade.likely_holdouts.is_empty());
    assert!(!with_cascade.settled, "no deadline");
}

#[test]
fn qualified_majority_counts_supporters() {
    let d = decide(&with(
        sample_request(1),
        &[
            ("base_rule", "qualified_majority"),
            ("base_quota", "0.5"),
            ("pressure", "0"),
        ],
    ))
    .unwrap();
    // 3 of 6 support without any concession: ⌈0.5 × 6⌉ = 3.
    assert_eq!(d.adoption_probability, Some(1.0));
    assert!(d.blockers.is_empty(), "no single blocker under a quota");
    let d = decide(&with(
        sample_request(1),
        &[
            ("base_rule", "qualified_majority"),
            ("base_quota", "0.6"),
            ("pressure", "0"),
        ],
    ))
    .unwrap();
    assert_eq!(d.adoption_probability, Some(0.0));
}

#[test]
fn an_objecting_lead_presses_the_supporters() {
    let mut request = sample_request(5);
    request.ballots[0].choice = Choice::Object as i32;
    let d = decide(&request).unwrap();
    assert_eq!(d.adoption_probability, Some(0.0));
    assert_eq!(d.outcome, Outcome::Rejected as i32);
    // POL supports and ITA abstains: both are pressed towards objecting; DEU and FRA are not.
    assert_eq!(d.metrics["dissenters"], 2.0);
    assert!(
        result(&d, "POL")
            .metrics
            .contains_key("concede_probability")
    );
    assert!(
        !result(&d, "DEU")
            .metrics
            .contains_key("concede_probability")
    );
    assert_eq!(result(&d, "LUX").counted_choice, Choice::Object as i32);
    assert!(d.blockers.contains(&"members/USA".to_string()));
}

#[test]
fn a_lead_without_a_ballot_supports_its_own_proposal_or_is_refused() {
    let mut request = sample_request(1);
    request.ballots.retain(|b| b.member != "members/USA");
    // The USA sponsors the sample proposal: without a ballot it counts as supporting it.
    let mut with_ballot = sample_request(1);
    with_ballot.ballots.iter_mut().for_each(|b| {
        if b.member == "members/USA" {
            b.choice = Choice::Support as i32;
        }
    });
    assert_eq!(
        decide(&request).unwrap().adoption_probability,
        decide(&with_ballot).unwrap().adoption_probability
    );
    // A lead that neither voted nor sponsors the proposal is refused by name.
    request.proposal.as_mut().unwrap().sponsor = "members/POL".to_string();
    assert_eq!(
        decide(&request).unwrap_err(),
        PolicyError::InvalidRequest(
            "the lead nation USA has not cast a ballot and does not sponsor the proposal"
                .to_string()
        )
    );
    // Another lead that has voted is fine; one that has not is refused by name.
    assert!(decide(&with(request.clone(), &[("lead", "members/POL")])).is_ok());
    assert_eq!(
        decide(&with(request.clone(), &[("lead", "lux")])).unwrap_err(),
        PolicyError::InvalidRequest(
            "the lead nation LUX has not cast a ballot and does not sponsor the proposal"
                .to_string()
        )
    );
    let err = decide(&with(request.clone(), &[("lead", "ZZZ")])).unwrap_err();
    assert!(matches!(err, PolicyError::InvalidParameter { ref name, .. } if name == "lead"));
    request.members[0].status = MemberStatus::Suspended as i32;
    assert!(matches!(
        decide(&request).unwrap_err(),
        PolicyError::InvalidRequest(m) if m.contains("not an active member")
    ));
}

#[test]
fn bad_parameters_and_saliences_are_refused_by_name() {
    let name_of = |params: &[(&str, &str)]| match decide(&with(sample_request(1), params)) {
        Err(PolicyError::InvalidParameter { name, .. }) => name,
        other => panic!("{params:?} gave {other:?}"),
    };
    assert_eq!(name_of(&[("trials", "0")]), "trials");
    assert_eq!(name_of(&[("trials", "10000001")]), "trials");
    // 11 dissenters × 10^7 trials is more than 10^8 draws; deterministic mode has no such limit.
    let codes: Vec<String> = (0..12).map(|i| format!("M{i:02}")).collect();
    let large = DecisionRequest {
        members: codes.iter().map(|c| member(c, &[])).collect(),
        ballots: codes
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let choice = if i == 0 {
                    Choice::Support
                } else {
                    Choice::Object
                };
                ballot(c, choice, None)
            })
            .collect(),
        ..Default::default()
    };
    let params = [("lead", "M00"), ("trials", "10000000")];
    assert!(matches!(
        decide(&with(large.clone(), &params)).unwrap_err(),
        PolicyError::InvalidParameter { name, reason } if name == "trials" && reason.contains("11 dissenters")
    ));
    let det = decide(&with(
        large,
        &[params[0], params[1], ("mode", "deterministic")],
    ))
    .unwrap();
    assert_eq!(det.metrics["dissenters"], 11.0);
    assert_eq!(name_of(&[("threads", "-1")]), "threads");
    assert_eq!(name_of(&[("pressure", "-0.1")]), "pressure");
    assert_eq!(name_of(&[("spread", "-1")]), "spread");
    assert_eq!(name_of(&[("default_salience", "1.5")]), "default_salience");
    assert_eq!(name_of(&[("max_rounds", "0")]), "max_rounds");
    assert_eq!(name_of(&[("base_quota", "0")]), "base_quota");
    assert_eq!(name_of(&[("mode", "exact")]), "mode");
    assert_eq!(name_of(&[("susceptibility", "ZZZ=0.5")]), "susceptibility");
    assert_eq!(name_of(&[("susceptibility", "DEU=2")]), "susceptibility");
    assert_eq!(name_of(&[("nonsense", "1")]), "nonsense");

    let mut request = sample_request(1);
    request.ballots[1].salience = Some(1.2);
    assert!(matches!(
        decide(&request).unwrap_err(),
        PolicyError::InvalidRequest(m) if m.contains("DEU") && m.contains("salience")
    ));
}

#[test]
fn default_salience_applies_to_ballots_without_one() {
    let mut request = sample_request(1);
    for b in &mut request.ballots {
        b.salience = None;
    }
    let d = decide(&with(request, &[("default_salience", "0.25")])).unwrap();
    assert!(
        d.member_results
            .iter()
            .all(|r| r.metrics["resistance"] == 0.25)
    );
}

#[test]
fn default_susceptibility_uses_the_member_attributes() {
    let request = DecisionRequest {
        members: vec![
            member("USA", &[("gdp_usd_bn", 28_000.0)]),
            member(
                "AAA",
                &[
                    ("us_troops_hosted", 10_000.0),
                    ("armed_forces_personnel_thousands", 100.0),
                    ("defence_pct_gdp", 1.0),
                    ("gdp_usd_bn", 7_000.0),
                ],
            ),
        ],
        ballots: vec![
            ballot("USA", Choice::Support, None),
            ballot("AAA", Choice::Object, None),
        ],
        parameters: HashMap::from([("mode".to_string(), "deterministic".to_string())]),
        ..Default::default()
    };
    let d = decide(&request).unwrap();
    // x = 0.1 → d = 0.5; gap = 0.5; smallness = 1 − √0.25 = 0.5 → s = 0.5.
    let s = result(&d, "AAA").metrics["susceptibility"];
    assert!((s - 0.5).abs() < 1e-12, "{s}");
    // pull = (1 − 0.5) · 1 · 0.5.
    assert!((result(&d, "AAA").metrics["concede_probability"] - 0.25).abs() < 1e-12);
}

mod probabilities {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn small_and_large_probabilities_are_written_honestly() {
        assert_eq!(format_probability(0.0), "0");
        assert_eq!(format_probability(1.0), "1");
        assert_eq!(format_probability(0.25), "0.250");
        assert_eq!(format_probability(4.3e-7), "4.3e-7");
        assert_eq!(format_probability(1.0 - 4.0e-6), "1 − 4.0e-6");
        assert_eq!(
            format_estimate(0.0, 100_000),
            "0 of 100000 trials (below 3.0e-5 at 95 %)"
        );
        assert_eq!(
            format_estimate(6.0e-5, 100_000),
            "6.0e-5 ± 2.4e-5 (standard error, 100000 trials)"
        );
        assert!((standard_error(0.5, 100) - 0.05).abs() < 1e-15);
    }

    proptest! {
        #[test]
        fn a_positive_probability_is_never_written_as_zero(p in 1e-300f64..1.0) {
            let text = format_probability(p);
            prop_assert!(text != "0" && !text.starts_with("0.000"), "{p} → {text}");
            let text = format_probability(1.0 - p);
            prop_assert!(1.0 - p >= 1.0 || text != "1", "{p} → {text}");
        }
    }

    #[test]
    fn monte_carlo_reports_the_mean_field_and_the_standard_error() {
        let d = decide(&sample_request(42)).unwrap();
        let line = d
            .explanation
            .iter()
            .find(|l| l.starts_with("Probability of adoption"))
            .unwrap();
        assert!(line.contains("mean field"), "{line}");
        assert!(!line.contains("0.000"), "{line}");
        let a = d.adoption_probability.unwrap();
        let se = d.metrics["adoption_probability_standard_error"];
        assert!((se - standard_error(a, 100_000)).abs() < 1e-15);
        let det = decide(&with(sample_request(42), &[("mode", "deterministic")])).unwrap();
        assert_eq!(
            d.metrics["adoption_probability_mean_field"],
            det.adoption_probability.unwrap()
        );
        assert_eq!(det.metrics["adoption_probability_standard_error"], 0.0);
    }
}

mod friedkin_johnsen {
    use super::*;
    use accord_policy_sdk::proto::{
        Date, EndMission, Position, Proposal, position, proposal::Action,
    };

    fn day(year: i32, month: i32, day: i32) -> Option<Position> {
        Some(Position {
            value: Some(position::Value::Date(Date { year, month, day })),
        })
    }

    /// USA tables an end date of 2026-09-30; DEU would rather end a year later (salience 0.05,
    /// tie 0.5); FRA too (salience `fra_salience`, tie 0.2); POL agrees with the USA; LUX is silent.
    fn request(fra_salience: f64, params: &[(&str, &str)]) -> DecisionRequest {
        let mut ballots = vec![
            ballot("USA", Choice::Support, Some(0.8)),
            ballot("DEU", Choice::Object, Some(0.05)),
            ballot("FRA", Choice::Object, Some(fra_salience)),
            ballot("POL", Choice::Support, Some(0.3)),
        ];
        ballots[1].position = day(2027, 9, 30);
        ballots[2].position = day(2027, 9, 30);
        ballots[3].position = day(2026, 9, 30);
        let r = DecisionRequest {
            proposal: Some(Proposal {
                sponsor: member_name("USA"),
                action: Some(Action::EndMission(EndMission {
                    mission: "missions/NMI".into(),
                    end_date: Some(Date {
                        year: 2026,
                        month: 9,
                        day: 30,
                    }),
                })),
                ..Default::default()
            }),
            members: ["USA", "DEU", "FRA", "POL", "LUX"]
                .iter()
                .map(|c| member(c, &[]))
                .collect(),
            ballots,
            ..Default::default()
        };
        let mut all = vec![
            ("model", "friedkin_johnsen"),
            ("susceptibility", "DEU=0.5,FRA=0.2,POL=0.3,LUX=0.4"),
        ];
        all.extend_from_slice(params);
        with(r, &all)
    }

    #[test]
    fn positions_move_to_the_closed_form_equilibrium() {
        let d = decide(&request(0.9, &[])).unwrap();
        // DEU: λ = 0.95, w = 0.5 → α = 0.475 / 0.525; 365 days away before.
        let alpha = 0.475 / 0.525;
        let deu = result(&d, "DEU");
        let tabled = d.metrics["tabled"];
        assert!(
            (deu.metrics["equilibrium_position"] - (tabled + 365.0 * (1.0 - alpha))).abs() < 1e-9
        );
        assert_eq!(deu.metrics["influence_weight"], 0.5);
        // Tolerance 0.1 × 365 days: DEU (34.8 days off) accepts, FRA (keeps 90 %) blocks.
        assert!(!deu.blocker, "{:?}", d.explanation);
        assert_eq!(d.blockers, ["members/FRA"]);
        assert_eq!(d.outcome, Outcome::Rejected as i32);
        assert!(!d.metrics.contains_key("smallest_pressure"));
        assert!(
            d.explanation
                .iter()
                .any(|l| l.starts_with("FRA:") && l.contains("no pressure brings it within reach")),
            "{:#?}",
            d.explanation
        );
        assert_eq!(result(&d, "LUX").counted_choice, Choice::Support as i32);
        assert_eq!(d.adoption_probability, None);
    }

    #[test]
    fn the_smallest_pressure_is_exact() {
        // FRA now agrees to be pulled (salience 0.05, tie 0.2): it needs w = 0.4737 → p = 2.368.
        let d = decide(&request(0.05, &[])).unwrap();
        let needed = 0.9 * 0.05 / (0.95 * 0.1);
        let p = d.metrics["smallest_pressure"];
        assert!((p - needed / 0.2).abs() < 1e-9, "{p}");
        assert!((result(&d, "DEU").metrics["give_way_pressure"] - needed / 0.5).abs() < 1e-9);
        assert!(
            d.explanation
                .iter()
                .any(|l| l.contains("the last to give way: FRA")),
            "{:#?}",
            d.explanation
        );
        assert_eq!(d.outcome, Outcome::Rejected as i32);
        assert_eq!(d.likely_holdouts, ["members/FRA"]);
        let above = (p * (1.0 + 1e-9)).to_string();
        let d = decide(&request(0.05, &[("pressure", &above)])).unwrap();
        assert_eq!(d.outcome, Outcome::Adopted as i32, "{:#?}", d.explanation);
        let below = (p * 0.99).to_string();
        let d = decide(&request(0.05, &[("pressure", &below)])).unwrap();
        assert_eq!(d.blockers, ["members/FRA"]);
    }

    #[test]
    fn an_objector_without_a_position_cannot_be_moved() {
        let mut r = request(0.05, &[]);
        r.ballots[2].position = None;
        let d = decide(&r).unwrap();
        assert_eq!(d.blockers, ["members/FRA"]);
        assert!(!d.metrics.contains_key("smallest_pressure"));
    }

    #[test]
    fn requests_without_positions_are_refused() {
        let r = with(sample_request(1), &[("model", "friedkin_johnsen")]);
        assert!(matches!(
            decide(&r).unwrap_err(),
            PolicyError::InvalidRequest(m) if m.contains("needs positions")
        ));
        assert!(matches!(
            decide(&request(0.5, &[("tolerance", "1.5")])).unwrap_err(),
            PolicyError::InvalidParameter { name, .. } if name == "tolerance"
        ));
    }
}

/// Issue 10: 20,000 members (every third objecting, the lead `L00000` supporting) decide as the
/// model says, checked member by member against quantities the decision reports: without spread
/// (no cascade) the mean field concedes with the pull `(1 − r)·pressure·s` itself.
#[test]
fn a_large_electorate_decides_as_the_model_says() {
    const N: usize = 20_000;
    let code = |i: usize| format!("L{i:05}");
    let objects = |i: usize| i % 3 == 1;
    let salience = |i: usize| {
        if i % 6 == 1 {
            1.0
        } else {
            (i % 10) as f64 / 10.0
        }
    };
    let members: Vec<Member> = (0..N)
        .map(|i| {
            // The lead's economy is far larger: every other member is somewhat susceptible.
            let gdp = if i == 0 { 1e5 } else { 10.0 + (i % 97) as f64 };
            member(&code(i), &[("gdp_usd_bn", gdp)])
        })
        .collect();
    let ballots: Vec<Ballot> = (0..N)
        .map(|i| {
            let choice = if objects(i) {
                Choice::Object
            } else {
                Choice::Support
            };
            ballot(&code(i), choice, Some(salience(i)))
        })
        .collect();
    let base = DecisionRequest {
        members,
        ballots,
        parameters: HashMap::from([("lead".to_string(), code(0))]),
        seed: 11,
        ..sample_request(1)
    };
    let dissenters = (0..N).filter(|&i| objects(i)).count();

    let d = decide(&with(
        base.clone(),
        &[
            ("mode", "deterministic"),
            ("spread", "0"),
            ("pressure", "0.7"),
        ],
    ))
    .unwrap();
    assert_eq!(d.metrics["dissenters"], dissenters as f64);
    assert_eq!(d.member_results.len(), N);
    for (i, r) in d.member_results.iter().enumerate() {
        let (s, res) = (r.metrics["susceptibility"], r.metrics["resistance"]);
        assert_eq!(res, salience(i));
        let concede = r.metrics.get("concede_probability").copied();
        if objects(i) {
            let pull = ((1.0 - res) * (0.7 * s + 0.0 * 0.0)).clamp(0.0, 1.0);
            assert_eq!(concede, Some(pull), "{}", r.member);
        } else {
            assert!(concede.is_none_or(|p| p == 0.0), "{}", r.member);
        }
    }
    // Members with salience 1 never concede: under unanimity it cannot be adopted.
    assert_eq!(d.metrics["adoption_probability"], 0.0);
    assert_eq!(Outcome::try_from(d.outcome), Ok(Outcome::Rejected));

    // Monte Carlo with overwhelming pressure: every dissenter concedes in every trial except
    // those with salience 1, who never do (thresholds are in (0, 1]).
    let d = decide(&with(
        base,
        &[("trials", "20"), ("pressure", "1000000"), ("spread", "0.5")],
    ))
    .unwrap();
    assert_eq!(d.metrics["trials"], 20.0);
    for (i, r) in d.member_results.iter().enumerate() {
        if objects(i) {
            let expected = if salience(i) == 1.0 { 0.0 } else { 1.0 };
            assert_eq!(r.metrics["concede_probability"], expected, "{}", r.member);
        }
    }
    assert_eq!(d.metrics["adoption_probability"], 0.0);
}
