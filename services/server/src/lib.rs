//! The accord server: a tonic gRPC service that holds the alliance (members, partners,
//! missions), takes proposals and ballots, and decides them with decision-policy plugins loaded
//! at run time.
//!
//! - [`config`]: layered configuration. [`telemetry`]: logging. [`metrics`]: Prometheus metrics
//!   and the RPC layer that counts calls. [`tracing_export`]: optional OTLP trace export.
//! - [`app`]: shared state. [`alliance`]: members, partners, missions. [`proposals`]: proposals,
//!   ballots, decisions and their effects. [`policies`]: the plugin registry and hot swap.
//!   [`cache`]: the member list and open proposals, kept for the ballot path.
//! - [`isolated`]: policies run out of process by a supervised `accord-policy-runner`.
//! - [`forecasts`]: the zone of agreement (what could pass on a quantity).
//! - [`deadlines`]: closes proposals at their deadline. [`events`]: watch streams.
//! - [`replicas`]: several servers on one PostgreSQL database — cache coherence, watch events
//!   from other replicas, policy propagation, readiness.
//! - [`api`], [`api_trust`]: the gRPC adapters. [`error`]: the one mapping from domain errors to
//!   gRPC codes.
//! - Trust: [`auth`] (who the caller is; the one role table), [`limits`] (the one module of
//!   caps), [`signatures`] (ballot keys and signed ballots); the audit chain is in the store.
//! - [`power`]: voting power of any council (`PowerService.AnalyzeGame`).
#![forbid(unsafe_code)]

pub mod alliance;
pub mod api;
pub mod api_trust;
pub mod app;
pub mod auth;
pub mod cache;
pub mod config;
pub mod deadlines;
pub mod error;
pub mod events;
pub mod forecasts;
pub mod isolated;
pub mod limits;
pub mod metrics;
pub mod policies;
pub mod power;
pub mod proposals;
pub mod replicas;
pub mod settler;
pub mod signatures;
pub mod telemetry;
pub mod time;
pub mod tracing_export;

use std::future::Future;
use std::sync::Arc;

use accord_proto::v1::audit_service_server::AuditServiceServer;
use accord_proto::v1::delegation_service_server::DelegationServiceServer;
use accord_proto::v1::member_service_server::MemberServiceServer;
use accord_proto::v1::mission_service_server::MissionServiceServer;
use accord_proto::v1::partner_service_server::PartnerServiceServer;
use accord_proto::v1::policy_service_server::PolicyServiceServer;
use accord_proto::v1::power_service_server::PowerServiceServer;
use accord_proto::v1::proposal_service_server::ProposalServiceServer;
use accord_store::Store;
use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tracing::{info, info_span, warn};

use crate::api::Api;
use crate::app::App;
use crate::config::Config;
use crate::policies::PolicyRegistry;

/// Errors that stop the server from starting.
pub type StartError = Box<dyn std::error::Error + Send + Sync>;

/// Opens the store, loads the dataset on first start and the configured policies.
pub async fn build_app(config: Config) -> Result<Arc<App>, StartError> {
    let store: Arc<dyn Store> = accord_store::open(&config.database_url).await?;
    if store.seed_if_empty().await? {
        info!("empty database: loaded the NATO 2026 dataset");
    }
    let registry = PolicyRegistry::new(config.plugin_dir.clone(), config.policy_timeout)
        .with_isolation(policies::IsolationSettings {
            default: config.policy_isolation,
            isolated_files: config.isolated_plugins.clone(),
            runner: isolated::RunnerSettings {
                program: config.policy_runner.clone(),
                memory_limit_mb: config.runner_memory_limit_mb,
                cpu_seconds: config.runner_cpu_seconds,
                threads: config.runner_threads,
            },
        })
        .with_pins(config.plugin_pins.clone());
    registry.load_startup(&config.plugins).await;
    let default = match store.get_setting("default_policy").await? {
        Some(id) => id,
        None => config.default_policy.clone(),
    };
    if registry.get_any(&default).is_err() {
        warn!(policy = %default, "the default policy is not loaded");
    }
    registry.set_default_unchecked(&default);
    let app = App::new(store, registry, config);
    // A replica joining others serves what they serve: apply the recorded policy changes.
    replicas::sync_policies(&app).await;
    trust_at_start(&app).await?;
    Ok(app)
}

/// Checks the audit chain (a tampered store serves no writes, and says why), loads issued
/// tokens and ballot keys, and warns when authentication is off.
async fn trust_at_start(app: &App) -> Result<(), StartError> {
    match app.store.verify_audit().await? {
        Ok(report) => info!(
            entries = report.entries,
            signatures = report.signatures,
            head = %report.head_hash,
            "the audit log verifies"
        ),
        Err(broken) => {
            let why =
                format!("the audit log does not verify ({broken}); run `accord audit verify`");
            tracing::error!(%why, "tampered store: serving reads only");
            let _ = app.read_only.set(why);
        }
    }
    load_credentials(app).await?;
    if app.auth.is_open() {
        warn!(
            listen = %app.config.listen,
            "authentication is OFF: every caller may do everything (configure an operator token or client certificates)"
        );
    }
    Ok(())
}

