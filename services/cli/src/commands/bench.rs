//! `accord bench`: a load generator. It drives a running server (or, with `--embedded`, one
//! started in this process) with N concurrent streams for T seconds per workload, after a short
//! warm-up, and reports for each workload the requests, the errors, the throughput and the
//! p50 / p99 / p99.9 latency (HdrHistogram), as a table or as JSON (`--json`).
//!
//! The workloads run one after the other in one run, so that they share the machine's state:
//!
//! | workload | the call |
//! |---|---|
//! | `health` | the standard `grpc.health.v1.Health/Check` (the transport's ceiling) |
//! | `get-member` | `GetMember` of `members/ALB`, `members/BEL`, … in turn (a read) |
//! | `ballot` | `CastBallot` (durable) on a proposal the bench creates: a motion under the silence procedure with its deadline a day ahead, so that support and abstain ballots never settle it; members and choices (support, abstain) in turn |
//! | `evaluate` | `EvaluateProposal` of that proposal under every loaded policy (or `--evaluate-policies`), after one more ballot per member (the sponsor supports, the others support and abstain in turn), so that every run evaluates the same ballots |
//!
//! The streams are tasks sharing `--connections` HTTP/2 connections (default 1, as a real
//! client does: one tonic `Channel` multiplexes every concurrent call as an HTTP/2 stream);
//! stream `i` uses connection `i mod connections`. Every loop stops by itself: a stream starts
//! no request after its workload's time is up, and each request has a time limit
//! (`--request-timeout`). Only requests started after the warm-up count; throughput is the
//! successful requests over the time from the end of the warm-up to the last response.
//!
//! At the end the bench withdraws the proposal it created (unless `--keep-proposal`), and
//! prints the two ratios the server's targets are about: ballot throughput / health
//! throughput (target ≥ 0.7) and ballot p99 / health p99 (target ≤ 3), each MET or NOT MET.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use accord_proto::names::MEMBERS;
use accord_proto::v1::evaluate_proposal_request::Subject;
use accord_proto::v1::member_service_client::MemberServiceClient;
use accord_proto::v1::policy_service_client::PolicyServiceClient;
use accord_proto::v1::proposal::Action;
use accord_proto::v1::proposal_service_client::ProposalServiceClient;
use accord_proto::v1::{
    Ballot, CastBallotRequest, Choice, CreateProposalRequest, EvaluateProposalRequest,
    GenericMotion, GetMemberRequest, ListMembersRequest, ListPoliciesRequest, MemberStatus,
    PolicyHealth, PolicyRef, Procedure, Proposal, WithdrawProposalRequest,
};
use accord_scenario::embedded::EmbeddedServer;
use comfy_table::Cell;
use hdrhistogram::Histogram;
use serde_json::json;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::cli::GlobalOptions;
use crate::cli::bench::{BenchArgs, TARGET_STREAMS, Workload};
use crate::client::{CONNECT_TIMEOUT, ConnectError, UsageError, error_chain, normalize_addr};
use crate::output::{self, print, print_json};

/// Target: ballot throughput / health throughput at least this.
pub const TARGET_THROUGHPUT_RATIO: f64 = 0.7;
/// Target: ballot p99 / health p99 at most this.
pub const TARGET_P99_RATIO: f64 = 3.0;

/// The member that sponsors (and withdraws) the bench's proposal.
const SPONSOR: &str = "members/USA";
/// The highest latency the histograms hold: one minute, in microseconds.
const MAX_LATENCY_US: u64 = 60_000_000;

/// What one workload measured.
#[derive(Debug, Clone)]
pub struct WorkloadResult {
    /// Which workload.
    pub workload: Workload,
    /// Successful requests started after the warm-up.
    pub ok: u64,
    /// Failed requests started after the warm-up, by gRPC code (or `TIMEOUT`, `NOT_SERVING`,
    /// `POLICY_ERROR`).
    pub errors: BTreeMap<String, u64>,
    /// The first error message seen, if any.
    pub first_error: Option<String>,
    /// From the end of the warm-up to the last response.
    pub elapsed: Duration,
    /// Latency of the successful requests, in microseconds.
    pub latency: Histogram<u64>,
}

