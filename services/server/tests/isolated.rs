//! Isolated mode in the real server, with real runner processes and real libraries: a library
//! that segfaults, aborts, exits, hogs memory, spins or hangs costs the call in flight and the
//! server keeps serving it through a restarted runner; hot swap of an isolated policy under load
//! fails no request; the mode is chosen per library by configuration and by LoadPolicy; a
//! library of ABI 1.0 (members in every request) and one of 1.1 (members registered once per
//! version of the alliance) both decide on the current members in either mode.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use accord_proto::v1::proposal_service_client::ProposalServiceClient;
use accord_proto::v1::*;
use accord_test_support::grpc::*;
use accord_test_support::*;
use tokio::sync::Mutex;
use tonic::Code;

fn evaluate_request(title: &str, policy_ref: PolicyRef) -> EvaluateProposalRequest {
    let mut p = proposal(title, motion(title), "");
    p.deadline = None;
    EvaluateProposalRequest {
        subject: Some(evaluate_proposal_request::Subject::Proposal(p)),
        ballots: vec![ballot("USA", Choice::Support)],
        policies: vec![policy_ref],
        ..Default::default()
    }
}

/// The decision of one policy, or the status its evaluation failed with.
async fn evaluate_one(
    client: &mut ProposalServiceClient<Authed>,
    title: &str,
    policy_ref: PolicyRef,
) -> Result<Decision, tonic::Status> {
    let mut evaluations = client
        .evaluate_proposal(evaluate_request(title, policy_ref))
        .await?
        .into_inner()
        .evaluations;
    assert_eq!(evaluations.len(), 1);
    let e = evaluations.remove(0);
    assert_eq!(e.error_code, 0, "{}", e.error_message);
    Ok(e.decision.expect("a decision"))
}

async fn load(server: &TestServer, file_name: &str, isolation: PolicyIsolation) -> LoadedPolicy {
    server
        .policies()
        .load_policy(LoadPolicyRequest {
            file_name: file_name.into(),
            isolation: isolation as i32,
        })
        .await
        .unwrap_or_else(|e| panic!("load {file_name}: {e}"))
        .into_inner()
        .policy
        .expect("the policy")
}

fn alive(pid: u32) -> bool {
    // A zombie has no command line: it has ended, whoever reaps it.
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
}

