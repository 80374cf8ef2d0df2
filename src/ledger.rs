//! The crate's own record of what each database has applied.
//!
//! One table, [`LEDGER_TABLE`], in every migrated database: a row per applied
//! migration, written in the same transaction as the migration's body, so the
//! ledger and the schema can never disagree. `PRAGMA user_version` is never
//! read or written: it belongs to the application.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};

use crate::error::{Error, Result};
use crate::migrations::{Migration, Migrations};

pub use crate::bookkeeping::LEDGER_TABLE;

const CREATE: &str = "CREATE TABLE IF NOT EXISTS _migrate_once_ledger (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    execution_us INTEGER NOT NULL
)";

/// The ledger on Postgres, `{table}` its schema-qualified name: the same
/// columns, read into the same [`LedgerRow`]. `applied_at` stays text in
/// SQLite's format, written with `to_char` in UTC.
#[cfg(feature = "postgres")]
pub(crate) const POSTGRES_CREATE: &str = "CREATE TABLE IF NOT EXISTS {table} (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    execution_us BIGINT NOT NULL
)";

/// `applied_at` as Postgres writes it, the format of SQLite's
/// `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`.
#[cfg(feature = "postgres")]
pub(crate) const POSTGRES_NOW: &str =
    "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";

/// One row of the ledger: a migration the database has applied.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LedgerRow {
    /// The migration's version.
    pub version: i64,
    /// The migration's name when it was applied.
    pub name: String,
    /// Lower-case hex SHA-256 of the migration's SQL when it was applied.
    pub checksum: String,
    /// When it was applied, UTC, as `YYYY-MM-DDTHH:MM:SS.SSSZ`.
    pub applied_at: String,
    /// How long its statements took to execute.
    pub execution_time: Duration,
}

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
    read().map_err(|e| Error::db("read the ledger", crate::identity::file_of(conn).as_deref())(e))
}

/// Whether `rows` (a ledger, oldest first) record exactly the migrations of
/// `set`, each with its current checksum: the database is fully migrated to
/// it and nothing is pending.
pub(crate) fn covers(rows: &[LedgerRow], set: &Migrations) -> bool {
    rows.len() == set.len()
        && rows
            .iter()
            .zip(set)
            .all(|(r, m)| r.version == m.version() && r.checksum == m.checksum())
}
