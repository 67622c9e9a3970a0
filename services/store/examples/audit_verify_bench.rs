//! Benchmark of audit-log verification: writes a database with N chained audit entries
//! (default 1,000,000; `-- N` to change), then times `SqliteStore::verify_file` — what
//! `accord audit verify --database FILE` runs. Figures in docs/BENCHMARKS.md.
//!
//! `cargo run --release -p accord-store --example audit_verify_bench`

use std::time::Instant;

use accord_store::audit_chain::{GENESIS_HASH, link};
use accord_store::{SqliteStore, Store as _};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: i64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.db");
    let url = format!("sqlite://{}", path.display());
    let store = SqliteStore::open(&url).await.expect("open");
    let pool = store.pool().clone();
    let started = Instant::now();
    let mut tx = pool.begin().await.expect("begin");
    let (mut sequence, mut hash) = (0_i64, GENESIS_HASH.to_string());
    for i in 0..n {
        let e = link(
            sequence,
            &hash,
            1_767_225_600 + i,
            0,
            "setting".into(),
            "settings/default_policy".into(),
            "operator".into(),
            format!(r#"{{"key":"default_policy","value":"weighted","i":{i}}}"#),
        );
        sqlx::query(
            "INSERT INTO audit_log (sequence, time_s, time_ns, kind, subject, detail, actor, \
             prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .bind(e.sequence)
        .bind(e.seconds)
        .bind(e.nanos)
        .bind(&e.kind)
        .bind(&e.subject)
        .bind(&e.detail)
        .bind(&e.actor)
        .bind(&e.prev_hash)
        .bind(&e.hash)
        .execute(&mut *tx)
        .await
        .expect("insert");
        sequence = e.sequence;
        hash = e.hash;
    }
    tx.commit().await.expect("commit");
    store.close().await;
    eprintln!("wrote {n} entries in {:?}", started.elapsed());
    let started = Instant::now();
    let cpu = cpu_time();
    let result = SqliteStore::verify_file(&path).await.expect("verify");
    let wall = started.elapsed();
    let cpu = cpu_time() - cpu;
    match result {
        Ok(report) => println!(
            "verified {} entries in {:.2} s wall, {:.2} s CPU ({:.0} entries/s)",
            report.entries,
            wall.as_secs_f64(),
            cpu,
            report.entries as f64 / wall.as_secs_f64()
        ),
        Err(broken) => panic!("the benchmark chain does not verify: {broken}"),
    }
}

/// CPU time of this process, in seconds (user + system), from /proc.
fn cpu_time() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}
