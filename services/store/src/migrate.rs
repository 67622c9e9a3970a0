//! The one-shot copy of a SQLite database into an empty PostgreSQL one
//! (`accord-server migrate --from sqlite://… --to postgres://…`), for moving one server onto
//! replicas.
//!
//! The guarantee kept here: the copy is all or nothing — one PostgreSQL transaction, holding the
//! store's write lock — and exact: every row of every table keeps its key, its columns and its
//! message, so proposal ids, ballot sequences and the audit log (the same entries with the same
//! sequences, times and details, in the same order) are as they were, and page tokens issued by
//! the old server keep working (the token key is copied too). The audit chain is copied as it
//! is — actors, previous hashes and hashes — with the highest audit sequence SQLite ever used,
//! so the copy verifies on PostgreSQL exactly as the source did (a tampered source stays
//! visibly tampered); issued tokens (their hashes) and ballot keys come along. A source written
//! before the chain existed is linked on the target, as SQLite links it on first open. The
//! target must hold no alliance yet (no member, proposal or audit entry); the source is only
//! read.

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Postgres, QueryBuilder, Row};

use crate::db_errors::db_err;
use crate::postgres::PostgresStore;
use crate::{StoreError, StoreResult};

/// How many rows of each table were copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// (table, rows copied), in the order copied.
    pub tables: Vec<(&'static str, u64)>,
}

impl std::fmt::Display for CopyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .tables
            .iter()
            .map(|(table, rows)| format!("{table} {rows}"))
            .collect();
        write!(f, "{}", parts.join(", "))
    }
}

/// How a column is read from SQLite and written to PostgreSQL.
#[derive(Debug, Clone, Copy)]
enum Type {
    Int,
    Text,
    Bytes,
    /// 0/1 in SQLite, a boolean in PostgreSQL.
    Bool,
}

use Type::{Bool, Bytes, Int, Text};

