//! The host loader against real shared libraries: the bundled `unanimity` policy and the broken
//! fixtures in `plugins/fixtures`. Build the workspace first (`cargo build --workspace`; the
//! README's test command does).
#![cfg(feature = "host")]

use std::path::{Path, PathBuf};

use accord_policy_sdk::conformance::{check_library, locate_library};
use accord_policy_sdk::host::{CallError, LoadError, PolicyLibrary};
use accord_policy_sdk::proto::Outcome;
use accord_policy_sdk::selftest::sample_request;

fn built(name: &str) -> PathBuf {
    locate_library(name).unwrap_or_else(|| {
        panic!("lib{name} is not built: run `cargo build --workspace` before the tests")
    })
}

fn load(name: &str) -> Result<PolicyLibrary, LoadError> {
    PolicyLibrary::load(built(name))
}

#[test]
fn a_file_that_is_not_a_library_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libnot_a_plugin.so");
    std::fs::write(&path, "this is text, not an ELF file").unwrap();
    let err = PolicyLibrary::load(&path).unwrap_err();
    assert!(matches!(err, LoadError::NotALibrary { .. }), "{err:?}");
    assert!(
        err.to_string().contains("not a loadable shared library"),
        "{err}"
    );
}

#[test]
fn a_missing_file_is_an_io_error() {
    let err = PolicyLibrary::load("/nonexistent/libnothing.so").unwrap_err();
    assert!(matches!(err, LoadError::Io { .. }), "{err:?}");
}

#[test]
fn a_library_without_the_entry_symbol_is_refused() {
    let err = load("accord_fixture_no_entry").unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::MissingEntry {
                symbol: "accord_policy_entry",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_library_of_another_abi_version_is_refused() {
    let err = load("accord_fixture_wrong_abi").unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::AbiVersion {
                found: 999,
                expected: 1,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_library_that_cannot_unwind_is_refused() {
    let err = load("accord_fixture_no_unwind").unwrap_err();
    assert!(matches!(err, LoadError::CannotUnwind { .. }), "{err:?}");
    assert!(err.to_string().contains("panic = \"unwind\""), "{err}");
}

#[test]
fn a_library_that_fails_its_self_test_is_refused() {
    let err = load("accord_fixture_failing_self_test").unwrap_err();
    match err {
        LoadError::SelfTestFailed {
            policy_id, reason, ..
        } => {
            assert_eq!(policy_id, "always-fails");
            assert!(reason.contains("fails on purpose"), "{reason}");
        }
        other => panic!("expected SelfTestFailed, got {other:?}"),
    }
}

#[test]
fn a_panic_inside_a_policy_fails_that_call_only() {
    let library = load("accord_fixture_panicking").unwrap();
    let mut request = sample_request(1);
    request.proposal.as_mut().unwrap().title = "please panic".into();
    let err = library.decide(&request).unwrap_err();
    match &err {
        CallError::Panicked(message) => {
            assert!(message.contains("fixture panics on purpose"), "{message}")
        }
        other => panic!("expected Panicked, got {other:?}"),
    }
    // The library keeps working after the caught panic.
    for _ in 0..3 {
        let decision = library.decide(&sample_request(1)).unwrap();
        assert_eq!(decision.outcome, Outcome::Adopted as i32);
        assert!(library.decide(&request).is_err());
    }
}

#[test]
fn loading_records_the_sha256_of_the_file() {
    let path = built("accord_unanimity");
    let library = PolicyLibrary::load(&path).unwrap();
    let output = std::process::Command::new("sha256sum")
        .arg(&path)
        .output()
        .unwrap();
    let expected = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        library.identity().library_sha256,
        expected.split_whitespace().next().unwrap()
    );
    assert_eq!(library.identity().policy_id, "unanimity");
    let decision = library.decide(&sample_request(1)).unwrap();
    assert_eq!(decision.policy.as_ref(), Some(library.identity()));
}

fn copy_to(from: &Path, dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(from, &to).unwrap();
    to
}

#[test]
fn replacing_the_file_on_disk_never_changes_a_loaded_policy() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_to(&built("accord_unanimity"), dir.path(), "libpolicy.so");
    let first = PolicyLibrary::load(&path).unwrap();
    let before = first.decide(&sample_request(7)).unwrap();

    // Overwrite the file in place with another policy, then load it again.
    std::fs::copy(built("accord_fixture_panicking"), &path).unwrap();
    let second = PolicyLibrary::load(&path).unwrap();

    assert_eq!(first.identity().policy_id, "unanimity");
    assert_eq!(second.identity().policy_id, "panicking");
    assert_ne!(
        first.identity().library_sha256,
        second.identity().library_sha256
    );
    let after = first.decide(&sample_request(7)).unwrap();
    assert_eq!(before, after, "the first library still answers as before");
}

#[test]
fn the_same_file_loaded_twice_gives_two_independent_libraries() {
    let a = load("accord_unanimity").unwrap();
    let b = load("accord_unanimity").unwrap();
    assert_eq!(a.identity(), b.identity());
    assert_eq!(
        a.decide(&sample_request(3)).unwrap(),
        b.decide(&sample_request(3)).unwrap()
    );
}

#[test]
fn the_conformance_kit_passes_a_real_policy_and_fails_broken_ones() {
    check_library(&built("accord_unanimity")).assert_passed();

    let broken = check_library(&built("accord_fixture_wrong_abi"));
    assert!(!broken.passed());
    assert!(broken.to_string().contains("ABI version 999"), "{broken}");
}

/// Deterministic bytes: each bundled policy answers the same request and seed with the same
/// bytes, call after call (the conformance kit's check, asserted by name).
#[test]
fn every_bundled_policy_answers_the_same_request_with_the_same_bytes() {
    for name in [
        "accord_unanimity",
        "accord_weighted",
        "accord_pressure",
        "accord_bargaining",
    ] {
        let report = check_library(&built(name));
        let check = report
            .checks
            .iter()
            .find(|c| c.name == "same seed, same bytes")
            .unwrap_or_else(|| panic!("{name}: no byte-identity check in {report}"));
        assert!(check.passed, "{name}: {}", check.detail);
        let library = load(name).unwrap();
        let request = prost::Message::encode_to_vec(&sample_request(7));
        let first = library.decide_bytes(&request).unwrap();
        for _ in 0..5 {
            assert_eq!(library.decide_bytes(&request).unwrap(), first, "{name}");
        }
    }
}
