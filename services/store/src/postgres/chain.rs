//! The audit chain in PostgreSQL, the mirror of `sqlite/chain.rs`: appending linked entries
//! inside the caller's write transaction, chaining the entries of a database written before the
//! chain existed, and verifying a whole database (the chain, every ballot signature, every
//! stored ballot against its entry). What links and what verifies is shared with SQLite
//! ([`chain_rows`](crate::chain_rows), [`audit_chain`](crate::audit_chain)).
//!
//! Appends happen only inside write transactions, which hold the store's advisory write lock
//! ([`super::rows::lock_writes`]) across every replica, so the head read here is the head the
//! new entries follow. The next sequence is above every sequence ever used (the one-row
//! `audit_sequence` table, updated in the same transaction), so entries deleted from the end and
//! then written over leave a gap that verification reports. Verification reads the log and the
//! ballots in one REPEATABLE READ snapshot, so other replicas writing meanwhile do not make it
//! see a ballot without its entry.

use futures::StreamExt as _;
use sqlx::postgres::{PgConnection, PgPool};
use sqlx::{Postgres, QueryBuilder};

use crate::audit::Entry;
use crate::audit_chain::{ChainBroken, ChainReport, ChainedEntry, GENESIS_HASH};
use crate::chain_rows::{
    BALLOT_COLUMNS, BallotRow, COLUMNS, ChainRow, StoredCheck, entry, link_after, relink,
};
use crate::db_errors::db_err;
use crate::{StoreResult, actor};

/// The newest entry's (sequence, hash), and the highest sequence ever used.
async fn head(conn: &mut PgConnection) -> StoreResult<(i64, String)> {
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT sequence, hash FROM audit_log ORDER BY sequence DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    let used: Option<i64> = sqlx::query_scalar("SELECT last_sequence FROM audit_sequence")
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    let (sequence, hash) = row.unwrap_or((0, GENESIS_HASH.to_string()));
    // A sequence used and gone (deleted) is not used again: the gap stays visible.
    Ok((sequence.max(used.unwrap_or(0)), hash))
}

/// Appends `entries` (each with its actor), linked after the current head, stamped now; on a
/// connection inside a write transaction.
pub(super) async fn append(
    conn: &mut PgConnection,
    entries: Vec<(Entry, String)>,
) -> StoreResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let head = head(conn).await?;
    let linked = link_after(head, entries);
    let last = linked.last().map_or(0, |e| e.sequence);
    insert(conn, &linked).await?;
    sqlx::query("UPDATE audit_sequence SET last_sequence = GREATEST(last_sequence, $1)")
        .bind(last)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Appends entries by the current actor.
pub(super) async fn append_by_current(
    conn: &mut PgConnection,
    entries: impl IntoIterator<Item = Entry>,
) -> StoreResult<()> {
    let actor = actor::current();
    let entries = entries.into_iter().map(|e| (e, actor.clone())).collect();
    append(conn, entries).await
}

/// Rows per INSERT (PostgreSQL takes at most 65535 parameters per statement).
const CHUNK: usize = 1000;

/// Inserts linked entries as they are (also used to copy a chain from SQLite).
pub(crate) async fn insert(conn: &mut PgConnection, entries: &[ChainedEntry]) -> StoreResult<()> {
    for chunk in entries.chunks(CHUNK) {
        let mut insert: QueryBuilder<Postgres> =
            QueryBuilder::new(format!("INSERT INTO audit_log ({COLUMNS}) "));
        insert.push_values(chunk, |mut values, e| {
            values
                .push_bind(e.sequence)
                .push_bind(e.seconds)
                .push_bind(e.nanos)
                .push_bind(e.kind.clone())
                .push_bind(e.subject.clone())
                .push_bind(e.actor.clone())
                .push_bind(e.detail.clone())
                .push_bind(e.prev_hash.clone())
                .push_bind(e.hash.clone());
        });
        insert.build().execute(&mut *conn).await.map_err(db_err)?;
    }
    Ok(())
}

/// Entries after `after`, at most `limit`.
pub(super) async fn export(
    pool: &PgPool,
    after: i64,
    limit: usize,
) -> StoreResult<Vec<ChainedEntry>> {
    let rows: Vec<ChainRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM audit_log WHERE sequence > $1 ORDER BY sequence LIMIT $2"
    ))
    .bind(after)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    Ok(rows.into_iter().map(entry).collect())
}

/// If the database holds entries written before the chain existed: links them, in order (as
/// the system), and marks the database sealed. Does nothing once sealed. On a connection inside
/// a write transaction.
pub(crate) async fn seal_if_unsealed(conn: &mut PgConnection) -> StoreResult<()> {
    let state: Option<String> =
        sqlx::query_scalar("SELECT value FROM store_meta WHERE key = 'audit_chain'")
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    if state.as_deref() != Some("unsealed") {
        return Ok(());
    }
    let rows: Vec<ChainRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM audit_log ORDER BY sequence"
    ))
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    let relinked = relink(rows.into_iter().map(entry).collect());
    // Rewritten in place: delete and insert (new sequences may collide with old ones).
    sqlx::query("DELETE FROM audit_log")
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    let linked: Vec<ChainedEntry> = relinked.into_iter().map(|(_, e)| e).collect();
    insert(conn, &linked).await?;
    // Renumbered 1..n: n is the highest sequence used from now on (identity values an older
    // store burned in rolled-back transactions must not leave a gap after the next entry).
    let last = linked.last().map_or(0, |e| e.sequence);
    sqlx::query("UPDATE audit_sequence SET last_sequence = $1")
        .bind(last)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    sqlx::query("UPDATE store_meta SET value = 'sealed' WHERE key = 'audit_chain'")
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Verifies the database behind `pool`: the chain in order, then every stored ballot against
/// the entry that recorded it, in one snapshot.
pub(super) async fn verify(pool: &PgPool) -> StoreResult<Result<ChainReport, ChainBroken>> {
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(db_err)?;
    let mut check = StoredCheck::default();
    {
        let sql = format!("SELECT {COLUMNS} FROM audit_log ORDER BY sequence");
        let mut rows = sqlx::query_as::<_, ChainRow>(&sql).fetch(&mut *tx);
        while let Some(row) = rows.next().await {
            if let Err(broken) = check.entry(row.map_err(db_err)?) {
                return Ok(Err(broken));
            }
        }
    }
    {
        let sql = format!("SELECT {BALLOT_COLUMNS} FROM ballots ORDER BY sequence");
        let mut rows = sqlx::query_as::<_, BallotRow>(&sql).fetch(&mut *tx);
        while let Some(row) = rows.next().await {
            if let Err(broken) = check.ballot(row.map_err(db_err)?) {
                return Ok(Err(broken));
            }
        }
    }
    tx.commit().await.map_err(db_err)?;
    Ok(check.finish())
}
