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
}
