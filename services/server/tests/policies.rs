//! Policy plugins in the real server: hot swap under load, a panicking plugin, a hanging plugin,
//! disabling and reloading.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accord_proto::v1::proposal_service_client::ProposalServiceClient;
use accord_proto::v1::*;
use accord_test_support::grpc::*;
use accord_test_support::*;
use tonic::Code;

fn hypothetical(title: &str) -> Proposal {
    let mut p = proposal(title, motion(title), "");
    p.deadline = None;
    p
}

fn evaluate_request(title: &str, policies: &[PolicyRef]) -> EvaluateProposalRequest {
    EvaluateProposalRequest {
        subject: Some(evaluate_proposal_request::Subject::Proposal(hypothetical(
            title,
        ))),
        ballots: vec![ballot("USA", Choice::Support)],
        policies: policies.to_vec(),
        ..Default::default()
    }
}

async fn evaluate_one(
    client: &mut ProposalServiceClient<Authed>,
    title: &str,
    policy_ref: PolicyRef,
) -> Result<Decision, tonic::Status> {
    let mut evaluations = client
        .evaluate_proposal(evaluate_request(title, &[policy_ref]))
        .await?
        .into_inner()
        .evaluations;
    assert_eq!(evaluations.len(), 1);
    let e = evaluations.remove(0);
    assert_eq!(e.error_code, 0, "{}", e.error_message);
    Ok(e.decision.expect("a decision"))
}

async fn list_policies(server: &TestServer) -> Vec<LoadedPolicy> {
    server
        .policies()
        .list_policies(ListPoliciesRequest::default())
        .await
        .expect("list policies")
        .into_inner()
        .policies
}

/// Copies the unanimity library to `file_name` with `tag` appended: still a valid ELF file that
/// loads, but with its own SHA-256.
fn new_unanimity_version(server: &TestServer, file_name: &str, tag: &str) -> String {
    let dir = server.plugin_dir();
    let mut bytes = std::fs::read(dir.join(UNANIMITY)).expect("read the library");
    bytes.extend_from_slice(format!("\naccord hot-swap test build {tag}\n").as_bytes());
    let path = dir.join(file_name);
    std::fs::write(&path, bytes).expect("write the new version");
    sha256sum(&path)
}

