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
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};

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

    /// The table as the tool creates it.
    fn create(self) -> &'static str {
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

pub(crate) fn exists(conn: &Connection, tool: AppLedger) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [tool.table()],
        |_| Ok(()),
    )
    .optional()
    .map(|o| o.is_some())
}

pub(crate) fn ensure(conn: &Connection, tool: AppLedger) -> rusqlite::Result<()> {
    conn.execute_batch(tool.create())
}

/// The rows of `tool`'s ledger, which must exist, by version.
pub(crate) fn rows(conn: &Connection, tool: AppLedger) -> rusqlite::Result<Vec<Recorded>> {
    match tool {
        AppLedger::Sqlx => {
            let mut stmt = conn.prepare(
                "SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version",
            )?;
            let rows = stmt.query_map([], |r| {
                let version: i64 = r.get(0)?;
                Ok(Recorded {
                    version,
                    text: version.to_string(),
                    checksum: Some(r.get(1)?),
                    success: r.get(2)?,
                })
            })?;
            rows.collect()
        }
        AppLedger::Diesel => {
            let mut stmt = conn.prepare("SELECT version FROM __diesel_schema_migrations")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            let mut out = Vec::new();
            for text in rows {
                let text = text?;
                // A version diesel wrote that is no number cannot be one of
                // ours; -1 makes it "a version the set does not have".
                let version = text.replace('-', "").parse().unwrap_or(-1);
                out.push(Recorded {
                    version,
                    text,
                    checksum: None,
                    success: true,
                });
            }
            out.sort_by_key(|r| r.version);
            Ok(out)
        }
    }
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

/// Removes the row `tool` keeps for migration `version` (diesel's
/// `diesel_version`), as its own revert does.
pub(crate) fn remove(
    conn: &Connection,
    tool: AppLedger,
    version: i64,
    diesel_version: &str,
) -> rusqlite::Result<()> {
    match tool {
        AppLedger::Sqlx => {
            conn.execute("DELETE FROM _sqlx_migrations WHERE version = ?1", [version])
        }
        AppLedger::Diesel => conn.execute(
            "DELETE FROM __diesel_schema_migrations WHERE version = ?1",
            [diesel_version],
        ),
    }
    .map(drop)
}

/// Writes the row `tool` would have written for applying the migration of
/// `entry`, which took `took`.
pub(crate) fn record(
    conn: &Connection,
    tool: AppLedger,
    entry: &Entry<'_>,
    took: Duration,
) -> rusqlite::Result<()> {
    match tool {
        AppLedger::Sqlx => conn
            .execute(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
                 VALUES (?1, ?2, TRUE, ?3, ?4)",
                rusqlite::params![
                    entry.version,
                    entry.description,
                    entry.checksum,
                    i64::try_from(took.as_nanos()).unwrap_or(i64::MAX)
                ],
            )
            .map(drop),
        AppLedger::Diesel => conn
            .execute(
                "INSERT INTO __diesel_schema_migrations (version) VALUES (?1)",
                [entry.diesel_version],
            )
            .map(drop),
    }
}
