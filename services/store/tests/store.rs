//! Tests of the store, each run against both backends — a real SQLite file in a temporary
//! directory and a real database in a PostgreSQL server the tests start themselves
//! (`accord_test_support::database`): seeding, paging and filters, records, proposals, ballots,
//! closing with effects, settings, the audit log, reopening, and durability of acknowledged
//! ballots when the writing process is killed with SIGKILL (the test binary runs itself as the
//! writer: see `crash_child_writer`).
//!
//! One suite, not a copy per backend: each test is an `async fn(Backend)`, and [`both_backends!`]
//! makes a `sqlite::…` and a `postgres::…` test of it.

use std::collections::HashSet;

use accord_proto::v1::{
    Ballot, Choice, Contribution, Date, Decision, EndMission, GenericMotion, Member, MemberStatus,
    Mission, MissionArea, MissionStatus, Outcome, Partner, PartnerCategory, PolicyIdentity,
    Procedure, Proposal, ProposalKind, ProposalState, ResizeMission, SetSummitParticipation,
    SummitParticipation, proposal::Action,
};
use accord_store::{
    AuditEntry, Closing, Effect, Page, PageRequest, ProposalFilter, SqliteStore, Store, StoreError,
};
use std::sync::Arc;

use accord_test_support::database::{Backend, TempDatabase, TempPostgres};
use prost_types::Timestamp;

/// A new store on a new file.
async fn new_store(backend: Backend) -> (TempDatabase, Arc<dyn Store>) {
    let db = TempDatabase::new(backend);
    let store = accord_store::open(&db.url()).await.unwrap();
    (db, store)
}

/// A new store on a new file, seeded with the dataset.
async fn seeded_store(backend: Backend) -> (TempDatabase, Arc<dyn Store>) {
    let (dir, store) = new_store(backend).await;
    assert!(store.seed_if_empty().await.unwrap());
    (dir, store)
}

fn page(size: usize, token: &str) -> PageRequest {
    PageRequest {
        size,
        token: token.to_owned(),
    }
}

fn ts(seconds: i64) -> Timestamp {
    Timestamp { seconds, nanos: 0 }
}

fn all_audit(entries: &[AuditEntry], kind: &str) -> Vec<AuditEntry> {
    entries.iter().filter(|e| e.kind == kind).cloned().collect()
}

/// An open proposal created at `created` (seconds).
fn proposal(title: &str, action: Action, created: i64) -> Proposal {
    Proposal {
        title: title.to_owned(),
        description: format!("{title}, for the tests"),
        action: Some(action),
        sponsor: "members/USA".to_owned(),
        procedure: Procedure::OpenVote as i32,
        deadline: Some(ts(created + 86_400)),
        state: ProposalState::Open as i32,
        create_time: Some(ts(created)),
        ..Default::default()
    }
}

fn end_nmi() -> (Proposal, ProposalKind, &'static str) {
    let action = Action::EndMission(EndMission {
        mission: "missions/NMI".into(),
        end_date: Some(Date {
            year: 2026,
            month: 9,
            day: 30,
        }),
    });
    (
        proposal("End NMI", action, 1_000),
        ProposalKind::EndMission,
        "missions/NMI",
    )
}

fn resize_kfor() -> (Proposal, ProposalKind, &'static str) {
    let action = Action::ResizeMission(ResizeMission {
        mission: "missions/KFOR".into(),
        personnel_ceiling: 3_000,
    });
    (
        proposal("Resize KFOR", action, 2_000),
        ProposalKind::ResizeMission,
        "missions/KFOR",
    )
}

fn ukr_summit() -> (Proposal, ProposalKind, &'static str) {
    let action = Action::SetSummitParticipation(SetSummitParticipation {
        partners: vec!["partners/UKR".into()],
        summit: "Ankara 2026".into(),
        participation: SummitParticipation::Restricted as i32,
    });
    (
        proposal("Ukraine at Ankara", action, 3_000),
        ProposalKind::SetSummitParticipation,
        "partners/UKR",
    )
}

fn motion(n: i64) -> (Proposal, ProposalKind, String) {
    let action = Action::GenericMotion(GenericMotion {
        target: "missions/KFOR".into(),
        text: format!("motion {n}"),
    });
    (
        proposal(&format!("Motion {n}"), action, n),
        ProposalKind::GenericMotion,
        "missions/KFOR".to_owned(),
    )
}

async fn create(store: &dyn Store, (p, kind, target): (Proposal, ProposalKind, &str)) -> Proposal {
    store.create_proposal(&p, kind, target).await.unwrap()
}

fn ballot(member: &str, choice: Choice, reason: &str) -> Ballot {
    Ballot {
        member: format!("members/{member}"),
        choice: choice as i32,
        salience: Some(0.5),
        reason: reason.to_owned(),
        cast_time: Some(ts(5_000)),
        ..Default::default()
    }
}

