//! Bringing one connection's database to the latest version of a set.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::error::{Error, Result, is_busy, sqlite_error};
use crate::ledger::{self, LedgerRow};
use crate::migrations::{Migration, Migrations};

/// How long [`migrate`] waits for another connection's write lock by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// What one call to [`migrate`] (or [`Migrator::migrate`]) did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// The migrations this call applied, in order. Empty if the database was
    /// already at the latest version (for example because another thread or
    /// process migrated it first).
    pub applied: Vec<Applied>,
    /// How many of the set's migrations the database had already applied.
    pub already_applied: usize,
    /// How long this call waited for the database's write lock. Zero when the
    /// ledger already showed every migration applied, as no lock is taken then.
    pub lock_wait: Duration,
    /// How long applying the pending migrations took, commit included.
    pub apply_time: Duration,
}

impl Report {
    /// The versions this call applied.
    pub fn applied_versions(&self) -> Vec<i64> {
        self.applied.iter().map(|a| a.version).collect()
    }
}

/// One migration applied by a call to [`migrate`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Applied {
    /// The migration's version.
    pub version: i64,
    /// The migration's name.
    pub name: String,
    /// How long its statements took.
    pub duration: Duration,
}

/// Options for migrating; [`migrate`] uses the defaults.
///
/// ```
/// use std::time::Duration;
/// use migrate_once::{Migration, Migrations, Migrator};
///
/// let set = Migrations::new(vec![Migration::new(1, "t", "CREATE TABLE t(x);")])?;
/// let mut conn = rusqlite::Connection::open_in_memory()?;
/// let report = Migrator::new(&set)
///     .lock_timeout(Duration::from_secs(5))
///     .migrate(&mut conn)?;
/// assert_eq!(report.applied_versions(), [1]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Migrator<'a> {
    set: &'a Migrations,
    lock_timeout: Duration,
    wait: bool,
    out_of_order: bool,
}

/// The database file behind a connection, `None` for in-memory databases.
pub(crate) fn file_of(conn: &Connection) -> Option<PathBuf> {
    conn.path().filter(|p| !p.is_empty()).map(PathBuf::from)
}

impl<'a> Migrator<'a> {
    /// A migrator for `set` with the defaults: wait up to
    /// [`DEFAULT_LOCK_TIMEOUT`] (30 s) for the write lock, refuse
    /// out-of-order migrations.
    pub fn new(set: &'a Migrations) -> Self {
        Migrator {
            set,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            wait: true,
            out_of_order: false,
        }
    }

