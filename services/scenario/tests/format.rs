//! The scenario parser: valid files, and invalid ones with their line-precise errors.

use std::path::Path;

use accord_scenario::format::ActionSpec;
use accord_scenario::parse;

const VALID: &str = r#"
[scenario]
title = "Test"

[[policies]]
label = "Consensus"
policy = "unanimity"

[[policies]]
label = "Weighted"
policy = "weighted"
parameters = { quota = 0.65, strict = true, weight = "population" }

[[proposals]]
id = "end-nmi"
title = "End NMI"
sponsor = "USA"
action = { end_mission = { mission = "NMI", end_date = 2026-09-30 } }

[[proposals.stances]]
members = ["DEU", "FRA"]
choice = "object"
position = 2027-09-30
salience = 0.4
reason = "slower"
"#;

fn problems(text: &str) -> Vec<String> {
    match parse(Path::new("s.toml"), text) {
        Ok(_) => Vec::new(),
        Err(p) => p.0.iter().map(|p| p.to_string()).collect(),
    }
}

/// `VALID` with `old` replaced by `new` (which must occur).
fn with(old: &str, new: &str) -> String {
    assert!(VALID.contains(old), "{old}");
    VALID.replacen(old, new, 1)
}

#[test]
fn a_valid_file_parses_with_its_values() {
    let (file, _) = parse(Path::new("s.toml"), VALID).unwrap();
    assert_eq!(file.scenario.title, "Test");
    assert_eq!(file.policies.len(), 2);
    assert_eq!(
        file.policies[1].parameters["quota"].get_ref().to_text(),
        "0.65"
    );
    assert_eq!(
        file.policies[1].parameters["strict"].get_ref().to_text(),
        "true"
    );
    let proposal = &file.proposals[0];
    assert!(
        matches!(proposal.action.get_ref(), ActionSpec::EndMission { mission, .. } if mission == "NMI")
    );
    assert_eq!(proposal.stances[0].members.get_ref().len(), 2);
    assert_eq!(
        proposal.stances[0].salience.as_ref().map(|s| *s.get_ref()),
        Some(0.4)
    );
}

#[test]
fn the_seed_scenario_is_valid() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/factory-settings-2026.toml");
    let (file, _) = accord_scenario::load(&path).unwrap_or_else(|p| panic!("{p}"));
    assert_eq!(file.proposals.len(), 3);
    // Every stance says where it comes from.
    for proposal in &file.proposals {
        for stance in &proposal.stances {
            assert!(
                !stance.source.trim().is_empty(),
                "a stance of {} has no source",
                proposal.id.get_ref()
            );
        }
    }
}

#[test]
fn syntax_errors_point_at_their_line() {
    let text = with("choice = \"object\"", "choice = object");
    let p = problems(&text);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(
        p,
        vec!["s.toml:22:10: string values must be quoted, expected literal string"]
    );
}

#[test]
fn unknown_keys_are_refused_at_their_line() {
    let p = problems(&with(
        "reason = \"slower\"",
        "reason = \"slower\"\nsalliance = 0.3",
    ));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("s.toml:26:1: unknown field `salliance`"),
        "{p:?}"
    );
    assert!(p[0].contains("salliance"), "{p:?}");
}

#[test]
fn bad_values_are_each_reported_at_their_own_line_and_column() {
    let text = with(
        "members = [\"DEU\", \"FRA\"]",
        "members = [\"DEU\", \"fra\"]",
    );
    let text = text.replacen("choice = \"object\"", "choice = \"veto\"", 1);
    let text = text.replacen("salience = 0.4", "salience = 1.4", 1);
    let text = text.replacen("position = 2027-09-30", "position = 2500", 1);
    let p = problems(&text);
    assert_eq!(
        p,
        vec![
            "s.toml:21:19: `fra` is not a member code like `DEU`",
            "s.toml:22:10: choice `veto` is not support, object or abstain",
            "s.toml:23:12: this proposal's position is a date like 2027-09-30",
            "s.toml:24:12: salience 1.4 is outside 0 to 1",
        ]
    );
}

#[test]
fn duplicates_and_wrong_kinds_are_refused() {
    let p = problems(&with(
        "members = [\"DEU\", \"FRA\"]",
        "members = [\"DEU\", \"DEU\"]",
    ));
    assert_eq!(
        p,
        vec!["s.toml:21:19: DEU already has a stance on proposal `end-nmi`"]
    );

    let p = problems(&with("label = \"Weighted\"", "label = \"Consensus\""));
    assert_eq!(
        p,
        vec!["s.toml:10:9: policy label `Consensus` is used twice"]
    );

    let p = problems(&with("policy = \"weighted\"", "policy = \"Weighted Vote\""));
    assert!(
        p[0].starts_with("s.toml:11:10: `Weighted Vote` is not a policy id"),
        "{p:?}"
    );

    let p = problems(&with(
        "end_date = 2026-09-30",
        "end_date = 2026-09-30T10:00:00Z",
    ));
    assert!(p[0].starts_with("s.toml:18:10: end_date"), "{p:?}");

    let p = problems(&with("sponsor = \"USA\"", "sponsor = \"United States\""));
    assert_eq!(
        p,
        vec!["s.toml:17:11: sponsor `United States` is not a member code like `USA`"]
    );
}

#[test]
fn an_empty_scenario_says_what_is_missing() {
    let p = problems("policies = []\nproposals = []\n[scenario]\ntitle = \"x\"\n");
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(p.iter().any(|p| p.contains("no policies")));
    assert!(p.iter().any(|p| p.contains("no proposals")));
}

