//! The worked examples beside the seed scenario run on an embedded server with their own
//! electorates: the EU Council under the Lisbon double majority and an IMF-style board under
//! an 85 % supermajority.

use std::path::{Path, PathBuf};

use accord_test_support::build_dir;
use accord_test_support::cli::*;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(name)
}

fn run(name: &str) -> serde_json::Value {
    accord_raw(&[
        "--json",
        "scenario",
        "run",
        example(name).to_str().unwrap(),
        "--embedded",
        "--plugin-dir",
        build_dir().to_str().unwrap(),
    ])
    .json()
}

fn adopted(report: &serde_json::Value, proposal: usize, row: usize) -> bool {
    let row = &report["proposals"][proposal]["results"][row];
    row["adopted"]
        .as_bool()
        .unwrap_or_else(|| panic!("no decision in {row}"))
}

#[test]
fn the_eu_council_adopts_the_nature_restoration_law_by_qmv_and_not_without_austria() {
    let text = accord_raw(&[
        "scenario",
        "run",
        example("eu-council-lisbon.toml").to_str().unwrap(),
        "--embedded",
        "--plugin-dir",
        build_dir().to_str().unwrap(),
    ])
    .ok();
    assert!(
        text.contains("ballots: 20 support, 6 object, 1 abstain"),
        "{text}"
    );
    let report = run("eu-council-lisbon.toml");
    // Row 0: QMV; row 1: simple majority of states; row 2: unanimity.
    assert!(adopted(&report, 0, 0));
    assert!(!adopted(&report, 0, 2));
    assert!(!adopted(&report, 1, 0));
    assert!(adopted(&report, 1, 1));
    // The electorate is the 27, not the allies.
    let ballots = report["proposals"][0]["ballots"].as_array().unwrap();
    assert_eq!(ballots.len(), 27);
    assert!(!ballots.iter().any(|b| b["member"] == "members/USA"));
}

#[test]
fn the_weighted_board_lets_the_united_states_alone_block_at_85_percent() {
    let report = run("weighted-board.toml");
    // Rows: 85 % of votes, 70 %, simple majority, 85 % of chairs.
    assert!(adopted(&report, 0, 0));
    assert!(!adopted(&report, 1, 0));
    assert!(adopted(&report, 1, 1));
    assert!(adopted(&report, 1, 3));
    let decision = report["proposals"][1]["results"][0]["decision"].to_string();
    assert!(decision.contains("members/USA"), "{decision}");
}
