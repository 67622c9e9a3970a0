//! Reads served from memory (issue 10) stay exact, on the real server over a real port:
//!
//! - on one server, a Get or List after each kind of write returns the new record: a member
//!   created, updated and deleted; a partner created and updated; a mission created and updated;
//!   a mission resized and a partner's summit participation set by an adopted proposal; a
//!   proposal closed — each read made with the caches warm, so that a missing invalidation
//!   shows;
//! - List calls page through every record in order, with their filters and totals, and refuse
//!   a token issued for another listing;
//! - on PostgreSQL replicas, a write through one replica (an operator's update, an adopted
//!   proposal's effect) is seen through another, whose caches were warm, within a bounded wait.

use std::time::{Duration, Instant};

use accord_proto::v1::*;
use accord_test_support::database::TempPostgres;
use accord_test_support::grpc::*;
use accord_test_support::*;
use prost_types::FieldMask;
use tonic::Code;

fn mask(path: &str) -> Option<FieldMask> {
    Some(FieldMask {
        paths: vec![path.into()],
    })
}

async fn get_member(server: &TestServer, code: &str) -> Result<Member, tonic::Status> {
    Ok(server
        .members()
        .get_member(GetMemberRequest { name: member(code) })
        .await?
        .into_inner()
        .member
        .expect("a member"))
}

/// Sets member `code`'s status through UpdateMember (a field mask of `status` only).
async fn set_status(server: &TestServer, code: &str, status: MemberStatus) {
    server
        .members()
        .update_member(UpdateMemberRequest {
            member: Some(Member {
                name: member(code),
                status: status as i32,
                ..Default::default()
            }),
            update_mask: mask("status"),
        })
        .await
        .expect("update member");
}

async fn get_partner(server: &TestServer, code: &str) -> Partner {
    server
        .partners()
        .get_partner(GetPartnerRequest {
            name: format!("partners/{code}"),
        })
        .await
        .expect("get partner")
        .into_inner()
        .partner
        .expect("a partner")
}

