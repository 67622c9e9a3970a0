//! Prometheus metrics: what the server counts, the tower layer that counts every RPC, and the
//! `/metrics` endpoint (Prometheus text format) on its own port.
//!
//! Guarantees: recording a figure never fails, blocks on I/O or changes a request's outcome (a
//! counter that cannot be recorded is skipped); label values come only from bounded sets — RPC
//! methods the server registers (any other path counts as `unknown`), gRPC code names, policy
//! ids of loaded policies and proposal states — so no client can grow the label space. Figures
//! that live elsewhere (the store's pool and group commit, policy health) are read at scrape time,
//! so `/metrics` shows them as they are at that moment.
//!
//! RPC codes: a call that fails before its first message gets a trailers-only response, whose
//! `grpc-status` header is read at once; otherwise the layer reads `grpc-status` from the
//! trailers that end the response body, so a stream that fails after some messages counts with
//! its real code. A response body dropped before its trailers (the client went away) counts as
//! `Canceled`. An RPC's duration runs until its code is known: for a server stream
//! (WatchProposal) that is the whole life of the stream.
//!
//! See `docs/deploy-metrics.md` for every metric, its labels and how to scrape it.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use accord_store::StoreStats;
use http_body::{Body, Frame, SizeHint};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use prost::Message;
use tokio::net::TcpListener;
use tracing::warn;

/// The label value of an RPC path the server does not serve.
const UNKNOWN: &str = "unknown";

/// Buckets of policy call durations, in seconds: 100 µs to about 6.5 s, ×4 each.
const POLICY_BUCKETS: [f64; 9] = [
    0.0001, 0.0004, 0.0016, 0.0064, 0.0256, 0.1024, 0.4096, 1.6384, 6.5536,
];