impl WorkloadResult {
    /// Failed requests.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Successful requests per second.
    pub fn throughput(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }

    /// A latency quantile in milliseconds (0 when nothing succeeded).
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.latency.is_empty() {
            0.0
        } else {
            self.latency.value_at_quantile(q) as f64 / 1000.0
        }
    }

    fn max_ms(&self) -> f64 {
        self.latency.max() as f64 / 1000.0
    }

    fn mean_ms(&self) -> f64 {
        self.latency.mean() / 1000.0
    }
}

/// One target: its ratio, the bound and whether it is met.
#[derive(Debug, Clone)]
pub struct Target {
    /// What is compared, in words.
    pub what: &'static str,
    /// The measured ratio.
    pub ratio: f64,
    /// "≥ 0.7" or "≤ 3", from [`TARGET_THROUGHPUT_RATIO`] and [`TARGET_P99_RATIO`].
    pub bound: String,
    /// Whether the ratio meets the bound.
    pub met: bool,
}

/// The two targets, when both the health and the ballot workloads ran.
pub fn targets(results: &[WorkloadResult]) -> Vec<Target> {
    let find = |w: Workload| results.iter().find(|r| r.workload == w);
    let (Some(health), Some(ballot)) = (find(Workload::Health), find(Workload::Ballot)) else {
        return Vec::new();
    };
    let throughput = if health.throughput() > 0.0 {
        ballot.throughput() / health.throughput()
    } else {
        0.0
    };
    let health_p99 = health.quantile_ms(0.99);
    let p99 = if health_p99 > 0.0 {
        ballot.quantile_ms(0.99) / health_p99
    } else {
        f64::INFINITY
    };
    let clean = ballot.error_count() == 0 && health.error_count() == 0;
    vec![
        Target {
            what: "ballot throughput / health throughput",
            ratio: throughput,
            bound: format!("≥ {TARGET_THROUGHPUT_RATIO}"),
            met: clean && throughput >= TARGET_THROUGHPUT_RATIO,
        },
        Target {
            what: "ballot p99 / health p99",
            ratio: p99,
            bound: format!("≤ {TARGET_P99_RATIO}"),
            met: clean && p99 <= TARGET_P99_RATIO,
        },
    ]
}

/// Runs `accord bench`.
pub async fn run(global: &GlobalOptions, args: BenchArgs) -> anyhow::Result<()> {
    let server = if args.embedded {
        Some(EmbeddedServer::start(args.plugin_dir.clone()).await?)
    } else {
        None
    };
    let addr = match &server {
        Some(server) => server.url(),
        None => normalize_addr(&global.addr),
    };
    let result = bench(global, &args, &addr).await;
    if let Some(server) = server {
        server.shutdown().await;
    }
    result
}

async fn connect(addr: &str, given: &str) -> anyhow::Result<Channel> {
    let endpoint = Endpoint::from_shared(addr.to_string())
        .map_err(|e| UsageError(format!("invalid --addr `{given}`: {e}")))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true);
    Ok(endpoint.connect().await.map_err(|e| ConnectError {
        addr: addr.to_string(),
        reason: error_chain(&e),
    })?)
}