    /// How long to wait for another connection's write lock before giving up
    /// with [`Error::LockTimeout`]. Defaults to 30 seconds. The same bound
    /// applies to waiting for readers when committing.
    #[must_use]
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self.wait = true;
        self
    }

    /// Do not wait for the write lock: if another connection holds it (most
    /// likely because it is migrating), fail at once with
    /// [`Error::InProgress`]. Off by default.
    #[must_use]
    pub fn no_wait(mut self) -> Self {
        self.wait = false;
        self
    }

    /// Apply a pending migration even when the database has applied a newer
    /// one (as happens when branches merge). Off by default: such a
    /// migration is an [`Error::OutOfOrder`].
    #[must_use]
    pub fn allow_out_of_order(mut self, allow: bool) -> Self {
        self.out_of_order = allow;
        self
    }

    /// Brings the database `conn` is connected to up to the set's latest
    /// version.
    ///
    /// Every pending migration and its ledger row commit in one
    /// `BEGIN IMMEDIATE` transaction, so another thread or process migrating
    /// the same database at the same moment waits for it and then finds
    /// nothing pending: each migration's SQL runs exactly once, and on any
    /// error the database is exactly as it was. Foreign-key enforcement is
    /// switched off on `conn` while it migrates (so rebuilding a parent table
    /// does not cascade) and `PRAGMA foreign_key_check` runs before commit if
    /// it was on. The connection's busy timeout and foreign-key setting are
    /// restored afterwards (a custom handler set with
    /// `Connection::busy_handler` cannot be read back: it is replaced by the
    /// busy timeout it reported, usually 0; set it again after migrating).
    ///
    /// # Errors
    ///
    /// - [`Error::LockTimeout`] / [`Error::InProgress`] if another connection
    ///   kept the write lock (transient: try again).
    /// - [`Error::ChecksumMismatch`] if an applied migration was edited,
    ///   [`Error::UnknownVersion`] if the database has a version the set does
    ///   not know, [`Error::OutOfOrder`] for a pending version older than the
    ///   newest applied one.
    /// - [`Error::Sql`] naming the migration and statement that failed;
    ///   [`Error::ForeignKeyViolation`] if the migrations broke a foreign key.
    /// - [`Error::TransactionOpen`] if `conn` is inside a transaction;
    ///   [`Error::Database`] if SQLite fails otherwise (for example the file
    ///   is not a database, or is read-only).
    pub fn migrate(&self, conn: &mut Connection) -> Result<Report> {
        if !conn.is_autocommit() {
            return Err(Error::TransactionOpen);
        }
        let path = file_of(conn);
        let db = |context| Error::db(context, path.clone());

        let saved_timeout: i64 = conn
            .query_row("PRAGMA busy_timeout", [], |r| r.get(0))
            .map_err(db("open the database"))?;
        let timeout = if self.wait {
            self.lock_timeout
        } else {
            Duration::ZERO
        };
        // One budget for all waiting: the lock-free ledger read (which waits
        // only if a writer is committing) and BEGIN IMMEDIATE share it.
        let started = Instant::now();
        let result = conn
            .busy_timeout(timeout)
            .map_err(db("set the busy timeout"))
            .and_then(|()| self.up_to_date(conn, started))
            .and_then(|done| match done {
                Some(report) => Ok(report),
                None => {
                    let left = timeout.saturating_sub(started.elapsed());
                    conn.busy_timeout(left)
                        .map_err(db("set the busy timeout"))?;
                    self.migrate_with_journal(conn, &path, started)
                }
            });

        let restore = Duration::from_millis(saved_timeout.max(0).unsigned_abs());
        let restored = conn
            .busy_timeout(restore)
            .map_err(db("restore the busy timeout"));
        let report = result?;
        restored?;
        Ok(report)
    }

    /// The fast path: if the ledger already lists every migration with its
    /// current checksum, nothing is pending and no write lock is needed. The
    /// ledger only ever grows by whole committed runs, so this cannot be
    /// wrong; anything else goes through the locked path, which decides.
    fn up_to_date(&self, conn: &Connection, started: Instant) -> Result<Option<Report>> {
        let read = || -> rusqlite::Result<Option<Vec<LedgerRow>>> {
            if ledger::exists(conn)? {
                Ok(Some(ledger::rows(conn)?))
            } else {
                Ok(None)
            }
        };
        let rows = match read() {
            Ok(Some(rows)) => rows,
            Ok(None) => return Ok(None),
            Err(e) if is_busy(&e) => return Err(self.busy(started)),
            Err(e) => return Err(Error::db("read the ledger", file_of(conn))(e)),
        };
        let complete = rows.len() == self.set.len()
            && rows
                .iter()
                .zip(self.set.iter())
                .all(|(r, m)| r.version == m.version() && r.checksum == m.checksum());
        Ok(complete.then(|| Report {
            applied: Vec::new(),
            already_applied: rows.len(),
            lock_wait: Duration::ZERO,
            apply_time: Duration::ZERO,
        }))
    }

    /// The error for "another connection kept the lock".
    fn busy(&self, started: Instant) -> Error {
        if self.wait {
            Error::LockTimeout {
                waited: started.elapsed(),
            }
        } else {
            Error::InProgress
        }
    }

    /// With `journal_mode = OFF` SQLite cannot roll back: a failed migration
    /// would leave its pages in the file (with enough of them, a file that is
    /// no longer a database). So the migration runs with a rollback journal
    /// and the connection gets OFF back afterwards. (An in-memory database
    /// takes MEMORY, its only other mode.)
    fn migrate_with_journal(
        &self,
        conn: &mut Connection,
        path: &Option<PathBuf>,
        started: Instant,
    ) -> Result<Report> {
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(Error::db("read PRAGMA journal_mode", path.clone()))?;
        let switch = Switch {
            to: "PRAGMA journal_mode = DELETE",
            back: "PRAGMA journal_mode = OFF",
            doing: "turn the rollback journal on for migrating",
            undoing: "turn the rollback journal back off",
        };
        switch.around(conn, mode.eq_ignore_ascii_case("off"), path, |conn| {
            self.migrate_with_fk_off(conn, path, started)
        })
    }

    fn migrate_with_fk_off(
        &self,
        conn: &mut Connection,
        path: &Option<PathBuf>,
        started: Instant,
    ) -> Result<Report> {
        // `PRAGMA foreign_keys` is a no-op inside a transaction, so it has to
        // change before BEGIN. With enforcement on, the table rebuild that
        // SQLite's docs prescribe (create, copy, drop, rename) would make the
        // DROP cascade into every child table.
        let fk_on: bool = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .map_err(Error::db("read PRAGMA foreign_keys", path.clone()))?;
        let switch = Switch {
            to: "PRAGMA foreign_keys = OFF",
            back: "PRAGMA foreign_keys = ON",
            doing: "turn foreign keys off for migrating",
            undoing: "turn foreign keys back on",
        };
        switch.around(conn, fk_on, path, |conn| {
            self.locked(conn, path, fk_on, started)
        })
    }

    fn locked(
        &self,
        conn: &mut Connection,
        path: &Option<PathBuf>,
        fk_check: bool,
        started: Instant,
    ) -> Result<Report> {
        let db = |context| Error::db(context, path.clone());
        // On a read-only connection BEGIN IMMEDIATE quietly starts a read
        // transaction, and the first write of a pending migration would be
        // blamed on that migration's SQL. (A fully migrated read-only
        // database never gets here: the lock-free check let it through.)
        if conn
            .is_readonly(rusqlite::MAIN_DB)
            .map_err(db("check whether the database is read-only"))?
        {
            return Err(db("migrate a read-only database")(sqlite_error(
                rusqlite::ffi::SQLITE_READONLY,
                "attempt to write a readonly database",
            )));
        }
        let asked = Instant::now();
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            return Err(if is_busy(&e) {
                self.busy(started)
            } else {
                db("take the write lock")(e)
            });
        }
        let lock_wait = asked.elapsed();
        // The lock is held; waiting for readers at commit gets the full bound
        // even in no-wait mode, which is only about getting the lock.
        let result = conn
            .busy_timeout(self.lock_timeout)
            .map_err(db("set the busy timeout"))
            .and_then(|()| self.apply_pending(conn, path, fk_check))
            .and_then(|report| {
                conn.execute_batch("COMMIT")
                    .map_err(db("commit the migrations"))?;
                Ok(report)
            });
        match result {
            Ok(mut report) => {
                report.lock_wait = lock_wait;
                report.apply_time = asked.elapsed() - lock_wait;
                Ok(report)
            }
            Err(e) => {
                if !conn.is_autocommit() {
                    // A failed rollback leaves nothing to do: SQLite rolls the
                    // transaction back when the connection closes.
                    let _ = conn.execute_batch("ROLLBACK");
                }
                Err(e)
            }
        }
    }

    fn apply_pending(
        &self,
        conn: &Connection,
        path: &Option<PathBuf>,
        fk_check: bool,
    ) -> Result<Report> {
        let db = |context| Error::db(context, path.clone());
        ledger::ensure(conn).map_err(db("create the ledger table"))?;
        let rows = ledger::rows(conn).map_err(db("read the ledger"))?;

        for row in &rows {
            match self.set.get(row.version) {
                None => {
                    return Err(Error::UnknownVersion {
                        version: row.version,
                        name: row.name.clone(),
                    });
                }
                Some(m) if m.checksum() != row.checksum => {
                    return Err(Error::ChecksumMismatch {
                        version: m.version(),
                        name: m.name().to_string(),
                        origin: m.origin().clone(),
                        applied: row.checksum.clone(),
                        current: m.checksum().to_string(),
                    });
                }
                Some(_) => {}
            }
        }
        let newest_applied = rows.last().map(|r| r.version);
        let pending: Vec<&Migration> = self
            .set
            .iter()
            .filter(|m| {
                rows.binary_search_by_key(&m.version(), |r| r.version)
                    .is_err()
            })
            .collect();
        if let (Some(newest), false) = (newest_applied, self.out_of_order)
            && let Some(m) = pending.iter().find(|m| m.version() < newest)
        {
            return Err(Error::OutOfOrder {
                version: m.version(),
                name: m.name().to_string(),
                origin: m.origin().clone(),
                newest_applied: newest,
            });
        }

        let mut applied = Vec::with_capacity(pending.len());
        for m in pending {
            let started = Instant::now();
            apply_one(conn, m)?;
            let duration = started.elapsed();
            ledger::record(conn, m, duration).map_err(db("write the ledger"))?;
            applied.push(Applied {
                version: m.version(),
                name: m.name().to_string(),
                duration,
            });
        }
        if fk_check && !applied.is_empty() {
            check_foreign_keys(conn).map_err(|e| match e {
                CheckError::Sqlite(e) => db("run PRAGMA foreign_key_check")(e),
                CheckError::Violation(v) => v,
            })?;
        }
        Ok(Report {
            applied,
            already_applied: rows.len(),
            lock_wait: Duration::ZERO,
            apply_time: Duration::ZERO,
        })
    }
}

