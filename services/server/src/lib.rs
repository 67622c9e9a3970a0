//! The accord server: a tonic gRPC service that holds the alliance (members, partners,
//! missions), takes proposals and ballots, and decides them with decision-policy plugins loaded
//! at run time.
//!
//! - [`config`]: layered configuration. [`telemetry`]: logging. [`metrics`]: Prometheus metrics
//!   and the RPC layer that counts calls. [`tracing_export`]: optional OTLP trace export.
//! - [`app`]: shared state. [`alliance`]: members, partners, missions. [`proposals`]: proposals,
//!   ballots, decisions and their effects. [`policies`]: the plugin registry and hot swap.
//!   [`cache`]: the member list and open proposals, kept for the ballot path.
//! - [`deadlines`]: closes proposals at their deadline. [`events`]: watch streams.
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
pub mod metrics;
pub mod policies;
pub mod proposals;
pub mod settler;
pub mod telemetry;
pub mod time;
pub mod tracing_export;

use std::future::Future;
use std::sync::Arc;

use accord_proto::v1::member_service_server::MemberServiceServer;
use accord_proto::v1::mission_service_server::MissionServiceServer;
use accord_proto::v1::partner_service_server::PartnerServiceServer;
use accord_proto::v1::policy_service_server::PolicyServiceServer;
use accord_proto::v1::proposal_service_server::ProposalServiceServer;
use accord_store::{SqliteStore, Store};
use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;
use tracing::{info, info_span, warn};

use crate::api::Api;
use crate::app::App;
use crate::config::Config;
use crate::policies::PolicyRegistry;

/// Errors that stop the server from starting.
pub type StartError = Box<dyn std::error::Error + Send + Sync>;

/// Opens the store, loads the dataset on first start and the configured policies.
pub async fn build_app(config: Config) -> Result<Arc<App>, StartError> {
    let store = SqliteStore::open(&config.database_url).await?;
    if store.seed_if_empty().await? {
        info!("empty database: loaded the NATO 2026 dataset");
    }
    let store: Arc<dyn Store> = Arc::new(store);
    let registry = PolicyRegistry::new(config.plugin_dir.clone(), config.policy_timeout);
    registry.load_startup(&config.plugins).await;
    let default = match store.get_setting("default_policy").await? {
        Some(id) => id,
        None => config.default_policy.clone(),
    };
    if registry.get_any(&default).is_err() {
        warn!(policy = %default, "the default policy is not loaded");
    }
    registry.set_default_unchecked(&default);
    Ok(App::new(store, registry, config))
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
    health_reporter
        .set_serving::<MemberServiceServer<Api>>()
        .await;
    health_reporter
        .set_serving::<PartnerServiceServer<Api>>()
        .await;
    health_reporter
        .set_serving::<MissionServiceServer<Api>>()
        .await;
    health_reporter
        .set_serving::<ProposalServiceServer<Api>>()
        .await;
    health_reporter
        .set_serving::<PolicyServiceServer<Api>>()
        .await;
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
        async move {
            shutdown.await;
            info!("shutting down: no new connections; finishing calls in flight");
            // Watch streams never finish by themselves: end them now.
            app.shutting_down.send_replace(true);
            signalled.notify_one();
        }
    };
    let rpc_metrics = app.config.metrics_listen.map(|_| app.metrics.clone());
    let server = tonic::transport::Server::builder()
        .trace_fn(|request| info_span!("rpc", method = %request.uri().path()))
        .layer(metrics::RpcMetricsLayer::new(rpc_metrics))
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
    app.store.close().await;
    info!("stopped");
    result
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