async fn bench(global: &GlobalOptions, args: &BenchArgs, addr: &str) -> anyhow::Result<()> {
    let mut channels = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        channels.push(connect(addr, &global.addr).await?);
    }
    let control = channels[0].clone();
    let workloads: Vec<Workload> = if args.workloads.is_empty() {
        vec![
            Workload::Health,
            Workload::GetMember,
            Workload::Ballot,
            Workload::Evaluate,
        ]
    } else {
        let mut seen = Vec::new();
        for w in &args.workloads {
            if !seen.contains(w) {
                seen.push(*w);
            }
        }
        seen
    };

    // What the workloads need: the active members, and a proposal for ballots and evaluations.
    let members: Vec<String> = MemberServiceClient::new(control.clone())
        .list_members(ListMembersRequest {
            page_size: 1000,
            status: MemberStatus::Active as i32,
            ..Default::default()
        })
        .await?
        .into_inner()
        .members
        .into_iter()
        .map(|m| m.name)
        .collect();
    if members.is_empty() {
        anyhow::bail!("the server has no active member to read or to vote with");
    }
    let needs_proposal = workloads
        .iter()
        .any(|w| matches!(w, Workload::Ballot | Workload::Evaluate));
    let proposal = if needs_proposal {
        Some(create_proposal(&control).await?)
    } else {
        None
    };
    let evaluate_policies: Vec<PolicyRef> = args
        .evaluate_policies
        .iter()
        .flat_map(|l| l.0.iter().cloned())
        .collect();

    let settings = Settings {
        streams: args.streams,
        warmup: Duration::from_secs_f64(args.warmup),
        measure: Duration::from_secs_f64(args.seconds),
        timeout: Duration::from_secs_f64(args.request_timeout.max(0.001)),
    };
    if !global.json {
        print(format!(
            "accord bench: {addr}, {} streams over {} HTTP/2 connection{}, {}s warm-up + {}s per workload",
            args.streams,
            args.connections,
            if args.connections == 1 { "" } else { "s" },
            args.warmup,
            args.seconds
        ));
        if let Some(p) = &proposal {
            print(format!(
                "proposal for ballots and evaluations: {} (silence procedure, deadline in 1 day)",
                p.name
            ));
        }
    }
    let members = Arc::new(members);
    let mut results = Vec::new();
    for workload in &workloads {
        if !global.json {
            eprintln!("running {} …", workload.name());
        }
        let result = match workload {
            Workload::Health => {
                drive(*workload, &channels, &settings, |channel, _n| async move {
                    let response = HealthClient::new(channel)
                        .check(HealthCheckRequest {
                            service: String::new(),
                        })
                        .await
                        .map_err(Failure::from)?;
                    if response.into_inner().status() == ServingStatus::Serving {
                        Ok(())
                    } else {
                        Err(Failure::new("NOT_SERVING", "the server is not serving"))
                    }
                })
                .await
            }
            Workload::GetMember => {
                let members = members.clone();
                drive(*workload, &channels, &settings, move |channel, n| {
                    let name = members[n as usize % members.len()].clone();
                    async move {
                        MemberServiceClient::new(channel)
                            .get_member(GetMemberRequest { name })
                            .await
                            .map_err(Failure::from)?;
                        Ok(())
                    }
                })
                .await
            }
            Workload::Ballot => {
                let members = members.clone();
                let proposal = proposal.as_ref().expect("created").name.clone();
                drive(*workload, &channels, &settings, move |channel, n| {
                    let member = members[n as usize % members.len()].clone();
                    // Support and abstain in turn, changing with each round of the members.
                    let choice = if (n / members.len() as u64) % 2 == 0 {
                        Choice::Support
                    } else {
                        Choice::Abstain
                    };
                    let request = CastBallotRequest {
                        proposal: proposal.clone(),
                        ballot: Some(Ballot {
                            member,
                            choice: choice as i32,
                            reason: "accord bench".to_string(),
                            ..Default::default()
                        }),
                    };
                    async move {
                        ProposalServiceClient::new(channel)
                            .cast_ballot(request)
                            .await
                            .map_err(Failure::from)?;
                        Ok(())
                    }
                })
                .await
            }
            Workload::Evaluate => {
                let proposal = proposal.as_ref().expect("created").name.clone();
                fixed_ballots(&control, &proposal, &members).await?;
                let policies = evaluate_policies.clone();
                drive(*workload, &channels, &settings, move |channel, _n| {
                    let request = EvaluateProposalRequest {
                        subject: Some(Subject::Name(proposal.clone())),
                        policies: policies.clone(),
                        ..Default::default()
                    };
                    async move {
                        let response = ProposalServiceClient::new(channel)
                            .evaluate_proposal(request)
                            .await
                            .map_err(Failure::from)?
                            .into_inner();
                        match response.evaluations.iter().find(|e| e.error_code != 0) {
                            Some(e) => Err(Failure::new(
                                "POLICY_ERROR",
                                format!("{}: {}", e.policy, e.error_message),
                            )),
                            None => Ok(()),
                        }
                    }
                })
                .await
            }
        };
        results.push(result);
    }

    if let (Some(p), false) = (&proposal, args.keep_proposal) {
        if let Err(e) = ProposalServiceClient::new(control.clone())
            .withdraw_proposal(WithdrawProposalRequest {
                name: p.name.clone(),
                requester: SPONSOR.to_string(),
            })
            .await
        {
            eprintln!(
                "warning: could not withdraw {}: {}",
                p.name,
                output::status_line(&e)
            );
        }
    }

    let targets = targets(&results);
    if global.json {
        print_json(&report_json(addr, args, &results, &targets));
    } else {
        print_report(args, &results, &targets);
    }
    Ok(())
}

