//! `accord scenario run` and `accord demo`, run as the real binary: against a real server, with
//! an embedded one, as text and JSON, with SVG charts, and with invalid scenario files.

use std::path::{Path, PathBuf};

use accord_test_support::build_dir;
use accord_test_support::cli::*;

fn seed_scenario() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/factory-settings-2026.toml")
}

#[test]
fn scenario_run_against_a_server_prints_one_table_per_proposal() {
    let server = CliServer::start_default();
    let out = server
        .accord(&["scenario", "run", seed_scenario().to_str().unwrap()])
        .ok();
    for title in [
        "End NATO Mission Iraq by September 2026",
        "Reduce KFOR to 3,000 troops",
        "Keep Ukraine and the Indo-Pacific partners out of formal participation",
    ] {
        assert!(out.contains(title), "{title} missing from:\n{out}");
    }
    for label in [
        "Consensus (open vote)",
        "Consensus (silence procedure)",
        "Double majority",
        "US pressure (Monte Carlo)",
    ] {
        assert_eq!(
            out.matches(label).count(),
            3,
            "{label} once per proposal in:\n{out}"
        );
    }
    // Once per proposal, and once more in the zone line of the two proposals on a quantity.
    assert_eq!(out.matches("Weighted 2/3").count(), 5, "{out}");
    // The forecasts: only for the two proposals that table a quantity.
    assert_eq!(out.matches("Forecast compromise").count(), 2, "{out}");
    assert_eq!(
        out.matches("Zone of agreement (unanimity)").count(),
        2,
        "{out}"
    );
    assert_eq!(
        out.matches("the compromise mean moves from").count(),
        2,
        "{out}"
    );
    assert!(
        out.contains("partners/UKR, partners/AUS, partners/JPN, partners/NZL, partners/KOR"),
        "{out}"
    );
}

#[test]
fn scenario_json_gives_the_same_as_data_and_svg_charts_are_well_formed() {
    let server = CliServer::start_default();
    let charts = tempfile::tempdir().unwrap();
    let report = server.json(&[
        "scenario",
        "run",
        seed_scenario().to_str().unwrap(),
        "--svg",
        charts.path().to_str().unwrap(),
    ]);
    let proposals = report["proposals"].as_array().unwrap();
    assert_eq!(proposals.len(), 3);
    let results = proposals[0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 7, "five rules and two forecasts");
    assert_eq!(results[0]["label"], "Consensus (open vote)");
    assert_eq!(results[0]["decision"]["outcome"], "OUTCOME_REJECTED");
    assert!(results[4]["decision"]["adoptionProbability"].is_number());
    assert_eq!(proposals[0]["ballots"].as_array().unwrap().len(), 32);

    let mut files: Vec<_> = std::fs::read_dir(charts.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for id in ["end-nmi", "shrink-kfor", "ankara-partners"] {
        assert!(names.contains(&format!("{id}-seats.svg")), "{names:?}");
        assert!(
            names.contains(&format!("{id}-us-pressure-monte-carlo-concessions.svg")),
            "{names:?}"
        );
    }
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let doc =
            roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_eq!(
            doc.root_element().tag_name().name(),
            "svg",
            "{}",
            file.display()
        );
    }
}

#[test]
fn an_invalid_scenario_exits_4_with_one_line_per_problem() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(seed_scenario())
        .unwrap()
        .replacen("choice = \"support\"", "choice = \"yes\"", 1)
        .replacen("salience = 0.8", "salience = 8", 1);
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, &text).unwrap();
    let run = accord_raw(&["scenario", "run", path.to_str().unwrap(), "--embedded"]);
    assert_eq!(run.code, 4, "{run:?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stderr);
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    assert!(
        lines[0].starts_with(&format!(
            "error: {}:{}:",
            path.display(),
            line_of("choice = \"yes\"")
        )),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains("choice `yes` is not support, object or abstain"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains(&format!(":{}:", line_of("salience = 8"))),
        "{}",
        lines[1]
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn demo_runs_the_seed_scenario_on_an_embedded_server() {
    let run = Run::from_output(
        accord_command()
            .args(["demo", "--plugin-dir", build_dir().to_str().unwrap()])
            .output()
            .unwrap(),
    );
    let out = run.ok();
    assert!(out.starts_with("accord demo:"), "{out}");
    assert!(out.contains("Return to factory settings"), "{out}");
    assert_eq!(
        out.matches("Consensus (silence procedure)").count(),
        3,
        "{out}"
    );

    let data = Run::from_output(
        accord_command()
            .args([
                "--json",
                "demo",
                "--plugin-dir",
                build_dir().to_str().unwrap(),
            ])
            .output()
            .unwrap(),
    )
    .json();
    assert_eq!(data["proposals"].as_array().unwrap().len(), 3);
    assert_eq!(data["seed"], 2026);
}
