//! One summary table of accord's benchmark cases, measured in one process.
//!
//! `cargo run --release -p accord-bench --bin bench-report`
//!
//! The same cases as the criterion benches (`cargo bench -p accord-bench`), each timed with a
//! warm-up and the median of repeated samples (see `accord_bench::timing`), printed as one
//! Markdown table for `docs/BENCHMARKS.md`: the case, what was measured, the baseline measured
//! in the same run where a ratio is asked (library against linked-in, in alternating samples),
//! the target and MET / NOT MET. Measures for about 45 s (after the build).
//!
//! `bench-report isolated` (or `boundary`, `power`, `pressure`, several allowed) runs only those
//! sections. The isolated rows need the release runner: `cargo build --release -p
//! accord-policy-runner`.
//!
//! `bench-report scale` (only when asked for: about a minute) times each policy, linked in, on
//! synthetic electorates of 10,000 and 100,000 members (`accord_bench::synthetic_request`)
//! against issue 10's targets (100 ms and 1 s without power indices), and the weighted policy's
//! power-analysis cache (the same electorate and rule decided again).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use accord_bench::timing::{Measurement, Plan, measure, measure_pair};
use accord_bench::{
    SEED, end_nmi_request, nato_pressure_scenario, nato_spending_game, pressure_mapping_matches,
    release_library, release_runner_path, same_decision, synthetic_game,
    synthetic_pressure_scenario, synthetic_request, with_parameters,
};
use accord_policy_sdk::DecisionPolicy;
use accord_policy_sdk::electorate::ElectorateSnapshot;
use accord_policy_sdk::prost::Message;
use accord_policy_sdk::proto::{DecisionRequest, DecisionResponse, Outcome};
use accord_pressure::model::{MonteCarlo, Scenario};
use accord_weighted::power::{Game, MAX_PLAYERS, power_indices};

/// The boundary target: the library path at most this many times the linked-in call.
const BOUNDARY_RATIO: f64 = 1.1;
/// The isolated-mode target: what a runner adds to a decision at 32 allies.
const ISOLATED_OVERHEAD: Duration = Duration::from_micros(50);
/// The power-index target for the 32 allies at $1 m.
const POWER_LIMIT: Duration = Duration::from_secs(1);
/// The Monte Carlo target, trials per second per core.
const TRIALS_PER_CORE: f64 = 1e6;
/// Issue 10: a decision of 10,000 members without power indices.
const SCALE_10K: Duration = Duration::from_millis(100);
/// Issue 10: a decision of 100,000 members without power indices.
const SCALE_100K: Duration = Duration::from_secs(1);

struct Row {
    case: String,
    measured: String,
    baseline: String,
    ratio: String,
    target: String,
    result: String,
}

impl Row {
    fn info(case: String, measured: String) -> Self {
        Row {
            case,
            measured,
            baseline: "—".into(),
            ratio: "—".into(),
            target: "—".into(),
            result: "—".into(),
        }
    }
}

fn verdict(met: bool) -> String {
    if met { "MET" } else { "**NOT MET**" }.to_string()
}

fn time(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else if s >= 1e-6 {
        format!("{:.1} µs", s * 1e6)
    } else {
        format!("{:.0} ns", s * 1e9)
    }
}

fn rate(per_second: f64) -> String {
    if per_second >= 1e6 {
        format!("{:.2} M", per_second / 1e6)
    } else {
        format!("{:.0} k", per_second / 1e3)
    }
}