/// Creates the proposal the ballot and evaluate workloads use: a motion under the silence
/// procedure, deadline one day ahead, decided by the unanimity policy when it is loaded (so that
/// support and abstain ballots never settle it before its deadline).
async fn create_proposal(channel: &Channel) -> anyhow::Result<Proposal> {
    let policies = PolicyServiceClient::new(channel.clone())
        .list_policies(ListPoliciesRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await?
        .into_inner()
        .policies;
    let unanimity = policies.iter().any(|p| {
        p.descriptor.as_ref().is_some_and(|d| d.id == "unanimity")
            && p.health == PolicyHealth::Healthy as i32
    });
    let deadline = prost_types::Timestamp::from(SystemTime::now() + Duration::from_secs(86_400));
    let proposal = Proposal {
        title: "accord bench".to_string(),
        description: "Created by `accord bench` to measure CastBallot and EvaluateProposal; \
                      withdrawn when the bench ends."
            .to_string(),
        sponsor: SPONSOR.to_string(),
        procedure: Procedure::Silence as i32,
        deadline: Some(deadline),
        policy: unanimity.then(|| PolicyRef {
            policy_id: "unanimity".to_string(),
            parameters: Default::default(),
        }),
        action: Some(Action::GenericMotion(GenericMotion {
            target: format!("{MEMBERS}/USA"),
            text: "The alliance measures how fast it decides.".to_string(),
        })),
        ..Default::default()
    };
    let created = ProposalServiceClient::new(channel.clone())
        .create_proposal(CreateProposalRequest {
            proposal: Some(proposal),
        })
        .await?
        .into_inner()
        .proposal
        .ok_or_else(|| anyhow::anyhow!("the server created no proposal"))?;
    Ok(created)
}

/// Casts one ballot per member so that the evaluate workload decides the same ballots in every
/// run (whatever the ballot workload left): the sponsor supports, the others support and
/// abstain in turn, in member order.
async fn fixed_ballots(
    channel: &Channel,
    proposal: &str,
    members: &[String],
) -> anyhow::Result<()> {
    let mut client = ProposalServiceClient::new(channel.clone());
    for (i, member) in members.iter().enumerate() {
        let choice = if member == SPONSOR || i % 2 == 0 {
            Choice::Support
        } else {
            Choice::Abstain
        };
        client
            .cast_ballot(CastBallotRequest {
                proposal: proposal.to_string(),
                ballot: Some(Ballot {
                    member: member.clone(),
                    choice: choice as i32,
                    reason: "accord bench: the ballots evaluated".to_string(),
                    ..Default::default()
                }),
            })
            .await?;
    }
    Ok(())
}

/// How the workloads run.
#[derive(Debug, Clone, Copy)]
struct Settings {
    streams: usize,
    warmup: Duration,
    measure: Duration,
    timeout: Duration,
}

/// A failed request: its code (a gRPC code name, or the bench's own) and message.
#[derive(Debug)]
struct Failure {
    code: String,
    message: String,
}

impl Failure {
    fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_string(),
            message: message.into(),
        }
    }
}

