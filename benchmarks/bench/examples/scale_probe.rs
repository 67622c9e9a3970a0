//! Times one policy's linked-in decision, twice, on a synthetic electorate of any size
//! (`accord_bench::synthetic_request`): the quick probe behind docs/BENCHMARKS.md, "Large
//! electorates (issue 10)". The `scale` section of `bench-report` is the measured table.
//!
//! `cargo run --release -p accord-bench --example scale_probe -- POLICY MEMBERS [NAME=VALUE…]`
//! with POLICY one of unanimity, weighted, pressure, bargaining; for example
//! `… -- pressure 100000 lead=M00001 mode=deterministic`.

use std::time::Instant;

use accord_policy_sdk::DecisionPolicy;

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: scale_probe POLICY MEMBERS [NAME=VALUE…]";
    let n: usize = a.get(1).and_then(|n| n.parse().ok()).expect(usage);
    let params: Vec<(String, String)> = a[2..]
        .iter()
        .map(|p| {
            let (k, v) = p.split_once('=').expect(usage);
            (k.to_string(), v.to_string())
        })
        .collect();
    let t = Instant::now();
    let mut r = accord_bench::synthetic_request(n);
    for (k, v) in &params {
        r.parameters.insert(k.clone(), v.clone());
    }
    eprintln!("generate {:?}", t.elapsed());
    let policy: &dyn DecisionPolicy = match a[0].as_str() {
        "unanimity" => &accord_unanimity::Unanimity,
        "weighted" => &accord_weighted::WeightedPolicy,
        "pressure" => &accord_pressure::PressurePolicy,
        "bargaining" => &accord_bargaining::Bargaining,
        other => panic!("unknown policy {other:?}: {usage}"),
    };
    for _ in 0..2 {
        let t = Instant::now();
        let d = policy.decide_message(&r);
        let e = t.elapsed();
        match d {
            Ok(d) => eprintln!(
                "{} n={n}: {:?} outcome {} expl {} lines",
                a[0],
                e,
                d.outcome,
                d.explanation.len()
            ),
            Err(err) => eprintln!("{} n={n}: {:?} ERROR {err}", a[0], e),
        }
    }
}
