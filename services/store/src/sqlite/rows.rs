//! The generic paths of the SQLite backend, one for each shape every record kind shares: one
//! get by key, one keyset listing (any table, any filter, text or integer keys, either order),
//! one whole-record list, one row write (add or replace a member, partner or mission) and one
//! write-with-audit. The [`Store`](crate::Store) methods in [`super`] are calls onto these.
//!
//! The invariant kept here: every record row is written from its [`Record`] description (key,
//! indexed columns copied from the message, message), in the caller's transaction and together
//! with its audit entry; every listing pages through [`PageTokens`](crate::paging::PageTokens),
//! so its tokens are checked the same way whatever it lists.

use prost::Message;
use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqlitePool, SqliteRow};
use sqlx::{Arguments, FromRow};

use crate::audit::Entry;
use crate::db_errors::{db_err, found, write_err};
use crate::paging::{Order, PageTokens, scope};
use crate::records::{Record, Table, Write, decode};
pub(super) use crate::statements::{Arg, KeyArg, Listing, row_sql};
use accord_proto::v1::Member;

use crate::{Page, PageRequest, StoreError, StoreResult};

/// The database's connection pool and its page tokens: what the generic paths need.
pub(super) struct Rows {
    pub(super) pool: SqlitePool,
    /// Page tokens, checked with a key random per database (from `store_meta`).
    pub(super) tokens: PageTokens,
}

impl Rows {
    /// Starts a write transaction that holds the write lock from its first statement.
    pub(super) async fn write_tx(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err)
    }

    /// One page of a keyset listing (see [`paging`](crate::paging)): the matching rows beyond
    /// the page token's key, in the listing's order, and how many match in all, read in one
    /// transaction.
    pub(super) async fn list<K, M>(
        &self,
        listing: Listing<'_, K>,
        page: PageRequest,
    ) -> StoreResult<Page<M>>
    where
        K: KeyArg + Send + Sync,
        (K, Vec<u8>): for<'r> FromRow<'r, SqliteRow> + Send + Unpin,
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
        let count_sql = format!("SELECT COUNT(*) FROM {name} WHERE {filter}");
        let (position, limit) = (args.len() + 1, args.len() + 2);
        let rows_sql = format!(
            "SELECT {key}, message FROM {name} WHERE {filter} AND {key} {} ?{position} \
             ORDER BY {key} {} LIMIT ?{limit}",
            order.beyond(),
            order.sql()
        );
        let mut tx = self.pool.begin().await.map_err(db_err)?;
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
        let condition = format!("(?1 IS NULL OR {} = ?1)", R::FILTER);
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
            "SELECT message FROM {} WHERE {} = ?1",
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
        let (condition, value) = match only {
            Some((column, value)) => (format!(" WHERE {column} = ?1"), Some(value)),
            None => (String::new(), None),
        };
        let sql = format!("SELECT message FROM {name}{condition} ORDER BY {key}");
        let rows: Vec<Vec<u8>> = sqlx::query_scalar(&sql)
            .bind(value)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(|m| decode(kind, m)).collect()
    }

    /// Adds or replaces a member, partner or mission, atomically with its audit entry.
    pub(super) async fn write_record<R: Record>(
        &self,
        write: Write,
        record: &R,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        write_row(&mut tx, write, record).await?;
        audit(&mut tx, Entry::record(write, record)).await?;
        tx.commit().await.map_err(db_err)
    }

    /// Deletes a member with no ballots and no proposals, atomically with its audit entry.
    pub(super) async fn delete_member(&self, code: &str) -> StoreResult<Member> {
        let mut tx = self.write_tx().await?;
        let message: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT message FROM members WHERE code = ?1")
                .bind(code)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
        let member: Member = decode(
            "member",
            &message.ok_or_else(|| StoreError::not_found("member", code))?,
        )?;
        let ballots: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ballots WHERE member = ?1")
            .bind(code)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        let proposals: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM proposals WHERE sponsor = ?1")
                .bind(&member.name)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
        if ballots > 0 || proposals > 0 {
            return Err(StoreError::InUse(format!(
                "member `{code}` has cast {ballots} ballot(s) and sponsored {proposals} \
                 proposal(s): the record keeps it; suspend it instead"
            )));
        }
        sqlx::query("DELETE FROM members WHERE code = ?1")
            .bind(code)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        audit(&mut tx, Entry::member_deleted(&member)).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(member)
    }
}

/// The parameters of a statement, in order.
pub(super) fn arguments<'q>(
    args: impl IntoIterator<Item = Arg<'q>>,
) -> StoreResult<SqliteArguments<'q>> {
    let mut arguments = SqliteArguments::default();
    for arg in args {
        match arg {
            Arg::Int(value) => arguments.add(value),
            Arg::Text(value) => arguments.add(value),
        }
        .map_err(|e| StoreError::Database(format!("binding a parameter: {e}")))?;
    }
    Ok(arguments)
}

/// Adds or replaces a record row, on a connection inside a transaction.
pub(super) async fn write_row<R: Record>(
    conn: &mut SqliteConnection,
    write: Write,
    record: &R,
) -> StoreResult<()> {
    let (kind, id) = (R::TABLE.kind, record.key());
    let sql = row_sql::<R>(write);
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

/// Applies the effect of an adopted proposal (`proposal`, its name) to a record, with its audit
/// entry.
pub(super) async fn apply_effect<R: Record>(
    conn: &mut SqliteConnection,
    write: Write,
    record: &R,
    proposal: &str,
) -> StoreResult<()> {
    write_row(conn, write, record).await?;
    audit(conn, Entry::effect(write, record, proposal)).await
}

/// Appends an audit entry by the current actor, linked into the chain (see [`super::chain`]).
pub(super) async fn audit(conn: &mut SqliteConnection, entry: Entry) -> StoreResult<()> {
    super::chain::append_one(conn, entry).await
}

#[cfg(test)]
mod tests {
    use accord_proto::v1::{Member, Mission, Partner};

    use super::*;

    /// The statements are those the store wrote before they were generated.
    #[test]
    fn row_statements_are_unchanged() {
        let cases = [
            (
                row_sql::<Member>(Write::Create),
                "INSERT INTO members (code, status, message) VALUES (?1, ?2, ?3)",
            ),
            (
                row_sql::<Member>(Write::Update),
                "UPDATE members SET status = ?2, message = ?3 WHERE code = ?1",
            ),
            (
                row_sql::<Partner>(Write::Create),
                "INSERT INTO partners (code, category, participation, message) \
                 VALUES (?1, ?2, ?3, ?4)",
            ),
            (
                row_sql::<Partner>(Write::Update),
                "UPDATE partners SET category = ?2, participation = ?3, message = ?4 \
                 WHERE code = ?1",
            ),
            (
                row_sql::<Mission>(Write::Create),
                "INSERT INTO missions (id, status, area, message) VALUES (?1, ?2, ?3, ?4)",
            ),
            (
                row_sql::<Mission>(Write::Update),
                "UPDATE missions SET status = ?2, area = ?3, message = ?4 WHERE id = ?1",
            ),
        ];
        for (generated, written_before) in cases {
            assert_eq!(generated, written_before);
        }
    }
}
