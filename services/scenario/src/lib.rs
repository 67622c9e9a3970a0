//! accord scenarios: a file that puts proposals to the alliance, with every member's stance and
//! its source, and the policies to compare; running it against a server; the side-by-side
//! report (text and JSON); SVG charts; and an embedded server for running without one.
//!
//! - [`location`]: problems with their file, line and column.
//! - [`format`]: the TOML format and its line-precise validation (`docs/scenarios.md`).
//! - [`run`]: evaluating every proposal under every policy (nothing on the server changes).
//! - [`report`]: tables and JSON. [`svg`]: seat charts and concession charts.
//! - [`sweep`]: sensitivity sweeps over a grid (batch evaluation); [`sweep_svg`]: their charts.
//! - [`forecast`]: zone-of-agreement and forecast lines.
//! - [`electorate`]: any council's members and weights (`[electorate]`, inline or CSV).
//! - [`embedded`]: an in-process server with a temporary database.
#![forbid(unsafe_code)]

pub mod electorate;
pub mod embedded;
pub mod forecast;
pub mod format;
pub mod location;
pub mod report;
pub mod run;
pub mod svg;
pub mod sweep;
pub mod sweep_svg;

pub use format::{Problem, Problems, ScenarioFile};

use std::path::Path;

/// Reads and checks a scenario file, its `[sweep]` included; on failure, every problem with its
/// line and column.
pub fn load(path: &Path) -> Result<(ScenarioFile, format::Locator), Problems> {
    let text = format::read_text(path)?;
    parse(path, &text)
}

/// Parses and checks scenario `text` (named `path` in messages), its `[sweep]` included.
pub fn parse(path: &Path, text: &str) -> Result<(ScenarioFile, format::Locator), Problems> {
    let (file, locator, mut problems) = format::read(path, text)?;
    if let Some(spec) = &file.sweep {
        problems.extend(sweep::check(&file, spec, &locator));
    }
    if problems.is_empty() {
        Ok((file, locator))
    } else {
        problems.sort_by_key(|p| (p.line, p.column));
        Err(Problems(problems))
    }
}
pub use run::{Report, RunError, run};
