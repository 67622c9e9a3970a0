//! The generic paths of the PostgreSQL backend — get by key, keyset listing, whole-record list,
//! row write, write-with-audit — running the statements of [`statements`](crate::statements)
//! with PostgreSQL's `$N` parameters.
//!
//! The invariant kept here: every write runs in a transaction that first takes the store's write
//! lock ([`write_tx`]: a transaction-scoped advisory lock every replica takes), so writes on one
//! database are serialised across all processes as SQLite's `BEGIN IMMEDIATE` serialises them in
//! one: a check and the write it guards cannot interleave with another replica's write, and
//! audit sequences (and ballot sequences) follow commit order. Every listing reads in one
//! snapshot (REPEATABLE READ), so its count and its rows agree.

use prost::Message;
use sqlx::postgres::{PgArguments, PgConnection, PgPool, PgRow};
use sqlx::{Arguments, FromRow};

use crate::audit::Entry;
use crate::db_errors::{db_err, found, write_err};
use crate::paging::{Order, PageTokens, scope};
use crate::records::{Record, Table, Write, decode};
use crate::statements::{Arg, KeyArg, Listing, dollars, row_sql};
use crate::{Page, PageRequest, StoreError, StoreResult};

/// The key of the advisory lock every write transaction takes first (any constant; "accord").
pub(crate) const WRITE_LOCK: i64 = 0x6163_636f_7264;

/// The database's connection pool and its page tokens: what the generic paths need.
pub(super) struct Rows {
    pub(super) pool: PgPool,
    /// Page tokens, checked with a key random per database (from `store_meta`).
    pub(super) tokens: PageTokens,
}

/// Takes the store's write lock in the transaction on `conn` (held until it ends).
pub(super) async fn lock_writes(conn: &mut PgConnection) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(WRITE_LOCK)
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

impl Rows {
    /// Starts a write transaction holding the store's write lock.
    pub(super) async fn write_tx(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Postgres>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        lock_writes(&mut tx).await?;
        Ok(tx)
    }

    /// One page of a keyset listing (see [`paging`](crate::paging)), read in one snapshot.
    pub(super) async fn list<K, M>(
        &self,
        listing: Listing<'_, K>,
        page: PageRequest,
    ) -> StoreResult<Page<M>>
    where
        K: KeyArg + Send + Sync,
        (K, Vec<u8>): for<'r> FromRow<'r, PgRow> + Send + Unpin,
        M: Message + Default,
    {
        let Listing {
            table: Table { kind, name, key },
            order,
            start,
            scope,
            filter,
            args,
        } = listing;
        let cursor = self.tokens.cursor(scope, &page, start)?;
        let count_sql = dollars(&format!("SELECT COUNT(*) FROM {name} WHERE {filter}"));
        let (position, limit) = (args.len() + 1, args.len() + 2);
        let rows_sql = format!(
            "SELECT {key}, message FROM {name} WHERE {filter} AND {key} {} ${position} \
             ORDER BY {key} {} LIMIT ${limit}",
            order.beyond(),
            order.sql()
        );
        let rows_sql = dollars(&rows_sql);
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(db_err)?;
        let total: i64 = sqlx::query_scalar_with(&count_sql, arguments(args.clone())?)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        let beyond = [cursor.position.arg(), Arg::Int(Some(cursor.limit()))];
        let rows: Vec<(K, Vec<u8>)> =
            sqlx::query_as_with(&rows_sql, arguments(args.into_iter().chain(beyond))?)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        self.tokens.page(&cursor, kind, rows, total)
    }

    /// Members, partners or missions, by key, optionally only those with `filter`.
    pub(super) async fn list_records<R: Record>(
        &self,
        filter: Option<R::Filter>,
        page: PageRequest,
    ) -> StoreResult<Page<R>> {
        let filter: Option<i32> = filter.map(Into::into);
        let condition = format!("(?1::BIGINT IS NULL OR {} = ?1)", R::FILTER);
        let listing = Listing {
            table: R::TABLE,
            order: Order::Ascending,
            start: String::new(),
            scope: scope::records(R::TABLE.name, R::FILTER, filter),
            filter: &condition,
            args: vec![Arg::Int(filter.map(i64::from))],
        };
        self.list(listing, page).await
    }

    /// The record of `table` with key `key` (`id` as the caller gave it, for NotFound).
    pub(super) async fn get<M: Message + Default>(
        &self,
        table: Table,
        key: Arg<'_>,
        id: &str,
    ) -> StoreResult<M> {
        let sql = format!(
            "SELECT message FROM {} WHERE {} = $1",
            table.name, table.key
        );
        let message: Option<Vec<u8>> = sqlx::query_scalar_with(&sql, arguments([key])?)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        decode(
            table.kind,
            &message.ok_or_else(|| StoreError::not_found(table.kind, id))?,
        )
    }

    /// Every record of `table` in key order, optionally only those with `column` = `value`.
    pub(super) async fn all<M: Message + Default>(
        &self,
        table: Table,
        only: Option<(&str, i32)>,
    ) -> StoreResult<Vec<M>> {
        let Table { kind, name, key } = table;
        let rows: Vec<Vec<u8>> = match only {
            Some((column, value)) => {
                let sql = format!("SELECT message FROM {name} WHERE {column} = $1 ORDER BY {key}");
                sqlx::query_scalar(&sql)
                    .bind(value)
                    .fetch_all(&self.pool)
                    .await
            }
            None => {
                let sql = format!("SELECT message FROM {name} ORDER BY {key}");
                sqlx::query_scalar(&sql).fetch_all(&self.pool).await
            }
        }
        .map_err(db_err)?;
        rows.iter().map(|m| decode(kind, m)).collect()
    }
}

/// The parameters of a statement, in order.
pub(super) fn arguments<'q>(args: impl IntoIterator<Item = Arg<'q>>) -> StoreResult<PgArguments> {
    let mut arguments = PgArguments::default();
    for arg in args {
        match arg {
            Arg::Int(value) => arguments.add(value),
            Arg::Text(value) => arguments.add(value.map(str::to_owned)),
        }
        .map_err(|e| StoreError::Database(format!("binding a parameter: {e}")))?;
    }
    Ok(arguments)
}

/// Adds or replaces a record row, on a connection inside a write transaction.
pub(super) async fn write_row<R: Record>(
    conn: &mut PgConnection,
    write: Write,
    record: &R,
) -> StoreResult<()> {
    let (kind, id) = (R::TABLE.kind, record.key());
    let sql = dollars(&row_sql::<R>(write));
    let mut query = sqlx::query(&sql).bind(id);
    for value in record.values() {
        query = query.bind(value);
    }
    let done = query.bind(record.encode_to_vec()).execute(conn).await;
    match write {
        Write::Create => done.map(drop).map_err(write_err(kind, id)),
        Write::Update => found(done.map_err(db_err)?.rows_affected(), kind, id),
    }
}

/// Appends audit entries by the current actor, stamped now, in order, linked into the chain
/// (see [`super::chain`]); in a write transaction, so their sequences follow commit order.
pub(super) async fn audit(
    conn: &mut PgConnection,
    entries: impl IntoIterator<Item = Entry>,
) -> StoreResult<()> {
    super::chain::append_by_current(conn, entries).await
}
