//! Exact power indices for weighted voting games, JSON in and JSON out, with the time the
//! computation takes inside the process (so process start-up is not counted). Used by the peer
//! comparison in `benchmarks/peer/`.
//!
//! ```sh
//! echo '{"repetitions": 5, "games": [{"name": "EEC 1958", "weights": [4,4,4,2,2,1], "quota": 12}]}' \
//!     | cargo run --release -p accord-weighted --example power_cli
//! ```
//!
//! Input: `games`, each with `weights` (non-negative integers), `quota` (an absolute integer: a
//! coalition wins when its weight is at least `quota`) and an optional `name`; `repetitions`
//! (optional, default 5) is how many timed runs each game gets after one untimed warm-up run.
//!
//! Output, one entry per game in input order: `name`, `players`, `total_weight`, `quota`,
//! `banzhaf` (normalised), `banzhaf_absolute`, `shapley_shubik`, `swings`, `winning_coalitions`
//! (as decimal strings: they may exceed 64 bits), and `time_ns`, the median wall time of
//! `power_indices` (both indices together), with every sample in `times_ns`; or `error`.

use std::io::Read;
use std::process::ExitCode;
use std::time::Instant;

use accord_weighted::power::{Game, power_indices};
use serde_json::{Value, json};

fn main() -> ExitCode {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("power_cli: cannot read stdin: {e}");
        return ExitCode::from(2);
    }
    match run(&input) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("power_cli: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(input: &str) -> Result<Value, String> {
    let doc: Value = serde_json::from_str(input).map_err(|e| format!("invalid JSON: {e}"))?;
    let repetitions = match doc.get("repetitions") {
        None => 5,
        Some(v) => v
            .as_u64()
            .filter(|&r| r >= 1)
            .ok_or("\"repetitions\" must be an integer ≥ 1")? as usize,
    };
    let games = doc
        .get("games")
        .and_then(Value::as_array)
        .ok_or("expected an object with an array \"games\"")?;
    let mut results = Vec::with_capacity(games.len());
    for (index, g) in games.iter().enumerate() {
        let name = g
            .get("name")
            .and_then(Value::as_str)
            .map_or_else(|| format!("game {index}"), str::to_owned);
        let weights = g
            .get("weights")
            .and_then(Value::as_array)
            .ok_or(format!("{name}: \"weights\" must be an array"))?
            .iter()
            .map(Value::as_u64)
            .collect::<Option<Vec<u64>>>()
            .ok_or(format!(
                "{name}: every weight must be a non-negative integer"
            ))?;
        let quota = g
            .get("quota")
            .and_then(Value::as_u64)
            .ok_or(format!("{name}: \"quota\" must be a non-negative integer"))?;
        results.push(evaluate(name, Game::weighted(weights, quota), repetitions));
    }
    Ok(json!({ "repetitions": repetitions, "games": results }))
}

fn evaluate(name: String, game: Game, repetitions: usize) -> Value {
    let head = json!({
        "name": name,
        "players": game.players(),
        "total_weight": game.total_weight().to_string(),
        "quota": game.rule.quota,
    });
    // Warm-up (caches, page faults of the first allocation); its time is not counted.
    let result = match power_indices(std::hint::black_box(&game)) {
        Ok(r) => r,
        Err(e) => return merge(head, json!({ "error": e.to_string() })),
    };
    let mut times: Vec<u64> = (0..repetitions)
        .map(|_| {
            let start = Instant::now();
            let r = power_indices(std::hint::black_box(&game));
            let elapsed = start.elapsed();
            std::hint::black_box(r).ok();
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
        })
        .collect();
    let samples = times.clone();
    times.sort_unstable();
    let median = if times.len() % 2 == 1 {
        times[times.len() / 2]
    } else {
        (times[times.len() / 2 - 1] + times[times.len() / 2]) / 2
    };
    merge(
        head,
        json!({
            "banzhaf": result.banzhaf.values,
            "banzhaf_absolute": result.banzhaf_absolute.values,
            "shapley_shubik": result.shapley_shubik.map(|e| e.values),
            "swings": result
                .swings
                .iter()
                .flatten()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            "winning_coalitions": result.winning_coalitions.map(|w| w.to_string()),
            "time_ns": median,
            "times_ns": samples,
        }),
    )
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
        a.extend(b);
    }
    a
}
