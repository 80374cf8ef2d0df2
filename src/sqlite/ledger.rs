//! The crate's ledger (`crate::sqlite::ledger`) read and written on SQLite.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};

use crate::error::{Error, Result};
use crate::migrations::Migration;

pub(crate) use crate::ledger::*;

pub(crate) fn ensure(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(CREATE)
}

pub(crate) fn exists(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [LEDGER_TABLE],
        |_| Ok(()),
    )
    .optional()
    .map(|o| o.is_some())
}

pub(crate) fn rows(conn: &Connection) -> rusqlite::Result<Vec<LedgerRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT version, name, checksum, applied_at, execution_us
         FROM _migrate_once_ledger ORDER BY version",
    )?;
    stmt.query_map([], |r| {
        Ok(LedgerRow {
            version: r.get(0)?,
            name: r.get(1)?,
            checksum: r.get(2)?,
            applied_at: r.get(3)?,
            execution_time: Duration::from_micros(r.get::<_, i64>(4)?.max(0).unsigned_abs()),
        })
    })?
    .collect()
}

pub(crate) fn record(conn: &Connection, m: &Migration, took: Duration) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO _migrate_once_ledger (version, name, checksum, applied_at, execution_us)
         VALUES (?1, ?2, ?3, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?4)",
    )?
    .execute(rusqlite::params![
        m.version(),
        m.name(),
        m.checksum(),
        i64::try_from(took.as_micros()).unwrap_or(i64::MAX)
    ])?;
    Ok(())
}

/// Removes the row of `version`, as reverting its migration does.
pub(crate) fn remove(conn: &Connection, version: i64) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM _migrate_once_ledger WHERE version = ?1",
        [version],
    )
    .map(drop)
}

/// The ledger of the database `conn` is connected to, oldest first; empty if
/// the database was never migrated.
///
/// # Errors
///
/// [`Error::Database`] if SQLite cannot read the database.
///
/// ```
/// use migrate_once::{Migration, Migrations};
///
/// let mut conn = rusqlite::Connection::open_in_memory()?;
/// let set = Migrations::new(vec![Migration::new(1, "t", "CREATE TABLE t(x);")])?;
/// migrate_once::migrate(&mut conn, &set)?;
/// let ledger = migrate_once::ledger(&conn)?;
/// assert_eq!(ledger.len(), 1);
/// assert_eq!(ledger[0].version, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn ledger(conn: &Connection) -> Result<Vec<LedgerRow>> {
    let read = || -> rusqlite::Result<Vec<LedgerRow>> {
        if exists(conn)? {
            rows(conn)
        } else {
            Ok(Vec::new())
        }
    };
    read().map_err(|e| {
        Error::db(
            "read the ledger",
            crate::sqlite::identity::file_of(conn).as_deref(),
        )(e)
    })
}
