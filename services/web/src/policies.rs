//! Policies: the loaded libraries with their versions, SHA-256 and health; operators swap one
//! for another library or disable it. Both go through `PolicyService` in process with the
//! operator's credential — the token typed into the form, or else the token the browser signed
//! in with — as `authorization: Bearer …`, so the role table guards them exactly as it guards
//! the gRPC calls (with authentication off they are open, as they are over gRPC).

use accord_proto::v1::policy_service_server::PolicyService;
use accord_proto::v1::{
    DisablePolicyRequest, ListPoliciesRequest, LoadedPolicy, PolicyHealth, ReplacePolicyRequest,
};
use axum::Extension;
use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use serde::Deserialize;
use tonic::Request;

use crate::Web;
use crate::error::WebError;
use crate::layout::{self, enum_word, when};
use crate::session::{self, CSRF_FIELD, Caller, Session};

async fn list(web: &Web, caller: &Caller) -> Result<Vec<LoadedPolicy>, WebError> {
    Ok(web
        .api
        .list_policies(caller.request(ListPoliciesRequest {
            page_size: 1000,
            ..Default::default()
        }))
        .await?
        .into_inner()
        .policies)
}

/// Library files in the plugin directory, for the swap form.
fn libraries(web: &Web) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(web.app.policies.dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".so") || n.ends_with(".dylib") || n.ends_with(".dll"))
        .collect();
    names.sort();
    names
}

async fn render(
    web: &Web,
    caller: &Caller,
    session: &Session,
    notice: Option<Result<String, String>>,
) -> Result<Html<String>, WebError> {
    let policies = list(web, caller).await?;
    let libraries = libraries(web);
    let guarded = !web.app.auth.is_open();
    Ok(layout::page(
        "Policies",
        Some("/policies"),
        html! {
            h1 { "Policies" }
            @match &notice {
                Some(Ok(m)) => p.notice role="status" #policy-notice { (m) },
                Some(Err(m)) => p.error role="alert" #policy-notice { (m) },
                None => {},
            }
            table #policies {
                caption { "Loaded policy libraries" }
                thead { tr {
                    th scope="col" { "Policy" } th scope="col" { "Version" } th scope="col" { "Library" }
                    th scope="col" { "SHA-256" } th scope="col" { "Health" } th scope="col" { "Loaded" } th scope="col" { "Default" }
                } }
                tbody {
                    @for p in &policies {
                        @let id = p.descriptor.as_ref().map(|d| d.id.as_str()).unwrap_or("");
                        @let health = enum_word(PolicyHealth::try_from(p.health).unwrap_or_default().as_str_name(), "POLICY_HEALTH_");
                        tr {
                            th scope="row" { (id) br; span.muted { (p.descriptor.as_ref().map(|d| d.summary.as_str()).unwrap_or("")) } }
                            td { (p.identity.as_ref().map(|i| i.version.as_str()).unwrap_or("")) }
                            td { code { (p.file_name) } }
                            td { code.hash { (p.identity.as_ref().map(|i| i.library_sha256.as_str()).unwrap_or("")) } }
                            td { span.(format!("tag health-{health}")) { (health) } @if !p.health_reason.is_empty() { br; span.muted { (p.health_reason) } } }
                            td { (when(&p.load_time)) }
                            td { @if p.is_default { "✓ default" } }
                        }
                    }
                }
            }
            section aria-labelledby="operate-h" {
                h2 #operate-h { "Operate" }
                p { @if guarded { "These are operator calls: sign in as an operator, or type the operator token." } @else { "No operator token is configured, so operator calls are open (as over gRPC)." } }
                @for p in &policies {
                    @let id = p.descriptor.as_ref().map(|d| d.id.as_str()).unwrap_or("");
                    form.operate method="post" action=(format!("/policies/{id}/replace")) {
                        input type="hidden" name=(CSRF_FIELD) value=(session.csrf);
                        fieldset {
                            legend { "Swap or disable " (id) }
                            label { "Library " select name="file_name" { @for l in &libraries { option value=(l) selected[*l == p.file_name] { (l) } } } }
                            " "
                            label { "Operator token " input type="password" name="token" autocomplete="off"; }
                            " "
                            button type="submit" { "Swap " (id) }
                            " "
                            button type="submit" formaction=(format!("/policies/{id}/disable")) { "Disable " (id) }
                        }
                    }
                }
            }
        },
    ))
}

/// `GET /policies`.
pub async fn page(
    State(web): State<Web>,
    Extension(session): Extension<Session>,
    headers: HeaderMap,
) -> Result<Html<String>, WebError> {
    let caller = session::caller(&web, &headers).await;
    render(&web, &caller, &session, None).await
}

/// The operator forms.
#[derive(Debug, Deserialize)]
pub struct OperateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    file_name: String,
}

/// The request with the token typed into the form, or else the signed-in caller's.
fn operator_request<T>(
    caller: &Caller,
    form: &OperateForm,
    message: T,
) -> Result<Request<T>, WebError> {
    let mut request = caller.request(message);
    if !form.token.is_empty() {
        let bearer = accord_proto::client::Bearer::new(Some(&form.token)).map_err(|_| {
            WebError::bad_request("the operator token has characters a header cannot carry")
        })?;
        if let Some(value) = bearer.value() {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
    }
    Ok(request)
}

/// `POST /policies/{id}/replace`.
pub async fn replace(
    State(web): State<Web>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<OperateForm>,
) -> Result<Response, WebError> {
    session::check_form(&session, &headers, &form.csrf)?;
    let caller = session::caller(&web, &headers).await;
    let request = operator_request(
        &caller,
        &form,
        ReplacePolicyRequest {
            name: format!("policies/{id}"),
            file_name: form.file_name.clone(),
            ..Default::default()
        },
    )?;
    let notice = match web.api.replace_policy(request).await {
        Ok(r) => {
            let r = r.into_inner();
            let sha = r
                .policy
                .and_then(|p| p.identity)
                .map(|i| i.library_sha256)
                .unwrap_or_default();
            Ok(format!("{id} now runs {} (SHA-256 {sha}).", form.file_name))
        }
        Err(status) => Err((
            crate::error::http_status(status.code()),
            format!("{id} was not swapped: {}", status.message()),
        )),
    };
    respond(&web, &caller, &session, notice).await
}

/// `POST /policies/{id}/disable`.
pub async fn disable(
    State(web): State<Web>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<OperateForm>,
) -> Result<Response, WebError> {
    session::check_form(&session, &headers, &form.csrf)?;
    let caller = session::caller(&web, &headers).await;
    let request = operator_request(
        &caller,
        &form,
        DisablePolicyRequest {
            name: format!("policies/{id}"),
        },
    )?;
    let notice = match web.api.disable_policy(request).await {
        Ok(_) => Ok(format!("{id} is disabled.")),
        Err(status) => Err((
            crate::error::http_status(status.code()),
            format!("{id} was not disabled: {}", status.message()),
        )),
    };
    respond(&web, &caller, &session, notice).await
}

async fn respond(
    web: &Web,
    caller: &Caller,
    session: &Session,
    notice: Result<String, (axum::http::StatusCode, String)>,
) -> Result<Response, WebError> {
    let (status, notice) = match notice {
        Ok(m) => (axum::http::StatusCode::OK, Ok(m)),
        Err((status, m)) => (status, Err(m)),
    };
    Ok((status, render(web, caller, session, Some(notice)).await?).into_response())
}
