//! Exact power indices (`accord_weighted::power`): Banzhaf and Shapley–Shubik together
//! (`power_indices`), on one core.
//!
//! `cargo bench -p accord-bench --bench power`
//!
//! - `power/nato`: the 32 allies weighted by 2024 defence spending, quota ⅔ of the total, at
//!   $1 bn, $100 m and $1 m per weight unit (target: $1 m in under a second); also
//!   `banzhaf_indices` (Banzhaf alone) at $1 m.
//! - `power/synthetic/{members}`: 8, 16, 32, 64 and 127 members (127 is the library's maximum;
//!   128 is refused by design) with fixed-seed weights totalling 10³ … 10⁶, quota ⅔. A case the
//!   library refuses (its count table would exceed 256 MiB) is reported and skipped.

use std::hint::black_box;
use std::time::{Duration, Instant};

use accord_bench::{nato_spending_game, synthetic_game};
use accord_weighted::power::{Game, MAX_PLAYERS, PowerError, banzhaf_indices, power_indices};
use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};

/// Synthetic sizes and total weights.
const MEMBERS: [usize; 5] = [8, 16, 32, 64, 127];
const TOTALS: [u64; 4] = [1_000, 10_000, 100_000, 1_000_000];

fn nato(c: &mut Criterion) {
    let mut group = c.benchmark_group("power/nato");
    for (label, unit) in [("1bn", 1000.0), ("100m", 100.0), ("1m", 1.0)] {
        let game = nato_spending_game(unit);
        group.bench_with_input(
            BenchmarkId::new("power_indices", label),
            &game,
            |b, game| b.iter(|| power_indices(black_box(game)).unwrap()),
        );
    }
    let game = nato_spending_game(1.0);
    group.bench_with_input(
        BenchmarkId::new("banzhaf_indices", "1m"),
        &game,
        |b, game| b.iter(|| banzhaf_indices(black_box(game)).unwrap()),
    );
    group.finish();
}

fn synthetic(c: &mut Criterion) {
    assert!(matches!(
        power_indices(&Game::weighted(vec![1; MAX_PLAYERS + 1], 86)),
        Err(PowerError::TooManyPlayers(n)) if n == MAX_PLAYERS + 1
    ));
    for members in MEMBERS {
        let mut group = c.benchmark_group(format!("power/synthetic/{members}"));
        for total in TOTALS {
            let game = synthetic_game(members, total);
            // One call first: skip what the library refuses, and pick the sampling for the slow.
            let start = Instant::now();
            match power_indices(&game) {
                Ok(_) => {}
                Err(e) => {
                    eprintln!("power/synthetic/{members}/{total}: refused by the library: {e}");
                    continue;
                }
            }
            let once = start.elapsed();
            if once > Duration::from_millis(50) {
                group.sampling_mode(SamplingMode::Flat).sample_size(10);
                group.measurement_time(once * 12);
            } else {
                group.sampling_mode(SamplingMode::Auto).sample_size(30);
                group.measurement_time(Duration::from_secs(2));
            }
            group.bench_with_input(BenchmarkId::from_parameter(total), &game, |b, game| {
                b.iter(|| power_indices(black_box(game)).unwrap())
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500));
    targets = nato, synthetic
}
criterion_main!(benches);