impl From<tonic::Status> for Failure {
    fn from(status: tonic::Status) -> Self {
        Self::new(
            output::code_name(status.code()),
            output::status_line(&status),
        )
    }
}

/// What one stream measured.
struct StreamResult {
    ok: u64,
    errors: BTreeMap<String, u64>,
    first_error: Option<String>,
    last_response: Instant,
    latency: Histogram<u64>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

/// Runs `call` from `settings.streams` tasks until the warm-up and the measurement are over
/// (and each stream has measured at least one request: the measurement then runs a little
/// longer, and the throughput divides by the time it really took);
/// `call` gets the stream's channel and a number that increases over all streams (for rotating
/// members and choices).
async fn drive<F, Fut>(
    workload: Workload,
    channels: &[Channel],
    settings: &Settings,
    call: F,
) -> WorkloadResult
where
    F: Fn(Channel, u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Failure>> + Send + 'static,
{
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let measure_from = start + settings.warmup;
    let stop_at = measure_from + settings.measure;
    let timeout = settings.timeout;
    let mut tasks = Vec::with_capacity(settings.streams);
    for stream in 0..settings.streams {
        let channel = channels[stream % channels.len()].clone();
        let call = call.clone();
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            let mut result = StreamResult {
                ok: 0,
                errors: BTreeMap::new(),
                first_error: None,
                last_response: measure_from,
                latency: histogram(),
            };
            loop {
                let began = Instant::now();
                // Each stream measures at least one request: on a loaded machine a warm-up
                // request can outlast a short window, which would leave nothing measured.
                let measured = result.ok + result.errors.values().sum::<u64>();
                if began >= stop_at && measured > 0 {
                    break;
                }
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let outcome = match tokio::time::timeout(timeout, call(channel.clone(), n)).await {
                    Ok(outcome) => outcome,
                    Err(_) => Err(Failure::new("TIMEOUT", "the request's time limit passed")),
                };
                let ended = Instant::now();
                if began < measure_from {
                    continue; // warm-up
                }
                result.last_response = result.last_response.max(ended);
                match outcome {
                    Ok(()) => {
                        let us = (ended - began).as_micros().clamp(1, MAX_LATENCY_US as u128);
                        result.latency.saturating_record(us as u64);
                        result.ok += 1;
                    }
                    Err(failure) => {
                        *result.errors.entry(failure.code).or_default() += 1;
                        result.first_error.get_or_insert(failure.message);
                    }
                }
            }
            result
        }));
    }
    let mut total = WorkloadResult {
        workload,
        ok: 0,
        errors: BTreeMap::new(),
        first_error: None,
        elapsed: Duration::ZERO,
        latency: histogram(),
    };
    let mut last = measure_from;
    for task in tasks {
        let stream = match task.await {
            Ok(stream) => stream,
            Err(e) => {
                *total.errors.entry("PANIC".to_string()).or_default() += 1;
                total.first_error.get_or_insert(e.to_string());
                continue;
            }
        };
        total.ok += stream.ok;
        for (code, count) in stream.errors {
            *total.errors.entry(code).or_default() += count;
        }
        if total.first_error.is_none() {
            total.first_error = stream.first_error;
        }
        last = last.max(stream.last_response);
        total
            .latency
            .add(&stream.latency)
            .expect("histograms with the same bounds add");
    }
    total.elapsed = last.saturating_duration_since(measure_from);
    total
}

fn ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

