//! The audit chain in SQLite: appending linked entries inside the caller's write transaction,
//! chaining the entries of a database written before the chain existed, and verifying a whole
//! database (the chain, every ballot signature, every stored ballot against its entry).
//!
//! Appends happen only inside `BEGIN IMMEDIATE` transactions (the write lock is held), so the
//! head read here is the head the new entries follow. The next sequence is above every sequence
//! ever used (`sqlite_sequence`), so entries deleted from the end and then written over leave a
//! gap that verification reports.

use futures::StreamExt as _;
use sqlx::SqliteConnection;
use sqlx::sqlite::SqlitePool;

use crate::audit::Entry;
use crate::audit_chain::{ChainBroken, ChainReport, ChainedEntry, GENESIS_HASH};
use crate::chain_rows::{
    BALLOT_COLUMNS, BallotRow, COLUMNS, ChainRow, StoredCheck, entry, link_after, relink,
};
use crate::db_errors::db_err;
use crate::{StoreResult, actor};

/// The newest entry's (sequence, hash), and the highest sequence ever used.
async fn head(conn: &mut SqliteConnection) -> StoreResult<(i64, String)> {
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT sequence, hash FROM audit_log ORDER BY sequence DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    let used: Option<i64> =
        sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'")
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    let (sequence, hash) = row.unwrap_or((0, GENESIS_HASH.to_string()));
    // A sequence used and gone (deleted) is not used again: the gap stays visible.
    Ok((sequence.max(used.unwrap_or(0)), hash))
}

/// Appends `entries` (each with its actor), linked after the current head, stamped now.
pub(super) async fn append(
    conn: &mut SqliteConnection,
    entries: Vec<(Entry, String)>,
) -> StoreResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let head = head(conn).await?;
    for linked in link_after(head, entries) {
        insert(conn, &linked).await?;
    }
    Ok(())
}

/// Appends one entry by the current actor.
pub(super) async fn append_one(conn: &mut SqliteConnection, entry: Entry) -> StoreResult<()> {
    append(conn, vec![(entry, actor::current())]).await
}

async fn insert(conn: &mut SqliteConnection, e: &ChainedEntry) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (sequence, time_s, time_ns, kind, subject, detail, actor, \
         prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .bind(e.sequence)
    .bind(e.seconds)
    .bind(e.nanos)
    .bind(&e.kind)
    .bind(&e.subject)
    .bind(&e.detail)
    .bind(&e.actor)
    .bind(&e.prev_hash)
    .bind(&e.hash)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Every audit row, in sequence order.
fn select() -> String {
    format!("SELECT {COLUMNS} FROM audit_log")
}

/// Entries after `after`, at most `limit`.
pub(super) async fn export(
    pool: &SqlitePool,
    after: i64,
    limit: usize,
) -> StoreResult<Vec<ChainedEntry>> {
    let rows: Vec<ChainRow> = sqlx::query_as(&format!(
        "{} WHERE sequence > ?1 ORDER BY sequence LIMIT ?2",
        select()
    ))
    .bind(after)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    Ok(rows.into_iter().map(entry).collect())
}

/// On the first open after the chain was introduced: links every entry written before it, in
/// order (as the system), and marks the database sealed. Does nothing once sealed.
pub(super) async fn seal_if_unsealed(pool: &SqlitePool) -> StoreResult<()> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?;
    let state: Option<String> =
        sqlx::query_scalar("SELECT value FROM store_meta WHERE key = 'audit_chain'")
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
    if state.as_deref() != Some("unsealed") {
        return Ok(());
    }
    let rows: Vec<ChainRow> = sqlx::query_as(&format!("{} ORDER BY sequence", select()))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
    for (old_sequence, linked) in relink(rows.into_iter().map(entry).collect()) {
        sqlx::query(
            "UPDATE audit_log SET sequence = ?2, actor = ?3, prev_hash = ?4, hash = ?5 \
             WHERE sequence = ?1",
        )
        .bind(old_sequence)
        .bind(linked.sequence)
        .bind(&linked.actor)
        .bind(&linked.prev_hash)
        .bind(&linked.hash)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    sqlx::query("UPDATE store_meta SET value = 'sealed' WHERE key = 'audit_chain'")
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    tx.commit().await.map_err(db_err)
}

/// Verifies the database behind `pool`: the chain in order, then every stored ballot against
/// the entry that recorded it, all read in one transaction (one snapshot).
pub async fn verify(pool: &SqlitePool) -> StoreResult<Result<ChainReport, ChainBroken>> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let mut check = StoredCheck::default();
    {
        let sql = format!("{} ORDER BY sequence", select());
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
