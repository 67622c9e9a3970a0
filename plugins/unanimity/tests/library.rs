//! The built `unanimity` library, loaded through the real host loader.

use accord_policy_sdk::conformance::{check_library, locate_library};
use accord_policy_sdk::host::PolicyLibrary;
use accord_policy_sdk::proto::{Choice, Outcome, Procedure};
use accord_policy_sdk::selftest::sample_request;

fn library() -> PolicyLibrary {
    let path = locate_library("accord_unanimity")
        .expect("libaccord_unanimity is not built: run `cargo build --workspace` first");
    PolicyLibrary::load(path).unwrap()
}

#[test]
fn the_library_passes_the_conformance_kit() {
    let path = locate_library("accord_unanimity").expect("build the workspace first");
    check_library(&path).assert_passed();
}

#[test]
fn through_the_library_two_objections_block_and_are_named() {
    let decision = library().decide(&sample_request(1)).unwrap();
    assert_eq!(decision.outcome, Outcome::Rejected as i32);
    assert!(decision.settled, "the deadline has passed");
    assert_eq!(
        decision.blockers,
        vec!["members/DEU", "members/FRA", "members/LUX"]
    );
    assert_eq!(decision.policy.unwrap().policy_id, "unanimity");
}

#[test]
fn through_the_library_silence_is_broken_by_one_objection() {
    let mut request = sample_request(1);
    request.proposal.as_mut().unwrap().procedure = Procedure::Silence as i32;
    request
        .ballots
        .retain(|b| b.choice != Choice::Object as i32 || b.member == "members/DEU");
    let decision = library().decide(&request).unwrap();
    assert_eq!(decision.outcome, Outcome::Rejected as i32);
    assert_eq!(decision.blockers, vec!["members/DEU"]);
}