/// What the load generator saw: when each evaluation started and which library decided it.
#[derive(Default)]
struct Observed {
    evaluations: Mutex<Vec<(Instant, String)>>,
    ok: AtomicUsize,
    failures: Mutex<Vec<String>>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_a_policy_under_concurrent_load_fails_no_request() {
    let server = TestServer::start_default().await;
    let original = sha256sum(&server.plugin_dir().join(UNANIMITY));
    let motion = create(
        &server,
        proposal("Keep the hot swap honest", motion("hot swap"), "unanimity"),
    )
    .await;
    // The pressure policy needs its lead nation's ballot.
    cast(&server, &motion.name, ballot("USA", Choice::Support)).await;

    let stop = Arc::new(AtomicBool::new(false));
    let observed = Arc::new(Observed::default());
    let voters = ["DEU", "FRA", "POL", "ITA"];
    let mut tasks = Vec::new();
    for task in 0..8usize {
        let stop = stop.clone();
        let observed = observed.clone();
        let channel = server.channel();
        let motion = motion.name.clone();
        tasks.push(tokio::spawn(async move {
            let mut proposals = Clients::new(channel.clone(), None).proposals;
            let mut members =
                accord_proto::v1::member_service_client::MemberServiceClient::new(channel);
            let mut round = 0usize;
            while !stop.load(Ordering::SeqCst) {
                round += 1;
                let outcome: Result<(), String> = match task % 4 {
                    // Evaluate under unanimity alone and note which library answered.
                    0 | 1 => {
                        let started = Instant::now();
                        match proposals
                            .evaluate_proposal(evaluate_request(
                                "Hot swap load",
                                &[policy("unanimity")],
                            ))
                            .await
                        {
                            Ok(r) => {
                                let e = &r.get_ref().evaluations[0];
                                let sha = e
                                    .decision
                                    .as_ref()
                                    .and_then(|d| d.policy.as_ref())
                                    .map(|p| p.library_sha256.clone())
                                    .unwrap_or_default();
                                observed.evaluations.lock().unwrap().push((started, sha));
                                Ok(())
                            }
                            Err(e) => Err(format!("evaluate: {e}")),
                        }
                    }
                    // Ballots on an open proposal (decided under unanimity on every ballot).
                    2 => {
                        let code = voters[(task + round) % voters.len()];
                        let choice = if round % 2 == 0 {
                            Choice::Support
                        } else {
                            Choice::Abstain
                        };
                        proposals
                            .cast_ballot(CastBallotRequest {
                                proposal: motion.clone(),
                                ballot: Some(ballot(code, choice)),
                            })
                            .await
                            .map(|_| ())
                            .map_err(|e| format!("cast: {e}"))
                    }
                    // Reads, and the existing proposal evaluated under every policy.
                    _ => {
                        let member = members
                            .get_member(GetMemberRequest {
                                name: "members/DEU".into(),
                            })
                            .await
                            .map(|_| ())
                            .map_err(|e| format!("get member: {e}"));
                        match member {
                            Ok(()) => proposals
                                .evaluate_proposal(EvaluateProposalRequest {
                                    subject: Some(evaluate_proposal_request::Subject::Name(
                                        motion.clone(),
                                    )),
                                    ..Default::default()
                                })
                                .await
                                .map_err(|e| format!("evaluate all: {e}"))
                                .and_then(|r| {
                                    match r
                                        .into_inner()
                                        .evaluations
                                        .iter()
                                        .find(|e| e.error_code != 0)
                                    {
                                        Some(e) => {
                                            Err(format!("{} failed: {}", e.policy, e.error_message))
                                        }
                                        None => Ok(()),
                                    }
                                }),
                            Err(e) => Err(e),
                        }
                    }
                };
                match outcome {
                    Ok(()) => {
                        observed.ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => observed.failures.lock().unwrap().push(e),
                }
            }
        }));
    }

    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut client = server.proposals();
    let mut previous = original.clone();
    let mut swaps: Vec<(Instant, String)> = Vec::new();
    for i in 1..=3 {
        let file_name = format!("libaccord_unanimity_v{i}.so");
        let sha = new_unanimity_version(&server, &file_name, &i.to_string());
        assert_ne!(sha, previous);
        let replaced = server
            .policies()
            .replace_policy(ReplacePolicyRequest {
                name: "policies/unanimity".into(),
                file_name: file_name.clone(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("replace with {file_name}: {e}"))
            .into_inner();
        let done = Instant::now();
        let now_loaded = replaced.policy.expect("the policy");
        assert_eq!(now_loaded.identity.as_ref().unwrap().library_sha256, sha);
        assert_eq!(now_loaded.file_name, file_name);
        assert_eq!(now_loaded.health, PolicyHealth::Healthy as i32);
        assert_eq!(replaced.previous.unwrap().library_sha256, previous);

        // Every view of the policy shows the new library...
        let got = get_policy(&server, "unanimity").await;
        assert_eq!(got.identity.unwrap().library_sha256, sha);
        assert!(got.is_default);
        let listed = list_policies(&server).await;
        let listed = listed
            .iter()
            .find(|p| p.name == "policies/unanimity")
            .expect("listed");
        assert_eq!(listed.identity.as_ref().unwrap().library_sha256, sha);
        // ...and decisions made from now on carry it.
        let decision = evaluate_one(&mut client, "After the swap", policy("unanimity"))
            .await
            .expect("evaluate after the swap");
        assert_eq!(decision.policy.unwrap().library_sha256, sha);

        swaps.push((done, sha.clone()));
        previous = sha;
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for task in tasks {
        task.await.expect("load task");
    }

    let failures = observed.failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} failed requests (of {} ok): {:?}",
        failures.len(),
        observed.ok.load(Ordering::Relaxed),
        &failures[..failures.len().min(5)]
    );
    let ok = observed.ok.load(Ordering::Relaxed);
    assert!(ok >= 40, "only {ok} requests ran during the swaps");

    // Every evaluation that started after a swap had returned was decided by that version or
    // a later one; every one carried a known library.
    let order: Vec<String> = std::iter::once(original.clone())
        .chain(swaps.iter().map(|(_, sha)| sha.clone()))
        .collect();
    let evaluations = observed.evaluations.lock().unwrap().clone();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (started, sha) in &evaluations {
        let index = order
            .iter()
            .position(|s| s == sha)
            .unwrap_or_else(|| panic!("a decision carried an unknown library {sha:?}"));
        *seen.entry(sha.clone()).or_default() += 1;
        let at_least = swaps.iter().filter(|(done, _)| done < started).count();
        assert!(
            index >= at_least,
            "an evaluation started after swap {at_least} was decided by version {index}"
        );
    }
    assert!(
        seen.len() >= 3,
        "the load should have met several versions: {seen:?}"
    );

    // The proposal, decided now, records the last version.
    let closed = server
        .proposals()
        .close_proposal(CloseProposalRequest {
            name: motion.name.clone(),
        })
        .await
        .expect("close")
        .into_inner()
        .proposal
        .unwrap();
    assert_eq!(
        closed.decision.unwrap().policy.unwrap().library_sha256,
        previous
    );
    // The ballots cast during the swaps are all there.
    assert!(!all_ballots(&server, &motion.name).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_policy_fails_its_call_with_internal_and_the_server_keeps_serving() {
    let server = TestServer::start(Options::default().with_extra(&[PANICKING])).await;
    let loaded = server
        .policies()
        .load_policy(LoadPolicyRequest {
            file_name: PANICKING.into(),
            ..Default::default()
        })
        .await
        .expect("load the panicking fixture")
        .into_inner()
        .policy
        .unwrap();
    assert_eq!(loaded.name, "policies/panicking");
    assert_eq!(loaded.health, PolicyHealth::Healthy as i32);
    assert_eq!(
        loaded.identity.unwrap().library_sha256,
        sha256sum(&server.plugin_dir().join(PANICKING))
    );

    let mut client = server.proposals();
    let result = evaluate_one(&mut client, "Do not panic", policy("panicking")).await;
    let status = assert_status(result, Code::Internal, &["panicking", "panicked"]);
    assert!(
        status.message().contains("fixture panics on purpose"),
        "the panic's own message: {}",
        status.message()
    );

    // The server, the policy and the others keep working.
    let calm = evaluate_one(&mut client, "Stay calm", policy("panicking"))
        .await
        .expect("the next call to the same policy");
    assert_eq!(calm.outcome, Outcome::Adopted as i32);
    let unanimity = evaluate_one(&mut client, "Do not panic", policy("unanimity"))
        .await
        .expect("another policy");
    assert_eq!(unanimity.policy.unwrap().policy_id, "unanimity");
    assert_eq!(
        get_policy(&server, "panicking").await.health,
        PolicyHealth::Healthy as i32,
        "a panic does not make the policy unhealthy"
    );

    // Asked together, only the panicking policy's evaluation carries the failure.
    let all = client
        .evaluate_proposal(evaluate_request("Do not panic", &[]))
        .await
        .expect("evaluate under all")
        .into_inner()
        .evaluations;
    assert_eq!(
        all.len(),
        5,
        "the four bundled policies and the panicking fixture"
    );
    for e in &all {
        if e.policy == "policies/panicking" {
            assert_eq!(e.error_code, Code::Internal as i32);
            assert!(e.error_message.contains("panicked"), "{}", e.error_message);
            assert!(e.decision.is_none());
        } else {
            assert_eq!(e.error_code, 0, "{}: {}", e.policy, e.error_message);
        }
    }

    // A real proposal whose policy panics cannot be decided: its ballots are still taken, and
    // at its deadline it expires with the reason.
    let mut p = proposal(
        "Will it panic at the deadline?",
        motion("panic"),
        "panicking",
    );
    p.deadline = Some(from_now(Duration::from_secs(2)));
    let created = create(&server, p).await;
    let (_, after) = cast(&server, &created.name, ballot("USA", Choice::Support)).await;
    assert_eq!(after.state, ProposalState::Open as i32);
    let closed = wait_closed(&server, &created.name, Duration::from_secs(15)).await;
    assert_eq!(closed.state, ProposalState::Expired as i32);
    let explanation = closed.decision.unwrap().explanation.join(" ");
    assert!(explanation.contains("panicked"), "{explanation}");
    assert_eq!(all_ballots(&server, &created.name).await.len(), 1);

    // Still serving.
    member_codes(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_policy_times_out_becomes_unhealthy_and_is_healthy_again_once_reloaded() {
    let server = TestServer::start(Options {
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
    let mut client = server.proposals();
    let hang_briefly = PolicyRef {
        policy_id: "hanging".into(),
        parameters: [("hang_seconds".to_string(), "3".to_string())].into(),
    };

    let started = Instant::now();
    let result = evaluate_one(&mut client, "Please hang on", hang_briefly.clone()).await;
    let elapsed = started.elapsed();
    assert_status(
        result,
        Code::DeadlineExceeded,
        &["hanging", "500ms", "unhealthy"],
    );
    assert!(
        elapsed < Duration::from_millis(2500),
        "the call should fail at its 500 ms limit, took {elapsed:?}"
    );

    let listed = list_policies(&server).await;
    let hanging = listed
        .iter()
        .find(|p| p.name == "policies/hanging")
        .expect("still listed");
    assert_eq!(hanging.health, PolicyHealth::Unhealthy as i32);
    assert!(
        hanging.health_reason.contains("limit"),
        "a reason: {:?}",
        hanging.health_reason
    );
    for other in listed.iter().filter(|p| p.name != "policies/hanging") {
        assert_eq!(other.health, PolicyHealth::Healthy as i32, "{}", other.name);
    }

    // It takes no calls now, even harmless ones.
    let result = evaluate_one(&mut client, "A harmless motion", policy("hanging")).await;
    assert_status(result, Code::Unavailable, &["hanging", "unavailable"]);
    // The others still work, and "all policies" leaves the unhealthy one out.
    evaluate_one(&mut client, "Please hang on", policy("weighted"))
        .await
        .expect("weighted still works");
    let all = client
        .evaluate_proposal(evaluate_request("A harmless motion", &[]))
        .await
        .unwrap()
        .into_inner()
        .evaluations;
    let ids: Vec<&str> = all.iter().map(|e| e.policy.as_str()).collect();
    assert_eq!(
        ids,
        [
            "policies/bargaining",
            "policies/pressure",
            "policies/unanimity",
            "policies/weighted"
        ]
    );

    // Loading the same file again makes it healthy.
    let reloaded = server
        .policies()
        .load_policy(LoadPolicyRequest {
            file_name: HANGING.into(),
            ..Default::default()
        })
        .await
        .expect("reload")
        .into_inner()
        .policy
        .unwrap();
    assert_eq!(reloaded.health, PolicyHealth::Healthy as i32);
    assert!(reloaded.health_reason.is_empty());
    let decision = evaluate_one(&mut client, "A harmless motion", policy("hanging"))
        .await
        .expect("healthy again");
    assert_eq!(decision.outcome, Outcome::Adopted as i32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_policy_is_unavailable_until_loaded_again() {
    let server = TestServer::start_default().await;
    let disabled = server
        .policies()
        .disable_policy(DisablePolicyRequest {
            name: "policies/weighted".into(),
        })
        .await
        .expect("disable")
        .into_inner()
        .policy
        .unwrap();
    assert_eq!(disabled.health, PolicyHealth::Disabled as i32);
    assert!(disabled.health_reason.contains("disabled"));

    let mut client = server.proposals();
    let result = evaluate_one(&mut client, "Weigh this", policy("weighted")).await;
    assert_status(result, Code::Unavailable, &["weighted", "disabled"]);
    let result = server
        .policies()
        .set_default_policy(SetDefaultPolicyRequest {
            name: "policies/weighted".into(),
        })
        .await;
    // A disabled policy cannot be the default (issue 9: FAILED_PRECONDITION).
    assert_status(result, Code::FailedPrecondition, &["weighted", "disabled"]);
    assert!(get_policy(&server, "unanimity").await.is_default);

    server
        .policies()
        .load_policy(LoadPolicyRequest {
            file_name: WEIGHTED.into(),
            ..Default::default()
        })
        .await
        .expect("load again");
    evaluate_one(&mut client, "Weigh this", policy("weighted"))
        .await
        .expect("available again");
}
