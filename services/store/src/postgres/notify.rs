//! Change notices between replicas: every write transaction of the PostgreSQL store sends a
//! `NOTIFY accord_changes` naming what it changed, and each store LISTENs on its own connection
//! and hands the notices of *other* stores (other processes) to its server as [`Change`]s.
//!
//! The guarantees kept here: a notice is sent inside the transaction of its write, so PostgreSQL
//! delivers it only if, and after, that write commits, and delivers the notices of one sender in
//! commit order; a store is LISTENing before [`super::PostgresStore::open`] returns, so nothing
//! committed after that is missed; and if the listening connection is lost, a
//! [`Change::Resync`] tells the server that notices may have been missed (it then forgets what
//! it cached).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnection, PgListener, PgPool};
use tokio::sync::broadcast;

use crate::db_errors::db_err;
use crate::{Change, StoreResult};

/// The channel every replica notifies and listens on.
pub(super) const CHANNEL: &str = "accord_changes";

/// How many changes a slow server may fall behind (it then resyncs).
const CAPACITY: usize = 4096;

/// A random id for this store instance (its notices are not handed back to it).
pub(super) fn instance_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hash = Sha256::new();
    hash.update(std::process::id().to_be_bytes());
    hash.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    hash.update(now.as_nanos().to_be_bytes());
    hex::encode(&hash.finalize()[..8])
}

/// The payload of a notice: `{instance} {what}`.
pub(super) fn payload(instance: &str, change: &Change) -> String {
    let what = match change {
        Change::Members => "members".to_string(),
        Change::Partners => "partners".to_string(),
        Change::Missions => "missions".to_string(),
        Change::ProposalCreated { proposal_id } => format!("created {proposal_id}"),
        Change::Ballot {
            proposal_id,
            sequence,
        } => format!("ballot {proposal_id} {sequence}"),
        Change::Closed { proposal_id } => format!("closed {proposal_id}"),
        Change::Setting { key } => format!("setting {key}"),
        Change::Policy => "policy".to_string(),
        Change::Credentials => "credentials".to_string(),
        Change::Resync => "resync".to_string(),
    };
    format!("{instance} {what}")
}

/// The sender and the change in a payload; `None` if it is not one.
pub(super) fn parse(payload: &str) -> Option<(&str, Change)> {
    let mut parts = payload.splitn(3, ' ');
    let instance = parts.next()?;
    let kind = parts.next()?;
    let rest = parts.next().unwrap_or("");
    let int = |s: &str| s.parse::<i64>().ok();
    let change = match kind {
        "members" => Change::Members,
        "partners" => Change::Partners,
        "missions" => Change::Missions,
        "created" => Change::ProposalCreated {
            proposal_id: int(rest)?,
        },
        "ballot" => {
            let (p, s) = rest.split_once(' ')?;
            Change::Ballot {
                proposal_id: int(p)?,
                sequence: int(s)?,
            }
        }
        "closed" => Change::Closed {
            proposal_id: int(rest)?,
        },
        "setting" => Change::Setting {
            key: rest.to_owned(),
        },
        "policy" => Change::Policy,
        "credentials" => Change::Credentials,
        "resync" => Change::Resync,
        _ => return None,
    };
    Some((instance, change))
}

/// Sends the notices of `changes` in the transaction on `conn`.
pub(super) async fn notify(
    conn: &mut PgConnection,
    instance: &str,
    changes: &[Change],
) -> StoreResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let payloads: Vec<String> = changes.iter().map(|c| payload(instance, c)).collect();
    sqlx::query("SELECT pg_notify($1, p) FROM unnest($2::TEXT[]) AS p")
        .bind(CHANNEL)
        .bind(payloads)
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// The listener of one store: LISTENs before returning, then hands other stores' changes to the
/// returned sender's receivers until the task is aborted.
pub(super) async fn listen(
    pool: &PgPool,
    instance: String,
) -> StoreResult<(broadcast::Sender<Change>, tokio::task::JoinHandle<()>)> {
    let mut listener = PgListener::connect_with(pool).await.map_err(db_err)?;
    listener.listen(CHANNEL).await.map_err(db_err)?;
    let (sender, _) = broadcast::channel(CAPACITY);
    let task = tokio::spawn(run(listener, pool.clone(), instance, sender.clone()));
    Ok((sender, task))
}

async fn run(
    mut listener: PgListener,
    pool: PgPool,
    instance: String,
    sender: broadcast::Sender<Change>,
) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                if let Some((from, change)) = parse(notification.payload()) {
                    if from != instance {
                        let _ = sender.send(change);
                    }
                }
            }
            // The connection was lost; the next call reconnects and listens again.
            Ok(None) => {
                tracing::warn!("lost the change-notice connection; reconnecting");
                let _ = sender.send(Change::Resync);
            }
            Err(error) => {
                tracing::warn!(%error, "change notices failed; listening again shortly");
                tokio::time::sleep(Duration::from_millis(500)).await;
                match PgListener::connect_with(&pool).await {
                    Ok(mut fresh) => {
                        if fresh.listen(CHANNEL).await.is_ok() {
                            listener = fresh;
                            let _ = sender.send(Change::Resync);
                        }
                    }
                    Err(error) => tracing::debug!(%error, "cannot listen yet"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        let changes = [
            Change::Members,
            Change::Partners,
            Change::Missions,
            Change::ProposalCreated { proposal_id: 3 },
            Change::Ballot {
                proposal_id: 3,
                sequence: 77,
            },
            Change::Closed { proposal_id: 4 },
            Change::Setting {
                key: "default policy".into(),
            },
            Change::Policy,
            Change::Credentials,
            Change::Resync,
        ];
        for change in changes {
            let text = payload("abc", &change);
            assert_eq!(parse(&text), Some(("abc", change)));
        }
        assert_eq!(parse("abc nonsense"), None);
        assert_eq!(parse("abc ballot 3"), None);
    }
}
