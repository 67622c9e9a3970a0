//! Logging: `tracing` with `RUST_LOG`-style filters (default `info`): human lines on stderr, or
//! JSON lines on stdout (where container runtimes collect them) — and, when configured, the same
//! spans exported over OTLP ([`crate::tracing_export`]).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;
use crate::tracing_export::TraceExport;

/// Installs the global subscriber. Call once, at start.
pub fn init(format: LogFormat) {
    init_with_export(format, None);
}

/// Installs the global subscriber, also sending spans to `export` if given. Call once, at start.
pub fn init_with_export(format: LogFormat, export: Option<&TraceExport>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let lines = match format {
        LogFormat::Human => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stdout)
            .json()
            .with_current_span(true)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(lines)
        .with(export.map(|e| e.layer()))
        .init();
}
