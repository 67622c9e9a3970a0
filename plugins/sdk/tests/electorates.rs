//! ABI 1.1 against real libraries: the electorate registered once and named by id gives the
//! very same answer as the members in the request, a library that forgot an electorate gets it
//! again without the caller noticing, a version 1.0 library (`plugins/fixtures/abi-1-0`) still
//! loads and decides with the members spliced into its requests, and a 1.1 policy that reads
//! the members from the wire message is refused at load. Build the workspace first.
#![cfg(feature = "host")]

use std::path::PathBuf;

use accord_policy_sdk::abi::{KEPT_ELECTORATES_HINT, Status};
use accord_policy_sdk::conformance::locate_library;
use accord_policy_sdk::electorate::ElectorateSnapshot;
use accord_policy_sdk::host::{CallError, LoadError, PolicyLibrary};
use accord_policy_sdk::proto::{DecisionRequest, DecisionResponse, Outcome};
use accord_policy_sdk::selftest::sample_request;
use prost::Message;

fn built(name: &str) -> PathBuf {
    locate_library(name).unwrap_or_else(|| {
        panic!("lib{name} is not built: run `cargo build --workspace` before the tests")
    })
}

fn without_members(request: &DecisionRequest) -> DecisionRequest {
    DecisionRequest {
        members: Vec::new(),
        ..request.clone()
    }
}

#[test]
fn a_registered_electorate_gives_the_same_bytes_as_members_in_the_request() {
    for name in ["accord_unanimity", "accord_weighted", "accord_pressure"] {
        let library = PolicyLibrary::load(built(name)).unwrap();
        assert_eq!(library.abi_minor(), 1, "{name} speaks ABI 1.1");
        for seed in [1, 2, 3] {
            let mut request = sample_request(seed);
            if name == "accord_pressure" {
                request.parameters.insert("trials".into(), "2000".into());
            }
            let inline = library.decide_bytes(&request.encode_to_vec()).unwrap();
            let snapshot = ElectorateSnapshot::new(&request.members);
            let bytes = without_members(&request).encode_to_vec();
            let named = library.decide_bytes_in(&snapshot, &bytes).unwrap();
            assert_eq!(
                named, inline,
                "{name}, seed {seed}: named and inline differ"
            );
            // Registered now: the second call names it without registering again.
            assert_eq!(library.decide_bytes_in(&snapshot, &bytes).unwrap(), inline);
            let decision = library
                .decide_in(&snapshot, &without_members(&request))
                .unwrap();
            let expected = DecisionResponse::decode(inline.as_slice())
                .unwrap()
                .decision
                .unwrap();
            assert_eq!(decision.outcome, expected.outcome);
            assert_eq!(decision.explanation, expected.explanation);
        }
    }
}

#[test]
fn a_request_naming_an_unknown_electorate_gets_status_5_and_the_host_registers_it() {
    let library = PolicyLibrary::load(built("accord_unanimity")).unwrap();
    let request = sample_request(1);
    let snapshot = ElectorateSnapshot::new(&request.members);
    let bytes = without_members(&request).encode_to_vec();

    // Raw: the library has never seen this id.
    let err = library.decide_bytes(&snapshot.named(&bytes)).unwrap_err();
    match err {
        CallError::Failed(message) => assert!(
            message.contains(&format!("electorate {} is not registered", snapshot.id())),
            "{message}"
        ),
        other => panic!("expected the unknown-electorate status, got {other:?}"),
    }
    assert_eq!(Status::from_code(5), Some(Status::UnknownElectorate));

    // Through the host: registered on demand.
    let inline = library.decide_bytes(&request.encode_to_vec()).unwrap();
    assert_eq!(library.decide_bytes_in(&snapshot, &bytes).unwrap(), inline);

    // A library keeps a bounded number; the oldest is forgotten and registered again.
    for _ in 0..KEPT_ELECTORATES_HINT + 2 {
        let other = ElectorateSnapshot::new(&request.members);
        library.register(&other).unwrap();
    }
    assert!(
        library.decide_bytes(&snapshot.named(&bytes)).is_err(),
        "forgotten"
    );
    assert_eq!(library.decide_bytes_in(&snapshot, &bytes).unwrap(), inline);
}

#[test]
fn a_request_with_both_an_electorate_and_members_is_refused() {
    let library = PolicyLibrary::load(built("accord_unanimity")).unwrap();
    let request = sample_request(1);
    let snapshot = ElectorateSnapshot::new(&request.members);
    library.register(&snapshot).unwrap();
    let both = snapshot.named(&request.encode_to_vec());
    assert!(matches!(
        library.decide_bytes(&both),
        Err(CallError::InvalidRequest(m)) if m.contains("also lists members")
    ));
}

#[test]
fn a_malformed_snapshot_is_refused_and_registers_nothing() {
    let library = PolicyLibrary::load(built("accord_unanimity")).unwrap();
    let zero = ElectorateSnapshot::from_parts(0, Vec::new());
    assert!(matches!(
        library.register(&zero),
        Err(CallError::InvalidRequest(m)) if m.contains("never 0")
    ));
    let garbage = ElectorateSnapshot::from_parts(77, vec![0x12, 0xff, 0xff]);
    assert!(matches!(
        library.register(&garbage),
        Err(CallError::InvalidRequest(m)) if m.contains("ElectorateSnapshot")
    ));
}

#[test]
fn a_version_1_0_library_still_loads_and_gets_the_members_in_each_request() {
    let library = PolicyLibrary::load(built("accord_fixture_abi_1_0")).unwrap();
    assert_eq!(library.abi_minor(), 0);
    assert_eq!(library.identity().policy_id, "abi-1-0");
    let request = sample_request(1);
    let inline = library.decide(&request).unwrap();
    let snapshot = ElectorateSnapshot::new(&request.members);
    // Registering with a 1.0 library is a no-op, and decide_in splices the members in.
    library.register(&snapshot).unwrap();
    let spliced = library
        .decide_in(&snapshot, &without_members(&request))
        .unwrap();
    assert_eq!(spliced, inline);
    assert_ne!(inline.outcome, Outcome::Unspecified as i32);
    assert!(
        inline.explanation[0].contains(&format!("of {} members", request.members.len())),
        "the 1.0 library saw every member: {:?}",
        inline.explanation
    );
}

#[test]
fn a_policy_reading_members_from_the_wire_message_is_refused_at_load() {
    let err = PolicyLibrary::load(built("accord_fixture_wire_members")).unwrap_err();
    assert!(matches!(err, LoadError::SelfTestFailed { .. }), "{err:?}");
    assert!(err.to_string().contains("Request::members"), "{err}");
}
