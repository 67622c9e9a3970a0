//! Trust (issue 9), against the real server: the role × RPC matrix (every cell of the table in
//! docs/security.md), a suite of hostile and malformed requests (each with its status code, and
//! nothing changed), signed ballots, the tamper-evident audit log (edit a ballot row, delete an
//! audit row: both caught offline by `accord audit verify` and at server start), TLS and mTLS
//! with certificates generated in the test, back-off, plugin pins, and property tests of the
//! request validation.

use std::time::Duration;

use accord_proto::v1::*;
use accord_server::auth::{RULES, Rule};
use accord_store::audit_chain::{ChainedEntry, Verifier};
use accord_test_support::grpc::*;
use accord_test_support::trust::Pki;
use accord_test_support::{Options, TlsOptions, artifacts, sha256sum};
use ed25519_dalek::{Signer, SigningKey};
use tonic::Code;

fn generic(text: &str) -> proposal::Action {
    motion(text)
}

fn secured() -> Options {
    let mut options = Options::secured();
    // The matrix and the hostile suite make many refused calls from one address: keep the
    // back-off short here (its own test uses the default).
    options.args = vec!["--auth-backoff-max-ms".into(), "20".into()];
    options
}

/// Everything a request could change, read as the operator.
#[derive(Debug, PartialEq)]
struct Snapshot {
    members: Vec<Member>,
    partners: Vec<Partner>,
    missions: Vec<Mission>,
    policies: Vec<(String, i32, bool, String)>,
    proposals: Vec<Proposal>,
    ballots: Vec<Vec<Ballot>>,
    tokens: Vec<Token>,
    keys: Vec<BallotKey>,
}

