//! Test support for accord's own tests — one crate, used by the store, server and CLI tests, so
//! that starting a server, finding the binaries and making a temporary database are written once.
//!
//! Layers, bottom up:
//! - [`artifacts`]: the real `accord-server` and `accord` binaries and the real plugin libraries.
//!   The first call in a test process runs `cargo build --workspace` (the same build
//!   `scripts/test` and `scripts/demo` make, so nothing is built twice), so `cargo test
//!   --workspace` works on a fresh clone with nothing built before.
//! - [`database`]: temporary databases (a SQLite file in a temporary directory, or a database in
//!   a PostgreSQL server the tests start themselves), for either [`Backend`](database::Backend).
//! - [`process`]: one real `accord-server` process on `127.0.0.1:0` with its own temporary
//!   database and plugin directory, under a guard that stops it when the test process ends.
//! - [`grpc`]: that server with tonic clients over a real channel, and builders of requests.
//! - [`cli`]: that server driven through the real `accord` binary.
//! - [`metrics`]: that server's `/metrics` endpoint, scraped over real HTTP, and its samples.
//!
//! Nothing here is a mock: every test talks to the real programs over real sockets.
#![forbid(unsafe_code)]

pub mod artifacts;
pub mod cli;
pub mod database;
pub mod grpc;
pub mod metrics;
pub mod process;
pub mod trust;

pub use artifacts::{
    ABI_1_0, BARGAINING, CRASHING, HANGING, PANICKING, PRESSURE, UNANIMITY, WEIGHTED, build_dir,
    library, sha256sum,
};
pub use process::{Options, ServerProcess, TlsOptions};
