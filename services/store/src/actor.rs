//! Who is acting: the caller a write is done for, recorded in each audit entry's `actor`.
//!
//! The server runs each request inside [`acting_as`]; every audit entry written while that
//! future runs — by any backend, through any [`Store`](crate::Store) method — names that actor.
//! Writes made outside any request (the deadline scheduler, seeding) are by `"system"`. Keeping
//! it task-local leaves the `Store` methods' signatures as they were. The ballot writer runs on a
//! task of its own, so `cast_ballot` captures the actor before handing the ballot over.

use std::future::Future;

tokio::task_local! {
    static ACTOR: String;
}

/// The actor of writes made outside any request.
pub const SYSTEM: &str = "system";

/// Runs `future` with `actor` ("operator", "members/DEU", …) as the actor of its writes.
pub async fn acting_as<F: Future>(actor: String, future: F) -> F::Output {
    ACTOR.scope(actor, future).await
}

/// The current actor ([`SYSTEM`] outside [`acting_as`]).
pub fn current() -> String {
    ACTOR
        .try_with(|actor| actor.clone())
        .unwrap_or_else(|_| SYSTEM.to_string())
}