async fn snapshot(server: &TestServer) -> Snapshot {
    let op = server.as_operator();
    let members = op
        .members
        .clone()
        .list_members(ListMembersRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .members;
    let partners = op
        .partners
        .clone()
        .list_partners(ListPartnersRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .partners;
    let missions = op
        .missions
        .clone()
        .list_missions(ListMissionsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .missions;
    let policies = op
        .policies
        .clone()
        .list_policies(ListPoliciesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .policies
        .into_iter()
        .map(|p| {
            (
                p.name,
                p.health,
                p.is_default,
                p.identity.unwrap_or_default().library_sha256,
            )
        })
        .collect();
    let proposals = op
        .proposals
        .clone()
        .list_proposals(ListProposalsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .proposals;
    let mut ballots = Vec::new();
    for p in &proposals {
        ballots.push(all_ballots(server, &p.name).await);
    }
    let tokens = op
        .delegations
        .clone()
        .list_tokens(ListTokensRequest::default())
        .await
        .unwrap()
        .into_inner()
        .tokens;
    let keys = op
        .delegations
        .clone()
        .list_ballot_keys(ListBallotKeysRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    Snapshot {
        members,
        partners,
        missions,
        policies,
        proposals,
        ballots,
        tokens,
        keys,
    }
}

/// Calls RPC `method` as `c` with a plausible request; returns its status code.
async fn call(c: &Clients, method: &str, open_proposal: &str) -> Code {
    let code = |r: Result<tonic::Code, tonic::Status>| match r {
        Ok(c) => c,
        Err(s) => s.code(),
    };
    let c = c.clone();
    let name = open_proposal.to_string();
    let r: Result<Code, tonic::Status> = match method.rsplit('/').next().unwrap() {
        "ListMembers" => c
            .members
            .clone()
            .list_members(ListMembersRequest::default())
            .await
            .map(|_| Code::Ok),
        "GetMember" => c
            .members
            .clone()
            .get_member(GetMemberRequest {
                name: member("DEU"),
            })
            .await
            .map(|_| Code::Ok),
        "CreateMember" => c
            .members
            .clone()
            .create_member(CreateMemberRequest { member: None })
            .await
            .map(|_| Code::Ok),
        "UpdateMember" => c
            .members
            .clone()
            .update_member(UpdateMemberRequest {
                member: None,
                update_mask: None,
            })
            .await
            .map(|_| Code::Ok),
        "DeleteMember" => c
            .members
            .clone()
            .delete_member(DeleteMemberRequest {
                name: member("ZZZ"),
            })
            .await
            .map(|_| Code::Ok),
        "AnalyzeGame" => c
            .power
            .clone()
            .analyze_game(AnalyzeGameRequest::default())
            .await
            .map(|_| Code::Ok),
        "ListPartners" => c
            .partners
            .clone()
            .list_partners(ListPartnersRequest::default())
            .await
            .map(|_| Code::Ok),
        "GetPartner" => c
            .partners
            .clone()
            .get_partner(GetPartnerRequest {
                name: "partners/UKR".into(),
            })
            .await
            .map(|_| Code::Ok),
        "CreatePartner" => c
            .partners
            .clone()
            .create_partner(CreatePartnerRequest { partner: None })
            .await
            .map(|_| Code::Ok),
        "UpdatePartner" => c
            .partners
            .clone()
            .update_partner(UpdatePartnerRequest {
                partner: None,
                update_mask: None,
            })
            .await
            .map(|_| Code::Ok),
        "ListMissions" => c
            .missions
            .clone()
            .list_missions(ListMissionsRequest::default())
            .await
            .map(|_| Code::Ok),
        "GetMission" => c
            .missions
            .clone()
            .get_mission(GetMissionRequest {
                name: "missions/KFOR".into(),
            })
            .await
            .map(|_| Code::Ok),
        "CreateMission" => c
            .missions
            .clone()
            .create_mission(CreateMissionRequest { mission: None })
            .await
            .map(|_| Code::Ok),
        "UpdateMission" => c
            .missions
            .clone()
            .update_mission(UpdateMissionRequest {
                mission: None,
                update_mask: None,
            })
            .await
            .map(|_| Code::Ok),
        "CreateProposal" => c
            .proposals
            .clone()
            .create_proposal(CreateProposalRequest {
                proposal: Some(Proposal {
                    sponsor: String::new(),
                    ..proposal("", generic("x"), "unanimity")
                }),
            })
            .await
            .map(|_| Code::Ok),
        "GetProposal" => c
            .proposals
            .clone()
            .get_proposal(GetProposalRequest { name: name.clone() })
            .await
            .map(|_| Code::Ok),
        "ListProposals" => c
            .proposals
            .clone()
            .list_proposals(ListProposalsRequest::default())
            .await
            .map(|_| Code::Ok),
        "CastBallot" => c
            .proposals
            .clone()
            .cast_ballot(CastBallotRequest {
                proposal: name.clone(),
                ballot: Some(Ballot {
                    member: String::new(),
                    choice: 0,
                    ..Default::default()
                }),
            })
            .await
            .map(|_| Code::Ok),
        "ListBallots" => c
            .proposals
            .clone()
            .list_ballots(ListBallotsRequest {
                proposal: name.clone(),
                ..Default::default()
            })
            .await
            .map(|_| Code::Ok),
        "WithdrawProposal" => c
            .proposals
            .clone()
            .withdraw_proposal(WithdrawProposalRequest {
                name: "proposals/999999".into(),
                requester: String::new(),
            })
            .await
            .map(|_| Code::Ok),
        "CloseProposal" => c
            .proposals
            .clone()
            .close_proposal(CloseProposalRequest {
                name: "proposals/999999".into(),
            })
            .await
            .map(|_| Code::Ok),
        "EvaluateProposal" => c
            .proposals
            .clone()
            .evaluate_proposal(EvaluateProposalRequest {
                subject: Some(evaluate_proposal_request::Subject::Name(name.clone())),
                policies: vec![policy("unanimity")],
                ..Default::default()
            })
            .await
            .map(|_| Code::Ok),
        "EvaluateBatch" => c
            .proposals
            .clone()
            .evaluate_batch(EvaluateBatchRequest {
                evaluations: vec![EvaluateProposalRequest {
                    subject: Some(evaluate_proposal_request::Subject::Name(name.clone())),
                    policies: vec![policy("unanimity")],
                    ..Default::default()
                }],
                brief: true,
            })
            .await
            .map(|_| Code::Ok),
        "WatchProposal" => c
            .proposals
            .clone()
            .watch_proposal(WatchProposalRequest {
                name: "proposals/999999".into(),
            })
            .await
            .map(|_| Code::Ok),
        "ListPolicies" => c
            .policies
            .clone()
            .list_policies(ListPoliciesRequest::default())
            .await
            .map(|_| Code::Ok),
        "GetPolicy" => c
            .policies
            .clone()
            .get_policy(GetPolicyRequest {
                name: "policies/unanimity".into(),
            })
            .await
            .map(|_| Code::Ok),
        "LoadPolicy" => c
            .policies
            .clone()
            .load_policy(LoadPolicyRequest {
                file_name: "no-such-library.so".into(),
                ..Default::default()
            })
            .await
            .map(|_| Code::Ok),
        "ReplacePolicy" => c
            .policies
            .clone()
            .replace_policy(ReplacePolicyRequest {
                name: "policies/nope".into(),
                file_name: "x.so".into(),
                ..Default::default()
            })
            .await
            .map(|_| Code::Ok),
        "DisablePolicy" => c
            .policies
            .clone()
            .disable_policy(DisablePolicyRequest {
                name: "policies/nope".into(),
            })
            .await
            .map(|_| Code::Ok),
        "SetDefaultPolicy" => c
            .policies
            .clone()
            .set_default_policy(SetDefaultPolicyRequest {
                name: "policies/nope".into(),
            })
            .await
            .map(|_| Code::Ok),
        "IssueToken" => c
            .delegations
            .clone()
            .issue_token(IssueTokenRequest {
                role: Role::Observer as i32,
                member: "members/DEU".into(),
                ..Default::default()
            })
            .await
            .map(|_| Code::Ok),
        "ListTokens" => c
            .delegations
            .clone()
            .list_tokens(ListTokensRequest::default())
            .await
            .map(|_| Code::Ok),
        "RevokeToken" => c
            .delegations
            .clone()
            .revoke_token(RevokeTokenRequest {
                name: "tokens/999999".into(),
            })
            .await
            .map(|_| Code::Ok),
        "RegisterBallotKey" => c
            .delegations
            .clone()
            .register_ballot_key(RegisterBallotKeyRequest {
                member: String::new(),
                public_key: vec![1, 2, 3],
            })
            .await
            .map(|_| Code::Ok),
        "ListBallotKeys" => c
            .delegations
            .clone()
            .list_ballot_keys(ListBallotKeysRequest {})
            .await
            .map(|_| Code::Ok),
        "WhoAmI" => c
            .delegations
            .clone()
            .who_am_i(WhoAmIRequest {})
            .await
            .map(|_| Code::Ok),
        "ExportAuditLog" => c
            .audit
            .clone()
            .export_audit_log(ExportAuditLogRequest {
                after_sequence: 0,
                page_size: 1,
            })
            .await
            .map(|_| Code::Ok),
        other => panic!("no call for {other}: add it to this test"),
    };
    code(r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cell_of_the_role_matrix() {
    let server = TestServer::start(secured()).await;
    let open = create_as(&server, "DEU", "matrix").await;
    let observer = server.observer_token().await;
    let callers: Vec<(&str, Clients)> = vec![
        ("operator", server.as_operator()),
        ("delegation", server.as_member("DEU").await),
        ("observer", server.clients(Some(&observer))),
        ("none", server.clients(None)),
    ];
    // Every RPC of every accord service is in the role table.
    let pool = prost_reflect::DescriptorPool::decode(accord_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut rpcs = 0;
    for service in pool.services().filter(|s| s.package_name() == "accord.v1") {
        for method in service.methods() {
            let path = format!("{}/{}", service.full_name(), method.name());
            assert!(
                RULES.iter().any(|(m, _, _)| *m == path),
                "{path} has no rule"
            );
            rpcs += 1;
        }
    }
    assert_eq!(
        rpcs,
        RULES.len(),
        "the role table lists exactly the protocol's RPCs"
    );
    let mut cells = 0;
    for (method, rule, _) in RULES {
        for (who, clients) in &callers {
            let got = call(clients, method, &open.name).await;
            let allowed = match (*who, rule) {
                ("none", _) => false,
                (_, Rule::Read) => true,
                ("operator", Rule::Operator | Rule::DelegationOrOperator) => true,
                ("delegation", Rule::Delegation | Rule::DelegationOrOperator) => true,
                _ => false,
            };
            if allowed {
                assert!(
                    !matches!(got, Code::PermissionDenied | Code::Unauthenticated),
                    "{who} may call {method} but got {got:?}"
                );
            } else if *who == "none" {
                assert_eq!(got, Code::Unauthenticated, "{who} calling {method}");
            } else {
                assert_eq!(got, Code::PermissionDenied, "{who} calling {method}");
            }
            cells += 1;
        }
    }
    assert_eq!(cells, RULES.len() * 4);
}

/// Creates a motion sponsored by `code` through its delegation.
async fn create_as(server: &TestServer, code: &str, title: &str) -> Proposal {
    server
        .as_member(code)
        .await
        .proposals
        .create_proposal(CreateProposalRequest {
            proposal: Some(Proposal {
                sponsor: member(code),
                ..proposal(title, generic(title), "unanimity")
            }),
        })
        .await
        .expect("create as a delegation")
        .into_inner()
        .proposal
        .unwrap()
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn signed(proposal: &str, mut ballot: Ballot, key: &SigningKey, nonce: &str) -> Ballot {
    ballot.nonce = nonce.into();
    ballot.signature = key
        .sign(&accord_proto::canonical::ballot(proposal, &ballot))
        .to_bytes()
        .to_vec();
    ballot
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_are_refused_with_their_code_and_change_nothing() {
    let server = TestServer::start(secured()).await;
    let op = server.as_operator();
    let deu = server.as_member("DEU").await;
    let nor = server.as_member("NOR").await;
    let observer = server.clients(Some(&server.observer_token().await));
    let none = server.clients(None);
    let open = create_as(&server, "USA", "open question").await;
    let withdrawn = create_as(&server, "USA", "withdrawn question").await;
    server
        .as_member("USA")
        .await
        .proposals
        .withdraw_proposal(WithdrawProposalRequest {
            name: withdrawn.name.clone(),
            requester: String::new(),
        })
        .await
        .unwrap();
    cast(&server, &open.name, ballot("USA", Choice::Support)).await;
    // NOR signs its ballots; weighted is disabled; one token is revoked, one expires.
    nor.delegations
        .clone()
        .register_ballot_key(RegisterBallotKeyRequest {
            member: String::new(),
            public_key: key(7).verifying_key().as_bytes().to_vec(),
        })
        .await
        .unwrap();
    op.policies
        .clone()
        .disable_policy(DisablePolicyRequest {
            name: "policies/weighted".into(),
        })
        .await
        .unwrap();
    let revoked = op
        .delegations
        .clone()
        .issue_token(IssueTokenRequest {
            member: member("ITA"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    op.delegations
        .clone()
        .revoke_token(RevokeTokenRequest {
            name: revoked.token.unwrap().name,
        })
        .await
        .unwrap();
    let revoked = server.clients(Some(&revoked.secret));
    let expiring = op
        .delegations
        .clone()
        .issue_token(IssueTokenRequest {
            member: member("ESP"),
            ttl_seconds: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .secret;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let expired = server.clients(Some(&expiring));
    let short = server.clients(Some("short"));
    let empty = {
        // "Bearer " with nothing after it.
        let mut c = server.clients(None);
        let channel = server.channel();
        let bearer =
            accord_test_support::trust::Bearer::from_value(Some("Bearer ".parse().unwrap()));
        c.members = accord_proto::v1::member_service_client::MemberServiceClient::new(
            tonic::service::interceptor::InterceptedService::new(channel, bearer),
        );
        c
    };

    let before = snapshot(&server).await;
    let big = |n: usize| "x".repeat(n);
    let mut count = 0;
    macro_rules! hostile {
        ($what:expr, $code:expr, $call:expr) => {{
            let result = $call.await;
            let got = match &result {
                Ok(_) => Code::Ok,
                Err(status) => status.code(),
            };
            assert_eq!(
                got,
                $code,
                "{}: {:?}",
                $what,
                result.err().map(|s| s.message().to_string())
            );
            if let Err(status) = &result {
                assert!(
                    status.message().len() <= 1100,
                    "{}: the message is bounded",
                    $what
                );
            }
            assert_eq!(
                snapshot(&server).await,
                before,
                "{} changed something",
                $what
            );
            count += 1;
        }};
    }
    let member_msg = |name: &str, display: &str| Member {
        name: name.into(),
        code: "IRL".into(),
        display_name: display.into(),
        accession_year: 2026,
        status: MemberStatus::Invited as i32,
        ..Default::default()
    };
    let p = |title: &str| Proposal {
        sponsor: String::new(),
        ..proposal(title, generic("hostile"), "unanimity")
    };
    let bal = |choice: Choice| Ballot {
        choice: choice as i32,
        ..Default::default()
    };

    // Members.
    hostile!(
        "create member without credential",
        Code::Unauthenticated,
        none.members.clone().create_member(CreateMemberRequest {
            member: Some(member_msg("", "Ireland"))
        })
    );
    hostile!(
        "create member as a delegation",
        Code::PermissionDenied,
        deu.members.clone().create_member(CreateMemberRequest {
            member: Some(member_msg("", "Ireland"))
        })
    );
    hostile!(
        "create member as an observer",
        Code::PermissionDenied,
        observer.members.clone().create_member(CreateMemberRequest {
            member: Some(member_msg("", "Ireland"))
        })
    );
    hostile!(
        "create member with a 5000-byte name",
        Code::ResourceExhausted,
        op.members.clone().create_member(CreateMemberRequest {
            member: Some(member_msg("", &big(5000)))
        })
    );
    hostile!(
        "create member without a member",
        Code::InvalidArgument,
        op.members
            .clone()
            .create_member(CreateMemberRequest { member: None })
    );
    hostile!(
        "update member as a delegation",
        Code::PermissionDenied,
        deu.members.clone().update_member(UpdateMemberRequest {
            member: Some(member_msg("members/DEU", "Germany")),
            update_mask: None
        })
    );
    hostile!(
        "update member with a 10 kB name",
        Code::ResourceExhausted,
        op.members.clone().update_member(UpdateMemberRequest {
            member: Some(member_msg(&format!("members/{}", big(10_000)), "x")),
            update_mask: None
        })
    );
    hostile!(
        "get member with a 100 kB name",
        Code::ResourceExhausted,
        op.members
            .clone()
            .get_member(GetMemberRequest { name: big(100_000) })
    );
    hostile!(
        "get member with a short token",
        Code::Unauthenticated,
        short.members.clone().get_member(GetMemberRequest {
            name: member("DEU")
        })
    );
    hostile!(
        "list members with a negative page size",
        Code::InvalidArgument,
        op.members.clone().list_members(ListMembersRequest {
            page_size: -1,
            ..Default::default()
        })
    );
    hostile!(
        "list members with a forged page token",
        Code::InvalidArgument,
        op.members.clone().list_members(ListMembersRequest {
            page_token: "forged".into(),
            ..Default::default()
        })
    );
    hostile!(
        "list members with an empty bearer token",
        Code::Unauthenticated,
        empty
            .members
            .clone()
            .list_members(ListMembersRequest::default())
    );
    hostile!(
        "list members with a 10 kB page token",
        Code::ResourceExhausted,
        op.members.clone().list_members(ListMembersRequest {
            page_token: big(10_000),
            ..Default::default()
        })
    );
    // Partners.
    hostile!(
        "create partner as a delegation",
        Code::PermissionDenied,
        deu.partners.clone().create_partner(CreatePartnerRequest {
            partner: Some(Partner {
                code: "ZZZ".into(),
                ..Default::default()
            })
        })
    );
    hostile!(
        "update partner as an observer",
        Code::PermissionDenied,
        observer
            .partners
            .clone()
            .update_partner(UpdatePartnerRequest {
                partner: Some(Partner {
                    name: "partners/UKR".into(),
                    ..Default::default()
                }),
                update_mask: None
            })
    );
    hostile!(
        "create partner with 20 kB notes",
        Code::ResourceExhausted,
        op.partners.clone().create_partner(CreatePartnerRequest {
            partner: Some(Partner {
                code: "ZZZ".into(),
                attendance_notes: big(20_000),
                ..Default::default()
            })
        })
    );
    hostile!(
        "get partner with an empty id",
        Code::InvalidArgument,
        op.partners.clone().get_partner(GetPartnerRequest {
            name: "partners/".into()
        })
    );
    hostile!(
        "list partners with an unknown participation",
        Code::InvalidArgument,
        op.partners.clone().list_partners(ListPartnersRequest {
            summit_participation: 99,
            ..Default::default()
        })
    );
    // Missions.
    hostile!(
        "create mission as a delegation",
        Code::PermissionDenied,
        deu.missions.clone().create_mission(CreateMissionRequest {
            mission: Some(Mission {
                id: "ZZ".into(),
                ..Default::default()
            })
        })
    );
    hostile!(
        "update mission without credential",
        Code::Unauthenticated,
        none.missions.clone().update_mission(UpdateMissionRequest {
            mission: Some(Mission {
                name: "missions/KFOR".into(),
                personnel_ceiling: 1,
                ..Default::default()
            }),
            update_mask: None
        })
    );
    hostile!(
        "create mission with a 20 kB mandate",
        Code::ResourceExhausted,
        op.missions.clone().create_mission(CreateMissionRequest {
            mission: Some(Mission {
                id: "ZZ".into(),
                mandate: big(20_000),
                ..Default::default()
            })
        })
    );
    hostile!(
        "get an unknown mission",
        Code::NotFound,
        op.missions.clone().get_mission(GetMissionRequest {
            name: "missions/NOPE".into()
        })
    );
    hostile!(
        "list missions with an unknown status",
        Code::InvalidArgument,
        op.missions.clone().list_missions(ListMissionsRequest {
            status: 42,
            ..Default::default()
        })
    );
    // Proposals.
    hostile!(
        "create proposal as the operator",
        Code::PermissionDenied,
        op.proposals.clone().create_proposal(CreateProposalRequest {
            proposal: Some(p("by the operator"))
        })
    );
    hostile!(
        "create proposal as an observer",
        Code::PermissionDenied,
        observer
            .proposals
            .clone()
            .create_proposal(CreateProposalRequest {
                proposal: Some(p("by an observer"))
            })
    );
    hostile!(
        "create proposal sponsored by another member",
        Code::PermissionDenied,
        deu.proposals
            .clone()
            .create_proposal(CreateProposalRequest {
                proposal: Some(Proposal {
                    sponsor: member("USA"),
                    ..p("as USA")
                })
            })
    );
    hostile!(
        "create proposal with a 10 kB title",
        Code::ResourceExhausted,
        deu.proposals
            .clone()
            .create_proposal(CreateProposalRequest {
                proposal: Some(p(&big(10_000)))
            })
    );
    hostile!(
        "create proposal with a 20 kB description",
        Code::ResourceExhausted,
        deu.proposals
            .clone()
            .create_proposal(CreateProposalRequest {
                proposal: Some(Proposal {
                    description: big(20_000),
                    ..p("long")
                })
            })
    );
    hostile!(
        "create proposal with negative deadline nanos",
        Code::InvalidArgument,
        deu.proposals
            .clone()
            .create_proposal(CreateProposalRequest {
                proposal: Some(Proposal {
                    deadline: Some(prost_types::Timestamp {
                        seconds: 4_000_000_000,
                        nanos: -1
                    }),
                    ..p("nanos")
                })
            })
    );
    hostile!(
        "create proposal with a deadline in the year 10000",
        Code::InvalidArgument,
        deu.proposals
            .clone()
            .create_proposal(CreateProposalRequest {
                proposal: Some(Proposal {
                    deadline: Some(prost_types::Timestamp {
                        seconds: 253_402_300_800,
                        nanos: 0
                    }),
                    ..p("far")
                })
            })
    );
    hostile!(
        "create proposal under a disabled policy",
        Code::FailedPrecondition,
        deu.proposals
            .clone()
            .create_proposal(CreateProposalRequest {
                proposal: Some(Proposal {
                    policy: Some(policy("weighted")),
                    ..p("disabled")
                })
            })
    );
    hostile!(
        "create proposal with an unknown parameter",
        Code::InvalidArgument,
        deu.proposals
            .clone()
            .create_proposal(CreateProposalRequest {
                proposal: Some(Proposal {
                    policy: Some(PolicyRef {
                        policy_id: "pressure".into(),
                        parameters: [("no_such".to_string(), "1".to_string())].into()
                    }),
                    ..p("param")
                })
            })
    );
    hostile!(
        "create proposal asking 10 million trials",
        Code::ResourceExhausted,
        deu.proposals
            .clone()
            .create_proposal(CreateProposalRequest {
                proposal: Some(Proposal {
                    policy: Some(PolicyRef {
                        policy_id: "pressure".into(),
                        parameters: [("trials".to_string(), "10000000".to_string())].into()
                    }),
                    ..p("trials")
                })
            })
    );
    hostile!(
        "create proposal with 100 parameters",
        Code::ResourceExhausted,
        deu.proposals
            .clone()
            .create_proposal(CreateProposalRequest {
                proposal: Some(Proposal {
                    policy: Some(PolicyRef {
                        policy_id: "pressure".into(),
                        parameters: (0..100)
                            .map(|i| (format!("p{i}"), "1".to_string()))
                            .collect()
                    }),
                    ..p("params")
                })
            })
    );
    hostile!(
        "create proposal without an action",
        Code::InvalidArgument,
        deu.proposals
            .clone()
            .create_proposal(CreateProposalRequest {
                proposal: Some(Proposal {
                    action: None,
                    ..p("no action")
                })
            })
    );
    hostile!(
        "create proposal without a title",
        Code::InvalidArgument,
        deu.proposals
            .clone()
            .create_proposal(CreateProposalRequest {
                proposal: Some(p(""))
            })
    );
    hostile!(
        "create proposal without credential",
        Code::Unauthenticated,
        none.proposals
            .clone()
            .create_proposal(CreateProposalRequest {
                proposal: Some(p("anonymous"))
            })
    );
    hostile!(
        "create proposal with a revoked token",
        Code::Unauthenticated,
        revoked
            .proposals
            .clone()
            .create_proposal(CreateProposalRequest {
                proposal: Some(p("revoked"))
            })
    );
    hostile!(
        "create proposal with an expired token",
        Code::Unauthenticated,
        expired
            .proposals
            .clone()
            .create_proposal(CreateProposalRequest {
                proposal: Some(p("expired"))
            })
    );
    // Ballots.
    hostile!(
        "DEU votes as the USA",
        Code::PermissionDenied,
        deu.proposals.clone().cast_ballot(CastBallotRequest {
            proposal: open.name.clone(),
            ballot: Some(ballot("USA", Choice::Object))
        })
    );
    hostile!(
        "the operator votes",
        Code::PermissionDenied,
        op.proposals.clone().cast_ballot(CastBallotRequest {
            proposal: open.name.clone(),
            ballot: Some(ballot("USA", Choice::Object))
        })
    );
    hostile!(
        "an observer votes",
        Code::PermissionDenied,
        observer.proposals.clone().cast_ballot(CastBallotRequest {
            proposal: open.name.clone(),
            ballot: Some(bal(Choice::Object))
        })
    );
    hostile!(
        "a ballot with a 5000-byte reason",
        Code::ResourceExhausted,
        deu.proposals.clone().cast_ballot(CastBallotRequest {
            proposal: open.name.clone(),
            ballot: Some(Ballot {
                reason: big(5000),
                ..bal(Choice::Support)
            })
        })
    );
    hostile!(
        "a ballot without a choice",
        Code::InvalidArgument,
        deu.proposals.clone().cast_ballot(CastBallotRequest {
            proposal: open.name.clone(),
            ballot: Some(bal(Choice::Unspecified))
        })
    );
    hostile!(
        "a ballot with salience 2",
        Code::InvalidArgument,
        deu.proposals.clone().cast_ballot(CastBallotRequest {
            proposal: open.name.clone(),
            ballot: Some(Ballot {
                salience: Some(2.0),
                ..bal(Choice::Support)
            })
        })
    );
    hostile!(
        "a ballot on proposals/abc",
        Code::InvalidArgument,
        deu.proposals.clone().cast_ballot(CastBallotRequest {
            proposal: "proposals/abc".into(),
            ballot: Some(bal(Choice::Support))
        })
    );
    hostile!(
        "a ballot on a missing proposal",
        Code::NotFound,
        deu.proposals.clone().cast_ballot(CastBallotRequest {
            proposal: "proposals/999999".into(),
            ballot: Some(bal(Choice::Support))
        })
    );
    hostile!(
        "a ballot on a withdrawn proposal",
        Code::FailedPrecondition,
        deu.proposals.clone().cast_ballot(CastBallotRequest {
            proposal: withdrawn.name.clone(),
            ballot: Some(bal(Choice::Support))
        })
    );
    hostile!(
        "an unsigned ballot from a member with a key",
        Code::InvalidArgument,
        nor.proposals.clone().cast_ballot(CastBallotRequest {
            proposal: open.name.clone(),
            ballot: Some(bal(Choice::Support))
        })
    );
    hostile!(
        "a ballot signed with the wrong key",
        Code::InvalidArgument,
        nor.proposals.clone().cast_ballot(CastBallotRequest {
            proposal: open.name.clone(),
            ballot: Some(signed(
                &open.name,
                Ballot {
                    member: member("NOR"),
                    ..bal(Choice::Support)
                },
                &key(8),
                "n1"
            ))
        })
    );
    hostile!(
        "a signature replayed on another proposal",
        Code::InvalidArgument,
        nor.proposals.clone().cast_ballot(CastBallotRequest {
            proposal: open.name.clone(),
            ballot: Some(signed(
                &withdrawn.name,
                Ballot {
                    member: member("NOR"),
                    ..bal(Choice::Support)
                },
                &key(7),
                "n1"
            ))
        })
    );
    hostile!(
        "a signed ballot from a member without a key",
        Code::InvalidArgument,
        deu.proposals.clone().cast_ballot(CastBallotRequest {
            proposal: open.name.clone(),
            ballot: Some(signed(
                &open.name,
                Ballot {
                    member: member("DEU"),
                    ..bal(Choice::Support)
                },
                &key(9),
                "n1"
            ))
        })
    );
    hostile!(
        "a ballot with a 100-byte nonce",
        Code::ResourceExhausted,
        deu.proposals.clone().cast_ballot(CastBallotRequest {
            proposal: open.name.clone(),
            ballot: Some(Ballot {
                nonce: big(100),
                ..bal(Choice::Support)
            })
        })
    );
    hostile!(
        "list ballots with a negative page size",
        Code::InvalidArgument,
        op.proposals.clone().list_ballots(ListBallotsRequest {
            proposal: open.name.clone(),
            page_size: -5,
            ..Default::default()
        })
    );
    // Withdraw and close.
    hostile!(
        "DEU withdraws the USA's proposal",
        Code::PermissionDenied,
        deu.proposals
            .clone()
            .withdraw_proposal(WithdrawProposalRequest {
                name: open.name.clone(),
                requester: String::new()
            })
    );
    hostile!(
        "the operator withdraws",
        Code::PermissionDenied,
        op.proposals
            .clone()
            .withdraw_proposal(WithdrawProposalRequest {
                name: open.name.clone(),
                requester: member("USA")
            })
    );
    hostile!(
        "DEU withdraws naming the USA",
        Code::PermissionDenied,
        deu.proposals
            .clone()
            .withdraw_proposal(WithdrawProposalRequest {
                name: open.name.clone(),
                requester: member("USA")
            })
    );
    hostile!(
        "a delegation closes early",
        Code::PermissionDenied,
        deu.proposals.clone().close_proposal(CloseProposalRequest {
            name: open.name.clone()
        })
    );
    hostile!(
        "an observer closes early",
        Code::PermissionDenied,
        observer
            .proposals
            .clone()
            .close_proposal(CloseProposalRequest {
                name: open.name.clone()
            })
    );
    hostile!(
        "close a withdrawn proposal",
        Code::FailedPrecondition,
        op.proposals.clone().close_proposal(CloseProposalRequest {
            name: withdrawn.name.clone()
        })
    );
    // Evaluate and watch.
    let eval = |r: EvaluateProposalRequest| EvaluateProposalRequest {
        subject: Some(evaluate_proposal_request::Subject::Name(open.name.clone())),
        ..r
    };
    hostile!(
        "evaluate without credential",
        Code::Unauthenticated,
        none.proposals
            .clone()
            .evaluate_proposal(eval(Default::default()))
    );
    hostile!(
        "evaluate with 300 ballots",
        Code::ResourceExhausted,
        deu.proposals
            .clone()
            .evaluate_proposal(eval(EvaluateProposalRequest {
                ballots: vec![ballot("DEU", Choice::Support); 300],
                ..Default::default()
            }))
    );
    hostile!(
        "evaluate with 10 million trials",
        Code::ResourceExhausted,
        deu.proposals
            .clone()
            .evaluate_proposal(eval(EvaluateProposalRequest {
                policies: vec![PolicyRef {
                    policy_id: "pressure".into(),
                    parameters: [("trials".to_string(), "10000000".to_string())].into()
                }],
                ..Default::default()
            }))
    );
    hostile!(
        "evaluate under 20 policies",
        Code::ResourceExhausted,
        deu.proposals
            .clone()
            .evaluate_proposal(eval(EvaluateProposalRequest {
                policies: vec![policy("unanimity"); 20],
                ..Default::default()
            }))
    );
    hostile!(
        "evaluate at nanos 2e9",
        Code::InvalidArgument,
        deu.proposals
            .clone()
            .evaluate_proposal(eval(EvaluateProposalRequest {
                evaluate_time: Some(prost_types::Timestamp {
                    seconds: 1,
                    nanos: 2_000_000_000
                }),
                ..Default::default()
            }))
    );
    hostile!(
        "watch a 100 kB name",
        Code::ResourceExhausted,
        observer
            .proposals
            .clone()
            .watch_proposal(WatchProposalRequest { name: big(100_000) })
    );
    // Policies.
    hostile!(
        "a delegation loads a plugin",
        Code::PermissionDenied,
        deu.policies.clone().load_policy(LoadPolicyRequest {
            file_name: artifacts::WEIGHTED.into(),
            ..Default::default()
        })
    );
    hostile!(
        "load a library by path",
        Code::InvalidArgument,
        op.policies.clone().load_policy(LoadPolicyRequest {
            file_name: "../../etc/passwd".into(),
            ..Default::default()
        })
    );
    hostile!(
        "an observer replaces a policy",
        Code::PermissionDenied,
        observer
            .policies
            .clone()
            .replace_policy(ReplacePolicyRequest {
                name: "policies/unanimity".into(),
                file_name: artifacts::UNANIMITY.into(),
                ..Default::default()
            })
    );
    hostile!(
        "a delegation disables a policy",
        Code::PermissionDenied,
        deu.policies.clone().disable_policy(DisablePolicyRequest {
            name: "policies/unanimity".into()
        })
    );
    hostile!(
        "a disabled policy as the default",
        Code::FailedPrecondition,
        op.policies
            .clone()
            .set_default_policy(SetDefaultPolicyRequest {
                name: "policies/weighted".into()
            })
    );
    hostile!(
        "a delegation sets the default",
        Code::PermissionDenied,
        deu.policies
            .clone()
            .set_default_policy(SetDefaultPolicyRequest {
                name: "policies/pressure".into()
            })
    );
    hostile!(
        "get an unknown policy",
        Code::NotFound,
        op.policies.clone().get_policy(GetPolicyRequest {
            name: "policies/nope".into()
        })
    );
    // Delegations.
    hostile!(
        "a delegation issues a token",
        Code::PermissionDenied,
        deu.delegations.clone().issue_token(IssueTokenRequest {
            member: member("DEU"),
            ..Default::default()
        })
    );
    hostile!(
        "a token for an unknown member",
        Code::NotFound,
        op.delegations.clone().issue_token(IssueTokenRequest {
            member: member("XXX"),
            ..Default::default()
        })
    );
    hostile!(
        "an operator token issued",
        Code::InvalidArgument,
        op.delegations.clone().issue_token(IssueTokenRequest {
            role: Role::Operator as i32,
            ..Default::default()
        })
    );
    hostile!(
        "a token with a negative lifetime",
        Code::InvalidArgument,
        op.delegations.clone().issue_token(IssueTokenRequest {
            member: member("DEU"),
            ttl_seconds: -5,
            ..Default::default()
        })
    );
    hostile!(
        "a delegation revokes a token",
        Code::PermissionDenied,
        deu.delegations.clone().revoke_token(RevokeTokenRequest {
            name: "tokens/1".into()
        })
    );
    hostile!(
        "revoke an unknown token",
        Code::NotFound,
        op.delegations.clone().revoke_token(RevokeTokenRequest {
            name: "tokens/999999".into()
        })
    );
    hostile!(
        "DEU registers a key for the USA",
        Code::PermissionDenied,
        deu.delegations
            .clone()
            .register_ballot_key(RegisterBallotKeyRequest {
                member: member("USA"),
                public_key: key(1).verifying_key().as_bytes().to_vec()
            })
    );
    hostile!(
        "a 31-byte ballot key",
        Code::InvalidArgument,
        deu.delegations
            .clone()
            .register_ballot_key(RegisterBallotKeyRequest {
                member: String::new(),
                public_key: vec![1; 31]
            })
    );
    hostile!(
        "an observer registers a key",
        Code::PermissionDenied,
        observer
            .delegations
            .clone()
            .register_ballot_key(RegisterBallotKeyRequest {
                member: member("DEU"),
                public_key: key(1).verifying_key().as_bytes().to_vec()
            })
    );
    hostile!(
        "a delegation lists tokens",
        Code::PermissionDenied,
        deu.delegations
            .clone()
            .list_tokens(ListTokensRequest::default())
    );
    hostile!(
        "who am I with a short token",
        Code::Unauthenticated,
        short.delegations.clone().who_am_i(WhoAmIRequest {})
    );
    // Audit.
    hostile!(
        "export 100000 audit entries at once",
        Code::ResourceExhausted,
        observer
            .audit
            .clone()
            .export_audit_log(ExportAuditLogRequest {
                after_sequence: 0,
                page_size: 100_000
            })
    );
    hostile!(
        "export the audit log without credential",
        Code::Unauthenticated,
        none.audit
            .clone()
            .export_audit_log(ExportAuditLogRequest::default())
    );

    assert!(count >= 60, "{count} hostile requests");
    eprintln!("{count} hostile requests refused, nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_ballots_round_trip_and_the_exported_log_verifies() {
    let server = TestServer::start(secured()).await;
    let nor = server.as_member("NOR").await;
    let signing = key(42);
    nor.delegations
        .clone()
        .register_ballot_key(RegisterBallotKeyRequest {
            member: String::new(),
            public_key: signing.verifying_key().as_bytes().to_vec(),
        })
        .await
        .unwrap();
    let open = create_as(&server, "NOR", "signed").await;
    let b = signed(
        &open.name,
        Ballot {
            member: member("NOR"),
            choice: Choice::Support as i32,
            salience: Some(0.25),
            reason: "signed by NOR".into(),
            ..Default::default()
        },
        &signing,
        "2026-05-01T12:00:00Z",
    );
    let stored = nor
        .proposals
        .clone()
        .cast_ballot(CastBallotRequest {
            proposal: open.name.clone(),
            ballot: Some(b.clone()),
        })
        .await
        .expect("a signed ballot is accepted")
        .into_inner()
        .ballot
        .unwrap();
    assert_eq!(stored.signature, b.signature);
    // Anyone with the public keys re-checks every stored ballot.
    let keys = nor
        .delegations
        .clone()
        .list_ballot_keys(ListBallotKeysRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    let public =
        ed25519_dalek::VerifyingKey::from_bytes(keys[0].public_key.as_slice().try_into().unwrap())
            .unwrap();
    for ballot in all_ballots(&server, &open.name).await {
        let sig = ed25519_dalek::Signature::from_slice(&ballot.signature).unwrap();
        public
            .verify_strict(&accord_proto::canonical::ballot(&open.name, &ballot), &sig)
            .expect("the stored ballot verifies");
    }
    // The exported chain verifies, signatures included, and names who did what.
    let entries = export(&server).await;
    let mut verifier = Verifier::default();
    for e in &entries {
        verifier.push(e).expect("the chain verifies");
    }
    assert_eq!(verifier.report().signatures, 1);
    let ballot_entry = entries.iter().find(|e| e.kind == "ballot").unwrap();
    assert_eq!(ballot_entry.actor, "members/NOR");
    assert!(
        entries
            .iter()
            .any(|e| e.kind == "token_issued" && e.actor == "operator")
    );
    assert!(entries.iter().any(|e| e.kind == "ballot_key_registered"));
    // `accord audit verify` against the server agrees.
    let out = std::process::Command::new(artifacts::cli_bin())
        .args(["--addr", &server.url(), "audit", "verify"])
        .env(
            "ACCORD_OPERATOR_TOKEN",
            server.options().operator_token.as_ref().unwrap(),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 ballot signatures"), "{stdout}");
}

async fn export(server: &TestServer) -> Vec<ChainedEntry> {
    server
        .as_operator()
        .audit
        .export_audit_log(ExportAuditLogRequest {
            after_sequence: 0,
            page_size: 10_000,
        })
        .await
        .unwrap()
        .into_inner()
        .entries
        .into_iter()
        .map(|e| {
            let t = e.time.unwrap_or_default();
            ChainedEntry {
                sequence: e.sequence,
                seconds: t.seconds,
                nanos: t.nanos,
                kind: e.kind,
                subject: e.subject,
                actor: e.actor,
                detail: e.detail,
                prev_hash: e.prev_hash,
                hash: e.hash,
            }
        })
        .collect()
}

fn verify_offline(db: &std::path::Path) -> (bool, String) {
    let out = std::process::Command::new(artifacts::cli_bin())
        .args(["audit", "verify", "--database"])
        .arg(db)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn sql(db: &std::path::Path, statement: &str) {
    use sqlx::ConnectOptions;
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db)
        .connect()
        .await
        .unwrap();
    sqlx::query(statement).execute(&mut conn).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampering_is_caught_offline_and_at_start() {
    for tamper in [
        "UPDATE ballots SET choice = 2 WHERE sequence = (SELECT MIN(sequence) FROM ballots)",
        "DELETE FROM audit_log WHERE sequence = 3",
    ] {
        let mut server = TestServer::start(secured()).await;
        let open = create_as(&server, "DEU", "tamper").await;
        for code in ["DEU", "FRA"] {
            server
                .as_member(code)
                .await
                .proposals
                .cast_ballot(CastBallotRequest {
                    proposal: open.name.clone(),
                    ballot: Some(Ballot {
                        member: String::new(),
                        ..ballot(code, Choice::Support)
                    }),
                })
                .await
                .unwrap();
        }
        server.stop().await;
        let db = server.database();
        let (ok, text) = verify_offline(&db);
        assert!(ok, "an untouched database verifies: {text}");
        sql(&db, tamper).await;
        let (ok, text) = verify_offline(&db);
        assert!(!ok, "{tamper}: caught offline");
        assert!(text.contains("does not verify"), "{text}");
        assert!(
            text.contains("audit entry") || text.contains("ballot"),
            "names the entry: {text}"
        );
        server.restart().await;
        assert!(server.log().contains("does not verify"), "{}", server.log());
        // Reads still work; writes are refused with the reason.
        get_proposal(&server, &open.name).await;
        let r = server
            .as_operator()
            .proposals
            .close_proposal(CloseProposalRequest {
                name: open.name.clone(),
            })
            .await;
        assert_status(r, Code::FailedPrecondition, &["audit log does not verify"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let mut options = secured();
    options.tls = Some(TlsOptions {
        cert: pki.server_cert(),
        key: pki.server_key(),
        client_ca: Some(pki.ca_file()),
        ca_pem: pki.ca_pem.clone(),
    });
    let server = TestServer::start(options).await;
    // A token over TLS.
    let me = server
        .as_operator()
        .delegations
        .who_am_i(WhoAmIRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.role, Role::Operator as i32);
    // A client certificate naming a member is that member's delegation.
    for (cn, role, member_name) in [
        ("DEU", Role::Delegation, "members/DEU"),
        ("operator", Role::Operator, ""),
        ("observer", Role::Observer, ""),
    ] {
        let channel = server.channel_with(Some(pki.client(cn))).await;
        let me = Clients::new(channel, None)
            .delegations
            .who_am_i(WhoAmIRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (me.role, me.member.as_str()),
            (role as i32, member_name),
            "{cn}"
        );
        assert_eq!(me.credential, "client certificate");
    }
    // DEU's certificate votes for DEU and not for the USA.
    let deu = Clients::new(server.channel_with(Some(pki.client("DEU"))).await, None);
    let open = create_as(&server, "USA", "over TLS").await;
    deu.proposals
        .clone()
        .cast_ballot(CastBallotRequest {
            proposal: open.name.clone(),
            ballot: Some(Ballot {
                member: String::new(),
                ..ballot("DEU", Choice::Support)
            }),
        })
        .await
        .expect("DEU votes with its certificate");
    let r = deu
        .proposals
        .clone()
        .cast_ballot(CastBallotRequest {
            proposal: open.name.clone(),
            ballot: Some(ballot("USA", Choice::Support)),
        })
        .await;
    assert_status(r, Code::PermissionDenied, &["members/DEU"]);
    // No credential over TLS: UNAUTHENTICATED.
    let r = Clients::new(server.channel(), None)
        .members
        .list_members(ListMembersRequest::default())
        .await;
    assert_status(r, Code::Unauthenticated, &[]);
    // A certificate from another CA is refused at the handshake.
    let other_dir = tempfile::tempdir().unwrap();
    let other = Pki::new(other_dir.path());
    let stranger = tonic::transport::Channel::from_shared(format!("https://{}", server.addr))
        .unwrap()
        .tls_config(
            tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(&pki.ca_pem))
                .domain_name("localhost")
                .identity(other.client("operator")),
        )
        .unwrap()
        .connect()
        .await;
    if let Ok(channel) = stranger {
        let r = Clients::new(channel, None)
            .delegations
            .who_am_i(WhoAmIRequest {})
            .await;
        assert!(
            r.is_err(),
            "a certificate from another CA must not be accepted"
        );
    }
    // Plain text to a TLS server fails.
    let plain = tonic::transport::Channel::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await;
    if let Ok(channel) = plain {
        assert!(
            Clients::new(channel, server.options().operator_token.as_deref())
                .members
                .list_members(ListMembersRequest::default())
                .await
                .is_err()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_credentials_are_slowed_down_and_audited() {
    let server = TestServer::start(Options::secured()).await;
    let bad = server.clients(Some("x".repeat(40).as_str()));
    let mut last = Duration::ZERO;
    for _ in 0..6 {
        let started = std::time::Instant::now();
        let r = bad
            .members
            .clone()
            .list_members(ListMembersRequest::default())
            .await;
        assert_status(r, Code::Unauthenticated, &["not valid"]);
        last = started.elapsed();
    }
    assert!(
        last >= Duration::from_millis(300),
        "the 6th failure waited {last:?}"
    );
    let failures = export(&server)
        .await
        .into_iter()
        .filter(|e| e.kind == "auth_failed")
        .count();
    assert_eq!(failures, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_pinned_libraries_load() {
    let unanimity = sha256sum(&artifacts::library(artifacts::UNANIMITY));
    let mut options = Options::secured();
    options.plugins = vec![artifacts::UNANIMITY.into()];
    options.extra = vec![(artifacts::WEIGHTED.into(), artifacts::WEIGHTED.into())];
    options.plugin_pins = vec![unanimity];
    let server = TestServer::start(options).await;
    let r = server
        .policies()
        .load_policy(LoadPolicyRequest {
            file_name: artifacts::WEIGHTED.into(),
            ..Default::default()
        })
        .await;
    assert_status(r, Code::FailedPrecondition, &["not in the list of pinned"]);
    get_policy(&server, "unanimity").await;
}

mod validation {
    use accord_proto::v1::{Ballot, Proposal};
    use accord_server::limits;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any string over its cap is refused with RESOURCE_EXHAUSTED, whatever it holds, and
        /// the message never contains it.
        #[test]
        fn oversize_titles_and_reasons_are_refused(extra in 1usize..5000, c in any::<char>()) {
            let title: String = std::iter::repeat_n(c, limits::MAX_TITLE + extra).collect();
            let p = Proposal { title: title.clone(), ..Default::default() };
            let status = tonic::Status::from(limits::proposal(&p).unwrap_err());
            prop_assert_eq!(status.code(), tonic::Code::ResourceExhausted);
            prop_assert!(!status.message().contains(&title));
            let b = Ballot { reason: std::iter::repeat_n(c, limits::MAX_REASON + extra).collect(), ..Default::default() };
            prop_assert!(limits::ballot("ballot", &b).is_err());
        }

        /// Strings within their caps pass.
        #[test]
        fn strings_within_caps_pass(title in ".{0,50}", reason in ".{0,200}") {
            let p = Proposal { title, ..Default::default() };
            prop_assert!(limits::proposal(&p).is_ok());
            let b = Ballot { reason, ..Default::default() };
            prop_assert!(limits::ballot("ballot", &b).is_ok());
        }

        /// Timestamps: exactly years 1 to 9999 and nanos in [0, 1e9) pass.
        #[test]
        fn timestamps(seconds in any::<i64>(), nanos in any::<i32>()) {
            let ok = (-62_135_596_800..=253_402_300_799).contains(&seconds)
                && (0..1_000_000_000).contains(&nanos);
            let t = prost_types::Timestamp { seconds, nanos };
            prop_assert_eq!(limits::timestamp("t", &t).is_ok(), ok);
        }
    }
}