/// Buckets of RPC durations, in seconds: 250 µs to 10 s.
const RPC_BUCKETS: [f64; 14] = [
    0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Every metric the server keeps, in its own registry (so that two servers in one process, as
/// in the scenario runner, keep apart).
pub struct Metrics {
    registry: Registry,
    /// "/pkg.Service/Method" → (service, method), for every method the server registers.
    methods: HashMap<String, (String, String)>,
    rpc_requests: IntCounterVec,
    rpc_duration: HistogramVec,
    ballots: IntCounter,
    decisions: IntCounterVec,
    policy_calls: HistogramVec,
    policy_healthy: IntGaugeVec,
    pool_connections: IntGauge,
    pool_idle: IntGauge,
    pool_max: IntGauge,
    batch_commits: IntCounter,
    batch_ballots: IntCounter,
    largest_batch: IntGauge,
    /// One scrape at a time (store counters are brought up to date by difference).
    scrape: Mutex<()>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every accord metric and, on Linux, the process collector.
    pub fn new() -> Self {
        let registry = Registry::new();
        fn register<C: prometheus::core::Collector + Clone + 'static>(
            registry: &Registry,
            collector: C,
        ) -> C {
            registry
                .register(Box::new(collector.clone()))
                .expect("metric names are unique");
            collector
        }
        let counter_vec = |name: &str, help: &str, labels: &[&str]| {
            register(
                &registry,
                IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric"),
            )
        };
        let histogram_vec = |name: &str, help: &str, labels: &[&str], buckets: &[f64]| {
            register(
                &registry,
                HistogramVec::new(
                    HistogramOpts::new(name, help).buckets(buckets.to_vec()),
                    labels,
                )
                .expect("valid metric"),
            )
        };
        let counter = |name: &str, help: &str| {
            register(
                &registry,
                IntCounter::new(name, help).expect("valid metric"),
            )
        };
        let gauge = |name: &str, help: &str| {
            register(&registry, IntGauge::new(name, help).expect("valid metric"))
        };
        let metrics = Self {
            methods: served_methods(),
            rpc_requests: counter_vec(
                "accord_rpc_requests_total",
                "RPCs handled, by service, method and gRPC status code.",
                &["service", "method", "code"],
            ),
            rpc_duration: histogram_vec(
                "accord_rpc_duration_seconds",
                "Time from an RPC's request to its status (for a stream: its whole life).",
                &["service", "method", "code"],
                &RPC_BUCKETS,
            ),
            ballots: counter(
                "accord_ballots_cast_total",
                "Ballots acknowledged (durably written).",
            ),
            decisions: counter_vec(
                "accord_decisions_total",
                "Proposals closed by a decision, by policy and outcome (the state it closed in).",
                &["policy", "outcome"],
            ),
            policy_calls: histogram_vec(
                "accord_policy_call_duration_seconds",
                "Duration of calls into policy plugins, by policy and result (ok or error).",
                &["policy", "result"],
                &POLICY_BUCKETS,
            ),
            policy_healthy: register(
                &registry,
                IntGaugeVec::new(
                    Opts::new(
                        "accord_policy_healthy",
                        "1 if the loaded policy takes calls, 0 if it is unhealthy or disabled.",
                    ),
                    &["policy"],
                )
                .expect("valid metric"),
            ),
            pool_connections: gauge(
                "accord_db_pool_connections",
                "Database connections open in the pool (idle or in use).",
            ),
            pool_idle: gauge(
                "accord_db_pool_idle_connections",
                "Database connections open and idle in the pool.",
            ),
            pool_max: gauge(
                "accord_db_pool_max_connections",
                "The most connections the database pool opens.",
            ),
            batch_commits: counter(
                "accord_group_commit_batches_total",
                "Ballot transactions committed by the group-commit writer (one fsync each).",
            ),
            batch_ballots: counter(
                "accord_group_commit_ballots_total",
                "Ballots written by the group-commit writer.",
            ),
            largest_batch: gauge(
                "accord_group_commit_largest_batch",
                "The most ballots handed to one group-commit transaction since start.",
            ),
            scrape: Mutex::new(()),
            registry,
        };
        #[cfg(target_os = "linux")]
        {
            let process = prometheus::process_collector::ProcessCollector::for_self();
            if let Err(e) = metrics.registry.register(Box::new(process)) {
                warn!(error = %e, "process metrics unavailable");
            }
        }
        metrics
    }

    /// Counts an acknowledged ballot.
    pub fn ballot_cast(&self) {
        self.ballots.inc();
    }

    /// Counts a proposal closed by a decision of `policy`, in state `outcome` ("adopted", …).
    pub fn decided(&self, policy: &str, outcome: &str) {
        self.decisions.with_label_values(&[policy, outcome]).inc();
    }

    /// Records one call into policy `policy` that took `elapsed`.
    pub fn policy_called(&self, policy: &str, elapsed: Duration, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.policy_calls
            .with_label_values(&[policy, result])
            .observe(elapsed.as_secs_f64());
    }

    /// The (service, method) labels of an RPC path; `unknown` for a path the server does not
    /// serve.
    fn method_labels(&self, path: &str) -> (String, String) {
        match self.methods.get(path) {
            Some((service, method)) => (service.clone(), method.clone()),
            None => (UNKNOWN.to_string(), UNKNOWN.to_string()),
        }
    }

    fn rpc_finished(&self, labels: &(String, String), code: &str, elapsed: Duration) {
        let values = [labels.0.as_str(), labels.1.as_str(), code];
        self.rpc_requests.with_label_values(&values).inc();
        self.rpc_duration
            .with_label_values(&values)
            .observe(elapsed.as_secs_f64());
    }

    /// Every metric in the Prometheus text format, after reading the figures kept elsewhere:
    /// the store's, and each loaded policy's health (`(id, takes calls)`).
    pub fn render(&self, store: StoreStats, policies: &[(String, bool)]) -> String {
        let _one_scrape = self.scrape.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pool) = store.pool {
            self.pool_connections.set(i64::from(pool.size));
            self.pool_idle.set(i64::from(pool.idle));
            self.pool_max.set(i64::from(pool.max));
        }
        if let Some(batches) = store.group_commit {
            // Counters only go up: add what the store counted since the last scrape.
            self.batch_commits
                .inc_by(batches.commits.saturating_sub(self.batch_commits.get()));
            self.batch_ballots
                .inc_by(batches.ballots.saturating_sub(self.batch_ballots.get()));
            self.largest_batch
                .set(i64::try_from(batches.largest_batch).unwrap_or(i64::MAX));
        }
        // A policy no longer loaded disappears from the gauge.
        self.policy_healthy.reset();
        for (id, healthy) in policies {
            self.policy_healthy
                .with_label_values(&[id.as_str()])
                .set(i64::from(*healthy));
        }
        let mut text = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut text) {
            warn!(error = %e, "could not encode the metrics");
        }
        String::from_utf8(text).unwrap_or_default()
    }
}

