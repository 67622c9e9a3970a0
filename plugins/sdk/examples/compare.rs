//! Loads every accord policy library built in this workspace (or the paths given) through the
//! host loader and decides the same sample proposal under each, side by side.
//!
//! `cargo build --workspace && cargo run -p accord-policy-sdk --features host --example compare`

use std::path::PathBuf;

use accord_policy_sdk::host::PolicyLibrary;
use accord_policy_sdk::proto::{Choice, Outcome};
use accord_policy_sdk::selftest::sample_request;

fn built_policies() -> Vec<PathBuf> {
    let exe = std::env::current_exe().expect("current exe");
    // target/{profile}/examples/compare → target/{profile}
    let profile = exe
        .parent()
        .and_then(|p| p.parent())
        .expect("target dir")
        .to_path_buf();
    let mut found: Vec<PathBuf> = std::fs::read_dir(&profile)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    found.retain(|p| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        name.starts_with("libaccord_")
            && name.ends_with(std::env::consts::DLL_SUFFIX)
            && !name.contains("fixture")
    });
    found.sort();
    found
}

fn main() {
    let mut paths: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if paths.is_empty() {
        paths = built_policies();
    }
    if paths.is_empty() {
        eprintln!("no policy library found: run `cargo build --workspace` first, or pass paths");
        std::process::exit(1);
    }
    let request = sample_request(42);
    println!(
        "Sample proposal: {}",
        request.proposal.as_ref().unwrap().title
    );
    for b in &request.ballots {
        let choice = Choice::try_from(b.choice).unwrap_or(Choice::Unspecified);
        println!(
            "  {:<4} {:?}",
            b.member.trim_start_matches("members/"),
            choice
        );
    }
    println!("  LUX  (no ballot)\n");
    for path in paths {
        match PolicyLibrary::load(&path) {
            Err(e) => println!("{}: refused: {e}\n", path.display()),
            Ok(policy) => {
                let id = policy.identity();
                println!(
                    "== {} {} (sha256 {}…)",
                    id.policy_id,
                    id.version,
                    &id.library_sha256[..12]
                );
                match policy.decide(&request) {
                    Err(e) => println!("   error: {e}"),
                    Ok(d) => {
                        let outcome = Outcome::try_from(d.outcome).unwrap_or(Outcome::Unspecified);
                        print!("   {outcome:?}, support {:.1}%", 100.0 * d.support_share);
                        if let Some(p) = d.adoption_probability {
                            print!(", P(adopted) {:.3}", p);
                        }
                        println!();
                        for line in &d.explanation {
                            println!("   {line}");
                        }
                    }
                }
                println!();
            }
        }
    }
}
