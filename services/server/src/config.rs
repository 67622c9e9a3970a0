//! Server configuration, in layers: built-in defaults, then an optional TOML file
//! (`--config` / `ACCORD_CONFIG`), then environment variables (`ACCORD_…`), then command-line
//! flags — each layer overriding the one before.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, ValueEnum};
use serde::Deserialize;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// The policy libraries bundled with accord, loaded at start unless configured otherwise.
pub const BUNDLED_PLUGINS: [&str; 3] = [
    "libaccord_unanimity.so",
    "libaccord_weighted.so",
    "libaccord_pressure.so",
];

/// Command-line flags; each also reads an `ACCORD_…` environment variable.
#[derive(Debug, Default, Parser)]
#[command(
    name = "accord-server",
    version,
    about = "The accord gRPC server: models how an alliance decides, with decision policies loaded as plugins."
)]
pub struct Flags {
    /// TOML configuration file (flags and environment variables override it).
    #[arg(long, env = "ACCORD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:50051].
    #[arg(long, env = "ACCORD_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Database URL [default: sqlite://accord.db].
    #[arg(long, env = "ACCORD_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Directory the policy libraries are loaded from [default: the server binary's directory].
    #[arg(long, env = "ACCORD_PLUGIN_DIR")]
    pub plugin_dir: Option<PathBuf>,
    /// Library file names to load at start, comma-separated; `*` loads every library in the
    /// directory [default: the three bundled policies].
    #[arg(long, env = "ACCORD_PLUGINS", value_delimiter = ',')]
    pub plugins: Option<Vec<String>>,
    /// Default policy for new proposals [default: unanimity].
    #[arg(long, env = "ACCORD_DEFAULT_POLICY")]
    pub default_policy: Option<String>,
    /// Time limit of one policy call, in milliseconds [default: 5000].
    #[arg(long, env = "ACCORD_POLICY_TIMEOUT_MS")]
    pub policy_timeout_ms: Option<u64>,
    /// Log format [default: human]. Filter with RUST_LOG (e.g. `info,accord_server=debug`).
    #[arg(long, env = "ACCORD_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Grace period for in-flight calls at shutdown, in milliseconds [default: 10000].
    #[arg(long, env = "ACCORD_SHUTDOWN_GRACE_MS")]
    pub shutdown_grace_ms: Option<u64>,
    /// Token that operator calls (create/update members, partners, missions; load, replace,
    /// disable policies; set the default) must present as `authorization: Bearer <token>`.
    /// Unset: operator calls are open (for local use).
    #[arg(long, env = "ACCORD_OPERATOR_TOKEN", hide_env_values = true)]
    pub operator_token: Option<String>,
    /// Address to serve Prometheus metrics on, at `/metrics` (e.g. `0.0.0.0:9090`)
    /// [default: none — metrics are not served].
    #[arg(long, env = "ACCORD_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// OTLP/gRPC collector to export trace spans to (e.g. `http://otel-collector:4317`)
    /// [default: none — spans are not exported].
    #[arg(long, env = "ACCORD_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
}

/// The TOML file's keys (all optional; same names as the flags, with underscores).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    database_url: Option<String>,
    plugin_dir: Option<PathBuf>,
    plugins: Option<Vec<String>>,
    default_policy: Option<String>,
    policy_timeout_ms: Option<u64>,
    log_format: Option<LogFormat>,
    shutdown_grace_ms: Option<u64>,
    operator_token: Option<String>,
    metrics_listen: Option<SocketAddr>,
    otlp_endpoint: Option<String>,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Database URL.
    pub database_url: String,
    /// Plugin directory.
    pub plugin_dir: PathBuf,
    /// Library file names to load at start (`*` = all).
    pub plugins: Vec<String>,
    /// Default policy for new proposals (unless one was set at run time and persisted).
    pub default_policy: String,
    /// Time limit of one policy call.
    pub policy_timeout: Duration,
    /// Log format.
    pub log_format: LogFormat,
    /// Grace period at shutdown.
    pub shutdown_grace: Duration,
    /// Operator token, if operator calls are protected.
    pub operator_token: Option<String>,
    /// Where `/metrics` is served, if anywhere.
    pub metrics_listen: Option<SocketAddr>,
    /// The OTLP/gRPC collector spans are exported to, if any.
    pub otlp_endpoint: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:50051".parse().expect("valid address"),
            database_url: "sqlite://accord.db".to_string(),
            plugin_dir: default_plugin_dir(),
            plugins: BUNDLED_PLUGINS.iter().map(|s| s.to_string()).collect(),
            default_policy: "unanimity".to_string(),
            policy_timeout: Duration::from_millis(5000),
            log_format: LogFormat::Human,
            shutdown_grace: Duration::from_millis(10_000),
            operator_token: None,
            metrics_listen: None,
            otlp_endpoint: None,
        }
    }
}

