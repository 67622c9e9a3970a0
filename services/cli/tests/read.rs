//! `accord members|partners|missions list|show` against a real server (one shared by the tests
//! of this file: they only read), their `--json` output, and the one-line errors: NOT_FOUND, a
//! server that cannot be reached, and usage errors.

use std::sync::OnceLock;

use accord_test_support::cli::{CliServer, accord_raw};

fn server() -> &'static CliServer {
    static SERVER: OnceLock<CliServer> = OnceLock::new();
    SERVER.get_or_init(CliServer::start_default)
}

#[test]
fn members_list_shows_every_ally_in_a_table_and_as_json() {
    let s = server();
    let out = s.accord(&["members", "list"]).ok();
    for needle in [
        "Code",
        "Defence $bn",
        "% GDP",
        "USA",
        "United States",
        "1949",
        "active",
        "Türkiye",
        "32 members",
    ] {
        assert!(out.contains(needle), "`{needle}` missing from:\n{out}");
    }

    // Small pages: the command follows next_page_token to the end.
    let json = s.json(&["members", "list", "--page-size", "5"]);
    let members = json["members"].as_array().expect("members array");
    assert_eq!(members.len(), 32);
    assert_eq!(json["totalSize"], 32);
    assert_eq!(json["nextPageToken"], "");
    let usa = members
        .iter()
        .find(|m| m["code"] == "USA")
        .expect("USA listed");
    assert_eq!(usa["name"], "members/USA");
    assert_eq!(usa["status"], "MEMBER_STATUS_ACTIVE");
    assert_eq!(usa["accessionYear"], 1949);
    assert!(
        usa["attributes"]["defence_expenditure_usd_mn"]
            .as_f64()
            .unwrap()
            > 900_000.0
    );

    let json = s.json(&["members", "list", "--status", "active"]);
    assert_eq!(json["members"].as_array().unwrap().len(), 32);
    let json = s.json(&["members", "list", "--status", "invited"]);
    assert_eq!(json["members"].as_array().unwrap().len(), 0);
    assert_eq!(json["totalSize"], 0);
}

#[test]
fn members_show_accepts_a_code_or_a_name() {
    let s = server();
    let out = s.accord(&["members", "show", "DEU"]).ok();
    for needle in [
        "Germany",
        "members/DEU",
        "1955",
        "Europe",
        "us_troops_hosted",
    ] {
        assert!(out.contains(needle), "`{needle}` missing from:\n{out}");
    }
    let json = s.json(&["members", "show", "members/DEU"]);
    assert_eq!(json["member"]["displayName"], "Germany");
    assert_eq!(json["member"]["code"], "DEU");
    let lower = s.json(&["members", "show", "deu"]);
    assert_eq!(lower["member"]["code"], "DEU", "bare codes are upper-cased");
}

#[test]
fn partners_list_filters_by_participation_and_show_prints_the_record() {
    let s = server();
    let out = s.accord(&["partners", "list"]).ok();
    for needle in [
        "UKR",
        "Ukraine",
        "JPN",
        "indo-pacific",
        "Summit",
        "partners",
    ] {
        assert!(out.contains(needle), "`{needle}` missing from:\n{out}");
    }
    let all = s.json(&["partners", "list", "--page-size", "2"]);
    let partners = all["partners"].as_array().unwrap();
    assert!(partners.len() >= 5, "{all}");
    assert_eq!(all["totalSize"], partners.len());
    for participation in ["full", "restricted", "none"] {
        let json = s.json(&["partners", "list", "--participation", participation]);
        let want = format!("SUMMIT_PARTICIPATION_{}", participation.to_uppercase());
        for p in json["partners"].as_array().unwrap() {
            assert_eq!(p["summitParticipation"], want.as_str(), "{p}");
        }
    }

    let out = s.accord(&["partners", "show", "UKR"]).ok();
    for needle in [
        "Ukraine",
        "partners/UKR",
        "aspirant",
        "NATO-Ukraine Council",
    ] {
        assert!(out.contains(needle), "`{needle}` missing from:\n{out}");
    }
    let json = s.json(&["partners", "show", "partners/UKR"]);
    assert_eq!(json["partner"]["code"], "UKR");
    assert_eq!(json["partner"]["category"], "PARTNER_CATEGORY_ASPIRANT");
}

