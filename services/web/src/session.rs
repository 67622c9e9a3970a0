//! Who the caller is, and the checks every form goes through.
//!
//! - [`caller`] is the one function that decides who a web caller is, and the web never decides
//!   it from what a browser *says*:
//!   - on a server with credentials (an operator token or client certificates configured), a
//!     browser signs in with a token the operator issued (`accord delegations issue DEU`): the
//!     token is kept in an `HttpOnly`, `SameSite=Strict` cookie (`accord_token`), every page
//!     asks the services who it is (`DelegationService/WhoAmI`), and [`Caller::metadata`]
//!     carries it to the services as `authorization: Bearer …`, exactly as a gRPC client
//!     sends it — so the role table (`services/server/src/auth.rs`) decides what the page may
//!     do. Without a valid token a browser sees only the sign-in page (the services answer
//!     UNAUTHENTICATED, as they do to a gRPC client without credentials).
//!   - with authentication off (a loopback-only server for a class or a workshop, where every
//!     gRPC caller may also act for any member), a browser *sits as* a delegation by choosing it
//!     (a cookie, `accord_seat`); without one it only watches.
//! - Cross-site request forgery: every session gets a random token in a `SameSite=Strict`,
//!   `HttpOnly` cookie; every form carries it back in a hidden field, and [`check_form`]
//!   refuses a POST whose token differs or whose `Origin` is not this site. Nothing changes
//!   before that check passes.

use axum::extract::{Form, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use rand::Rng;
use serde::Deserialize;

use crate::Web;
use crate::error::WebError;

/// The CSRF cookie.
pub const CSRF_COOKIE: &str = "accord_csrf";
/// The delegation a browser sits as (authentication off).
pub const SEAT_COOKIE: &str = "accord_seat";
/// The token a browser signed in with (authentication on).
pub const TOKEN_COOKIE: &str = "accord_token";
/// The form field carrying the CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// The session of one browser: its CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    /// The token its forms must carry.
    pub csrf: String,
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The member the caller acts for (member code, e.g. `DEU`), if a delegation.
    delegation: Option<String>,
    /// The token carried to the services (authentication on), if signed in.
    token: Option<String>,
    /// What the caller is, in words ("a delegation", "an operator", "not signed in", …).
    pub role: &'static str,
    /// Whether the server authenticates callers (then a browser signs in with a token).
    pub secured: bool,
}

impl Caller {
    /// A browser that has not signed in (authentication on), or that watches (off).
    fn nobody(secured: bool) -> Self {
        Self {
            delegation: None,
            token: None,
            role: if secured {
                "not signed in"
            } else {
                "an observer"
            },
            secured,
        }
    }

    /// A browser sitting as `code` on a server without authentication.
    fn seat(code: &str) -> Self {
        Self {
            delegation: Some(code.to_string()),
            token: None,
            role: "a delegation",
            secured: false,
        }
    }

    /// The delegation's member code, if any.
    pub fn delegation(&self) -> Option<&str> {
        self.delegation.as_deref()
    }

    /// Whether the browser is signed in with a valid token.
    pub fn signed_in(&self) -> bool {
        self.token.is_some()
    }

    /// The credential for a gRPC connection made for this caller (a scenario run).
    pub fn bearer(&self) -> accord_proto::client::Bearer {
        accord_proto::client::Bearer::new(self.token.as_deref()).unwrap_or_default()
    }

    /// `message` as a request to the services, with this caller's [`Self::metadata`].
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        *request.metadata_mut() = self.metadata();
        request
    }

    /// Metadata the services receive with this caller's requests: its token, if signed in.
    pub fn metadata(&self) -> tonic::metadata::MetadataMap {
        let mut metadata = tonic::metadata::MetadataMap::new();
        if let Some(value) = self.bearer().value() {
            metadata.insert("authorization", value.clone());
        }
        metadata
    }
}

/// The value of cookie `name` in `headers`.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Decides who the caller is: the one place that does (see the module's documentation).
pub async fn caller(web: &Web, headers: &HeaderMap) -> Caller {
    if web.app.auth.is_open() {
        return match cookie(headers, SEAT_COOKIE) {
            Some(code) if valid_code(code) => Caller::seat(code),
            _ => Caller::nobody(false),
        };
    }
    match cookie(headers, TOKEN_COOKIE).filter(|t| valid_token(t)) {
        Some(token) => who_is(web, token).await.unwrap_or(Caller::nobody(true)),
        None => Caller::nobody(true),
    }
}

