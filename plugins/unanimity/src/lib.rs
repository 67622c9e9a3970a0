//! The `unanimity` policy: NATO consensus.
//!
//! Open vote: the proposal is adopted only when every eligible member supports it; an abstention
//! does not stand in the way unless `abstention = block`; a member that has not voted by the
//! deadline blocks unless `missing = acquiesce`. Silence procedure: the proposal is adopted at
//! its deadline unless a member breaks silence by objecting; the first objection settles it as
//! rejected. Blockers are the members whose position alone prevents adoption.
//!
//! Two consensus variants alliances use: **constructive abstention** (EU, TEU art. 31(1)) — an
//! abstaining member declares (ballot `constructive_abstention`) that it will not block and will
//! not take part in carrying the decision out; it never blocks, but the decision fails if the
//! declared abstainers reach both thresholds, a share of the members and a share of their
//! population (parameters, default ⅓ and ⅓); and **reservations** (NATO footnotes) — a member
//! supports and records a reservation (ballot `reservation`), which the decision shows.
//! See docs/policies.md for the rules in full.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use accord_policy_sdk::proto::{
    Choice, Decision, MemberResult, Outcome, ParameterSpec, ParameterType, PolicyDescriptor,
    Procedure,
};
use accord_policy_sdk::request::{Electorate, Parameters, Voter, deadline_passed, member_name};
use accord_policy_sdk::{DecisionPolicy, PolicyError, Request};

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

fn number_param(name: &str, default: &str, doc: &str) -> ParameterSpec {
    ParameterSpec {
        name: name.to_string(),
        r#type: ParameterType::Number as i32,
        default_value: default.to_string(),
        doc: doc.to_string(),
        choices: Vec::new(),
    }
}

/// The member attribute read for the population threshold of constructive abstention.
pub const POPULATION: &str = "population_mn";

/// One third, as the default of both constructive-abstention thresholds.
pub const ONE_THIRD: &str = "0.3333333333333333";

/// Whether the member declared constructive abstention (an abstention with the declaration).
fn constructive(v: &Voter<'_>) -> bool {
    v.choice() == Choice::Abstain && v.ballot.is_some_and(|b| b.constructive_abstention)
}

/// The reservation a supporting member recorded, if any.
fn reservation<'a>(v: &Voter<'a>) -> Option<&'a str> {
    v.ballot
        .filter(|b| b.choice == Choice::Support as i32)
        .map(|b| b.reservation.trim())
        .filter(|r| !r.is_empty())
}

