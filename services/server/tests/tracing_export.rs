//! OTLP trace export of the real server binary: pointed at a small OTLP/gRPC collector in the
//! test, the server exports a span per RPC (the `rpc` span with its method) under the service
//! name `accord-server`, and a graceful stop sends the spans still queued.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use accord_proto::v1::*;
use accord_test_support::grpc::*;
use accord_test_support::*;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;

/// A collector that keeps every export request it receives.
#[derive(Clone, Default)]
struct Collector {
    received: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.received.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// Starts the collector on 127.0.0.1:0; returns it and its URL.
async fn start_collector() -> (Collector, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let collector = Collector::default();
    let service = TraceServiceServer::new(collector.clone());
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .expect("the collector serves");
    });
    (collector, url)
}

fn string_attribute(
    attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue],
    key: &str,
) -> Option<String> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.clone()),
            _ => None,
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_spans_reach_the_collector_by_a_graceful_stop() {
    let (collector, url) = start_collector().await;
    let mut server = TestServer::start(Options {
        otlp_endpoint: Some(url),
        ..Options::default()
    })
    .await;
    server
        .members()
        .get_member(GetMemberRequest {
            name: member("USA"),
        })
        .await
        .expect("USA");
    let _ = server
        .members()
        .get_member(GetMemberRequest {
            name: member("XXX"),
        })
        .await;
    server
        .members()
        .list_members(ListMembersRequest::default())
        .await
        .expect("members");
    // The batch waits up to 5 s before sending; the stop must not wait for it.
    server.stop().await;

    let received = collector.received.lock().unwrap().clone();
    assert!(!received.is_empty(), "the collector received an export");
    let mut methods = Vec::new();
    for request in &received {
        for resource_spans in &request.resource_spans {
            let resource = resource_spans.resource.as_ref().expect("a resource");
            assert_eq!(
                string_attribute(&resource.attributes, "service.name").as_deref(),
                Some("accord-server")
            );
            for scope in &resource_spans.scope_spans {
                for span in &scope.spans {
                    assert_eq!(span.trace_id.len(), 16, "a real trace id");
                    if span.name == "rpc" {
                        methods.extend(string_attribute(&span.attributes, "method"));
                    }
                }
            }
        }
    }
    let get_member = "/accord.v1.MemberService/GetMember";
    assert_eq!(
        methods.iter().filter(|m| *m == get_member).count(),
        2,
        "one span per GetMember: {methods:?}"
    );
    assert!(
        methods
            .iter()
            .any(|m| m == "/accord.v1.MemberService/ListMembers"),
        "{methods:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_collector_does_not_disturb_the_server() {
    // A port nobody listens on (bound, then let go).
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut server = TestServer::start(Options {
        otlp_endpoint: Some(format!("http://127.0.0.1:{port}")),
        ..Options::default()
    })
    .await;
    for _ in 0..3 {
        server
            .members()
            .get_member(GetMemberRequest {
                name: member("USA"),
            })
            .await
            .expect("served while the export fails");
    }
    tokio::time::timeout(Duration::from_secs(25), server.stop())
        .await
        .expect("a graceful stop does not hang on the export");
}
