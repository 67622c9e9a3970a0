//! gRPC health and reflection of the real server binary.

use std::time::Duration;

use accord_test_support::grpc::*;
use accord_test_support::*;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_serving_and_reflection_lists_the_accord_services() {
    let server = TestServer::start_default().await;

    let mut health = HealthClient::new(server.channel());
    for service in [
        "",
        "accord.v1.ProposalService",
        "accord.v1.PolicyService",
        "accord.v1.MemberService",
    ] {
        let status = health
            .check(HealthCheckRequest {
                service: service.to_string(),
            })
            .await
            .unwrap_or_else(|e| panic!("health check of {service:?}: {e}"))
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "accord.v1.NoSuchService".into(),
        })
        .await;
    assert_status(unknown, tonic::Code::NotFound, &[]);

    let mut reflection = ServerReflectionClient::new(server.channel());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = reflection
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .expect("reflection")
        .into_inner();
    let response = tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("a reflection answer in time")
        .expect("reflection stream")
        .expect("one response");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("expected a list of services, got {response:?}");
    };
    let names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
    for expected in [
        "accord.v1.ProposalService",
        "accord.v1.PolicyService",
        "accord.v1.MemberService",
        "accord.v1.MissionService",
        "accord.v1.PartnerService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }

    // Reflection also serves the file that defines a service.
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol(
            "accord.v1.ProposalService".into(),
        )),
    };
    let mut stream = reflection
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .expect("reflection")
        .into_inner();
    let response = stream.message().await.expect("stream").expect("a response");
    let Some(MessageResponse::FileDescriptorResponse(files)) = response.message_response else {
        panic!("expected file descriptors, got {response:?}");
    };
    assert!(!files.file_descriptor_proto.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_start_up_default_policy_decides_proposals_that_name_none() {
    let server = TestServer::start(Options {
        default_policy: Some("weighted".into()),
        ..Options::default()
    })
    .await;
    assert!(get_policy(&server, "weighted").await.is_default);
    assert!(!get_policy(&server, "unanimity").await.is_default);
    let created = create(&server, proposal("Under the default", motion("x"), "")).await;
    assert_eq!(created.policy.unwrap().policy_id, "weighted");
}
