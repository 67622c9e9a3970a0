//! Server configuration, in layers: built-in defaults, then an optional TOML file
//! (`--config` / `ACCORD_CONFIG`), then environment variables (`ACCORD_…`), then command-line
//! flags — each layer overriding the one before.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
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

/// Where a policy library runs (docs/plugin-abi.md, "Isolated mode").
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Isolation {
    /// Loaded into the server process: the fastest; a library that crashes takes the server down.
    InProcess,
    /// Run by an `accord-policy-runner` process: a crash, hang or leak costs the calls in flight.
    Isolated,
}

/// The policy libraries bundled with accord, loaded at start unless configured otherwise.
pub const BUNDLED_PLUGINS: [&str; 4] = [
    "libaccord_unanimity.so",
    "libaccord_weighted.so",
    "libaccord_pressure.so",
    "libaccord_bargaining.so",
];

/// Command-line flags; each also reads an `ACCORD_…` environment variable.
#[derive(Debug, Default, Parser)]
#[command(
    name = "accord-server",
    version,
    about = "The accord gRPC server: models how an alliance decides, with decision policies loaded as plugins."
)]
pub struct Flags {
    /// A one-shot task instead of serving.
    #[command(subcommand)]
    pub command: Option<Task>,
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
    /// directory [default: the four bundled policies].
    #[arg(long, env = "ACCORD_PLUGINS", value_delimiter = ',')]
    pub plugins: Option<Vec<String>>,
    /// Default policy for new proposals [default: unanimity].
    #[arg(long, env = "ACCORD_DEFAULT_POLICY")]
    pub default_policy: Option<String>,
    /// Time limit of one policy call, in milliseconds [default: 5000].
    #[arg(long, env = "ACCORD_POLICY_TIMEOUT_MS")]
    pub policy_timeout_ms: Option<u64>,
    /// Where policy libraries run unless listed in `isolated_plugins` or chosen at load time:
    /// `in-process` or `isolated` [default: in-process].
    #[arg(long, env = "ACCORD_POLICY_ISOLATION")]
    pub policy_isolation: Option<Isolation>,
    /// Library file names that always run isolated, comma-separated [default: none].
    #[arg(long, env = "ACCORD_ISOLATED_PLUGINS", value_delimiter = ',')]
    pub isolated_plugins: Option<Vec<String>>,
    /// The `accord-policy-runner` binary of isolated policies [default: next to the server].
    #[arg(long, env = "ACCORD_POLICY_RUNNER")]
    pub policy_runner: Option<PathBuf>,
    /// Address-space limit of each policy runner in MiB; 0: none [default: 1024].
    #[arg(long, env = "ACCORD_RUNNER_MEMORY_LIMIT_MB")]
    pub runner_memory_limit_mb: Option<u64>,
    /// CPU seconds a policy runner may spend without answering a call; 0: none [default: 30].
    #[arg(long, env = "ACCORD_RUNNER_CPU_SECONDS")]
    pub runner_cpu_seconds: Option<u64>,
    /// Calls one policy runner decides at once [default: 2].
    #[arg(long, env = "ACCORD_RUNNER_THREADS")]
    pub runner_threads: Option<usize>,
    /// Log format [default: human]. Filter with RUST_LOG (e.g. `info,accord_server=debug`).
    #[arg(long, env = "ACCORD_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Grace period for in-flight calls at shutdown, in milliseconds [default: 10000].
    #[arg(long, env = "ACCORD_SHUTDOWN_GRACE_MS")]
    pub shutdown_grace_ms: Option<u64>,
    /// How often a replica on a shared (PostgreSQL) database looks for policy changes made
    /// through other replicas, besides being told of them at once, in milliseconds
    /// [default: 2000]. The bound on how long such a change takes to reach every replica.
    #[arg(long, env = "ACCORD_POLICY_POLL_MS")]
    pub policy_poll_ms: Option<u64>,
    /// Address the web interface (the chamber in a browser) listens on, e.g. 127.0.0.1:8080
    /// [default: off]. With credentials configured a browser signs in with a token; without,
    /// it refuses a non-loopback address as the gRPC port does.
    #[arg(long, env = "ACCORD_WEB_LISTEN")]
    pub web_listen: Option<SocketAddr>,
    /// Token that operators present as `authorization: Bearer <token>` (at least 32
    /// characters). Prefer `--operator-token-file` or the environment to a flag: a flag shows in
    /// the process list. With no operator token and no client CA, authentication is off, which
    /// the server allows only on a loopback address or with `--insecure-no-auth`.
    #[arg(long, env = "ACCORD_OPERATOR_TOKEN", hide_env_values = true)]
    pub operator_token: Option<String>,
    /// File holding the operator token (first line; surrounding whitespace ignored).
    #[arg(long, env = "ACCORD_OPERATOR_TOKEN_FILE")]
    pub operator_token_file: Option<PathBuf>,
    /// Serve without authentication on a non-loopback address (everyone may do everything).
    /// Logged as a warning at start. Never in production.
    #[arg(long, env = "ACCORD_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,
    /// PEM certificate chain of the server: turns TLS on (with --tls-key).
    #[arg(long, env = "ACCORD_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of the server.
    #[arg(long, env = "ACCORD_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA certificate that client certificates must chain to: turns client certificates
    /// (mTLS) on. A client certificate's common name is `operator`, `observer` or a member code.
    #[arg(long, env = "ACCORD_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,
    /// SHA-256 values (lower-case hex) of the only policy libraries that may be loaded,
    /// comma-separated; unset means any library.
    #[arg(long, env = "ACCORD_PLUGIN_PINS", value_delimiter = ',')]
    pub plugin_pins: Option<Vec<String>>,
    /// Longest delay imposed on a client after repeated failed credentials, in milliseconds
    /// [default: 2000].
    #[arg(long, env = "ACCORD_AUTH_BACKOFF_MAX_MS")]
    pub auth_backoff_max_ms: Option<u64>,
    /// Address to serve Prometheus metrics on, at `/metrics` (e.g. `0.0.0.0:9090`)
    /// [default: none — metrics are not served].
    #[arg(long, env = "ACCORD_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// OTLP/gRPC collector to export trace spans to (e.g. `http://otel-collector:4317`)
    /// [default: none — spans are not exported].
    #[arg(long, env = "ACCORD_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
}

