//! Requests the host and the conformance kit send to a policy: the self-test a library must pass
//! before it is loaded, and a richer sample for the determinism check.

use std::collections::HashMap;

use prost_types::Timestamp;

use crate::proto::{
    Ballot, Choice, DecisionRequest, GenericMotion, Member, MemberStatus, Procedure, Proposal,
    ProposalState, proposal::Action,
};
use crate::request::member_name;

/// (code, name, defence spending $mn, population mn, GDP $bn, personnel thousands, US troops).
const SAMPLE_MEMBERS: [(&str, &str, f64, f64, f64, f64, f64); 6] = [
    (
        "USA",
        "United States",
        967_707.0,
        336.0,
        28_781.0,
        1_307.0,
        0.0,
    ),
    ("DEU", "Germany", 97_685.6, 84.5, 4_590.0, 185.0, 36_436.0),
    ("FRA", "France", 64_271.2, 68.4, 3_130.0, 204.0, 82.0),
    ("ITA", "Italy", 34_461.7, 58.9, 2_330.0, 171.0, 12_662.0),
    ("POL", "Poland", 34_974.5, 36.6, 862.0, 216.0, 369.0),
    ("LUX", "Luxembourg", 785.1, 0.7, 89.0, 0.9, 8.0),
];

fn member(row: &(&str, &str, f64, f64, f64, f64, f64)) -> Member {
    let (code, name, spending, population, gdp, personnel, us_troops) = *row;
    Member {
        name: member_name(code),
        code: code.to_string(),
        display_name: name.to_string(),
        accession_year: 1949,
        status: MemberStatus::Active as i32,
        region: "Europe".to_string(),
        attributes: HashMap::from([
            ("defence_expenditure_usd_mn".to_string(), spending),
            ("population_mn".to_string(), population),
            ("gdp_usd_bn".to_string(), gdp),
            ("armed_forces_personnel_thousands".to_string(), personnel),
            ("us_troops_hosted".to_string(), us_troops),
            (
                "defence_pct_gdp".to_string(),
                100.0 * spending / (gdp * 1000.0),
            ),
        ]),
    }
}

fn ballot(code: &str, choice: Choice, salience: f64) -> Ballot {
    Ballot {
        name: String::new(),
        member: member_name(code),
        choice: choice as i32,
        position: None,
        salience: Some(salience),
        reason: String::new(),
        cast_time: Some(Timestamp {
            seconds: 946_684_800,
            nanos: 0,
        }),
        ..Default::default()
    }
}

fn request(ballots: Vec<Ballot>, seed: u64) -> DecisionRequest {
    DecisionRequest {
        proposal: Some(Proposal {
            name: "proposals/self-test".to_string(),
            title: "accord self-test".to_string(),
            action: Some(Action::GenericMotion(GenericMotion {
                target: "members/USA".to_string(),
                text: "The alliance takes note of the self-test.".to_string(),
            })),
            sponsor: member_name("USA"),
            procedure: Procedure::OpenVote as i32,
            state: ProposalState::Open as i32,
            // 2000-01-01T00:00:00Z; `now` is a day later, so the vote is complete.
            deadline: Some(Timestamp {
                seconds: 946_684_800,
                nanos: 0,
            }),
            ..Default::default()
        }),
        members: SAMPLE_MEMBERS.iter().map(member).collect(),
        ballots,
        parameters: HashMap::new(),
        seed,
        now: Some(Timestamp {
            seconds: 946_771_200,
            nanos: 0,
        }),
        mission: None,
        electorate_id: 0,
    }
}

/// The request a library must decide successfully, with default parameters, to be loaded: six
/// allies who all support a generic motion after its deadline.
pub fn self_test_request() -> DecisionRequest {
    let ballots = SAMPLE_MEMBERS
        .iter()
        .map(|m| ballot(m.0, Choice::Support, 0.5))
        .collect();
    request(ballots, 1)
}

/// A request with support, objections, an abstention and a member that has not voted, for
/// checking that a policy answers it the same way twice with the same seed.
pub fn sample_request(seed: u64) -> DecisionRequest {
    request(
        vec![
            ballot("USA", Choice::Support, 0.9),
            ballot("DEU", Choice::Object, 0.6),
            ballot("FRA", Choice::Object, 0.4),
            ballot("ITA", Choice::Abstain, 0.3),
            ballot("POL", Choice::Support, 0.7),
        ],
        seed,
    )
}
