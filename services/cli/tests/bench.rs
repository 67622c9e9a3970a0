//! `accord bench` against a real server, briefly: every workload runs without errors, the JSON
//! report carries throughput, percentiles and the two targets, the table names each workload,
//! and the proposal the bench created is withdrawn at the end.

use accord_test_support::cli::CliServer;

#[test]
fn a_short_bench_reports_every_workload_and_withdraws_its_proposal() {
    let s = CliServer::start_default();
    let json = s.json(&[
        "bench",
        "--streams",
        "4",
        "--seconds",
        "0.4",
        "--warmup",
        "0.1",
        "--evaluate-policies",
        "unanimity,weighted",
    ]);
    let workloads = json["workloads"].as_array().expect("workloads");
    let names: Vec<&str> = workloads
        .iter()
        .map(|w| w["workload"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["health", "get-member", "ballot", "evaluate"]);
    for w in workloads {
        assert_eq!(w["errors"], 0, "{w}");
        assert!(w["ok"].as_u64().unwrap() > 0, "{w}");
        assert!(w["throughput"].as_f64().unwrap() > 0.0, "{w}");
        let latency = &w["latencyMs"];
        let (p50, p99, p999) = (
            latency["p50"].as_f64().unwrap(),
            latency["p99"].as_f64().unwrap(),
            latency["p999"].as_f64().unwrap(),
        );
        assert!(0.0 < p50 && p50 <= p99 && p99 <= p999, "{w}");
    }
    assert_eq!(json["streams"], 4);
    assert_eq!(json["connections"], 1);
    let targets = json["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 2);
    assert!(
        targets
            .iter()
            .all(|t| t["met"].is_boolean() && t["ratio"].is_number())
    );

    // The ballots were cast on a proposal of its own, withdrawn at the end.
    let proposals = s.json(&["proposals", "list"]);
    let proposals = proposals["proposals"].as_array().expect("proposals");
    assert_eq!(proposals.len(), 1);
    assert_eq!(proposals[0]["title"], "accord bench");
    assert_eq!(proposals[0]["state"], "PROPOSAL_STATE_WITHDRAWN");
    // Every ballot counted is stored (and those of the warm-up too).
    let ballots = s.json(&["proposals", "ballots", "1"]);
    let stored = ballots["ballots"].as_array().expect("ballots").len() as u64;
    assert!(
        stored >= workloads[2]["ok"].as_u64().unwrap(),
        "{stored} stored"
    );

    // The table: one row per workload and the targets.
    let out = s
        .accord(&[
            "bench",
            "--streams",
            "2",
            "--seconds",
            "0.2",
            "--warmup",
            "0",
            "--workloads",
            "health,ballot",
        ])
        .ok();
    for needle in ["health", "ballot", "req/s", "p99.9 ms", "targets", "MET"] {
        assert!(out.contains(needle), "`{needle}` missing from:\n{out}");
    }
    assert!(!out.contains("get-member"), "{out}");
}