fn print_report(args: &BenchArgs, results: &[WorkloadResult], targets: &[Target]) {
    let mut table = output::table(&[
        "workload", "requests", "errors", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms",
    ]);
    for r in results {
        table.add_row(vec![
            Cell::new(r.workload.name()),
            Cell::new(r.ok + r.error_count()),
            Cell::new(r.error_count()),
            Cell::new(format!("{:.0}", r.throughput())),
            Cell::new(ms(r.quantile_ms(0.50))),
            Cell::new(ms(r.quantile_ms(0.99))),
            Cell::new(ms(r.quantile_ms(0.999))),
            Cell::new(ms(r.max_ms())),
        ]);
    }
    output::align_right(&mut table, &[1, 2, 3, 4, 5, 6, 7]);
    print(table);
    for r in results.iter().filter(|r| r.error_count() > 0) {
        let codes: Vec<String> = r.errors.iter().map(|(c, n)| format!("{c} ×{n}")).collect();
        print(format!(
            "{} errors: {}; first: {}",
            r.workload.name(),
            codes.join(", "),
            r.first_error.as_deref().unwrap_or("?")
        ));
    }
    if targets.is_empty() {
        return;
    }
    let note = if args.streams == TARGET_STREAMS {
        String::new()
    } else {
        format!(
            " (the targets are stated at {TARGET_STREAMS} streams; this run used {})",
            args.streams
        )
    };
    print(format!("targets{note}:"));
    for t in targets {
        print(format!(
            "  {:<40} {:>6.2}   target {:<6} {}",
            t.what,
            t.ratio,
            t.bound,
            if t.met { "MET" } else { "NOT MET" }
        ));
    }
}

fn report_json(
    addr: &str,
    args: &BenchArgs,
    results: &[WorkloadResult],
    targets: &[Target],
) -> serde_json::Value {
    let workloads: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            json!({
                "workload": r.workload.name(),
                "requests": r.ok + r.error_count(),
                "ok": r.ok,
                "errors": r.error_count(),
                "errorCodes": r.errors,
                "firstError": r.first_error,
                "seconds": r.elapsed.as_secs_f64(),
                "throughput": r.throughput(),
                "latencyMs": {
                    "mean": r.mean_ms(),
                    "p50": r.quantile_ms(0.50),
                    "p90": r.quantile_ms(0.90),
                    "p99": r.quantile_ms(0.99),
                    "p999": r.quantile_ms(0.999),
                    "max": r.max_ms(),
                },
            })
        })
        .collect();
    let targets: Vec<serde_json::Value> = targets
        .iter()
        .map(|t| {
            json!({
                "what": t.what,
                "ratio": if t.ratio.is_finite() { json!(t.ratio) } else { json!(null) },
                "target": t.bound,
                "met": t.met,
            })
        })
        .collect();
    json!({
        "server": addr,
        "embedded": args.embedded,
        "streams": args.streams,
        "connections": args.connections,
        "warmupSeconds": args.warmup,
        "seconds": args.seconds,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "workloads": workloads,
        "targets": targets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(workload: Workload, ok: u64, secs: u64, latency_us: &[u64]) -> WorkloadResult {
        let mut latency = histogram();
        for us in latency_us {
            latency.record(*us).unwrap();
        }
        WorkloadResult {
            workload,
            ok,
            errors: BTreeMap::new(),
            first_error: None,
            elapsed: Duration::from_secs(secs),
            latency,
        }
    }

    #[test]
    fn targets_compare_ballots_with_health() {
        let health = result(Workload::Health, 10_000, 1, &[1_000; 100]);
        let ballot = result(Workload::Ballot, 7_500, 1, &[2_500; 100]);
        let t = targets(&[health.clone(), ballot]);
        assert_eq!(t.len(), 2);
        assert!((t[0].ratio - 0.75).abs() < 1e-9 && t[0].met);
        assert!((t[1].ratio - 2.5).abs() < 0.01 && t[1].met);
        assert_eq!((t[0].bound.as_str(), t[1].bound.as_str()), ("≥ 0.7", "≤ 3"));
        let slow = result(Workload::Ballot, 6_000, 1, &[4_000; 100]);
        let t = targets(&[health.clone(), slow]);
        assert!((t[0].ratio - 0.6).abs() < 1e-9 && !t[0].met);
        assert!((t[1].ratio - 4.0).abs() < 0.01 && !t[1].met);
        let mut failing = result(Workload::Ballot, 7_500, 1, &[2_500; 100]);
        failing.errors.insert("INTERNAL".into(), 1);
        assert!(targets(&[health.clone(), failing]).iter().all(|t| !t.met));
        assert!(targets(&[health]).is_empty());
    }
}