fn spread(m: &Measurement) -> String {
    format!("{} ({} samples × {})", time(m.median), m.samples, m.batch)
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

fn boundary(rows: &mut Vec<Row>) {
    let request = end_nmi_request();
    let cases: [(&str, &str, &dyn DecisionPolicy, DecisionRequest); 4] = [
        (
            "unanimity",
            "accord_unanimity",
            &accord_unanimity::Unanimity,
            request.clone(),
        ),
        (
            "weighted (defaults: $1 m units, exact indices)",
            "accord_weighted",
            &accord_weighted::WeightedPolicy,
            request.clone(),
        ),
        (
            "pressure (defaults: 100,000 trials, 1 thread)",
            "accord_pressure",
            &accord_pressure::PressurePolicy,
            request.clone(),
        ),
        (
            "pressure, trials = 1,000",
            "accord_pressure",
            &accord_pressure::PressurePolicy,
            with_parameters(request.clone(), &[("trials", "1000")]),
        ),
    ];
    for (label, name, policy, request) in cases {
        let library = release_library(name);
        let linked = policy.decide_message(&request).expect("linked-in decision");
        let loaded = library.decide(&request).expect("library decision");
        assert!(
            same_decision(&linked, &loaded),
            "{label}: {} decides differently from the linked-in policy: is it stale?",
            library.source().display()
        );
        // The server's path (ABI 1.1): the members registered once, each request names them.
        let snapshot = ElectorateSnapshot::new(&request.members);
        let without = DecisionRequest {
            members: Vec::new(),
            ..request.clone()
        };
        let named = library
            .decide_in(&snapshot, &without)
            .expect("named decision");
        assert_eq!(named, loaded, "{label}: named and inline decisions differ");
        eprintln!("  {label}: {}", library.source().display());
        let start = Instant::now();
        policy.decide_message(&request).unwrap();
        let plan = Plan::for_call(start.elapsed());
        let (base, lib) = measure_pair(
            &plan,
            || policy.decide_message(&request).unwrap(),
            || library.decide_in(&snapshot, &without).unwrap(),
        );
        let ratio = lib.median.as_secs_f64() / base.median.as_secs_f64();
        rows.push(Row {
            case: format!(
                "Boundary — {label}: library path (ABI 1.1, electorate registered) vs linked-in"
            ),
            measured: spread(&lib),
            baseline: spread(&base),
            ratio: format!("{ratio:.2}×"),
            target: format!("≤ {BOUNDARY_RATIO:.1}×"),
            result: verdict(ratio <= BOUNDARY_RATIO),
        });
        let (base, inline) = measure_pair(
            &plan,
            || policy.decide_message(&request).unwrap(),
            || library.decide(&request).unwrap(),
        );
        rows.push(Row {
            case: format!("Boundary — {label}: members in every request (the ABI 1.0 path)"),
            measured: spread(&inline),
            baseline: spread(&base),
            ratio: format!(
                "{:.2}×",
                inline.median.as_secs_f64() / base.median.as_secs_f64()
            ),
            target: "— (for comparison)".into(),
            result: String::new(),
        });
    }
}

/// Isolated mode: the same decision through a supervised `accord-policy-runner` (encode, the
/// server's pipelined call over the pipe, the runner's call into the library, decode) against
/// the in-process library path, in alternating samples. The in-process path here leaves out the
/// server's hop to the blocking pool, so the overhead shown is, if anything, too high.
fn isolated(rows: &mut Vec<Row>) {
    use accord_server::isolated::{IsolatedPolicy, RunnerSettings};
    let runner = release_runner_path().unwrap_or_else(|e| panic!("accord-bench: {e}"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let request = end_nmi_request();
    let snapshot = ElectorateSnapshot::new(&request.members);
    let without = DecisionRequest {
        members: Vec::new(),
        ..request.clone()
    };
    for (label, name) in [
        ("unanimity", "accord_unanimity"),
        ("weighted (defaults)", "accord_weighted"),
    ] {
        let library = release_library(name);
        let copy =
            std::env::temp_dir().join(format!("accord-bench-{}-{name}.so", std::process::id()));
        std::fs::copy(library.source(), &copy).expect("copy the library for the runner");
        let (policy, _) = runtime
            .block_on(IsolatedPolicy::start(
                name.to_string(),
                copy,
                library.identity().library_sha256.clone(),
                RunnerSettings {
                    program: runner.clone(),
                    memory_limit_mb: 1024,
                    cpu_seconds: 0,
                    threads: 2,
                },
            ))
            .unwrap_or_else(|e| panic!("accord-bench: cannot start the runner: {e}"));
        let isolated_decide = || {
            runtime.block_on(async {
                let reply = policy
                    .call(
                        &without.encode_to_vec(),
                        Some(&snapshot),
                        Duration::from_secs(30),
                    )
                    .await
                    .expect("isolated call");
                assert_eq!(reply.status, 0);
                DecisionResponse::decode(reply.payload.as_slice())
                    .expect("a DecisionResponse")
                    .decision
                    .expect("a decision")
            })
        };
        let loaded = library.decide(&request).expect("library decision");
        assert!(
            same_decision(&loaded, &isolated_decide()),
            "{label}: the runner decides differently"
        );
        let start = Instant::now();
        isolated_decide();
        let plan = Plan::for_call(start.elapsed());
        let (base, iso) = measure_pair(
            &plan,
            || library.decide_in(&snapshot, &without).unwrap(),
            isolated_decide,
        );
        let added = iso.median.saturating_sub(base.median);
        rows.push(Row {
            case: format!("Isolated — {label}: runner vs in-process library path, 32 allies"),
            measured: spread(&iso),
            baseline: spread(&base),
            ratio: format!(
                "{:.2}× (+{})",
                iso.median.as_secs_f64() / base.median.as_secs_f64(),
                time(added)
            ),
            target: format!("< {} added", time(ISOLATED_OVERHEAD)),
            result: verdict(added < ISOLATED_OVERHEAD),
        });
    }
}

/// What the library path adds, measured linked in: the protobuf work on each side and a call
/// across the C ABI that does almost nothing.
fn boundary_parts(rows: &mut Vec<Row>) {
    let request = end_nmi_request();
    let bytes = request.encode_to_vec();
    let mut parts: Vec<(String, Measurement)> = vec![
        (
            format!("encode the request ({} bytes)", bytes.len()),
            measure(&Plan::FAST, || request.encode_to_vec()),
        ),
        (
            "decode the request (the plugin's side)".into(),
            measure(&Plan::FAST, || {
                DecisionRequest::decode(bytes.as_slice()).unwrap()
            }),
        ),
    ];
    let policies: [(&str, &dyn DecisionPolicy); 3] = [
        ("unanimity", &accord_unanimity::Unanimity),
        ("weighted", &accord_weighted::WeightedPolicy),
        ("pressure", &accord_pressure::PressurePolicy),
    ];
    for (label, policy) in policies {
        let response = DecisionResponse {
            decision: Some(policy.decide_message(&request).unwrap()),
        };
        let encoded = response.encode_to_vec();
        parts.push((
            format!("encode {label}'s answer ({} bytes)", encoded.len()),
            measure(&Plan::FAST, || response.encode_to_vec()),
        ));
        parts.push((
            format!("decode {label}'s answer"),
            measure(&Plan::FAST, || {
                DecisionResponse::decode(encoded.as_slice()).unwrap()
            }),
        ));
    }
    let unanimity = release_library("accord_unanimity");
    let empty = DecisionRequest::default().encode_to_vec();
    assert!(unanimity.decide_bytes(&empty).is_err());
    parts.push((
        "one call across the C ABI refused at once (empty request → INVALID_REQUEST)".into(),
        measure(&Plan::FAST, || unanimity.decide_bytes(&empty)),
    ));
    for (label, m) in parts {
        rows.push(Row::info(format!("Boundary parts — {label}"), spread(&m)));
    }
}

fn time_power(game: &Game) -> Result<Measurement, String> {
    let start = Instant::now();
    power_indices(game).map_err(|e| e.to_string())?;
    let plan = Plan::for_call(start.elapsed());
    Ok(measure(&plan, || power_indices(game).unwrap()))
}

fn power(rows: &mut Vec<Row>) {
    for (label, unit) in [("$1 bn", 1000.0), ("$100 m", 100.0), ("$1 m", 1.0)] {
        let game = nato_spending_game(unit);
        let case = format!(
            "Power indices — 32 allies by defence spending at {label} (W = {}), quota ⅔",
            game.total_weight()
        );
        let m = time_power(&game).expect("the NATO game is computable");
        let mut row = Row::info(case, spread(&m));
        if unit == 1.0 {
            row.target = format!("< {} on one core", time(POWER_LIMIT));
            row.result = verdict(m.median < POWER_LIMIT);
        }
        rows.push(row);
    }
    for members in [8usize, 16, 32, 64, 127] {
        for total in [1_000u64, 10_000, 100_000, 1_000_000] {
            let game = synthetic_game(members, total);
            let case = format!("Power indices — synthetic, {members} members, W ≈ {total}");
            let measured = match time_power(&game) {
                Ok(m) => spread(&m),
                Err(e) => format!("refused: {}", first_line(&e)),
            };
            rows.push(Row::info(case, measured));
        }
    }
    let too_many = Game::weighted(vec![1; MAX_PLAYERS + 1], 86);
    rows.push(Row::info(
        format!("Power indices — {} members", MAX_PLAYERS + 1),
        format!(
            "refused by design: {}",
            power_indices(&too_many).map(|_| ()).unwrap_err()
        ),
    ));
}

fn per_second(trials: u64, d: Duration) -> f64 {
    trials as f64 / d.as_secs_f64()
}

/// One thread and every core, in alternating samples: two rows, the second with the first as
/// its baseline (the ratio is the speed-up).
fn monte_carlo_rows(rows: &mut Vec<Row>, label: String, scenario: &Scenario, trials: u64) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let config = |threads| MonteCarlo {
        trials,
        seed: SEED,
        threads,
    };
    let (one, all) = (config(1), config(0));
    let start = Instant::now();
    scenario.monte_carlo(&one).unwrap();
    let plan = Plan::for_call(start.elapsed());
    let (m1, mn) = measure_pair(
        &plan,
        || scenario.monte_carlo(&one).unwrap(),
        || scenario.monte_carlo(&all).unwrap(),
    );
    let dissenters = scenario.dissenters().len() as f64;
    let describe = |m: &Measurement| {
        let per_core = per_second(trials, m.cpu_per_call);
        (
            format!(
                "{} trials/s ({} a run); {} trials per CPU-second ({} draws)",
                rate(per_second(trials, m.median)),
                time(m.median),
                rate(per_core),
                rate(per_core * dissenters)
            ),
            per_core,
        )
    };
    let (measured, per_core) = describe(&m1);
    rows.push(Row {
        case: format!("{label}, 1 thread"),
        measured,
        baseline: "—".into(),
        ratio: "—".into(),
        target: "≥ 1 M trials/s per core".into(),
        result: verdict(per_core >= TRIALS_PER_CORE),
    });
    let (measured, per_core) = describe(&mn);
    rows.push(Row {
        case: format!("{label}, threads = 0 ({cores} threads)"),
        measured,
        baseline: format!("1 thread: {}", time(m1.median)),
        ratio: format!(
            "{:.2}× speed-up",
            m1.median.as_secs_f64() / mn.median.as_secs_f64()
        ),
        target: "≥ 1 M trials/s per core".into(),
        result: verdict(per_core >= TRIALS_PER_CORE),
    });
}

/// A CPU-bound loop with no shared data: `units` units of work, split over `threads` threads.
fn spin(units: u64, threads: u64) -> u64 {
    const STEPS: u64 = 2_000_000;
    let work = move |units: u64| {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..units * STEPS {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        x
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = (1..threads)
            .map(|_| scope.spawn(move || work(units / threads)))
            .collect();
        handles
            .into_iter()
            .fold(work(units / threads), |acc, h| acc ^ h.join().unwrap())
    })
}

/// How much faster every core does a perfectly parallel job than one core, right now: the ideal
/// speed-up the threaded Monte Carlo rows can be held against (other work on the machine lowers
/// it).
fn machine_check(rows: &mut Vec<Row>) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let (one, all) = measure_pair(
        &Plan::FAST,
        || spin(cores * 8, 1),
        || spin(cores * 8, cores),
    );
    rows.push(Row {
        case: format!(
            "Machine check — a CPU-bound loop with no shared data, {cores} threads vs 1 (the \
             speed-up threads can get at the moment)"
        ),
        measured: time(all.median),
        baseline: format!("1 thread: {}", time(one.median)),
        ratio: format!(
            "{:.2}× speed-up",
            one.median.as_secs_f64() / all.median.as_secs_f64()
        ),
        target: "—".into(),
        result: "—".into(),
    });
}

fn pressure(rows: &mut Vec<Row>) {
    machine_check(rows);
    pressure_mapping_matches(10_000).expect("the report's scenario is the policy's reading");
    let nato = nato_pressure_scenario();
    for trials in [10_000u64, 100_000, 1_000_000] {
        monte_carlo_rows(
            rows,
            format!("Pressure Monte Carlo — 32 allies (end NMI, 27 dissenters), {trials} trials"),
            &nato,
            trials,
        );
    }
    for members in [8usize, 32, 64, 128] {
        let scenario = synthetic_pressure_scenario(members);
        monte_carlo_rows(
            rows,
            format!(
                "Pressure Monte Carlo — synthetic {members} members ({} dissenters), 100000 trials",
                scenario.dissenters().len()
            ),
            &scenario,
            100_000,
        );
    }
}

/// One call of `policy` on `request`: its outcome (or the refusal), and how long it took.
fn once(
    policy: &dyn DecisionPolicy,
    request: &DecisionRequest,
) -> (Result<String, String>, Duration) {
    let start = Instant::now();
    let decided = policy.decide_message(request);
    let elapsed = start.elapsed();
    let result = decided
        .map(|d| {
            let outcome = Outcome::try_from(d.outcome).unwrap_or(Outcome::Unspecified);
            format!("{outcome:?}").to_lowercase()
        })
        .map_err(|e| first_line(&e.to_string()));
    (result, elapsed)
}

/// A scale case: label, policy, parameters, and whether issue 10's target applies to it.
type ScaleCase<'a> = (
    &'a str,
    &'a dyn DecisionPolicy,
    Vec<(&'a str, &'a str)>,
    bool,
);