/// One-shot tasks of `accord-server` (without one it serves).
#[derive(Debug, Clone, Subcommand)]
pub enum Task {
    /// Copies a SQLite database into an empty PostgreSQL database — every record, ballot,
    /// decision, setting and the audit log, with their ids and sequences — in one transaction.
    Migrate {
        /// The SQLite database to copy ("sqlite:///var/lib/accord/accord.db").
        #[arg(long)]
        from: String,
        /// The empty PostgreSQL database to copy into ("postgres://user@host/db").
        #[arg(long)]
        to: String,
    },
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
    policy_isolation: Option<Isolation>,
    isolated_plugins: Option<Vec<String>>,
    policy_runner: Option<PathBuf>,
    runner_memory_limit_mb: Option<u64>,
    runner_cpu_seconds: Option<u64>,
    runner_threads: Option<usize>,
    log_format: Option<LogFormat>,
    shutdown_grace_ms: Option<u64>,
    operator_token: Option<String>,
    policy_poll_ms: Option<u64>,
    web_listen: Option<SocketAddr>,
    operator_token_file: Option<PathBuf>,
    insecure_no_auth: Option<bool>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    tls_client_ca: Option<PathBuf>,
    plugin_pins: Option<Vec<String>>,
    auth_backoff_max_ms: Option<u64>,
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
    /// Where policy libraries run by default.
    pub policy_isolation: Isolation,
    /// Library file names that always run isolated.
    pub isolated_plugins: Vec<String>,
    /// The `accord-policy-runner` binary.
    pub policy_runner: PathBuf,
    /// Address-space limit of each policy runner, MiB (0: none).
    pub runner_memory_limit_mb: u64,
    /// CPU seconds a runner may spend without answering a call (0: none).
    pub runner_cpu_seconds: u64,
    /// Calls one runner decides at once.
    pub runner_threads: usize,
    /// Log format.
    pub log_format: LogFormat,
    /// Grace period at shutdown.
    pub shutdown_grace: Duration,
    /// Operator token, if one is configured.
    pub operator_token: Option<String>,
    /// How often a replica polls for other replicas' policy changes.
    pub policy_poll: Duration,
    /// Address of the web interface, if it is served.
    pub web_listen: Option<SocketAddr>,
    /// Serve without authentication even off loopback.
    pub insecure_no_auth: bool,
    /// TLS certificate chain and key files.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// CA of client certificates (mTLS).
    pub tls_client_ca: Option<PathBuf>,
    /// The only library SHA-256 values that may be loaded (empty: any).
    pub plugin_pins: Vec<String>,
    /// Longest back-off after failed credentials.
    pub auth_backoff_max: Duration,
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
            policy_isolation: Isolation::InProcess,
            isolated_plugins: Vec::new(),
            policy_runner: default_plugin_dir().join("accord-policy-runner"),
            runner_memory_limit_mb: 1024,
            runner_cpu_seconds: 30,
            runner_threads: 2,
            log_format: LogFormat::Human,
            shutdown_grace: Duration::from_millis(10_000),
            operator_token: None,
            policy_poll: Duration::from_millis(2000),
            web_listen: None,
            insecure_no_auth: false,
            tls: None,
            tls_client_ca: None,
            plugin_pins: Vec::new(),
            auth_backoff_max: Duration::from_millis(2000),
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
    /// Whether callers must present credentials (an operator token or a client CA is
    /// configured).
    pub fn authenticates(&self) -> bool {
        self.operator_token.is_some() || self.tls_client_ca.is_some()
    }