fn decision(outcome: Outcome) -> Decision {
    Decision {
        outcome: outcome as i32,
        settled: true,
        support_share: 0.75,
        explanation: vec!["because".into()],
        policy: Some(PolicyIdentity {
            policy_id: "unanimity".into(),
            version: "1.0.0".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn closing(state: ProposalState, decision: Option<Decision>, effects: Vec<Effect>) -> Closing {
    Closing {
        state,
        decision,
        close_time: ts(9_000),
        effects,
        last_ballot: None,
    }
}

/// Every page of a listing, following the tokens.
async fn all_pages<T, F, Fut>(size: usize, mut fetch: F) -> (Vec<Page<T>>, Vec<T>)
where
    T: Clone,
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = Result<Page<T>, StoreError>>,
{
    let mut pages = Vec::new();
    let mut items = Vec::new();
    let mut token = String::new();
    loop {
        let p = fetch(page(size, &token)).await.unwrap();
        items.extend(p.items.iter().cloned());
        token = p.next_token.clone();
        pages.push(p);
        if token.is_empty() {
            break;
        }
        assert!(pages.len() < 1_000, "paging does not end");
    }
    (pages, items)
}

async fn seeding_loads_the_dataset_once(backend: Backend) {
    let (_dir, store) = new_store(backend).await;
    assert!(store.all_members().await.unwrap().is_empty());
    assert!(store.seed_if_empty().await.unwrap());
    assert!(
        !store.seed_if_empty().await.unwrap(),
        "second call loads nothing"
    );

    let members = store.all_members().await.unwrap();
    assert_eq!(members.len(), 32);
    let codes: Vec<_> = members.iter().map(|m| m.code.clone()).collect();
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(codes, sorted, "all_members is ordered by code");
    let usa = store.get_member("USA").await.unwrap();
    assert_eq!(usa.name, "members/USA");
    assert_eq!(usa.attributes["defence_expenditure_usd_mn"], 967707.0);
    assert!(
        !store
            .get_member("ISL")
            .await
            .unwrap()
            .attributes
            .contains_key("defence_expenditure_usd_mn")
    );

    assert_eq!(
        store
            .list_partners(None, page(100, ""))
            .await
            .unwrap()
            .total,
        6
    );
    assert_eq!(
        store
            .list_missions(None, page(100, ""))
            .await
            .unwrap()
            .total,
        10
    );
    let kfor = store.get_mission("KFOR").await.unwrap();
    assert_eq!(kfor.personnel_ceiling, 4500);
    assert!(kfor.contributions.contains(&Contribution {
        member: "members/ITA".into(),
        troops: 1258
    }));
    assert_eq!(
        store.get_mission("NMI").await.unwrap().area(),
        MissionArea::OutOfArea
    );

    let audit = store.audit_log(0, 100).await.unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].kind, "seed");
}

async fn seeding_skips_a_store_that_has_members(backend: Backend) {
    let (_dir, store) = new_store(backend).await;
    let member = Member {
        name: "members/XYZ".into(),
        code: "XYZ".into(),
        status: MemberStatus::Active as i32,
        ..Default::default()
    };
    store.create_member(&member).await.unwrap();
    assert!(!store.seed_if_empty().await.unwrap());
    assert_eq!(store.all_members().await.unwrap(), vec![member]);
}

async fn member_pages_and_filters(backend: Backend) {
    let (_dir, store) = seeded_store(backend).await;
    let (pages, members) = all_pages(10, |p| store.list_members(None, p)).await;
    assert_eq!(
        pages.iter().map(|p| p.items.len()).collect::<Vec<_>>(),
        [10, 10, 10, 2]
    );
    assert!(pages.iter().all(|p| p.total == 32));
    assert!(pages[..3].iter().all(|p| !p.next_token.is_empty()));
    assert!(pages[3].next_token.is_empty());
    let codes: Vec<_> = members.iter().map(|m| m.code.clone()).collect();
    assert_eq!(codes.len(), 32);
    assert!(
        codes.windows(2).all(|w| w[0] < w[1]),
        "ordered by code, no repeats: {codes:?}"
    );

    // An exact fit ends without a token.
    let all = store.list_members(None, page(32, "")).await.unwrap();
    assert_eq!((all.items.len(), all.next_token.as_str()), (32, ""));

    let active = store
        .list_members(Some(MemberStatus::Active), page(50, ""))
        .await
        .unwrap();
    assert_eq!((active.items.len(), active.total), (32, 32));
    let suspended = store
        .list_members(Some(MemberStatus::Suspended), page(50, ""))
        .await
        .unwrap();
    assert_eq!((suspended.items.len(), suspended.total), (0, 0));

    let mut usa = store.get_member("USA").await.unwrap();
    usa.set_status(MemberStatus::Suspended);
    store.update_member(&usa).await.unwrap();
    let suspended = store
        .list_members(Some(MemberStatus::Suspended), page(50, ""))
        .await
        .unwrap();
    assert_eq!(suspended.items, vec![usa]);
    assert_eq!(
        store
            .list_members(Some(MemberStatus::Active), page(50, ""))
            .await
            .unwrap()
            .total,
        31
    );
}

/// Pages cut from the records in memory ([`accord_store::MemoryPages`], what a server serves
/// List calls from) are the store's own: the same records, totals and tokens, for every filter
/// and page size, with keys that sort differently bytewise and in a natural-language collation.
async fn memory_pages_are_the_stores(backend: Backend) {
    let (_dir, store) = seeded_store(backend).await;
    for (code, status) in [
        ("IMF-ED-12", MemberStatus::Invited),
        ("IMF_ED", MemberStatus::Suspended),
        ("IMFA", MemberStatus::Invited),
        ("A1", MemberStatus::Suspended),
        ("Z", MemberStatus::Active),
    ] {
        let mut member = store.get_member("USA").await.unwrap();
        member.code = code.into();
        member.name = format!("members/{code}");
        member.set_status(status);
        store.create_member(&member).await.unwrap();
    }
    let mut kfor = store.get_mission("KFOR").await.unwrap();
    kfor.set_status(MissionStatus::DrawingDown);
    store.update_mission(&kfor).await.unwrap();
    let pages = store.memory_pages().expect("both backends page in memory");
    let members = store.all_members().await.unwrap();
    let partners = store.all_partners().await.unwrap();
    let missions = store.all_missions().await.unwrap();
    assert!(partners.windows(2).all(|w| w[0].code < w[1].code));
    assert!(missions.windows(2).all(|w| w[0].id < w[1].id));
    fn same<T: PartialEq + std::fmt::Debug>(a: &Page<T>, b: &Page<T>, what: &str) {
        assert_eq!(a.items, b.items, "{what}");
        assert_eq!(a.next_token, b.next_token, "{what}");
        assert_eq!(a.total, b.total, "{what}");
    }
    for size in [1, 2, 3, 7, 32, 1000] {
        let statuses = [
            None,
            Some(MemberStatus::Active),
            Some(MemberStatus::Invited),
        ];
        for status in statuses.into_iter().chain([Some(MemberStatus::Suspended)]) {
            let (stored, _) = all_pages(size, |p| store.list_members(status, p)).await;
            let mut token = String::new();
            for (n, want) in stored.iter().enumerate() {
                let got = pages
                    .members(&members, status, &page(size, &token))
                    .unwrap();
                same(
                    &got,
                    want,
                    &format!("members {status:?} size {size} page {n}"),
                );
                token = got.next_token.clone();
            }
        }
        for participation in [
            None,
            Some(SummitParticipation::Full),
            Some(SummitParticipation::Restricted),
        ] {
            let (stored, _) = all_pages(size, |p| store.list_partners(participation, p)).await;
            let mut token = String::new();
            for (n, want) in stored.iter().enumerate() {
                let got = pages
                    .partners(&partners, participation, &page(size, &token))
                    .unwrap();
                same(
                    &got,
                    want,
                    &format!("partners {participation:?} size {size} page {n}"),
                );
                token = got.next_token.clone();
            }
        }
        for status in [
            None,
            Some(MissionStatus::Active),
            Some(MissionStatus::DrawingDown),
        ] {
            let (stored, _) = all_pages(size, |p| store.list_missions(status, p)).await;
            let mut token = String::new();
            for (n, want) in stored.iter().enumerate() {
                let got = pages
                    .missions(&missions, status, &page(size, &token))
                    .unwrap();
                same(
                    &got,
                    want,
                    &format!("missions {status:?} size {size} page {n}"),
                );
                token = got.next_token.clone();
            }
        }
    }
    // A token for another listing or filter is refused alike.
    let first = store.list_members(None, page(2, "")).await.unwrap();
    let foreign = page(2, &first.next_token);
    assert!(matches!(
        pages.members(&members, Some(MemberStatus::Active), &foreign),
        Err(StoreError::BadPageToken(_))
    ));
    assert!(matches!(
        pages.missions(&missions, None, &foreign),
        Err(StoreError::BadPageToken(_))
    ));
}

async fn page_tokens_are_checked(backend: Backend) {
    let (_dir, store) = seeded_store(backend).await;
    let first = store.list_members(None, page(10, "")).await.unwrap();
    let token = first.next_token.clone();

    for bad in [
        "abc",
        "10",
        "4c5458.00",
        &format!("{token}x"),
        &token.replace('.', ""),
    ] {
        let error = store.list_members(None, page(10, bad)).await.unwrap_err();
        assert!(
            matches!(error, StoreError::BadPageToken(ref t) if t == bad),
            "{bad}: {error:?}"
        );
    }
    // A forged key with the check of another key.
    let (_, check) = token.split_once('.').unwrap();
    let forged = format!("{}.{check}", "555341"); // "USA"
    assert!(matches!(
        store.list_members(None, page(10, &forged)).await,
        Err(StoreError::BadPageToken(_))
    ));
    // A token of another listing or filter.
    assert!(matches!(
        store
            .list_members(Some(MemberStatus::Active), page(10, &token))
            .await,
        Err(StoreError::BadPageToken(_))
    ));
    assert!(matches!(
        store.list_missions(None, page(10, &token)).await,
        Err(StoreError::BadPageToken(_))
    ));
    // A token of another database.
    let (_other_dir, other) = seeded_store(backend).await;
    assert!(matches!(
        other.list_members(None, page(10, &token)).await,
        Err(StoreError::BadPageToken(_))
    ));
    // The real token still works, repeatedly.
    let second = store.list_members(None, page(10, &token)).await.unwrap();
    assert_eq!(second.items.len(), 10);
    assert_eq!(
        store
            .list_members(None, page(10, &token))
            .await
            .unwrap()
            .items,
        second.items
    );
}

async fn partner_and_mission_pages_and_filters(backend: Backend) {
    let (_dir, store) = seeded_store(backend).await;
    let (pages, partners) = all_pages(4, |p| store.list_partners(None, p)).await;
    assert_eq!(pages.len(), 2);
    let codes: Vec<_> = partners.iter().map(|p| p.code.as_str()).collect();
    assert_eq!(codes, ["AUS", "GEO", "JPN", "KOR", "NZL", "UKR"]);
    let full = store
        .list_partners(Some(SummitParticipation::Full), page(10, ""))
        .await
        .unwrap();
    assert_eq!(full.total, 5);
    let restricted = store
        .list_partners(Some(SummitParticipation::Restricted), page(10, ""))
        .await
        .unwrap();
    assert_eq!(
        restricted
            .items
            .iter()
            .map(|p| p.code.as_str())
            .collect::<Vec<_>>(),
        ["GEO"]
    );

    let (pages, missions) = all_pages(3, |p| store.list_missions(None, p)).await;
    assert_eq!(
        pages.iter().map(|p| p.items.len()).collect::<Vec<_>>(),
        [3, 3, 3, 1]
    );
    assert!(pages.iter().all(|p| p.total == 10));
    let ids: Vec<_> = missions.iter().map(|m| m.id.clone()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert_eq!(
        store
            .list_missions(Some(MissionStatus::Active), page(20, ""))
            .await
            .unwrap()
            .total,
        10
    );
    assert_eq!(
        store
            .list_missions(Some(MissionStatus::Terminated), page(20, ""))
            .await
            .unwrap()
            .total,
        0
    );
}

async fn members_partners_missions_crud(backend: Backend) {
    let (_dir, store) = seeded_store(backend).await;

    // Members.
    assert!(matches!(
        store.get_member("XYZ").await,
        Err(StoreError::NotFound { kind: "member", ref id }) if id == "XYZ"
    ));
    let mut bih = Member {
        name: "members/BIH".into(),
        code: "BIH".into(),
        display_name: "Bosnia and Herzegovina".into(),
        status: MemberStatus::Invited as i32,
        region: "Europe".into(),
        ..Default::default()
    };
    store.create_member(&bih).await.unwrap();
    assert_eq!(store.get_member("BIH").await.unwrap(), bih);
    assert!(matches!(
        store.create_member(&bih).await,
        Err(StoreError::AlreadyExists { kind: "member", ref id }) if id == "BIH"
    ));
    bih.set_status(MemberStatus::Active);
    bih.attributes.insert("population_mn".into(), 3.2);
    store.update_member(&bih).await.unwrap();
    assert_eq!(store.get_member("BIH").await.unwrap(), bih);
    assert_eq!(store.all_members().await.unwrap().len(), 33);
    let ghost = Member {
        code: "XYZ".into(),
        ..bih.clone()
    };
    assert!(matches!(
        store.update_member(&ghost).await,
        Err(StoreError::NotFound { kind: "member", .. })
    ));

    // Partners.
    assert!(matches!(
        store.get_partner("CHE").await,
        Err(StoreError::NotFound {
            kind: "partner",
            ..
        })
    ));
    let mut che = Partner {
        name: "partners/CHE".into(),
        code: "CHE".into(),
        display_name: "Switzerland".into(),
        category: PartnerCategory::Other as i32,
        framework: "Partnership for Peace".into(),
        summit_participation: SummitParticipation::None as i32,
        ..Default::default()
    };
    store.create_partner(&che).await.unwrap();
    assert!(matches!(
        store.create_partner(&che).await,
        Err(StoreError::AlreadyExists {
            kind: "partner",
            ..
        })
    ));
    che.set_summit_participation(SummitParticipation::Restricted);
    store.update_partner(&che).await.unwrap();
    assert_eq!(store.get_partner("CHE").await.unwrap(), che);
    assert_eq!(
        store
            .list_partners(Some(SummitParticipation::Restricted), page(10, ""))
            .await
            .unwrap()
            .total,
        2
    );
    let ghost = Partner {
        code: "XYZ".into(),
        ..che.clone()
    };
    assert!(matches!(
        store.update_partner(&ghost).await,
        Err(StoreError::NotFound {
            kind: "partner",
            ..
        })
    ));

    // Missions.
    assert!(matches!(
        store.get_mission("XYZ").await,
        Err(StoreError::NotFound {
            kind: "mission",
            ..
        })
    ));
    let mut kfor = store.get_mission("KFOR").await.unwrap();
    assert!(matches!(
        store.create_mission(&kfor).await,
        Err(StoreError::AlreadyExists {
            kind: "mission",
            ..
        })
    ));
    kfor.personnel_ceiling = 4_000;
    kfor.set_status(MissionStatus::DrawingDown);
    kfor.end_date = Some(Date {
        year: 2027,
        month: 6,
        day: 30,
    });
    store.update_mission(&kfor).await.unwrap();
    assert_eq!(store.get_mission("KFOR").await.unwrap(), kfor);
    assert_eq!(
        store
            .list_missions(Some(MissionStatus::DrawingDown), page(10, ""))
            .await
            .unwrap()
            .items,
        vec![kfor.clone()]
    );
    let new = Mission {
        name: "missions/NEW".into(),
        id: "NEW".into(),
        status: MissionStatus::Proposed as i32,
        ..Default::default()
    };
    store.create_mission(&new).await.unwrap();
    assert_eq!(store.get_mission("NEW").await.unwrap(), new);
    let ghost = Mission {
        id: "XYZ".into(),
        ..new.clone()
    };
    assert!(matches!(
        store.update_mission(&ghost).await,
        Err(StoreError::NotFound {
            kind: "mission",
            ..
        })
    ));

    // Every successful write is audited; the failed ones are not.
    let kinds: Vec<_> = store
        .audit_log(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "seed",
            "member_created",
            "member_updated",
            "partner_created",
            "partner_updated",
            "mission_updated",
            "mission_created"
        ]
    );
}

async fn proposals_get_increasing_ids_and_list_newest_first(backend: Backend) {
    let (_dir, store) = seeded_store(backend).await;
    let p1 = create(&*store, end_nmi()).await;
    let p2 = create(&*store, resize_kfor()).await;
    let p3 = create(&*store, ukr_summit()).await;
    assert_eq!(
        [p1.name.as_str(), p2.name.as_str(), p3.name.as_str()],
        ["proposals/1", "proposals/2", "proposals/3"]
    );
    assert_eq!(p1.title, "End NMI");
    assert_eq!(store.get_proposal("2").await.unwrap(), p2);
    assert_eq!(store.get_proposal("proposals/2").await.unwrap(), p2);
    for missing in ["99", "0", "abc", ""] {
        assert!(
            matches!(store.get_proposal(missing).await, Err(StoreError::NotFound { kind: "proposal", ref id }) if id == missing),
            "{missing}"
        );
    }

    let names = |page: Page<Proposal>| page.items.into_iter().map(|p| p.name).collect::<Vec<_>>();
    let all = store
        .list_proposals(&ProposalFilter::default(), page(10, ""))
        .await
        .unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(names(all), ["proposals/3", "proposals/2", "proposals/1"]);

    let by_kind = ProposalFilter {
        kind: Some(ProposalKind::ResizeMission),
        ..Default::default()
    };
    assert_eq!(
        names(store.list_proposals(&by_kind, page(10, "")).await.unwrap()),
        ["proposals/2"]
    );
    let by_target = ProposalFilter {
        target: Some("partners/UKR".into()),
        ..Default::default()
    };
    assert_eq!(
        names(
            store
                .list_proposals(&by_target, page(10, ""))
                .await
                .unwrap()
        ),
        ["proposals/3"]
    );
    let nothing = ProposalFilter {
        target: Some("missions/KFOR".into()),
        kind: Some(ProposalKind::EndMission),
        ..Default::default()
    };
    assert_eq!(
        store
            .list_proposals(&nothing, page(10, ""))
            .await
            .unwrap()
            .total,
        0
    );

    store
        .close_proposal("2", &closing(ProposalState::Withdrawn, None, vec![]))
        .await
        .unwrap();
    let open = ProposalFilter {
        state: Some(ProposalState::Open),
        ..Default::default()
    };
    assert_eq!(
        names(store.list_proposals(&open, page(10, "")).await.unwrap()),
        ["proposals/3", "proposals/1"]
    );
    let withdrawn = ProposalFilter {
        state: Some(ProposalState::Withdrawn),
        ..Default::default()
    };
    let withdrawn = store
        .list_proposals(&withdrawn, page(10, ""))
        .await
        .unwrap();
    assert_eq!(withdrawn.items[0].state(), ProposalState::Withdrawn);
    assert_eq!(withdrawn.items[0].close_time, Some(ts(9_000)));
    let open_now: Vec<_> = store
        .open_proposals()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(open_now, ["proposals/1", "proposals/3"], "oldest first");

    let kinds: Vec<_> = store
        .audit_log(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.subject))
        .collect();
    assert_eq!(
        kinds[1..],
        [
            ("proposal_created".to_owned(), "proposals/1".to_owned()),
            ("proposal_created".to_owned(), "proposals/2".to_owned()),
            ("proposal_created".to_owned(), "proposals/3".to_owned()),
            ("proposal_withdrawn".to_owned(), "proposals/2".to_owned()),
        ]
    );
}

async fn proposal_pages(backend: Backend) {
    let (_dir, store) = new_store(backend).await;
    for n in 1..=7 {
        let (p, kind, target) = motion(n);
        store.create_proposal(&p, kind, &target).await.unwrap();
    }
    store
        .create_proposal(&end_nmi().0, ProposalKind::EndMission, "missions/NMI")
        .await
        .unwrap();
    let filter = ProposalFilter {
        kind: Some(ProposalKind::GenericMotion),
        ..Default::default()
    };
    let (pages, items) = all_pages(3, |p| store.list_proposals(&filter, p)).await;
    assert_eq!(
        pages.iter().map(|p| p.items.len()).collect::<Vec<_>>(),
        [3, 3, 1]
    );
    assert!(pages.iter().all(|p| p.total == 7));
    let titles: Vec<_> = items.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Motion 7", "Motion 6", "Motion 5", "Motion 4", "Motion 3", "Motion 2", "Motion 1"
        ]
    );
    // A token for one filter is refused under another.
    let other = ProposalFilter::default();
    assert!(matches!(
        store
            .list_proposals(&other, page(3, &pages[0].next_token))
            .await,
        Err(StoreError::BadPageToken(_))
    ));
    // A proposal created between pages does not disturb the next page.
    store
        .create_proposal(&motion(8).0, ProposalKind::GenericMotion, "missions/KFOR")
        .await
        .unwrap();
    let second = store
        .list_proposals(&filter, page(3, &pages[0].next_token))
        .await
        .unwrap();
    assert_eq!(second.items, pages[1].items);
    assert_eq!(second.total, 8);
}

