//! accord scenarios: a file that puts proposals to the alliance, with every member's stance and
//! its source, and the policies to compare; running it against a server; the side-by-side
//! report (text and JSON); SVG charts; and an embedded server for running without one.
//!
//! - [`location`]: problems with their file, line and column.
//! - [`format`]: the TOML format and its line-precise validation (`docs/scenarios.md`).
//! - [`run`]: evaluating every proposal under every policy (nothing on the server changes).
//! - [`report`]: tables and JSON. [`svg`]: seat charts and concession charts.
//! - [`electorate`]: any council's members and weights (`[electorate]`, inline or CSV).
//! - [`embedded`]: an in-process server with a temporary database.
#![forbid(unsafe_code)]

pub mod electorate;
pub mod embedded;
pub mod format;
pub mod location;
pub mod report;
pub mod run;
pub mod svg;

pub use format::{Problem, Problems, ScenarioFile, load, parse};
pub use run::{Report, RunError, run};
