//! Optional export of the server's `tracing` spans to an OpenTelemetry collector over OTLP/gRPC
//! (`--otlp-endpoint`, off by default).
//!
//! Guarantees: exporting never slows or fails a request — finished spans go into a bounded queue
//! (spans beyond it are dropped, not waited for) that a task on the server's runtime sends in
//! batches; an unreachable collector costs failed exports, logged by the SDK, nothing else.
//! [`TraceExport::shutdown`] sends what is queued before the process exits.
//!
//! The exporter is opentelemetry-otlp's tonic one, on the same tonic as the server. Its batch
//! task runs on the server's tokio runtime (the SDK's default batch processor runs on a thread of
//! its own without a tokio reactor, where a tonic channel cannot run), so [`TraceExport::start`]
//! must be called inside that runtime.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::runtime::Tokio;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::registry::LookupSpan;

/// The service name spans are exported under (`service.name`).
pub const SERVICE_NAME: &str = "accord-server";

/// A running trace export.
#[derive(Debug)]
pub struct TraceExport {
    provider: SdkTracerProvider,
}

impl TraceExport {
    /// Starts exporting to the OTLP/gRPC collector at `endpoint` ("http://collector:4317").
    /// Call inside the tokio runtime that will run the server.
    pub fn start(endpoint: &str) -> Result<Self, String> {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
            .map_err(|e| format!("OTLP exporter for {endpoint}: {e}"))?;
        let processor = BatchSpanProcessor::builder(exporter, Tokio).build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(
                Resource::builder()
                    .with_service_name(SERVICE_NAME)
                    .with_attribute(opentelemetry::KeyValue::new(
                        "service.version",
                        env!("CARGO_PKG_VERSION"),
                    ))
                    .build(),
            )
            .build();
        Ok(Self { provider })
    }

    /// The `tracing` layer that turns spans into OpenTelemetry spans for this export. The
    /// exporter's own transport (tonic, hyper, h2) and the SDK are left out, so that exporting
    /// never produces spans to export.
    pub fn layer<S>(&self) -> impl Layer<S> + use<S>
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span>,
    {
        let quiet: Targets = "trace,h2=off,hyper=off,hyper_util=off,tonic=off,tower=off,opentelemetry=off,opentelemetry_sdk=off,opentelemetry_otlp=off"
            .parse()
            .expect("valid targets");
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer(SERVICE_NAME))
            .with_filter(quiet)
    }

    /// Sends the spans still queued and stops. Blocks: call it outside async code, while the
    /// runtime the export started in is still running (its batch task does the sending).
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("accord-server: trace export did not shut down cleanly: {e}");
        }
    }
}
