//! The `unanimity` policy: NATO consensus.
//!
//! Open vote: the proposal is adopted only when every eligible member supports it; an abstention
//! does not stand in the way unless `abstention = block`; a member that has not voted by the
//! deadline blocks unless `missing = acquiesce`. Silence procedure: the proposal is adopted at
//! its deadline unless a member breaks silence by objecting; the first objection settles it as
//! rejected. Blockers are the members whose position alone prevents adoption.
//! See docs/policies.md for the rules in full.
#![forbid(unsafe_code)]

use std::collections::HashMap;

use accord_policy_sdk::proto::{
    Choice, Decision, DecisionRequest, MemberResult, Outcome, ParameterSpec, ParameterType,
    PolicyDescriptor, Procedure,
};
use accord_policy_sdk::request::{Electorate, Parameters, deadline_passed, member_name};
use accord_policy_sdk::{DecisionPolicy, PolicyError};

/// The consensus policy.
#[derive(Debug, Default)]
pub struct Unanimity;

accord_policy_sdk::export_policy!(Unanimity);

fn choice_param(name: &str, default: &str, choices: &[&str], doc: &str) -> ParameterSpec {
    ParameterSpec {
        name: name.to_string(),
        r#type: ParameterType::Choice as i32,
        default_value: default.to_string(),
        doc: doc.to_string(),
        choices: choices.iter().map(|c| c.to_string()).collect(),
    }
}

/// How a member is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stance {
    Agrees,
    Blocks,
    /// Not voted yet, before the deadline of an open vote: could still go either way.
    Outstanding,
}

impl DecisionPolicy for Unanimity {
    fn descriptor(&self) -> PolicyDescriptor {
        PolicyDescriptor {
            id: "unanimity".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            summary: "NATO consensus: adopted only if no eligible member stands in the way; \
                      under the silence procedure, adopted at the deadline unless a member breaks silence."
                .to_string(),
            parameters: vec![
                choice_param(
                    "abstention",
                    "acquiesce",
                    &["acquiesce", "block"],
                    "How an abstention counts in an open vote: `acquiesce` (does not stand in the way, \
                     like an ally attaching a reservation) or `block` (every member must support).",
                ),
                choice_param(
                    "missing",
                    "block",
                    &["block", "acquiesce"],
                    "How a member that has not voted by the deadline of an open vote counts: `block` \
                     (consensus needs every ally's assent) or `acquiesce` (silence is consent). \
                     Under the silence procedure silence is always consent.",
                ),
            ],
        }
    }

