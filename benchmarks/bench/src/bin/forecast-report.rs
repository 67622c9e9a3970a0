//! Times the bargaining forecast (issue 12) linked in, for 32 members and for 300 actors, with
//! the compromise mean (the baseline every forecast reports anyway) measured in the same run:
//! the figures in docs/BENCHMARKS.md ("Forecasts"). Run with
//! `cargo run --release -p accord-bench --bin forecast-report`.
//!
//! The policy itself takes at most 200 actors (each round costs O(n³)); the model has no cap,
//! so 300 actors are timed on the model directly.

use std::time::Instant;

use accord_bargaining::model::{Actor, Settings, expected_utility, weighted_mean, weighted_median};

/// A deterministic pseudo-random alliance of `n` actors (positions in days over two years).
fn actors(n: usize) -> Vec<Actor> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| Actor {
            position: 20_726.0 + (730.0 * next()).round(),
            capability: 1.0 + 1000.0 * next() * next(),
            salience: 0.1 + 0.9 * next(),
        })
        .collect()
}

fn time<F: FnMut() -> f64>(repeats: usize, mut f: F) -> (f64, f64) {
    let mut sink = 0.0;
    let start = Instant::now();
    for _ in 0..repeats {
        sink += f();
    }
    (start.elapsed().as_secs_f64() / repeats as f64, sink)
}

fn main() {
    println!(
        "| actors | compromise mean | weighted median | expected utility, 10 rounds | EU / mean |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for (n, repeats) in [(32usize, 200usize), (300, 3)] {
        let a = actors(n);
        let (mean, _) = time(repeats * 1000, || weighted_mean(&a));
        let (median, _) = time(repeats * 100, || weighted_median(&a));
        let (eu, _) = time(repeats, || {
            expected_utility(&a, &Settings::default())
                .expect("valid actors")
                .mean
        });
        println!(
            "| {n} | {:.2} µs | {:.2} µs | {:.2} ms | {:.0}× |",
            mean * 1e6,
            median * 1e6,
            eu * 1e3,
            eu / mean
        );
    }
}
