//! The crate's own record of what each database has applied.
//!
//! One table, [`LEDGER_TABLE`], in every migrated database: a row per applied
//! migration, written in the same transaction as the migration's body, so the
//! ledger and the schema can never disagree. `PRAGMA user_version` is never
//! read or written: it belongs to the application.

use std::time::Duration;

use crate::migrations::Migrations;

pub use crate::bookkeeping::LEDGER_TABLE;

/// The table as SQLite creates it.
pub(crate) const CREATE: &str = "CREATE TABLE IF NOT EXISTS _migrate_once_ledger (
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
