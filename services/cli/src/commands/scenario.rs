//! `accord scenario run FILE` and `accord demo`: run a scenario file against a server (or an
//! embedded one) and print the side-by-side report, as text or JSON, with optional SVG charts.

use std::path::Path;

use accord_scenario::embedded::EmbeddedServer;
use accord_scenario::{RunError, report, svg};

use crate::cli::GlobalOptions;
use crate::cli::scenario::{OutputArgs, ScenarioCommand};
use crate::client::ConnectError;

/// The seed scenario, built into the binary so that `accord demo` runs from anywhere.
pub const SEED_SCENARIO: &str = include_str!("../../../../scenarios/factory-settings-2026.toml");
/// Where the seed scenario lives in the repository.
pub const SEED_SCENARIO_PATH: &str = "scenarios/factory-settings-2026.toml";

/// A scenario file that is invalid (each problem names its line); exits with code 4.
#[derive(Debug)]
pub struct ScenarioError(pub String);

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ScenarioError {}

/// The connection a scenario runs on: to the embedded server (loopback, no credentials), or to
/// `--addr` exactly as every other command connects (TLS, token).
pub async fn connect(
    global: &GlobalOptions,
    embedded: Option<&EmbeddedServer>,
) -> anyhow::Result<accord_proto::client::Conn> {
    let Some(server) = embedded else {
        return Ok(crate::client::Client::connect(global).await?.conn());
    };
    let addr = server.url();
    let channel = tonic::transport::Endpoint::from_shared(addr.clone())?
        .connect_timeout(std::time::Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| ConnectError {
            addr: addr.clone(),
            reason: crate::output::one_line(&format!("{e:#}")),
        })?;
    Ok(accord_proto::client::conn(
        channel,
        accord_proto::client::Bearer::default(),
    ))
}

async fn run_text(
    global: &GlobalOptions,
    path: &Path,
    text: &str,
    embedded: bool,
    output: &OutputArgs,
    with_sweep: bool,
) -> anyhow::Result<()> {
    let (file, at) =
        accord_scenario::parse(path, text).map_err(|p| ScenarioError(p.to_string()))?;
    let server = if embedded {
        Some(EmbeddedServer::start(output.plugin_dir.clone()).await?)
    } else {
        None
    };
    let channel = connect(global, server.as_ref()).await?;
    let mut result = match (file.electorate(), &server) {
        // A fresh embedded server gets the scenario's own council as its members.
        (Some(electorate), Some(_)) => {
            match accord_scenario::electorate::provision(&channel, electorate).await {
                Ok(()) => accord_scenario::run(&file, &at, channel.clone(), !global.json).await,
                Err(status) => Err(RunError::Rpc(status)),
            }
        }
        _ => accord_scenario::run(&file, &at, channel.clone(), !global.json).await,
    };
    if with_sweep && file.sweep.is_some() {
        if let Ok(report) = result.as_mut() {
            let (variables, labels) = accord_scenario::sweep::plan(&file, &[], &[])
                .map_err(|m| ScenarioError(format!("{}: {m}", path.display())))?;
            match accord_scenario::sweep::run(&file, &at, channel, variables, labels, !global.json)
                .await
            {
                Ok(sweep) => report.sweep = Some(sweep),
                Err(e) => result = Err(e),
            }
        }
    }
    if let Some(server) = server {
        server.shutdown().await;
    }
    let report = match result {
        Ok(report) => report,
        Err(RunError::Problems(p)) => return Err(ScenarioError(p.to_string()).into()),
        Err(RunError::Rpc(status)) => return Err(status.into()),
        Err(RunError::Invalid(m)) => {
            return Err(ScenarioError(format!("{}: {m}", path.display())).into());
        }
    };
    if global.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report::to_json(&report))?
        );
    } else {
        print!("{}", report::render(&report));
    }
    if let Some(dir) = &output.svg {
        let mut files = svg::write_all(&report, dir)
            .map_err(|e| anyhow::anyhow!("cannot write the charts: {e}"))?;
        if let Some(sweep) = &report.sweep {
            files.extend(
                accord_scenario::sweep_svg::write_all(sweep, dir)
                    .map_err(|e| anyhow::anyhow!("cannot write the sweep charts: {e}"))?,
            );
        }
        if !global.json {
            println!("\nCharts written:");
            for file in files {
                println!("  {}", file.display());
            }
        }
    }
    Ok(())
}

/// Runs `accord scenario …`.
pub async fn run(global: &GlobalOptions, command: ScenarioCommand) -> anyhow::Result<()> {
    match command {
        ScenarioCommand::Run {
            file,
            embedded,
            output,
        } => {
            let text = std::fs::read_to_string(&file).map_err(|e| {
                ScenarioError(format!("{}: cannot read the file: {e}", file.display()))
            })?;
            run_text(global, &file, &text, embedded, &output, false).await
        }
        ScenarioCommand::Sweep {
            file,
            vary,
            policies,
            embedded,
            out,
            output,
        } => {
            crate::commands::sweep::run(
                global,
                crate::commands::sweep::SweepArgs {
                    path: &file,
                    vary: &vary,
                    policies: &policies,
                    embedded,
                    out: out.as_deref(),
                    output: &output,
                },
            )
            .await
        }
    }
}

/// Runs `accord demo`: an embedded server with a fresh database and the bundled policies, and
/// the seed scenario.
pub async fn demo(global: &GlobalOptions, output: OutputArgs) -> anyhow::Result<()> {
    if !global.json {
        println!(
            "accord demo: an embedded accord server (fresh database: the 32 allies, their partners and \
             missions) decides the seed scenario {SEED_SCENARIO_PATH} under each policy.\n"
        );
    }
    run_text(
        global,
        Path::new(SEED_SCENARIO_PATH),
        SEED_SCENARIO,
        true,
        &output,
        true,
    )
    .await?;
    if !global.json {
        println!(
            "\nNext: start a server (`accord-server`), then `accord members list`, \
             `accord scenario run {SEED_SCENARIO_PATH}`, or write your own scenario (docs/scenarios.md)."
        );
    }
    Ok(())
}
