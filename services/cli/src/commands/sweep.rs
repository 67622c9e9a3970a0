//! `accord scenario sweep FILE`: a sensitivity sweep. The server evaluates (in batches, with
//! `EvaluateBatch`); this command only plans the grid, asks, and writes CSV / JSON and charts.

use std::path::Path;

use accord_scenario::embedded::EmbeddedServer;
use accord_scenario::{RunError, sweep, sweep_svg};

use crate::cli::GlobalOptions;
use crate::cli::scenario::OutputArgs;
use crate::commands::scenario::ScenarioError;

/// What `scenario sweep` was asked.
pub struct SweepArgs<'a> {
    /// The file.
    pub path: &'a Path,
    /// `--vary`.
    pub vary: &'a [String],
    /// `--policy`.
    pub policies: &'a [String],
    /// `--embedded`.
    pub embedded: bool,
    /// `--out`.
    pub out: Option<&'a Path>,
    /// `--svg`, `--plugin-dir`.
    pub output: &'a OutputArgs,
}

/// Connects to the server (or starts an embedded one) and runs the sweep of `text`.
pub async fn run_sweep(
    global: &GlobalOptions,
    args: &SweepArgs<'_>,
    text: &str,
) -> anyhow::Result<sweep::SweepResult> {
    let (file, at) =
        accord_scenario::parse(args.path, text).map_err(|p| ScenarioError(p.to_string()))?;
    let (variables, labels) = sweep::plan(&file, args.vary, args.policies)
        .map_err(|m| ScenarioError(format!("{}: {m}", args.path.display())))?;
    let server = if args.embedded {
        Some(EmbeddedServer::start(args.output.plugin_dir.clone()).await?)
    } else {
        None
    };
    let channel = super::scenario::connect(global, server.as_ref()).await?;
    let result = sweep::run(&file, &at, channel, variables, labels, true).await;
    if let Some(server) = server {
        server.shutdown().await;
    }
    match result {
        Ok(r) => Ok(r),
        Err(RunError::Problems(p)) => Err(ScenarioError(p.to_string()).into()),
        Err(RunError::Rpc(status)) => Err(status.into()),
        Err(RunError::Invalid(m)) => {
            Err(ScenarioError(format!("{}: {m}", args.path.display())).into())
        }
    }
}

/// Runs `accord scenario sweep …`.
pub async fn run(global: &GlobalOptions, args: SweepArgs<'_>) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(args.path).map_err(|e| {
        ScenarioError(format!(
            "{}: cannot read the file: {e}",
            args.path.display()
        ))
    })?;
    let started = std::time::Instant::now();
    let result = run_sweep(global, &args, &text).await?;
    let elapsed = started.elapsed();
    let json_out = args.out.is_some_and(|p| {
        p.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    });
    let body = if json_out || (args.out.is_none() && global.json) {
        format!(
            "{}\n",
            serde_json::to_string_pretty(&sweep::to_json(&result))?
        )
    } else {
        sweep::to_csv(&result)
    };
    match args.out {
        Some(path) => {
            std::fs::write(path, body)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            if !global.json {
                for line in sweep::summary(&result) {
                    println!("{line}");
                }
                println!(
                    "{} evaluations in {:.2} s; results written to {}",
                    result.evaluations,
                    elapsed.as_secs_f64(),
                    path.display()
                );
            }
        }
        None => print!("{body}"),
    }
    if let Some(dir) = &args.output.svg {
        let files = sweep_svg::write_all(&result, dir)
            .map_err(|e| anyhow::anyhow!("cannot write the charts: {e}"))?;
        if args.out.is_some() && !global.json {
            println!("Charts written:");
            for file in files {
                println!("  {}", file.display());
            }
        }
    }
    Ok(())
}