/// Issue 10: each policy linked in, on synthetic electorates of 10,000 and 100,000 members,
/// against 100 ms and 1 s; and the weighted policy's power-analysis cache.
fn scale(rows: &mut Vec<Row>) {
    let weighted = &accord_weighted::WeightedPolicy;
    let pressure = &accord_pressure::PressurePolicy;
    for (members, target) in [(10_000usize, SCALE_10K), (100_000, SCALE_100K)] {
        let request = synthetic_request(members);
        let lead = accord_bench::synthetic_lead();
        let cases: [ScaleCase<'_>; 8] = [
            (
                "unanimity (defaults)",
                &accord_unanimity::Unanimity,
                vec![],
                true,
            ),
            (
                "weighted, indices = none",
                weighted,
                vec![("indices", "none")],
                true,
            ),
            (
                "weighted (defaults: Banzhaf and Shapley–Shubik, Monte Carlo past 127 members), \
                 first analysis (cache emptied before each call)",
                weighted,
                vec![],
                false,
            ),
            (
                "pressure, mode = deterministic (mean field)",
                pressure,
                vec![lead, ("mode", "deterministic")],
                true,
            ),
            (
                "pressure, mode = deterministic, base_rule = qualified_majority (quota 0.5)",
                pressure,
                vec![
                    lead,
                    ("mode", "deterministic"),
                    ("base_rule", "qualified_majority"),
                    ("base_quota", "0.5"),
                ],
                true,
            ),
            (
                "pressure (defaults: Monte Carlo, 100,000 trials)",
                pressure,
                vec![lead],
                false,
            ),
            (
                "pressure, Monte Carlo, 1,000 trials",
                pressure,
                vec![lead, ("trials", "1000")],
                false,
            ),
            (
                "bargaining (defaults; the synthetic ballots carry no positions)",
                &accord_bargaining::Bargaining,
                vec![],
                true,
            ),
        ];
        for (label, policy, parameters, targeted) in cases {
            let request = with_parameters(request.clone(), &parameters);
            let first_analysis = label.contains("cache emptied");
            let call = || {
                if first_analysis {
                    accord_weighted::cache::clear();
                }
                policy.decide_message(&request)
            };
            if first_analysis {
                accord_weighted::cache::clear();
            }
            let (result, elapsed) = once(policy, &request);
            let case = format!("Scale — {label}, {members} members");
            let outcome = match &result {
                Ok(outcome) => outcome.clone(),
                Err(refused) => {
                    rows.push(Row::info(
                        case,
                        format!("refused in {}: {refused}", time(elapsed)),
                    ));
                    continue;
                }
            };
            let m = measure(&Plan::for_call(elapsed), call);
            let mut row = Row::info(format!("{case} ({outcome})"), spread(&m));
            row.target = format!("< {}", time(target));
            row.result = if targeted {
                verdict(m.median < target)
            } else {
                format!(
                    "{} (not a target case)",
                    if m.median < target { "under" } else { "over" }
                )
            };
            rows.push(row);
        }
    }
    // The cache: the same electorate and rule decided again, against the first analysis.
    for (label, request) in [
        ("32 allies (exact indices)", end_nmi_request()),
        (
            "10,000 members (Monte Carlo indices)",
            synthetic_request(10_000),
        ),
    ] {
        accord_weighted::cache::clear();
        let first = weighted.decide_message(&request).expect("weighted decides");
        assert_eq!(
            weighted.decide_message(&request).expect("weighted decides"),
            first,
            "cached = computed"
        );
        let start = Instant::now();
        accord_weighted::cache::clear();
        weighted.decide_message(&request).unwrap();
        let plan = Plan::for_call(start.elapsed());
        let (cold, warm) = measure_pair(
            &plan,
            || {
                accord_weighted::cache::clear();
                weighted.decide_message(&request).unwrap()
            },
            || weighted.decide_message(&request).unwrap(),
        );
        rows.push(Row {
            case: format!(
                "Scale — weighted (defaults), {label}: the same electorate and rule again (power \
                 analysis from the cache) vs the first analysis"
            ),
            measured: spread(&warm),
            baseline: spread(&cold),
            ratio: format!(
                "{:.3}×",
                warm.median.as_secs_f64() / cold.median.as_secs_f64()
            ),
            target: "—".into(),
            result: "—".into(),
        });
    }
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or("unknown".into(), |kb| {
            format!("{:.1} GiB", kb / 1024.0 / 1024.0)
        });
    let rustc = std::process::Command::new(std::env::var("RUSTC").unwrap_or("rustc".into()))
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "rustc not found".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{cores} cores ({model}), {memory} memory, {rustc}")
}

