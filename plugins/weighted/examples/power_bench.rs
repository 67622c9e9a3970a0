//! Timings of the power analysis and of the weighted policy's decision, printed as a table (no
//! assertions: the tests check the numbers, this shows how long they take).
//!
//! ```sh
//! cargo run --release -p accord-weighted --example power_bench
//! ```
//!
//! - an IMF-like board: 190 members, the largest ~16.5% of ~5 million votes, an 85%
//!   supermajority, every index by the `auto` method (exact where the table fits, Monte Carlo
//!   otherwise), then each index alone;
//! - the weighted policy deciding for 10,000 and 100,000 members without power indices (the
//!   decision must stay linear in the number of members).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use accord_policy_sdk::DecisionPolicy;
use accord_policy_sdk::proto::{Ballot, Choice, DecisionRequest, Member, MemberStatus, Proposal};
use accord_policy_sdk::request::member_name;
use accord_weighted::WeightedPolicy;
use accord_weighted::power::{Game, IndexSet, MethodChoice, Options, PowerIndices, analyse};
use prost_types::Timestamp;

/// SplitMix64, as in the library's tests: the same board every run.
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The IMF-like board of the library's tests (`power::tests::imf_like`).
fn imf_like() -> Game {
    let mut rng = SplitMix(2024);
    let mut weights = vec![
        831_407u64, 309_670, 265_995, 220_000, 200_000, 190_000, 150_000,
    ];
    while weights.len() < 190 {
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        weights.push(1_450 + (65_000.0 * u.powi(4) + 2_000.0 * u) as u64);
    }
    let total: u64 = weights.iter().sum();
    Game::weighted(weights, (total * 85).div_ceil(100))
}

fn time<T>(f: impl Fn() -> T) -> (T, Duration) {
    let _ = f(); // warm-up
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..3 {
        let started = Instant::now();
        let r = f();
        best = best.min(started.elapsed());
        out = Some(r);
    }
    (out.expect("ran"), best)
}

fn method_of(p: &PowerIndices) -> String {
    let mut parts = vec![format!("banzhaf {}", label(&p.banzhaf.method))];
    for (name, index) in [
        ("shapley_shubik", &p.shapley_shubik),
        ("deegan_packel", &p.deegan_packel),
        ("holler", &p.holler),
        ("johnston", &p.johnston),
    ] {
        parts.push(match index {
            Some(e) => format!("{name} {}", label(&e.method)),
            None => format!("{name} not computed"),
        });
    }
    parts.join(", ")
}

fn label(m: &accord_weighted::power::Method) -> String {
    match m {
        accord_weighted::power::Method::Exact => "exact".to_string(),
        accord_weighted::power::Method::MonteCarlo {
            samples,
            hoeffding_95,
            ..
        } => format!("Monte Carlo ({samples} samples, ±{hoeffding_95:.4})"),
    }
}

fn request(members: usize) -> DecisionRequest {
    let codes: Vec<String> = (0..members).map(|i| format!("M{i:06}")).collect();
    DecisionRequest {
        proposal: Some(Proposal {
            name: "proposals/1".to_string(),
            deadline: Some(Timestamp {
                seconds: 1_000,
                nanos: 0,
            }),
            ..Default::default()
        }),
        members: codes
            .iter()
            .enumerate()
            .map(|(i, c)| Member {
                name: member_name(c),
                code: c.clone(),
                status: MemberStatus::Active as i32,
                attributes: HashMap::from([(
                    "defence_expenditure_usd_mn".to_string(),
                    1.0 + (i % 97) as f64,
                )]),
                ..Default::default()
            })
            .collect(),
        ballots: codes
            .iter()
            .enumerate()
            .map(|(i, c)| Ballot {
                member: member_name(c),
                choice: if i % 5 == 0 {
                    Choice::Object
                } else {
                    Choice::Support
                } as i32,
                ..Default::default()
            })
            .collect(),
        parameters: HashMap::from([("indices".to_string(), "none".to_string())]),
        now: Some(Timestamp {
            seconds: 2_000,
            nanos: 0,
        }),
        ..Default::default()
    }
}

fn main() {
    let game = imf_like();
    println!(
        "IMF-like board: {} members, total {} votes, largest {:.1}%, quota 85%",
        game.players(),
        game.total_weight(),
        100.0 * game.weights[0] as f64 / game.total_weight() as f64
    );
    let runs: [(&str, IndexSet, MethodChoice); 7] = [
        ("banzhaf + coleman", IndexSet::BANZHAF, MethodChoice::Auto),
        (
            "shapley_shubik",
            IndexSet {
                shapley_shubik: true,
                ..IndexSet::BANZHAF
            },
            MethodChoice::Auto,
        ),
        (
            "deegan_packel + holler",
            IndexSet {
                deegan_packel: true,
                holler: true,
                ..IndexSet::BANZHAF
            },
            MethodChoice::Auto,
        ),
        (
            "johnston",
            IndexSet {
                johnston: true,
                ..IndexSet::BANZHAF
            },
            MethodChoice::Auto,
        ),
        ("all (auto)", IndexSet::ALL, MethodChoice::Auto),
        ("all (monte carlo)", IndexSet::ALL, MethodChoice::MonteCarlo),
        ("banzhaf (exact)", IndexSet::BANZHAF, MethodChoice::Exact),
    ];
    for (name, indices, method) in runs {
        let options = Options {
            indices,
            method,
            ..Options::default()
        };
        let (result, elapsed) = time(|| analyse(&game, &options));
        match result {
            Ok(p) => println!(
                "  {name:<24} {:>10.1} ms   {}",
                elapsed.as_secs_f64() * 1e3,
                method_of(&p)
            ),
            Err(e) => println!(
                "  {name:<24} {:>10.1} ms   refused: {e}",
                elapsed.as_secs_f64() * 1e3
            ),
        }
    }

    for members in [10_000, 100_000] {
        let mut r = request(members);
        let (decision, elapsed) = time(|| WeightedPolicy.decide_message(&r).expect("decides"));
        println!(
            "weighted decide, {members} members, no indices: {:.1} ms ({} member results)",
            elapsed.as_secs_f64() * 1e3,
            decision.member_results.len()
        );
        // With the default indices: too many players to count exactly, so a Monte Carlo
        // estimate within the work budget (samples × members ≤ 2·10⁷).
        r.parameters.clear();
        let (decision, elapsed) = time(|| WeightedPolicy.decide_message(&r).expect("decides"));
        println!(
            "weighted decide, {members} members, default indices: {:.1} ms (power exact: {})",
            elapsed.as_secs_f64() * 1e3,
            decision
                .metrics
                .get("power_exact")
                .copied()
                .unwrap_or(f64::NAN)
        );
    }
}
