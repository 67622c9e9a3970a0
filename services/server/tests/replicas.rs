//! Several replicas, one alliance: three real `accord-server` processes on one PostgreSQL
//! database (a fresh database of the tests' own PostgreSQL server, see
//! `accord_test_support::database::TempPostgres`).
//!
//! - ballots spread over the replicas are seen at once through every other, and a watch on a
//!   third replica sees every one of them and the decision;
//! - ballots and closes racing on one proposal through all three settle it once, with one set of
//!   effects (checked in the audit log);
//! - a deadline passing while all three run closes the proposal once, with one set of effects;
//! - `kill -9` of one replica under load loses no acknowledged ballot, and the others keep serving;
//! - a policy replaced through one replica is used by the others within the documented bound
//!   (`--policy-poll-ms`), and a replica that cannot load the wanted library reports itself not
//!   ready until it can.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accord_proto::v1::*;
use accord_test_support::database::TempPostgres;
use accord_test_support::grpc::*;
use accord_test_support::{Options, UNANIMITY, sha256sum};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// The policy poll interval the replicas run with, in milliseconds: the documented bound on
/// how long a policy change made through one replica takes to reach the others (plus loading).
const POLL_MS: u64 = 1000;

/// `n` replicas on one new PostgreSQL database, each with its own plugin directory.
async fn replicas(n: usize) -> (String, Vec<TestServer>) {
    let url = TempPostgres::shared().database();
    let mut servers = Vec::new();
    for _ in 0..n {
        let mut options = Options::default().on_database(&url);
        options.args = vec!["--policy-poll-ms".into(), POLL_MS.to_string()];
        servers.push(TestServer::start(options).await);
    }
    (url, servers)
}

/// The audit entries of `kind` about `subject`, read from the database itself.
async fn audited(url: &str, kind: &str, subject: &str) -> usize {
    let store = accord_store::open(url).await.unwrap();
    let entries = store.audit_log(0, 1_000_000).await.unwrap();
    store.close().await;
    entries
        .iter()
        .filter(|e| e.kind == kind && e.subject == subject)
        .count()
}

