//! Small helpers every SQLite module shares: statements from the connection's cache, locks that
//! survive a panic, and how SQLite's errors become store errors.

use crate::server::store::StoreError;
use rusqlite::{Connection, Params, Row};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// A lock whose holder panicked is still usable: the next group rolls back a transaction it
/// left open, and a reader connection holds no state between calls.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// Every statement goes through the connection's statement cache: the SQL is the same on every
// call, and preparing it afresh costs more than running it.
pub(super) fn exec(conn: &Connection, sql: &str, args: impl Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(args)
}

pub(super) fn query_row<T>(
    conn: &Connection,
    sql: &str,
    args: impl Params,
    f: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(args, f)
}

/// A text column that must parse into a domain value (a value that does not is a corrupt row).
pub(super) fn parsed<T>(i: usize, r: Result<T, crate::domain::ParseError>) -> rusqlite::Result<T> {
    r.map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DatabaseBusy => {
                StoreError::Unavailable("the database is locked".into())
            }
            // Nothing was written; the caller may retry once there is room.
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull => {
                StoreError::Unavailable("the store is full (the disk, or its size limit): nothing was written".into())
            }
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(f.code, rusqlite::ErrorCode::SystemIoFailure | rusqlite::ErrorCode::ReadOnly) =>
            {
                StoreError::Unavailable(format!("the store cannot write: {e}"))
            }
            other => StoreError::Internal(other.to_string()),
        }
    }
}
