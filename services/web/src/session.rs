//! Who the caller is, and the checks every form goes through.
//!
//! - [`caller`] is the one function that decides who a web caller is. Until delegations have
//!   credentials (the trust issue), a browser *sits as* a delegation by choosing it (a cookie,
//!   `accord_seat`); without one it is an observer and only watches. When credentials land,
//!   this function is the only one to change: it will read and verify them instead, and
//!   [`Caller::metadata`] will carry them to the services as a gRPC client would.
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
/// The delegation a browser sits as.
pub const SEAT_COOKIE: &str = "accord_seat";
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
pub enum Caller {
    /// Watches only.
    Observer,
    /// Sits as this delegation (member code, e.g. `DEU`).
    Delegation(String),
}

impl Caller {
    /// The delegation's member code, if any.
    pub fn delegation(&self) -> Option<&str> {
        match self {
            Caller::Observer => None,
            Caller::Delegation(code) => Some(code),
        }
    }

    /// Metadata the services receive with this caller's requests. Empty until delegations
    /// have credentials; then the caller's credential goes here.
    pub fn metadata(&self) -> tonic::metadata::MetadataMap {
        tonic::metadata::MetadataMap::new()
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

/// Decides who the caller is. The one place to change when delegations get credentials.
pub fn caller(headers: &HeaderMap) -> Caller {
    match cookie(headers, SEAT_COOKIE) {
        Some(code) if valid_code(code) => Caller::Delegation(code.to_string()),
        _ => Caller::Observer,
    }
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

/// The "sit as" form.
#[derive(Debug, Deserialize)]
pub struct SeatForm {
    csrf: String,
    /// A member code, or empty to observe.
    seat: String,
    /// Where to go back to (a path on this site).
    #[serde(default)]
    back: String,
}

/// `POST /seat`: sit as a delegation, or observe.
pub async fn take_seat(
    State(web): State<Web>,
    axum::Extension(session): axum::Extension<Session>,
    headers: HeaderMap,
    Form(form): Form<SeatForm>,
) -> Result<Response, WebError> {
    check_form(&session, &headers, &form.csrf)?;
    let seat = form.seat.trim().to_ascii_uppercase();
    let cookie = if seat.is_empty() {
        format!("{SEAT_COOKIE}=; Path=/; Max-Age=0; SameSite=Strict")
    } else {
        if !valid_code(&seat) {
            return Err(WebError::bad_request(
                "choose a delegation from the list (a member code such as DEU)",
            ));
        }
        // The delegation must be an ally: ask the services, as for any read.
        crate::alliance::member(&web, &seat).await?;
        format!("{SEAT_COOKIE}={seat}; Path=/; SameSite=Strict")
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
    fn the_caller_is_the_seat_cookie_or_an_observer() {
        let h = headers(&[(header::COOKIE, "accord_csrf=ab; accord_seat=DEU")]);
        assert_eq!(caller(&h), Caller::Delegation("DEU".into()));
        let h = headers(&[(header::COOKIE, "accord_seat=<script>")]);
        assert_eq!(caller(&h), Caller::Observer);
        assert_eq!(caller(&HeaderMap::new()), Caller::Observer);
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
