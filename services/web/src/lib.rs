//! The chamber in a browser: server-rendered pages over the server's own [`App`], served by
//! `accord-server` on a second port (`--web-listen`), with Server-Sent Events for live seat
//! charts.
//!
//! The guarantee this crate keeps: **the web interface is one more adapter over the same
//! services, never a second path.** Every read and every change goes through the gRPC service
//! implementations ([`accord_server::api::Api`]) called in process, with the caller's identity
//! and the operator token carried as request metadata exactly as a gRPC client sends them — so
//! validation, permissions and error messages are those of the gRPC API, and when the services
//! learn new rules the pages follow without a change here. Live updates come from the same
//! [`accord_server::events::EventHub`] that feeds `WatchProposal`.
//!
//! Layers, bottom up:
//! - [`session`]: who the caller is (one function, [`session::caller`]), the per-session CSRF
//!   token and the Origin check every form goes through.
//! - [`error`]: the one mapping from a gRPC status to an HTTP status and an error page.
//! - [`layout`]: the page shell, navigation and formatting helpers; [`chart`]: the seat chart.
//! - [`alliance`], [`proposals`], [`scenarios`], [`policies`]: the pages. [`live`]: the event
//!   stream of a proposal page.
#![forbid(unsafe_code)]

pub mod alliance;
pub mod chart;
pub mod error;
pub mod layout;
pub mod live;
pub mod policies;
pub mod proposals;
pub mod scenarios;
pub mod session;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use accord_server::api::Api;
use accord_server::app::App;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tracing::warn;

/// What every handler shares.
#[derive(Clone)]
pub struct Web {
    /// The server's shared state (read only here, bar the event hub's subscriptions).
    pub app: Arc<App>,
    /// The gRPC services, called in process.
    pub api: Api,
    /// Where the gRPC server listens: scenario runs talk to it like `accord scenario run`.
    pub grpc: SocketAddr,
    /// Scenario files offered on the scenarios page (`scenarios/` of the working directory).
    pub scenario_dir: PathBuf,
    /// The proposals pages follow live, one hub subscription each.
    pub rooms: Arc<live::Rooms>,
}

/// The largest request body a form may send (scenario uploads included): 1 MiB.
pub const MAX_BODY: usize = 1 << 20;

/// The web interface's routes.
pub fn router(web: Web) -> Router {
    Router::new()
        .route("/", get(alliance::home))
        .route("/alliance", get(alliance::page))
        .route("/proposals", get(proposals::list))
        .route("/proposals/{id}", get(proposals::page))
        .route(
            "/proposals/{id}/evaluation",
            get(proposals::evaluation_fragment),
        )
        .route("/proposals/{id}/events", get(live::events))
        .route("/proposals/{id}/ballots", post(proposals::vote))
        .route("/proposals/{id}/withdraw", post(proposals::withdraw))
        .route("/seat", post(session::take_seat))
        .route("/session", get(session::page))
        .route("/scenarios", get(scenarios::page).post(scenarios::upload))
        .route("/scenarios/run", get(scenarios::run_file))
        .route("/policies", get(policies::page))
        .route("/policies/{id}/replace", post(policies::replace))
        .route("/policies/{id}/disable", post(policies::disable))
        .route("/static/app.js", get(script))
        .route("/static/style.css", get(style))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(session::middleware))
        .with_state(web)
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../static/app.js"),
    )
}

async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../static/style.css"),
    )
}

/// Serves the web interface on `listener` until the server begins shutting down (the
/// `shutting_down` flag [`accord_server::serve`] raises); live streams end then too.
pub async fn serve(app: Arc<App>, listener: TcpListener, grpc: SocketAddr) {
    let mut down = app.shutting_down.subscribe();
    let shutdown = async move {
        let _ = down.wait_for(|d| *d).await;
    };
    serve_with(app, listener, grpc, shutdown).await
}

/// [`serve`] with an explicit shutdown signal.
pub async fn serve_with(
    app: Arc<App>,
    listener: TcpListener,
    grpc: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    // A server listening on every interface is reached on loopback.
    let grpc = if grpc.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], grpc.port()))
    } else {
        grpc
    };
    let web = Web {
        api: Api(app.clone()),
        app,
        grpc,
        scenario_dir: PathBuf::from("scenarios"),
        rooms: Arc::default(),
    };
    if let Err(e) = axum::serve(listener, router(web))
        .with_graceful_shutdown(shutdown)
        .await
    {
        warn!(error = %e, "web interface stopped");
    }
}
