//! `accord policies list|show|load|replace|disable|default`: the decision-policy plugins loaded
//! in the server. Load, replace, disable and default are operator calls and carry `--token`.

use accord_proto::names::POLICIES;
use accord_proto::v1::{
    DisablePolicyRequest, GetPolicyRequest, ListPoliciesRequest, ListPoliciesResponse,
    LoadPolicyRequest, LoadedPolicy, ReplacePolicyRequest, SetDefaultPolicyRequest,
};

use super::collect_pages;
use crate::cli::{GlobalOptions, PoliciesCommand};
use crate::client::Client;
use crate::output::{self, print, print_fields, print_json};

/// Runs a `policies` subcommand.
pub async fn run(
    client: &Client,
    global: &GlobalOptions,
    command: PoliciesCommand,
) -> anyhow::Result<()> {
    let json = |value: serde_json::Value| print_json(&value);
    match command {
        PoliciesCommand::List { page } => {
            let policies = collect_pages(|page_token| {
                let mut service = client.policies();
                let request = ListPoliciesRequest {
                    page_size: page.size(),
                    page_token,
                };
                async move {
                    let r = service.list_policies(request).await?.into_inner();
                    Ok((r.policies, r.next_page_token))
                }
            })
            .await?;
            if global.json {
                json(accord_proto::json::to_json(&ListPoliciesResponse {
                    policies,
                    next_page_token: String::new(),
                }));
            } else {
                print_list(&policies);
            }
        }
        PoliciesCommand::Show { policy } => {
            let name = output::resource_name(POLICIES, &policy, false);
            let response = client
                .policies()
                .get_policy(GetPolicyRequest { name })
                .await?
                .into_inner();
            if global.json {
                json(accord_proto::json::to_json(&response));
            } else if let Some(policy) = &response.policy {
                print_policy(policy);
            }
        }
        PoliciesCommand::Load { file, isolation } => {
            let request = client.operator(LoadPolicyRequest {
                file_name: file,
                isolation: crate::cli::Isolation::to_proto(isolation),
            });
            let response = client.policies().load_policy(request).await?.into_inner();
            if global.json {
                json(accord_proto::json::to_json(&response));
            } else if let Some(p) = &response.policy {
                print(format!(
                    "loaded {} from {}: {}",
                    p.name,
                    p.file_name,
                    output::identity(p.identity.as_ref())
                ));
            }
        }
        PoliciesCommand::Replace {
            policy,
            file,
            isolation,
        } => {
            let request = client.operator(ReplacePolicyRequest {
                name: output::resource_name(POLICIES, &policy, false),
                file_name: file,
                isolation: crate::cli::Isolation::to_proto(isolation),
            });
            let response = client
                .policies()
                .replace_policy(request)
                .await?
                .into_inner();
            if global.json {
                json(accord_proto::json::to_json(&response));
            } else if let Some(p) = &response.policy {
                print(format!(
                    "replaced {}: {} -> {} from {}",
                    p.name,
                    output::identity(response.previous.as_ref()),
                    output::identity(p.identity.as_ref()),
                    p.file_name
                ));
            }
        }
        PoliciesCommand::Disable { policy } => {
            let request = client.operator(DisablePolicyRequest {
                name: output::resource_name(POLICIES, &policy, false),
            });
            let response = client
                .policies()
                .disable_policy(request)
                .await?
                .into_inner();
            if global.json {
                json(accord_proto::json::to_json(&response));
            } else if let Some(p) = &response.policy {
                print(format!(
                    "disabled {} (health: {})",
                    p.name,
                    output::policy_health(p.health)
                ));
            }
        }
        PoliciesCommand::Default { policy } => {
            let request = client.operator(SetDefaultPolicyRequest {
                name: output::resource_name(POLICIES, &policy, false),
            });
            let response = client
                .policies()
                .set_default_policy(request)
                .await?
                .into_inner();
            if global.json {
                json(accord_proto::json::to_json(&response));
            } else if let Some(p) = &response.policy {
                print(format!("{} is now the default policy", p.name));
            }
        }
    }
    Ok(())
}

fn policy_id(p: &LoadedPolicy) -> String {
    p.descriptor
        .as_ref()
        .map(|d| d.id.clone())
        .unwrap_or_else(|| output::short(&p.name).to_string())
}

fn health(p: &LoadedPolicy) -> String {
    let word = output::policy_health(p.health);
    if p.health_reason.is_empty() {
        word
    } else {
        format!("{word}: {}", p.health_reason)
    }
}

fn print_list(policies: &[LoadedPolicy]) {
    let mut table = output::table(&["Id", "Version", "Health", "Default", "SHA-256", "File"]);
    for p in policies {
        let identity = p.identity.clone().unwrap_or_default();
        table.add_row(vec![
            policy_id(p),
            identity.version.clone(),
            health(p),
            if p.is_default { "yes" } else { "" }.to_string(),
            output::sha_prefix(&identity.library_sha256).to_string(),
            p.file_name.clone(),
        ]);
    }
    print(table);
}

fn print_policy(p: &LoadedPolicy) {
    let descriptor = p.descriptor.clone().unwrap_or_default();
    let identity = p.identity.clone().unwrap_or_default();
    print_fields(&[
        ("Policy", p.name.clone()),
        ("Version", descriptor.version.clone()),
        ("Summary", descriptor.summary.clone()),
        ("Health", health(p)),
        (
            "Default",
            if p.is_default { "yes" } else { "no" }.to_string(),
        ),
        ("File", p.file_name.clone()),
        ("SHA-256", identity.library_sha256.clone()),
        ("Loaded", output::timestamp(p.load_time.as_ref())),
    ]);
    if descriptor.parameters.is_empty() {
        print("No parameters.");
        return;
    }
    let mut table = output::table(&["Parameter", "Type", "Default", "Doc"]);
    for spec in &descriptor.parameters {
        let mut kind = output::parameter_type(spec.r#type);
        if !spec.choices.is_empty() {
            kind = format!("{kind}: {}", spec.choices.join(" | "));
        }
        table.add_row(vec![
            spec.name.clone(),
            kind,
            spec.default_value.clone(),
            spec.doc.clone(),
        ]);
    }
    print(table);
}
