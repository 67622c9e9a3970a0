//! One module per service: each turns its subcommands into RPCs and prints the responses (as
//! tables and records, or as canonical JSON with `--json`). Also the helper that follows
//! `next_page_token` to the end of a list.

pub mod bench;
pub mod health;
pub mod members;
pub mod missions;
pub mod partners;
pub mod policies;
pub mod power;
pub mod proposals;
pub mod scenario;
pub mod sweep;
pub mod trust;
pub mod zone;

use std::future::Future;

/// Calls `fetch` with an empty page token, then with each `next_page_token` it returns, until
/// the token is empty; returns every item in order.
pub async fn collect_pages<T, F, Fut>(mut fetch: F) -> Result<Vec<T>, tonic::Status>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, String), tonic::Status>>,
{
    let mut items = Vec::new();
    let mut token = String::new();
    loop {
        let (page, next) = fetch(token.clone()).await?;
        items.extend(page);
        if next.is_empty() || next == token {
            return Ok(items);
        }
        token = next;
    }
}
