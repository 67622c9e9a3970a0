//! The conformance kit: checks a plugin author runs against a built policy library.
//!
//! ```ignore
//! #[test]
//! fn my_policy_conforms() {
//!     let path = accord_policy_sdk::conformance::locate_library("my_policy").unwrap();
//!     accord_policy_sdk::conformance::check_library(&path).assert_passed();
//! }
//! ```
//!
//! The checks: the handshake (the library loads through the real host loader, which also runs
//! the self-test), the descriptor, garbage bytes in → an error and not a crash, the same request
//! and seed → byte-identical answers, for an ABI 1.1 library the same answers through a
//! registered electorate as with the members inline, and a well-formed decision.

use std::fmt;
use std::path::{Path, PathBuf};

use prost::Message;

use crate::electorate::ElectorateSnapshot;
use crate::host::{CallError, PolicyLibrary};
use crate::proto::{DecisionRequest, DecisionResponse, Outcome};
use crate::selftest::sample_request;

/// The result of one check.
#[derive(Debug, Clone)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// Whether it passed.
    pub passed: bool,
    /// What was seen.
    pub detail: String,
}

/// The results of [`check_library`].
#[derive(Debug, Clone)]
pub struct Report {
    /// The library checked.
    pub path: PathBuf,
    /// Every check, in order.
    pub checks: Vec<Check>,
}

impl Report {
    /// True when every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// Panics with the whole report unless every check passed.
    pub fn assert_passed(&self) {
        assert!(self.passed(), "{self}");
    }

    fn record(&mut self, name: &'static str, result: Result<String, String>) -> bool {
        let passed = result.is_ok();
        let detail = result.unwrap_or_else(|e| e);
        self.checks.push(Check {
            name,
            passed,
            detail,
        });
        passed
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "conformance of {}:", self.path.display())?;
        for c in &self.checks {
            writeln!(
                f,
                "  [{}] {}: {}",
                if c.passed { "pass" } else { "FAIL" },
                c.name,
                c.detail
            )?;
        }
        Ok(())
    }
}

/// Garbage that is not a `DecisionRequest`: invalid wire types, a length past the end, a
/// truncated varint.
const GARBAGE: [&[u8]; 4] = [
    &[0xff; 32],
    &[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f],
    &[0x08, 0x80, 0x80, 0x80],
    b"definitely not protobuf \x00\x01\x02",
];

