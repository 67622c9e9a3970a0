//! Prometheus metrics of the real server binary: `/metrics` answers in the text format with
//! counters that move after real RPCs (per RPC and code, ballots, decisions, policy calls,
//! group commit), gauges read at scrape time (policy health, the database pool), and process
//! figures; with no `--metrics-listen` no port but the gRPC one is opened.

use std::collections::HashSet;

use accord_proto::v1::*;
use accord_test_support::grpc::*;
use accord_test_support::metrics::{http_get, sample};
use accord_test_support::*;
use tonic::Code;

async fn scrape(server: &TestServer) -> String {
    let addr = server.metrics_addr.expect("metrics are served");
    let (status, body) = http_get(addr, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    body
}

fn rpc(service: &str, method: &str, code: &str) -> [(&'static str, String); 3] {
    [
        ("service", format!("accord.v1.{service}")),
        ("method", method.to_string()),
        ("code", code.to_string()),
    ]
}

fn value(text: &str, name: &str, labels: &[(&str, String)]) -> f64 {
    let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
    sample(text, name, &labels).unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_move_with_real_rpcs_and_gauges_show_policies_and_the_pool() {
    let server = TestServer::start(Options {
        metrics: true,
        ..Options::default()
    })
    .await;

    let before = scrape(&server).await;
    for policy in ["unanimity", "weighted", "pressure"] {
        assert_eq!(
            sample(&before, "accord_policy_healthy", &[("policy", policy)]),
            Some(1.0),
            "{policy} is loaded and healthy:\n{before}"
        );
    }
    assert_eq!(sample(&before, "accord_ballots_cast_total", &[]), Some(0.0));
    let pool = sample(&before, "accord_db_pool_connections", &[]).expect("pool size");
    let max = sample(&before, "accord_db_pool_max_connections", &[]).expect("pool max");
    assert!(pool >= 1.0 && pool <= max, "pool {pool} of {max}");
    assert!(
        sample(&before, "process_resident_memory_bytes", &[]).is_some_and(|v| v > 0.0),
        "process figures are there"
    );

    // A NOT_FOUND is counted with its code.
    let missing = server
        .members()
        .get_member(GetMemberRequest {
            name: member("XXX"),
        })
        .await;
    assert_status(missing, Code::NotFound, &[]);
    server
        .members()
        .get_member(GetMemberRequest {
            name: member("USA"),
        })
        .await
        .expect("USA is a member");

    // A ballot that settles the proposal: under the silence procedure one objection breaks it.
    let mut silent = proposal("Counted", motion("count"), "unanimity");
    silent.procedure = Procedure::Silence as i32;
    let created = create(&server, silent).await;
    let (_, after) = cast(&server, &created.name, ballot("FRA", Choice::Object)).await;
    assert_eq!(after.state, ProposalState::Rejected as i32, "{after:?}");

    let text = scrape(&server).await;
    let counted = |service, method, code| {
        value(
            &text,
            "accord_rpc_requests_total",
            &rpc(service, method, code),
        )
    };
    assert_eq!(
        counted("MemberService", "GetMember", "NotFound"),
        1.0,
        "{text}"
    );
    assert_eq!(counted("MemberService", "GetMember", "OK"), 1.0);
    assert_eq!(counted("ProposalService", "CreateProposal", "OK"), 1.0);
    assert_eq!(counted("ProposalService", "CastBallot", "OK"), 1.0);
    assert_eq!(
        value(
            &text,
            "accord_rpc_duration_seconds_count",
            &rpc("ProposalService", "CastBallot", "OK")
        ),
        1.0,
        "the latency histogram has the call"
    );
    assert_eq!(sample(&text, "accord_ballots_cast_total", &[]), Some(1.0));
    assert_eq!(
        sample(
            &text,
            "accord_decisions_total",
            &[("policy", "unanimity"), ("outcome", "rejected")]
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "accord_policy_call_duration_seconds_count",
            &[("policy", "unanimity"), ("result", "ok")]
        )
        .is_some_and(|n| n >= 1.0),
        "the policy call was timed:\n{text}"
    );
    assert_eq!(
        sample(&text, "accord_group_commit_ballots_total", &[]),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "accord_group_commit_batches_total", &[]),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "accord_group_commit_largest_batch", &[]),
        Some(1.0)
    );

    // A ballot refused on the closed proposal is counted with its code, not as a ballot.
    let refused = server
        .proposals()
        .cast_ballot(CastBallotRequest {
            proposal: created.name.clone(),
            ballot: Some(ballot("DEU", Choice::Support)),
        })
        .await;
    assert_status(refused, Code::FailedPrecondition, &[]);
    let text = scrape(&server).await;
    assert_eq!(
        value(
            &text,
            "accord_rpc_requests_total",
            &rpc("ProposalService", "CastBallot", "FailedPrecondition")
        ),
        1.0
    );
    assert_eq!(sample(&text, "accord_ballots_cast_total", &[]), Some(1.0));

    // Only /metrics is served.
    let (status, _) = http_get(server.metrics_addr.unwrap(), "/other").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_policy_shows_as_unhealthy() {
    let server = TestServer::start(Options {
        metrics: true,
        ..Options::default()
    })
    .await;
    server
        .policies()
        .disable_policy(server.operator(DisablePolicyRequest {
            name: "policies/weighted".into(),
        }))
        .await
        .expect("disable weighted");
    let text = scrape(&server).await;
    assert_eq!(
        sample(&text, "accord_policy_healthy", &[("policy", "weighted")]),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "accord_policy_healthy", &[("policy", "unanimity")]),
        Some(1.0)
    );
}

/// The TCP ports process `pid` listens on (from /proc: its socket inodes, matched against the
/// listening sockets of /proc/net/tcp and tcp6).
fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the server's fds")
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().to_string();
            Some(
                target
                    .strip_prefix("socket:[")?
                    .trim_end_matches(']')
                    .to_string(),
            )
        })
        .collect();
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address is field 1 ("ADDR:PORT" in hex), st field 3 (0A = LISTEN), inode 9.
            if fields.len() > 9 && fields[3] == "0A" && inodes.contains(fields[9]) {
                let port = fields[1].rsplit(':').next().unwrap();
                ports.push(u16::from_str_radix(port, 16).unwrap());
            }
        }
    }
    ports.sort();
    ports
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_off_by_default_and_open_no_port() {
    let server = TestServer::start_default().await;
    assert_eq!(server.metrics_addr, None, "no metrics address announced");
    assert_eq!(
        listening_ports(server.pid()),
        vec![server.addr.port()],
        "only the gRPC port is open"
    );

    let with_metrics = TestServer::start(Options {
        metrics: true,
        ..Options::default()
    })
    .await;
    let mut expected = vec![
        with_metrics.addr.port(),
        with_metrics.metrics_addr.unwrap().port(),
    ];
    expected.sort();
    assert_eq!(listening_ports(with_metrics.pid()), expected);
}