/// The directory of the running binary: where cargo puts the policy libraries it builds.
pub fn default_plugin_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."))
}

impl Config {
    /// Resolves defaults → file → environment → flags.
    pub fn load(flags: Flags) -> Result<Self, String> {
        let file = match &flags.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .map_err(|e| format!("config file {}: {e}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let mut config = Config::default();
        macro_rules! layer {
            ($($field:ident),*) => {$(
                if let Some(v) = file.$field { config.$field = v.into(); }
                if let Some(v) = flags.$field { config.$field = v.into(); }
            )*};
        }
        layer!(
            listen,
            database_url,
            plugin_dir,
            plugins,
            default_policy,
            log_format
        );
        if let Some(ms) = flags.policy_timeout_ms.or(file.policy_timeout_ms) {
            config.policy_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = flags.shutdown_grace_ms.or(file.shutdown_grace_ms) {
            config.shutdown_grace = Duration::from_millis(ms);
        }
        config.operator_token = flags.operator_token.or(file.operator_token);
        config.metrics_listen = flags.metrics_listen.or(file.metrics_listen);
        config.otlp_endpoint = flags.otlp_endpoint.or(file.otlp_endpoint);
        if let Some(endpoint) = &config.otlp_endpoint {
            // The exporter is built without TLS: refuse https:// rather than fail at each export.
            if !endpoint.starts_with("http://") {
                return Err(format!(
                    "otlp_endpoint `{endpoint}` must be an http:// URL (TLS is not supported yet)"
                ));
            }
        }
        if config.policy_timeout.is_zero() {
            return Err("policy_timeout_ms must be greater than 0".to_string());
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order_defaults_file_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("accord.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:7000\"\ndefault_policy = \"weighted\"\npolicy_timeout_ms = 250\n",
        )
        .unwrap();
        let flags = Flags {
            config: Some(file.clone()),
            default_policy: Some("pressure".into()),
            ..Default::default()
        };
        let config = Config::load(flags).unwrap();
        assert_eq!(config.listen.port(), 7000, "from the file");
        assert_eq!(config.default_policy, "pressure", "the flag beats the file");
        assert_eq!(config.policy_timeout, Duration::from_millis(250));
        assert_eq!(config.database_url, "sqlite://accord.db", "default");
        assert_eq!(config.metrics_listen, None, "metrics are off by default");
        assert_eq!(config.otlp_endpoint, None, "trace export is off by default");
    }

    #[test]
    fn metrics_and_trace_export_are_configured_from_the_file_and_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("accord.toml");
        std::fs::write(
            &file,
            "metrics_listen = \"0.0.0.0:9090\"\notlp_endpoint = \"http://collector:4317\"\n",
        )
        .unwrap();
        let config = Config::load(Flags {
            config: Some(file.clone()),
            metrics_listen: Some("127.0.0.1:9191".parse().unwrap()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            config.metrics_listen,
            Some("127.0.0.1:9191".parse().unwrap())
        );
        assert_eq!(
            config.otlp_endpoint.as_deref(),
            Some("http://collector:4317")
        );
        std::fs::write(&file, "otlp_endpoint = \"collector:4317\"\n").unwrap();
        let err = Config::load(Flags {
            config: Some(file),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.contains("otlp_endpoint"), "{err}");
    }

    #[test]
    fn unknown_keys_and_bad_values_in_the_file_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("accord.toml");
        std::fs::write(&file, "lisen = \"127.0.0.1:7000\"\n").unwrap();
        let err = Config::load(Flags {
            config: Some(file.clone()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.contains("lisen"), "{err}");
        std::fs::write(&file, "policy_timeout_ms = 0\n").unwrap();
        assert!(
            Config::load(Flags {
                config: Some(file),
                ..Default::default()
            })
            .is_err()
        );
    }
}

#[cfg(test)]
mod example_file {
    use super::*;

    /// deploy/accord.toml is the example operators copy: it must stay valid.
    #[test]
    fn the_example_configuration_file_loads() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/accord.toml");
        let config = Config::load(Flags {
            config: Some(path),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(config.listen.port(), 50051);
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.plugins.len(), 3);
    }
}