/// A table and its columns.
type Columns = (&'static str, &'static [(&'static str, Type)]);

/// The tables copied, in an order that respects their references, with their columns (the same
/// names in both schemas).
const TABLES: &[Columns] = &[
    (
        "members",
        &[("code", Text), ("status", Int), ("message", Bytes)],
    ),
    (
        "partners",
        &[
            ("code", Text),
            ("category", Int),
            ("participation", Int),
            ("message", Bytes),
        ],
    ),
    (
        "missions",
        &[
            ("id", Text),
            ("status", Int),
            ("area", Int),
            ("message", Bytes),
        ],
    ),
    (
        "proposals",
        &[
            ("id", Int),
            ("state", Int),
            ("kind", Int),
            ("target", Text),
            ("sponsor", Text),
            ("create_time_ms", Int),
            ("deadline_ms", Int),
            ("close_time_ms", Int),
            ("message", Bytes),
        ],
    ),
    (
        "ballots",
        &[
            ("sequence", Int),
            ("proposal_id", Int),
            ("member", Text),
            ("choice", Int),
            ("cast_time_ms", Int),
            ("message", Bytes),
        ],
    ),
    (
        "decisions",
        &[
            ("sequence", Int),
            ("proposal_id", Int),
            ("outcome", Int),
            ("settled", Bool),
            ("policy_id", Text),
            ("close_time_ms", Int),
            ("message", Bytes),
        ],
    ),
    (
        "settings",
        &[("key", Text), ("value", Text), ("update_time_ms", Int)],
    ),
];

/// The audit log of a database written before the chain existed (linked on the target as
/// SQLite links it when it first opens such a database).
const AUDIT_UNCHAINED: Columns = (
    "audit_log",
    &[
        ("sequence", Int),
        ("time_s", Int),
        ("time_ns", Int),
        ("kind", Text),
        ("subject", Text),
        ("detail", Text),
    ],
);

/// The tables of the trust schema (`0002_trust`), copied from a chained database: the audit log
/// with its chain exactly as it is (so that it verifies on PostgreSQL), tokens and ballot keys.
const TRUST_TABLES: &[Columns] = &[
    (
        "audit_log",
        &[
            ("sequence", Int),
            ("time_s", Int),
            ("time_ns", Int),
            ("kind", Text),
            ("subject", Text),
            ("actor", Text),
            ("detail", Text),
            ("prev_hash", Text),
            ("hash", Text),
        ],
    ),
    (
        "tokens",
        &[
            ("id", Int),
            ("role", Int),
            ("member", Text),
            ("secret_sha256", Text),
            ("label", Text),
            ("create_time_ms", Int),
            ("expire_time_ms", Int),
            ("revoke_time_ms", Int),
        ],
    ),
    (
        "ballot_keys",
        &[
            ("sequence", Int),
            ("member", Text),
            ("public_key", Bytes),
            ("create_time_ms", Int),
        ],
    ),
];

/// Identity columns whose sequences must continue after the copied keys.
const IDENTITIES: &[(&str, &str)] = &[
    ("proposals", "id"),
    ("decisions", "sequence"),
    ("tokens", "id"),
    ("ballot_keys", "sequence"),
];

/// Rows per INSERT (PostgreSQL takes at most 65535 parameters per statement).
const CHUNK: usize = 1000;

/// One column value, as read from SQLite.
#[derive(Debug, Clone)]
enum Value {
    Int(Option<i64>),
    Text(Option<String>),
    Bytes(Vec<u8>),
    Bool(bool),
}

/// Copies the SQLite database at `from` into the PostgreSQL database at `to` (migrated first);
/// see the module doc.
pub async fn copy_sqlite_to_postgres(from: &str, to: &str) -> StoreResult<CopyReport> {
    if !crate::is_postgres_url(to) {
        return Err(StoreError::Database(
            "the target of a copy must be a postgres:// database".into(),
        ));
    }
    let source_options = SqliteConnectOptions::from_str(from)
        .map_err(|e| StoreError::Database(format!("bad source url `{from}`: {e}")))?
        .read_only(true)
        .create_if_missing(false);
    let source = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(source_options)
        .await
        .map_err(|e| StoreError::Database(format!("cannot open `{from}`: {e}")))?;
    let target = PostgresStore::open(to).await?;
    let result = copy(&source, target.pool()).await;
    crate::Store::close(&target).await;
    source.close().await;
    result
}

async fn copy(source: &sqlx::SqlitePool, target: &sqlx::PgPool) -> StoreResult<CopyReport> {
    let mut read = source.begin().await.map_err(db_err)?;
    let mut tx = target.begin().await.map_err(db_err)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(crate::postgres::WRITE_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    let held: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM members) + (SELECT COUNT(*) FROM proposals) \
         + (SELECT COUNT(*) FROM audit_log)",
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(db_err)?;
    if held > 0 {
        return Err(StoreError::Database(
            "the target database already holds an alliance (members, proposals or audit \
             entries): copy into an empty database"
                .into(),
        ));
    }

    let key: String =
        sqlx::query_scalar("SELECT value FROM store_meta WHERE key = 'page_token_key'")
            .fetch_one(&mut *read)
            .await
            .map_err(db_err)?;
    sqlx::query("UPDATE store_meta SET value = $1 WHERE key = 'page_token_key'")
        .bind(key)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;

    // A source whose audit log is chained (every database a server of the trust schema has
    // opened) is copied with its chain; an older one is linked on the target afterwards.
    let chain: Option<String> =
        sqlx::query_scalar("SELECT value FROM store_meta WHERE key = 'audit_chain'")
            .fetch_optional(&mut *read)
            .await
            .map_err(db_err)?;
    let chained = chain.as_deref() == Some("sealed");
    let tables: Vec<Columns> = if chained {
        TABLES.iter().chain(TRUST_TABLES).copied().collect()
    } else {
        TABLES.iter().copied().chain([AUDIT_UNCHAINED]).collect()
    };

    let mut report = CopyReport::default();
    for (table, columns) in tables {
        let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
        let sql = format!(
            "SELECT {} FROM {table} ORDER BY {}",
            names.join(", "),
            names[0]
        );
        let rows = sqlx::query(&sql)
            .fetch_all(&mut *read)
            .await
            .map_err(db_err)?;
        let mut values: Vec<Vec<Value>> = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut out = Vec::with_capacity(columns.len());
            for (i, (_, kind)) in columns.iter().enumerate() {
                out.push(match kind {
                    Int => Value::Int(row.try_get(i).map_err(db_err)?),
                    Text => Value::Text(row.try_get(i).map_err(db_err)?),
                    Bytes => Value::Bytes(row.try_get(i).map_err(db_err)?),
                    Bool => Value::Bool(row.try_get::<i64, _>(i).map_err(db_err)? != 0),
                });
            }
            values.push(out);
        }
        for chunk in values.chunks(CHUNK) {
            let mut insert: QueryBuilder<Postgres> =
                QueryBuilder::new(format!("INSERT INTO {table} ({}) ", names.join(", ")));
            insert.push_values(chunk, |mut row, values| {
                for value in values {
                    match value {
                        Value::Int(v) => row.push_bind(*v),
                        Value::Text(v) => row.push_bind(v.clone()),
                        Value::Bytes(v) => row.push_bind(v.clone()),
                        Value::Bool(v) => row.push_bind(*v),
                    };
                }
            });
            insert.build().execute(&mut *tx).await.map_err(db_err)?;
        }
        report.tables.push((table, values.len() as u64));
    }
    for (table, column) in IDENTITIES {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), \
             GREATEST((SELECT COALESCE(MAX({column}), 0) FROM {table}), 1), \
             (SELECT COUNT(*) > 0 FROM {table}))"
        );
        sqlx::query(&sql).execute(&mut *tx).await.map_err(db_err)?;
    }
    // Ids SQLite once used and released (AUTOINCREMENT never reuses them): keep PostgreSQL
    // from reusing them either.
    let used: Vec<(String, i64)> = sqlx::query_as("SELECT name, seq FROM sqlite_sequence")
        .fetch_all(&mut *read)
        .await
        .map_err(db_err)?;
    for (table, seq) in used {
        if table == "audit_log" {
            // The highest audit sequence ever used (see migrations-postgres/0002_trust.sql).
            sqlx::query("UPDATE audit_sequence SET last_sequence = GREATEST(last_sequence, $1)")
                .bind(seq)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        if let Some((_, column)) = IDENTITIES.iter().find(|(t, _)| *t == table) {
            let sql = format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), \
                 GREATEST($1, (SELECT COALESCE(MAX({column}), 0) FROM {table}), 1), true)"
            );
            sqlx::query(&sql)
                .bind(seq)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
    }
    sqlx::query(
        "UPDATE audit_sequence SET last_sequence = \
         GREATEST(last_sequence, (SELECT COALESCE(MAX(sequence), 0) FROM audit_log))",
    )
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    if !chained {
        sqlx::query("UPDATE store_meta SET value = 'unsealed' WHERE key = 'audit_chain'")
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        crate::postgres::chain::seal_if_unsealed(&mut tx).await?;
    }
    tx.commit().await.map_err(db_err)?;
    read.commit().await.map_err(db_err)?;
    Ok(report)
}
