//! The pressure model's Monte Carlo cascade (`accord_pressure::model`), in trials per second
//! (criterion's `Throughput::Elements` = trials).
//!
//! `cargo bench -p accord-bench --bench pressure`
//!
//! - `pressure/nato/{threads}`: the 32 allies on ending NATO Mission Iraq (USA and four allies
//!   support, 27 object and are pressed; the policy's default parameters), 10⁴, 10⁵ and 10⁶
//!   trials.
//! - `pressure/members/{threads}`: synthetic alliances of 8, 32, 64 and 128 members, about 80%
//!   dissenters, 10⁵ trials.
//!
//! `{threads}` is `1thread` (one worker) or `all_cores` (`threads = 0`: one per core). Target:
//! at least 1 million trials per second per core.

use std::hint::black_box;
use std::time::Duration;

use accord_bench::{
    SEED, nato_pressure_scenario, pressure_mapping_matches, synthetic_pressure_scenario,
};
use accord_pressure::model::{MonteCarlo, Scenario};
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};

const THREADS: [(&str, usize); 2] = [("1thread", 1), ("all_cores", 0)];

fn run(scenario: &Scenario, trials: u64, threads: usize) -> f64 {
    scenario
        .monte_carlo(&MonteCarlo {
            trials,
            seed: SEED,
            threads,
        })
        .unwrap()
        .adoption_probability
}

fn nato(c: &mut Criterion) {
    pressure_mapping_matches(10_000).expect("the bench's scenario is the policy's reading");
    let scenario = nato_pressure_scenario();
    for (label, threads) in THREADS {
        let mut group = c.benchmark_group(format!("pressure/nato/{label}"));
        group.sampling_mode(SamplingMode::Flat).sample_size(10);
        for trials in [10_000u64, 100_000, 1_000_000] {
            group.throughput(Throughput::Elements(trials));
            group.measurement_time(Duration::from_secs(if trials >= 1_000_000 { 8 } else { 3 }));
            group.bench_with_input(BenchmarkId::from_parameter(trials), &trials, |b, &t| {
                b.iter(|| run(black_box(&scenario), t, threads))
            });
        }
        group.finish();
    }
}

fn members(c: &mut Criterion) {
    const TRIALS: u64 = 100_000;
    for (label, threads) in THREADS {
        let mut group = c.benchmark_group(format!("pressure/members/{label}"));
        group
            .sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .throughput(Throughput::Elements(TRIALS))
            .measurement_time(Duration::from_secs(4));
        for n in [8usize, 32, 64, 128] {
            let scenario = synthetic_pressure_scenario(n);
            group.bench_with_input(BenchmarkId::from_parameter(n), &scenario, |b, s| {
                b.iter(|| run(black_box(s), TRIALS, threads))
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    targets = nato, members
}
criterion_main!(benches);
