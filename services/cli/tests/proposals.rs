//! `accord proposals …` against a real server shared by the tests of this file (each test works
//! on its own proposals): create each kind, show, list with filters, vote, ballots, evaluate,
//! withdraw, close, watch while another process votes, and the errors they print.

use std::sync::OnceLock;

use accord_test_support::cli::{CliServer, Watcher};
use serde_json::Value;

fn server() -> &'static CliServer {
    static SERVER: OnceLock<CliServer> = OnceLock::new();
    SERVER.get_or_init(CliServer::start_default)
}

fn state(s: &CliServer, id: &str) -> String {
    s.json(&["proposals", "show", id])["proposal"]["state"]
        .as_str()
        .expect("a state")
        .to_string()
}

#[test]
fn create_every_kind_of_proposal_and_show_it() {
    let s = server();
    let common = ["--sponsor", "USA", "--deadline-in", "2h"];
    let with = |args: &[&str]| -> Vec<String> {
        args.iter()
            .chain(common.iter())
            .map(|a| a.to_string())
            .collect()
    };
    let cases: Vec<(Vec<String>, &str, &str)> = vec![
        (
            with(&[
                "end-mission",
                "NMI",
                "--end-date",
                "2026-09-30",
                "--title",
                "End NATO Mission Iraq",
            ]),
            "endMission",
            "missions/NMI",
        ),
        (
            with(&[
                "resize-mission",
                "missions/KFOR",
                "--ceiling",
                "3000",
                "--title",
                "Shrink KFOR",
            ]),
            "resizeMission",
            "missions/KFOR",
        ),
        (
            with(&[
                "extend-mission",
                "KFOR",
                "--end-date",
                "2027-12-31",
                "--title",
                "Extend KFOR",
                "--procedure",
                "silence",
            ]),
            "extendMission",
            "missions/KFOR",
        ),
        (
            with(&[
                "launch-mission",
                "CLI-LAUNCH",
                "--name",
                "A mission from the CLI tests",
                "--location",
                "Nowhere",
                "--ceiling",
                "250",
                "--in-area",
                "--mandate",
                "Test the command line",
                "--title",
                "Launch a test mission",
            ]),
            "launchMission",
            "missions/CLI-LAUNCH",
        ),
        (
            with(&[
                "summit-participation",
                "UKR",
                "--participation",
                "none",
                "--title",
                "No formal seat for Ukraine",
            ]),
            "setSummitParticipation",
            "partners/UKR",
        ),
        (
            with(&[
                "motion",
                "--text",
                "Return to factory settings",
                "--target",
                "free text",
                "--title",
                "Factory settings",
                "--description",
                "The February 2026 request",
            ]),
            "genericMotion",
            "free text",
        ),
    ];
    for (args, field, target) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let id = s.create(&args);
        let json = s.json(&["proposals", "show", &id]);
        let p = &json["proposal"];
        assert_eq!(p["name"], format!("proposals/{id}"));
        assert_eq!(p["state"], "PROPOSAL_STATE_OPEN");
        assert_eq!(p["sponsor"], "members/USA");
        assert!(p[field].is_object(), "{field} missing: {p}");
        assert!(p["deadline"].is_string(), "{p}");

        // Listing by kind and target finds it.
        let kind = args[0];
        let list = s.json(&[
            "proposals",
            "list",
            "--kind",
            kind,
            "--target",
            target,
            "--state",
            "open",
        ]);
        let names: Vec<&Value> = list["proposals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| &p["name"])
            .collect();
        assert!(
            names.iter().any(|n| **n == format!("proposals/{id}")),
            "{kind} {target}: {names:?}"
        );
        assert!(
            list["proposals"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p[field].is_object())
        );
    }

    let json = s.json(&["proposals", "list", "--kind", "launch-mission"]);
    let launch = json["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["launchMission"])
        .find(|l| l["missionId"] == "CLI-LAUNCH")
        .expect("the launch proposal is listed");
    assert_eq!(launch["missionId"], "CLI-LAUNCH");
    assert_eq!(launch["personnelCeiling"], 250);
    assert_eq!(launch["inArea"], true);
    let json = s.json(&["proposals", "list", "--kind", "extend-mission"]);
    assert_eq!(json["proposals"][0]["procedure"], "PROCEDURE_SILENCE");

    // Human output.
    let out = s
        .accord(&[
            "proposals",
            "create",
            "end-mission",
            "NMI",
            "--end-date",
            "2026-09-30",
            "--title",
            "End NMI (human)",
            "--sponsor",
            "USA",
            "--deadline",
            "2099-01-01T00:00:00Z",
        ])
        .ok();
    for needle in [
        "created proposals/",
        "End NMI (human)",
        "end missions/NMI on 2026-09-30",
        "open-vote",
        "2099-01-01T00:00:00Z",
    ] {
        assert!(out.contains(needle), "`{needle}` missing from:\n{out}");
    }
    let out = s.accord(&["proposals", "list"]).ok();
    for needle in [
        "Title",
        "End NMI (human)",
        "summit-participation",
        "missions/KFOR",
    ] {
        assert!(out.contains(needle), "`{needle}` missing from:\n{out}");
    }
}

#[test]
fn create_errors_are_the_servers_status_in_one_line() {
    let s = server();
    let line = s
        .accord(&[
            "proposals",
            "create",
            "resize-mission",
            "KFOR",
            "--ceiling",
            "-5",
            "--title",
            "Negative",
            "--sponsor",
            "USA",
        ])
        .fails(1, "INVALID_ARGUMENT: ");
    assert!(line.contains("personnel_ceiling"), "{line}");
    s.accord(&[
        "proposals",
        "create",
        "motion",
        "--text",
        "x",
        "--title",
        "t",
        "--sponsor",
        "XXX",
    ])
    .fails(1, "NOT_FOUND: ");
    s.accord(&[
        "proposals",
        "create",
        "motion",
        "--text",
        "x",
        "--title",
        "t",
        "--sponsor",
        "USA",
        "--deadline",
        "2001-01-01T00:00:00Z",
    ])
    .fails(1, "INVALID_ARGUMENT: ");
    s.accord(&[
        "proposals",
        "create",
        "motion",
        "--text",
        "x",
        "--title",
        "t",
        "--sponsor",
        "USA",
        "--policy",
        "nosuch",
    ])
    .fails(1, "NOT_FOUND: ");
    s.accord(&["proposals", "show", "999999"])
        .fails(1, "NOT_FOUND: ");
    s.accord(&["proposals", "show", "abc"])
        .fails(1, "INVALID_ARGUMENT: ");
}

#[test]
fn vote_and_list_ballots() {
    let s = server();
    let id = s.create(&[
        "resize-mission",
        "KFOR",
        "--ceiling",
        "3000",
        "--title",
        "Shrink KFOR (ballots)",
        "--sponsor",
        "USA",
    ]);
    let json = s.json(&[
        "proposals",
        "vote",
        &id,
        "--member",
        "DEU",
        "--choice",
        "object",
        "--salience",
        "0.7",
        "--reason",
        "too fast",
        "--position",
        "3500",
    ]);
    assert_eq!(json["ballot"]["member"], "members/DEU");
    assert_eq!(json["ballot"]["choice"], "CHOICE_OBJECT");
    assert_eq!(json["ballot"]["salience"], 0.7);
    assert_eq!(json["ballot"]["position"]["amount"], 3500.0);
    assert_eq!(json["proposal"]["name"], format!("proposals/{id}"));

    let out = s
        .accord(&[
            "proposals",
            "vote",
            &format!("proposals/{id}"),
            "--member",
            "members/FRA",
            "--choice",
            "abstain",
        ])
        .ok();
    assert!(out.contains("FRA: abstain"), "{out}");
    assert!(out.contains(&format!("proposals/{id} is open")), "{out}");

    // A date position does not fit a resize proposal.
    s.accord(&[
        "proposals",
        "vote",
        &id,
        "--member",
        "ITA",
        "--choice",
        "support",
        "--position",
        "2027-03-31",
    ])
    .fails(1, "INVALID_ARGUMENT: ");
    s.accord(&[
        "proposals",
        "vote",
        &id,
        "--member",
        "ITA",
        "--choice",
        "support",
        "--salience",
        "2",
    ])
    .fails(1, "INVALID_ARGUMENT: ");

    let json = s.json(&["proposals", "ballots", &id, "--page-size", "1"]);
    let ballots = json["ballots"].as_array().unwrap();
    assert_eq!(ballots.len(), 2, "{json}");
    assert_eq!(ballots[0]["member"], "members/DEU");
    assert_eq!(ballots[0]["reason"], "too fast");
    assert_eq!(ballots[1]["choice"], "CHOICE_ABSTAIN");
    let out = s.accord(&["proposals", "ballots", &id]).ok();
    for needle in [
        "Member",
        "DEU",
        "object",
        "3500",
        "0.7",
        "too fast",
        "FRA",
        "abstain",
        "2 ballots",
    ] {
        assert!(out.contains(needle), "`{needle}` missing from:\n{out}");
    }

    // A date position fits an end proposal.
    let end = s.create(&[
        "end-mission",
        "NMI",
        "--end-date",
        "2026-09-30",
        "--title",
        "End NMI (position)",
        "--sponsor",
        "USA",
    ]);
    let json = s.json(&[
        "proposals",
        "vote",
        &end,
        "--member",
        "GBR",
        "--choice",
        "object",
        "--position",
        "2027-03-31",
    ]);
    assert_eq!(json["ballot"]["position"]["date"]["year"], 2027);
}

#[test]
fn evaluate_under_all_or_chosen_policies() {
    let s = server();
    let id = s.create(&[
        "resize-mission",
        "KFOR",
        "--ceiling",
        "2500",
        "--title",
        "Shrink KFOR (evaluate)",
        "--sponsor",
        "USA",
    ]);
    s.accord(&[
        "proposals",
        "vote",
        &id,
        "--member",
        "USA",
        "--choice",
        "support",
    ])
    .ok();
    s.accord(&[
        "proposals",
        "vote",
        &id,
        "--member",
        "DEU",
        "--choice",
        "object",
    ])
    .ok();

    let json = s.json(&["proposals", "evaluate", &id]);
    let evaluations = json["evaluations"].as_array().unwrap();
    let policies: Vec<&str> = evaluations
        .iter()
        .map(|e| e["policy"].as_str().unwrap())
        .collect();
    assert_eq!(
        policies,
        [
            "policies/bargaining",
            "policies/pressure",
            "policies/unanimity",
            "policies/weighted"
        ]
    );
    for e in evaluations {
        assert_eq!(e["errorCode"], 0, "{e}");
        assert!(e["decision"]["outcome"].is_string(), "{e}");
        assert!(e["decision"]["supportShare"].is_number(), "{e}");
    }
    let unanimity = &evaluations[2]["decision"];
    assert_eq!(unanimity["outcome"], "OUTCOME_REJECTED");
    assert_eq!(unanimity["blockers"][0], "members/DEU");
    assert!(evaluations[1]["decision"]["adoptionProbability"].is_number());

    let json = s.json(&[
        "proposals",
        "evaluate",
        &id,
        "--policy",
        "weighted",
        "--policy",
        "pressure:trials=20000,mode=deterministic",
        "--seed",
        "7",
        "--ballot",
        "HUN=object",
    ]);
    let evaluations = json["evaluations"].as_array().unwrap();
    assert_eq!(evaluations.len(), 2);
    assert_eq!(evaluations[0]["policy"], "policies/weighted");
    assert_eq!(evaluations[1]["policy"], "policies/pressure");
    let holdouts = evaluations[1]["decision"]["likelyHoldouts"]
        .as_array()
        .unwrap();
    assert!(holdouts.iter().any(|h| h == "members/HUN"), "{holdouts:?}");

    let out = s.accord(&["proposals", "evaluate", &id]).ok();
    for needle in [
        "Policy",
        "Outcome",
        "Support",
        "Blockers",
        "Pivotal",
        "P(adopted)",
        "Likely holdouts",
        "unanimity",
        "weighted",
        "pressure",
        "rejected",
        "DEU",
    ] {
        assert!(out.contains(needle), "`{needle}` missing from:\n{out}");
    }
    let out = s
        .accord(&[
            "proposals",
            "evaluate",
            &id,
            "--policy",
            "unanimity",
            "--explain",
        ])
        .ok();
    assert!(out.contains("explanation:"), "{out}");

    s.accord(&[
        "proposals",
        "evaluate",
        &id,
        "--policy",
        "pressure:trials=x",
    ])
    .fails(1, "INVALID_ARGUMENT: ");
    s.accord(&["proposals", "evaluate", &id, "--policy", "nosuch"])
        .fails(1, "NOT_FOUND: ");
}

#[test]
fn withdraw_only_by_the_sponsor() {
    let s = server();
    let id = s.motion("Withdraw me", &[]);
    let line = s
        .accord(&["proposals", "withdraw", &id, "--requester", "DEU"])
        .fails(1, "PERMISSION_DENIED: ");
    assert!(line.contains("sponsor"), "{line}");
    let out = s
        .accord(&["proposals", "withdraw", &id, "--requester", "USA"])
        .ok();
    assert!(out.contains("withdrawn"), "{out}");
    assert_eq!(state(s, &id), "PROPOSAL_STATE_WITHDRAWN");
    s.accord(&["proposals", "withdraw", &id, "--requester", "USA"])
        .fails(1, "FAILED_PRECONDITION: ");
    s.accord(&[
        "proposals",
        "vote",
        &id,
        "--member",
        "DEU",
        "--choice",
        "support",
    ])
    .fails(1, "FAILED_PRECONDITION: ");

    let id = s.motion("Withdraw me (json)", &[]);
    let json = s.json(&["proposals", "withdraw", &id, "--requester", "members/USA"]);
    assert_eq!(json["proposal"]["state"], "PROPOSAL_STATE_WITHDRAWN");
    let json = s.json(&["proposals", "list", "--state", "withdrawn"]);
    assert!(
        json["proposals"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == format!("proposals/{id}"))
    );
}

#[test]
fn close_decides_with_the_proposals_policy() {
    let s = server();
    let id = s.motion("Close me", &[]);
    s.accord(&[
        "proposals",
        "vote",
        &id,
        "--member",
        "USA",
        "--choice",
        "support",
    ])
    .ok();
    let out = s.accord(&["proposals", "close", &id]).ok();
    for needle in [
        &format!("closed proposals/{id}"),
        "Decision by unanimity",
        "support:",
        "blockers:",
        "explanation:",
    ] {
        assert!(out.contains(needle), "`{needle}` missing from:\n{out}");
    }
    let json = s.json(&["proposals", "show", &id]);
    let p = &json["proposal"];
    assert_ne!(p["state"], "PROPOSAL_STATE_OPEN");
    assert!(p["closeTime"].is_string(), "{p}");
    assert_eq!(p["decision"]["settled"], true);
    assert!(!p["decision"]["explanation"].as_array().unwrap().is_empty());
    let out = s.accord(&["proposals", "show", &id]).ok();
    assert!(out.contains("Decision by unanimity"), "{out}");
    s.accord(&["proposals", "close", &id])
        .fails(1, "FAILED_PRECONDITION: ");

    let id = s.motion("Close me (json)", &[]);
    let json = s.json(&["proposals", "close", &id]);
    assert!(
        json["proposal"]["decision"]["outcome"].is_string(),
        "{json}"
    );
}

#[test]
fn an_adopted_launch_creates_the_mission() {
    let s = server();
    // Weighted by defence spending, the USA alone holds about 65% of the weight.
    let id = s.create(&[
        "launch-mission",
        "CLI-ADOPTED",
        "--name",
        "Adopted from the command line",
        "--ceiling",
        "100",
        "--title",
        "Launch CLI-ADOPTED",
        "--sponsor",
        "USA",
        "--policy",
        "weighted",
        "--param",
        "quota=0.6",
    ]);
    let json = s.json(&["proposals", "show", &id]);
    assert_eq!(json["proposal"]["policy"]["policyId"], "weighted");
    assert_eq!(json["proposal"]["policy"]["parameters"]["quota"], "0.6");
    let out = s
        .accord(&[
            "proposals",
            "vote",
            &id,
            "--member",
            "USA",
            "--choice",
            "support",
            "--position",
            "120",
        ])
        .ok();
    assert!(out.contains("is now adopted"), "{out}");
    assert!(out.contains("Decision by weighted"), "{out}");
    let json = s.json(&["missions", "show", "CLI-ADOPTED"]);
    assert_eq!(json["mission"]["status"], "MISSION_STATUS_ACTIVE");
    assert_eq!(json["mission"]["personnelCeiling"], 100);
}

#[test]
fn watch_prints_events_as_they_happen_until_the_proposal_closes() {
    let s = server();
    let id = s.motion("Watch me", &[]);
    let mut watch = Watcher::spawn(s.command(&["proposals", "watch", &id]));
    let first = watch.next_line();
    assert!(first.contains("snapshot"), "{first}");
    assert!(first.contains(&format!("proposals/{id}")), "{first}");
    assert!(first.contains("Watch me"), "{first}");

    s.accord(&[
        "proposals",
        "vote",
        &id,
        "--member",
        "DEU",
        "--choice",
        "support",
        "--reason",
        "why not",
    ])
    .ok();
    let line = watch.next_line();
    assert!(line.contains("ballot-cast"), "{line}");
    assert!(line.contains("DEU: support"), "{line}");
    assert!(line.contains("why not"), "{line}");

    s.accord(&["proposals", "close", &id]).ok();
    let line = watch.next_line();
    assert!(line.contains("decided"), "{line}");
    assert!(line.contains("unanimity"), "{line}");
    assert_eq!(watch.wait(), 0);
}

#[test]
fn watch_json_prints_one_object_per_line() {
    let s = server();
    let id = s.motion("Watch me (json)", &["--procedure", "silence"]);
    let mut watch = Watcher::spawn(s.command(&["--json", "proposals", "watch", &id]));
    let parse = |line: String| -> Value {
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    };
    let snapshot = parse(watch.next_line());
    assert_eq!(snapshot["type"], "PROPOSAL_EVENT_TYPE_SNAPSHOT");
    assert_eq!(snapshot["proposal"]["name"], format!("proposals/{id}"));

    s.accord(&[
        "proposals",
        "vote",
        &id,
        "--member",
        "FRA",
        "--choice",
        "support",
    ])
    .ok();
    let event = parse(watch.next_line());
    assert_eq!(event["type"], "PROPOSAL_EVENT_TYPE_BALLOT_CAST");
    assert_eq!(event["ballot"]["member"], "members/FRA");

    // Under the silence procedure an objection breaks silence and settles the proposal.
    s.accord(&[
        "proposals",
        "vote",
        &id,
        "--member",
        "HUN",
        "--choice",
        "object",
    ])
    .ok();
    let types: Vec<String> = (0..3)
        .map(|_| {
            parse(watch.next_line())["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        types,
        [
            "PROPOSAL_EVENT_TYPE_BALLOT_CAST",
            "PROPOSAL_EVENT_TYPE_SILENCE_BROKEN",
            "PROPOSAL_EVENT_TYPE_DECIDED"
        ]
    );
    assert_eq!(watch.wait(), 0);
    assert_eq!(state(s, &id), "PROPOSAL_STATE_REJECTED");

    // Watching a closed proposal prints its snapshot and ends.
    let out = s.accord(&["--json", "proposals", "watch", &id]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    let snapshot: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(snapshot["proposal"]["state"], "PROPOSAL_STATE_REJECTED");

    s.accord(&["proposals", "watch", "999999"])
        .fails(1, "NOT_FOUND: ");
}
