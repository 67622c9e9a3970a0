//! A policy written in C from docs/plugin-abi.md alone, compiled with the system C compiler
//! (`cc`) and loaded through the real host loader.
#![cfg(feature = "host")]

use std::path::Path;
use std::process::Command;

use accord_policy_sdk::host::{CallError, PolicyLibrary};
use accord_policy_sdk::proto::Outcome;
use accord_policy_sdk::selftest::sample_request;

#[test]
fn a_policy_written_in_c_loads_and_decides() {
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("libc_minimal.so");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/minimal_policy.c");
    let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-shared", "-fPIC", "-std=c99", "-Wall", "-Werror", "-o"])
        .arg(&library)
        .arg(&source)
        .status()
        .expect("a C compiler (`cc`) is needed for this test");
    assert!(status.success(), "compiling {} failed", source.display());

    let policy = PolicyLibrary::load(&library).unwrap();
    assert_eq!(policy.identity().policy_id, "c-minimal");
    assert_eq!(policy.identity().version, "1.0.0");
    assert_eq!(policy.descriptor().summary, "Adopts everything.");

    let decision = policy.decide(&sample_request(1)).unwrap();
    assert_eq!(decision.outcome, Outcome::Adopted as i32);
    assert!(decision.settled);
    assert_eq!(decision.support_share, 1.0);
    assert_eq!(decision.explanation, vec!["written in C"]);
    assert_eq!(decision.policy.unwrap().policy_id, "c-minimal");

    let err = policy.decide_bytes(&[0xff, 0xff]).unwrap_err();
    assert_eq!(
        err,
        CallError::InvalidRequest("not an accord.v1.DecisionRequest".into())
    );
}