/// The 1-minute load average, from `/proc/loadavg`.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn main() {
    let start = Instant::now();
    let machine = machine();
    let load_before = load();
    eprintln!("machine: {machine}");
    let mut rows = Vec::new();
    let only: Vec<String> = std::env::args().skip(1).collect();
    let run = |section: &str| only.is_empty() || only.iter().any(|s| s == section);
    // The large electorates take about a minute: only when asked for.
    let asked = |section: &str| only.iter().any(|s| s == section);
    if run("boundary") {
        eprintln!("boundary…");
        boundary(&mut rows);
        boundary_parts(&mut rows);
    }
    if run("isolated") {
        eprintln!("isolated mode…");
        isolated(&mut rows);
    }
    if run("power") {
        eprintln!("power indices…");
        power(&mut rows);
    }
    if run("pressure") {
        eprintln!("pressure Monte Carlo…");
        pressure(&mut rows);
    }
    if asked("scale") {
        eprintln!("large electorates…");
        scale(&mut rows);
    }

    let mut out = String::new();
    let _ = writeln!(out, "Machine: {machine}.");
    let _ = writeln!(
        out,
        "Median of repeated samples after a warm-up; \"samples × n\" = samples of n calls each. \
         Run time {:.0} s; load average {load_before} before, {} after.",
        start.elapsed().as_secs_f64(),
        load()
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| case | measured | baseline (same run) | ratio | target | result |"
    );
    let _ = writeln!(out, "|---|---|---|---:|---|---|");
    for r in &rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            r.case, r.measured, r.baseline, r.ratio, r.target, r.result
        );
    }
    print!("{out}");
}