/// "/package.Service/Method" → (package.Service, Method) for every method of the services the
/// server registers (accord.v1, gRPC health, reflection).
fn served_methods() -> HashMap<String, (String, String)> {
    let sets = [
        accord_proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
    ];
    let mut methods = HashMap::new();
    for bytes in sets {
        let Ok(set) = prost_types::FileDescriptorSet::decode(bytes) else {
            continue;
        };
        for file in set.file {
            let package = file.package();
            for service in &file.service {
                let service_name = if package.is_empty() {
                    service.name().to_string()
                } else {
                    format!("{package}.{}", service.name())
                };
                for method in &service.method {
                    methods.insert(
                        format!("/{service_name}/{}", method.name()),
                        (service_name.clone(), method.name().to_string()),
                    );
                }
            }
        }
    }
    methods
}

/// The name of a gRPC status code as Prometheus users know it (grpc-go's spelling: `OK`,
/// `NotFound`, `Canceled`, …).
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "Canceled",
        Unknown => "Unknown",
        InvalidArgument => "InvalidArgument",
        DeadlineExceeded => "DeadlineExceeded",
        NotFound => "NotFound",
        AlreadyExists => "AlreadyExists",
        PermissionDenied => "PermissionDenied",
        ResourceExhausted => "ResourceExhausted",
        FailedPrecondition => "FailedPrecondition",
        Aborted => "Aborted",
        OutOfRange => "OutOfRange",
        Unimplemented => "Unimplemented",
        Internal => "Internal",
        Unavailable => "Unavailable",
        DataLoss => "DataLoss",
        Unauthenticated => "Unauthenticated",
    }
}

/// The code in a `grpc-status` header or trailer, if there is one.
fn grpc_status(headers: &http::HeaderMap) -> Option<&'static str> {
    let value = headers.get("grpc-status")?;
    let number: i32 = value.to_str().ok()?.trim().parse().ok()?;
    Some(code_name(tonic::Code::from_i32(number)))
}

// ---------------------------------------------------------------------------------------------
// The tower layer on the tonic server.

/// Counts every RPC the server answers (see the module documentation for how the code is read).
/// With `None` it passes requests through untouched (metrics off).
#[derive(Debug, Clone)]
pub struct RpcMetricsLayer {
    metrics: Option<Arc<Metrics>>,
}

impl RpcMetricsLayer {
    /// A layer recording into `metrics`, or doing nothing.
    pub fn new(metrics: Option<Arc<Metrics>>) -> Self {
        Self { metrics }
    }
}

impl<S> tower_layer::Layer<S> for RpcMetricsLayer {
    type Service = RpcMetricsService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RpcMetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service [`RpcMetricsLayer`] wraps around the server's routes.
#[derive(Debug, Clone)]
pub struct RpcMetricsService<S> {
    inner: S,
    metrics: Option<Arc<Metrics>>,
}

/// An RPC whose code is not known yet.
struct InFlight {
    metrics: Arc<Metrics>,
    labels: (String, String),
    started: Instant,
}

impl InFlight {
    fn finish(self, code: &str) {
        self.metrics
            .rpc_finished(&self.labels, code, self.started.elapsed());
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, ReqBody, ResBody> tower_service::Service<http::Request<ReqBody>> for RpcMetricsService<S>
where
    S: tower_service::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    ResBody: 'static,
{
    type Response = http::Response<CountedBody<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let in_flight = self.metrics.as_ref().map(|metrics| InFlight {
            labels: metrics.method_labels(request.uri().path()),
            metrics: metrics.clone(),
            started: Instant::now(),
        });
        let call = self.inner.call(request);
        Box::pin(async move {
            let result = call.await;
            let Some(in_flight) = in_flight else {
                return result.map(|r| r.map(|body| CountedBody::new(body, None)));
            };
            match result {
                Ok(response) => {
                    // A trailers-only response carries its status in the headers.
                    let pending = match grpc_status(response.headers()) {
                        Some(code) => {
                            in_flight.finish(code);
                            None
                        }
                        None => Some(in_flight),
                    };
                    Ok(response.map(|body| CountedBody::new(body, pending)))
                }
                Err(error) => {
                    in_flight.finish("Unknown");
                    Err(error)
                }
            }
        })
    }
}

pin_project_lite::pin_project! {
    /// A response body that records its RPC when the trailers pass (or when it is dropped
    /// unfinished).
    pub struct CountedBody<B> {
        #[pin]
        inner: B,
        pending: Option<InFlight>,
    }

    impl<B> PinnedDrop for CountedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(in_flight) = this.project().pending.take() {
                in_flight.finish("Canceled");
            }
        }
    }
}