async fn list_members(server: &TestServer, status: MemberStatus) -> ListMembersResponse {
    server
        .members()
        .list_members(ListMembersRequest {
            status: status as i32,
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("list members")
        .into_inner()
}

async fn list_partners(server: &TestServer, p: SummitParticipation) -> Vec<String> {
    server
        .partners()
        .list_partners(ListPartnersRequest {
            summit_participation: p as i32,
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("list partners")
        .into_inner()
        .partners
        .into_iter()
        .map(|p| p.code)
        .collect()
}

async fn list_missions(server: &TestServer, status: MissionStatus) -> Vec<Mission> {
    server
        .missions()
        .list_missions(ListMissionsRequest {
            status: status as i32,
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("list missions")
        .into_inner()
        .missions
}

/// Creates a proposal under `weighted` and has the United States and Germany support it, which
/// adopts it at once.
async fn adopt(server: &TestServer, title: &str, action: proposal::Action) -> Proposal {
    let created = create(server, proposal(title, action, "weighted")).await;
    cast(server, &created.name, ballot("USA", Choice::Support)).await;
    let (_, after) = cast(server, &created.name, ballot("DEU", Choice::Support)).await;
    assert_eq!(after.state, ProposalState::Adopted as i32, "{title}");
    after
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_after_each_kind_of_write_return_the_new_record() {
    let server = TestServer::start_default().await;

    // Members: warm, then create, update, delete.
    let usa = get_member(&server, "USA").await.unwrap();
    assert_eq!(
        list_members(&server, MemberStatus::Unspecified)
            .await
            .total_size,
        32
    );
    let mut newcomer = usa.clone();
    newcomer.code = "IMF-ED-12".into();
    newcomer.display_name = "A board seat".into();
    newcomer.status = MemberStatus::Invited as i32;
    server
        .members()
        .create_member(CreateMemberRequest {
            member: Some(newcomer.clone()),
        })
        .await
        .expect("create member");
    let got = get_member(&server, "IMF-ED-12").await.unwrap();
    assert_eq!(got.display_name, "A board seat");
    let invited = list_members(&server, MemberStatus::Invited).await;
    assert_eq!(invited.total_size, 1);
    assert_eq!(invited.members[0].code, "IMF-ED-12");
    assert_eq!(
        list_members(&server, MemberStatus::Unspecified)
            .await
            .total_size,
        33
    );

    set_status(&server, "USA", MemberStatus::Suspended).await;
    assert_eq!(
        get_member(&server, "USA").await.unwrap().status,
        MemberStatus::Suspended as i32
    );
    let suspended = list_members(&server, MemberStatus::Suspended).await;
    assert_eq!(
        suspended
            .members
            .iter()
            .map(|m| m.code.as_str())
            .collect::<Vec<_>>(),
        ["USA"]
    );

    server
        .members()
        .delete_member(DeleteMemberRequest {
            name: member("IMF-ED-12"),
        })
        .await
        .expect("delete member");
    assert_status(
        get_member(&server, "IMF-ED-12").await,
        Code::NotFound,
        &["IMF-ED-12"],
    );
    assert_eq!(
        list_members(&server, MemberStatus::Invited)
            .await
            .total_size,
        0
    );
    assert_eq!(
        list_members(&server, MemberStatus::Unspecified)
            .await
            .total_size,
        32
    );
    // Back to active, for the proposals below.
    set_status(&server, "USA", MemberStatus::Active).await;

    // Partners: warm, then create and update.
    let ukr = get_partner(&server, "UKR").await;
    let before = list_partners(&server, SummitParticipation::Unspecified).await;
    let mut mda = ukr.clone();
    mda.code = "MDA".into();
    mda.display_name = "Moldova".into();
    server
        .partners()
        .create_partner(CreatePartnerRequest { partner: Some(mda) })
        .await
        .expect("create partner");
    assert_eq!(get_partner(&server, "MDA").await.display_name, "Moldova");
    let after = list_partners(&server, SummitParticipation::Unspecified).await;
    assert_eq!(after.len(), before.len() + 1);
    assert!(after.contains(&"MDA".to_string()));
    server
        .partners()
        .update_partner(UpdatePartnerRequest {
            partner: Some(Partner {
                name: "partners/MDA".into(),
                attendance_notes: "observer at the summit".into(),
                ..Default::default()
            }),
            update_mask: mask("attendance_notes"),
        })
        .await
        .expect("update partner");
    assert_eq!(
        get_partner(&server, "MDA").await.attendance_notes,
        "observer at the summit"
    );

    // Missions: warm, then create and update.
    let kfor = get_mission(&server, "KFOR").await;
    let active = list_missions(&server, MissionStatus::Active).await.len();
    let mut new = kfor.clone();
    new.id = "TEST-1".into();
    new.display_name = "Test mission".into();
    new.status = MissionStatus::Active as i32;
    server
        .missions()
        .create_mission(CreateMissionRequest { mission: Some(new) })
        .await
        .expect("create mission");
    assert_eq!(
        get_mission(&server, "TEST-1").await.display_name,
        "Test mission"
    );
    assert_eq!(
        list_missions(&server, MissionStatus::Active).await.len(),
        active + 1
    );
    server
        .missions()
        .update_mission(UpdateMissionRequest {
            mission: Some(Mission {
                name: "missions/TEST-1".into(),
                status: MissionStatus::Proposed as i32,
                ..Default::default()
            }),
            update_mask: mask("status"),
        })
        .await
        .expect("update mission");
    assert_eq!(
        get_mission(&server, "TEST-1").await.status,
        MissionStatus::Proposed as i32
    );
    assert_eq!(
        list_missions(&server, MissionStatus::Active).await.len(),
        active
    );

    // A mission changed by an adopted proposal's effect (the caches are warm).
    assert_eq!(get_mission(&server, "KFOR").await.personnel_ceiling, 4500);
    let resize = create(
        &server,
        proposal(
            "Shrink KFOR",
            proposal::Action::ResizeMission(ResizeMission {
                mission: "missions/KFOR".into(),
                personnel_ceiling: 3000,
            }),
            "weighted",
        ),
    )
    .await;
    // The open proposal, read before it closes.
    assert_eq!(
        get_proposal(&server, &resize.name).await.state,
        ProposalState::Open as i32
    );
    cast(&server, &resize.name, ballot("USA", Choice::Support)).await;
    let (_, after) = cast(&server, &resize.name, ballot("DEU", Choice::Support)).await;
    assert_eq!(after.state, ProposalState::Adopted as i32);
    assert_eq!(get_mission(&server, "KFOR").await.personnel_ceiling, 3000);
    let listed = list_missions(&server, MissionStatus::Unspecified).await;
    let kfor_listed = listed.iter().find(|m| m.id == "KFOR").unwrap();
    assert_eq!(kfor_listed.personnel_ceiling, 3000);
    // The proposal as closed, twice (the second from memory) and as the store has it.
    let closed = get_proposal(&server, &resize.name).await;
    assert_eq!(closed.state, ProposalState::Adopted as i32);
    assert!(closed.decision.is_some() && closed.close_time.is_some());
    assert_eq!(get_proposal(&server, &resize.name).await, closed);

    // A partner's summit participation set by an adopted proposal.
    assert_eq!(
        get_partner(&server, "UKR").await.summit_participation,
        SummitParticipation::Full as i32
    );
    assert!(
        !list_partners(&server, SummitParticipation::Restricted)
            .await
            .contains(&"UKR".to_string())
    );
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
    assert_eq!(
        get_partner(&server, "UKR").await.summit_participation,
        SummitParticipation::Restricted as i32
    );
    assert!(
        list_partners(&server, SummitParticipation::Restricted)
            .await
            .contains(&"UKR".to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_pages_walk_every_record_in_order_with_filters_and_totals() {
    let server = TestServer::start_default().await;
    let all = member_codes(&server).await;
    assert_eq!(all.len(), 32);
    let mut walked = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = server
            .members()
            .list_members(ListMembersRequest {
                page_size: 5,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("a page")
            .into_inner();
        assert_eq!(page.total_size, 32);
        assert!(page.members.len() <= 5);
        walked.extend(page.members.into_iter().map(|m| m.code));
        pages += 1;
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!((walked, pages), (all, 7));

    // A token is bound to its listing and filter.
    let first = server
        .members()
        .list_members(ListMembersRequest {
            page_size: 5,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let refused = server
        .members()
        .list_members(ListMembersRequest {
            page_size: 5,
            status: MemberStatus::Active as i32,
            page_token: first.next_page_token.clone(),
        })
        .await;
    assert_status(refused, Code::InvalidArgument, &["page_token"]);
    let refused = server
        .missions()
        .list_missions(ListMissionsRequest {
            page_size: 5,
            page_token: first.next_page_token,
            ..Default::default()
        })
        .await;
    assert_status(refused, Code::InvalidArgument, &["page_token"]);

    // Missions and partners page the same way.
    let missions = list_missions(&server, MissionStatus::Unspecified).await;
    let mut walked = Vec::new();
    let mut token = String::new();
    loop {
        let page = server
            .missions()
            .list_missions(ListMissionsRequest {
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("a page")
            .into_inner();
        assert_eq!(page.total_size as usize, missions.len());
        walked.extend(page.missions);
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(walked, missions);
    let ids: Vec<_> = missions.iter().map(|m| m.id.clone()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let partners = list_partners(&server, SummitParticipation::Unspecified).await;
    let full = list_partners(&server, SummitParticipation::Full).await;
    assert!(!full.is_empty() && full.len() < partners.len());
    assert!(full.iter().all(|c| partners.contains(c)));
}

async fn wait_for<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < until, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How long a change made through one replica may take to reach another's reads: the
/// notice's delivery, far less in practice; generous for a loaded machine.
const NOTICE_BOUND: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_one_replica_is_read_through_another() {
    let url = TempPostgres::shared().database();
    let a = TestServer::start(Options::default().on_database(&url)).await;
    let b = TestServer::start(Options::default().on_database(&url)).await;
    // Warm every cache of B.
    let usa = get_member(&b, "USA").await.unwrap();
    let ukr = get_partner(&b, "UKR").await;
    let kfor = get_mission(&b, "KFOR").await;
    list_members(&b, MemberStatus::Unspecified).await;
    list_partners(&b, SummitParticipation::Unspecified).await;
    list_missions(&b, MissionStatus::Unspecified).await;

    a.members()
        .update_member(UpdateMemberRequest {
            member: Some(Member {
                name: member("USA"),
                display_name: format!("{} (renamed)", usa.display_name),
                ..Default::default()
            }),
            update_mask: mask("display_name"),
        })
        .await
        .expect("update member");
    a.partners()
        .update_partner(UpdatePartnerRequest {
            partner: Some(Partner {
                name: "partners/UKR".into(),
                attendance_notes: format!("{} (noted)", ukr.attendance_notes),
                ..Default::default()
            }),
            update_mask: mask("attendance_notes"),
        })
        .await
        .expect("update partner");
    a.missions()
        .update_mission(UpdateMissionRequest {
            mission: Some(Mission {
                name: "missions/KFOR".into(),
                mandate: "a new mandate".into(),
                ..Default::default()
            }),
            update_mask: mask("mandate"),
        })
        .await
        .expect("update mission");
    wait_for("the member through B", NOTICE_BOUND, || async {
        get_member(&b, "USA")
            .await
            .unwrap()
            .display_name
            .ends_with("(renamed)")
    })
    .await;
    wait_for("the member in B's list", NOTICE_BOUND, || async {
        list_members(&b, MemberStatus::Active)
            .await
            .members
            .iter()
            .any(|m| m.display_name.ends_with("(renamed)"))
    })
    .await;
    wait_for("the partner through B", NOTICE_BOUND, || async {
        get_partner(&b, "UKR")
            .await
            .attendance_notes
            .ends_with("(noted)")
    })
    .await;
    wait_for("the mission through B", NOTICE_BOUND, || async {
        get_mission(&b, "KFOR").await.mandate == "a new mandate"
    })
    .await;

    // An adopted proposal's effect through A: the mission as resized, through B.
    let adopted = adopt(
        &a,
        "Shrink KFOR",
        proposal::Action::ResizeMission(ResizeMission {
            mission: "missions/KFOR".into(),
            personnel_ceiling: kfor.personnel_ceiling - 100,
        }),
    )
    .await;
    wait_for("the resized mission through B", NOTICE_BOUND, || async {
        get_mission(&b, "KFOR").await.personnel_ceiling == kfor.personnel_ceiling - 100
    })
    .await;
    wait_for("the resized mission in B's list", NOTICE_BOUND, || async {
        list_missions(&b, MissionStatus::Unspecified)
            .await
            .iter()
            .any(|m| m.id == "KFOR" && m.personnel_ceiling == kfor.personnel_ceiling - 100)
    })
    .await;
    // A proposal closed through A reads as closed through B at once (B does not serve open
    // proposals from memory on a shared database).
    assert_eq!(
        get_proposal(&b, &adopted.name).await.state,
        ProposalState::Adopted as i32
    );
    // And a partner's participation set through A.
    adopt(
        &a,
        "Ukraine at Ankara: restricted",
        proposal::Action::SetSummitParticipation(SetSummitParticipation {
            partners: vec!["partners/UKR".into()],
            summit: "Ankara 2026".into(),
            participation: SummitParticipation::Restricted as i32,
        }),
    )
    .await;
    wait_for(
        "the partner's participation through B",
        NOTICE_BOUND,
        || async {
            get_partner(&b, "UKR").await.summit_participation
                == SummitParticipation::Restricted as i32
        },
    )
    .await;
}