async fn ballots_are_all_kept_and_the_last_counts(backend: Backend) {
    let (_dir, store) = seeded_store(backend).await;
    let p = create(&*store, end_nmi()).await;
    let cast = [
        ("USA", Choice::Support, "first"),
        ("FRA", Choice::Object, "too early"),
        ("USA", Choice::Object, "changed my mind"),
        ("DEU", Choice::Abstain, ""),
        ("FRA", Choice::Support, "persuaded"),
        ("USA", Choice::Support, "back again"),
    ];
    let mut stored = Vec::new();
    for (member, choice, reason) in cast {
        let b = ballot(member, choice, reason);
        let saved = store.cast_ballot("1", &b).await.unwrap();
        assert_eq!(
            Ballot {
                name: String::new(),
                ..saved.clone()
            },
            b
        );
        stored.push(saved);
    }
    let names: Vec<_> = stored.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(
        names,
        (1..=6)
            .map(|n| format!("proposals/1/ballots/{n}"))
            .collect::<Vec<_>>()
    );

    let (pages, listed) = all_pages(4, |page| store.list_ballots("1", page)).await;
    assert_eq!(pages.len(), 2);
    assert!(pages.iter().all(|p| p.total == 6));
    assert_eq!(listed, stored, "every ballot, in the order cast");
    assert_eq!(
        store
            .list_ballots(&p.name, page(10, ""))
            .await
            .unwrap()
            .items,
        stored
    );

    let last = store.last_ballots("1").await.unwrap();
    let summary: Vec<_> = last
        .iter()
        .map(|b| (b.member.as_str(), b.choice(), b.reason.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("members/DEU", Choice::Abstain, ""),
            ("members/FRA", Choice::Support, "persuaded"),
            ("members/USA", Choice::Support, "back again"),
        ]
    );
    assert_eq!(last[2], stored[5]);

    // A second proposal has its own ballots; the sequence goes on.
    create(&*store, resize_kfor()).await;
    assert!(store.last_ballots("2").await.unwrap().is_empty());
    assert_eq!(
        store.list_ballots("2", page(10, "")).await.unwrap().total,
        0
    );
    let b = store
        .cast_ballot("2", &ballot("GBR", Choice::Support, ""))
        .await
        .unwrap();
    assert_eq!(b.name, "proposals/2/ballots/7");
    assert_eq!(
        store.list_ballots("1", page(10, "")).await.unwrap().total,
        6
    );

    // Unknown proposals.
    for missing in ["9", "x"] {
        assert!(matches!(
            store
                .cast_ballot(missing, &ballot("USA", Choice::Support, ""))
                .await,
            Err(StoreError::NotFound {
                kind: "proposal",
                ..
            })
        ));
        assert!(matches!(
            store.list_ballots(missing, page(10, "")).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            store.last_ballots(missing).await,
            Err(StoreError::NotFound { .. })
        ));
    }
    // A ballot page token is bound to its proposal.
    let token = &pages[0].next_token;
    assert!(matches!(
        store.list_ballots("2", page(4, token)).await,
        Err(StoreError::BadPageToken(_))
    ));
}

