//! `accord power` run as the real binary against a real server: the EEC Council of 1958 from a
//! CSV file as a table, JSON and CSV, SVG charts (well-formed, one colour per index, labelled),
//! `--compare`, a TOML file on standard input, and `accord members create / update / delete`.

use std::io::Write as _;
use std::process::Stdio;
use std::sync::OnceLock;

use accord_test_support::build_dir;
use accord_test_support::cli::*;

fn server() -> &'static CliServer {
    static SERVER: OnceLock<CliServer> = OnceLock::new();
    SERVER.get_or_init(CliServer::start_default)
}

const EEC: &str = "# The Council of the EEC, 1958: 12 of 17 votes.\n# rule: votes >= 12\nname,votes\nFrance,4\nGermany,4\nItaly,4\nBelgium,2\nNetherlands,2\nLuxembourg,1\n";

fn eec_file(dir: &tempfile::TempDir) -> String {
    let path = dir.path().join("eec.csv");
    std::fs::write(&path, EEC).unwrap();
    path.display().to_string()
}

#[test]
fn power_prints_the_eec_indices_as_a_table_json_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let file = eec_file(&dir);
    let out = server().accord(&["power", &file]).ok();
    for needle in [
        "Rule: votes >= 12",
        "Shapley–Shubik",
        "Deegan–Packel",
        "Johnston",
        "0.2381",
        "0.1429",
        "0.2333",
        "dummy",
        "Winning coalitions: 14 of 2^6",
        "Dummies: Luxembourg",
        "Dictator: none",
    ] {
        assert!(out.contains(needle), "`{needle}` missing from:\n{out}");
    }
    let luxembourg = out.lines().find(|l| l.contains("Luxembourg ")).unwrap();
    assert!(luxembourg.contains("dummy"), "{luxembourg}");

    let json = server().json(&["power", &file]);
    assert_eq!(json["rule"], "votes >= 12");
    assert_eq!(json["game"]["winningCoalitions"], "14");
    let players = json["players"].as_array().unwrap();
    assert_eq!(players.len(), 6);
    assert_eq!(players[0]["name"], "France");
    assert!((players[0]["banzhaf"].as_f64().unwrap() - 5.0 / 21.0).abs() < 1e-12);
    assert!((players[3]["shapleyShubik"].as_f64().unwrap() - 0.15).abs() < 1e-12);
    assert_eq!(players[5]["dummy"], true);

    let csv = server().accord(&["power", &file, "--csv"]).ok();
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(
        rows[0],
        [
            "rule",
            "player",
            "banzhaf",
            "banzhaf_absolute",
            "shapley_shubik",
            "deegan_packel",
            "holler",
            "johnston",
            "coleman_prevent",
            "coleman_initiate",
            "swings",
            "veto",
            "dummy"
        ]
    );
    assert_eq!(rows.len(), 7, "{csv}");
    assert_eq!(rows[1][1], "France");
    assert_eq!(rows[1][10], "10");
    assert_eq!(rows[6][1], "Luxembourg");
    assert_eq!(rows[6][12], "true");
    let sum: f64 = rows[1..].iter().map(|r| r[2].parse::<f64>().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-9);
}

#[test]
fn power_writes_a_well_formed_labelled_svg_per_rule_and_compares_rules() {
    let dir = tempfile::tempdir().unwrap();
    let file = eec_file(&dir);
    let charts = dir.path().join("charts");
    let out = server()
        .accord(&[
            "power",
            &file,
            "--compare",
            "votes >= 12",
            "votes > 50% and members >= 4",
            "--svg",
            charts.to_str().unwrap(),
        ])
        .ok();
    for needle in [
        "Rule 1: votes >= 12",
        "Rule 2: votes > 50% and members >= 4",
        "Banzhaf 1",
        "Banzhaf 2",
        "Winning coalitions: 14 of 2^6",
        "Winning coalitions: 22 of 2^6",
        "power-2.svg",
    ] {
        assert!(out.contains(needle), "`{needle}` missing from:\n{out}");
    }
    for (n, rule) in [(1, "votes &gt;= 12"), (2, "members")] {
        let text = std::fs::read_to_string(charts.join(format!("power-{n}.svg"))).unwrap();
        assert!(text.contains(rule));
        let doc = roxmltree::Document::parse(&text).expect("well-formed SVG");
        let fills: std::collections::HashSet<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("rect"))
            .filter_map(|n| n.attribute("fill"))
            .filter(|f| *f != "white")
            .collect();
        // Banzhaf, Shapley–Shubik, Deegan–Packel, Holler, Johnston: one colour each.
        assert_eq!(fills.len(), 5, "{fills:?}");
        let texts: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .collect();
        for label in [
            "France",
            "Luxembourg",
            "Banzhaf",
            "Shapley–Shubik",
            "Holler",
        ] {
            assert!(texts.contains(&label), "{label} not labelled in chart {n}");
        }
    }
    let json = server().json(&["power", &file, "--compare", "votes >= 12", "votes >= 9"]);
    let rules = json["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[1]["rule"], "votes >= 9");
    assert_eq!(rules[1]["game"]["winningCoalitions"], "32");
}

