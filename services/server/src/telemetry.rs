//! Logging: `tracing` with `RUST_LOG`-style filters (default `info`): human lines on stderr, or
//! JSON lines on stdout (where container runtimes collect them).

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. Call once, at start.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Human => builder.with_writer(std::io::stderr).init(),
        LogFormat::Json => builder
            .with_writer(std::io::stdout)
            .json()
            .with_current_span(true)
            .init(),
    }
}
