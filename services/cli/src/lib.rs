//! The `accord` command line as a library: the clap command tree ([`cli`]), the connection to
//! the server ([`client`]), output helpers ([`output`]) and one module per service
//! ([`commands`]). [`run`] parses the command line, runs the command and turns any error into
//! one line on stderr and an exit code:
//!
//! | exit code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the server answered with a gRPC error (`error: NOT_FOUND: …`), or another failure |
//! | 2 | usage error (bad flags or values; clap's own code) |
//! | 3 | the server could not be reached |
//!
//! Commands implemented in other crates (for example `scenario run FILE` and `demo`) add a
//! variant to [`cli::Command`] and an arm to [`execute`].
#![forbid(unsafe_code)]

pub mod cli;
pub mod client;
pub mod commands;
pub mod output;

use std::process::ExitCode;

use clap::Parser;

pub use cli::{Cli, Command, GlobalOptions};
pub use client::{Client, ConnectError, UsageError};

/// Exit code for a gRPC error answered by the server (and any other failure).
pub const EXIT_RPC_ERROR: u8 = 1;
/// Exit code for a usage error (the same as clap's).
pub const EXIT_USAGE: u8 = 2;
/// Exit code when the server cannot be reached.
pub const EXIT_UNREACHABLE: u8 = 3;
/// Exit code for an invalid scenario file.
pub const EXIT_INVALID_SCENARIO: u8 = 4;

/// Parses the process's command line, runs the command and returns the exit code. Errors are
/// printed as one line on stderr.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_RPC_ERROR);
        }
    };
    match runtime.block_on(execute(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let (code, line) = describe_error(&error);
            eprintln!("{line}");
            ExitCode::from(code)
        }
    }
}

/// Runs a parsed command line.
pub async fn execute(cli: Cli) -> anyhow::Result<()> {
    let global = cli.global;
    match cli.command {
        Command::Members(command) => {
            let client = Client::connect(&global).await?;
            commands::members::run(&client, &global, command).await
        }
        Command::Partners(command) => {
            let client = Client::connect(&global).await?;
            commands::partners::run(&client, &global, command).await
        }
        Command::Missions(command) => {
            let client = Client::connect(&global).await?;
            commands::missions::run(&client, &global, command).await
        }
        Command::Proposals(command) => {
            let client = Client::connect(&global).await?;
            commands::proposals::run(&client, &global, command).await
        }
        Command::Policies(command) => {
            let client = Client::connect(&global).await?;
            commands::policies::run(&client, &global, command).await
        }
        Command::Scenario(command) => commands::scenario::run(&global, command).await,
        Command::Demo(output) => commands::scenario::demo(&global, output).await,
        Command::Bench(args) => commands::bench::run(&global, args).await,
        Command::Power(args) => commands::power::run(&global, args).await,
        Command::Health { service } => {
            let client = Client::connect(&global).await?;
            commands::health::run(&client, &global, &service).await
        }
        Command::Delegations(command) => {
            let client = Client::connect(&global).await?;
            commands::trust::delegations(&client, &global, command).await
        }
        Command::Keys(command) => commands::trust::keys(&global, command).await,
        Command::Audit(command) => commands::trust::audit(&global, command).await,
    }
}

/// The exit code and the one line (starting with `error: `) that describe `error`.
pub fn describe_error(error: &anyhow::Error) -> (u8, String) {
    let (code, text) = if let Some(status) = error.downcast_ref::<tonic::Status>() {
        (EXIT_RPC_ERROR, output::status_line(status))
    } else if let Some(e) = error.downcast_ref::<commands::trust::AuditFailed>() {
        (EXIT_RPC_ERROR, e.to_string())
    } else if let Some(e) = error.downcast_ref::<ConnectError>() {
        (EXIT_UNREACHABLE, e.to_string())
    } else if let Some(e) = error.downcast_ref::<UsageError>() {
        (EXIT_USAGE, e.to_string())
    } else if let Some(e) = error.downcast_ref::<commands::scenario::ScenarioError>() {
        // One line per problem, each with its file, line and column.
        return (
            EXIT_INVALID_SCENARIO,
            e.0.lines()
                .map(|l| format!("error: {l}"))
                .collect::<Vec<_>>()
                .join("\n"),
        );
    } else {
        (EXIT_RPC_ERROR, format!("{error:#}"))
    };
    (code, format!("error: {}", output::one_line(&text)))
}