#[test]
fn power_reads_a_toml_game_from_standard_input_and_refuses_bad_rules() {
    let toml = r#"
title = "A double majority"
rule = "population >= 65% and members >= 3 and blocking >= 2"

[electorate]
members = [
  { code = "A", name = "Alpha", population = 40 },
  { code = "B", name = "Beta", population = 30 },
  { code = "C", name = "Gamma", population = 15 },
  { code = "D", name = "Delta", population = 10 },
  { code = "E", name = "Epsilon", population = 5 },
]
"#;
    let mut child = server()
        .command(&["--json", "power", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(toml.as_bytes())
        .unwrap();
    let run = Run::from_output(child.wait_with_output().unwrap());
    let json = run.json();
    assert_eq!(json["game"]["winningCoalitions"], "10");
    assert_eq!(json["players"][2]["name"], "Gamma");

    let dir = tempfile::tempdir().unwrap();
    let file = eec_file(&dir);
    let line = server()
        .accord(&["power", &file, "--rule", "seats >= 12"])
        .fails(2, "");
    assert!(
        line.contains("`seats` is not a weight column (votes"),
        "{line}"
    );
    let line = server()
        .accord(&["power", &file, "--rule", "votes >= 18", "--method", "exact"])
        .fails(1, "INVALID_ARGUMENT");
    assert!(line.contains("rule.quotas[0].weight"), "{line}");
}

#[test]
fn power_runs_on_an_embedded_server() {
    let dir = tempfile::tempdir().unwrap();
    let file = eec_file(&dir);
    let out = accord_raw(&[
        "power",
        &file,
        "--embedded",
        "--plugin-dir",
        build_dir().to_str().unwrap(),
    ])
    .ok();
    assert!(out.contains("Winning coalitions: 14 of 2^6"), "{out}");
}

#[test]
fn members_create_update_and_delete_a_member_with_a_long_code() {
    let s = CliServer::start_default();
    let out = s
        .accord(&[
            "members",
            "create",
            "IMF-ED-12",
            "--name",
            "Executive Director 12",
            "--attribute",
            "votes=1649",
            "--region",
            "Americas",
        ])
        .ok();
    assert!(out.contains("Member members/IMF-ED-12 created."), "{out}");
    assert!(out.contains("1649") || out.contains("1,649"), "{out}");

    let json = s.json(&["members", "update", "imf-ed-12", "--status", "suspended"]);
    assert_eq!(json["member"]["status"], "MEMBER_STATUS_SUSPENDED");
    assert_eq!(json["member"]["region"], "Americas", "other fields kept");
    assert_eq!(json["member"]["attributes"]["votes"], 1649.0);

    let out = s.accord(&["members", "delete", "IMF-ED-12"]).ok();
    assert!(out.contains("Member members/IMF-ED-12 deleted."), "{out}");
    s.accord(&["members", "show", "IMF-ED-12"])
        .fails(1, "NOT_FOUND");

    s.accord(&["members", "create", "X!", "--name", "Bad"])
        .fails(1, "INVALID_ARGUMENT");
    s.accord(&["members", "create", "NEW"])
        .fails(2, "members create needs --name");
    s.accord(&["members", "update", "USA"])
        .fails(2, "members update needs at least one field");

    // A member with a record (a sponsored proposal) is kept: suspend it instead.
    let _ = s.motion("Anything", &[]);
    let line = s
        .accord(&["members", "delete", "USA"])
        .fails(1, "FAILED_PRECONDITION");
    assert!(line.contains("suspend it instead"), "{line}");
}
