//! Monte Carlo throughput of the pressure model on the 32 allies of `data/nato/members.csv`.
//!
//! `cargo run --release -p accord-pressure --example throughput [trials]`
//!
//! Prints trials per second on 1 and 2 threads for two scenarios: every ally but the lead
//! dissents (31 dissenters, the most there can be), and ten dissenters. Nothing is asserted.

#[path = "../tests/support/members_csv.rs"]
mod members_csv;

use std::time::Instant;

use accord_policy_sdk::DecisionPolicy;
use accord_policy_sdk::proto::{Ballot, Choice, DecisionRequest};
use accord_policy_sdk::request::member_name;
use accord_pressure::PressurePolicy;
use accord_pressure::model::{
    Ally, BaseRule, Dynamics, MonteCarlo, Profile, Scenario, Stance, default_susceptibility,
};

/// CPU time of this process (all threads) in seconds, from `/proc/self/stat` (Linux; 0 elsewhere).
/// Trials per CPU-second is the per-core rate even when other work shares the cores.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which is in parentheses): utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Field n of the whole line is index n − 3 after the name; 100 ticks per second.
    (ticks(14 - 3) + ticks(15 - 3)) / 100.0
}

fn scenario(dissenters: usize) -> Scenario {
    let members = members_csv::load();
    let lead_gdp = members
        .iter()
        .find(|m| m.code == "USA")
        .and_then(|m| m.attributes.get("gdp_usd_bn").copied());
    let mut others = 0;
    let allies = members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let a = |k: &str| m.attributes.get(k).copied();
            let profile = Profile {
                us_troops_hosted: a("us_troops_hosted"),
                armed_forces_personnel_thousands: a("armed_forces_personnel_thousands"),
                defence_pct_gdp: a("defence_pct_gdp"),
                gdp_usd_bn: a("gdp_usd_bn"),
            };
            let stance = if m.code == "USA" {
                Stance::Support
            } else {
                others += 1;
                if others <= dissenters {
                    Stance::Object
                } else {
                    Stance::Support
                }
            };
            Ally {
                stance: Some(stance),
                susceptibility: default_susceptibility(&profile, lead_gdp, true).value,
                resistance: 0.2 + 0.6 * (i as f64 / members.len() as f64),
            }
        })
        .collect();
    Scenario {
        lead: Stance::Support,
        allies,
        dynamics: Dynamics {
            pressure: 1.0,
            spread: 0.5,
            max_rounds: 100,
        },
        rule: BaseRule::Unanimity,
    }
}

fn main() {
    let trials: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(4_000_000);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("{trials} trials per run, {cores} cores available");
    for dissenters in [31, 10] {
        let sc = scenario(dissenters);
        for threads in [1, 2] {
            let config = MonteCarlo {
                trials,
                seed: 42,
                threads,
            };
            // Warm up, then time the best of three.
            sc.monte_carlo(&MonteCarlo {
                trials: trials / 10 + 1,
                ..config
            })
            .unwrap();
            let mut best = f64::INFINITY;
            let mut best_cpu = f64::INFINITY;
            let mut adoption = 0.0;
            for _ in 0..3 {
                let (start, cpu) = (Instant::now(), cpu_seconds());
                let f = sc.monte_carlo(&config).unwrap();
                best = best.min(start.elapsed().as_secs_f64());
                best_cpu = best_cpu.min(cpu_seconds() - cpu);
                adoption = f.adoption_probability;
            }
            println!(
                "{dissenters:>2} dissenters, {threads} thread(s): {:>6.2} M trials/s wall \
                 ({best:.3} s), {:>6.2} M trials per CPU-second; adoption probability {adoption:.4}",
                trials as f64 / best / 1e6,
                trials as f64 / best_cpu / 1e6
            );
        }
    }

    // One whole decision through the policy (default parameters: 100 000 trials, 1 thread).
    let members = members_csv::load();
    let ballots: Vec<Ballot> = members
        .iter()
        .enumerate()
        .map(|(i, m)| Ballot {
            member: member_name(&m.code),
            choice: if m.code == "USA" || i % 3 != 0 {
                Choice::Support
            } else {
                Choice::Object
            } as i32,
            salience: Some(0.5),
            ..Default::default()
        })
        .collect();
    let request = DecisionRequest {
        members,
        ballots,
        seed: 1,
        ..Default::default()
    };
    let start = Instant::now();
    let decision = PressurePolicy.decide_message(&request).unwrap();
    println!(
        "decide() with default parameters ({} dissenters, 100000 trials): {:.1} ms",
        decision.metrics["dissenters"],
        start.elapsed().as_secs_f64() * 1e3
    );
}