/// Asks the services who `token` is (`WhoAmI`); `None` if they do not accept it.
async fn who_is(web: &Web, token: &str) -> Option<Caller> {
    use accord_proto::v1::Role;
    use accord_proto::v1::delegation_service_server::DelegationService as _;
    let mut caller = Caller {
        token: Some(token.to_string()),
        ..Caller::nobody(true)
    };
    let request = caller.request(accord_proto::v1::WhoAmIRequest {});
    let me = web.api.who_am_i(request).await.ok()?.into_inner();
    match Role::try_from(me.role).ok()? {
        Role::Delegation => {
            let code = accord_proto::names::member_code(&me.member)?.to_string();
            caller.delegation = Some(code);
            caller.role = "a delegation";
        }
        Role::Operator => caller.role = "an operator",
        Role::Observer => caller.role = "an observer",
        Role::Unspecified => return None,
    }
    Some(caller)
}

/// A token's shape (before the services check it): printable ASCII without separators, at
/// most the services' cap.
fn valid_token(token: &str) -> bool {
    (1..=accord_server::auth::MAX_TOKEN_LEN).contains(&token.len())
        && token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '~' | '+' | '/'))
}

fn valid_code(code: &str) -> bool {
    (2..=8).contains(&code.len()) && code.chars().all(|c| c.is_ascii_uppercase())
}

fn new_token() -> String {
    hex::encode(rand::rng().random::<[u8; 16]>())
}

/// Gives every request its [`Session`] (an extension), creating the CSRF cookie on first visit.
pub async fn middleware(mut request: Request, next: Next) -> Response {
    let existing = cookie(request.headers(), CSRF_COOKIE)
        .filter(|t| t.len() == 32 && t.chars().all(|c| c.is_ascii_hexdigit()))
        .map(str::to_string);
    let fresh = existing.is_none();
    let csrf = existing.unwrap_or_else(new_token);
    request
        .extensions_mut()
        .insert(Session { csrf: csrf.clone() });
    let mut response = next.run(request).await;
    if fresh {
        if let Ok(value) = HeaderValue::from_str(&format!(
            "{CSRF_COOKIE}={csrf}; Path=/; HttpOnly; SameSite=Strict"
        )) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// Refuses a form unless its token matches the session's and it comes from this site.
pub fn check_form(session: &Session, headers: &HeaderMap, token: &str) -> Result<(), WebError> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let origin = origin.to_str().unwrap_or("");
        let same = host.is_some_and(|host| {
            origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                == Some(host)
        });
        if !same {
            return Err(WebError::forbidden(
                "this form was sent from another site; nothing was changed",
            ));
        }
    }
    if token.is_empty() || token != session.csrf {
        return Err(WebError::forbidden(
            "this form has expired or was not sent from this site (its security token does not match); reload the page and try again — nothing was changed",
        ));
    }
    Ok(())
}

/// `GET /session`: who this browser is, and the sign-in form (a token issued by the operator)
/// or, with authentication off, where to choose a delegation.
pub async fn page(
    State(web): State<Web>,
    axum::Extension(session): axum::Extension<Session>,
    headers: HeaderMap,
) -> axum::response::Html<String> {
    use maud::html;
    let caller = caller(&web, &headers).await;
    crate::layout::page(
        "Sign in",
        None,
        html! {
            h1 { "Who you are" }
            @if !caller.secured {
                p #whoami { "Authentication is off on this server: anyone who reaches it may act for any delegation. Choose a delegation on a proposal's page." }
            } @else {
                p #whoami {
                    @match caller.delegation() {
                        Some(code) => { "Signed in as the delegation of " strong { (code) } "." }
                        None => { "You are " (caller.role) "." }
                    }
                }
                form #sign-in method="post" action="/seat" {
                    input type="hidden" name=(CSRF_FIELD) value=(session.csrf);
                    input type="hidden" name="back" value="/session";
                    div.field {
                        label for="token" { "Token (issued by the operator: " code { "accord delegations issue DEU" } ")" }
                        input #token type="password" name="token" autocomplete="off" required;
                    }
                    button type="submit" { "Sign in" }
                }
                @if caller.signed_in() {
                    form #sign-out method="post" action="/seat" {
                        input type="hidden" name=(CSRF_FIELD) value=(session.csrf);
                        input type="hidden" name="back" value="/session";
                        input type="hidden" name="token" value="";
                        button type="submit" { "Sign out" }
                    }
                }
            }
        },
    )
}