/// `count ≥ share · total`, with the product snapped to a whole number within 10⁻⁹ (so that a
/// third written as 0.3333333333333333 of 27 members is 9).
fn reaches(count: f64, share: f64, total: f64) -> bool {
    let need = share * total;
    count >= need - 1e-9 * need.abs().max(1.0)
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
                      under the silence procedure, adopted at the deadline unless a member breaks silence; \
                      with constructive abstention (fails only if declared abstainers reach both \
                      thresholds) and reservations (footnotes) recorded with support."
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
                number_param(
                    "constructive_member_share",
                    ONE_THIRD,
                    "Constructive abstention: the decision fails if the members that declared \
                     constructive abstention are at least this share of the eligible members \
                     and at least constructive_population_share of their population (EU: one \
                     third and one third). In [0, 1]; a declared abstainer never blocks alone.",
                ),
                number_param(
                    "constructive_population_share",
                    ONE_THIRD,
                    "Constructive abstention: the population share (member attribute \
                     population_mn) the declared abstainers must also reach for the decision to \
                     fail. In [0, 1]. If no eligible member has a population, only the member \
                     share applies.",
                ),
            ],
        }
    }

    fn decide(&self, request: &Request<'_>) -> Result<Decision, PolicyError> {
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
        let member_share = params.number_in("constructive_member_share", 0.0, 1.0)?;
        let population_share = params.number_in("constructive_population_share", 0.0, 1.0)?;

        let stance = |v: &Voter<'_>| -> Stance {
            if constructive(v) {
                return Stance::Agrees; // declared: will not block
            }
            match v.choice() {
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
        let stances: Vec<Stance> = voters.iter().map(stance).collect();
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

        // Constructive abstention: the declared abstainers' share of members and population.
        let declared: Vec<bool> = voters.iter().map(constructive).collect();
        let population =
            |v: &Voter<'_>| v.attribute(POPULATION).filter(|p| *p > 0.0).unwrap_or(0.0);
        let total_population: f64 = voters.iter().map(population).sum();
        let declared_count = declared.iter().filter(|&&d| d).count();
        let declared_population: f64 = voters
            .iter()
            .zip(&declared)
            .filter(|&(_, &d)| d)
            .map(|(v, _)| population(v))
            .sum();
        let thresholds_met = |count: usize, pop: f64| -> bool {
            count > 0
                && reaches(count as f64, member_share, n as f64)
                && (total_population <= 0.0 || reaches(pop, population_share, total_population))
        };
        let abstention_fails = thresholds_met(declared_count, declared_population);

        let (outcome, settled) = if silence {
            if objectors > 0 {
                (Outcome::Rejected, true) // silence broken: the procedure has failed
            } else if abstention_fails {
                (Outcome::Rejected, closed) // declarations may be withdrawn until the deadline
            } else if closed {
                (Outcome::Adopted, true)
            } else {
                (Outcome::Pending, false)
            }
        } else if blocking > 0 || abstention_fails {
            // Ballots may change until the proposal closes: settled once everyone has spoken.
            (Outcome::Rejected, closed || outstanding == 0)
        } else if outstanding > 0 {
            (Outcome::Pending, false)
        } else {
            (Outcome::Adopted, true)
        };

        // Blockers: the members whose position stands in the way, and — when the declared
        // abstainers reach the thresholds — the declared abstainers, who block together.
        let blocks: Vec<bool> = stances
            .iter()
            .zip(&declared)
            .map(|(s, &d)| *s == Stance::Blocks || (d && abstention_fails))
            .collect();
        let blockers: Vec<String> = voters
            .iter()
            .zip(&blocks)
            .filter(|&(_, &b)| b)
            .map(|(v, _)| member_name(v.code))
            .collect();
        // Pivotal: whose change alone flips the outcome. If adopted (or would be), every
        // member could block it; if exactly one member blocks, it alone could adopt it; a
        // declared abstainer is pivotal when withdrawing its declaration (supporting) alone
        // brings the abstainers below the thresholds.
        let pivotal: Vec<bool> = (0..n)
            .map(|i| match outcome {
                Outcome::Adopted => true,
                Outcome::Rejected if outstanding == 0 || silence => {
                    let sole_blocker =
                        blocking == 1 && stances[i] == Stance::Blocks && !abstention_fails;
                    let tips = declared[i]
                        && blocking == 0
                        && objectors == 0
                        && !thresholds_met(
                            declared_count - 1,
                            declared_population - population(&voters[i]),
                        );
                    sole_blocker || tips
                }
                _ => false,
            })
            .collect();

        let member_results = voters
            .iter()
            .zip(&stances)
            .zip(&pivotal)
            .zip(&blocks)
            .map(|(((v, s), p), b)| MemberResult {
                member: member_name(v.code),
                cast_choice: v.choice() as i32,
                counted_choice: match s {
                    Stance::Agrees if v.choice() == Choice::Support => Choice::Support,
                    Stance::Agrees => Choice::Abstain,
                    Stance::Blocks => Choice::Object,
                    Stance::Outstanding => Choice::Unspecified,
                } as i32,
                weight: 1.0,
                blocker: *b,
                pivotal: *p,
                metrics: if constructive(v) {
                    BTreeMap::from([("constructive_abstention".to_string(), 1.0)])
                } else if reservation(v).is_some() {
                    BTreeMap::from([("reservation".to_string(), 1.0)])
                } else {
                    BTreeMap::new()
                },
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
            (_, Outcome::Rejected) if abstention_fails && blocking == 0 && objectors == 0 => {
                format!(
                    "not adopted: the {declared_count} member(s) that declared constructive \
                     abstention ({}) reach both thresholds, {} of the members and {} of the \
                     population",
                    names(&blockers),
                    share_text(declared_count as f64 / n as f64, member_share),
                    if total_population > 0.0 {
                        share_text(declared_population / total_population, population_share)
                    } else {
                        "no population data".to_string()
                    }
                )
            }
            (true, Outcome::Rejected) => {
                let objecting: Vec<String> = voters
                    .iter()
                    .zip(&stances)
                    .filter(|&(_, s)| *s == Stance::Blocks)
                    .map(|(v, _)| member_name(v.code))
                    .collect();
                format!("silence broken by {}: not adopted", names(&objecting))
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
        if declared_count > 0 && !abstention_fails {
            let declared_names: Vec<&str> = voters
                .iter()
                .zip(&declared)
                .filter(|&(_, &d)| d)
                .map(|(v, _)| v.code)
                .collect();
            explanation.push(format!(
                "constructive abstention declared by {} ({}): they do not block and need not \
                 apply the decision; below the thresholds of {} of the members and {} of the \
                 population",
                declared_names.join(", "),
                declared_count,
                percent(member_share),
                percent(population_share)
            ));
        }
        let reservations: Vec<String> = voters
            .iter()
            .filter_map(|v| reservation(v).map(|r| format!("{}: {r}", v.code)))
            .collect();
        if !reservations.is_empty() {
            explanation.push(format!(
                "reservations (footnotes) recorded with support: {}",
                reservations.join("; ")
            ));
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
            metrics: BTreeMap::from([
                ("eligible".to_string(), n as f64),
                ("supporters".to_string(), supporters as f64),
                ("objectors".to_string(), objectors as f64),
                ("abstainers".to_string(), abstainers as f64),
                ("not_voted".to_string(), not_voted as f64),
                ("agreeing".to_string(), agreeing as f64),
                ("blocking".to_string(), blocking as f64),
                ("constructive_abstainers".to_string(), declared_count as f64),
                (
                    "constructive_member_share".to_string(),
                    declared_count as f64 / n as f64,
                ),
                (
                    "constructive_population_share".to_string(),
                    if total_population > 0.0 {
                        declared_population / total_population
                    } else {
                        0.0
                    },
                ),
                ("reservations".to_string(), reservations.len() as f64),
            ]),
            adoption_probability: None,
            likely_holdouts: Vec::new(),
            forecast_position: None,
            policy: None,
        })
    }
}

fn percent(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// "40.0% ≥ 33.3%".
fn share_text(actual: f64, threshold: f64) -> String {
    format!("{} ≥ {}", percent(actual), percent(threshold))
}

#[cfg(test)]
mod tests {
    use super::*;
    use accord_policy_sdk::proto::DecisionRequest;
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
        Unanimity.decide_message(r).unwrap()
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

    /// Populations (million) for the constructive-abstention thresholds: 497 in all.
    fn with_population(mut r: DecisionRequest) -> DecisionRequest {
        for (m, p) in r.members.iter_mut().zip([335.0, 84.0, 68.0, 10.0]) {
            m.attributes.insert(POPULATION.to_string(), p);
        }
        r
    }

    /// Everyone supports except the given constructive abstainers.
    fn declaring(
        procedure: Procedure,
        after_deadline: bool,
        abstainers: &[&str],
    ) -> DecisionRequest {
        let ballots: Vec<(&str, Choice)> = CODES
            .iter()
            .map(|&c| {
                if abstainers.contains(&c) {
                    (c, Choice::Abstain)
                } else {
                    (c, Choice::Support)
                }
            })
            .collect();
        let mut r = with_population(request(procedure, after_deadline, &ballots));
        for b in &mut r.ballots {
            b.constructive_abstention = b.choice == Choice::Abstain as i32;
        }
        r
    }

    #[test]
    fn constructive_abstainers_below_the_thresholds_do_not_block() {
        // One of four (25% < ⅓).
        let d = decide(&declaring(Procedure::OpenVote, false, &["HUN"]));
        assert_eq!(outcome(&d), (Outcome::Adopted, true));
        assert!(d.blockers.is_empty());
        assert_eq!(d.member_results[3].counted_choice, Choice::Abstain as i32);
        assert_eq!(d.member_results[3].metrics["constructive_abstention"], 1.0);
        assert_eq!(d.metrics["constructive_abstainers"], 1.0);
        assert!(
            d.explanation
                .iter()
                .any(|l| l.contains("constructive abstention declared by HUN")),
            "{:?}",
            d.explanation
        );
        // Two of four (50% ≥ ⅓) but 152 of 497 million (30.6% < ⅓): both thresholds are needed.
        let d = decide(&declaring(Procedure::OpenVote, false, &["DEU", "FRA"]));
        assert_eq!(outcome(&d), (Outcome::Adopted, true));
        assert!((d.metrics["constructive_population_share"] - 152.0 / 497.0).abs() < 1e-12);
        // Even with `abstention = block` a declared abstainer does not block…
        let mut r = declaring(Procedure::OpenVote, false, &["HUN"]);
        r.parameters.insert("abstention".into(), "block".into());
        assert_eq!(outcome(&decide(&r)), (Outcome::Adopted, true));
        // …while a plain abstention does.
        r.ballots[3].constructive_abstention = false;
        let d = decide(&r);
        assert_eq!(outcome(&d), (Outcome::Rejected, true));
        assert_eq!(d.blockers, vec!["members/HUN"]);
        // The declaration means nothing with another choice.
        let mut r = declaring(Procedure::OpenVote, false, &[]);
        r.ballots[1].constructive_abstention = true;
        let d = decide(&r);
        assert_eq!(d.metrics["constructive_abstainers"], 0.0);
        assert_eq!(outcome(&d), (Outcome::Adopted, true));
    }

    #[test]
    fn constructive_abstainers_reaching_both_thresholds_stop_the_decision() {
        // USA and HUN: 50% of the members and 345 of 497 million.
        let d = decide(&declaring(Procedure::OpenVote, false, &["USA", "HUN"]));
        assert_eq!(outcome(&d), (Outcome::Rejected, true));
        assert_eq!(d.blockers, vec!["members/USA", "members/HUN"]);
        assert!(d.member_results[0].blocker && d.member_results[3].blocker);
        // Either withdrawing its declaration brings the rest below ⅓ of the members.
        assert_eq!(d.pivotal_members, vec!["members/USA", "members/HUN"]);
        assert!(
            d.explanation[1].contains("reach both thresholds"),
            "{:?}",
            d.explanation
        );

        // Thresholds are parameters: at one half of the population the USA and Hungary (69%)
        // still stop it, at three quarters they do not.
        let mut r = declaring(Procedure::OpenVote, false, &["USA", "HUN"]);
        r.parameters
            .insert("constructive_population_share".into(), "0.75".into());
        assert_eq!(outcome(&decide(&r)), (Outcome::Adopted, true));

        // Without population data only the member share counts.
        let mut r = declaring(Procedure::OpenVote, false, &["DEU", "FRA"]);
        for m in &mut r.members {
            m.attributes.clear();
        }
        assert_eq!(outcome(&decide(&r)), (Outcome::Rejected, true));

        // Under the silence procedure the declarations may be withdrawn until the deadline.
        let d = decide(&declaring(Procedure::Silence, false, &["USA", "HUN"]));
        assert_eq!(outcome(&d), (Outcome::Rejected, false));
        let d = decide(&declaring(Procedure::Silence, true, &["USA", "HUN"]));
        assert_eq!(outcome(&d), (Outcome::Rejected, true));
        let d = decide(&declaring(Procedure::Silence, true, &["HUN"]));
        assert_eq!(outcome(&d), (Outcome::Adopted, true));

        // A share outside [0, 1] is refused.
        let mut r = declaring(Procedure::OpenVote, false, &[]);
        r.parameters
            .insert("constructive_member_share".into(), "1.5".into());
        assert!(matches!(
            Unanimity.decide_message(&r),
            Err(PolicyError::InvalidParameter { name, .. }) if name == "constructive_member_share"
        ));
    }

    #[test]
    fn reservations_are_recorded_with_support_and_shown() {
        let mut r = request(Procedure::OpenVote, false, &all(Choice::Support));
        r.ballots[1].reservation = "will not contribute forces beyond Article 5 territory".into();
        r.ballots[3].reservation = "  ".into(); // blank: no reservation
        let d = decide(&r);
        assert_eq!(outcome(&d), (Outcome::Adopted, true));
        assert!(d.blockers.is_empty());
        assert_eq!(d.member_results[1].metrics["reservation"], 1.0);
        assert!(d.member_results[3].metrics.is_empty());
        assert_eq!(d.metrics["reservations"], 1.0);
        assert!(
            d.explanation.iter().any(|l| l
                == "reservations (footnotes) recorded with support: DEU: will not contribute \
                    forces beyond Article 5 territory"),
            "{:?}",
            d.explanation
        );
        // A reservation on an objection is no footnote: the objection blocks.
        r.ballots[1].choice = Choice::Object as i32;
        let d = decide(&r);
        assert_eq!(outcome(&d), (Outcome::Rejected, true));
        assert_eq!(d.metrics["reservations"], 0.0);
    }

    #[test]
    fn bad_requests_and_parameters_are_refused() {
        let mut r = request(Procedure::OpenVote, false, &[]);
        r.parameters.insert("abstention".into(), "sometimes".into());
        assert!(
            matches!(Unanimity.decide_message(&r), Err(PolicyError::InvalidParameter { name, .. }) if name == "abstention")
        );
        let mut r = request(Procedure::OpenVote, false, &[]);
        r.proposal = None;
        assert!(matches!(
            Unanimity.decide_message(&r),
            Err(PolicyError::InvalidRequest(_))
        ));
        let mut r = request(Procedure::OpenVote, false, &[]);
        r.members.clear();
        assert!(matches!(
            Unanimity.decide_message(&r),
            Err(PolicyError::InvalidRequest(_))
        ));
    }

    /// Issue 10: 20,000 members, one in 997 objecting, one in 10 abstaining and one in 50
    /// silent: the outcome, tallies, blockers and pivotal members are what a one-pass count of
    /// the ballots says; with the objections withdrawn it is adopted and everyone is pivotal.
    #[test]
    fn a_large_electorate_decides_as_its_ballots_say() {
        const N: usize = 20_000;
        let code = |i: usize| format!("L{i:05}");
        let choice = |i: usize| {
            if i % 997 == 3 {
                Some(Choice::Object)
            } else if i % 10 == 1 {
                Some(Choice::Abstain)
            } else if i % 50 == 7 {
                None
            } else {
                Some(Choice::Support)
            }
        };
        let mut r = request(Procedure::OpenVote, true, &[]);
        r.parameters.insert("missing".into(), "acquiesce".into());
        r.members = (0..N)
            .map(|i| Member {
                code: code(i),
                name: member_name(&code(i)),
                status: MemberStatus::Active as i32,
                ..Default::default()
            })
            .collect();
        r.ballots = (0..N)
            .filter_map(|i| {
                choice(i).map(|c| Ballot {
                    member: member_name(&code(i)),
                    choice: c as i32,
                    ..Default::default()
                })
            })
            .collect();
        let objectors: Vec<String> = (0..N)
            .filter(|&i| choice(i) == Some(Choice::Object))
            .map(|i| member_name(&code(i)))
            .collect();
        let count = |c: Option<Choice>| (0..N).filter(|&i| choice(i) == c).count() as f64;
        let d = decide(&r);
        assert_eq!(outcome(&d), (Outcome::Rejected, true));
        assert_eq!(d.blockers, objectors);
        assert!(d.pivotal_members.is_empty(), "more than one objector");
        assert_eq!(d.metrics["eligible"], N as f64);
        assert_eq!(d.metrics["objectors"], count(Some(Choice::Object)));
        assert_eq!(d.metrics["supporters"], count(Some(Choice::Support)));
        assert_eq!(d.metrics["abstainers"], count(Some(Choice::Abstain)));
        assert_eq!(d.metrics["not_voted"], count(None));
        assert_eq!(d.member_results.len(), N);

        for b in &mut r.ballots {
            if b.choice == Choice::Object as i32 {
                b.choice = Choice::Support as i32;
            }
        }
        let d = decide(&r);
        assert_eq!(outcome(&d), (Outcome::Adopted, true));
        assert!(d.blockers.is_empty());
        assert_eq!(d.pivotal_members.len(), N, "any one member could block");
    }
}
