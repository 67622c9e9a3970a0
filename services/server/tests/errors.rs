//! Every error code the server gives, each with a message that says what was wrong, and a
//! rejected request changing nothing.

use std::time::Duration;

use accord_proto::v1::*;
use accord_test_support::grpc::*;
use accord_test_support::*;
use prost_types::FieldMask;
use tonic::Code;

async fn proposal_count(server: &TestServer) -> i32 {
    server
        .proposals()
        .list_proposals(ListProposalsRequest::default())
        .await
        .expect("list proposals")
        .into_inner()
        .total_size
}

async fn try_create(server: &TestServer, p: Proposal) -> Result<Proposal, tonic::Status> {
    server
        .proposals()
        .create_proposal(CreateProposalRequest { proposal: Some(p) })
        .await
        .map(|r| r.into_inner().proposal.unwrap())
}

fn resize_kfor(ceiling: i32) -> proposal::Action {
    proposal::Action::ResizeMission(ResizeMission {
        mission: "missions/KFOR".into(),
        personnel_ceiling: ceiling,
    })
}

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_arguments_name_the_field_and_change_nothing() {
    let server = TestServer::start_default().await;
    let mut members = server.members();
    let mut proposals = server.proposals();

    // Malformed resource names.
    let r = members
        .get_member(GetMemberRequest {
            name: "members".into(),
        })
        .await;
    assert_status(r, Code::InvalidArgument, &["name", "members/{id}"]);
    let r = members
        .get_member(GetMemberRequest {
            name: "members/USA/extra".into(),
        })
        .await;
    assert_status(r, Code::InvalidArgument, &["members/USA/extra"]);
    let r = proposals
        .get_proposal(GetProposalRequest {
            name: "proposals/abc".into(),
        })
        .await;
    assert_status(r, Code::InvalidArgument, &["proposals/abc", "numbers"]);
    let r = server
        .missions()
        .get_mission(GetMissionRequest {
            name: "members/KFOR".into(),
        })
        .await;
    assert_status(r, Code::InvalidArgument, &["missions/{id}"]);
    let r = proposals
        .list_ballots(ListBallotsRequest {
            proposal: "abc".into(),
            ..Default::default()
        })
        .await;
    assert_status(r, Code::InvalidArgument, &["proposal", "`abc`"]);

    // Unknown enum values.
    let mut p = proposal("Unknown procedure", motion("x"), "unanimity");
    p.procedure = 99;
    let r = try_create(&server, p).await;
    assert_status(r, Code::InvalidArgument, &["proposal.procedure", "99"]);
    let r = members
        .list_members(ListMembersRequest {
            status: 42,
            ..Default::default()
        })
        .await;
    assert_status(r, Code::InvalidArgument, &["status", "42"]);
    let r = try_create(
        &server,
        proposal(
            "Unknown participation",
            proposal::Action::SetSummitParticipation(SetSummitParticipation {
                partners: vec!["partners/UKR".into()],
                summit: "Ankara 2026".into(),
                participation: 7,
            }),
            "unanimity",
        ),
    )
    .await;
    assert_status(r, Code::InvalidArgument, &["participation", "7"]);

    // A negative ceiling, in a proposal and in an operator update.
    let r = try_create(
        &server,
        proposal("Negative KFOR", resize_kfor(-5), "unanimity"),
    )
    .await;
    assert_status(
        r,
        Code::InvalidArgument,
        &["personnel_ceiling", "-5", "negative"],
    );
    let kfor = get_mission(&server, "KFOR").await;
    let r = server
        .missions()
        .update_mission(UpdateMissionRequest {
            mission: Some(Mission {
                name: "missions/KFOR".into(),
                personnel_ceiling: -1,
                ..Default::default()
            }),
            update_mask: mask(&["personnel_ceiling"]),
        })
        .await;
    assert_status(r, Code::InvalidArgument, &["personnel_ceiling", "negative"]);
    assert_eq!(get_mission(&server, "KFOR").await, kfor, "KFOR unchanged");

    // A deadline in the past.
    let mut p = proposal("Too late", motion("late"), "unanimity");
    p.deadline = Some(ago(Duration::from_secs(60)));
    let r = try_create(&server, p).await;
    assert_status(r, Code::InvalidArgument, &["proposal.deadline", "past"]);

    // Policy parameters: an unknown name, a value that does not parse.
    let mut p = proposal("Unknown parameter", motion("x"), "unanimity");
    p.policy = Some(PolicyRef {
        policy_id: "unanimity".into(),
        parameters: [("quorum".to_string(), "0.5".to_string())].into(),
    });
    let r = try_create(&server, p).await;
    assert_status(r, Code::InvalidArgument, &["quorum", "unanimity"]);
    let mut p = proposal("Bad parameter", motion("x"), "weighted");
    p.policy = Some(PolicyRef {
        policy_id: "weighted".into(),
        parameters: [("weight".to_string(), "shoe_size".to_string())].into(),
    });
    let r = try_create(&server, p).await;
    assert_status(r, Code::InvalidArgument, &["weight", "shoe_size"]);

    // Other malformed proposals.
    let r = try_create(&server, proposal("   ", motion("x"), "unanimity")).await;
    assert_status(r, Code::InvalidArgument, &["proposal.title", "required"]);
    let r = try_create(
        &server,
        proposal(
            "Bad date",
            end_mission("NMI", date(2026, 2, 30)),
            "unanimity",
        ),
    )
    .await;
    assert_status(r, Code::InvalidArgument, &["end_date", "2026-02-30"]);
    let mut p = proposal("No action", motion("x"), "unanimity");
    p.action = None;
    let r = try_create(&server, p).await;
    assert_status(r, Code::InvalidArgument, &["proposal.action"]);
    let r = try_create(
        &server,
        proposal(
            "Bad mission id",
            proposal::Action::LaunchMission(LaunchMission {
                mission_id: "nmi two".into(),
                display_name: "x".into(),
                ..Default::default()
            }),
            "unanimity",
        ),
    )
    .await;
    assert_status(r, Code::InvalidArgument, &["mission_id", "nmi two"]);

    // Nothing was created.
    assert_eq!(proposal_count(&server).await, 0);

    // Ballots: no choice, salience out of range, a position that does not fit.
    let created = create(
        &server,
        proposal("Shrink KFOR", resize_kfor(3000), "unanimity"),
    )
    .await;
    let mut bad = ballot("DEU", Choice::Support);
    bad.choice = 0;
    let r = proposals
        .cast_ballot(CastBallotRequest {
            proposal: created.name.clone(),
            ballot: Some(bad),
        })
        .await;
    assert_status(r, Code::InvalidArgument, &["ballot.choice", "required"]);
    let mut bad = ballot("DEU", Choice::Support);
    bad.salience = Some(1.5);
    let r = proposals
        .cast_ballot(CastBallotRequest {
            proposal: created.name.clone(),
            ballot: Some(bad),
        })
        .await;
    assert_status(r, Code::InvalidArgument, &["ballot.salience", "1.5"]);
    let mut bad = ballot("DEU", Choice::Support);
    bad.position = Some(Position {
        value: Some(position::Value::Date(date(2027, 1, 1))),
    });
    let r = proposals
        .cast_ballot(CastBallotRequest {
            proposal: created.name.clone(),
            ballot: Some(bad),
        })
        .await;
    assert_status(r, Code::InvalidArgument, &["ballot.position"]);
    assert!(all_ballots(&server, &created.name).await.is_empty());

    // Page sizes and tokens.
    let r = members
        .list_members(ListMembersRequest {
            page_size: -1,
            ..Default::default()
        })
        .await;
    assert_status(r, Code::InvalidArgument, &["page_size"]);
    let r = members
        .list_members(ListMembersRequest {
            page_token: "forged".into(),
            ..Default::default()
        })
        .await;
    assert_status(r, Code::InvalidArgument, &["page_token", "forged"]);

    // Plugin file names are names in the plugin directory, not paths.
    let r = server
        .policies()
        .load_policy(LoadPolicyRequest {
            file_name: format!("../plugins/{UNANIMITY}"),
            ..Default::default()
        })
        .await;
    assert_status(r, Code::InvalidArgument, &["file_name", "not a path"]);

    // A replacement must hold the same policy.
    let before = get_policy(&server, "unanimity").await;
    let r = server
        .policies()
        .replace_policy(ReplacePolicyRequest {
            name: "policies/unanimity".into(),
            file_name: WEIGHTED.into(),
            ..Default::default()
        })
        .await;
    assert_status(
        r,
        Code::InvalidArgument,
        &["policy `weighted`", "not `unanimity`"],
    );
    assert_eq!(
        get_policy(&server, "unanimity").await,
        before,
        "unanimity unchanged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_found_names_what_is_missing() {
    let server = TestServer::start_default().await;
    let r = server
        .members()
        .get_member(GetMemberRequest {
            name: "members/XXX".into(),
        })
        .await;
    assert_status(r, Code::NotFound, &["members/XXX", "not found"]);
    let r = server
        .missions()
        .get_mission(GetMissionRequest {
            name: "missions/NOPE".into(),
        })
        .await;
    assert_status(r, Code::NotFound, &["missions/NOPE"]);
    let r = server
        .partners()
        .get_partner(GetPartnerRequest {
            name: "partners/ATL".into(),
        })
        .await;
    assert_status(r, Code::NotFound, &["partners/ATL"]);
    let r = server
        .proposals()
        .get_proposal(GetProposalRequest {
            name: "proposals/999".into(),
        })
        .await;
    assert_status(r, Code::NotFound, &["proposals/999"]);
    let r = server
        .proposals()
        .list_ballots(ListBallotsRequest {
            proposal: "proposals/999".into(),
            ..Default::default()
        })
        .await;
    assert_status(r, Code::NotFound, &["proposals/999"]);
    let r = server
        .proposals()
        .cast_ballot(CastBallotRequest {
            proposal: "proposals/999".into(),
            ballot: Some(ballot("USA", Choice::Support)),
        })
        .await;
    assert_status(r, Code::NotFound, &["proposals/999"]);
    let r = server
        .policies()
        .get_policy(GetPolicyRequest {
            name: "policies/nope".into(),
        })
        .await;
    assert_status(r, Code::NotFound, &["policies/nope"]);
    let r = server
        .policies()
        .load_policy(LoadPolicyRequest {
            file_name: "libaccord_nope.so".into(),
            ..Default::default()
        })
        .await;
    assert_status(r, Code::NotFound, &["libaccord_nope.so"]);

    // In a proposal: the mission, the sponsor, the policy.
    let r = try_create(
        &server,
        proposal(
            "End NOPE",
            end_mission("NOPE", date(2030, 1, 1)),
            "unanimity",
        ),
    )
    .await;
    assert_status(r, Code::NotFound, &["missions/NOPE"]);
    let mut p = proposal("Sponsored by nobody", motion("x"), "unanimity");
    p.sponsor = member("XXX");
    let r = try_create(&server, p).await;
    assert_status(r, Code::NotFound, &["members/XXX"]);
    let r = try_create(&server, proposal("Unknown policy", motion("x"), "borda")).await;
    assert_status(r, Code::NotFound, &["policies/borda"]);
    // A ballot by a member that does not exist.
    let created = create(&server, proposal("A motion", motion("x"), "unanimity")).await;
    let r = server
        .proposals()
        .cast_ballot(CastBallotRequest {
            proposal: created.name.clone(),
            ballot: Some(ballot("XXX", Choice::Support)),
        })
        .await;
    assert_status(r, Code::NotFound, &["members/XXX"]);
    assert_eq!(proposal_count(&server).await, 1);
    assert!(all_ballots(&server, &created.name).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn already_exists_and_the_original_is_untouched() {
    let server = TestServer::start_default().await;
    let usa = server
        .members()
        .get_member(GetMemberRequest {
            name: "members/USA".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .member
        .unwrap();
    let r = server
        .members()
        .create_member(CreateMemberRequest {
            member: Some(Member {
                code: "USA".into(),
                display_name: "Another America".into(),
                accession_year: 2026,
                status: MemberStatus::Active as i32,
                ..Default::default()
            }),
        })
        .await;
    assert_status(r, Code::AlreadyExists, &["members/USA", "already exists"]);
    let after = server
        .members()
        .get_member(GetMemberRequest {
            name: "members/USA".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .member
        .unwrap();
    assert_eq!(after, usa);
    assert_eq!(member_codes(&server).await.len(), 32);

    let r = try_create(
        &server,
        proposal(
            "Launch KFOR again",
            proposal::Action::LaunchMission(LaunchMission {
                mission_id: "KFOR".into(),
                display_name: "Kosovo Force".into(),
                ..Default::default()
            }),
            "unanimity",
        ),
    )
    .await;
    assert_status(r, Code::AlreadyExists, &["missions/KFOR"]);

    let r = server
        .policies()
        .load_policy(LoadPolicyRequest {
            file_name: UNANIMITY.into(),
            ..Default::default()
        })
        .await;
    assert_status(
        r,
        Code::AlreadyExists,
        &["policies/unanimity", "ReplacePolicy"],
    );
    assert_eq!(proposal_count(&server).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_preconditions_on_closed_proposals_and_terminated_missions() {
    let server =
        TestServer::start(Options::default().with_extra(&["libaccord_fixture_wrong_abi.so"])).await;
    let mut proposals = server.proposals();

    // A ballot on a closed (withdrawn) proposal.
    let created = create(
        &server,
        proposal("Shrink KFOR", resize_kfor(3000), "unanimity"),
    )
    .await;
    cast(&server, &created.name, ballot("USA", Choice::Support)).await;
    let withdrawn = proposals
        .withdraw_proposal(WithdrawProposalRequest {
            name: created.name.clone(),
            requester: member("USA"),
        })
        .await
        .expect("the sponsor withdraws")
        .into_inner()
        .proposal
        .unwrap();
    assert_eq!(withdrawn.state, ProposalState::Withdrawn as i32);
    let r = proposals
        .cast_ballot(CastBallotRequest {
            proposal: created.name.clone(),
            ballot: Some(ballot("DEU", Choice::Support)),
        })
        .await;
    assert_status(
        r,
        Code::FailedPrecondition,
        &[&created.name, "withdrawn", "no more ballots"],
    );
    assert_eq!(all_ballots(&server, &created.name).await.len(), 1);
    let r = proposals
        .close_proposal(CloseProposalRequest {
            name: created.name.clone(),
        })
        .await;
    assert_status(r, Code::FailedPrecondition, &["withdrawn"]);
    let r = proposals
        .withdraw_proposal(WithdrawProposalRequest {
            name: created.name.clone(),
            requester: member("USA"),
        })
        .await;
    assert_status(r, Code::FailedPrecondition, &["withdrawn"]);
    assert_eq!(
        get_proposal(&server, &created.name).await,
        withdrawn,
        "unchanged"
    );

    // Ending a mission that an operator terminated.
    let terminated = server
        .missions()
        .update_mission(UpdateMissionRequest {
            mission: Some(Mission {
                name: "missions/OSG".into(),
                status: MissionStatus::Terminated as i32,
                ..Default::default()
            }),
            update_mask: mask(&["status"]),
        })
        .await
        .expect("terminate OSG")
        .into_inner()
        .mission
        .unwrap();
    assert_eq!(terminated.status, MissionStatus::Terminated as i32);
    assert_eq!(
        terminated.display_name, "Operation Sea Guardian",
        "mask kept the rest"
    );
    let r = try_create(
        &server,
        proposal("End OSG", end_mission("OSG", date(2030, 1, 1)), "unanimity"),
    )
    .await;
    assert_status(r, Code::FailedPrecondition, &["missions/OSG", "terminated"]);
    let r = try_create(
        &server,
        proposal(
            "Resize OSG",
            proposal::Action::ResizeMission(ResizeMission {
                mission: "missions/OSG".into(),
                personnel_ceiling: 10,
            }),
            "unanimity",
        ),
    )
    .await;
    assert_status(r, Code::FailedPrecondition, &["missions/OSG", "terminated"]);

    // A mission ended by an adopted proposal with today's end date cannot be ended again.
    let t = today();
    let end = date(
        chrono::Datelike::year(&t),
        chrono::Datelike::month(&t) as i32,
        chrono::Datelike::day(&t) as i32,
    );
    let mut p = proposal(
        "End Baltic Sentry today",
        end_mission("BALTIC-SENTRY", end),
        "unanimity",
    );
    p.procedure = Procedure::Silence as i32;
    p.deadline = Some(from_now(Duration::from_secs(1)));
    let ended = create(&server, p).await;
    let closed = wait_closed(&server, &ended.name, Duration::from_secs(15)).await;
    assert_eq!(closed.state, ProposalState::Adopted as i32);
    assert_eq!(
        get_mission(&server, "BALTIC-SENTRY").await.status,
        MissionStatus::Terminated as i32
    );
    let r = try_create(
        &server,
        proposal(
            "End it again",
            end_mission("BALTIC-SENTRY", end),
            "unanimity",
        ),
    )
    .await;
    assert_status(
        r,
        Code::FailedPrecondition,
        &["missions/BALTIC-SENTRY", "terminated"],
    );
    // A ballot on that adopted proposal.
    let r = proposals
        .cast_ballot(CastBallotRequest {
            proposal: ended.name.clone(),
            ballot: Some(ballot("EST", Choice::Object)),
        })
        .await;
    assert_status(r, Code::FailedPrecondition, &["adopted"]);

    // A suspended member may neither sponsor nor vote.
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
    let mut p = proposal("Hungary sponsors", motion("x"), "unanimity");
    p.sponsor = member("HUN");
    let r = try_create(&server, p).await;
    assert_status(
        r,
        Code::FailedPrecondition,
        &["members/HUN", "not an active member"],
    );

    // A library with another ABI is refused.
    let r = server
        .policies()
        .load_policy(LoadPolicyRequest {
            file_name: "libaccord_fixture_wrong_abi.so".into(),
            ..Default::default()
        })
        .await;
    assert_status(r, Code::FailedPrecondition, &["999"]);
    assert_eq!(
        server
            .policies()
            .list_policies(ListPoliciesRequest::default())
            .await
            .unwrap()
            .into_inner()
            .policies
            .len(),
        4,
        "the four bundled policies, not the refused library"
    );
    assert_eq!(proposal_count(&server).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_denied_for_a_non_sponsor_and_for_operator_calls_without_the_token() {
    let server = TestServer::start(Options::secured()).await;

    // A delegation proposes for its own member; only the sponsor may withdraw.
    let created = server
        .as_member("USA")
        .await
        .proposals
        .create_proposal(CreateProposalRequest {
            proposal: Some(proposal("Shrink KFOR", resize_kfor(3000), "unanimity")),
        })
        .await
        .expect("USA's delegation proposes")
        .into_inner()
        .proposal
        .unwrap();
    let r = server
        .as_member("FRA")
        .await
        .proposals
        .withdraw_proposal(WithdrawProposalRequest {
            name: created.name.clone(),
            requester: member("FRA"),
        })
        .await;
    assert_status(
        r,
        Code::PermissionDenied,
        &["sponsor", "members/USA", "members/FRA"],
    );
    assert_eq!(
        get_proposal(&server, &created.name).await.state,
        ProposalState::Open as i32
    );

    // Operator calls need the operator's credential: none or a wrong one is UNAUTHENTICATED,
    // a delegation's is PERMISSION_DENIED.
    let new_member = || CreateMemberRequest {
        member: Some(Member {
            code: "IRL".into(),
            display_name: "Ireland".into(),
            accession_year: 2026,
            status: MemberStatus::Invited as i32,
            region: "Europe".into(),
            ..Default::default()
        }),
    };
    let anonymous = server.clients(None);
    let r = anonymous.members.clone().create_member(new_member()).await;
    assert_status(r, Code::Unauthenticated, &["authorization"]);
    let guess = server.clients(Some("guess-guess-guess-guess-guess-guess-guess"));
    let r = guess.members.clone().create_member(new_member()).await;
    assert_status(r, Code::Unauthenticated, &["not valid"]);
    let deu = server.as_member("DEU").await;
    let r = deu.members.clone().create_member(new_member()).await;
    assert_status(r, Code::PermissionDenied, &["operator"]);
    let r = deu
        .policies
        .clone()
        .disable_policy(DisablePolicyRequest {
            name: "policies/unanimity".into(),
        })
        .await;
    assert_status(r, Code::PermissionDenied, &["operator"]);
    let r = deu
        .policies
        .clone()
        .set_default_policy(SetDefaultPolicyRequest {
            name: "policies/weighted".into(),
        })
        .await;
    assert_status(r, Code::PermissionDenied, &["operator"]);
    let r = deu
        .missions
        .clone()
        .update_mission(UpdateMissionRequest {
            mission: Some(Mission {
                name: "missions/KFOR".into(),
                personnel_ceiling: 1,
                ..Default::default()
            }),
            update_mask: mask(&["personnel_ceiling"]),
        })
        .await;
    assert_status(r, Code::PermissionDenied, &["operator"]);

    // Nothing changed.
    assert_eq!(member_codes(&server).await.len(), 32);
    assert_eq!(get_mission(&server, "KFOR").await.personnel_ceiling, 4500);
    let unanimity = get_policy(&server, "unanimity").await;
    assert_eq!(unanimity.health, PolicyHealth::Healthy as i32);
    assert!(unanimity.is_default);

    // With the operator token the same call works.
    let created_member = server
        .members()
        .create_member(new_member())
        .await
        .expect("with the operator token")
        .into_inner()
        .member
        .unwrap();
    assert_eq!(created_member.name, "members/IRL");
    assert_eq!(member_codes(&server).await.len(), 33);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_for_a_disabled_policy_and_proposals_it_decides() {
    let server = TestServer::start_default().await;
    let created = create(
        &server,
        proposal("Weigh KFOR", resize_kfor(4000), "weighted"),
    )
    .await;
    server
        .policies()
        .disable_policy(DisablePolicyRequest {
            name: "policies/weighted".into(),
        })
        .await
        .expect("disable");
    let r = server
        .proposals()
        .evaluate_proposal(EvaluateProposalRequest {
            subject: Some(evaluate_proposal_request::Subject::Name(
                created.name.clone(),
            )),
            policies: vec![policy("weighted")],
            ..Default::default()
        })
        .await;
    assert_status(
        r,
        Code::Unavailable,
        &["policy weighted is unavailable", "disabled"],
    );
    let r = server
        .proposals()
        .close_proposal(CloseProposalRequest {
            name: created.name.clone(),
        })
        .await;
    assert_status(r, Code::Unavailable, &["weighted", "disabled"]);
    assert_eq!(
        get_proposal(&server, &created.name).await.state,
        ProposalState::Open as i32,
        "a close that could not decide changes nothing"
    );
}