/// Waits (up to 20 s) until process `pid` has ended.
async fn ended(pid: u32) -> bool {
    let until = Instant::now() + Duration::from_secs(20);
    while alive(pid) {
        if Instant::now() > until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

fn runner_of(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| String::from_utf8_lossy(&c).contains("accord-policy-runner"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_crash_in_isolated_mode_costs_its_call_and_the_runner_is_restarted() {
    let server = TestServer::start(Options {
        args: [
            "--runner-memory-limit-mb",
            "512",
            "--runner-cpu-seconds",
            "1",
        ]
        .map(String::from)
        .to_vec(),
        // Long enough that only the CPU limit can stop the spinning call.
        policy_timeout_ms: Some(60_000),
        ..Options::default().with_extra(&[CRASHING])
    })
    .await;
    let loaded = load(&server, CRASHING, PolicyIsolation::Isolated).await;
    assert_eq!(loaded.name, "policies/crashing");
    assert_eq!(loaded.isolation, PolicyIsolation::Isolated as i32);
    assert_eq!(loaded.health, PolicyHealth::Healthy as i32);
    assert_eq!(loaded.runner_restarts, 0);
    assert!(runner_of(loaded.runner_pid), "a runner process serves it");
    assert_eq!(
        loaded.identity.unwrap().library_sha256,
        sha256sum(&server.plugin_dir().join(CRASHING)),
        "the identity is the file's"
    );
    let mut client = server.proposals();
    let calm = evaluate_one(&mut client, "A harmless motion", policy("crashing"))
        .await
        .expect("a call that does not crash");
    assert_eq!(calm.outcome, Outcome::Adopted as i32);

    let crashes = [
        ("Please segfault", "SIGSEGV"),
        ("Please abort", "SIGABRT"),
        ("Please exit", "exited with status 3"),
        // Past the runner's 512 MiB address space the allocation fails and Rust aborts.
        ("Please hog memory", "SIGABRT"),
        // Past one CPU second without an answer the kernel sends SIGXCPU.
        ("Please spin", "SIGXCPU"),
    ];
    let mut previous_pid = loaded.runner_pid;
    for (i, (title, signal)) in crashes.iter().enumerate() {
        let result = evaluate_one(&mut client, title, policy("crashing")).await;
        assert_status(result, Code::Internal, &["crashing", "crashed", signal]);
        assert!(
            ended(previous_pid).await,
            "the crashed runner {previous_pid} is gone"
        );

        // The next call is served by a new runner; the policy stayed available.
        let next = evaluate_one(&mut client, "A harmless motion", policy("crashing"))
            .await
            .unwrap_or_else(|e| panic!("the call after {title:?}: {e}"));
        assert_eq!(next.outcome, Outcome::Adopted as i32);
        let now = get_policy(&server, "crashing").await;
        assert_eq!(now.health, PolicyHealth::Healthy as i32, "after {title:?}");
        assert_eq!(now.runner_restarts, i as u64 + 1, "after {title:?}");
        assert_ne!(now.runner_pid, previous_pid, "a new runner after {title:?}");
        assert!(runner_of(now.runner_pid));
        assert!(
            now.health_reason.contains(signal) && now.health_reason.contains("restarted"),
            "the reason tells what happened: {:?}",
            now.health_reason
        );
        previous_pid = now.runner_pid;
    }

    // The server itself never went down, and the other policies never noticed.
    assert!(alive(server.pid()));
    let unanimity = evaluate_one(&mut client, "Please segfault", policy("unanimity"))
        .await
        .expect("an in-process policy");
    assert_eq!(unanimity.policy.unwrap().policy_id, "unanimity");
    member_codes(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_isolated_policy_is_killed_at_the_time_limit_and_stays_healthy() {
    let server = TestServer::start(Options {
        policy_timeout_ms: Some(500),
        ..Options::default().with_extra(&[HANGING])
    })
    .await;
    let loaded = load(&server, HANGING, PolicyIsolation::Isolated).await;
    let mut client = server.proposals();
    let hang = PolicyRef {
        policy_id: "hanging".into(),
        parameters: [("hang_seconds".to_string(), "600".to_string())].into(),
    };

    // Two calls in flight on one runner: the hanging one, and a harmless one caught with it.
    let caught = {
        let mut client = client.clone();
        tokio::spawn(async move {
            // Sent while the hang is in flight: the runner's second worker answers it at once,
            // or, if it arrives after the kill, the restarted runner does.
            tokio::time::sleep(Duration::from_millis(100)).await;
            evaluate_one(&mut client, "A harmless motion", policy("hanging")).await
        })
    };
    let result = evaluate_one(&mut client, "Please hang on", hang.clone()).await;
    assert_status(
        result,
        Code::DeadlineExceeded,
        &["hanging", "500ms", "restarted"],
    );
    let caught = caught.await.expect("task");
    if let Err(status) = &caught {
        // Only a call in flight when the runner was killed may fail, and then as UNAVAILABLE.
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    }
    assert!(ended(loaded.runner_pid).await, "the hung runner was killed");

    // The next call waits for the restarted runner, within its own limit (500 ms here, which a
    // debug-built runner on a loaded machine may need to start: then the next call is served).
    let mut attempts = 0;
    let decision = loop {
        attempts += 1;
        match evaluate_one(&mut client, "A harmless motion", policy("hanging")).await {
            Ok(decision) => break decision,
            Err(status)
                if attempts < 10
                    && status.code() == Code::Unavailable
                    && status.message().contains("no runner was ready") => {}
            Err(status) => panic!("not served by the restarted runner: {status:?}"),
        }
    };
    assert_eq!(decision.outcome, Outcome::Adopted as i32);
    let now = get_policy(&server, "hanging").await;
    assert_eq!(
        now.health,
        PolicyHealth::Healthy as i32,
        "{}",
        now.health_reason
    );
    assert!(
        now.health_reason.contains("time limit"),
        "{}",
        now.health_reason
    );
    assert_eq!(now.runner_restarts, 1);
    assert_ne!(now.runner_pid, loaded.runner_pid);
    assert!(runner_of(now.runner_pid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mode_is_chosen_per_library_by_configuration_and_load_policy() {
    let server = TestServer::start(Options {
        args: vec!["--isolated-plugins".into(), WEIGHTED.into()],
        ..Options::default().with_extra(&[PANICKING])
    })
    .await;
    let listed = server
        .policies()
        .list_policies(ListPoliciesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .policies;
    for p in &listed {
        let expected = if p.name == "policies/weighted" {
            PolicyIsolation::Isolated
        } else {
            PolicyIsolation::InProcess
        };
        assert_eq!(p.isolation, expected as i32, "{}", p.name);
        assert_eq!(p.runner_pid != 0, expected == PolicyIsolation::Isolated);
    }

    // The isolated weighted policy decides; its decisions carry the file's identity.
    let mut client = server.proposals();
    let isolated = evaluate_one(&mut client, "Same answer", policy("weighted"))
        .await
        .expect("isolated weighted");
    assert_eq!(
        isolated.policy.as_ref().unwrap().library_sha256,
        sha256sum(&server.plugin_dir().join(WEIGHTED))
    );

    // LoadPolicy chooses per call; unspecified takes the configuration (in process here).
    let panicking = load(&server, PANICKING, PolicyIsolation::Isolated).await;
    assert_eq!(panicking.isolation, PolicyIsolation::Isolated as i32);
    let result = evaluate_one(&mut client, "Do not panic", policy("panicking")).await;
    assert_status(result, Code::Internal, &["panicking", "panicked"]);
    assert_eq!(
        get_policy(&server, "panicking").await.runner_restarts,
        0,
        "a caught panic does not cost the runner"
    );

    // A value outside the enum is refused, naming the field.
    let bad = server
        .policies()
        .load_policy(LoadPolicyRequest {
            file_name: PANICKING.into(),
            isolation: 7,
        })
        .await;
    assert_status(bad, Code::InvalidArgument, &["isolation"]);

    // Replacing in process → isolated and back, by ReplacePolicy.
    let replaced = server
        .policies()
        .replace_policy(ReplacePolicyRequest {
            name: "policies/unanimity".into(),
            file_name: UNANIMITY.into(),
            isolation: PolicyIsolation::Isolated as i32,
        })
        .await
        .expect("replace into a runner")
        .into_inner()
        .policy
        .unwrap();
    assert_eq!(replaced.isolation, PolicyIsolation::Isolated as i32);
    let runner = replaced.runner_pid;
    assert!(runner_of(runner));
    evaluate_one(&mut client, "Isolated unanimity", policy("unanimity"))
        .await
        .expect("isolated unanimity");
    let back = server
        .policies()
        .replace_policy(ReplacePolicyRequest {
            name: "policies/unanimity".into(),
            file_name: UNANIMITY.into(),
            isolation: PolicyIsolation::InProcess as i32,
        })
        .await
        .expect("replace back in process")
        .into_inner()
        .policy
        .unwrap();
    assert_eq!(back.isolation, PolicyIsolation::InProcess as i32);
    assert_eq!(back.runner_pid, 0);
    assert!(
        ended(runner).await,
        "the runner of the replaced version stops"
    );
}

/// Copies `file` in the plugin directory to `name` with `tag` appended: a new version.
fn new_version(dir: &Path, file: &str, name: &str, tag: &str) -> String {
    let mut bytes = std::fs::read(dir.join(file)).expect("read the library");
    bytes.extend_from_slice(format!("\naccord isolated hot-swap test build {tag}\n").as_bytes());
    std::fs::write(dir.join(name), bytes).expect("write the new version");
    sha256sum(&dir.join(name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_an_isolated_policy_under_concurrent_load_fails_no_request() {
    let server = TestServer::start(Options {
        args: vec!["--isolated-plugins".into(), UNANIMITY.into()],
        ..Options::default()
    })
    .await;
    let first = get_policy(&server, "unanimity").await;
    assert_eq!(first.isolation, PolicyIsolation::Isolated as i32);
    let mut shas = vec![first.identity.unwrap().library_sha256];
    let mut runners = vec![first.runner_pid];

    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (stop, ok, failures, seen) = (stop.clone(), ok.clone(), failures.clone(), seen.clone());
        let mut client = server.proposals();
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                match evaluate_one(&mut client, "Isolated hot swap", policy("unanimity")).await {
                    Ok(d) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        seen.lock().await.push(d.policy.unwrap().library_sha256);
                    }
                    Err(e) => failures.lock().await.push(e.to_string()),
                }
            }
        }));
    }

    let dir = server.plugin_dir();
    for i in 1..=3 {
        // Let some calls run on the current version first.
        let before = ok.load(Ordering::Relaxed);
        while ok.load(Ordering::Relaxed) < before + 20 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let name = format!("libaccord_unanimity_isolated_v{i}.so");
        let sha = new_version(&dir, UNANIMITY, &name, &i.to_string());
        let replaced = server
            .policies()
            .replace_policy(ReplacePolicyRequest {
                name: "policies/unanimity".into(),
                file_name: name.clone(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("replace with {name}: {e}"))
            .into_inner();
        let policy_now = replaced.policy.unwrap();
        assert_eq!(
            policy_now.isolation,
            PolicyIsolation::Isolated as i32,
            "an unspecified mode keeps the replaced version's"
        );
        assert_eq!(policy_now.identity.unwrap().library_sha256, sha);
        assert_eq!(replaced.previous.unwrap().library_sha256, shas[i - 1]);
        assert_ne!(policy_now.runner_pid, runners[i - 1]);
        shas.push(sha);
        runners.push(policy_now.runner_pid);
    }
    let before = ok.load(Ordering::Relaxed);
    while ok.load(Ordering::Relaxed) < before + 20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for task in tasks {
        task.await.expect("load task");
    }

    let failures = failures.lock().await.clone();
    assert!(
        failures.is_empty(),
        "{} of {} calls failed: {:?}",
        failures.len(),
        ok.load(Ordering::Relaxed) + failures.len(),
        &failures[..failures.len().min(5)]
    );
    let seen = seen.lock().await.clone();
    for sha in &seen {
        assert!(shas.contains(sha), "a decision by an unknown library {sha}");
    }
    for sha in &shas {
        assert!(seen.contains(sha), "no decision by version {sha}");
    }
    // The replaced versions' runners stop once their calls are done; the current one serves.
    for pid in &runners[..3] {
        assert!(
            ended(*pid).await,
            "the runner {pid} of a replaced version stops"
        );
    }
    assert!(runner_of(runners[3]));
    assert_eq!(get_policy(&server, "unanimity").await.runner_restarts, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libraries_of_abi_1_0_and_1_1_decide_on_the_current_members_in_both_modes() {
    let server = TestServer::start(Options::default().with_extra(&[ABI_1_0])).await;
    let mut client = server.proposals();
    let members_seen = |decision: &Decision| -> usize {
        let text = &decision.explanation[0];
        let (_, rest) = text.split_once(" of ").expect("`… of N members …`");
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };

    let in_process = load(&server, ABI_1_0, PolicyIsolation::InProcess).await;
    assert_eq!(in_process.isolation, PolicyIsolation::InProcess as i32);
    let before = evaluate_one(&mut client, "Counted in process", policy("abi-1-0"))
        .await
        .expect("a 1.0 library decides in process");
    assert_eq!(members_seen(&before), 32);
    let unanimity = evaluate_one(&mut client, "Unanimity in process", policy("unanimity"))
        .await
        .expect("a 1.1 library decides in process");

    // A new member: a new version of the electorate reaches both kinds of library.
    server
        .members()
        .create_member(CreateMemberRequest {
            member: Some(Member {
                code: "XKX".into(),
                display_name: "Newland".into(),
                status: MemberStatus::Active as i32,
                ..Default::default()
            }),
        })
        .await
        .expect("create a member");
    let after = evaluate_one(&mut client, "Counted again", policy("abi-1-0"))
        .await
        .unwrap();
    assert_eq!(members_seen(&after), 33, "{:?}", after.explanation);
    let unanimity_after = evaluate_one(&mut client, "Unanimity again", policy("unanimity"))
        .await
        .unwrap();
    assert_eq!(
        unanimity_after.member_results.len(),
        unanimity.member_results.len() + 1,
        "the 1.1 library decided on the new electorate"
    );

    // The same in a runner.
    for (name, file) in [("abi-1-0", ABI_1_0), ("unanimity", UNANIMITY)] {
        let replaced = server
            .policies()
            .replace_policy(ReplacePolicyRequest {
                name: format!("policies/{name}"),
                file_name: file.into(),
                isolation: PolicyIsolation::Isolated as i32,
            })
            .await
            .unwrap_or_else(|e| panic!("replace {name} into a runner: {e}"))
            .into_inner()
            .policy
            .unwrap();
        assert!(runner_of(replaced.runner_pid));
    }
    let isolated = evaluate_one(&mut client, "Counted in a runner", policy("abi-1-0"))
        .await
        .expect("a 1.0 library decides in a runner");
    assert_eq!(members_seen(&isolated), 33);
    let isolated_unanimity = evaluate_one(&mut client, "Unanimity again", policy("unanimity"))
        .await
        .expect("a 1.1 library decides in a runner");
    assert_eq!(
        isolated_unanimity.member_results,
        unanimity_after.member_results
    );
}
