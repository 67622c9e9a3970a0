//! The statements every sqlx backend runs, written once: the parameters of a statement
//! ([`Arg`]), a keyset listing ([`Listing`]) and the statement that writes a record row
//! ([`row_sql`]). They are written with SQLite's numbered parameters (`?1`, `?2`, …); the
//! PostgreSQL backend runs the same text through [`dollars`] (`$1`, `$2`, …).
//!
//! The invariant kept here: both backends read and write a record with the same statement, so
//! a record's row (key, the columns copied from its message, the message) cannot differ between
//! them.

use crate::paging::{Order, PageKey};
use crate::records::{Record, Table, Write};

/// A keyset listing: the rows of `table` matching `filter`, ordered by the table's key.
pub(crate) struct Listing<'a, K> {
    pub(crate) table: Table,
    pub(crate) order: Order,
    /// A key before every stored key in `order`: where the first page starts.
    pub(crate) start: K,
    /// What its page tokens are bound to.
    pub(crate) scope: String,
    /// The condition on the rows, with the parameters `?1`, `?2`, … bound to `args`.
    pub(crate) filter: &'a str,
    pub(crate) args: Vec<Arg<'a>>,
}

/// A statement parameter.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    Int(Option<i64>),
    Text(Option<&'a str>),
}

/// A page key as a statement parameter.
pub(crate) trait KeyArg: PageKey {
    fn arg(&self) -> Arg<'_>;
}

impl KeyArg for String {
    fn arg(&self) -> Arg<'_> {
        Arg::Text(Some(self))
    }
}

impl KeyArg for i64 {
    fn arg(&self) -> Arg<'_> {
        Arg::Int(Some(*self))
    }
}

/// The statement that adds (`Create`) or replaces (`Update`) a record row: its key is `?1`, its
/// columns follow, its message is last.
pub(crate) fn row_sql<R: Record>(write: Write) -> String {
    let Table { name, key, .. } = R::TABLE;
    let columns = R::COLUMNS.iter().copied().chain(["message"]);
    match write {
        Write::Create => {
            let (names, places): (Vec<_>, Vec<_>) = columns
                .enumerate()
                .map(|(i, column)| (column, format!("?{}", i + 2)))
                .unzip();
            format!(
                "INSERT INTO {name} ({key}, {}) VALUES (?1, {})",
                names.join(", "),
                places.join(", ")
            )
        }
        Write::Update => {
            let sets: Vec<_> = columns
                .enumerate()
                .map(|(i, column)| format!("{column} = ?{}", i + 2))
                .collect();
            format!("UPDATE {name} SET {} WHERE {key} = ?1", sets.join(", "))
        }
    }
}

/// `sql` with each numbered parameter `?N` written as PostgreSQL's `$N` (the statements hold no
/// other `?`).
pub(crate) fn dollars(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(|n| n.is_ascii_digit()) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_become_dollars() {
        assert_eq!(
            dollars("UPDATE members SET status = ?2, message = ?3 WHERE code = ?1"),
            "UPDATE members SET status = $2, message = $3 WHERE code = $1"
        );
        assert_eq!(dollars("a ?x ?12"), "a ?x $12");
    }
}
