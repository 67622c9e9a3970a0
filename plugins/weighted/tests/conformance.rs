//! The built `weighted` library passes the SDK's conformance checks through the real host loader.

#[test]
fn weighted_library_conforms() {
    let path = accord_policy_sdk::conformance::locate_library("accord_weighted")
        .expect("the accord_weighted cdylib is built next to the tests");
    accord_policy_sdk::conformance::check_library(&path).assert_passed();
}
