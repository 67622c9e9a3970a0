//! The accord server: a tonic gRPC service that holds the alliance (members, partners,
//! missions), takes proposals and ballots, and decides them with decision-policy plugins loaded
//! at run time.
//!
//! - [`config`]: layered configuration. [`telemetry`]: logging.
//! - [`app`]: shared state. [`alliance`]: members, partners, missions. [`proposals`]: proposals,
//!   ballots, decisions and their effects. [`policies`]: the plugin registry and hot swap.
//!   [`cache`]: the member list and open proposals, kept for the ballot path.
//! - [`isolated`]: policies run out of process by a supervised `accord-policy-runner`.
//! - [`forecasts`]: the zone of agreement (what could pass on a quantity).
//! - [`deadlines`]: closes proposals at their deadline. [`events`]: watch streams.
//! - [`replicas`]: several servers on one PostgreSQL database — cache coherence, watch events
//!   from other replicas, policy propagation, readiness.
//! - [`api`]: the gRPC adapters. [`error`]: the one mapping from domain errors to gRPC codes.
#![forbid(unsafe_code)]

pub mod alliance;
pub mod api;
pub mod app;
pub mod cache;
pub mod config;
pub mod deadlines;
pub mod error;
pub mod events;
pub mod forecasts;
pub mod isolated;
pub mod policies;
pub mod proposals;
pub mod replicas;
pub mod settler;
pub mod telemetry;
pub mod time;

use std::future::Future;
use std::sync::Arc;

use accord_proto::v1::member_service_server::MemberServiceServer;
use accord_proto::v1::mission_service_server::MissionServiceServer;
use accord_proto::v1::partner_service_server::PartnerServiceServer;
use accord_proto::v1::policy_service_server::PolicyServiceServer;
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
        });
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
    Ok(app)
}

/// The connections `listener` accepts, with Nagle's algorithm off. tonic sets `TCP_NODELAY` only
/// on connections it accepts itself; without it a response written in more than one piece (headers,
/// message, trailers) can wait for the client's delayed ACK, some 40 ms on Linux.
fn incoming(
    listener: TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    TcpListenerStream::new(listener).map(|connection| {
        if let Ok(stream) = &connection {
            if let Err(e) = stream.set_nodelay(true) {
                warn!(error = %e, "could not turn Nagle's algorithm off on a connection");
            }
        }
        connection
    })
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
    let server = tonic::transport::Server::builder()
        .trace_fn(|request| info_span!("rpc", method = %request.uri().path()))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(MemberServiceServer::new(api.clone()))
        .add_service(PartnerServiceServer::new(api.clone()))
        .add_service(MissionServiceServer::new(api.clone()))
        .add_service(ProposalServiceServer::new(api.clone()))
        .add_service(PolicyServiceServer::new(api))
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
