//! The real programs under test: the `accord-server` and `accord` binaries and the plugin
//! libraries, found in the cargo target directory the running test was built into.
//!
//! Guarantee: the first call in a process runs `cargo build --workspace` for the test's own
//! profile and target directory (the build lock is free while tests run), so the libraries the
//! tests load are never missing and never older than their sources. It is the same build that
//! `scripts/test` and `scripts/demo` make, so after either it does nothing (well under a second).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The unanimity (consensus) policy library.
pub const UNANIMITY: &str = "libaccord_unanimity.so";
/// The weighted policy library.
pub const WEIGHTED: &str = "libaccord_weighted.so";
/// The pressure policy library.
pub const PRESSURE: &str = "libaccord_pressure.so";
/// The bargaining (forecast) policy library.
pub const BARGAINING: &str = "libaccord_bargaining.so";
/// Fixture: panics when the title contains "panic".
pub const PANICKING: &str = "libaccord_fixture_panicking.so";
/// Fixture: sleeps when the title contains "hang".
pub const HANGING: &str = "libaccord_fixture_hanging.so";
/// Fixture: segfaults, aborts, exits, hogs memory or spins when the title says so.
pub const CRASHING: &str = "libaccord_fixture_crashing.so";
/// Fixture: a working simple-majority policy built against ABI 1.0 (no electorates).
pub const ABI_1_0: &str = "libaccord_fixture_abi_1_0.so";

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root exists")
}

/// The profile directory the running test binary was built in (`target/debug` for
/// `target/debug/deps/lifecycle-…`), built up to date on first use.
pub fn build_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = profile_dir();
        build_workspace(&dir);
        dir
    })
}

/// A file in [`build_dir`] (a binary or a plugin library), asserted to exist.
pub fn artifact(name: &str) -> PathBuf {
    let path = build_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing after `cargo build --workspace`",
        path.display()
    );
    path
}

/// A plugin library by file name ([`UNANIMITY`], …).
pub fn library(name: &str) -> PathBuf {
    artifact(name)
}

/// The `accord-server` binary.
pub fn server_bin() -> PathBuf {
    artifact("accord-server")
}

/// The `accord` command line binary.
pub fn cli_bin() -> PathBuf {
    artifact("accord")
}

fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut dir = exe.parent().expect("the test binary has a directory");
    // target/<profile>/deps/<test> or target/<profile>/examples/<example>
    if matches!(
        dir.file_name().and_then(|n| n.to_str()),
        Some("deps" | "examples")
    ) {
        dir = dir.parent().expect("deps has a parent");
    }
    dir.to_path_buf()
}

/// Runs `cargo build --workspace` for the profile of `profile_dir` into its target directory.
fn build_workspace(profile_dir: &Path) {
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev".to_string(),
        Some(other) => other.to_string(),
        None => panic!("no profile in {}", profile_dir.display()),
    };
    let target_dir = profile_dir.parent().expect("a target directory");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!(
        "accord-test-support: cargo build --workspace --profile {profile} (the binaries and \
         plugin libraries the tests run)"
    );
    let output = Command::new(cargo)
        .current_dir(workspace_root())
        .args([
            "build",
            "--workspace",
            "--profile",
            &profile,
            "--target-dir",
        ])
        .arg(target_dir)
        .output()
        .expect("run cargo");
    assert!(
        output.status.success(),
        "cargo build --workspace failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Lower-case hex SHA-256 of a file, computed by `sha256sum` (an independent implementation).
pub fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("run sha256sum");
    assert!(out.status.success(), "sha256sum {} failed", path.display());
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .split_whitespace()
        .next()
        .expect("a hash")
        .to_string()
}
