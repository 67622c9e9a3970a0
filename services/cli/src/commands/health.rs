//! `accord health`: the server's standard health check (grpc.health.v1), for container health
//! checks and scripts. Prints the serving status; fails (exit 1, UNAVAILABLE) unless SERVING.

use serde_json::json;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::cli::GlobalOptions;
use crate::client::Client;
use crate::output::{print, print_json};

/// Checks `service` ("" for the whole server).
pub async fn run(client: &Client, global: &GlobalOptions, service: &str) -> anyhow::Result<()> {
    let response = HealthClient::new(client.channel())
        .check(HealthCheckRequest {
            service: service.to_string(),
        })
        .await?
        .into_inner();
    let status = ServingStatus::try_from(response.status).unwrap_or(ServingStatus::Unknown);
    let word = status.as_str_name();
    if global.json {
        print_json(&json!({ "status": word }));
    } else {
        print(word);
    }
    if status != ServingStatus::Serving {
        return Err(tonic::Status::unavailable(format!("the server is {word}")).into());
    }
    Ok(())
}
