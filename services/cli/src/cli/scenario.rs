//! The arguments of `accord scenario run` and `accord demo`.

use std::path::PathBuf;

use clap::Args;

/// Options shared by `scenario run` and `demo`.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Also write SVG charts (a seat chart per proposal; for pressure policies, each member's
    /// probability of conceding) into this directory.
    #[arg(long, value_name = "DIR")]
    pub svg: Option<PathBuf>,
    /// Where the embedded server loads policy libraries from [default: next to this program].
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Option<PathBuf>,
}

/// `accord scenario …`
#[derive(Debug, clap::Subcommand)]
pub enum ScenarioCommand {
    /// Runs a scenario file (docs/scenarios.md) and prints, per proposal, what each policy
    /// makes of it. Changes nothing on the server.
    Run {
        /// The scenario file (TOML).
        file: PathBuf,
        /// Start a server in this process (fresh database, bundled policies) instead of
        /// connecting to --addr.
        #[arg(long)]
        embedded: bool,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Evaluates every proposal across a grid of policy parameters or stance assumptions (a
    /// sensitivity sweep; the server computes, in batches) and writes the results as CSV (or
    /// JSON with --json or an --out FILE ending in .json), with optional SVG charts.
    #[command(
        after_help = "Variables (NAME=FROM..TO:STEP, up to two; a date range steps in days):\n  \
        pressure.pressure=0..2:0.25            a parameter of every column of that policy\n  \
        USA.salience=0.2..1:0.1                a member's stance (salience or position)\n  \
        @longer-period.position=2026-12-31..2028-09-30:30   every member of the stances tagged so\n  \
        shrink-kfor:ITA.position=3000..4500:250            only on one proposal\n\
        Without --vary, the file's [sweep] section says what to vary."
    )]
    Sweep {
        /// The scenario file (TOML).
        file: PathBuf,
        /// What to vary: NAME=FROM..TO:STEP (repeatable, at most two; replaces the file's
        /// [[sweep.vary]]).
        #[arg(long = "vary", value_name = "NAME=FROM..TO:STEP")]
        vary: Vec<String>,
        /// A policy column (its label) to evaluate (repeatable) [default: the file's
        /// [sweep] policies, or every column].
        #[arg(long = "policy", value_name = "LABEL")]
        policies: Vec<String>,
        /// Start a server in this process instead of connecting to --addr.
        #[arg(long)]
        embedded: bool,
        /// Write the results to this file (CSV, or JSON when it ends in .json) instead of
        /// stdout; a summary is printed instead.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        output: OutputArgs,
    },
}