    fn decide(&self, request: &DecisionRequest) -> Result<Decision, PolicyError> {
        let params = Parameters::resolve(&self.descriptor(), &request.parameters)?;
        let proposal = request
            .proposal
            .as_ref()
            .ok_or_else(|| PolicyError::InvalidRequest("the request has no proposal".into()))?;
        let electorate = Electorate::new(request)?;
        if electorate.is_empty() {
            return Err(PolicyError::InvalidRequest(
                "no eligible member in the request".into(),
            ));
        }
        let silence = proposal.procedure == Procedure::Silence as i32;
        let closed = deadline_passed(request);
        let abstention_blocks = params.choice("abstention") == "block";
        let missing_blocks = params.choice("missing") == "block";

        let stance = |choice: Choice| -> Stance {
            match choice {
                Choice::Support => Stance::Agrees,
                Choice::Object => Stance::Blocks,
                Choice::Abstain if silence || !abstention_blocks => Stance::Agrees,
                Choice::Abstain => Stance::Blocks,
                Choice::Unspecified if silence => Stance::Agrees, // silence is consent
                Choice::Unspecified if !closed => Stance::Outstanding,
                Choice::Unspecified if missing_blocks => Stance::Blocks,
                Choice::Unspecified => Stance::Agrees,
            }
        };

        let voters = electorate.members();
        let stances: Vec<Stance> = voters.iter().map(|v| stance(v.choice())).collect();
        let count = |s: Stance| stances.iter().filter(|&&x| x == s).count();
        let (agreeing, blocking, outstanding) = (
            count(Stance::Agrees),
            count(Stance::Blocks),
            count(Stance::Outstanding),
        );
        let by_choice = |c: Choice| voters.iter().filter(|v| v.choice() == c).count();
        let (supporters, objectors, abstainers, not_voted) = (
            by_choice(Choice::Support),
            by_choice(Choice::Object),
            by_choice(Choice::Abstain),
            by_choice(Choice::Unspecified),
        );
        let n = voters.len();

        let (outcome, settled) = if silence {
            if objectors > 0 {
                (Outcome::Rejected, true) // silence broken: the procedure has failed
            } else if closed {
                (Outcome::Adopted, true)
            } else {
                (Outcome::Pending, false)
            }
        } else if blocking > 0 {
            // Ballots may change until the proposal closes: settled once everyone has spoken.
            (Outcome::Rejected, closed || outstanding == 0)
        } else if outstanding > 0 {
            (Outcome::Pending, false)
        } else {
            (Outcome::Adopted, true)
        };

        let blockers: Vec<String> = voters
            .iter()
            .zip(&stances)
            .filter(|(_, s)| **s == Stance::Blocks)
            .map(|(v, _)| member_name(v.code))
            .collect();
        // Pivotal: whose change alone flips the outcome. If adopted (or would be), every
        // member could block it; if exactly one member blocks, it alone could adopt it.
        let pivotal: Vec<bool> = stances
            .iter()
            .map(|s| match outcome {
                Outcome::Adopted => true,
                Outcome::Rejected => blocking == 1 && *s == Stance::Blocks && outstanding == 0,
                _ => false,
            })
            .collect();

        let member_results = voters
            .iter()
            .zip(&stances)
            .zip(&pivotal)
            .map(|((v, s), p)| MemberResult {
                member: member_name(v.code),
                cast_choice: v.choice() as i32,
                counted_choice: match s {
                    Stance::Agrees if v.choice() == Choice::Support => Choice::Support,
                    Stance::Agrees => Choice::Abstain,
                    Stance::Blocks => Choice::Object,
                    Stance::Outstanding => Choice::Unspecified,
                } as i32,
                weight: 1.0,
                blocker: *s == Stance::Blocks,
                pivotal: *p,
                metrics: HashMap::new(),
            })
            .collect();

        let mut explanation = Vec::new();
        let procedure = if silence {
            "silence procedure"
        } else {
            "open vote"
        };
        explanation.push(format!(
            "{procedure}, {n} eligible members: {supporters} support, {objectors} object, \
             {abstainers} abstain, {not_voted} have not voted"
        ));
        let names = |list: &[String]| {
            list.iter()
                .map(|n| n.trim_start_matches("members/").to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        explanation.push(match (silence, outcome) {
            (true, Outcome::Rejected) => {
                format!("silence broken by {}: not adopted", names(&blockers))
            }
            (true, Outcome::Adopted) => {
                "deadline passed with silence unbroken: adopted".to_string()
            }
            (true, _) => {
                "silence holds so far; adopted at the deadline unless a member objects".to_string()
            }
            (false, Outcome::Adopted) => format!(
                "no member stands in the way: adopted by consensus{}",
                if abstainers > 0 && !abstention_blocks {
                    " (abstentions acquiesce)"
                } else {
                    ""
                }
            ),
            (false, Outcome::Rejected) => format!(
                "consensus blocked by {} member(s): {}",
                blockers.len(),
                names(&blockers)
            ),
            (false, _) => format!("no objection so far; waiting for {outstanding} member(s)"),
        });
        if !silence && outcome == Outcome::Rejected && !settled {
            explanation.push(format!("{outstanding} member(s) have still to vote; ballots may change until the proposal closes"));
        }

        Ok(Decision {
            outcome: outcome as i32,
            settled,
            support_share: supporters as f64 / n as f64,
            member_results,
            blockers,
            pivotal_members: voters
                .iter()
                .zip(&pivotal)
                .filter(|(_, p)| **p)
                .map(|(v, _)| member_name(v.code))
                .collect(),
            explanation,
            metrics: HashMap::from([
                ("eligible".to_string(), n as f64),
                ("supporters".to_string(), supporters as f64),
                ("objectors".to_string(), objectors as f64),
                ("abstainers".to_string(), abstainers as f64),
                ("not_voted".to_string(), not_voted as f64),
                ("agreeing".to_string(), agreeing as f64),
                ("blocking".to_string(), blocking as f64),
            ]),
            adoption_probability: None,
            likely_holdouts: Vec::new(),
            forecast_position: None,
            policy: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use accord_policy_sdk::proto::{Ballot, Member, MemberStatus, Proposal};
    use prost_types::Timestamp;

    const CODES: [&str; 4] = ["USA", "DEU", "FRA", "HUN"];

    /// A request with the four members above; `ballots` pairs a code with a choice.
    fn request(
        procedure: Procedure,
        after_deadline: bool,
        ballots: &[(&str, Choice)],
    ) -> DecisionRequest {
        DecisionRequest {
            proposal: Some(Proposal {
                procedure: procedure as i32,
                deadline: Some(Timestamp {
                    seconds: 1000,
                    nanos: 0,
                }),
                ..Default::default()
            }),
            members: CODES
                .iter()
                .map(|c| Member {
                    code: c.to_string(),
                    name: member_name(c),
                    status: MemberStatus::Active as i32,
                    ..Default::default()
                })
                .collect(),
            ballots: ballots
                .iter()
                .map(|(c, choice)| Ballot {
                    member: member_name(c),
                    choice: *choice as i32,
                    ..Default::default()
                })
                .collect(),
            now: Some(Timestamp {
                seconds: if after_deadline { 1000 } else { 999 },
                nanos: 0,
            }),
            ..Default::default()
        }
    }

    fn all(choice: Choice) -> Vec<(&'static str, Choice)> {
        CODES.iter().map(|c| (*c, choice)).collect()
    }

    fn decide(r: &DecisionRequest) -> Decision {
        Unanimity.decide(r).unwrap()
    }

    fn outcome(d: &Decision) -> (Outcome, bool) {
        (Outcome::try_from(d.outcome).unwrap(), d.settled)
    }

    #[test]
    fn open_vote_adopted_when_everyone_supports_and_settled_once_all_have_voted() {
        let d = decide(&request(Procedure::OpenVote, false, &all(Choice::Support)));
        assert_eq!(outcome(&d), (Outcome::Adopted, true));
        assert_eq!(d.support_share, 1.0);
        assert!(d.blockers.is_empty());
        assert_eq!(
            d.pivotal_members.len(),
            4,
            "any member could have blocked it"
        );
    }

    #[test]
    fn one_objection_blocks_and_is_the_pivotal_blocker() {
        let mut ballots = all(Choice::Support);
        ballots[3].1 = Choice::Object;
        let d = decide(&request(Procedure::OpenVote, false, &ballots));
        assert_eq!(outcome(&d), (Outcome::Rejected, true));
        assert_eq!(d.blockers, vec!["members/HUN"]);
        assert_eq!(d.pivotal_members, vec!["members/HUN"]);
        assert_eq!(d.support_share, 0.75);
        assert!(d.member_results[3].blocker);
        assert!(d.explanation[1].contains("HUN"), "{:?}", d.explanation);
    }

    #[test]
    fn two_objections_block_with_no_single_pivotal_member() {
        let mut ballots = all(Choice::Support);
        ballots[2].1 = Choice::Object;
        ballots[3].1 = Choice::Object;
        let d = decide(&request(Procedure::OpenVote, true, &ballots));
        assert_eq!(d.blockers, vec!["members/FRA", "members/HUN"]);
        assert!(d.pivotal_members.is_empty());
    }

    #[test]
    fn abstention_acquiesces_by_default_and_blocks_when_asked() {
        let mut ballots = all(Choice::Support);
        ballots[1].1 = Choice::Abstain;
        let mut r = request(Procedure::OpenVote, false, &ballots);
        let d = decide(&r);
        assert_eq!(outcome(&d), (Outcome::Adopted, true));
        assert_eq!(d.member_results[1].counted_choice, Choice::Abstain as i32);

        r.parameters.insert("abstention".into(), "block".into());
        let d = decide(&r);
        assert_eq!(outcome(&d), (Outcome::Rejected, true));
        assert_eq!(d.blockers, vec!["members/DEU"]);
    }

    #[test]
    fn missing_ballots_leave_an_open_vote_pending_until_the_deadline() {
        let ballots = vec![("USA", Choice::Support), ("DEU", Choice::Support)];
        let d = decide(&request(Procedure::OpenVote, false, &ballots));
        assert_eq!(outcome(&d), (Outcome::Pending, false));

        let mut r = request(Procedure::OpenVote, true, &ballots);
        let d = decide(&r);
        assert_eq!(outcome(&d), (Outcome::Rejected, true));
        assert_eq!(d.blockers, vec!["members/FRA", "members/HUN"]);

        r.parameters.insert("missing".into(), "acquiesce".into());
        assert_eq!(outcome(&decide(&r)), (Outcome::Adopted, true));
    }

    #[test]
    fn an_objection_before_everyone_has_voted_is_not_yet_final() {
        let ballots = vec![("USA", Choice::Support), ("HUN", Choice::Object)];
        let d = decide(&request(Procedure::OpenVote, false, &ballots));
        assert_eq!(outcome(&d), (Outcome::Rejected, false));
        assert!(d.pivotal_members.is_empty());
    }

    #[test]
    fn silence_procedure_adopts_at_the_deadline_unless_broken() {
        let none: Vec<(&str, Choice)> = vec![];
        assert_eq!(
            outcome(&decide(&request(Procedure::Silence, false, &none))),
            (Outcome::Pending, false)
        );
        let d = decide(&request(Procedure::Silence, true, &none));
        assert_eq!(outcome(&d), (Outcome::Adopted, true));
        assert!(d.explanation[1].contains("silence unbroken"));

        // Abstaining does not break silence, even with `abstention = block`.
        let mut r = request(Procedure::Silence, true, &[("DEU", Choice::Abstain)]);
        r.parameters.insert("abstention".into(), "block".into());
        assert_eq!(outcome(&decide(&r)), (Outcome::Adopted, true));

        // February 2003: France, Germany and Belgium break silence before the deadline.
        let d = decide(&request(
            Procedure::Silence,
            false,
            &[("FRA", Choice::Object), ("DEU", Choice::Object)],
        ));
        assert_eq!(outcome(&d), (Outcome::Rejected, true));
        assert_eq!(d.blockers, vec!["members/DEU", "members/FRA"]);
        assert!(d.explanation[1].contains("silence broken by DEU, FRA"));
    }

    #[test]
    fn members_who_are_not_active_do_not_take_part() {
        let mut r = request(Procedure::OpenVote, false, &all(Choice::Support));
        r.members[3].status = MemberStatus::Suspended as i32;
        r.ballots[3].choice = Choice::Object as i32;
        let d = decide(&r);
        assert_eq!(outcome(&d), (Outcome::Adopted, true));
        assert_eq!(d.member_results.len(), 3);
    }

    #[test]
    fn bad_requests_and_parameters_are_refused() {
        let mut r = request(Procedure::OpenVote, false, &[]);
        r.parameters.insert("abstention".into(), "sometimes".into());
        assert!(
            matches!(Unanimity.decide(&r), Err(PolicyError::InvalidParameter { name, .. }) if name == "abstention")
        );
        let mut r = request(Procedure::OpenVote, false, &[]);
        r.proposal = None;
        assert!(matches!(
            Unanimity.decide(&r),
            Err(PolicyError::InvalidRequest(_))
        ));
        let mut r = request(Procedure::OpenVote, false, &[]);
        r.members.clear();
        assert!(matches!(
            Unanimity.decide(&r),
            Err(PolicyError::InvalidRequest(_))
        ));
    }
}
