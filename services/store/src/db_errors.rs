//! How a database failure becomes a [`StoreError`], for every sqlx backend.
//!
//! The invariant kept here: a failure is mapped in this one place, so every backend reports a
//! taken key as [`StoreError::AlreadyExists`], a missing row as [`StoreError::NotFound`] (naming
//! the record when one is in view) and anything else as [`StoreError::Database`].

use crate::{StoreError, StoreResult};

/// Maps a database error with no record in view.
pub(crate) fn db_err(error: sqlx::Error) -> StoreError {
    write_err("record", "")(error)
}

/// Maps a database error on writing the record `kind` `id`.
pub(crate) fn write_err<'a>(
    kind: &'static str,
    id: &'a str,
) -> impl FnOnce(sqlx::Error) -> StoreError + 'a {
    move |error| match error {
        sqlx::Error::RowNotFound => StoreError::not_found(kind, id),
        sqlx::Error::Database(e) if e.is_unique_violation() => StoreError::AlreadyExists {
            kind,
            id: id.to_owned(),
        },
        other => StoreError::Database(other.to_string()),
    }
}

/// NotFound unless an update touched a row.
pub(crate) fn found(rows: u64, kind: &'static str, id: &str) -> StoreResult<()> {
    if rows == 0 {
        Err(StoreError::not_found(kind, id))
    } else {
        Ok(())
    }
}
