//! `[electorate]` in scenario files: members inline or from a CSV file beside the scenario, and
//! invalid electorates refused with the line of each problem.

use std::path::Path;

use accord_scenario::format::parse;

const HEAD: &str = r#"[scenario]
title = "Any council"

[[policies]]
label = "Two thirds of votes"
policy = "weighted"
parameters = { weight = "votes", quota = 0.6666666666666666 }

[[proposals]]
id = "motion"
title = "A motion"
sponsor = "BOARD-A"
action = { motion = { text = "Adopt it" } }
default_choice = "support"

"#;

#[test]
fn an_inline_electorate_gives_members_with_long_codes_and_their_weights() {
    let text = format!(
        "{HEAD}[electorate]\ntitle = \"A board\"\nmembers = [\n  {{ code = \"BOARD-A\", name = \"Chair A\", votes = 50 }},\n  {{ code = \"B\", name = \"Chair B\", votes = 30.5, region = \"South\" }},\n  {{ code = \"C_3\", name = \"Chair C\", votes = 19.5 }},\n]\n"
    );
    let (file, _) = parse(Path::new("board.toml"), &text).expect("valid");
    let electorate = file.electorate().expect("an electorate");
    assert_eq!(electorate.weights, vec!["votes".to_string()]);
    let codes: Vec<_> = electorate.members.iter().map(|m| m.code.as_str()).collect();
    assert_eq!(codes, ["BOARD-A", "B", "C_3"]);
    let members = electorate.to_members();
    assert_eq!(members[1].name, "members/B");
    assert_eq!(members[1].attributes["votes"], 30.5);
    assert_eq!(members[1].region, "South");
    assert_eq!(
        members[0].status,
        accord_proto::v1::MemberStatus::Active as i32
    );
}

#[test]
fn an_electorate_is_read_from_a_csv_file_relative_to_the_scenario() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("board.csv"),
        "# votes in hundredths of a percent\ncode,name,votes,population_mn\nBOARD-A,\"Chair A, the largest\",5000,10\nB,Chair B,3000,20.5\n",
    )
    .unwrap();
    let path = dir.path().join("scenario.toml");
    let text = format!("{HEAD}[electorate]\nfile = \"board.csv\"\n");
    let (file, _) = parse(&path, &text).expect("valid");
    let electorate = file.electorate().unwrap();
    assert_eq!(electorate.weights, ["votes", "population_mn"]);
    assert_eq!(electorate.members[0].name, "Chair A, the largest");
    assert_eq!(electorate.members[1].weights, vec![3000.0, 20.5]);
    assert_eq!(electorate.path, dir.path().join("board.csv"));
}

#[test]
fn bad_inline_members_are_refused_at_their_lines() {
    let text = format!(
        "{HEAD}[electorate]\nmembers = [\n  {{ code = \"BOARD-A\", name = \"A\", votes = 1 }},\n  {{ code = \"bad code\", name = \"B\", votes = 2 }},\n  {{ code = \"C\", name = \"C\" }},\n  {{ code = \"BOARD-A\", name = \"D\", votes = -4 }},\n  {{ code = \"THIS-CODE-IS-TOO-LONG\", name = \"E\", votes = 1 }},\n]\n"
    );
    let problems = parse(Path::new("bad.toml"), &text)
        .expect_err("invalid")
        .to_string();
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let expect = |needle: &str, message: &str| {
        let prefix = format!("bad.toml:{}:", line_of(needle));
        assert!(
            problems
                .lines()
                .any(|l| l.starts_with(&prefix) && l.contains(message)),
            "no `{message}` at {prefix} in:\n{problems}"
        );
    };
    expect("\"bad code\"", "is not a member code");
    expect("code = \"C\"", "has no `votes`");
    expect("votes = -4", "zero or more");
    expect("votes = -4", "used twice");
    expect("THIS-CODE-IS-TOO-LONG", "1 to 16");
}

#[test]
fn bad_csv_rows_are_refused_at_their_lines_in_the_csv_file() {
    let dir = tempfile::tempdir().unwrap();
    let csv = "code,name,votes\nBOARD-A,Chair A,10\nB,Chair B,many\nlower,Chair C,3\nD,,4\n";
    std::fs::write(dir.path().join("board.csv"), csv).unwrap();
    let text = format!("{HEAD}[electorate]\nfile = \"board.csv\"\n");
    let problems = parse(&dir.path().join("s.toml"), &text)
        .expect_err("invalid")
        .to_string();
    let csv_path = dir.path().join("board.csv").display().to_string();
    for (line, message) in [
        (3, "`votes` = `many` is not a number"),
        (4, "is not a member code"),
        (5, "has no name"),
    ] {
        let prefix = format!("{csv_path}:{line}:");
        assert!(
            problems
                .lines()
                .any(|l| l.starts_with(&prefix) && l.contains(message)),
            "no `{message}` at {prefix} in:\n{problems}"
        );
    }

    // A missing file and a header without codes are named too.
    let text = format!("{HEAD}[electorate]\nfile = \"missing.csv\"\n");
    let problems = parse(&dir.path().join("s.toml"), &text)
        .expect_err("invalid")
        .to_string();
    let line = text
        .lines()
        .position(|l| l.contains("missing.csv"))
        .unwrap()
        + 1;
    assert!(problems.contains(&format!("s.toml:{line}:")), "{problems}");
    assert!(
        problems.contains("cannot read the electorate file"),
        "{problems}"
    );
    std::fs::write(dir.path().join("nocode.csv"), "name,votes\nA,1\n").unwrap();
    let text = format!("{HEAD}[electorate]\nfile = \"nocode.csv\"\n");
    let problems = parse(&dir.path().join("s.toml"), &text)
        .expect_err("invalid")
        .to_string();
    assert!(
        problems.contains("nocode.csv:1:") && problems.contains("`code`"),
        "{problems}"
    );
}

#[test]
fn both_worked_examples_parse() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    for (name, members, weight) in [
        ("eu-council-lisbon.toml", 27, "population_mn"),
        ("weighted-board.toml", 25, "votes"),
    ] {
        let (file, _) = accord_scenario::load(&root.join(name)).expect(name);
        let electorate = file.electorate().expect("an electorate");
        assert_eq!(electorate.members.len(), members, "{name}");
        assert_eq!(electorate.weights, [weight], "{name}");
    }
}
