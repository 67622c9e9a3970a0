//! `accord-server`: starts the accord gRPC server and, when `--web-listen` is set, the web
//! interface on its own port (the same `App`, so both see the same alliance and events). See
//! `accord-server --help`.
#![forbid(unsafe_code)]

use accord_server::config::{Config, Flags, Task};
use accord_server::tracing_export::TraceExport;
use clap::Parser;

fn main() {
    let mut flags = Flags::parse();
    if let Some(task) = flags.command.take() {
        std::process::exit(run_task(task));
    }
    let config = match Config::load(flags) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("accord-server: {e}");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("accord-server: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    // The trace export's batch task runs on the server's runtime: start it inside.
    let export = match config.otlp_endpoint.as_deref() {
        Some(endpoint) => {
            let _inside = runtime.enter();
            match TraceExport::start(endpoint) {
                Ok(export) => Some(export),
                Err(e) => {
                    eprintln!("accord-server: {e}");
                    std::process::exit(2);
                }
            }
        }
        None => None,
    };
    accord_server::telemetry::init_with_export(config.log_format, export.as_ref());
    let result = runtime.block_on(run(config));
    // Send the spans still queued (the runtime still runs the export task).
    if let Some(export) = export {
        export.shutdown();
    }
    // A policy call that ran past its time limit still occupies a blocking thread that cannot be
    // stopped; dropping the runtime would wait for it (for ever, if the plugin hangs for ever).
    runtime.shutdown_background();
    if let Err(e) = result {
        tracing::error!(error = %e, "accord-server failed");
        eprintln!("accord-server: {e}");
        std::process::exit(1);
    }
}

async fn run(config: Config) -> Result<(), accord_server::StartError> {
    config.check_exposure()?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let address = listener.local_addr()?;
    let web_listener = match config.web_listen {
        Some(web) => Some(
            tokio::net::TcpListener::bind(web)
                .await
                .map_err(|e| format!("cannot listen on {web} (web interface): {e}"))?,
        ),
        None => None,
    };
    let metrics_listener = match config.metrics_listen {
        Some(at) => Some(accord_server::metrics::bind(at).await?),
        None => None,
    };
    let app = accord_server::build_app(config).await?;
    if let Some(listener) = metrics_listener {
        let metrics_address = listener.local_addr()?;
        // Printed before the gRPC line, which scripts and tests wait for.
        println!("accord-server metrics on http://{metrics_address}/metrics");
        tracing::info!(address = %metrics_address, "serving metrics");
        let app = app.clone();
        tokio::spawn(async move {
            if let Err(e) = accord_server::serve_metrics(app, listener).await {
                tracing::error!(error = %e, "the metrics endpoint failed");
            }
        });
    }
    let web = match web_listener {
        Some(listener) => {
            let web_address = listener.local_addr()?;
            // Scripts and tests read this line to find the web port; printed before the gRPC
            // line, which tells them the server is ready.
            println!("accord-server web listening on http://{web_address}");
            tracing::info!(address = %web_address, "web interface listening");
            Some(tokio::spawn(accord_web::serve(
                app.clone(),
                listener,
                address,
            )))
        }
        None => None,
    };
    // Scripts and tests read this line to find the port (e.g. with --listen 127.0.0.1:0).
    println!("accord-server listening on {address}");
    tracing::info!(%address, "listening");
    let grace = app.config.shutdown_grace;
    let result = accord_server::serve(app, listener, shutdown_signal()).await;
    if let Some(web) = web {
        // `serve` has set `shutting_down`: the web server stops accepting and its live streams
        // end; a connection still open after the grace period is dropped.
        if tokio::time::timeout(grace, web).await.is_err() {
            tracing::warn!(?grace, "web interface: grace period over");
        }
    }
    result
}

/// Runs a one-shot task; returns the exit code.
fn run_task(task: Task) -> i32 {
    accord_server::telemetry::init(accord_server::config::LogFormat::Human);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("accord-server: cannot start the async runtime: {e}");
            return 1;
        }
    };
    match task {
        Task::Migrate { from, to } => {
            match runtime.block_on(accord_store::migrate::copy_sqlite_to_postgres(&from, &to)) {
                Ok(report) => {
                    println!("copied {report}");
                    0
                }
                Err(e) => {
                    eprintln!("accord-server migrate: {e}");
                    1
                }
            }
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("install SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