    /// Refuses to serve without authentication off loopback unless `insecure_no_auth`.
    pub fn check_exposure(&self) -> Result<(), String> {
        if !self.authenticates() && !self.listen.ip().is_loopback() && !self.insecure_no_auth {
            return Err(format!(
                "refusing to serve {} without authentication: configure an operator token \
                 (--operator-token-file) or client certificates (--tls-client-ca), or say \
                 --insecure-no-auth",
                self.listen
            ));
        }
        if let Some(web) = self.web_listen {
            if !self.authenticates() && !web.ip().is_loopback() && !self.insecure_no_auth {
                return Err(format!(
                    "refusing to serve the web interface on {web} without authentication: \
                     configure an operator token (--operator-token-file), or say \
                     --insecure-no-auth"
                ));
            }
        }
        Ok(())
    }

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
            policy_isolation,
            isolated_plugins,
            policy_runner,
            runner_memory_limit_mb,
            runner_cpu_seconds,
            runner_threads,
            log_format
        );
        if config.runner_threads == 0 {
            return Err("runner_threads must be greater than 0".to_string());
        }
        if let Some(ms) = flags.policy_timeout_ms.or(file.policy_timeout_ms) {
            config.policy_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = flags.shutdown_grace_ms.or(file.shutdown_grace_ms) {
            config.shutdown_grace = Duration::from_millis(ms);
        }
        config.operator_token = flags.operator_token.or(file.operator_token);
        if let Some(ms) = flags.policy_poll_ms.or(file.policy_poll_ms) {
            if ms == 0 {
                return Err("policy_poll_ms must be greater than 0".to_string());
            }
            config.policy_poll = Duration::from_millis(ms);
        }
        config.web_listen = flags.web_listen.or(file.web_listen);
        if let Some(path) = flags.operator_token_file.or(file.operator_token_file) {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read operator token file {}: {e}", path.display()))?;
            config.operator_token = Some(text.lines().next().unwrap_or("").trim().to_string());
        }
        if let Some(token) = &config.operator_token {
            if token.len() < crate::limits::MIN_TOKEN_LEN {
                return Err(format!(
                    "the operator token must be at least {} characters (an empty one is never accepted)",
                    crate::limits::MIN_TOKEN_LEN
                ));
            }
        }
        config.insecure_no_auth = flags.insecure_no_auth || file.insecure_no_auth.unwrap_or(false);
        match (
            flags.tls_cert.or(file.tls_cert),
            flags.tls_key.or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => config.tls = Some((cert, key)),
            (None, None) => {}
            _ => return Err("tls_cert and tls_key go together".to_string()),
        }
        config.tls_client_ca = flags.tls_client_ca.or(file.tls_client_ca);
        if config.tls_client_ca.is_some() && config.tls.is_none() {
            return Err("tls_client_ca needs tls_cert and tls_key".to_string());
        }
        config.plugin_pins = flags
            .plugin_pins
            .or(file.plugin_pins)
            .unwrap_or_default()
            .into_iter()
            .map(|pin| pin.trim().to_ascii_lowercase())
            .filter(|pin| !pin.is_empty())
            .collect();
        if let Some(bad) = config
            .plugin_pins
            .iter()
            .find(|pin| pin.len() != 64 || !pin.chars().all(|c| c.is_ascii_hexdigit()))
        {
            let shown: String = bad.chars().take(80).collect();
            return Err(format!(
                "plugin pin `{shown}` is not a SHA-256 (64 hex digits)"
            ));
        }
        if let Some(ms) = flags.auth_backoff_max_ms.or(file.auth_backoff_max_ms) {
            config.auth_backoff_max = Duration::from_millis(ms);
        }
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
    fn isolation_settings_layer_like_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("accord.toml");
        std::fs::write(
            &file,
            "policy_isolation = \"isolated\"\nisolated_plugins = [\"libx.so\"]\n\
             runner_memory_limit_mb = 256\nrunner_cpu_seconds = 5\n",
        )
        .unwrap();
        let config = Config::load(Flags {
            config: Some(file.clone()),
            policy_isolation: Some(Isolation::InProcess),
            runner_threads: Some(4),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            config.policy_isolation,
            Isolation::InProcess,
            "the flag wins"
        );
        assert_eq!(config.isolated_plugins, ["libx.so"]);
        assert_eq!(config.runner_memory_limit_mb, 256);
        assert_eq!(config.runner_cpu_seconds, 5);
        assert_eq!(config.runner_threads, 4);
        assert!(
            config.policy_runner.ends_with("accord-policy-runner"),
            "default"
        );

        std::fs::write(&file, "policy_isolation = \"sandboxed\"\n").unwrap();
        let err = Config::load(Flags {
            config: Some(file.clone()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.contains("sandboxed"), "{err}");
        std::fs::write(&file, "runner_threads = 0\n").unwrap();
        let err = Config::load(Flags {
            config: Some(file),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.contains("runner_threads"), "{err}");
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