/// Loads the issued tokens and the ballot keys from the store (at start, and on every replica
/// when another one changed them: see `replicas`). Keys are never removed, only replaced.
pub(crate) async fn load_credentials(app: &App) -> Result<(), accord_store::StoreError> {
    app.auth.set_tokens(app.store.tokens().await?);
    for key in app.store.ballot_keys().await? {
        match signatures::parse_public_key("public_key", &key.public_key) {
            Ok(parsed) => app.ballot_keys.set(&key.member, parsed),
            Err(e) => warn!(member = %key.member, error = %e, "ignoring a stored ballot key"),
        }
    }
    Ok(())
}

/// The connections `listener` accepts, with Nagle's algorithm off, at most
/// [`limits::MAX_CONNECTIONS`] at once (past the cap, accepting waits until one closes). tonic
/// sets `TCP_NODELAY` only on connections it accepts itself; without it a response written in
/// more than one piece (headers, message, trailers) can wait for the client's delayed ACK, some
/// 40 ms on Linux.
fn incoming(
    listener: TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<Connection>> {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits::MAX_CONNECTIONS));
    TcpListenerStream::new(listener).then(move |connection| {
        let slots = slots.clone();
        async move {
            let stream = connection?;
            if let Err(e) = stream.set_nodelay(true) {
                warn!(error = %e, "could not turn Nagle's algorithm off on a connection");
            }
            let slot = slots.acquire_owned().await.map_err(std::io::Error::other)?;
            Ok(Connection {
                stream,
                _slot: slot,
            })
        }
    })
}