/// The "sit as" form (authentication off) and the sign-in form (on).
#[derive(Debug, Deserialize)]
pub struct SeatForm {
    csrf: String,
    /// A member code, or empty to observe (authentication off).
    #[serde(default)]
    seat: String,
    /// A token, or empty to sign out (authentication on).
    #[serde(default)]
    token: String,
    /// Where to go back to (a path on this site).
    #[serde(default)]
    back: String,
}

/// `POST /seat`: sit as a delegation or observe (authentication off); sign in with a token or
/// sign out (on). A token the services do not accept is refused and not kept.
pub async fn take_seat(
    State(web): State<Web>,
    axum::Extension(session): axum::Extension<Session>,
    headers: HeaderMap,
    Form(form): Form<SeatForm>,
) -> Result<Response, WebError> {
    check_form(&session, &headers, &form.csrf)?;
    let cookie = if web.app.auth.is_open() {
        let seat = form.seat.trim().to_ascii_uppercase();
        if seat.is_empty() {
            format!("{SEAT_COOKIE}=; Path=/; Max-Age=0; SameSite=Strict")
        } else {
            if !valid_code(&seat) {
                return Err(WebError::bad_request(
                    "choose a delegation from the list (a member code such as DEU)",
                ));
            }
            // The delegation must be an ally: ask the services, as for any read.
            crate::alliance::member(&web, &Caller::seat(&seat), &seat).await?;
            format!("{SEAT_COOKIE}={seat}; Path=/; SameSite=Strict")
        }
    } else {
        let token = form.token.trim();
        if token.is_empty() {
            format!("{TOKEN_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict")
        } else {
            if !valid_token(token) || who_is(&web, token).await.is_none() {
                return Err(WebError {
                    status: axum::http::StatusCode::UNAUTHORIZED,
                    message: "this token is not valid (unknown, expired or revoked): ask the \
                              operator for your delegation's token"
                        .to_string(),
                });
            }
            format!("{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict")
        }
    };
    let back = if form.back.starts_with('/') && !form.back.starts_with("//") {
        form.back
    } else {
        "/proposals".to_string()
    };
    let mut response = Redirect::to(&back).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn cookies_and_token_shapes_are_read_strictly() {
        let h = headers(&[(header::COOKIE, "accord_csrf=ab; accord_seat=DEU")]);
        assert_eq!(cookie(&h, SEAT_COOKIE), Some("DEU"));
        assert!(valid_code("DEU"));
        assert!(!valid_code("<script>"));
        assert!(valid_token("acc_0123abcd"));
        assert!(!valid_token("acc 01"));
        assert!(!valid_token(""));
        assert!(!valid_token(
            &"a".repeat(accord_server::auth::MAX_TOKEN_LEN + 1)
        ));
    }

    #[test]
    fn a_signed_in_caller_carries_its_token_and_nobody_carries_none() {
        let caller = Caller {
            token: Some("acc_secret".into()),
            ..Caller::nobody(true)
        };
        assert_eq!(
            caller.metadata().get("authorization").unwrap(),
            "Bearer acc_secret"
        );
        assert!(Caller::nobody(true).metadata().is_empty());
        assert!(Caller::seat("DEU").metadata().is_empty());
    }

    #[test]
    fn forms_need_the_session_token_and_this_origin() {
        let session = Session {
            csrf: "0123456789abcdef0123456789abcdef".into(),
        };
        let ok = headers(&[
            (header::HOST, "127.0.0.1:8080"),
            (header::ORIGIN, "http://127.0.0.1:8080"),
        ]);
        assert!(check_form(&session, &ok, &session.csrf).is_ok());
        assert!(check_form(&session, &ok, "").is_err());
        assert!(check_form(&session, &ok, "0123456789abcdef0123456789abcdee").is_err());
        let other = headers(&[
            (header::HOST, "127.0.0.1:8080"),
            (header::ORIGIN, "http://evil.example"),
        ]);
        assert!(check_form(&session, &other, &session.csrf).is_err());
    }
}
