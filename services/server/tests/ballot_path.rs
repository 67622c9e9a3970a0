//! The CastBallot path under concurrency and with its caches: every caller sees the decision its
//! ballot led to, even when many ballots race (settles coalesce, and each caller waits for a
//! settle that saw its ballot); a member created or updated is seen by the very next ballot
//! (the member cache is invalidated); a proposal closed is refused ballots at once (the open
//! proposal cache is invalidated); a burst of ballots on one proposal is settled by far fewer
//! policy calls than ballots (the settles coalesce), each ballot still acknowledged.

use accord_proto::v1::*;
use accord_test_support::Options;
use accord_test_support::grpc::*;
use accord_test_support::metrics::{http_get, sample};
use prost_types::FieldMask;
use tonic::Code;

fn state(p: &Proposal) -> ProposalState {
    ProposalState::try_from(p.state).expect("a known state")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_concurrent_caller_sees_the_decision_its_ballot_led_to() {
    let server = TestServer::start_default().await;
    let codes = member_codes(&server).await;
    let mut p = proposal("Silence, under load", motion("hold"), "unanimity");
    p.procedure = Procedure::Silence as i32;
    let created = create(&server, p).await;

    // 256 ballots from 64 tasks at once: 31 members support, several times each, and the 32nd
    // objects once, among them (its only ballot, so that nothing supersedes it).
    let mut tasks = Vec::new();
    for task in 0..64usize {
        let (mut client, name, codes) = (server.proposals(), created.name.clone(), codes.clone());
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for round in 0..4usize {
                let n = task * 4 + round;
                let (code, choice) = if n == 130 {
                    (&codes[31], Choice::Object)
                } else {
                    (&codes[n % 31], Choice::Support)
                };
                let result = client
                    .cast_ballot(CastBallotRequest {
                        proposal: name.clone(),
                        ballot: Some(ballot(code, choice)),
                    })
                    .await;
                outcomes.push((choice, result.map(|r| r.into_inner())));
            }
            outcomes
        }));
    }
    let mut objection_seen = false;
    let mut taken = 0;
    for task in tasks {
        for (choice, result) in task.await.unwrap() {
            match result {
                Ok(response) => {
                    taken += 1;
                    let after = response.proposal.expect("a proposal");
                    if choice == Choice::Object {
                        // The objector's own call returns the decision its objection led to.
                        assert_eq!(state(&after), ProposalState::Rejected, "{after:?}");
                        objection_seen = true;
                    }
                }
                Err(status) => {
                    // Only ballots that came after the rejection are refused.
                    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
                    assert!(status.message().contains("rejected"), "{status:?}");
                }
            }
        }
    }
    assert!(objection_seen, "the objection was taken");
    let closed = get_proposal(&server, &created.name).await;
    assert_eq!(state(&closed), ProposalState::Rejected);
    assert_eq!(all_ballots(&server, &created.name).await.len(), taken);
    let decision = closed.decision.expect("a decision");
    assert_eq!(
        decision.blockers,
        vec![member(&codes[31])],
        "the objector blocked it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_created_or_updated_are_seen_by_the_next_ballot_and_closed_proposals_refuse_ballots()
 {
    let server = TestServer::start_default().await;
    let created = create(&server, proposal("Motion", motion("m"), "unanimity")).await;
    // Warm the caches.
    cast(&server, &created.name, ballot("HUN", Choice::Support)).await;

    let set_status = |code: &str, status: MemberStatus| {
        let mut members = server.members();
        let name = member(code);
        async move {
            members
                .update_member(UpdateMemberRequest {
                    member: Some(Member {
                        name,
                        status: status as i32,
                        ..Default::default()
                    }),
                    update_mask: Some(FieldMask {
                        paths: vec!["status".into()],
                    }),
                })
                .await
                .expect("update member");
        }
    };
    set_status("HUN", MemberStatus::Suspended).await;
    let r = server
        .proposals()
        .cast_ballot(CastBallotRequest {
            proposal: created.name.clone(),
            ballot: Some(ballot("HUN", Choice::Object)),
        })
        .await;
    assert_status(r, Code::FailedPrecondition, &["not an active member"]);
    set_status("HUN", MemberStatus::Active).await;
    cast(&server, &created.name, ballot("HUN", Choice::Abstain)).await;

    // A new member votes at once, and counts in the decision.
    server
        .members()
        .create_member(CreateMemberRequest {
            member: Some(Member {
                code: "AND".into(),
                display_name: "Andorra".into(),
                accession_year: 2026,
                status: MemberStatus::Active as i32,
                ..Default::default()
            }),
        })
        .await
        .expect("create member");
    cast(&server, &created.name, ballot("AND", Choice::Support)).await;
    let evaluations = server
        .proposals()
        .evaluate_proposal(EvaluateProposalRequest {
            subject: Some(evaluate_proposal_request::Subject::Name(
                created.name.clone(),
            )),
            policies: vec![policy("unanimity")],
            ..Default::default()
        })
        .await
        .expect("evaluate")
        .into_inner()
        .evaluations;
    let decision = evaluations[0].decision.clone().expect("a decision");
    assert_eq!(
        decision.member_results.len(),
        33,
        "the new member counts: {:?}",
        decision.explanation
    );

    // Closed: the next ballot is refused, and says why.
    server
        .proposals()
        .close_proposal(CloseProposalRequest {
            name: created.name.clone(),
        })
        .await
        .expect("close");
    let r = server
        .proposals()
        .cast_ballot(CastBallotRequest {
            proposal: created.name.clone(),
            ballot: Some(ballot("DEU", Choice::Support)),
        })
        .await;
    assert_status(
        r,
        Code::FailedPrecondition,
        &["rejected", "no more ballots"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_ballots_on_one_proposal_is_settled_by_far_fewer_decisions() {
    let server = TestServer::start(Options {
        metrics: true,
        ..Options::default()
    })
    .await;
    let codes = member_codes(&server).await;
    // Under the silence procedure support never settles a motion before its deadline: every
    // ballot asks for a settle, and none closes the proposal.
    let mut p = proposal("A burst of support", motion("hold"), "unanimity");
    p.procedure = Procedure::Silence as i32;
    let created = create(&server, p).await;
    let calls = |text: &str| {
        sample(
            text,
            "accord_policy_call_duration_seconds_count",
            &[("policy", "unanimity"), ("result", "ok")],
        )
        .unwrap_or(0.0)
    };
    let metrics = server.metrics_addr.expect("metrics are served");
    let before = calls(&http_get(metrics, "/metrics").await.1);

    const TASKS: usize = 64;
    const ROUNDS: usize = 4;
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let (mut client, name, codes) = (server.proposals(), created.name.clone(), codes.clone());
        tasks.push(tokio::spawn(async move {
            for round in 0..ROUNDS {
                let code = &codes[(task * ROUNDS + round) % codes.len()];
                let response = client
                    .cast_ballot(CastBallotRequest {
                        proposal: name.clone(),
                        ballot: Some(ballot(code, Choice::Support)),
                    })
                    .await
                    .expect("every ballot is acknowledged")
                    .into_inner();
                assert_eq!(
                    state(&response.proposal.expect("a proposal")),
                    ProposalState::Open
                );
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let ballots = (TASKS * ROUNDS) as f64;
    assert_eq!(
        all_ballots(&server, &created.name).await.len(),
        TASKS * ROUNDS
    );
    let settles = calls(&http_get(metrics, "/metrics").await.1) - before;
    assert!(settles >= 1.0, "the burst was settled");
    assert!(
        settles <= ballots / 2.0,
        "{settles} policy calls for {ballots} ballots: settles did not coalesce"
    );
}
