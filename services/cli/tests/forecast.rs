//! Forecasts from the command line, as the real binary against a real server:
//! `proposals evaluate --what-could-pass`, `scenario sweep` (CSV, JSON, SVG) and its errors.

use std::path::{Path, PathBuf};

use accord_test_support::cli::*;

fn seed_scenario() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/factory-settings-2026.toml")
}

#[test]
fn what_could_pass_prints_the_zone_of_agreement() {
    let s = CliServer::start_default();
    let id = s.create(&[
        "end-mission",
        "NMI",
        "--end-date",
        "2026-09-30",
        "--title",
        "End NMI",
        "--sponsor",
        "USA",
        "--deadline-in",
        "2h",
    ]);
    for args in [
        ["USA", "support", "2026-09-30", "..2027-06-30"],
        ["DEU", "object", "2027-09-30", "2027-03-31..2027-12-31"],
        ["FRA", "object", "2027-06-30", "2027-01-01..2027-09-30"],
    ] {
        s.accord(&[
            "proposals",
            "vote",
            &id,
            "--member",
            args[0],
            "--choice",
            args[1],
            "--position",
            args[2],
            "--accept",
            args[3],
            "--salience",
            "0.5",
        ])
        .ok();
    }
    let out = s
        .accord(&[
            "proposals",
            "evaluate",
            &id,
            "--policy",
            "bargaining",
            "--what-could-pass",
        ])
        .ok();
    assert!(
        out.contains("Zone of agreement (unanimity): 2027-03-31 to 2027-06-30"),
        "{out}"
    );
    assert!(
        out.contains("would be adopted: 2027-03-31 (tabled: 2026-09-30)"),
        "{out}"
    );

    let json = s.json(&[
        "proposals",
        "evaluate",
        &id,
        "--policy",
        "unanimity",
        "--what-could-pass",
        "qualified-majority",
        "--quota",
        "0.05",
    ]);
    let zone = &json["zoneOfAgreement"];
    assert_eq!(zone["rule"], "AGREEMENT_RULE_QUALIFIED_MAJORITY");
    assert_eq!(zone["adopted"]["date"]["year"], 2027);
    assert_eq!(zone["adopted"]["date"]["month"], 1);

    // Errors are the server's, in one line.
    let motion = s.motion("No quantity here", &[]);
    s.accord(&["proposals", "evaluate", &motion, "--what-could-pass"])
        .fails(1, "INVALID_ARGUMENT");
    s.accord(&[
        "proposals",
        "vote",
        &id,
        "--member",
        "ITA",
        "--choice",
        "object",
        "--accept",
        "3000..",
    ])
    .fails(1, "INVALID_ARGUMENT");
    let usage = s.accord(&[
        "proposals",
        "vote",
        &id,
        "--member",
        "ITA",
        "--choice",
        "object",
        "--accept",
        "soon",
    ]);
    assert_eq!(usage.code, 2);
    assert!(usage.stderr.contains("LOW..HIGH"), "{}", usage.stderr);
}