#[test]
fn missions_list_and_show_with_contributions() {
    let s = server();
    let out = s.accord(&["missions", "list"]).ok();
    for needle in [
        "KFOR",
        "NMI",
        "NATO Mission Iraq",
        "Ceiling",
        "active",
        "missions",
    ] {
        assert!(out.contains(needle), "`{needle}` missing from:\n{out}");
    }
    let json = s.json(&["missions", "list", "--status", "active"]);
    let missions = json["missions"].as_array().unwrap();
    assert!(missions.iter().any(|m| m["id"] == "KFOR"));
    assert!(
        missions
            .iter()
            .all(|m| m["status"] == "MISSION_STATUS_ACTIVE")
    );
    let json = s.json(&["missions", "list", "--status", "terminated"]);
    assert_eq!(json["missions"].as_array().unwrap().len(), 0);

    let out = s.accord(&["missions", "show", "KFOR"]).ok();
    for needle in ["Kosovo", "missions/KFOR", "4500", "Troops", "ITA", "total"] {
        assert!(out.contains(needle), "`{needle}` missing from:\n{out}");
    }
    let json = s.json(&["missions", "show", "missions/KFOR"]);
    assert_eq!(json["mission"]["id"], "KFOR");
    assert_eq!(json["mission"]["area"], "MISSION_AREA_OUT_OF_AREA");
    assert!(
        !json["mission"]["contributions"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn not_found_prints_one_line_with_the_status_code() {
    let s = server();
    let line = s
        .accord(&["members", "show", "XXX"])
        .fails(1, "NOT_FOUND: ");
    assert!(line.contains("members/XXX"), "{line}");
    s.accord(&["missions", "show", "NOPE"])
        .fails(1, "NOT_FOUND: ");
    s.accord(&["partners", "show", "partners/XYZ"])
        .fails(1, "NOT_FOUND: ");
    // A malformed name is the server's INVALID_ARGUMENT.
    s.accord(&["members", "show", "missions/KFOR"])
        .fails(1, "INVALID_ARGUMENT: ");
    // JSON mode does not change how errors look.
    s.accord(&["--json", "members", "show", "XXX"])
        .fails(1, "NOT_FOUND: ");
}

#[test]
fn an_unreachable_server_prints_one_line_and_exits_3() {
    // Bind a port, then close it: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let addr = format!("http://127.0.0.1:{port}");
    let line = accord_raw(&["--addr", &addr, "members", "list"])
        .fails(3, "could not reach the server at http://127.0.0.1:");
    assert!(line.contains(&addr), "{line}");
    // host:port without a scheme is taken as http.
    let bare = format!("127.0.0.1:{port}");
    accord_raw(&["members", "show", "USA", "--addr", &bare])
        .fails(3, "could not reach the server at http://127.0.0.1:");
}

#[test]
fn usage_errors_exit_2() {
    let out = accord_raw(&["members", "list", "--status", "retired"]);
    assert_eq!(out.code, 2, "{out:?}");
    let out = accord_raw(&[
        "proposals",
        "create",
        "end-mission",
        "NMI",
        "--end-date",
        "2026-02-30",
        "--title",
        "t",
        "--sponsor",
        "USA",
    ]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("2026-02-30"), "{}", out.stderr);
    let out = accord_raw(&[
        "proposals",
        "create",
        "motion",
        "--text",
        "x",
        "--title",
        "t",
        "--sponsor",
        "USA",
        "--deadline-in",
        "soon",
    ]);
    assert_eq!(out.code, 2, "{out:?}");
    let out = accord_raw(&["proposals", "vote", "1", "--member", "DEU"]);
    assert_eq!(out.code, 2, "--choice is required: {out:?}");
    accord_raw(&["--addr", "http://[bad", "members", "list"]).fails(2, "invalid --addr");
}

#[test]
fn help_describes_every_command() {
    let out = accord_raw(&["--help"]).ok();
    for needle in [
        "members",
        "partners",
        "missions",
        "proposals",
        "policies",
        "--json",
        "--addr",
    ] {
        assert!(out.contains(needle), "`{needle}` missing from:\n{out}");
    }
    let out = accord_raw(&["proposals", "create", "--help"]).ok();
    for needle in [
        "end-mission",
        "resize-mission",
        "extend-mission",
        "launch-mission",
        "summit-participation",
        "motion",
    ] {
        assert!(out.contains(needle), "`{needle}` missing from:\n{out}");
    }
}

#[test]
fn health_reports_serving_and_fails_for_an_unknown_service() {
    let s = server();
    assert_eq!(s.accord(&["health"]).ok().trim(), "SERVING");
    assert_eq!(s.json(&["health"])["status"], "SERVING");
    assert_eq!(
        s.accord(&["health", "--service", "accord.v1.ProposalService"])
            .ok()
            .trim(),
        "SERVING"
    );
    // The standard health service answers NOT_FOUND for a service it does not know.
    s.accord(&["health", "--service", "no.such.Service"])
        .fails(1, "NOT_FOUND: ");
}
