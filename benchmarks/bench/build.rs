//! Lets one binary link all three policy rlibs.
//!
//! `accord_policy_sdk::export_policy!` defines the unmangled C symbol `accord_policy_entry` in
//! every policy crate, in its rlib as well as its cdylib, so a binary that links two policies
//! in (as the boundary benchmark and the report do, to call them directly) has that symbol twice
//! and fails to link. Nothing here ever calls it — the linked-in policies are called through
//! their Rust types, and a loaded library's entry is looked up in that library by `dlsym` — so
//! the linker may keep any one of the copies.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg=-Wl,--allow-multiple-definition");
    }
}
