//! The life of proposals on the real server: created, voted on, decided under each policy and
//! procedure, closed by their deadline, their effects applied to the alliance, evaluated without
//! changing anything, and watched.

use std::time::{Duration, Instant};

use accord_proto::v1::*;
use accord_test_support::grpc::*;
use accord_test_support::*;
use chrono::Datelike;
use tonic::Code;

/// The first 30 September after today: "end NMI by September" as the story has it (2026-09-30
/// when run before then), and always in the future, so that ending leaves NMI drawing down.
fn next_september_30() -> Date {
    let today = today();
    let this_year = chrono::NaiveDate::from_ymd_opt(today.year(), 9, 30).expect("a date");
    let year = if this_year > today {
        today.year()
    } else {
        today.year() + 1
    };
    date(year, 9, 30)
}

fn end_nmi(policy_id: &str) -> Proposal {
    proposal(
        "End NATO Mission Iraq by September",
        end_mission("NMI", next_september_30()),
        policy_id,
    )
}

fn state(p: &Proposal) -> ProposalState {
    ProposalState::try_from(p.state).expect("a known state")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_mission_under_unanimity_is_adopted_as_the_last_of_32_ballots_arrives() {
    let server = TestServer::start_default().await;
    let codes = member_codes(&server).await;
    assert_eq!(codes.len(), 32, "the 32 allies");
    let end = next_september_30();

    let created = create(&server, end_nmi("unanimity")).await;
    assert_eq!(state(&created), ProposalState::Open);
    assert!(created.name.starts_with("proposals/"), "{}", created.name);
    assert_eq!(created.policy.as_ref().unwrap().policy_id, "unanimity");
    assert!(created.create_time.is_some() && created.close_time.is_none());

    for (i, code) in codes.iter().enumerate() {
        let (stored, after) = cast(&server, &created.name, ballot(code, Choice::Support)).await;
        assert_eq!(stored.member, member(code));
        assert!(
            stored
                .name
                .starts_with(&format!("{}/ballots/", created.name)),
            "{}",
            stored.name
        );
        assert!(stored.cast_time.is_some());
        if i + 1 < codes.len() {
            assert_eq!(
                state(&after),
                ProposalState::Open,
                "open while {} allies have not voted",
                codes.len() - i - 1
            );
        } else {
            // The last ballot settles it: the CastBallot answer already shows it adopted.
            assert_eq!(state(&after), ProposalState::Adopted, "{after:?}");
        }
    }

    let adopted = get_proposal(&server, &created.name).await;
    assert_eq!(state(&adopted), ProposalState::Adopted);
    assert!(adopted.close_time.is_some());
    let decision = adopted.decision.expect("the decision that closed it");
    assert_eq!(decision.outcome, Outcome::Adopted as i32);
    assert!(decision.settled);
    assert_eq!(decision.support_share, 1.0);
    assert_eq!(decision.member_results.len(), 32);
    assert!(decision.blockers.is_empty());

    // The decision records exactly which library made it.
    let identity = decision.policy.expect("the policy identity");
    let loaded = get_policy(&server, "unanimity").await;
    assert_eq!(identity.policy_id, "unanimity");
    assert_eq!(
        identity.version,
        loaded.descriptor.as_ref().unwrap().version,
        "the loaded library's version"
    );
    assert!(!identity.version.is_empty());
    let on_disk = sha256sum(&server.plugin_dir().join(UNANIMITY));
    assert_eq!(identity.library_sha256, on_disk, "sha256sum of the library");
    assert_eq!(loaded.identity.unwrap().library_sha256, on_disk);

    // The effect: NMI draws down until its end date.
    let nmi = get_mission(&server, "NMI").await;
    assert_eq!(nmi.status, MissionStatus::DrawingDown as i32, "{nmi:?}");
    assert_eq!(nmi.end_date, Some(end));

    // Every ballot is kept, in the order cast.
    let ballots = all_ballots(&server, &created.name).await;
    let voters: Vec<String> = ballots.iter().map(|b| b.member.clone()).collect();
    let expected: Vec<String> = codes.iter().map(|c| member(c)).collect();
    assert_eq!(voters, expected);

    // It is listed among the adopted end-mission proposals about NMI.
    let listed = server
        .proposals()
        .list_proposals(ListProposalsRequest {
            state: ProposalState::Adopted as i32,
            kind: ProposalKind::EndMission as i32,
            target: "missions/NMI".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total_size, 1);
    assert_eq!(listed.proposals[0].name, created.name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_mission_under_weighted_settles_as_soon_as_enough_defence_spending_supports() {
    let server = TestServer::start_default().await;
    let created = create(&server, end_nmi("weighted")).await;

    // The United States alone holds about 66% of the defence spending: short of two thirds.
    let (_, after) = cast(&server, &created.name, ballot("USA", Choice::Support)).await;
    assert_eq!(state(&after), ProposalState::Open);
    let (_, after) = cast(&server, &created.name, ballot("LUX", Choice::Object)).await;
    assert_eq!(state(&after), ProposalState::Open);

    // With Germany the supporters pass two thirds even if all 29 others object: settled early.
    let (_, after) = cast(&server, &created.name, ballot("DEU", Choice::Support)).await;
    assert_eq!(state(&after), ProposalState::Adopted, "{after:?}");
    let decision = after.decision.expect("decision");
    assert!(decision.settled);
    assert_eq!(decision.outcome, Outcome::Adopted as i32);
    let identity = decision.policy.expect("identity");
    assert_eq!(identity.policy_id, "weighted");
    assert_eq!(
        identity.library_sha256,
        sha256sum(&server.plugin_dir().join(WEIGHTED))
    );
    let weight_for = decision.metrics["weight_for"];
    let weight_total = decision.metrics["weight_total"];
    assert!(
        weight_for / weight_total >= 2.0 / 3.0,
        "{weight_for} of {weight_total}"
    );
    assert!(decision.support_share > 0.66, "{}", decision.support_share);

    assert_eq!(all_ballots(&server, &created.name).await.len(), 3);
    let nmi = get_mission(&server, "NMI").await;
    assert_eq!(nmi.status, MissionStatus::DrawingDown as i32);
    assert_eq!(nmi.end_date, Some(next_september_30()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_mission_under_pressure_settles_at_its_deadline() {
    let server = TestServer::start_default().await;
    let mut p = end_nmi("pressure");
    p.deadline = Some(from_now(Duration::from_secs(2)));
    let created = create(&server, p).await;

    // The lead nation and France support, the others are silent (and follow the lead).
    // Pressure decides only at the deadline.
    let (_, after) = cast(&server, &created.name, ballot("USA", Choice::Support)).await;
    assert_eq!(state(&after), ProposalState::Open);
    let (_, after) = cast(&server, &created.name, ballot("FRA", Choice::Support)).await;
    assert_eq!(state(&after), ProposalState::Open);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        state(&get_proposal(&server, &created.name).await),
        ProposalState::Open,
        "not settled before the deadline"
    );

    let closed = wait_closed(&server, &created.name, Duration::from_secs(15)).await;
    let deadline = created.deadline.unwrap();
    let close_time = closed.close_time.unwrap();
    assert!(
        (close_time.seconds, close_time.nanos) >= (deadline.seconds, deadline.nanos),
        "closed at {close_time:?}, before its deadline {deadline:?}"
    );
    let decision = closed.decision.clone().expect("decision");
    assert!(decision.settled);
    assert_eq!(decision.policy.as_ref().unwrap().policy_id, "pressure");
    assert!(decision.adoption_probability.is_some());
    let expected = if decision.outcome == Outcome::Adopted as i32 {
        ProposalState::Adopted
    } else {
        ProposalState::Rejected
    };
    assert_eq!(state(&closed), expected);
    // Nobody dissents from the lead nation: adopted.
    assert_eq!(state(&closed), ProposalState::Adopted, "{decision:?}");
    assert_eq!(decision.adoption_probability, Some(1.0));
    assert_eq!(
        get_mission(&server, "NMI").await.status,
        MissionStatus::DrawingDown as i32
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_procedure_adopts_at_the_deadline_when_nobody_objects() {
    let server = TestServer::start_default().await;
    let mut p = end_nmi("unanimity");
    p.procedure = Procedure::Silence as i32;
    p.deadline = Some(from_now(Duration::from_secs(2)));
    let created = create(&server, p).await;
    assert_eq!(created.procedure, Procedure::Silence as i32);

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        state(&get_proposal(&server, &created.name).await),
        ProposalState::Open,
        "silence holds until the deadline"
    );
    let closed = wait_closed(&server, &created.name, Duration::from_secs(15)).await;
    assert_eq!(state(&closed), ProposalState::Adopted, "{closed:?}");
    let decision = closed.decision.unwrap();
    assert!(decision.settled);
    assert!(decision.blockers.is_empty());
    assert!(all_ballots(&server, &created.name).await.is_empty());
    assert_eq!(
        get_mission(&server, "NMI").await.status,
        MissionStatus::DrawingDown as i32
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_procedure_is_rejected_at_once_when_one_ally_breaks_silence() {
    let server = TestServer::start_default().await;
    let mut p = end_nmi("unanimity");
    p.procedure = Procedure::Silence as i32;
    let created = create(&server, p).await; // deadline an hour away

    let (_, after) = cast(&server, &created.name, ballot("USA", Choice::Support)).await;
    assert_eq!(state(&after), ProposalState::Open);
    let (_, after) = cast(&server, &created.name, ballot("FRA", Choice::Object)).await;
    assert_eq!(state(&after), ProposalState::Rejected, "{after:?}");
    let decision = after.decision.expect("decision");
    assert!(decision.settled);
    assert_eq!(decision.outcome, Outcome::Rejected as i32);
    assert_eq!(decision.blockers, vec![member("FRA")]);
    // Rejected: NMI goes on.
    let nmi = get_mission(&server, "NMI").await;
    assert_eq!(nmi.status, MissionStatus::Active as i32);
    assert_eq!(nmi.end_date, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_vote_with_one_objection_is_rejected_once_all_have_voted() {
    let server = TestServer::start_default().await;
    let codes = member_codes(&server).await;
    let created = create(&server, end_nmi("unanimity")).await;

    // Hungary objects first; in an open vote that is final only once everyone has spoken.
    let (_, after) = cast(&server, &created.name, ballot("HUN", Choice::Object)).await;
    assert_eq!(state(&after), ProposalState::Open);
    let others: Vec<&String> = codes.iter().filter(|c| *c != "HUN").collect();
    for (i, code) in others.iter().enumerate() {
        let (_, after) = cast(&server, &created.name, ballot(code, Choice::Support)).await;
        let expected = if i + 1 < others.len() {
            ProposalState::Open
        } else {
            ProposalState::Rejected
        };
        assert_eq!(state(&after), expected, "after {code}");
    }
    let rejected = get_proposal(&server, &created.name).await;
    let decision = rejected.decision.expect("decision");
    assert_eq!(decision.outcome, Outcome::Rejected as i32);
    assert!(decision.settled);
    assert_eq!(decision.blockers, vec![member("HUN")]);
    assert_eq!(decision.pivotal_members, vec![member("HUN")]);
    assert_eq!(
        get_mission(&server, "NMI").await.status,
        MissionStatus::Active as i32
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_fire_by_themselves_and_an_open_vote_with_ballots_missing_is_rejected() {
    let server = TestServer::start_default().await;
    let mut p = proposal("Reaffirm the open door", motion("reaffirm"), "unanimity");
    p.deadline = Some(from_now(Duration::from_secs(2)));
    let open_vote = create(&server, p).await;
    let mut p = proposal("Hold the summit in Ankara", motion("Ankara"), "unanimity");
    p.procedure = Procedure::Silence as i32;
    p.deadline = Some(from_now(Duration::from_millis(2500)));
    let silence = create(&server, p).await;
    cast(&server, &open_vote.name, ballot("USA", Choice::Support)).await;

    // Nobody calls anything: the scheduler closes both.
    let started = Instant::now();
    let closed = wait_closed(&server, &open_vote.name, Duration::from_secs(15)).await;
    // Under unanimity a member that has not voted by the deadline blocks.
    assert_eq!(state(&closed), ProposalState::Rejected, "{closed:?}");
    assert_eq!(closed.decision.unwrap().blockers.len(), 31);
    let closed = wait_closed(&server, &silence.name, Duration::from_secs(15)).await;
    assert_eq!(state(&closed), ProposalState::Adopted);
    assert!(started.elapsed() < Duration::from_secs(10));

    // A ballot after the close is refused.
    let late = server
        .proposals()
        .cast_ballot(CastBallotRequest {
            proposal: open_vote.name.clone(),
            ballot: Some(ballot("DEU", Choice::Support)),
        })
        .await;
    assert_status(late, Code::FailedPrecondition, &["rejected"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopted_proposals_resize_extend_launch_and_set_summit_participation() {
    let server = TestServer::start_default().await;
    // Under weighted, the United States and Germany together settle a proposal at once.
    async fn adopt(server: &TestServer, title: &str, action: proposal::Action) -> Proposal {
        let created = create(server, proposal(title, action, "weighted")).await;
        cast(server, &created.name, ballot("USA", Choice::Support)).await;
        let (_, after) = cast(server, &created.name, ballot("DEU", Choice::Support)).await;
        assert_eq!(
            after.state,
            ProposalState::Adopted as i32,
            "{title}: {after:?}"
        );
        after
    }

    // Resize KFOR.
    let kfor = get_mission(&server, "KFOR").await;
    assert_eq!(kfor.personnel_ceiling, 4500);
    adopt(
        &server,
        "Shrink KFOR",
        proposal::Action::ResizeMission(ResizeMission {
            mission: "missions/KFOR".into(),
            personnel_ceiling: 3000,
        }),
    )
    .await;
    let resized = get_mission(&server, "KFOR").await;
    assert_eq!(resized.personnel_ceiling, 3000);
    assert_eq!(resized.status, MissionStatus::Active as i32);
    assert_eq!(
        resized.contributions, kfor.contributions,
        "nothing else changes"
    );

    // End NMI, then extend it by a year.
    let end = next_september_30();
    adopt(&server, "End NMI", end_mission("NMI", end)).await;
    let later = date(end.year + 1, 3, 31);
    adopt(
        &server,
        "Slower drawdown in Iraq",
        proposal::Action::ExtendMission(ExtendMission {
            mission: "missions/NMI".into(),
            end_date: Some(later),
        }),
    )
    .await;
    let nmi = get_mission(&server, "NMI").await;
    assert_eq!(nmi.end_date, Some(later));
    assert_eq!(nmi.status, MissionStatus::DrawingDown as i32);

    // Launch a new mission.
    let missions_before = server
        .missions()
        .list_missions(ListMissionsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(missions_before.missions.iter().all(|m| m.id != "NMI-2"));
    adopt(
        &server,
        "Launch a smaller advisory mission in Iraq",
        proposal::Action::LaunchMission(LaunchMission {
            mission_id: "NMI-2".into(),
            display_name: "NATO Advisory Mission Iraq".into(),
            location: "Baghdad".into(),
            personnel_ceiling: 250,
            in_area: false,
            mandate: "Advise the Iraqi ministries of defence and interior.".into(),
        }),
    )
    .await;
    let missions_after = server
        .missions()
        .list_missions(ListMissionsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(missions_after.total_size, missions_before.total_size + 1);
    let launched = missions_after
        .missions
        .iter()
        .find(|m| m.id == "NMI-2")
        .expect("NMI-2 is listed");
    assert_eq!(launched.name, "missions/NMI-2");
    assert_eq!(launched.status, MissionStatus::Active as i32);
    assert_eq!(launched.personnel_ceiling, 250);
    assert_eq!(launched.area, MissionArea::OutOfArea as i32);
    assert_eq!(launched.display_name, "NATO Advisory Mission Iraq");

    // Keep Ukraine out of formal participation at Ankara.
    let ukr = server
        .partners()
        .get_partner(GetPartnerRequest {
            name: "partners/UKR".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .partner
        .unwrap();
    assert_eq!(ukr.summit_participation, SummitParticipation::Full as i32);
    adopt(
        &server,
        "Ukraine at Ankara: restricted",
        proposal::Action::SetSummitParticipation(SetSummitParticipation {
            partners: vec!["partners/UKR".into()],
            summit: "Ankara 2026".into(),
            participation: SummitParticipation::Restricted as i32,
        }),
    )
    .await;
    let ukr_after = server
        .partners()
        .get_partner(GetPartnerRequest {
            name: "partners/UKR".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .partner
        .unwrap();
    assert_eq!(
        ukr_after.summit_participation,
        SummitParticipation::Restricted as i32
    );
    assert_eq!(ukr_after.display_name, ukr.display_name);
    let restricted = server
        .partners()
        .list_partners(ListPartnersRequest {
            summit_participation: SummitParticipation::Restricted as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(restricted.partners.iter().any(|p| p.code == "UKR"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_with_an_end_date_today_terminates_the_mission_at_once() {
    let server = TestServer::start_default().await;
    let t = today();
    let end = date(t.year(), t.month() as i32, t.day() as i32);
    let created = create(
        &server,
        proposal("End OSG now", end_mission("OSG", end), "weighted"),
    )
    .await;
    cast(&server, &created.name, ballot("USA", Choice::Support)).await;
    let (_, after) = cast(&server, &created.name, ballot("DEU", Choice::Support)).await;
    assert_eq!(after.state, ProposalState::Adopted as i32);
    let osg = get_mission(&server, "OSG").await;
    assert_eq!(osg.status, MissionStatus::Terminated as i32);
    assert_eq!(osg.end_date, Some(end));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluate_under_every_policy_changes_nothing() {
    let server = TestServer::start_default().await;
    let mut client = server.proposals();

    // A hypothetical proposal, with ballots given in the request.
    let hypothetical = proposal(
        "Shrink KFOR to 3,000",
        proposal::Action::ResizeMission(ResizeMission {
            mission: "missions/KFOR".into(),
            personnel_ceiling: 3000,
        }),
        "",
    );
    let evaluations = client
        .evaluate_proposal(EvaluateProposalRequest {
            subject: Some(evaluate_proposal_request::Subject::Proposal(hypothetical)),
            ballots: vec![
                ballot("USA", Choice::Support),
                ballot("DEU", Choice::Object),
            ],
            ..Default::default()
        })
        .await
        .expect("evaluate a hypothetical proposal")
        .into_inner()
        .evaluations;
    let policies: Vec<&str> = evaluations.iter().map(|e| e.policy.as_str()).collect();
    assert_eq!(
        policies,
        [
            "policies/bargaining",
            "policies/pressure",
            "policies/unanimity",
            "policies/weighted"
        ],
        "one evaluation per loaded policy (the four bundled), by id"
    );
    for e in &evaluations {
        assert_eq!(e.error_code, 0, "{}: {}", e.policy, e.error_message);
        let decision = e.decision.as_ref().expect("a decision");
        let identity = decision.policy.as_ref().expect("identity");
        assert_eq!(format!("policies/{}", identity.policy_id), e.policy);
        assert_eq!(identity.library_sha256.len(), 64);
        assert_eq!(decision.member_results.len(), 32);
    }
    let unanimity = evaluations[2].decision.as_ref().unwrap();
    assert_eq!(unanimity.blockers, vec![member("DEU")]);
    let none = client
        .list_proposals(ListProposalsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(none.total_size, 0, "a hypothetical proposal is not stored");

    // An existing proposal with two ballots; the request lays more over them.
    let kfor_before = get_mission(&server, "KFOR").await;
    let created = create(
        &server,
        proposal(
            "Shrink KFOR to 2,000",
            proposal::Action::ResizeMission(ResizeMission {
                mission: "missions/KFOR".into(),
                personnel_ceiling: 2000,
            }),
            "unanimity",
        ),
    )
    .await;
    cast(&server, &created.name, ballot("USA", Choice::Support)).await;
    cast(&server, &created.name, ballot("FRA", Choice::Support)).await;
    let mut everyone_supports: Vec<Ballot> = member_codes(&server)
        .await
        .iter()
        .map(|c| ballot(c, Choice::Support))
        .collect();
    everyone_supports.retain(|b| b.member != member("FRA"));
    everyone_supports.push(ballot("FRA", Choice::Object)); // laid over FRA's own support
    let evaluations = client
        .evaluate_proposal(EvaluateProposalRequest {
            subject: Some(evaluate_proposal_request::Subject::Name(
                created.name.clone(),
            )),
            ballots: everyone_supports,
            ..Default::default()
        })
        .await
        .expect("evaluate an existing proposal")
        .into_inner()
        .evaluations;
    assert_eq!(evaluations.len(), 4, "the four bundled policies");
    for e in &evaluations {
        assert_eq!(e.error_code, 0, "{}: {}", e.policy, e.error_message);
    }
    let by = |id: &str| {
        evaluations
            .iter()
            .find(|e| e.policy == format!("policies/{id}"))
            .and_then(|e| e.decision.clone())
            .unwrap()
    };
    let unanimity = by("unanimity");
    assert_eq!(unanimity.outcome, Outcome::Rejected as i32);
    assert!(unanimity.settled, "everyone has (hypothetically) voted");
    assert_eq!(unanimity.blockers, vec![member("FRA")]);
    assert_eq!(by("weighted").outcome, Outcome::Adopted as i32);

    // Only some policies, with parameters.
    let only = client
        .evaluate_proposal(EvaluateProposalRequest {
            subject: Some(evaluate_proposal_request::Subject::Name(
                created.name.clone(),
            )),
            policies: vec![PolicyRef {
                policy_id: "weighted".into(),
                parameters: [("weight".to_string(), "equal".to_string())].into(),
            }],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .evaluations;
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].policy, "policies/weighted");

    // Nothing changed.
    let after = get_proposal(&server, &created.name).await;
    assert_eq!(after.state, ProposalState::Open as i32);
    assert!(after.decision.is_none());
    assert_eq!(after, created, "the stored proposal is as created");
    assert_eq!(all_ballots(&server, &created.name).await.len(), 2);
    assert_eq!(get_mission(&server, "KFOR").await, kfor_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_sees_the_snapshot_each_ballot_and_the_decision_then_ends() {
    let server = TestServer::start_default().await;
    let codes = member_codes(&server).await;
    let created = create(&server, end_nmi("unanimity")).await;
    cast(&server, &created.name, ballot("USA", Choice::Support)).await;

    let mut watch = server
        .proposals()
        .watch_proposal(WatchProposalRequest {
            name: created.name.clone(),
        })
        .await
        .expect("watch")
        .into_inner();
    let snapshot = next_event(&mut watch).await.expect("a snapshot");
    assert_eq!(snapshot.r#type, ProposalEventType::Snapshot as i32);
    let p = snapshot.proposal.expect("the proposal");
    assert_eq!(p.name, created.name);
    assert_eq!(p.state, ProposalState::Open as i32);

    // Ballots from another client, over its own connection.
    let other = tonic::transport::Channel::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let voters: Vec<String> = codes.iter().filter(|c| *c != "USA").cloned().collect();
    let caster = {
        let voters = voters.clone();
        let name = created.name.clone();
        tokio::spawn(async move {
            let mut client =
                accord_proto::v1::proposal_service_client::ProposalServiceClient::new(other);
            for code in voters {
                client
                    .cast_ballot(CastBallotRequest {
                        proposal: name.clone(),
                        ballot: Some(ballot(&code, Choice::Support)),
                    })
                    .await
                    .expect("cast");
            }
        })
    };
    for code in &voters {
        let event = next_event(&mut watch).await.expect("a ballot event");
        assert_eq!(
            event.r#type,
            ProposalEventType::BallotCast as i32,
            "{event:?}"
        );
        let b = event.ballot.expect("the ballot");
        assert_eq!(b.member, member(code));
        assert_eq!(b.choice, Choice::Support as i32);
        assert!(!b.name.is_empty());
    }
    let decided = next_event(&mut watch).await.expect("a decided event");
    assert_eq!(decided.r#type, ProposalEventType::Decided as i32);
    assert_eq!(
        decided.proposal.unwrap().state,
        ProposalState::Adopted as i32
    );
    assert_eq!(decided.decision.unwrap().outcome, Outcome::Adopted as i32);
    assert!(
        next_event(&mut watch).await.is_none(),
        "the stream ends after DECIDED"
    );
    caster.await.unwrap();

    // Watching a closed proposal gives its snapshot and ends.
    let mut watch = server
        .proposals()
        .watch_proposal(WatchProposalRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let snapshot = watch.message().await.unwrap().unwrap();
    assert_eq!(snapshot.r#type, ProposalEventType::Snapshot as i32);
    assert_eq!(
        snapshot.proposal.unwrap().state,
        ProposalState::Adopted as i32
    );
    assert!(watch.message().await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_sees_silence_broken_under_the_silence_procedure() {
    let server = TestServer::start_default().await;
    let mut p = end_nmi("unanimity");
    p.procedure = Procedure::Silence as i32;
    let created = create(&server, p).await;

    let mut watch = server
        .proposals()
        .watch_proposal(WatchProposalRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let snapshot = next_event(&mut watch).await.unwrap();
    assert_eq!(snapshot.r#type, ProposalEventType::Snapshot as i32);

    let mut other = server.proposals();
    other
        .cast_ballot(CastBallotRequest {
            proposal: created.name.clone(),
            ballot: Some(ballot("CAN", Choice::Support)),
        })
        .await
        .unwrap();
    other
        .cast_ballot(CastBallotRequest {
            proposal: created.name.clone(),
            ballot: Some(ballot("ESP", Choice::Object)),
        })
        .await
        .unwrap();

    let types: Vec<(ProposalEventType, Option<String>)> = {
        let mut seen = Vec::new();
        while let Some(event) = next_event(&mut watch).await {
            seen.push((
                ProposalEventType::try_from(event.r#type).unwrap(),
                event.ballot.map(|b| b.member),
            ));
            if event.r#type == ProposalEventType::Decided as i32 {
                assert_eq!(
                    event.proposal.unwrap().state,
                    ProposalState::Rejected as i32
                );
                assert_eq!(event.decision.unwrap().blockers, vec![member("ESP")]);
            }
        }
        seen
    };
    assert_eq!(
        types,
        vec![
            (ProposalEventType::BallotCast, Some(member("CAN"))),
            (ProposalEventType::BallotCast, Some(member("ESP"))),
            (ProposalEventType::SilenceBroken, Some(member("ESP"))),
            (ProposalEventType::Decided, None),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_ballots_cast_at_once_still_settle_the_proposal() {
    let server = TestServer::start_default().await;
    let codes = member_codes(&server).await;
    let created = create(&server, end_nmi("unanimity")).await;
    let mut tasks = Vec::new();
    for code in codes {
        let mut client = server.proposals();
        let name = created.name.clone();
        tasks.push(tokio::spawn(async move {
            client
                .cast_ballot(CastBallotRequest {
                    proposal: name,
                    ballot: Some(ballot(&code, Choice::Support)),
                })
                .await
                .map(|_| ())
        }));
    }
    for task in tasks {
        task.await
            .unwrap()
            .expect("every concurrent ballot is taken");
    }
    // No decision is lost when ballots race each other: the proposal closes promptly.
    let closed = wait_closed(&server, &created.name, Duration::from_secs(5)).await;
    assert_eq!(state(&closed), ProposalState::Adopted);
    assert_eq!(all_ballots(&server, &created.name).await.len(), 32);
    assert_eq!(
        get_mission(&server, "NMI").await.status,
        MissionStatus::DrawingDown as i32
    );
}

#[tokio::test]
async fn one_summit_proposal_sets_several_partners_and_is_found_by_each() {
    let server = TestServer::start_default().await;
    let action = proposal::Action::SetSummitParticipation(SetSummitParticipation {
        partners: vec![
            "partners/UKR".into(),
            "partners/AUS".into(),
            "partners/JPN".into(),
        ],
        summit: "Ankara 2026".into(),
        participation: SummitParticipation::Restricted as i32,
    });
    let created = create(
        &server,
        proposal("Ankara without formal partners", action, "weighted"),
    )
    .await;
    cast(&server, &created.name, ballot("USA", Choice::Support)).await;
    let (_, after) = cast(&server, &created.name, ballot("DEU", Choice::Support)).await;
    assert_eq!(state(&after), ProposalState::Adopted);
    for code in ["UKR", "AUS", "JPN"] {
        let partner = server
            .partners()
            .get_partner(GetPartnerRequest {
                name: format!("partners/{code}"),
            })
            .await
            .unwrap()
            .into_inner()
            .partner
            .unwrap();
        assert_eq!(
            partner.summit_participation,
            SummitParticipation::Restricted as i32,
            "{code}"
        );
    }
    let korea = server
        .partners()
        .get_partner(GetPartnerRequest {
            name: "partners/KOR".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .partner
        .unwrap();
    assert_eq!(
        korea.summit_participation,
        SummitParticipation::Full as i32,
        "not named, unchanged"
    );

    // Listing by target finds the proposal under each of its partners, and not under others.
    for (target, found) in [
        ("partners/AUS", 1),
        ("partners/JPN", 1),
        ("partners/KOR", 0),
        ("partners/AU", 0),
    ] {
        let listed = server
            .proposals()
            .list_proposals(ListProposalsRequest {
                target: target.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(listed.proposals.len(), found, "{target}");
    }

    // Naming no partner, or one twice, is refused.
    for partners in [
        vec![],
        vec!["partners/UKR".to_string(), "partners/UKR".to_string()],
    ] {
        let action = proposal::Action::SetSummitParticipation(SetSummitParticipation {
            partners,
            summit: "Ankara 2026".into(),
            participation: SummitParticipation::None as i32,
        });
        let result = server
            .proposals()
            .create_proposal(CreateProposalRequest {
                proposal: Some(proposal("bad", action, "weighted")),
            })
            .await;
        assert_status(result, Code::InvalidArgument, &["partners"]);
    }
}

#[tokio::test]
async fn extending_must_move_the_end_date_later() {
    let server = TestServer::start_default().await;
    let mut kfor = get_mission(&server, "KFOR").await;
    kfor.end_date = Some(date(2030, 6, 30));
    server
        .missions()
        .update_mission(UpdateMissionRequest {
            mission: Some(kfor),
            update_mask: None,
        })
        .await
        .unwrap();
    let extend = |d: Date| {
        proposal(
            "Extend KFOR",
            proposal::Action::ExtendMission(ExtendMission {
                mission: "missions/KFOR".into(),
                end_date: Some(d),
            }),
            "unanimity",
        )
    };
    for earlier in [date(2030, 6, 30), date(2029, 1, 1)] {
        let result = server
            .proposals()
            .create_proposal(CreateProposalRequest {
                proposal: Some(extend(earlier)),
            })
            .await;
        assert_status(
            result,
            Code::InvalidArgument,
            &["end_date", "not later", "2030-06-30"],
        );
    }
    create(&server, extend(date(2031, 6, 30))).await;
}

#[tokio::test]
async fn evaluating_under_all_policies_uses_the_proposals_own_parameters_for_its_policy() {
    let server = TestServer::start_default().await;
    // At a 0.65 quota the United States (65.6% of defence spending) carries the vote alone;
    // at the default 2/3 it does not.
    let mut p = proposal(
        "Low quota",
        motion("The alliance notes the report."),
        "weighted",
    );
    p.policy
        .as_mut()
        .unwrap()
        .parameters
        .insert("quota".into(), "0.65".into());
    let created = create(&server, p).await;
    let response = server
        .proposals()
        .evaluate_proposal(EvaluateProposalRequest {
            subject: Some(evaluate_proposal_request::Subject::Name(
                created.name.clone(),
            )),
            ballots: vec![ballot("USA", Choice::Support)],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let weighted = response
        .evaluations
        .iter()
        .find(|e| e.policy == "policies/weighted")
        .unwrap();
    assert_eq!(
        weighted.decision.as_ref().unwrap().outcome,
        Outcome::Adopted as i32
    );

    let response = server
        .proposals()
        .evaluate_proposal(EvaluateProposalRequest {
            subject: Some(evaluate_proposal_request::Subject::Name(
                created.name.clone(),
            )),
            ballots: vec![ballot("USA", Choice::Support)],
            policies: vec![policy("weighted")],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(
        response.evaluations[0].decision.as_ref().unwrap().outcome,
        Outcome::Adopted as i32,
        "asked explicitly, the policy takes the parameters given (defaults)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawn_ballot_counts_as_no_ballot_and_bad_withdrawals_change_nothing() {
    let server = TestServer::start_default().await;
    let codes = member_codes(&server).await;
    let created = create(&server, end_nmi("unanimity")).await;
    let withdrawal = |code: &str| Ballot {
        member: member(code),
        withdrawn: true,
        reason: "new instructions from the capital".into(),
        ..Default::default()
    };

    // Nothing to withdraw yet: refused, and no record is written.
    let refused = server
        .proposals()
        .cast_ballot(CastBallotRequest {
            proposal: created.name.clone(),
            ballot: Some(withdrawal("HUN")),
        })
        .await;
    assert_status(
        refused,
        Code::FailedPrecondition,
        &["members/HUN", "no ballot", "to withdraw"],
    );
    // A withdrawal that also states a choice is not a withdrawal.
    let mixed = server
        .proposals()
        .cast_ballot(CastBallotRequest {
            proposal: created.name.clone(),
            ballot: Some(Ballot {
                choice: Choice::Support as i32,
                ..withdrawal("HUN")
            }),
        })
        .await;
    assert_status(mixed, Code::InvalidArgument, &["withdrawn", "no choice"]);
    assert!(all_ballots(&server, &created.name).await.is_empty());

    // Hungary objects, then takes it back: the record keeps both, the policy sees neither.
    cast(&server, &created.name, ballot("HUN", Choice::Object)).await;
    let (stored, after) = cast(&server, &created.name, withdrawal("HUN")).await;
    assert!(stored.withdrawn);
    assert_eq!(stored.choice, Choice::Unspecified as i32);
    assert_eq!(state(&after), ProposalState::Open);
    let history = all_ballots(&server, &created.name).await;
    assert_eq!(history.len(), 2);
    assert!(!history[0].withdrawn && history[1].withdrawn);

    // Everyone else supports: with Hungary silent (no ballot) an open vote is not yet over…
    for code in codes.iter().filter(|c| *c != "HUN") {
        let (_, after) = cast(&server, &created.name, ballot(code, Choice::Support)).await;
        assert_eq!(state(&after), ProposalState::Open, "after {code}");
    }
    // …and no objection remains: once Hungary supports, the proposal is adopted.
    let (_, after) = cast(&server, &created.name, ballot("HUN", Choice::Support)).await;
    assert_eq!(state(&after), ProposalState::Adopted, "{after:?}");
    assert!(after.decision.expect("decision").blockers.is_empty());
}
