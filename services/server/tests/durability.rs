//! Restarts of the real server on the same database: after a graceful stop (SIGTERM) everything
//! is kept; deadlines that passed while it was down are honoured; a ballot acknowledged before
//! `kill -9` is never lost.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accord_proto::v1::proposal_service_client::ProposalServiceClient;
use accord_proto::v1::*;
use accord_test_support::grpc::*;
use accord_test_support::*;
use prost_types::FieldMask;

async fn all_proposals(server: &TestServer) -> Vec<Proposal> {
    server
        .proposals()
        .list_proposals(ListProposalsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("list proposals")
        .into_inner()
        .proposals
}

async fn all_members(server: &TestServer) -> Vec<Member> {
    server
        .members()
        .list_members(ListMembersRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("list members")
        .into_inner()
        .members
}

async fn all_missions(server: &TestServer) -> Vec<Mission> {
    server
        .missions()
        .list_missions(ListMissionsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("list missions")
        .into_inner()
        .missions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_restart_keeps_members_proposals_ballots_decisions_and_the_default_policy() {
    let mut server = TestServer::start_default().await;

    // Members changed by an operator.
    let mask = |paths: &[&str]| {
        Some(FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        })
    };
    let deu = server
        .members()
        .update_member(UpdateMemberRequest {
            member: Some(Member {
                name: member("DEU"),
                display_name: "Federal Republic of Germany".into(),
                attributes: [("defence_expenditure_usd_mn".to_string(), 110_000.0)].into(),
                ..Default::default()
            }),
            update_mask: mask(&["display_name", "attributes"]),
        })
        .await
        .expect("update DEU")
        .into_inner()
        .member
        .unwrap();
    assert_eq!(deu.display_name, "Federal Republic of Germany");
    assert_eq!(deu.accession_year, 1955, "the mask keeps the rest");
    server
        .members()
        .update_member(UpdateMemberRequest {
            member: Some(Member {
                name: member("HUN"),
                status: MemberStatus::Suspended as i32,
                ..Default::default()
            }),
            update_mask: mask(&["status"]),
        })
        .await
        .expect("suspend HUN");

    // The default policy, set at run time.
    let set = server
        .policies()
        .set_default_policy(SetDefaultPolicyRequest {
            name: "policies/weighted".into(),
        })
        .await
        .expect("set default")
        .into_inner()
        .policy
        .unwrap();
    assert!(set.is_default);

    // An open proposal under the default policy, with a changed ballot (both kept).
    let mut p = proposal("Shrink KFOR to 3,500", motion("placeholder"), "");
    p.action = Some(proposal::Action::ResizeMission(ResizeMission {
        mission: "missions/KFOR".into(),
        personnel_ceiling: 3500,
    }));
    let open = create(&server, p).await;
    assert_eq!(open.policy.as_ref().unwrap().policy_id, "weighted");
    cast(&server, &open.name, ballot("FRA", Choice::Support)).await;
    cast(&server, &open.name, ballot("FRA", Choice::Object)).await;
    let mut with_position = ballot("ITA", Choice::Abstain);
    with_position.position = Some(Position {
        value: Some(position::Value::Amount(4000.0)),
    });
    with_position.salience = Some(0.8);
    cast(&server, &open.name, with_position).await;

    // An adopted proposal with its decision and effect, and a withdrawn one.
    let adopted = create(
        &server,
        proposal(
            "Shrink KFOR to 3,000",
            proposal::Action::ResizeMission(ResizeMission {
                mission: "missions/KFOR".into(),
                personnel_ceiling: 3000,
            }),
            "weighted",
        ),
    )
    .await;
    cast(&server, &adopted.name, ballot("USA", Choice::Support)).await;
    let (_, adopted) = cast(&server, &adopted.name, ballot("DEU", Choice::Support)).await;
    assert_eq!(adopted.state, ProposalState::Adopted as i32);
    let withdrawn = create(&server, proposal("Withdraw me", motion("x"), "unanimity")).await;
    server
        .proposals()
        .withdraw_proposal(WithdrawProposalRequest {
            name: withdrawn.name.clone(),
            requester: member("USA"),
        })
        .await
        .expect("withdraw");

    let members_before = all_members(&server).await;
    let proposals_before = all_proposals(&server).await;
    assert_eq!(proposals_before.len(), 3);
    let mut ballots_before = Vec::new();
    for p in &proposals_before {
        ballots_before.push(all_ballots(&server, &p.name).await);
    }
    assert_eq!(
        ballots_before.iter().map(Vec::len).sum::<usize>(),
        5,
        "3 + 2 + 0 ballots"
    );
    let missions_before = all_missions(&server).await;

    // Graceful stop, then start again on the same database.
    let stopping = Instant::now();
    server.stop().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(4),
        "SIGTERM with nothing in flight should stop at once, took {:?}",
        stopping.elapsed()
    );
    server.restart().await;

    assert_eq!(all_members(&server).await, members_before);
    let proposals_after = all_proposals(&server).await;
    assert_eq!(proposals_after, proposals_before);
    for (p, before) in proposals_after.iter().zip(&ballots_before) {
        assert_eq!(&all_ballots(&server, &p.name).await, before, "{}", p.name);
    }
    let adopted_after = get_proposal(&server, &adopted.name).await;
    let decision = adopted_after.decision.expect("the decision is kept");
    assert_eq!(decision.outcome, Outcome::Adopted as i32);
    assert_eq!(decision.policy.unwrap().policy_id, "weighted");
    assert_eq!(all_missions(&server).await, missions_before);
    assert_eq!(get_mission(&server, "KFOR").await.personnel_ceiling, 3000);

    // The default set at run time beats the start-up default (unanimity).
    assert!(get_policy(&server, "weighted").await.is_default);
    assert!(!get_policy(&server, "unanimity").await.is_default);
    let next = create(&server, proposal("Under the default", motion("x"), "")).await;
    assert_eq!(next.policy.unwrap().policy_id, "weighted");

    // The open proposal still takes ballots and decides with them.
    let (_, after) = cast(&server, &open.name, ballot("USA", Choice::Support)).await;
    assert_eq!(after.state, ProposalState::Open as i32);
    assert_eq!(all_ballots(&server, &open.name).await.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_that_passed_while_the_server_was_down_closes_the_proposal_at_restart() {
    let mut server = TestServer::start_default().await;
    let deadline = from_now(Duration::from_secs(2));
    let mut p = proposal(
        "Shrink KFOR under silence",
        proposal::Action::ResizeMission(ResizeMission {
            mission: "missions/KFOR".into(),
            personnel_ceiling: 4000,
        }),
        "unanimity",
    );
    p.procedure = Procedure::Silence as i32;
    p.deadline = Some(deadline);
    let silence = create(&server, p).await;
    let mut p = proposal("An open vote nobody finished", motion("x"), "unanimity");
    p.deadline = Some(deadline);
    let open_vote = create(&server, p).await;
    cast(&server, &open_vote.name, ballot("USA", Choice::Support)).await;

    server.stop().await;
    let passed = deadline.seconds as f64 + deadline.nanos as f64 / 1e9 + 0.5;
    loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        if now > passed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.restart().await;

    let closed = wait_closed(&server, &silence.name, Duration::from_secs(10)).await;
    assert_eq!(closed.state, ProposalState::Adopted as i32, "{closed:?}");
    let close_time = closed.close_time.unwrap();
    assert!(close_time.seconds >= deadline.seconds);
    assert_eq!(get_mission(&server, "KFOR").await.personnel_ceiling, 4000);
    let closed = wait_closed(&server, &open_vote.name, Duration::from_secs(10)).await;
    assert_eq!(closed.state, ProposalState::Rejected as i32, "{closed:?}");
    assert_eq!(all_ballots(&server, &open_vote.name).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ballot_acknowledged_before_kill_9_is_there_after_restart() {
    let mut server = TestServer::start_default().await;
    let created = create(
        &server,
        proposal("A long debate", motion("debate"), "unanimity"),
    )
    .await;

    // Four clients vote again and again (eight members: the vote never completes).
    let acked: Arc<Mutex<Vec<Ballot>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for task in 0..4usize {
        let acked = acked.clone();
        let count = count.clone();
        let channel = server.channel();
        let name = created.name.clone();
        tasks.push(tokio::spawn(async move {
            let codes = ["USA", "DEU", "FRA", "GBR", "POL", "ITA", "ESP", "NLD"];
            let mut client = ProposalServiceClient::new(channel);
            let mut errors = 0;
            for round in 0.. {
                let code = codes[(task * 2 + round) % codes.len()];
                let choice = [Choice::Support, Choice::Object, Choice::Abstain][round % 3];
                let mut b = ballot(code, choice);
                b.reason = format!("task {task} round {round}");
                match client
                    .cast_ballot(CastBallotRequest {
                        proposal: name.clone(),
                        ballot: Some(b),
                    })
                    .await
                {
                    Ok(r) => {
                        acked
                            .lock()
                            .unwrap()
                            .push(r.into_inner().ballot.expect("the ballot"));
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    // The server is gone: stop after a few failures.
                    Err(_) => {
                        errors += 1;
                        if errors >= 3 {
                            return;
                        }
                    }
                }
            }
        }));
    }

    let until = Instant::now() + Duration::from_secs(30);
    while count.load(Ordering::SeqCst) < 60 {
        assert!(Instant::now() < until, "the ballots are too slow");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill9(); // mid-stream: the clients are still casting
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("the clients notice the server is gone")
            .expect("client task");
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 60);

    server.restart().await;
    let stored = all_ballots(&server, &created.name).await;
    assert!(
        stored.len() >= acked.len(),
        "{} stored, {} acknowledged",
        stored.len(),
        acked.len()
    );
    for ballot in &acked {
        let kept = stored.iter().find(|b| b.name == ballot.name);
        assert_eq!(
            kept,
            Some(ballot),
            "the acknowledged ballot {} was lost or changed",
            ballot.name
        );
    }
    // The proposal is still open and takes ballots.
    let p = get_proposal(&server, &created.name).await;
    assert_eq!(p.state, ProposalState::Open as i32);
    cast(&server, &created.name, ballot("CAN", Choice::Support)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_ends_watch_streams_with_unavailable_instead_of_waiting_for_them() {
    let mut server = TestServer::start_default().await;
    let created = create(&server, proposal("Watched", motion("x"), "unanimity")).await;
    let mut watch = server
        .proposals()
        .watch_proposal(WatchProposalRequest {
            name: created.name.clone(),
        })
        .await
        .expect("watch")
        .into_inner();
    let snapshot = next_event(&mut watch).await.expect("snapshot");
    assert_eq!(snapshot.r#type, ProposalEventType::Snapshot as i32);

    // The harness gives the server a 5 s grace period; an open watch must not use it up.
    let stopping = Instant::now();
    server.stop().await;
    let took = stopping.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "an open watch stream held up the graceful stop for {took:?}"
    );
    let end = tokio::time::timeout(Duration::from_secs(5), watch.message())
        .await
        .expect("the watch ends");
    let status = end.expect_err("the watch ends with a status");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains("shutting down"),
        "{}",
        status.message()
    );

    // Nothing is lost by the stop.
    server.restart().await;
    assert_eq!(
        get_proposal(&server, &created.name).await.state,
        ProposalState::Open as i32
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_does_not_wait_for_a_policy_call_that_hangs() {
    let mut server = TestServer::start(Options {
        policy_timeout_ms: Some(500),
        ..Options::default().with_extra(&[HANGING])
    })
    .await;
    server
        .policies()
        .load_policy(LoadPolicyRequest {
            file_name: HANGING.into(),
            ..Default::default()
        })
        .await
        .expect("load the hanging fixture");
    // The fixture sleeps 30 s by default: far longer than the test may take.
    let result = server
        .proposals()
        .evaluate_proposal(EvaluateProposalRequest {
            subject: Some(evaluate_proposal_request::Subject::Proposal(proposal(
                "Please hang on for half a minute",
                motion("hang"),
                "",
            ))),
            policies: vec![policy("hanging")],
            ..Default::default()
        })
        .await;
    assert_status(result, tonic::Code::DeadlineExceeded, &["hanging"]);

    let stopping = Instant::now();
    server.stop().await;
    let took = stopping.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "SIGTERM waited {took:?} for the hung plugin thread"
    );
}
