//! `accord-server`: starts the accord gRPC server. See `accord-server --help`.
#![forbid(unsafe_code)]

use accord_server::config::{Config, Flags};
use clap::Parser;

fn main() {
    let config = match Config::load(Flags::parse()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("accord-server: {e}");
            std::process::exit(2);
        }
    };
    accord_server::telemetry::init(config.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("accord-server: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(run(config));
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
    let app = accord_server::build_app(config).await?;
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