fn apply_one(conn: &Connection, m: &Migration) -> Result<()> {
    for (index, offset, statement) in m.statements() {
        let fail = |source| Error::Sql {
            version: m.version(),
            name: m.name().to_string(),
            origin: m.origin().clone(),
            index,
            line: crate::sql::line_of(m.up_sql(), offset),
            statement: statement.to_string(),
            source: std::sync::Arc::new(source),
        };
        // Stepped to the end: `execute_batch` would stop a statement that
        // returns rows (a backfill `SELECT f(x) FROM t`) at its first row.
        let run = || -> rusqlite::Result<()> {
            let mut stmt = conn.prepare(statement)?;
            let mut rows = stmt.raw_query();
            while rows.next()?.is_some() {}
            Ok(())
        };
        run().map_err(fail)?;
        if conn.is_autocommit() {
            // Loading refuses BEGIN/COMMIT/END/ROLLBACK; this catches
            // anything else that ends a transaction, so that at least the
            // error is loud.
            return Err(Error::ForbiddenStatement {
                version: m.version(),
                name: m.name().to_string(),
                origin: m.origin().clone(),
                index,
                statement: statement.to_string(),
                reason: "it ended the migrator's transaction",
            });
        }
    }
    Ok(())
}

enum CheckError {
    Sqlite(rusqlite::Error),
    Violation(Error),
}