#[test]
fn scenario_sweep_writes_csv_json_and_well_formed_svg() {
    let s = CliServer::start_default();
    let file = seed_scenario();
    let file = file.to_str().unwrap();
    // CSV on stdout: one line per grid point × proposal × column.
    let csv = s
        .accord(&[
            "scenario",
            "sweep",
            file,
            "--vary",
            "pressure.pressure=0..2:0.5",
            "--policy",
            "US pressure on positions (Friedkin-Johnsen)",
        ])
        .ok();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "proposal,policy,pressure.pressure,outcome,adopted,support_share,adoption_probability,forecast,blockers,error"
    );
    assert_eq!(lines.len(), 1 + 5 * 2, "{csv}");
    assert!(
        lines[1].starts_with("end-nmi,US pressure on positions (Friedkin-Johnsen),0,"),
        "{csv}"
    );
    assert!(
        lines[10].starts_with("shrink-kfor,US pressure on positions (Friedkin-Johnsen),2,"),
        "{csv}"
    );
    for line in &lines[1..] {
        let fields: Vec<&str> = line.split(',').collect();
        assert!(["adopted", "rejected"].contains(&fields[3]), "{line}");
        assert!(fields[9].is_empty(), "no error: {line}");
    }

    // The file's own [sweep], as JSON with charts.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sweep.json");
    let charts = dir.path().join("charts");
    let summary = s
        .accord(&[
            "scenario",
            "sweep",
            file,
            "--policy",
            "Bargaining forecast (expected utility)",
            "--out",
            out.to_str().unwrap(),
            "--svg",
            charts.to_str().unwrap(),
        ])
        .ok();
    assert!(
        summary.contains("Sensitivity: @slower.salience from 0.1 to 0.9"),
        "{summary}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(json["variables"][0]["name"], "@slower.salience");
    assert_eq!(json["variables"][0]["points"], 17);
    assert_eq!(json["evaluations"], 17 * 2);
    let results = json["results"].as_array().unwrap();
    assert_eq!(results.len(), 34);
    assert!(
        results[0]["forecast"].as_str().unwrap().starts_with("202"),
        "{}",
        results[0]
    );
    assert!(results[0]["values"]["@slower.salience"].is_number());
    let mut svgs = 0;
    for entry in std::fs::read_dir(&charts).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        roxmltree::Document::parse(&text)
            .unwrap_or_else(|e| panic!("{} is not well-formed: {e}", path.display()));
        svgs += 1;
    }
    assert_eq!(svgs, 4, "adoption and forecast charts for two proposals");

    // Two variables: a heat map per proposal and column.
    let heat = dir.path().join("heat");
    s.accord(&[
        "scenario",
        "sweep",
        file,
        "--vary",
        "end-nmi:@slower.salience=0.2..0.8:0.3",
        "--vary",
        "end-nmi:USA.salience=0.5..0.9:0.2",
        "--policy",
        "Bargaining forecast (expected utility)",
        "--out",
        dir.path().join("heat.csv").to_str().unwrap(),
        "--svg",
        heat.to_str().unwrap(),
    ])
    .ok();
    let csv = std::fs::read_to_string(dir.path().join("heat.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 3 * 3, "{csv}");
    let map = heat.join("end-nmi-bargaining-forecast-expected-utility-heatmap.svg");
    roxmltree::Document::parse(&std::fs::read_to_string(map).unwrap()).unwrap();
}

#[test]
fn bad_sweep_specs_exit_4_with_the_place_named() {
    let file = seed_scenario();
    let file = file.to_str().unwrap();
    let err = accord_raw(&[
        "scenario",
        "sweep",
        file,
        "--vary",
        "pressure.pressure=0..2",
    ])
    .fails(4, "");
    assert!(err.contains("is not NAME=FROM..TO:STEP"), "{err}");
    let err = accord_raw(&[
        "scenario",
        "sweep",
        file,
        "--vary",
        "@nobody.salience=0..1:0.1",
    ])
    .fails(4, "");
    assert!(
        err.contains("--vary `@nobody.salience=0..1:0.1`: no stance is tagged `nobody`"),
        "{err}"
    );
    let err = accord_raw(&[
        "scenario",
        "sweep",
        file,
        "--vary",
        "USA.salience=0..1:0.1",
        "--policy",
        "Nope",
    ])
    .fails(4, "");
    assert!(err.contains("--policy `Nope`"), "{err}");

    // A parameter the policy does not declare: found on the server, still exit 4.
    let s = CliServer::start_default();
    let err = s
        .accord(&[
            "scenario",
            "sweep",
            file,
            "--vary",
            "pressure.nonsense=0..1:0.5",
        ])
        .fails(4, "");
    assert!(
        err.contains("--vary `pressure.nonsense`: policy `pressure` has no parameter `nonsense`"),
        "{err}"
    );

    // In the file: line and column.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(seed_scenario()).unwrap().replacen(
        "name = \"@slower.salience\"",
        "name = \"@slowest.salience\"",
        1,
    );
    let line = text.lines().position(|l| l.contains("@slowest")).unwrap() + 1;
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, text).unwrap();
    let err = accord_raw(&["scenario", "sweep", path.to_str().unwrap()]).fails(4, "");
    assert!(
        err.contains(&format!(
            "bad.toml:{line}:8: sweep: no stance is tagged `slowest`"
        )),
        "{err}"
    );
}