async fn no_ballot_on_a_closed_proposal(backend: Backend) {
    let (_dir, store) = seeded_store(backend).await;
    create(&*store, end_nmi()).await;
    store
        .cast_ballot("1", &ballot("USA", Choice::Support, ""))
        .await
        .unwrap();
    store
        .close_proposal(
            "1",
            &closing(
                ProposalState::Rejected,
                Some(decision(Outcome::Rejected)),
                vec![],
            ),
        )
        .await
        .unwrap();
    let audit_before = store.audit_log(0, 1_000).await.unwrap();

    let error = store
        .cast_ballot("1", &ballot("FRA", Choice::Object, ""))
        .await
        .unwrap_err();
    match &error {
        StoreError::ProposalClosed { id, state } => {
            assert_eq!((id.as_str(), *state), ("1", "rejected"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(error.to_string(), "proposal 1 is rejected, not open");
    assert_eq!(
        store.list_ballots("1", page(10, "")).await.unwrap().total,
        1,
        "nothing written"
    );
    assert_eq!(
        store.audit_log(0, 1_000).await.unwrap(),
        audit_before,
        "nothing audited"
    );

    // Every closed state refuses ballots, and names itself.
    for (state, words) in [
        (ProposalState::Adopted, "adopted"),
        (ProposalState::Expired, "expired"),
        (ProposalState::Withdrawn, "withdrawn"),
    ] {
        let p = create(&*store, resize_kfor()).await;
        let id = p.name.trim_start_matches("proposals/").to_owned();
        store
            .close_proposal(&id, &closing(state, None, vec![]))
            .await
            .unwrap();
        assert!(matches!(
            store.cast_ballot(&id, &ballot("USA", Choice::Support, "")).await,
            Err(StoreError::ProposalClosed { state, .. }) if state == words
        ));
    }
}

async fn closing_applies_effects_in_one_transaction(backend: Backend) {
    let (_dir, store) = seeded_store(backend).await;
    let p = create(&*store, resize_kfor()).await;
    store
        .cast_ballot("1", &ballot("USA", Choice::Support, ""))
        .await
        .unwrap();

    let mut kfor = store.get_mission("KFOR").await.unwrap();
    kfor.personnel_ceiling = 3_000;
    let mut ukr = store.get_partner("UKR").await.unwrap();
    ukr.set_summit_participation(SummitParticipation::Restricted);
    let nmi2 = Mission {
        name: "missions/NMI-2".into(),
        id: "NMI-2".into(),
        display_name: "NATO Mission Iraq II".into(),
        personnel_ceiling: 300,
        status: MissionStatus::Active as i32,
        area: MissionArea::OutOfArea as i32,
        ..Default::default()
    };
    let audit_before = store.audit_log(0, 1_000).await.unwrap();

    // A failing effect (an unknown mission, then an existing id) rolls everything back.
    let ghost = Mission {
        id: "GHOST".into(),
        name: "missions/GHOST".into(),
        ..Default::default()
    };
    let failing = [
        (Effect::UpdateMission(ghost), "not found"),
        (
            Effect::CreateMission(store.get_mission("NMI").await.unwrap()),
            "already exists",
        ),
    ];
    for (bad, words) in failing {
        let effects = vec![
            Effect::UpdateMission(kfor.clone()),
            Effect::UpdatePartner(ukr.clone()),
            bad,
        ];
        let error = store
            .close_proposal(
                "1",
                &closing(
                    ProposalState::Adopted,
                    Some(decision(Outcome::Adopted)),
                    effects,
                ),
            )
            .await
            .unwrap_err();
        assert!(error.to_string().contains(words), "{error}");
        assert_eq!(store.get_proposal("1").await.unwrap(), p, "still open");
        assert_eq!(
            store.get_mission("KFOR").await.unwrap().personnel_ceiling,
            4_500
        );
        assert_eq!(
            store
                .get_partner("UKR")
                .await
                .unwrap()
                .summit_participation(),
            SummitParticipation::Full
        );
        assert_eq!(store.audit_log(0, 1_000).await.unwrap(), audit_before);
    }

    let effects = vec![
        Effect::UpdateMission(kfor.clone()),
        Effect::UpdatePartner(ukr.clone()),
        Effect::CreateMission(nmi2.clone()),
    ];
    let adopted = decision(Outcome::Adopted);
    let closed = store
        .close_proposal(
            "proposals/1",
            &closing(ProposalState::Adopted, Some(adopted.clone()), effects),
        )
        .await
        .unwrap();
    assert_eq!(closed.state(), ProposalState::Adopted);
    assert_eq!(closed.close_time, Some(ts(9_000)));
    assert_eq!(closed.decision, Some(adopted.clone()));
    assert_eq!(closed.title, p.title);
    assert_eq!(store.get_proposal("1").await.unwrap(), closed);
    assert_eq!(store.get_mission("KFOR").await.unwrap(), kfor);
    assert_eq!(store.get_partner("UKR").await.unwrap(), ukr);
    assert_eq!(store.get_mission("NMI-2").await.unwrap(), nmi2);
    assert!(store.open_proposals().await.unwrap().is_empty());

    // Closing again changes nothing.
    let mut kfor_again = kfor.clone();
    kfor_again.personnel_ceiling = 1;
    let error = store
        .close_proposal(
            "1",
            &closing(
                ProposalState::Rejected,
                None,
                vec![Effect::UpdateMission(kfor_again)],
            ),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::ProposalClosed {
                state: "adopted",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(store.get_mission("KFOR").await.unwrap(), kfor);
    assert_eq!(store.get_proposal("1").await.unwrap(), closed);

    // Not a closing state; unknown proposal.
    create(&*store, end_nmi()).await;
    assert!(
        store
            .close_proposal("2", &closing(ProposalState::Open, None, vec![]))
            .await
            .is_err()
    );
    assert_eq!(
        store.get_proposal("2").await.unwrap().state(),
        ProposalState::Open
    );
    assert!(matches!(
        store
            .close_proposal("77", &closing(ProposalState::Rejected, None, vec![]))
            .await,
        Err(StoreError::NotFound {
            kind: "proposal",
            ..
        })
    ));

    // The audit log: the decision, then one entry per effect.
    let audit = store
        .audit_log(audit_before.last().unwrap().sequence, 100)
        .await
        .unwrap();
    let lines: Vec<_> = audit
        .iter()
        .map(|e| (e.kind.as_str(), e.subject.as_str()))
        .collect();
    assert_eq!(
        lines[..4],
        [
            ("decision", "proposals/1"),
            ("effect", "missions/KFOR"),
            ("effect", "partners/UKR"),
            ("effect", "missions/NMI-2"),
        ]
    );
    assert!(
        audit[0].detail.contains("\"outcome\":\"OUTCOME_ADOPTED\""),
        "{}",
        audit[0].detail
    );
    assert!(
        audit[0].detail.contains("\"policy\":\"unanimity\""),
        "{}",
        audit[0].detail
    );
}

async fn settings_persist(backend: Backend) {
    let (_dir, store) = new_store(backend).await;
    assert_eq!(store.get_setting("default_policy").await.unwrap(), None);
    store
        .set_setting("default_policy", "unanimity")
        .await
        .unwrap();
    assert_eq!(
        store
            .get_setting("default_policy")
            .await
            .unwrap()
            .as_deref(),
        Some("unanimity")
    );
    store
        .set_setting("default_policy", "weighted")
        .await
        .unwrap();
    store.set_setting("other", "").await.unwrap();
    assert_eq!(
        store
            .get_setting("default_policy")
            .await
            .unwrap()
            .as_deref(),
        Some("weighted")
    );
    assert_eq!(
        store.get_setting("other").await.unwrap().as_deref(),
        Some("")
    );
    let audit = store.audit_log(0, 10).await.unwrap();
    assert_eq!(all_audit(&audit, "setting").len(), 3);
    assert_eq!(audit[1].subject, "settings/default_policy");
    assert_eq!(
        audit[1].detail,
        r#"{"key":"default_policy","value":"weighted"}"#
    );
}

async fn audit_log_is_ordered_and_pages(backend: Backend) {
    let (_dir, store) = seeded_store(backend).await;
    create(&*store, end_nmi()).await;
    store
        .cast_ballot("1", &ballot("USA", Choice::Support, "say \"yes\""))
        .await
        .unwrap();
    store
        .cast_ballot("1", &ballot("FRA", Choice::Object, ""))
        .await
        .unwrap();
    store
        .close_proposal(
            "1",
            &closing(
                ProposalState::Rejected,
                Some(decision(Outcome::Rejected)),
                vec![],
            ),
        )
        .await
        .unwrap();

    let audit = store.audit_log(0, 100).await.unwrap();
    let kinds: Vec<_> = audit.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["seed", "proposal_created", "ballot", "ballot", "decision"]
    );
    assert!(audit.windows(2).all(|w| w[0].sequence < w[1].sequence));
    assert!(
        audit
            .windows(2)
            .all(|w| (w[0].time.seconds, w[0].time.nanos) <= (w[1].time.seconds, w[1].time.nanos))
    );
    assert!(
        audit.iter().all(|e| e.time.seconds > 1_700_000_000),
        "stamped with the current time"
    );
    assert_eq!(audit[2].subject, "proposals/1");
    assert!(
        audit[2].detail.contains(r#""member":"members/USA""#),
        "{}",
        audit[2].detail
    );
    assert!(
        audit[2].detail.contains(r#""reason":"say \"yes\"""#),
        "{}",
        audit[2].detail
    );
    assert!(
        audit[2]
            .detail
            .contains(r#""ballot":"proposals/1/ballots/1""#),
        "{}",
        audit[2].detail
    );
    assert!(
        audit[4].detail.contains(r#""state":"rejected""#),
        "{}",
        audit[4].detail
    );

    let after = store.audit_log(audit[1].sequence, 2).await.unwrap();
    assert_eq!(after, audit[2..4]);
    assert!(
        store
            .audit_log(audit[4].sequence, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn concurrent_ballots_are_all_kept(backend: Backend) {
    let (_dir, store) = seeded_store(backend).await;
    create(&*store, end_nmi()).await;
    let members = ["USA", "FRA", "DEU", "GBR", "ITA", "POL", "TUR", "CAN"];
    let mut tasks = Vec::new();
    for member in members {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..20 {
                store
                    .cast_ballot(
                        "1",
                        &ballot(member, Choice::Support, &format!("{member} {n}")),
                    )
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let ballots = store.list_ballots("1", page(1_000, "")).await.unwrap();
    assert_eq!(ballots.total, 160);
    let names: HashSet<_> = ballots.items.iter().map(|b| b.name.clone()).collect();
    assert_eq!(names.len(), 160);
    let last = store.last_ballots("1").await.unwrap();
    assert_eq!(last.len(), 8);
    assert!(last.iter().all(|b| b.reason.ends_with(" 19")), "{last:?}");
    assert_eq!(
        all_audit(&store.audit_log(0, 1_000).await.unwrap(), "ballot").len(),
        160
    );
}

async fn closing_races_with_ballots(backend: Backend) {
    let (_dir, store) = seeded_store(backend).await;
    create(&*store, end_nmi()).await;
    let caster = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut accepted = 0;
            for n in 0..200 {
                match store
                    .cast_ballot("1", &ballot("USA", Choice::Support, &n.to_string()))
                    .await
                {
                    Ok(_) => accepted += 1,
                    Err(StoreError::ProposalClosed { .. }) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            accepted
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    store
        .close_proposal("1", &closing(ProposalState::Expired, None, vec![]))
        .await
        .unwrap();
    let accepted = caster.await.unwrap();
    assert_eq!(
        store
            .list_ballots("1", page(1_000, ""))
            .await
            .unwrap()
            .total,
        accepted
    );
}

async fn a_close_based_on_stale_ballots_is_refused_and_changes_nothing(backend: Backend) {
    let (_dir, store) = seeded_store(backend).await;
    create(&*store, end_nmi()).await;
    let first = store
        .cast_ballot("1", &ballot("USA", Choice::Support, "a"))
        .await
        .unwrap();
    let seen: i64 = first.name.rsplit('/').next().unwrap().parse().unwrap();
    store
        .cast_ballot("1", &ballot("DEU", Choice::Object, "b"))
        .await
        .unwrap();

    let mut stale = closing(ProposalState::Adopted, None, vec![]);
    stale.last_ballot = Some(seen);
    match store.close_proposal("1", &stale).await {
        Err(StoreError::Stale {
            seen: s, latest, ..
        }) => {
            assert_eq!(s, seen);
            assert_eq!(latest, seen + 1);
        }
        other => panic!("expected Stale, got {other:?}"),
    }
    assert_eq!(
        store.get_proposal("1").await.unwrap().state,
        ProposalState::Open as i32
    );

    stale.last_ballot = Some(seen + 1);
    let closed = store.close_proposal("1", &stale).await.unwrap();
    assert_eq!(closed.state, ProposalState::Adopted as i32);
}

async fn everything_survives_reopening(backend: Backend) {
    let dir = TempDatabase::new(backend);
    let url = dir.url();
    let store = accord_store::open(&url).await.unwrap();
    store.seed_if_empty().await.unwrap();
    let p1 = create(&*store, resize_kfor()).await;
    let b1 = store
        .cast_ballot("1", &ballot("USA", Choice::Support, "keep"))
        .await
        .unwrap();
    let mut kfor = store.get_mission("KFOR").await.unwrap();
    kfor.personnel_ceiling = 3_000;
    let closed = store
        .close_proposal(
            "1",
            &closing(
                ProposalState::Adopted,
                Some(decision(Outcome::Adopted)),
                vec![Effect::UpdateMission(kfor.clone())],
            ),
        )
        .await
        .unwrap();
    store
        .set_setting("default_policy", "weighted")
        .await
        .unwrap();
    let audit = store.audit_log(0, 1_000).await.unwrap();
    let token = store
        .list_members(None, page(10, ""))
        .await
        .unwrap()
        .next_token;
    store.close().await;
    store.close().await; // twice is harmless
    drop(store);

    let store = accord_store::open(&url).await.unwrap();
    assert!(!store.seed_if_empty().await.unwrap());
    assert_eq!(store.all_members().await.unwrap().len(), 32);
    assert_eq!(store.get_proposal("1").await.unwrap(), closed);
    assert_eq!(closed.name, p1.name);
    assert_eq!(
        store.list_ballots("1", page(10, "")).await.unwrap().items,
        vec![b1]
    );
    assert_eq!(store.get_mission("KFOR").await.unwrap(), kfor);
    assert_eq!(
        store
            .get_setting("default_policy")
            .await
            .unwrap()
            .as_deref(),
        Some("weighted")
    );
    assert_eq!(store.audit_log(0, 1_000).await.unwrap(), audit);
    assert_eq!(
        store
            .list_members(None, page(10, &token))
            .await
            .unwrap()
            .items
            .len(),
        10,
        "tokens survive a restart"
    );

    // Without close: just dropped. Ids go on from where they were.
    let p2 = create(&*store, end_nmi()).await;
    assert_eq!(p2.name, "proposals/2");
    store
        .cast_ballot("2", &ballot("FRA", Choice::Object, ""))
        .await
        .unwrap();
    drop(store);
    let store = accord_store::open(&url).await.unwrap();
    assert_eq!(store.get_proposal("2").await.unwrap(), p2);
    assert_eq!(
        store.last_ballots("2").await.unwrap()[0].name,
        "proposals/2/ballots/2"
    );
    store.close().await;
}

#[tokio::test]
async fn in_memory_store_works() {
    let store = SqliteStore::open("sqlite::memory:").await.unwrap();
    assert!(store.seed_if_empty().await.unwrap());
    create(&store, end_nmi()).await;
    store
        .cast_ballot("1", &ballot("USA", Choice::Support, ""))
        .await
        .unwrap();
    assert_eq!(store.last_ballots("1").await.unwrap().len(), 1);
    assert_eq!(store.all_members().await.unwrap().len(), 32);
}

async fn bad_urls_fail_cleanly(backend: Backend) {
    let error = SqliteStore::open("postgres://nowhere").await.unwrap_err();
    assert!(matches!(error, StoreError::Database(_)), "{error:?}");
    let bad = match backend {
        Backend::Sqlite => "sqlite:///nonexistent-dir/sub/accord.db".to_owned(),
        // A database that does not exist, on the tests' server.
        Backend::Postgres => TempDatabase::new(backend).url() + "_missing",
    };
    let error = accord_store::open(&bad).await.err().expect("an error");
    assert!(matches!(error, StoreError::Database(_)), "{error:?}");
}

// ----- crash durability -----

/// Environment variable that turns `crash_child_writer` on: the database URL to write to.
const CHILD_DB_ENV: &str = "ACCORD_STORE_CRASH_CHILD_DB";
/// And the round number, part of each ballot's reason.
const CHILD_ROUND_ENV: &str = "ACCORD_STORE_CRASH_CHILD_ROUND";

/// The writer that `crash_durability` runs in a child process (this test binary, run again with
/// `--exact crash_child_writer --ignored`): opens the store, casts ballots on proposal 1 as fast
/// as it can and prints "acked N" after each one that returned OK, until it is killed. Ignored,
/// and a no-op without its environment variable, so that a normal run skips it.
#[tokio::test]
#[ignore = "the child process of crash_durability"]
async fn crash_child_writer() {
    let Ok(url) = std::env::var(CHILD_DB_ENV) else {
        return;
    };
    let round = std::env::var(CHILD_ROUND_ENV).unwrap();
    let store = accord_store::open(&url).await.unwrap();
    let members = ["USA", "FRA", "DEU", "GBR", "POL"];
    for n in 0..1_000_000 {
        let b = ballot(
            members[n % members.len()],
            Choice::Support,
            &format!("{round}-{n}"),
        );
        store.cast_ballot("1", &b).await.unwrap();
        // Rust's stdout is line buffered: the line is written (to the pipe) before the next cast.
        println!("acked {round}-{n}");
    }
    panic!("the writer was not killed");
}

/// Every ballot the writer acknowledged is in the database after a SIGKILL, over three rounds
/// of kill and recovery.
async fn crash_durability(backend: Backend) {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};

    let dir = TempDatabase::new(backend);
    let url = dir.url();
    {
        let store = accord_store::open(&url).await.unwrap();
        create(&*store, end_nmi()).await;
        store.close().await;
    }

    let exe = std::env::current_exe().unwrap();
    let mut acked: Vec<String> = Vec::new();
    let rounds = [40, 150, 75];
    for (round, kill_after) in rounds.into_iter().enumerate() {
        let mut child = Command::new(&exe)
            .args([
                "crash_child_writer",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DB_ENV, &url)
            .env(CHILD_ROUND_ENV, round.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut acked_this_round = 0;
        for line in stdout.lines() {
            let line = line.unwrap();
            // libtest prints "test crash_child_writer ... " without a newline before the test
            // runs, so the first ack shares its line: find the marker anywhere in the line.
            if let Some(reason) = line.find("acked ").map(|at| &line[at + "acked ".len()..]) {
                acked.push(reason.to_owned());
                acked_this_round += 1;
                if acked_this_round == kill_after {
                    child.kill().unwrap(); // SIGKILL, while the writer goes on writing
                }
            }
        }
        let status = child.wait().unwrap();
        assert_eq!(
            status.signal(),
            Some(9),
            "round {round}: the writer died of SIGKILL ({status})"
        );
        assert!(
            acked_this_round >= kill_after,
            "round {round}: {acked_this_round} acks"
        );

        // Reopen (recovering the WAL) and check.
        let store = accord_store::open(&url).await.unwrap();
        let ballots = store
            .list_ballots("1", page(1_000_000, ""))
            .await
            .unwrap()
            .items;
        let stored: HashSet<&str> = ballots.iter().map(|b| b.reason.as_str()).collect();
        let missing: Vec<_> = acked
            .iter()
            .filter(|r| !stored.contains(r.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "round {round}: acknowledged ballots lost: {missing:?}"
        );
        eprintln!(
            "round {round}: {acked_this_round} acknowledged, {} stored in all",
            ballots.len()
        );
        // Ballots may be stored without an acknowledgement (committed, then killed before the
        // "acked" line reached the pipe), but only at the end: nothing is committed out of order,
        // and no acknowledged ballot comes after an unacknowledged one.
        // Earlier rounds were checked already (an unacknowledged ballot of round 0 stays
        // before round 1's): look at this round's ballots.
        let acked_set: HashSet<&str> = acked.iter().map(String::as_str).collect();
        let prefix = format!("{round}-");
        let this_round: Vec<_> = ballots
            .iter()
            .filter(|b| b.reason.starts_with(&prefix))
            .collect();
        let first_unacknowledged = this_round
            .iter()
            .position(|b| !acked_set.contains(b.reason.as_str()));
        if let Some(first) = first_unacknowledged {
            let later_acknowledged: Vec<&str> = this_round[first..]
                .iter()
                .map(|b| b.reason.as_str())
                .filter(|r| acked_set.contains(r))
                .collect();
            assert!(
                later_acknowledged.is_empty(),
                "round {round}: acknowledged ballots {later_acknowledged:?} were stored after the unacknowledged {}",
                this_round[first].reason
            );
            eprintln!(
                "round {round}: {} ballot(s) stored without an acknowledgement, all after the acknowledged ones",
                this_round.len() - first
            );
        }
        // At most one ballot per round was written but not yet acknowledged when the kill came.
        assert!(
            ballots.len() <= acked.len() + round + 1,
            "{} stored, {} acked",
            ballots.len(),
            acked.len()
        );
        // Each ballot came with its audit entry.
        let audited = all_audit(&store.audit_log(0, 1_000_000).await.unwrap(), "ballot").len();
        assert_eq!(audited, ballots.len());
        // The sequence is in cast order.
        let sequence: Vec<_> = ballots.iter().map(|b| b.name.clone()).collect();
        assert_eq!(
            sequence,
            (1..=ballots.len())
                .map(|n| format!("proposals/1/ballots/{n}"))
                .collect::<Vec<_>>()
        );
        store.close().await;
    }
}

// ----- several stores on one database (replicas) -----

/// A proposal whose deadline has passed is claimed by one store at a time (a lease); a store that
/// shares its database with none (SQLite) has nothing to claim against and returns it every time.
async fn due_proposals_are_claimed_once(backend: Backend) {
    let (db, store) = seeded_store(backend).await;
    let other = accord_store::open(&db.url()).await.unwrap();
    create(&*store, end_nmi()).await; // deadline 87_400 s after the epoch: long due
    let (far, kind, target) = motion(1_000_000_000_000); // deadline far ahead: not due
    create(&*store, (far, kind, &target)).await;
    let now_ms = 100_000_000;
    let first = store.claim_due_proposals(now_ms, 60_000, 10).await.unwrap();
    assert_eq!(
        first.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["proposals/1"]
    );
    let second = other.claim_due_proposals(now_ms, 60_000, 10).await.unwrap();
    if store.shared() {
        assert!(second.is_empty(), "claimed by the first store: {second:?}");
        let after_lease = other
            .claim_due_proposals(now_ms + 60_000, 60_000, 10)
            .await
            .unwrap();
        assert_eq!(after_lease.len(), 1, "the lease ran out");
    } else {
        assert_eq!(second.len(), 1);
    }
    store
        .close_proposal("1", &closing(ProposalState::Expired, None, vec![]))
        .await
        .unwrap();
    assert!(
        other
            .claim_due_proposals(i64::MAX / 2, 60_000, 10)
            .await
            .unwrap()
            .iter()
            .all(|p| p.name != "proposals/1"),
        "a closed proposal is never due"
    );
}

/// Closes of one proposal racing from two stores on one database (two replicas): exactly one
/// succeeds, and the effects and the decision are written once.
async fn closes_racing_from_two_stores_settle_once(backend: Backend) {
    let (db, first) = seeded_store(backend).await;
    let second = accord_store::open(&db.url()).await.unwrap();
    create(&*first, resize_kfor()).await;
    let ballot = first
        .cast_ballot("1", &ballot("USA", Choice::Support, "yes"))
        .await
        .unwrap();
    let seen: i64 = ballot.name.rsplit('/').next().unwrap().parse().unwrap();
    let mut kfor = first.get_mission("KFOR").await.unwrap();
    kfor.personnel_ceiling = 3_000;
    let mut adopt = closing(
        ProposalState::Adopted,
        Some(decision(Outcome::Adopted)),
        vec![Effect::UpdateMission(kfor.clone())],
    );
    adopt.last_ballot = Some(seen);
    let mut tasks = Vec::new();
    for n in 0..8 {
        let store = if n % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        let adopt = adopt.clone();
        tasks.push(tokio::spawn(async move {
            store.close_proposal("1", &adopt).await
        }));
    }
    let mut closed = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(p) => {
                closed += 1;
                assert_eq!(p.state, ProposalState::Adopted as i32);
            }
            Err(StoreError::ProposalClosed { .. }) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(closed, 1, "exactly one close succeeds");
    let audit = second.audit_log(0, 10_000).await.unwrap();
    assert_eq!(all_audit(&audit, "decision").len(), 1);
    assert_eq!(all_audit(&audit, "effect").len(), 1);
    assert_eq!(second.get_mission("KFOR").await.unwrap(), kfor);
}

/// What one store writes, the others hear of (PostgreSQL: NOTIFY); a store no other process
/// writes (SQLite) has no changes to report. Policy changes are kept in order for every replica.
async fn policy_changes_are_kept_in_order(backend: Backend) {
    use accord_store::{Change, PolicyChange};
    let (db, first) = seeded_store(backend).await;
    let second = accord_store::open(&db.url()).await.unwrap();
    let change = |action: &str, id: &str| PolicyChange {
        sequence: 0,
        action: action.into(),
        policy_id: id.into(),
        file_name: format!("lib{id}.so"),
        sha256: "ab".repeat(32),
    };
    if !first.shared() {
        assert!(first.changes().is_none());
        assert_eq!(
            first
                .record_policy_change(&change("load", "x"))
                .await
                .unwrap(),
            0
        );
        assert!(first.policy_changes(0).await.unwrap().is_empty());
        return;
    }
    let mut heard = second.changes().expect("a shared store reports changes");
    let mut own = first.changes().expect("a shared store reports changes");
    let a = first
        .record_policy_change(&change("load", "x"))
        .await
        .unwrap();
    let b = first
        .record_policy_change(&change("default", "x"))
        .await
        .unwrap();
    assert!(b > a);
    let changes = second.policy_changes(0).await.unwrap();
    assert_eq!(
        changes
            .iter()
            .map(|c| (c.sequence, c.action.as_str()))
            .collect::<Vec<_>>(),
        [(a, "load"), (b, "default")]
    );
    assert_eq!(second.policy_changes(a).await.unwrap().len(), 1);

    create(&*first, end_nmi()).await;
    let cast = first
        .cast_ballot("1", &ballot("FRA", Choice::Object, ""))
        .await
        .unwrap();
    let sequence: i64 = cast.name.rsplit('/').next().unwrap().parse().unwrap();
    first
        .close_proposal("1", &closing(ProposalState::Expired, None, vec![]))
        .await
        .unwrap();
    let mut member = first.get_member("USA").await.unwrap();
    member.name = "members/USA".into();
    first.update_member(&member).await.unwrap();
    let partner = first.get_partner("UKR").await.unwrap();
    first.update_partner(&partner).await.unwrap();
    let mut kfor = first.get_mission("KFOR").await.unwrap();
    first.update_mission(&kfor).await.unwrap();
    create(&*first, resize_kfor()).await;
    kfor.personnel_ceiling = 3_000;
    let effects = vec![Effect::UpdateMission(kfor)];
    first
        .close_proposal(
            "2",
            &closing(
                ProposalState::Adopted,
                Some(decision(Outcome::Adopted)),
                effects,
            ),
        )
        .await
        .unwrap();
    let expected = [
        Change::Policy,
        Change::Policy,
        Change::ProposalCreated { proposal_id: 1 },
        Change::Ballot {
            proposal_id: 1,
            sequence,
        },
        Change::Closed { proposal_id: 1 },
        Change::Members,
        Change::Partners,
        Change::Missions,
        Change::ProposalCreated { proposal_id: 2 },
        Change::Missions,
        Change::Closed { proposal_id: 2 },
    ];
    for want in expected {
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), heard.recv())
            .await
            .expect("a change within 10 s")
            .unwrap();
        assert_eq!(got, want);
    }
    // A store does not hear of its own writes.
    assert!(own.try_recv().is_err());
}

// ----- PostgreSQL only -----

/// Every ballot acknowledged before PostgreSQL stopped at once (`pg_ctl stop -m immediate`, as
/// a crash: no checkpoint) is there after it recovers; the ballots cast meanwhile fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_ballots_survive_an_immediate_stop_of_postgres() {
    use std::sync::Mutex;
    let pg = Arc::new(TempPostgres::start());
    let url = pg.database();
    let store = accord_store::open(&url).await.unwrap();
    store.seed_if_empty().await.unwrap();
    create(&*store, end_nmi()).await;
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut casters = Vec::new();
    for member in ["USA", "FRA", "DEU", "GBR", "ITA", "POL", "TUR", "CAN"] {
        let (store, acked) = (store.clone(), acked.clone());
        casters.push(tokio::spawn(async move {
            for n in 0.. {
                let reason = format!("{member}-{n}");
                match store
                    .cast_ballot("1", &ballot(member, Choice::Support, &reason))
                    .await
                {
                    Ok(_) => acked.lock().unwrap().push(reason),
                    Err(_) => return,
                }
            }
        }));
    }
    while acked.lock().unwrap().len() < 300 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let stopper = pg.clone();
    tokio::task::spawn_blocking(move || stopper.stop_immediate())
        .await
        .unwrap();
    for caster in casters {
        tokio::time::timeout(std::time::Duration::from_secs(60), caster)
            .await
            .expect("casting fails once PostgreSQL is gone")
            .unwrap();
    }
    drop(store);
    let starter = pg.clone();
    tokio::task::spawn_blocking(move || starter.start_again())
        .await
        .unwrap();
    let store = accord_store::open(&url).await.unwrap();
    let ballots = store
        .list_ballots("1", page(1_000_000, ""))
        .await
        .unwrap()
        .items;
    let stored: HashSet<&str> = ballots.iter().map(|b| b.reason.as_str()).collect();
    let acked = acked.lock().unwrap().clone();
    let missing: Vec<_> = acked
        .iter()
        .filter(|r| !stored.contains(r.as_str()))
        .collect();
    assert!(missing.is_empty(), "acknowledged ballots lost: {missing:?}");
    assert!(ballots.len() >= acked.len());
    eprintln!(
        "{} acknowledged before the stop, {} stored",
        acked.len(),
        ballots.len()
    );
    let audited = all_audit(&store.audit_log(0, 1_000_000).await.unwrap(), "ballot").len();
    assert_eq!(audited, ballots.len(), "each ballot has its audit entry");
    let names: Vec<_> = ballots.iter().map(|b| b.name.clone()).collect();
    assert_eq!(
        names,
        (1..=ballots.len())
            .map(|n| format!("proposals/1/ballots/{n}"))
            .collect::<Vec<_>>(),
        "gapless, in commit order"
    );
    store.close().await;
}

/// The one-shot copy of a SQLite database into PostgreSQL keeps everything: records, proposals,
/// ballots, settings, page tokens and the audit log (same entries, same sequences, same order);
/// ids go on after the copied ones; a second copy into the same database is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_copy_from_sqlite_keeps_the_audit_log_intact() {
    let sqlite = accord_test_support::database::TempSqlite::new();
    let source = SqliteStore::open(&sqlite.url()).await.unwrap();
    source.seed_if_empty().await.unwrap();
    create(&source, resize_kfor()).await;
    create(&source, end_nmi()).await;
    for (member, choice) in [("USA", Choice::Support), ("FRA", Choice::Object)] {
        source
            .cast_ballot("1", &ballot(member, choice, "copy me"))
            .await
            .unwrap();
    }
    let mut kfor = source.get_mission("KFOR").await.unwrap();
    kfor.personnel_ceiling = 3_000;
    source
        .close_proposal(
            "1",
            &closing(
                ProposalState::Adopted,
                Some(decision(Outcome::Adopted)),
                vec![Effect::UpdateMission(kfor.clone())],
            ),
        )
        .await
        .unwrap();
    source
        .set_setting("default_policy", "weighted")
        .await
        .unwrap();
    let audit = source.audit_log(0, 100_000).await.unwrap();
    let members = source.all_members().await.unwrap();
    let token = source
        .list_members(None, page(10, ""))
        .await
        .unwrap()
        .next_token;
    let proposals = source
        .list_proposals(&ProposalFilter::default(), page(100, ""))
        .await
        .unwrap()
        .items;
    let ballots = source.list_ballots("1", page(100, "")).await.unwrap().items;
    source.close().await;

    let target = TempPostgres::shared().database();
    let report = accord_store::migrate::copy_sqlite_to_postgres(&sqlite.url(), &target)
        .await
        .unwrap();
    assert!(report.to_string().contains("audit_log"), "{report}");
    let copy = accord_store::open(&target).await.unwrap();
    assert!(copy.shared());
    assert_eq!(copy.audit_log(0, 100_000).await.unwrap(), audit);
    assert_eq!(copy.all_members().await.unwrap(), members);
    assert_eq!(
        copy.list_proposals(&ProposalFilter::default(), page(100, ""))
            .await
            .unwrap()
            .items,
        proposals
    );
    assert_eq!(
        copy.list_ballots("1", page(100, "")).await.unwrap().items,
        ballots
    );
    assert_eq!(copy.get_mission("KFOR").await.unwrap(), kfor);
    assert_eq!(
        copy.get_setting("default_policy").await.unwrap().as_deref(),
        Some("weighted")
    );
    assert_eq!(
        copy.list_members(None, page(10, &token))
            .await
            .unwrap()
            .items
            .len(),
        10,
        "page tokens of the old server keep working"
    );
    // Ids and sequences go on after the copied ones.
    assert_eq!(create(&*copy, ukr_summit()).await.name, "proposals/3");
    let next = copy
        .cast_ballot("2", &ballot("DEU", Choice::Support, ""))
        .await
        .unwrap();
    assert_eq!(next.name, "proposals/2/ballots/3");
    let after = copy
        .audit_log(audit.last().unwrap().sequence, 10)
        .await
        .unwrap();
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(after[0].sequence > audit.last().unwrap().sequence);
    copy.close().await;
    let again = accord_store::migrate::copy_sqlite_to_postgres(&sqlite.url(), &target).await;
    assert!(
        matches!(&again, Err(StoreError::Database(m)) if m.contains("empty database")),
        "{again:?}"
    );
}

// ----- every test above, on both backends -----

/// Makes, for each `async fn NAME(backend: Backend)`, the tests `sqlite::NAME` and
/// `postgres::NAME`.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Postgres).await
                }
            )*
        }
    };
}

both_backends!(
    seeding_loads_the_dataset_once,
    seeding_skips_a_store_that_has_members,
    member_pages_and_filters,
    memory_pages_are_the_stores,
    page_tokens_are_checked,
    partner_and_mission_pages_and_filters,
    members_partners_missions_crud,
    proposals_get_increasing_ids_and_list_newest_first,
    proposal_pages,
    ballots_are_all_kept_and_the_last_counts,
    no_ballot_on_a_closed_proposal,
    closing_applies_effects_in_one_transaction,
    settings_persist,
    audit_log_is_ordered_and_pages,
    concurrent_ballots_are_all_kept,
    closing_races_with_ballots,
    a_close_based_on_stale_ballots_is_refused_and_changes_nothing,
    everything_survives_reopening,
    bad_urls_fail_cleanly,
    crash_durability,
    due_proposals_are_claimed_once,
    closes_racing_from_two_stores_settle_once,
    policy_changes_are_kept_in_order,
);