/// Runs every check on the library at `path`.
pub fn check_library(path: &Path) -> Report {
    let mut report = Report {
        path: path.to_path_buf(),
        checks: Vec::new(),
    };
    let library = match PolicyLibrary::load(path) {
        Ok(library) => {
            report.record(
                "handshake and self-test",
                Ok(format!(
                    "loaded {} {} (sha256 {})",
                    library.identity().policy_id,
                    library.identity().version,
                    library.identity().library_sha256
                )),
            );
            library
        }
        Err(e) => {
            report.record("handshake and self-test", Err(e.to_string()));
            return report;
        }
    };

    let d = library.descriptor();
    report.record(
        "descriptor",
        if d.summary.trim().is_empty() {
            Err("the descriptor has no summary".to_string())
        } else if let Some(p) = d.parameters.iter().find(|p| p.doc.trim().is_empty()) {
            Err(format!("parameter `{}` has no doc", p.name))
        } else {
            Ok(format!(
                "{} parameters, all typed, documented, with parsable defaults",
                d.parameters.len()
            ))
        },
    );

    let garbage = GARBAGE
        .iter()
        .try_for_each(|bytes| match library.decide_bytes(bytes) {
            Err(CallError::InvalidRequest(_)) => Ok(()),
            Err(other) => Err(format!(
                "garbage {bytes:02x?} gave {other:?}, expected an invalid-request error"
            )),
            Ok(_) => Err(format!("garbage {bytes:02x?} was accepted")),
        });
    report.record(
        "garbage in, error out",
        garbage.map(|()| format!("{} garbage inputs refused", GARBAGE.len())),
    );

    // Compared as bytes: the same request and seed must give byte-identical answers, so that a
    // host can compare or cache them by their bytes (map fields in an order that does not
    // change: the SDK's generated types use ordered maps for a decision's metrics).
    let request = sample_request(42).encode_to_vec();
    let decode = |bytes: &Vec<u8>| DecisionResponse::decode(bytes.as_slice()).ok();
    let first = library.decide_bytes(&request);
    let again: Vec<_> = (0..3).map(|_| library.decide_bytes(&request)).collect();
    report.record(
        "same seed, same bytes",
        match (
            &first,
            again
                .iter()
                .find(|r| r.as_ref().ok() != first.as_ref().ok()),
        ) {
            (Ok(a), None) if decode(a).is_some() => Ok(format!(
                "four calls with seed 42 gave byte-identical answers ({} bytes)",
                a.len()
            )),
            (Ok(_), None) => Err("the answer does not decode".to_string()),
            (Ok(a), Some(Ok(b))) if decode(a).is_some() && decode(a) == decode(b) => Err(
                "calls with seed 42 gave the same decision but different bytes (map order?)"
                    .to_string(),
            ),
            (Ok(_), Some(Ok(_))) => {
                Err("two calls with seed 42 gave different decisions".to_string())
            }
            (Err(e), _) | (_, Some(Err(e))) => Err(format!("the sample request failed: {e}")),
        },
    );

    // ABI 1.1: the members registered once and named by id must give the very answer the
    // same request gives with its members inline (the loader checks the self-test request;
    // this checks the sample requests too, with their ballots and seeds).
    report.record(
        "electorate registered, same bytes",
        if library.abi_minor() == 0 {
            Ok("an ABI 1.0 library: the members travel in every request".to_string())
        } else {
            (1..=3u64)
                .try_for_each(|seed| {
                    let whole = sample_request(seed);
                    let snapshot = ElectorateSnapshot::new(&whole.members);
                    let without = DecisionRequest {
                        members: Vec::new(),
                        ..whole.clone()
                    }
                    .encode_to_vec();
                    let inline = library.decide_bytes(&whole.encode_to_vec());
                    let named = library.decide_bytes_in(&snapshot, &without);
                    match (inline, named) {
                        (Ok(a), Ok(b)) if a == b => Ok(()),
                        (Ok(_), Ok(_)) => Err(format!(
                            "seed {seed}: the request naming a registered electorate got another \
                             answer than the same request with its members (read them with \
                             Request::members)"
                        )),
                        (Err(e), _) | (_, Err(e)) => Err(format!("seed {seed}: {e}")),
                    }
                })
                .map(|()| {
                    "three sample requests, inline and through a registered electorate, gave \
                     byte-identical answers"
                        .to_string()
                })
        },
    );

    report.record(
        "well-formed decision",
        match first {
            Ok(bytes) => match DecisionResponse::decode(bytes.as_slice()).map(|r| r.decision) {
                Ok(Some(decision)) => {
                    let outcome =
                        Outcome::try_from(decision.outcome).unwrap_or(Outcome::Unspecified);
                    if outcome == Outcome::Unspecified {
                        Err("the decision has no outcome".to_string())
                    } else if decision.explanation.is_empty() {
                        Err("the decision has no explanation".to_string())
                    } else if !(0.0..=1.0).contains(&decision.support_share) {
                        Err(format!(
                            "support share {} is outside [0, 1]",
                            decision.support_share
                        ))
                    } else {
                        Ok(format!(
                            "{outcome:?}, {} explanation lines",
                            decision.explanation.len()
                        ))
                    }
                }
                Ok(None) => Err("the response has no decision".to_string()),
                Err(e) => Err(format!("the response does not decode: {e}")),
            },
            Err(e) => Err(format!("the sample request failed: {e}")),
        },
    );
    report
}

/// Finds the built library `lib{name}.so` (`.dylib` on macOS) of the current cargo target
/// directory: next to the running test binary (`target/{profile}/deps/..`), in its `deps`, or in
/// `$CARGO_TARGET_DIR/{debug,release}`. When several copies exist (`cargo build` puts one in
/// `target/{profile}`, `cargo test` may refresh only the one in `deps`), the newest wins.
pub fn locate_library(name: &str) -> Option<PathBuf> {
    let file = format!(
        "{}{name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let mut dirs = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        // target/{profile}/deps/test-binary → target/{profile} and its deps.
        if let Some(deps) = exe.parent() {
            if let Some(profile) = deps.parent() {
                dirs.push(profile.to_path_buf());
            }
            dirs.push(deps.to_path_buf());
        }
    }
    if let Ok(target) = std::env::var("CARGO_TARGET_DIR") {
        for profile in ["debug", "release"] {
            dirs.push(Path::new(&target).join(profile));
            dirs.push(Path::new(&target).join(profile).join("deps"));
        }
    }
    dirs.into_iter()
        .map(|d| d.join(&file))
        .filter_map(|p| {
            let modified = std::fs::metadata(&p)
                .ok()
                .filter(|m| m.is_file())?
                .modified()
                .ok()?;
            Some((modified, p))
        })
        .max_by_key(|(modified, _)| *modified)
        .map(|(_, p)| p)
}
