//! The one mapping from a failure to an HTTP status and an error page. Service failures arrive
//! as `tonic::Status` (the gRPC API's own codes and messages, see `services/server/src/error.rs`);
//! their message is shown as it is, since the services never echo unbounded input.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;
use tonic::Code;

use crate::layout;

/// A failed web request: its HTTP status and a message for people.
#[derive(Debug)]
pub struct WebError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, in words.
    pub message: String,
}

impl WebError {
    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            message: message.into(),
        }
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
}

/// The HTTP status of a gRPC code.
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::InvalidArgument | Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::FailedPrecondition | Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<tonic::Status> for WebError {
    fn from(status: tonic::Status) -> Self {
        Self {
            status: http_status(status.code()),
            message: status.message().to_string(),
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let title = self
            .status
            .canonical_reason()
            .unwrap_or("Error")
            .to_string();
        let body = layout::page(
            &title,
            None,
            html! {
                h1 { (title) }
                p.error role="alert" { (self.message) }
                @if self.status == StatusCode::UNAUTHORIZED {
                    p { "This server admits only signed-in callers. " a #sign-in-link href="/session" { "Sign in with your token" } "." }
                }
                p { a href="/proposals" { "Proposals" } " · " a href="/alliance" { "Alliance" } }
            },
        );
        (self.status, body).into_response()
    }
}
