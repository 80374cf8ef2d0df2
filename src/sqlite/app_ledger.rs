//! The app ledgers (`crate::sqlite::app_ledger`) read and written on SQLite.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};

pub(crate) use crate::app_ledger::*;

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
