//! The ledgers other migration tools keep, written and read as those tools
//! write and read them.
//!
//! Applications run their own migrator at start-up (`sqlx::migrate!().run()`,
//! diesel's `run_pending_migrations`), so a test that starts the application
//! runs it on the test's database. That migrator decides what is pending from
//! its own table, not from this crate's ledger: without a row there for each
//! migration, it runs them all again and fails ("table users already
//! exists"). So a set that keeps an app ledger writes, in the same
//! transaction as each migration's own ledger row, the row that tool would
//! have written; and a database that tool migrated is adopted: what it
//! applied is recorded here without running it again.
//!
//! The formats, from the tools' sources:
//!
//! - sqlx 0.8 and 0.9 (`sqlx-sqlite/src/migrate.rs`): `_sqlx_migrations`
//!   (version BIGINT PRIMARY KEY, description TEXT, installed_on TIMESTAMP,
//!   success BOOLEAN, checksum BLOB, execution_time BIGINT). The checksum is
//!   the SHA-384 of the migration file as read (`sqlx-core`'s
//!   `migrate/migration.rs`); the description is the file name after the
//!   version, `_` read as a space; `execution_time` is in nanoseconds.
//! - diesel 2 (`diesel/src/migration/setup_migration_table.sql`):
//!   `__diesel_schema_migrations` (version VARCHAR(50) PRIMARY KEY, run_on
//!   TIMESTAMP). The version is the directory name's prefix before the first
//!   `_`, dashes removed (`migrations_internals::version_from_string`);
//!   diesel keeps no checksum.
//! - On Postgres, sqlx 0.8 and 0.9 (`sqlx-postgres/src/migrate.rs`):
//!   `_sqlx_migrations` with `installed_on TIMESTAMPTZ NOT NULL DEFAULT
//!   now()` and `checksum BYTEA`, the rest alike; rows are written with
//!   `execution_time` -1 and updated after commit, which this crate folds
//!   into one insert. diesel 2 creates its table with the same SQL on every
//!   backend.

use std::fmt;

/// A migration tool whose own ledger a [`Migrations`](crate::Migrations) set
/// keeps too (see [`Migrations::with_app_ledgers`](crate::Migrations::with_app_ledgers)),
/// so that the tool's migrator, run on a database this crate migrated, finds
/// every migration applied and runs nothing; and whose ledger the migrator
/// reads to adopt a database that tool migrated.
///
/// ```
/// use migrate_once::AppLedger;
///
/// assert_eq!(AppLedger::Sqlx.table(), "_sqlx_migrations");
/// assert_eq!(AppLedger::Diesel.to_string(), "diesel");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum AppLedger {
    /// sqlx's `_sqlx_migrations` (sqlx 0.8 and 0.9), checksums included.
    Sqlx,
    /// diesel's `__diesel_schema_migrations` (diesel 2).
    Diesel,
}

impl AppLedger {
    /// Every tool whose ledger the crate knows.
    pub(crate) const ALL: [AppLedger; 2] = [AppLedger::Sqlx, AppLedger::Diesel];

    /// The tool's table.
    pub fn table(self) -> &'static str {
        match self {
            AppLedger::Sqlx => "_sqlx_migrations",
            AppLedger::Diesel => "__diesel_schema_migrations",
        }
    }

    /// The table as the tool creates it on SQLite.
    pub(crate) fn create(self) -> &'static str {
        match self {
            AppLedger::Sqlx => {
                "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
)"
            }
            AppLedger::Diesel => {
                "CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (
       version VARCHAR(50) PRIMARY KEY NOT NULL,
       run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
)"
            }
        }
    }
}

#[cfg(feature = "postgres")]
impl AppLedger {
    /// The table as the tool creates it on Postgres, `{table}` its
    /// schema-qualified name (sqlx 0.9 can be told another schema, and
    /// this crate qualifies every name it writes).
    pub(crate) fn postgres_create(self) -> &'static str {
        match self {
            AppLedger::Sqlx => {
                "CREATE TABLE IF NOT EXISTS {table} (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),
    success BOOLEAN NOT NULL,
    checksum BYTEA NOT NULL,
    execution_time BIGINT NOT NULL
)"
            }
            AppLedger::Diesel => {
                "CREATE TABLE IF NOT EXISTS {table} (
       version VARCHAR(50) PRIMARY KEY NOT NULL,
       run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
)"
            }
        }
    }
}

impl fmt::Display for AppLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AppLedger::Sqlx => "sqlx",
            AppLedger::Diesel => "diesel",
        })
    }
}

/// One row of an app ledger, as far as deciding what was applied goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recorded {
    /// The version (diesel's text read as a number).
    pub version: i64,
    /// The version as the tool wrote it.
    pub text: String,
    /// sqlx's checksum; `None` for diesel.
    pub checksum: Option<Vec<u8>>,
    /// sqlx's `success`; always `true` for diesel.
    pub success: bool,
}

/// What an app ledger records of one migration (built by
/// `Migration::app_ledger_entry`).
pub(crate) struct Entry<'a> {
    pub version: i64,
    /// The version as diesel writes it (`0001`, `20240101120000`).
    pub diesel_version: &'a str,
    /// sqlx's description of the migration.
    pub description: String,
    /// sqlx's checksum of the migration.
    pub checksum: Vec<u8>,
}