/// An accepted connection holding its place under the connection cap until it closes.
pub struct Connection {
    stream: tokio::net::TcpStream,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

impl tonic::transport::server::Connected for Connection {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;
    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

impl tokio::io::AsyncRead for Connection {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Connection {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// A service with the request and response size caps of [`limits`].
fn limited<S>(service: S) -> S::Limited
where
    S: Limit,
{
    service.limited()
}

/// Services whose message sizes are capped.
trait Limit {
    type Limited;
    fn limited(self) -> Self::Limited;
}

macro_rules! limit {
    ($($server:ident: $request:expr, $response:expr);* $(;)?) => {$(
        impl Limit for $server<Api> {
            type Limited = $server<Api>;
            fn limited(self) -> Self::Limited {
                self.max_decoding_message_size($request)
                    .max_encoding_message_size($response)
            }
        }
    )*};
}

limit!(
    MemberServiceServer: limits::MAX_REQUEST_BYTES, limits::MAX_RESPONSE_BYTES;
    PartnerServiceServer: limits::MAX_REQUEST_BYTES, limits::MAX_RESPONSE_BYTES;
    MissionServiceServer: limits::MAX_REQUEST_BYTES, limits::MAX_RESPONSE_BYTES;
    // EvaluateBatch carries up to 1,000 evaluations (a sweep's batch) and answers them all.
    ProposalServiceServer: limits::MAX_BATCH_REQUEST_BYTES, limits::MAX_BATCH_RESPONSE_BYTES;
    PolicyServiceServer: limits::MAX_REQUEST_BYTES, limits::MAX_RESPONSE_BYTES;
    DelegationServiceServer: limits::MAX_REQUEST_BYTES, limits::MAX_RESPONSE_BYTES;
    AuditServiceServer: limits::MAX_REQUEST_BYTES, limits::MAX_RESPONSE_BYTES;
    // AnalyzeGame takes councils of many thousand members (up to 10,000 players).
    PowerServiceServer: limits::MAX_BATCH_REQUEST_BYTES, limits::MAX_RESPONSE_BYTES;
);

/// The server's TLS configuration (rustls), when TLS is configured: its certificate and key,
/// and the CA client certificates must chain to (optional client certificates: a caller may
/// present a token instead).
fn tls_config(config: &Config) -> Result<Option<tonic::transport::ServerTlsConfig>, StartError> {
    let Some((cert, key)) = &config.tls else {
        return Ok(None);
    };
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let identity = tonic::transport::Identity::from_pem(read(cert)?, read(key)?);
    let mut tls = tonic::transport::ServerTlsConfig::new().identity(identity);
    if let Some(ca) = &config.tls_client_ca {
        tls = tls
            .client_ca_root(tonic::transport::Certificate::from_pem(read(ca)?))
            .client_auth_optional(true);
    }
    Ok(Some(tls))
}

/// Serves the accord services, gRPC health and reflection on `listener` until `shutdown`
/// resolves; then stops accepting, gives calls in flight the configured grace period, stops the
/// deadline scheduler and closes the store.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    // Readiness: SERVING only while the database answers and the policies are those the
    // alliance wants; NOT_SERVING again from the moment shutdown begins (draining).
    let ready = app.not_ready().await;
    set_health(&health_reporter, ready.as_deref()).await;
    let readiness = tokio::spawn(readiness(app.clone(), health_reporter.clone(), ready));
    let follower = tokio::spawn(replicas::follow_changes(app.clone()));
    let policy_follower = tokio::spawn(replicas::follow_policies(app.clone()));
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(accord_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;

    let scheduler = tokio::spawn(deadlines::run(app.clone()));
    let api = Api(app.clone());
    let signalled = Arc::new(tokio::sync::Notify::new());
    let on_shutdown = {
        let signalled = signalled.clone();
        let app = app.clone();
        let health_reporter = health_reporter.clone();
        async move {
            shutdown.await;
            info!("shutting down: no new connections; finishing calls in flight");
            set_health(&health_reporter, Some("shutting down")).await;
            // Watch streams never finish by themselves: end them now.
            app.shutting_down.send_replace(true);
            signalled.notify_one();
        }
    };
    let rpc_metrics = app.config.metrics_listen.map(|_| app.metrics.clone());
    let mut builder = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(limits::KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(limits::KEEPALIVE_TIMEOUT))
        .tcp_keepalive(Some(limits::KEEPALIVE_INTERVAL))
        .max_concurrent_streams(Some(limits::MAX_STREAMS_PER_CONNECTION))
        .max_connection_age(limits::MAX_CONNECTION_AGE);
    if let Some(tls) = tls_config(&app.config)? {
        builder = builder.tls_config(tls)?;
    }
    let server = builder
        .trace_fn(|request| info_span!("rpc", method = %request.uri().path()))
        .layer(metrics::RpcMetricsLayer::new(rpc_metrics))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(limited(MemberServiceServer::new(api.clone())))
        .add_service(limited(PartnerServiceServer::new(api.clone())))
        .add_service(limited(MissionServiceServer::new(api.clone())))
        .add_service(limited(ProposalServiceServer::new(api.clone())))
        .add_service(limited(PolicyServiceServer::new(api.clone())))
        .add_service(limited(DelegationServiceServer::new(api.clone())))
        .add_service(limited(AuditServiceServer::new(api.clone())))
        .add_service(limited(PowerServiceServer::new(api)))
        .serve_with_incoming_shutdown(incoming(listener), on_shutdown);
    let grace = app.config.shutdown_grace;
    let result = tokio::select! {
        result = server => result.map_err(StartError::from),
        _ = async { signalled.notified().await; tokio::time::sleep(grace).await } => {
            warn!(?grace, "grace period over: dropping calls still in flight");
            Ok(())
        }
    };
    scheduler.abort();
    readiness.abort();
    follower.abort();
    policy_follower.abort();
    app.store.close().await;
    info!("stopped");
    result
}

/// Sets every service's health (and the server's, "") to SERVING, or NOT_SERVING with `why`.
async fn set_health(reporter: &HealthReporter, not_ready: Option<&str>) {
    let status = match not_ready {
        None => ServingStatus::Serving,
        Some(why) => {
            warn!(reason = why, "not ready: health NOT_SERVING");
            ServingStatus::NotServing
        }
    };
    let services = [
        "",
        <MemberServiceServer<Api> as tonic::server::NamedService>::NAME,
        <PartnerServiceServer<Api> as tonic::server::NamedService>::NAME,
        <MissionServiceServer<Api> as tonic::server::NamedService>::NAME,
        <ProposalServiceServer<Api> as tonic::server::NamedService>::NAME,
        <PolicyServiceServer<Api> as tonic::server::NamedService>::NAME,
        <DelegationServiceServer<Api> as tonic::server::NamedService>::NAME,
        <AuditServiceServer<Api> as tonic::server::NamedService>::NAME,
        <PowerServiceServer<Api> as tonic::server::NamedService>::NAME,
    ];
    for service in services {
        reporter.set_service_status(service, status).await;
    }
}

/// Keeps the health service's answer in line with [`App::not_ready`] until aborted.
async fn readiness(app: Arc<App>, reporter: HealthReporter, mut last: Option<String>) {
    let mut shutting_down = app.shutting_down.subscribe();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(replicas::READINESS_INTERVAL) => {}
            _ = shutting_down.changed() => {}
        }
        let now = app.not_ready().await;
        if now.is_some() != last.is_some() {
            if now.is_none() {
                info!("ready: health SERVING");
            }
            set_health(&reporter, now.as_deref()).await;
        }
        last = now;
    }
}

/// The metrics in the Prometheus text format, as they are now.
pub fn metrics_text(app: &App) -> String {
    let healthy = app.policies.healthy_ids();
    let policies: Vec<(String, bool)> = app
        .policies
        .list()
        .into_iter()
        .map(|(policy, _)| {
            let id = policy.id().to_string();
            let takes_calls = healthy.contains(&id);
            (id, takes_calls)
        })
        .collect();
    app.metrics.render(app.store.stats(), &policies)
}

/// Serves `/metrics` for `app` on `listener` until `app` begins shutting down.
pub async fn serve_metrics(app: Arc<App>, listener: TcpListener) -> std::io::Result<()> {
    let mut shutting_down = app.shutting_down.subscribe();
    let shutdown = async move {
        let _ = shutting_down.wait_for(|down| *down).await;
    };
    metrics::serve(listener, move || metrics_text(&app), shutdown).await
}
