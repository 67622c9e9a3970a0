//! The web interface of a server with credentials (an operator token): a browser acts only as
//! the token it signed in with, exactly as a gRPC client would. Plain HTTP/1.1 requests to the
//! real `accord-server --web-listen` (no browser needed: cookies and forms are checked at the
//! HTTP level; `tests/browser.rs` drives the pages in Chromium).

use std::net::SocketAddr;

use accord_proto::v1::{Choice, ExportAuditLogRequest, ListTokensRequest, RevokeTokenRequest};
use accord_test_support::Options;
use accord_test_support::grpc::{TestServer, all_ballots, create, date, end_mission, proposal};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One HTTP response: status, `Set-Cookie` values, body.
struct Reply {
    status: u16,
    cookies: Vec<String>,
    location: Option<String>,
    body: String,
}

/// Sends one HTTP/1.1 request (`Connection: close`) with `cookies` and an optional form body.
async fn http(
    web: SocketAddr,
    method: &str,
    path: &str,
    cookies: &[String],
    form: Option<&[(&str, &str)]>,
) -> Reply {
    let mut stream = tokio::net::TcpStream::connect(web).await.expect("connect");
    let body = form
        .map(|fields| {
            fields
                .iter()
                .map(|(k, v)| format!("{k}={}", encode(v)))
                .collect::<Vec<_>>()
                .join("&")
        })
        .unwrap_or_default();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {web}\r\nOrigin: http://{web}\r\nConnection: close\r\n"
    );
    if !cookies.is_empty() {
        request.push_str(&format!("Cookie: {}\r\n", cookies.join("; ")));
    }
    if form.is_some() {
        request.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let (mut cookies, mut location) = (Vec::new(), None);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        match name.to_ascii_lowercase().as_str() {
            "set-cookie" => cookies.push(value.trim().to_string()),
            "location" => location = Some(value.trim().to_string()),
            _ => {}
        }
    }
    Reply {
        status,
        cookies,
        location,
        body: body.to_string(),
    }
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `name=value` part of the `Set-Cookie` for `name`, if one was sent.
fn cookie(reply: &Reply, name: &str) -> Option<String> {
    reply
        .cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap_or("").to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secured_web_interface_admits_only_signed_in_callers_acting_for_their_own_member() {
    let server = TestServer::start(Options {
        web: true,
        ..Options::secured()
    })
    .await;
    let web = server.web.expect("the server prints its web address");
    let kfor = create(
        &server,
        proposal(
            "End NMI",
            end_mission("NMI", date(2027, 9, 30)),
            "unanimity",
        ),
    )
    .await;
    let id = kfor.name.trim_start_matches("proposals/").to_string();

    // Without a token: the services' answer (UNAUTHENTICATED → 401), with the way to sign in;
    // no live stream either.
    let anonymous = http(web, "GET", "/alliance", &[], None).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    assert!(anonymous.body.contains("/session"), "{}", anonymous.body);
    let stream = http(web, "GET", &format!("/proposals/{id}/events"), &[], None).await;
    assert_eq!(stream.status, 401);

    // The sign-in page hands out the form's CSRF token.
    let page = http(web, "GET", "/session", &[], None).await;
    assert_eq!(page.status, 200);
    let csrf_cookie = cookie(&page, "accord_csrf").expect("a CSRF cookie");
    let csrf = csrf_cookie.trim_start_matches("accord_csrf=").to_string();
    let mut cookies = vec![csrf_cookie.clone()];

    // A token the services do not know is refused and not kept.
    let wrong = http(
        web,
        "POST",
        "/seat",
        &cookies,
        Some(&[
            ("csrf", &csrf),
            ("token", "acc_not_a_real_token_0123456789"),
        ]),
    )
    .await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert_eq!(cookie(&wrong, "accord_token"), None);

    // DEU's delegation token signs in: kept in an HttpOnly, SameSite=Strict cookie.
    let token = server.delegation_token("DEU").await;
    let signed = http(
        web,
        "POST",
        "/seat",
        &cookies,
        Some(&[("csrf", &csrf), ("token", &token), ("back", "/session")]),
    )
    .await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    assert_eq!(signed.location.as_deref(), Some("/session"));
    let set = signed
        .cookies
        .iter()
        .find(|c| c.starts_with("accord_token="))
        .expect("the token cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    cookies.push(cookie(&signed, "accord_token").unwrap());

    let me = http(web, "GET", "/session", &cookies, None).await;
    assert!(
        me.body.contains("Signed in as the delegation of")
            && me.body.contains("<strong>DEU</strong>"),
        "{}",
        me.body
    );
    assert_eq!(
        http(web, "GET", "/alliance", &cookies, None).await.status,
        200
    );

    // The vote is DEU's, and the audit log names DEU's delegation as who cast it.
    let voted = http(
        web,
        "POST",
        &format!("/proposals/{id}/ballots"),
        &cookies,
        Some(&[
            ("csrf", &csrf),
            ("choice", "object"),
            ("reason", "too fast"),
        ]),
    )
    .await;
    assert!(
        voted.status == 200 || voted.status == 303,
        "{}: {}",
        voted.status,
        voted.body
    );
    let ballots = all_ballots(&server, &kfor.name).await;
    let deu: Vec<_> = ballots
        .iter()
        .filter(|b| b.member == "members/DEU")
        .collect();
    assert_eq!(deu.len(), 1, "{ballots:?}");
    assert_eq!(deu[0].choice, Choice::Object as i32);
    let operator = server.as_operator();
    let entries = operator
        .audit
        .clone()
        .export_audit_log(ExportAuditLogRequest {
            after_sequence: 0,
            page_size: 10_000,
        })
        .await
        .expect("export the audit log")
        .into_inner()
        .entries;
    let last_ballot = entries
        .iter()
        .rev()
        .find(|e| e.kind == "ballot")
        .expect("a ballot entry");
    assert_eq!(last_ballot.actor, "members/DEU");

    // Revoked: the same cookie no longer admits the browser.
    let tokens = operator
        .delegations
        .clone()
        .list_tokens(ListTokensRequest::default())
        .await
        .unwrap()
        .into_inner()
        .tokens;
    let deu_token = tokens
        .iter()
        .find(|t| t.member == "members/DEU")
        .expect("DEU's token");
    operator
        .delegations
        .clone()
        .revoke_token(RevokeTokenRequest {
            name: deu_token.name.clone(),
        })
        .await
        .expect("revoke");
    assert_eq!(
        http(web, "GET", "/alliance", &cookies, None).await.status,
        401
    );

    // Signing out clears the cookie.
    let out = http(
        web,
        "POST",
        "/seat",
        &cookies,
        Some(&[("csrf", &csrf), ("token", "")]),
    )
    .await;
    assert_eq!(out.status, 303);
    assert!(
        out.cookies
            .iter()
            .any(|c| c.starts_with("accord_token=;") && c.contains("Max-Age=0")),
        "{:?}",
        out.cookies
    );
}