#[test]
fn a_missing_file_is_reported() {
    let err = accord_scenario::load(Path::new("/nonexistent/s.toml")).unwrap_err();
    assert!(err.to_string().contains("cannot read the file"), "{err}");
}

const SWEEP: &str = r#"
[sweep]
policies = ["Weighted"]

[[sweep.vary]]
name = "@slow.salience"
from = 0.1
to = 0.9
step = 0.1
"#;

/// `VALID` with a tag and an acceptable range on its stance, and `sweep` appended.
fn with_sweep(sweep: &str) -> String {
    let text = with(
        "salience = 0.4\n",
        "salience = 0.4\ntag = \"slow\"\nacceptable = [2027-03-31, 2027-12-31]\n",
    );
    // The [sweep] table must come before the array of tables it would otherwise extend.
    text.replacen("[[proposals]]", &format!("{sweep}\n[[proposals]]"), 1)
}

#[test]
fn a_sweep_section_parses_and_resolves_its_grid() {
    let (file, _) = parse(Path::new("s.toml"), &with_sweep(SWEEP)).unwrap();
    let sweep = file.sweep.as_ref().expect("a [sweep]");
    assert_eq!(sweep.policies[0].get_ref(), "Weighted");
    let (variables, labels) = accord_scenario::sweep::plan(&file, &[], &[]).unwrap();
    assert_eq!(labels, vec!["Weighted".to_string()]);
    assert_eq!(variables.len(), 1);
    assert_eq!(variables[0].values.len(), 9);
    assert!(
        matches!(&variables[0].target, accord_scenario::sweep::Target::Salience(c) if c == &["DEU", "FRA"])
    );
    // --vary replaces the file's variables: a position on dates, stepped in days.
    let (variables, _) = accord_scenario::sweep::plan(
        &file,
        &["end-nmi:DEU.position=2027-01-01..2027-01-31:10".to_string()],
        &[],
    )
    .unwrap();
    assert_eq!(variables[0].values.len(), 4);
    assert_eq!(variables[0].text(variables[0].values[3]), "2027-01-31");
}

#[test]
fn bad_sweep_specs_are_refused_with_their_line() {
    let cases = [
        (
            "@slow.salience",
            "@nobody.salience",
            6,
            "no stance is tagged `nobody`",
        ),
        (
            "@slow.salience",
            "DEU.mood",
            6,
            "a member's `mood` cannot vary",
        ),
        ("@slow.salience", "nopolicy.x", 6, "neither a member code"),
        ("step = 0.1", "step = 0", 9, "must be a number above 0"),
        ("to = 0.9", "to = 1.5", 7, "a salience runs from 0 to 1"),
        ("from = 0.1", "from = 0.95", 8, "to is below from"),
        (
            "[\"Weighted\"]",
            "[\"Nope\"]",
            3,
            "no policy column is labelled `Nope`",
        ),
    ];
    for (old, new, line, message) in cases {
        let sweep = SWEEP.replacen(old, new, 1);
        let found = problems(&with_sweep(&sweep));
        assert!(
            found.iter().any(|p| p.contains(message)),
            "{new}: {found:?}"
        );
        // The sweep's text starts at line 14 of the file (its first line is empty).
        let first = found[0]
            .split(':')
            .nth(1)
            .unwrap()
            .parse::<usize>()
            .unwrap();
        assert_eq!(first, 13 + line, "{new}: {found:?}");
    }
    // A command-line spec names itself.
    let (file, _) = parse(Path::new("s.toml"), &with_sweep(SWEEP)).unwrap();
    let e = accord_scenario::sweep::plan(&file, &["pressure.pressure=0..2".to_string()], &[])
        .unwrap_err();
    assert!(e.contains("is not NAME=FROM..TO:STEP"), "{e}");
    let e = accord_scenario::sweep::plan(&file, &["weighted.quota=0.9..0.5:0.1".to_string()], &[])
        .unwrap_err();
    assert!(
        e.contains("--vary `weighted.quota=0.9..0.5:0.1`: to is below from"),
        "{e}"
    );
    let e = accord_scenario::sweep::plan(&file, &["DEU.position=1000..2000:100".to_string()], &[])
        .unwrap_err();
    assert!(e.contains("no proposal here resizes or launches"), "{e}");
}

#[test]
fn acceptable_ranges_are_checked_against_the_quantity() {
    let bad = with(
        "salience = 0.4\n",
        "salience = 0.4\nacceptable = [3000, 4000]\n",
    );
    assert!(
        problems(&bad)[0].contains("acceptable takes two values"),
        "{:?}",
        problems(&bad)
    );
    let reversed = with(
        "salience = 0.4\n",
        "salience = 0.4\nacceptable = [2027-12-31, 2027-03-31]\n",
    );
    assert!(problems(&reversed)[0].contains("low is above high"));
}

mod properties {
    use std::path::Path;

    use accord_scenario::format::parse;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The scenario parser never panics, whatever bytes it is given: it returns a scenario
        /// or problems.
        #[test]
        fn the_parser_never_panics_on_any_text(text in ".{0,400}") {
            let _ = parse(Path::new("fuzz.toml"), &text);
        }

        /// Nor on text shaped like a scenario with hostile values.
        #[test]
        fn the_parser_never_panics_on_hostile_values(
            title in ".{0,64}",
            member in "[A-Z]{0,6}",
            number in any::<i64>(),
        ) {
            let text = format!(
                "[scenario]\ntitle = {title:?}\n\n[[proposal]]\nsponsor = {member:?}\ndeadline = {number}\n"
            );
            let _ = parse(Path::new("fuzz.toml"), &text);
        }
    }
}