async fn health(server: &TestServer) -> ServingStatus {
    let answer = HealthClient::new(server.channel())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health check")
        .into_inner();
    ServingStatus::try_from(answer.status).unwrap()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ballots_spread_over_replicas_are_seen_everywhere_and_by_a_watch_on_another() {
    let (url, servers) = replicas(3).await;
    for server in &servers {
        assert_eq!(health(server).await, ServingStatus::Serving);
    }
    let p = create(
        &servers[0],
        proposal("Spread out", motion("replicas"), "unanimity"),
    )
    .await;
    let mut watch = servers[2]
        .proposals()
        .watch_proposal(WatchProposalRequest {
            name: p.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        next_event(&mut watch).await.unwrap().r#type,
        ProposalEventType::Snapshot as i32
    );
    let codes = member_codes(&servers[0]).await;
    assert_eq!(codes.len(), 32);
    let mut cast_names = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        let through = &servers[i % 2];
        let (stored, after) = cast(through, &p.name, ballot(code, Choice::Support)).await;
        cast_names.push(stored.name.clone());
        // Seen at once through another replica.
        let other = &servers[(i + 1) % 3];
        assert!(
            all_ballots(other, &p.name)
                .await
                .iter()
                .any(|b| b.name == stored.name),
            "{} not seen through another replica",
            stored.name
        );
        if i + 1 < codes.len() {
            assert_eq!(after.state, ProposalState::Open as i32);
        } else {
            assert_eq!(after.state, ProposalState::Adopted as i32);
        }
    }
    // The watch on the third replica saw every ballot, in order, then the decision.
    let mut seen = Vec::new();
    loop {
        let event = next_event(&mut watch).await.expect("an event");
        match ProposalEventType::try_from(event.r#type).unwrap() {
            ProposalEventType::BallotCast => seen.push(event.ballot.unwrap().name),
            ProposalEventType::Decided => {
                assert_eq!(event.proposal.unwrap().state, ProposalState::Adopted as i32);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, cast_names);
    assert!(next_event(&mut watch).await.is_none(), "the watch ends");
    for server in &servers {
        assert_eq!(
            get_proposal(server, &p.name).await.state,
            ProposalState::Adopted as i32
        );
    }
    assert_eq!(audited(&url, "decision", &p.name).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ballots_and_closes_racing_through_three_replicas_settle_once() {
    let (url, servers) = replicas(3).await;
    let servers = Arc::new(servers);
    // Objections racing on three replicas under the silence procedure: the first settles it
    // (rejected), once.
    let mut race = proposal("Race to reject", motion("race"), "unanimity");
    race.procedure = Procedure::Silence as i32;
    let rejected = create(&servers[0], race).await;
    let mut tasks = Vec::new();
    for (i, code) in ["FRA", "DEU", "TUR", "HUN", "ITA", "ESP"]
        .into_iter()
        .enumerate()
    {
        let (servers, name) = (servers.clone(), rejected.name.clone());
        tasks.push(tokio::spawn(async move {
            servers[i % 3]
                .proposals()
                .cast_ballot(CastBallotRequest {
                    proposal: name,
                    ballot: Some(ballot(code, Choice::Object)),
                })
                .await
                .is_ok()
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        accepted += usize::from(task.await.unwrap());
    }
    assert!(accepted >= 1);
    assert_eq!(audited(&url, "decision", &rejected.name).await, 1);

    // Closes of an adoptable resize racing on three replicas: one close, one effect.
    let kfor = get_mission(&servers[1], "KFOR").await;
    let resize = create(
        &servers[1],
        proposal(
            "Race to resize",
            proposal::Action::ResizeMission(ResizeMission {
                mission: "missions/KFOR".into(),
                personnel_ceiling: kfor.personnel_ceiling + 1,
            }),
            "unanimity",
        ),
    )
    .await;
    let codes = member_codes(&servers[0]).await;
    for (i, code) in codes.iter().enumerate().take(codes.len() - 1) {
        cast(&servers[i % 3], &resize.name, ballot(code, Choice::Support)).await;
    }
    let last = codes.last().unwrap().clone();
    let mut tasks = Vec::new();
    for i in 0..6 {
        let (servers, name, last) = (servers.clone(), resize.name.clone(), last.clone());
        tasks.push(tokio::spawn(async move {
            if i == 0 {
                let _ = servers[0]
                    .proposals()
                    .cast_ballot(CastBallotRequest {
                        proposal: name,
                        ballot: Some(ballot(&last, Choice::Support)),
                    })
                    .await;
            } else {
                let _ = servers[i % 3]
                    .proposals()
                    .close_proposal(CloseProposalRequest { name })
                    .await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let closed = wait_closed(&servers[2], &resize.name, Duration::from_secs(10)).await;
    assert_ne!(closed.state, ProposalState::Open as i32);
    assert_eq!(audited(&url, "decision", &resize.name).await, 1);
    let effects = audited(&url, "effect", "missions/KFOR").await;
    if closed.state == ProposalState::Adopted as i32 {
        assert_eq!(effects, 1, "one set of effects");
        assert_eq!(
            get_mission(&servers[0], "KFOR").await.personnel_ceiling,
            kfor.personnel_ceiling + 1
        );
    } else {
        assert_eq!(effects, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_passing_while_three_run_closes_the_proposal_once() {
    let (url, servers) = replicas(3).await;
    let kfor = get_mission(&servers[0], "KFOR").await;
    let mut silent = proposal(
        "Resize in silence",
        proposal::Action::ResizeMission(ResizeMission {
            mission: "missions/KFOR".into(),
            personnel_ceiling: kfor.personnel_ceiling + 7,
        }),
        "unanimity",
    );
    silent.procedure = Procedure::Silence as i32;
    silent.deadline = Some(from_now(Duration::from_secs(3)));
    let p = create(&servers[1], silent).await;
    let mut watches = Vec::new();
    for server in &servers {
        let mut watch = server
            .proposals()
            .watch_proposal(WatchProposalRequest {
                name: p.name.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        next_event(&mut watch).await.unwrap(); // the snapshot
        watches.push(watch);
    }
    for watch in &mut watches {
        let event = next_event(watch).await.expect("the decision");
        assert_eq!(event.r#type, ProposalEventType::Decided as i32);
        assert_eq!(event.proposal.unwrap().state, ProposalState::Adopted as i32);
    }
    assert_eq!(audited(&url, "decision", &p.name).await, 1);
    assert_eq!(audited(&url, "effect", "missions/KFOR").await, 1);
    for server in &servers {
        assert_eq!(
            get_mission(server, "KFOR").await.personnel_ceiling,
            kfor.personnel_ceiling + 7
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_of_one_replica_under_load_loses_no_acknowledged_ballot() {
    let (_url, mut servers) = replicas(3).await;
    let p = create(
        &servers[0],
        proposal("Under load", motion("kill -9"), "unanimity"),
    )
    .await;
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut tasks = Vec::new();
    for (i, code) in ["USA", "FRA", "DEU", "GBR", "ITA", "POL"]
        .into_iter()
        .enumerate()
    {
        let mut client = servers[i % 3].proposals();
        let (acked, name) = (acked.clone(), p.name.clone());
        tasks.push(tokio::spawn(async move {
            let mut failures = 0;
            for n in 0..120 {
                let mut b = ballot(code, Choice::Support);
                b.reason = format!("{code}-{n}");
                match client
                    .cast_ballot(CastBallotRequest {
                        proposal: name.clone(),
                        ballot: Some(b),
                    })
                    .await
                {
                    Ok(_) => acked.lock().unwrap().push(format!("{code}-{n}")),
                    Err(_) => {
                        failures += 1;
                        if failures > 3 {
                            return;
                        }
                    }
                }
            }
        }));
    }
    while acked.lock().unwrap().len() < 60 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    servers[0].kill9();
    for task in tasks {
        task.await.unwrap();
    }
    // The others keep serving.
    cast(&servers[1], &p.name, ballot("ESP", Choice::Support)).await;
    cast(&servers[2], &p.name, ballot("NLD", Choice::Support)).await;
    let stored: HashSet<String> = all_ballots(&servers[2], &p.name)
        .await
        .into_iter()
        .map(|b| b.reason)
        .collect();
    let acked = acked.lock().unwrap().clone();
    let lost: Vec<_> = acked.iter().filter(|r| !stored.contains(*r)).collect();
    assert!(lost.is_empty(), "acknowledged ballots lost: {lost:?}");
    // The killed replica comes back on the same database and sees everything.
    servers[0].restart().await;
    assert!(all_ballots(&servers[0], &p.name).await.len() >= acked.len() + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_replaced_through_one_replica_reaches_the_others_within_the_bound() {
    let (_url, servers) = replicas(3).await;
    let file = "libaccord_unanimity_v2.so";
    let mut bytes = std::fs::read(servers[0].plugin_dir().join(UNANIMITY)).unwrap();
    bytes.extend_from_slice(b"\naccord replica test build 2\n");
    // Replicas 0 and 1 have the new library; replica 2 has a different file by that name.
    for server in &servers[..2] {
        std::fs::write(server.plugin_dir().join(file), &bytes).unwrap();
    }
    let mut wrong = bytes.clone();
    wrong.extend_from_slice(b"tampered\n");
    std::fs::write(servers[2].plugin_dir().join(file), &wrong).unwrap();
    let sha = sha256sum(&servers[0].plugin_dir().join(file));

    let replaced = servers[0]
        .policies()
        .replace_policy(ReplacePolicyRequest {
            name: "policies/unanimity".into(),
            file_name: file.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let done = Instant::now();
    assert_eq!(
        replaced.policy.unwrap().identity.unwrap().library_sha256,
        sha
    );
    let bound = Duration::from_millis(POLL_MS) + Duration::from_secs(5);
    wait_for("replica 1 runs the new library", bound, || async {
        get_policy(&servers[1], "unanimity")
            .await
            .identity
            .unwrap()
            .library_sha256
            == sha
    })
    .await;
    eprintln!(
        "replica 1 ran the new library {:?} after the replace",
        done.elapsed()
    );
    // Decisions made through replica 1 now carry it.
    let mut after_replace = proposal("After the replace", motion("swap"), "unanimity");
    after_replace.procedure = Procedure::Silence as i32; // an objection decides it at once
    let p = create(&servers[1], after_replace).await;
    let (_, after) = cast(&servers[1], &p.name, ballot("FRA", Choice::Object)).await;
    let decided_by = after.decision.unwrap().policy.unwrap();
    assert_eq!(decided_by.library_sha256, sha);

    // Replica 2 refuses the file whose SHA-256 is not the one recorded: not ready, old library.
    wait_for("replica 2 reports itself not ready", bound, || async {
        health(&servers[2]).await == ServingStatus::NotServing
    })
    .await;
    assert_ne!(
        get_policy(&servers[2], "unanimity")
            .await
            .identity
            .unwrap()
            .library_sha256,
        sha
    );
    // Given the right file, it catches up and is ready again.
    std::fs::write(servers[2].plugin_dir().join(file), &bytes).unwrap();
    wait_for("replica 2 catches up", bound, || async {
        health(&servers[2]).await == ServingStatus::Serving
    })
    .await;
    assert_eq!(
        get_policy(&servers[2], "unanimity")
            .await
            .identity
            .unwrap()
            .library_sha256,
        sha
    );
    assert_eq!(health(&servers[0]).await, ServingStatus::Serving);
}

/// Credentials are the same on every replica: a delegation token issued through one is honoured
/// by another, a ballot key registered through one is checked by another, and a token revoked
/// through one is refused (UNAUTHENTICATED) by another once its change notice arrives; the audit
/// chain the replicas wrote together verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_issued_or_revoked_through_one_replica_hold_on_another() {
    use ed25519_dalek::{Signer, SigningKey};
    use tonic::Code;

    let url = TempPostgres::shared().database();
    let mut options = Options::secured().on_database(&url);
    // Refused attempts are slowed down per client: keep that short while B learns the token.
    options.args = vec!["--auth-backoff-max-ms".into(), "20".into()];
    let a = TestServer::start(options.clone()).await;
    let b = TestServer::start(options).await;
    const LIMIT: Duration = Duration::from_secs(10);

    let issued = a
        .as_operator()
        .delegations
        .issue_token(IssueTokenRequest {
            role: Role::Delegation as i32,
            member: member("DEU"),
            ttl_seconds: 0,
            label: "issued through A".into(),
        })
        .await
        .expect("issue through A")
        .into_inner();
    let token_name = issued.token.expect("the token").name;
    let deu_on_a = a.clients(Some(&issued.secret));
    let deu_on_b = b.clients(Some(&issued.secret));
    wait_for("B honours the token issued through A", LIMIT, || {
        let mut delegations = deu_on_b.delegations.clone();
        async move {
            delegations
                .who_am_i(WhoAmIRequest {})
                .await
                .is_ok_and(|r| r.into_inner().member == member("DEU"))
        }
    })
    .await;

    // A key registered through A is checked by B: an unsigned ballot is refused at once; B
    // accepts DEU's signed ballots once it knows the key (before, it refuses them and writes
    // nothing), and then refuses unsigned ones.
    let signing = SigningKey::from_bytes(&[9; 32]);
    deu_on_a
        .delegations
        .clone()
        .register_ballot_key(RegisterBallotKeyRequest {
            member: String::new(),
            public_key: signing.verifying_key().as_bytes().to_vec(),
        })
        .await
        .expect("register through A");
    let open = create(&a, proposal("Keys travel", motion("keys"), "unanimity")).await;
    // At once, whether or not B has heard of the key yet: the store checks the key it holds.
    let early = deu_on_b
        .proposals
        .clone()
        .cast_ballot(CastBallotRequest {
            proposal: open.name.clone(),
            ballot: Some(ballot("DEU", Choice::Object)),
        })
        .await
        .expect_err("an unsigned ballot right after the key was registered elsewhere");
    assert_eq!(early.code(), Code::InvalidArgument, "{early:?}");
    let signed = |nonce: &str| {
        let mut ballot = ballot("DEU", Choice::Support);
        ballot.nonce = nonce.into();
        ballot.signature = signing
            .sign(&accord_proto::canonical::ballot(&open.name, &ballot))
            .to_bytes()
            .to_vec();
        ballot
    };
    let mut attempt = 0;
    wait_for("B checks the key registered through A", LIMIT, || {
        attempt += 1;
        let request = CastBallotRequest {
            proposal: open.name.clone(),
            ballot: Some(signed(&format!("attempt {attempt}"))),
        };
        let mut proposals = deu_on_b.proposals.clone();
        async move { proposals.cast_ballot(request).await.is_ok() }
    })
    .await;
    let unsigned = deu_on_b
        .proposals
        .clone()
        .cast_ballot(CastBallotRequest {
            proposal: open.name.clone(),
            ballot: Some(ballot("DEU", Choice::Object)),
        })
        .await
        .expect_err("an unsigned ballot of a member with a key");
    assert_eq!(unsigned.code(), Code::InvalidArgument, "{unsigned:?}");

    // Revoked through A: refused by A at once and by B once the notice arrives.
    a.as_operator()
        .delegations
        .revoke_token(RevokeTokenRequest {
            name: token_name.clone(),
        })
        .await
        .expect("revoke through A");
    let on_a = deu_on_a
        .delegations
        .clone()
        .who_am_i(WhoAmIRequest {})
        .await
        .expect_err("A refuses the token it revoked");
    assert_eq!(on_a.code(), Code::Unauthenticated);
    wait_for("B refuses the token revoked through A", LIMIT, || {
        let mut delegations = deu_on_b.delegations.clone();
        async move {
            delegations
                .who_am_i(WhoAmIRequest {})
                .await
                .is_err_and(|status| status.code() == Code::Unauthenticated)
        }
    })
    .await;
    let refused = deu_on_b
        .proposals
        .clone()
        .cast_ballot(CastBallotRequest {
            proposal: open.name.clone(),
            ballot: Some(signed("after revocation")),
        })
        .await
        .expect_err("B refuses a ballot with the revoked token");
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");

    // Everything both replicas wrote (refused credentials included) is one verified chain.
    let store = accord_store::open(&url).await.unwrap();
    let report = store
        .verify_audit()
        .await
        .unwrap()
        .unwrap_or_else(|broken| panic!("the chain the replicas wrote: {broken}"));
    assert!(report.signatures >= 1, "{report:?}");
    let chain = store.export_audit(0, 1_000_000).await.unwrap();
    let revoked: Vec<&str> = chain
        .iter()
        .filter(|e| e.kind == "token_revoked" && e.subject == token_name)
        .map(|e| e.actor.as_str())
        .collect();
    assert_eq!(revoked, ["operator"]);
    store.close().await;
}