fn check_foreign_keys(conn: &Connection) -> std::result::Result<(), CheckError> {
    let mut stmt = conn
        .prepare("PRAGMA foreign_key_check")
        .map_err(CheckError::Sqlite)?;
    let violations: Vec<(String, Option<i64>, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .and_then(Iterator::collect)
        .map_err(CheckError::Sqlite)?;
    match violations.first() {
        None => Ok(()),
        Some((table, rowid, parent)) => Err(CheckError::Violation(Error::ForeignKeyViolation {
            table: table.clone(),
            rowid: *rowid,
            parent: parent.clone(),
            count: violations.len(),
        })),
    }
}

/// Brings the database `conn` is connected to up to the latest version of
/// `set`, with the default options of [`Migrator`]. Safe to call from any
/// number of threads and processes at once on the same database: one caller
/// applies what is pending, the others wait for it and find nothing to do.
///
/// ```
/// use migrate_once::{Migration, Migrations};
///
/// let set = Migrations::new(vec![
///     Migration::new(1, "users", "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);"),
///     Migration::new(2, "seed", "INSERT INTO users(name) VALUES ('ada');"),
/// ])?;
/// let mut conn = rusqlite::Connection::open_in_memory()?;
/// assert_eq!(migrate_once::migrate(&mut conn, &set)?.applied_versions(), [1, 2]);
/// assert!(migrate_once::migrate(&mut conn, &set)?.applied.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// See [`Migrator::migrate`].
pub fn migrate(conn: &mut Connection, set: &Migrations) -> Result<Report> {
    Migrator::new(set).migrate(conn)
}

/// A setting the migrator changes on the caller's connection for the length
/// of a migration, and sets back afterwards.
struct Switch {
    to: &'static str,
    back: &'static str,
    doing: &'static str,
    undoing: &'static str,
}

impl Switch {
    /// Runs `body`, switched first if `needed`; the body's error wins over
    /// one from switching back.
    fn around<T>(
        &self,
        conn: &mut Connection,
        needed: bool,
        path: &Option<PathBuf>,
        body: impl FnOnce(&mut Connection) -> Result<T>,
    ) -> Result<T> {
        if !needed {
            return body(conn);
        }
        conn.execute_batch(self.to)
            .map_err(Error::db(self.doing, path.clone()))?;
        let result = body(conn);
        let restored = conn
            .execute_batch(self.back)
            .map_err(Error::db(self.undoing, path.clone()));
        let value = result?;
        restored?;
        Ok(value)
    }
}
