//! The seed scenario run end to end against an embedded server with the real policy libraries:
//! the report, its JSON, and the SVG charts (well-formed, one seat per ally).

use std::path::{Path, PathBuf};

use accord_proto::v1::Outcome;
use accord_scenario::embedded::EmbeddedServer;
use accord_scenario::{report, run, svg};

/// target/{profile}: where cargo builds the policy libraries (this test runs from its deps/).
fn plugin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

fn seed_scenario() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/factory-settings-2026.toml")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_scenario_runs_and_draws() {
    let server = EmbeddedServer::start(Some(plugin_dir())).await.unwrap();
    let channel = tonic::transport::Channel::from_shared(server.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let (file, at) = accord_scenario::load(&seed_scenario()).unwrap();
    let report = run::run(
        &file,
        &at,
        accord_proto::client::conn(channel, Default::default()),
        false,
    )
    .await
    .unwrap();

    assert_eq!(report.proposals.len(), 3);
    for proposal in &report.proposals {
        // The two forecast rows (bargaining, Friedkin-Johnsen) only for proposals on a quantity.
        let rows = if proposal.id == "ankara-partners" {
            5
        } else {
            7
        };
        assert_eq!(proposal.rows.len(), rows, "{}", proposal.id);
        for row in &proposal.rows {
            let decision = row
                .result
                .as_ref()
                .unwrap_or_else(|e| panic!("{} / {}: {e:?}", proposal.id, row.label));
            assert!(
                decision.settled,
                "decided at the deadline: {} / {}",
                proposal.id, row.label
            );
            assert_eq!(decision.policy.as_ref().unwrap().policy_id, row.policy);
        }
        // Objections block consensus, in an open vote and under the silence procedure alike.
        for row in &proposal.rows[..2] {
            let decision = row.result.as_ref().unwrap();
            assert_eq!(
                decision.outcome,
                Outcome::Rejected as i32,
                "{} / {}",
                proposal.id,
                row.label
            );
            assert!(!decision.blockers.is_empty());
        }
        // The pressure row gives a probability of adoption and holdouts.
        let pressure = proposal.rows[4].result.as_ref().unwrap();
        let p = pressure
            .adoption_probability
            .expect("pressure gives a probability");
        assert!((0.0..=1.0).contains(&p));
    }
    // End NMI: 5 allies support, 27 object; Italy objects to shrinking KFOR.
    let nmi = &report.proposals[0];
    assert_eq!(nmi.ballots.len(), 32);
    let kfor = report.proposals[1].rows[0].result.as_ref().unwrap();
    assert!(kfor.blockers.contains(&"members/ITA".to_string()));

    let text = report::render(&report);
    assert!(text.contains("End NATO Mission Iraq by September 2026"));
    assert!(text.contains("Consensus (silence procedure)"));

    let json = report::to_json(&report);
    assert_eq!(json["proposals"].as_array().unwrap().len(), 3);
    assert_eq!(
        json["proposals"][0]["results"][0]["decision"]["outcome"],
        "OUTCOME_REJECTED"
    );
    assert_eq!(json["proposals"][0]["results"][0]["adopted"], false);

    let dir = tempfile::tempdir().unwrap();
    let files = svg::write_all(&report, dir.path()).unwrap();
    assert!(files.iter().any(|f| f.ends_with("end-nmi-seats.svg")));
    assert!(
        files
            .iter()
            .any(|f| f.to_string_lossy().ends_with("-concessions.svg"))
    );
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let doc =
            roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        if file.to_string_lossy().ends_with("-seats.svg") {
            let seats = doc
                .descendants()
                .filter(|n| n.tag_name().name() == "circle")
                .count();
            assert_eq!(
                seats,
                32 + 4,
                "32 seats and 4 legend dots in {}",
                file.display()
            );
        }
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_and_policies_unknown_to_the_server_are_reported_at_their_line() {
    let server = EmbeddedServer::start(Some(plugin_dir())).await.unwrap();
    let channel = tonic::transport::Channel::from_shared(server.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let text = std::fs::read_to_string(seed_scenario())
        .unwrap()
        .replacen("members = [\"HUN\"]", "members = [\"XXX\"]", 1)
        .replacen("policy = \"pressure\"", "policy = \"lottery\"", 1);
    let (file, at) = accord_scenario::parse(Path::new("edited.toml"), &text).unwrap();
    let err = run::run(
        &file,
        &at,
        accord_proto::client::conn(channel, Default::default()),
        false,
    )
    .await
    .unwrap_err();
    let message = err.to_string();
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    assert!(
        message.contains(&format!("edited.toml:{}:", line_of("policy = \"lottery\""))),
        "{message}"
    );
    assert!(
        message.contains("policy `lottery` is not loaded"),
        "{message}"
    );
    assert!(
        message.contains(&format!("edited.toml:{}:", line_of("members = [\"XXX\"]"))),
        "{message}"
    );
    assert!(
        message.contains("XXX is not a member of the alliance"),
        "{message}"
    );
    server.shutdown().await;
}
