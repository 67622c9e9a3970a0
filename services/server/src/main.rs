//! `accord-server`: starts the accord gRPC server. See `accord-server --help`.
#![forbid(unsafe_code)]

use accord_server::config::{Config, Flags};
use accord_server::tracing_export::TraceExport;
use clap::Parser;

fn main() {
    let config = match Config::load(Flags::parse()) {
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
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let address = listener.local_addr()?;
    let metrics_listener = match config.metrics_listen {
        Some(at) => Some(accord_server::metrics::bind(at).await?),
        None => None,
    };
    let app = accord_server::build_app(config).await?;
    if let Some(listener) = metrics_listener {
        let metrics_address = listener.local_addr()?;
        // Printed before the line below, which scripts and tests wait for.
        println!("accord-server metrics on http://{metrics_address}/metrics");
        tracing::info!(address = %metrics_address, "serving metrics");
        let app = app.clone();
        tokio::spawn(async move {
            if let Err(e) = accord_server::serve_metrics(app, listener).await {
                tracing::error!(error = %e, "the metrics endpoint failed");
            }
        });
    }
    // Scripts and tests read this line to find the port (e.g. with --listen 127.0.0.1:0).
    println!("accord-server listening on {address}");
    tracing::info!(%address, "listening");
    accord_server::serve(app, listener, shutdown_signal()).await
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
