//! The arguments of `accord power`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// `accord power FILE`: the power indices of a game read from a file.
#[derive(Debug, Clone, Args)]
pub struct PowerArgs {
    /// The game: a CSV file (`name` and one column per weight; optionally `code`, `region`) or
    /// a TOML file (`rule`, `[electorate]`; docs/power.md), or `-` for standard input.
    pub file: String,
    /// The winning rule, e.g. `"votes >= 85%"` or `"population >= 65% and members >= 55% and
    /// members >= 15 and blocking >= 4"` [default: the file's rule].
    #[arg(long, value_name = "RULE")]
    pub rule: Option<String>,
    /// Compare two or more rules on the same players, side by side.
    #[arg(long, num_args = 2.., value_name = "RULE", conflicts_with = "rule")]
    pub compare: Vec<String>,
    /// The indices besides Banzhaf and Coleman: comma-separated shapley_shubik, deegan_packel,
    /// holler, johnston, or `all`.
    #[arg(long, default_value = "all", value_name = "LIST")]
    pub indices: String,
    /// How to compute: exact where tractable else Monte Carlo (auto), exact or an error, or
    /// Monte Carlo throughout.
    #[arg(long, value_enum, default_value = "auto")]
    pub method: MethodArg,
    /// Monte Carlo sample size [default: the server's, 100,000].
    #[arg(long, value_name = "N")]
    pub samples: Option<u64>,
    /// Monte Carlo seed.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// The file's format when it cannot be told from its extension (standard input).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Print CSV (one row per rule and player) instead of a table.
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
    /// Also write an SVG bar chart per rule (bars per player, one colour per index) into DIR.
    #[arg(long, value_name = "DIR")]
    pub svg: Option<PathBuf>,
    /// Start a server in this process instead of connecting to --addr.
    #[arg(long)]
    pub embedded: bool,
    /// Where the embedded server loads policy libraries from [default: next to this program].
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Option<PathBuf>,
}

/// `--method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// Exact where tractable, else Monte Carlo.
    Auto,
    /// Exact or an error.
    Exact,
    /// Monte Carlo for every index.
    MonteCarlo,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Comma-separated values with a header.
    Csv,
    /// TOML.
    Toml,
}
