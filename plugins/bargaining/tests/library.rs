//! The built `bargaining` library, loaded through the real host loader.

use accord_policy_sdk::DecisionPolicy;
use accord_policy_sdk::conformance::{check_library, locate_library};
use accord_policy_sdk::host::PolicyLibrary;
use accord_policy_sdk::selftest::sample_request;

#[test]
fn the_library_passes_the_conformance_kit() {
    let path = locate_library("accord_bargaining").expect("build the library first");
    check_library(&path).assert_passed();
}

#[test]
fn through_the_library_the_decision_matches_the_linked_policy() {
    let path = locate_library("accord_bargaining").expect("build the library first");
    let library = PolicyLibrary::load(path).unwrap();
    let request = sample_request(9);
    let mut through = library.decide(&request).unwrap();
    let identity = through.policy.take().unwrap();
    assert_eq!(identity.policy_id, "bargaining");
    let linked = accord_bargaining::Bargaining
        .decide_message(&request)
        .unwrap();
    assert_eq!(through, linked);
}
