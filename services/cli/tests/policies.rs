//! `accord policies list|show|load|replace|disable|default` against a real server whose plugin
//! directory holds copies of the real policy libraries (pressure and a second weighted library
//! copied in but not loaded at start), and the operator token on operator calls.

use std::sync::OnceLock;

use accord_test_support::cli::{CliServer, Run};
use accord_test_support::{Options, PRESSURE, UNANIMITY, WEIGHTED};
use serde_json::Value;

const WEIGHTED_V2: &str = "libaccord_weighted_v2.so";

fn server() -> &'static CliServer {
    static SERVER: OnceLock<CliServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        CliServer::start(Options {
            plugins: vec![UNANIMITY.into(), WEIGHTED.into()],
            extra: vec![
                (PRESSURE.into(), PRESSURE.into()),
                (WEIGHTED.into(), WEIGHTED_V2.into()),
            ],
            ..Options::default()
        })
    })
}

fn policy<'a>(list: &'a Value, id: &str) -> Option<&'a Value> {
    list["policies"]
        .as_array()
        .expect("policies array")
        .iter()
        .find(|p| p["name"] == format!("policies/{id}"))
}

#[test]
fn list_and_show_the_loaded_policies() {
    let s = server();
    let out = s.accord(&["policies", "list"]).ok();
    for needle in [
        "Id",
        "Version",
        "Health",
        "Default",
        "SHA-256",
        "File",
        "unanimity",
        "weighted",
        "healthy",
        UNANIMITY,
    ] {
        assert!(out.contains(needle), "`{needle}` missing from:\n{out}");
    }
    let json = s.json(&["policies", "list", "--page-size", "1"]);
    let unanimity = policy(&json, "unanimity").expect("unanimity listed");
    assert_eq!(unanimity["health"], "POLICY_HEALTH_HEALTHY");
    assert_eq!(unanimity["fileName"], UNANIMITY);
    let sha = unanimity["identity"]["librarySha256"].as_str().unwrap();
    assert_eq!(sha.len(), 64, "{sha}");
    assert!(
        out.contains(&sha[..12]),
        "the SHA-256 prefix is listed:\n{out}"
    );
    assert!(policy(&json, "weighted").is_some());

    let out = s.accord(&["policies", "show", "weighted"]).ok();
    for needle in [
        "policies/weighted",
        "Summary",
        "Parameter",
        "Type",
        "Default",
        "Doc",
        "quota",
        "number",
    ] {
        assert!(out.contains(needle), "`{needle}` missing from:\n{out}");
    }
    let json = s.json(&["policies", "show", "policies/unanimity"]);
    let descriptor = &json["policy"]["descriptor"];
    assert_eq!(descriptor["id"], "unanimity");
    let parameters = descriptor["parameters"].as_array().unwrap();
    assert!(!parameters.is_empty());
    for p in parameters {
        for field in ["name", "type", "defaultValue", "doc"] {
            assert!(!p[field].is_null(), "{field} missing from {p}");
        }
    }
    s.accord(&["policies", "show", "nosuch"])
        .fails(1, "NOT_FOUND: ");
}

