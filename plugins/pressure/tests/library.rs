//! The built `pressure` library, loaded through the real host loader.

use accord_policy_sdk::conformance::{check_library, locate_library};
use accord_policy_sdk::host::PolicyLibrary;
use accord_policy_sdk::proto::{Choice, Outcome};
use accord_policy_sdk::selftest::sample_request;

fn library() -> PolicyLibrary {
    let path = locate_library("accord_pressure")
        .expect("libaccord_pressure is not built: run `cargo build -p accord-pressure` first");
    PolicyLibrary::load(path).unwrap()
}

#[test]
fn the_library_passes_the_conformance_kit() {
    let path = locate_library("accord_pressure").expect("build the library first");
    check_library(&path).assert_passed();
}

#[test]
fn through_the_library_the_decision_matches_the_linked_policy() {
    use accord_policy_sdk::DecisionPolicy;
    let request = sample_request(9);
    let mut through = library().decide(&request).unwrap();
    let identity = through.policy.take().unwrap();
    assert_eq!(identity.policy_id, "pressure");
    let linked = accord_pressure::PressurePolicy
        .decide_message(&request)
        .unwrap();
    assert_eq!(through, linked);
    assert_ne!(through.outcome, Outcome::Unspecified as i32);
}

#[test]
fn through_the_library_a_lead_without_a_ballot_is_refused() {
    let mut request = sample_request(1);
    request.ballots.retain(|b| b.member != "members/USA");
    request.proposal.as_mut().unwrap().sponsor = "members/POL".to_string();
    let err = library().decide(&request).unwrap_err();
    assert!(
        err.to_string()
            .contains("the lead nation USA has not cast a ballot"),
        "{err}"
    );
    // Other members' choices do not matter to the refusal.
    assert!(
        request
            .ballots
            .iter()
            .any(|b| b.choice == Choice::Object as i32)
    );
}