impl<B> CountedBody<B> {
    fn new(inner: B, pending: Option<InFlight>) -> Self {
        Self { inner, pending }
    }
}

impl<B: Body> Body for CountedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        let code = match &polled {
            Poll::Ready(Some(Ok(frame))) => frame
                .trailers_ref()
                .map(|trailers| grpc_status(trailers).unwrap_or("Unknown")),
            Poll::Ready(Some(Err(_))) => Some("Unknown"),
            // Ended without trailers: not a well-formed gRPC response.
            Poll::Ready(None) => Some("Unknown"),
            Poll::Pending => None,
        };
        if let Some(code) = code {
            if let Some(in_flight) = this.pending.take() {
                in_flight.finish(code);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

// ---------------------------------------------------------------------------------------------
// The /metrics endpoint.

/// Serves `GET /metrics` (Prometheus text format, rendered by `render` at each scrape) on
/// `listener` until `shutdown` resolves. Any other path is 404.
pub async fn serve(
    listener: TcpListener,
    render: impl Fn() -> String + Clone + Send + Sync + 'static,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::routing::get;
    let router = axum::Router::new().route(
        "/metrics",
        get(move || {
            let render = render.clone();
            async move {
                // Rendering reads locks and /proc: keep it off the async workers.
                let text = tokio::task::spawn_blocking(render)
                    .await
                    .unwrap_or_default();
                (
                    [(http::header::CONTENT_TYPE, prometheus::TEXT_FORMAT)],
                    text,
                )
            }
        }),
    );
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds the metrics port. Kept apart from [`serve`] so that the caller can report the bound
/// address (with port 0) before serving.
pub async fn bind(address: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(address)
        .await
        .map_err(|e| format!("cannot listen for metrics on {address}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_methods_cover_the_accord_services_health_and_reflection() {
        let metrics = Metrics::new();
        assert_eq!(
            metrics.method_labels("/accord.v1.ProposalService/CastBallot"),
            ("accord.v1.ProposalService".into(), "CastBallot".into())
        );
        assert_eq!(
            metrics.method_labels("/grpc.health.v1.Health/Check").1,
            "Check"
        );
        assert_eq!(
            metrics
                .method_labels("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
                .1,
            "ServerReflectionInfo"
        );
        assert_eq!(
            metrics.method_labels("/made.up/Path"),
            (UNKNOWN.into(), UNKNOWN.into()),
            "a client cannot add label values"
        );
    }

    #[test]
    fn store_counters_follow_the_store_and_policy_gauges_follow_the_registry() {
        let metrics = Metrics::new();
        let stats = |commits, ballots| StoreStats {
            pool: Some(accord_store::PoolStats {
                size: 3,
                idle: 2,
                max: 4,
            }),
            group_commit: Some(accord_store::GroupCommitStats {
                commits,
                ballots,
                largest_batch: 7,
            }),
        };
        metrics.render(stats(2, 9), &[("a".into(), true), ("b".into(), false)]);
        let text = metrics.render(stats(5, 20), &[("a".into(), true)]);
        for line in [
            "accord_group_commit_batches_total 5",
            "accord_group_commit_ballots_total 20",
            "accord_group_commit_largest_batch 7",
            "accord_db_pool_connections 3",
            "accord_db_pool_idle_connections 2",
            "accord_policy_healthy{policy=\"a\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert!(!text.contains("policy=\"b\""), "unloaded policies go away");
    }

    #[test]
    fn grpc_status_values_map_to_code_names() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(grpc_status(&headers), None);
        headers.insert("grpc-status", "5".parse().unwrap());
        assert_eq!(grpc_status(&headers), Some("NotFound"));
        headers.insert("grpc-status", "0".parse().unwrap());
        assert_eq!(grpc_status(&headers), Some("OK"));
    }
}