#[test]
fn load_disable_and_reload_a_policy() {
    let s = server();
    let out = s.accord(&["policies", "load", PRESSURE]).ok();
    assert!(out.contains("loaded policies/pressure"), "{out}");
    assert!(out.contains(PRESSURE), "{out}");
    s.accord(&["policies", "load", PRESSURE])
        .fails(1, "ALREADY_EXISTS: ");
    s.accord(&["policies", "load", "libaccord_nosuch.so"])
        .fails(1, "NOT_FOUND: ");
    s.accord(&["policies", "load", "../libaccord_pressure.so"])
        .fails(1, "INVALID_ARGUMENT: ");

    let id = s.motion("Evaluate after a load", &["--policy", "unanimity"]);
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
    let json = s.json(&[
        "proposals",
        "evaluate",
        &id,
        "--policy",
        "unanimity",
        "--policy",
        "pressure",
    ]);
    assert_eq!(json["evaluations"][1]["policy"], "policies/pressure");
    assert_eq!(json["evaluations"][1]["errorCode"], 0, "{json}");

    let out = s.accord(&["policies", "disable", "pressure"]).ok();
    assert!(out.contains("disabled policies/pressure"), "{out}");
    let list = s.json(&["policies", "list"]);
    assert_eq!(
        policy(&list, "pressure").unwrap()["health"],
        "POLICY_HEALTH_DISABLED"
    );
    let out = s.accord(&["policies", "list"]).ok();
    assert!(out.contains("disabled"), "{out}");

    // A disabled policy fails in its own row when several are asked...
    let json = s.json(&[
        "proposals",
        "evaluate",
        &id,
        "--policy",
        "unanimity",
        "--policy",
        "pressure",
    ]);
    assert_eq!(json["evaluations"][0]["errorCode"], 0, "{json}");
    assert_eq!(
        json["evaluations"][1]["errorCode"], 14,
        "UNAVAILABLE: {json}"
    );
    let out = s
        .accord(&[
            "proposals",
            "evaluate",
            &id,
            "--policy",
            "unanimity",
            "--policy",
            "pressure",
        ])
        .ok();
    assert!(out.contains("Error"), "{out}");
    assert!(out.contains("UNAVAILABLE"), "{out}");
    // ...is left out when all are asked, and is the error when it alone is asked.
    let json = s.json(&["proposals", "evaluate", &id]);
    assert!(
        json["evaluations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["policy"] != "policies/pressure"),
        "{json}"
    );
    s.accord(&["proposals", "evaluate", &id, "--policy", "pressure"])
        .fails(1, "UNAVAILABLE: ");
    // A disabled policy cannot be the default (issue 9: FAILED_PRECONDITION).
    s.accord(&["policies", "default", "pressure"])
        .fails(1, "FAILED_PRECONDITION: ");

    // Loading again brings it back.
    let json = s.json(&["policies", "load", PRESSURE]);
    assert_eq!(json["policy"]["health"], "POLICY_HEALTH_HEALTHY");
    assert_eq!(json["policy"]["name"], "policies/pressure");
}

#[test]
fn replace_a_policy_and_set_the_default() {
    let s = server();
    let before = s.json(&["policies", "show", "weighted"]);
    assert_eq!(before["policy"]["fileName"], WEIGHTED);

    let out = s
        .accord(&["policies", "replace", "weighted", WEIGHTED_V2])
        .ok();
    assert!(out.contains("replaced policies/weighted"), "{out}");
    assert!(out.contains(WEIGHTED_V2), "{out}");
    let after = s.json(&["policies", "show", "weighted"]);
    assert_eq!(after["policy"]["fileName"], WEIGHTED_V2);
    assert_eq!(after["policy"]["health"], "POLICY_HEALTH_HEALTHY");

    let json = s.json(&["policies", "replace", "policies/weighted", WEIGHTED]);
    assert_eq!(json["policy"]["fileName"], WEIGHTED);
    assert_eq!(json["previous"]["policyId"], "weighted");
    assert!(json["previous"]["librarySha256"].is_string());

    // The library must hold the same policy.
    s.accord(&["policies", "replace", "weighted", UNANIMITY])
        .fails(1, "INVALID_ARGUMENT: ");
    s.accord(&["policies", "replace", "nosuch", WEIGHTED])
        .fails(1, "NOT_FOUND: ");

    let out = s.accord(&["policies", "default", "weighted"]).ok();
    assert!(
        out.contains("policies/weighted is now the default"),
        "{out}"
    );
    let list = s.json(&["policies", "list"]);
    assert_eq!(policy(&list, "weighted").unwrap()["isDefault"], true);
    assert_eq!(policy(&list, "unanimity").unwrap()["isDefault"], false);
    let id = s.motion("Decided by the default", &[]);
    let json = s.json(&["proposals", "show", &id]);
    assert_eq!(json["proposal"]["policy"]["policyId"], "weighted");

    let json = s.json(&["policies", "default", "unanimity"]);
    assert_eq!(json["policy"]["name"], "policies/unanimity");
    assert_eq!(json["policy"]["isDefault"], true);
}

#[test]
fn operator_calls_carry_the_token() {
    const TOKEN: &str = "s3cret-s3cret-s3cret-s3cret-s3cret";
    let s = CliServer::start(Options {
        plugins: vec![UNANIMITY.into(), WEIGHTED.into()],
        operator_token: Some(TOKEN.into()),
        ..Options::default()
    });
    // Without a credential nothing is served, not even reading.
    let line = s
        .accord(&["policies", "list"])
        .fails(1, "UNAUTHENTICATED: ");
    assert!(line.contains("authorization"), "{line}");
    s.accord(&["policies", "default", "weighted", "--token", "wrong"])
        .fails(1, "UNAUTHENTICATED: ");
    s.accord(&["policies", "list", "--token", TOKEN]).ok();
    let out = s
        .accord(&["policies", "default", "weighted", "--token", TOKEN])
        .ok();
    assert!(out.contains("is now the default"), "{out}");
    // The token can also come from ACCORD_OPERATOR_TOKEN.
    let output = s
        .command(&["policies", "disable", "weighted"])
        .env("ACCORD_OPERATOR_TOKEN", TOKEN)
        .output()
        .expect("run accord");
    let out = Run::from_output(output).ok();
    assert!(out.contains("disabled policies/weighted"), "{out}");
}

#[test]
fn load_and_replace_choose_where_the_library_runs() {
    let s = CliServer::start(Options {
        plugins: vec![UNANIMITY.into()],
        extra: vec![(PRESSURE.into(), PRESSURE.into())],
        ..Options::default()
    });
    let loaded = s.json(&["policies", "load", PRESSURE, "--isolation", "isolated"]);
    assert_eq!(loaded["policy"]["isolation"], "POLICY_ISOLATION_ISOLATED");
    assert!(
        loaded["policy"]["runnerPid"].as_u64().unwrap_or(0) > 0,
        "{loaded}"
    );
    let replaced = s.json(&[
        "policies",
        "replace",
        "unanimity",
        UNANIMITY,
        "--isolation",
        "isolated",
    ]);
    assert_eq!(replaced["policy"]["isolation"], "POLICY_ISOLATION_ISOLATED");
    // Unspecified keeps the replaced version's mode; in-process moves it back.
    let kept = s.json(&["policies", "replace", "unanimity", UNANIMITY]);
    assert_eq!(kept["policy"]["isolation"], "POLICY_ISOLATION_ISOLATED");
    let back = s.json(&[
        "policies",
        "replace",
        "unanimity",
        UNANIMITY,
        "--isolation",
        "in-process",
    ]);
    assert_eq!(back["policy"]["isolation"], "POLICY_ISOLATION_IN_PROCESS");
    let bad = s.accord(&["policies", "load", PRESSURE, "--isolation", "sandboxed"]);
    assert_eq!(bad.code, 2, "a usage error: {}", bad.stderr);
    assert!(bad.stderr.contains("sandboxed"), "{}", bad.stderr);
}
