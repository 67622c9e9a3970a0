//! The audit chain in SQLite: appending linked entries inside the caller's write transaction,
//! chaining the entries of a database written before the chain existed, and verifying a whole
//! database (the chain, every ballot signature, every stored ballot against its entry).
//!
//! Appends happen only inside `BEGIN IMMEDIATE` transactions (the write lock is held), so the
//! head read here is the head the new entries follow. The next sequence is above every sequence
//! ever used (`sqlite_sequence`), so entries deleted from the end and then written over leave a
//! gap that verification reports.

use futures::StreamExt as _;
use prost::Message as _;
use sqlx::SqliteConnection;
use sqlx::sqlite::SqlitePool;

use crate::audit::Entry;
use crate::audit_chain::{ChainBroken, ChainReport, ChainedEntry, GENESIS_HASH, Verifier, link};
use crate::db_errors::db_err;
use crate::records::now;
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
    let (mut sequence, mut hash) = head(conn).await?;
    let time = now();
    for (entry, actor) in entries {
        let linked = link(
            sequence,
            &hash,
            time.seconds,
            time.nanos,
            entry.kind,
            entry.subject,
            actor,
            entry.detail,
        );
        insert(conn, &linked).await?;
        sequence = linked.sequence;
        hash = linked.hash;
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

type Row = (
    i64,
    i64,
    i32,
    String,
    String,
    String,
    String,
    String,
    String,
);

const SELECT: &str = "SELECT sequence, time_s, time_ns, kind, subject, actor, detail, prev_hash, \
                      hash FROM audit_log";

fn entry(row: Row) -> ChainedEntry {
    let (sequence, seconds, nanos, kind, subject, actor, detail, prev_hash, hash) = row;
    ChainedEntry {
        sequence,
        seconds,
        nanos,
        kind,
        subject,
        actor,
        detail,
        prev_hash,
        hash,
    }
}

/// Entries after `after`, at most `limit`.
pub(super) async fn export(
    pool: &SqlitePool,
    after: i64,
    limit: usize,
) -> StoreResult<Vec<ChainedEntry>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "{SELECT} WHERE sequence > ?1 ORDER BY sequence LIMIT ?2"
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
    let rows: Vec<Row> = sqlx::query_as(&format!("{SELECT} ORDER BY sequence"))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
    let (mut sequence, mut hash) = (0_i64, GENESIS_HASH.to_string());
    for row in rows {
        let old = entry(row);
        let linked = link(
            sequence,
            &hash,
            old.seconds,
            old.nanos,
            old.kind,
            old.subject,
            actor::SYSTEM.to_string(),
            old.detail,
        );
        sqlx::query(
            "UPDATE audit_log SET sequence = ?2, actor = ?3, prev_hash = ?4, hash = ?5 \
             WHERE sequence = ?1",
        )
        .bind(old.sequence)
        .bind(linked.sequence)
        .bind(&linked.actor)
        .bind(&linked.prev_hash)
        .bind(&linked.hash)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sequence = linked.sequence;
        hash = linked.hash;
    }
    sqlx::query("UPDATE store_meta SET value = 'sealed' WHERE key = 'audit_chain'")
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    tx.commit().await.map_err(db_err)
}

/// Verifies the database behind `pool`: the chain in order, then every stored ballot against
/// the entry that recorded it.
pub async fn verify(pool: &SqlitePool) -> StoreResult<Result<ChainReport, ChainBroken>> {
    let mut verifier = Verifier::default();
    {
        let sql = format!("{SELECT} ORDER BY sequence");
        let mut rows = sqlx::query_as::<_, Row>(&sql).fetch(pool);
        while let Some(row) = rows.next().await {
            if let Err(broken) = verifier.push(&entry(row.map_err(db_err)?)) {
                return Ok(Err(broken));
            }
        }
    }
    let mut rows = sqlx::query_as::<_, (i64, i64, String, i32, Vec<u8>)>(
        "SELECT sequence, proposal_id, member, choice, message FROM ballots ORDER BY sequence",
    )
    .fetch(pool);
    while let Some(row) = rows.next().await {
        let (sequence, proposal_id, member, choice, message) = row.map_err(db_err)?;
        let name = format!("proposals/{proposal_id}/ballots/{sequence}");
        let ballot = match accord_proto::v1::Ballot::decode(message.as_slice()) {
            Ok(ballot) => ballot,
            Err(e) => {
                return Ok(Err(ChainBroken {
                    sequence: 0,
                    reason: format!("ballot {name} cannot be decoded: {e}"),
                }));
            }
        };
        let code = accord_proto::names::member_code(&ballot.member).unwrap_or(&ballot.member);
        if ballot.name != name || code != member || ballot.choice != choice {
            return Ok(Err(ChainBroken {
                sequence: 0,
                reason: format!(
                    "ballot {name}: its columns (member {member}, choice {choice}) disagree with \
                     its stored message (changed after it was written)"
                ),
            }));
        }
        if let Err(broken) = verifier.compare_ballot(&format!("proposals/{proposal_id}"), &ballot) {
            return Ok(Err(broken));
        }
    }
    if let Err(broken) = verifier.missing_ballots() {
        return Ok(Err(broken));
    }
    Ok(Ok(verifier.report().clone()))
}
