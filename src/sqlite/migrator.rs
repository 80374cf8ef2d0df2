//! Bringing one connection's database to the latest version of a set.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::error::{
    AppLedgerProblem, Error, Origin, Result, is_busy, sqlite_error, statement_error,
};
use crate::migrations::{Migration, Migrations, hex};
use crate::report::clamp_wait;
pub use crate::report::{Adopted, Applied, DEFAULT_LOCK_TIMEOUT, Report};
use crate::sqlite::app_ledger::{self, AppLedger};
use crate::sqlite::identity::file_of;
use crate::sqlite::ledger::{self, LedgerRow};

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
    /// How long to wait for another connection's write lock; zero: not at all.
    lock_timeout: Duration,
    out_of_order: bool,
}

impl<'a> Migrator<'a> {
    /// A migrator for `set` with the defaults: wait up to
    /// [`DEFAULT_LOCK_TIMEOUT`] (30 s) for the write lock, refuse
    /// out-of-order migrations.
    ///
    /// ```
    /// use migrate_once::{Migration, Migrations, Migrator};
    ///
    /// let set = Migrations::new(vec![Migration::new(1, "t", "CREATE TABLE t(x);")])?;
    /// let mut conn = rusqlite::Connection::open_in_memory()?;
    /// assert_eq!(Migrator::new(&set).migrate(&mut conn)?.applied_versions(), [1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(set: &'a Migrations) -> Self {
        Migrator {
            set,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            out_of_order: false,
        }
    }

    /// How long to wait for another connection's write lock (most likely
    /// held by another thread or process that is migrating) before giving up
    /// with [`Error::LockTimeout`]. Default: 30 seconds.
    ///
    /// `Duration::ZERO` means do not wait: if the lock is held, fail at once
    /// with [`Error::InProgress`]. Waits longer than about 24.8 days (what
    /// SQLite's busy timeout can express) are clamped to that, so
    /// `Duration::MAX` means "as long as it takes".
    ///
    /// Once the lock is held, committing may still wait for readers to
    /// finish: that wait is bounded by this timeout too, or by 30 seconds
    /// when it is zero.
    ///
    /// ```
    /// use std::time::Duration;
    /// use migrate_once::{Error, Migration, Migrations, Migrator};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("db.sqlite");
    /// let set = Migrations::new(vec![Migration::new(1, "t", "CREATE TABLE t(x);")])?;
    ///
    /// // Another connection holds the write lock...
    /// let holder = rusqlite::Connection::open(&path)?;
    /// holder.execute_batch("BEGIN IMMEDIATE")?;
    ///
    /// // ...so a migrator that does not wait is told at once.
    /// let mut conn = rusqlite::Connection::open(&path)?;
    /// let err = Migrator::new(&set).lock_timeout(Duration::ZERO).migrate(&mut conn).unwrap_err();
    /// assert!(matches!(err, Error::InProgress));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = clamp_wait(timeout);
        self
    }

    /// Whether to apply a pending migration when the database has applied a
    /// newer one (as happens when branches merge). Default `false`: such a
    /// migration is an [`Error::OutOfOrder`].
    ///
    /// ```
    /// use migrate_once::{Migration, Migrations, Migrator};
    ///
    /// let mut conn = rusqlite::Connection::open_in_memory()?;
    /// let main = Migrations::new(vec![Migration::new(3, "c", "CREATE TABLE c(x);")])?;
    /// Migrator::new(&main).migrate(&mut conn)?;
    ///
    /// // A branch merged migration 2 after 3 was applied.
    /// let merged = Migrations::new(vec![
    ///     Migration::new(2, "b", "CREATE TABLE b(x);"),
    ///     Migration::new(3, "c", "CREATE TABLE c(x);"),
    /// ])?;
    /// let report = Migrator::new(&merged).allow_out_of_order(true).migrate(&mut conn)?;
    /// assert_eq!(report.applied_versions(), [2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    /// error the database is exactly as it was.
    ///
    /// Foreign-key enforcement is switched off on `conn` while it migrates
    /// (so rebuilding a parent table does not cascade), and `PRAGMA
    /// foreign_key_check` runs before commit if it was on.
    ///
    /// The connection's busy timeout and foreign-key setting are restored
    /// afterwards. (A custom handler set with `Connection::busy_handler`
    /// cannot be read back: it is replaced by the busy timeout it reported,
    /// usually 0; set it again after migrating.)
    ///
    /// ```
    /// use migrate_once::{Migration, Migrations, Migrator};
    ///
    /// let set = Migrations::new(vec![Migration::new(1, "t", "CREATE TABLE t(x);")])?;
    /// let mut conn = rusqlite::Connection::open_in_memory()?;
    /// let report = Migrator::new(&set).migrate(&mut conn)?;
    /// assert_eq!((report.applied_versions(), report.already_applied), (vec![1], 0));
    /// let again = Migrator::new(&set).migrate(&mut conn)?;
    /// assert_eq!((again.applied_versions(), again.already_applied), (vec![], 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// - [`Error::LockTimeout`] if another connection kept the write lock
    ///   past the [`lock_timeout`](Self::lock_timeout), [`Error::InProgress`]
    ///   if it held it and the timeout is zero (both transient: try again).
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
        // Refused at load unless Postgres reads the migration otherwise.
        if let Some(e) = self.set.sqlite_refusal() {
            return Err(e);
        }
        if !conn.is_autocommit() {
            return Err(Error::TransactionOpen);
        }
        let path = file_of(conn);
        let path = path.as_deref();

        let saved_timeout: i64 = conn
            .query_row("PRAGMA busy_timeout", [], |r| r.get(0))
            .map_err(Error::db("open the database", path))?;
        // One budget for all waiting: the lock-free ledger read (which waits
        // only if a writer is committing) and BEGIN IMMEDIATE share it.
        let started = Instant::now();
        let result = conn
            .busy_timeout(self.lock_timeout)
            .map_err(Error::db("set the busy timeout", path))
            .and_then(|()| self.up_to_date(conn, path, started))
            .and_then(|done| match done {
                Some(report) => Ok(report),
                None => {
                    let left = self.lock_timeout.saturating_sub(started.elapsed());
                    conn.busy_timeout(left)
                        .map_err(Error::db("set the busy timeout", path))?;
                    self.migrate_with_journal(conn, path, started)
                }
            });

        let restore = Duration::from_millis(saved_timeout.max(0).unsigned_abs());
        let restored = conn
            .busy_timeout(restore)
            .map_err(Error::db("restore the busy timeout", path));
        // A connection to an in-memory TestDb had the crate's busy handler,
        // which reads as a timeout of 0: put it back.
        crate::sqlite::memdb::restore_wait(conn);
        let report = result?;
        restored?;
        Ok(report)
    }

    /// The fast path: if the ledger already lists every migration with its
    /// current checksum, nothing is pending and no write lock is needed. The
    /// ledger only ever grows by whole committed runs, so this cannot be
    /// wrong; anything else goes through the locked path, which decides.
    fn up_to_date(
        &self,
        conn: &Connection,
        path: Option<&Path>,
        started: Instant,
    ) -> Result<Option<Report>> {
        let read = || -> rusqlite::Result<Option<Vec<LedgerRow>>> {
            if ledger::exists(conn)? {
                Ok(Some(ledger::rows(conn)?))
            } else {
                Ok(None)
            }
        };
        let rows = match read().and_then(|rows| match rows {
            Some(rows) if ledger::covers(&rows, self.set) => {
                Ok(self.app_ledgers_complete(conn)?.then_some(rows))
            }
            _ => Ok(None),
        }) {
            Ok(Some(rows)) => rows,
            Ok(None) => return Ok(None),
            Err(e) if is_busy(&e) => return Err(self.busy(started)),
            Err(e) => return Err(Error::db("read the ledger", path)(e)),
        };
        Ok(Some(Report {
            applied: Vec::new(),
            adopted: Vec::new(),
            already_applied: rows.len(),
            lock_wait: Duration::ZERO,
            apply_time: Duration::ZERO,
        }))
    }

    /// Whether every app ledger the set keeps, and every one the database
    /// has, records exactly the set's versions, none of them failed.
    /// Anything else goes through the locked path, which adopts, fills in
    /// or refuses.
    fn app_ledgers_complete(&self, conn: &Connection) -> rusqlite::Result<bool> {
        for tool in AppLedger::ALL {
            if !app_ledger::exists(conn, tool)? {
                if self.set.app_ledgers().contains(&tool) {
                    return Ok(false);
                }
                continue;
            }
            let theirs = app_ledger::rows(conn, tool)?;
            let exact = theirs.len() == self.set.len()
                && theirs
                    .iter()
                    .zip(self.set)
                    .all(|(r, m)| r.version == m.version() && r.success);
            if !exact {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The error for "another connection kept the lock".
    fn busy(&self, started: Instant) -> Error {
        if self.lock_timeout.is_zero() {
            Error::InProgress
        } else {
            Error::LockTimeout {
                waited: started.elapsed(),
            }
        }
    }

    /// With `journal_mode = OFF` SQLite cannot roll back: a failed migration
    /// would leave its pages in the file (with enough of them, a file that is
    /// no longer a database). With `MEMORY` it can roll back, but a process
    /// killed mid-commit leaves a file that is half old, half new, whose
    /// ledger may list migrations that never committed. So a file database
    /// migrates with a rollback journal on disk, and the connection gets its
    /// mode back afterwards. (An in-memory database has nothing to survive.)
    fn migrate_with_journal(
        &self,
        conn: &mut Connection,
        path: Option<&Path>,
        started: Instant,
    ) -> Result<Report> {
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(Error::db("read PRAGMA journal_mode", path))?;
        let back = match mode.to_ascii_lowercase().as_str() {
            _ if path.is_none() => None,
            "off" => Some("PRAGMA journal_mode = OFF"),
            "memory" => Some("PRAGMA journal_mode = MEMORY"),
            _ => None,
        };
        let switch = Switch {
            to: "PRAGMA journal_mode = DELETE",
            back: back.unwrap_or_default(),
            doing: "turn a rollback journal on disk on for migrating",
            undoing: "set the journal mode back",
        };
        switch.around(conn, back.is_some(), path, |conn| {
            self.migrate_with_fk_off(conn, path, started)
        })
    }

    fn migrate_with_fk_off(
        &self,
        conn: &mut Connection,
        path: Option<&Path>,
        started: Instant,
    ) -> Result<Report> {
        // `PRAGMA foreign_keys` is a no-op inside a transaction, so it has to
        // change before BEGIN. With enforcement on, the table rebuild that
        // SQLite's docs prescribe (create, copy, drop, rename) would make the
        // DROP cascade into every child table.
        let fk_on: bool = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .map_err(Error::db("read PRAGMA foreign_keys", path))?;
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
        path: Option<&Path>,
        fk_check: bool,
        started: Instant,
    ) -> Result<Report> {
        // On a read-only connection BEGIN IMMEDIATE quietly starts a read
        // transaction, and the first write of a pending migration would be
        // blamed on that migration's SQL. (A fully migrated read-only
        // database never gets here: the lock-free check let it through.)
        if conn
            .is_readonly(rusqlite::MAIN_DB)
            .map_err(Error::db("check whether the database is read-only", path))?
        {
            return Err(Error::db("migrate a read-only database", path)(
                sqlite_error(
                    rusqlite::ffi::SQLITE_READONLY,
                    "attempt to write a readonly database",
                ),
            ));
        }
        // A migration may set `legacy_alter_table` (it changes how a rename
        // rewrites references); it is the connection's, so it goes back.
        let legacy: bool = conn
            .query_row("PRAGMA legacy_alter_table", [], |r| r.get(0))
            .map_err(Error::db("read PRAGMA legacy_alter_table", path))?;
        let asked = Instant::now();
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            return Err(if is_busy(&e) {
                self.busy(started)
            } else if journal_cannot_be_made(&e) {
                Error::db(JOURNAL_DIRECTORY, path)(e)
            } else {
                Error::db("take the write lock", path)(e)
            });
        }
        let lock_wait = asked.elapsed();
        // The lock is held; waiting for readers at commit gets the full
        // bound, or the default one when the caller asked not to wait for
        // the lock (which is about other migrators, not readers).
        let commit_wait = if self.lock_timeout.is_zero() {
            DEFAULT_LOCK_TIMEOUT
        } else {
            self.lock_timeout
        };
        let result = conn
            .busy_timeout(commit_wait)
            .map_err(Error::db("set the busy timeout", path))
            .and_then(|()| self.apply_pending(conn, path, fk_check))
            .and_then(|report| {
                conn.execute_batch("COMMIT")
                    .map_err(Error::db("commit the migrations", path))?;
                Ok(report)
            });
        let result = match result {
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
        };
        let restored = conn
            .pragma_update(None, "legacy_alter_table", legacy)
            .map_err(Error::db("set legacy_alter_table back", path));
        let report = result?;
        restored?;
        Ok(report)
    }

    fn apply_pending(
        &self,
        conn: &Connection,
        path: Option<&Path>,
        fk_check: bool,
    ) -> Result<Report> {
        let database = || path.map(Path::to_path_buf);
        ledger::ensure(conn).map_err(Error::db("create the ledger table", path))?;
        let rows = ledger::rows(conn).map_err(Error::db("read the ledger", path))?;

        for row in &rows {
            match self.set.get(row.version) {
                None => {
                    return Err(Error::UnknownVersion {
                        version: row.version,
                        name: row.name.clone(),
                        database: database(),
                    });
                }
                Some(m) if m.checksum() != row.checksum => {
                    return Err(Error::ChecksumMismatch {
                        version: m.version(),
                        name: m.name().to_string(),
                        origin: m.origin().clone(),
                        database: database(),
                        applied: row.checksum.clone(),
                        current: m.checksum().to_string(),
                    });
                }
                Some(_) => {}
            }
        }
        let pending: Vec<&Migration> = self
            .set
            .iter()
            .filter(|m| {
                rows.binary_search_by_key(&m.version(), |r| r.version)
                    .is_err()
            })
            .collect();

        // What other tools' migrators applied: checked, then adopted.
        let apps = self.read_app_ledgers(conn, path, &pending)?;
        let (adopt, run): (Vec<&Migration>, Vec<&Migration>) = pending
            .into_iter()
            .partition(|m| apps.recorded_by(m.version()).is_some());

        let newest_applied = rows
            .last()
            .map(|r| r.version)
            .max(adopt.last().map(|m| m.version()));
        if let (Some(newest), false) = (newest_applied, self.out_of_order)
            && let Some(m) = run.iter().find(|m| m.version() < newest)
        {
            return Err(Error::OutOfOrder {
                version: m.version(),
                name: m.name().to_string(),
                origin: m.origin().clone(),
                database: database(),
                newest_applied: newest,
            });
        }

        let mut adopted = Vec::with_capacity(adopt.len());
        for m in adopt {
            ledger::record(conn, m, Duration::ZERO).map_err(Error::db("write the ledger", path))?;
            adopted.push(Adopted {
                version: m.version(),
                name: m.name().to_string(),
                from: apps
                    .recorded_by(m.version())
                    .expect("adopted migrations were recorded by a tool"),
            });
        }
        // Foreign-key violations the database has before the run are not
        // the run's: only those it adds are refused.
        let violations_before = if fk_check && !run.is_empty() {
            foreign_key_violations(conn).map_err(Error::db("run PRAGMA foreign_key_check", path))?
        } else {
            Vec::new()
        };
        // Each migration runs in a savepoint of its own, named so that no
        // migration can name it: a migration can then release or roll back
        // only savepoints it opened itself, never an earlier migration's
        // work (with its ledger row) while the report says it was applied.
        let savepoint = format!("migrate_once_{}", uuid::Uuid::new_v4().simple());
        let mut applied = Vec::with_capacity(run.len());
        for m in run {
            let started = Instant::now();
            conn.execute_batch(&format!("SAVEPOINT {savepoint}"))
                .map_err(Error::db("open the migration's savepoint", path))?;
            apply_one(conn, m, path)?;
            let duration = started.elapsed();
            ledger::record(conn, m, duration).map_err(Error::db("write the ledger", path))?;
            conn.execute_batch(&format!("RELEASE {savepoint}"))
                .map_err(Error::db("release the migration's savepoint", path))?;
            applied.push(Applied {
                version: m.version(),
                name: m.name().to_string(),
                duration,
            });
        }
        // Every app ledger the set keeps or the database has now records
        // every migration, as its tool would have: its migrator finds
        // nothing to do.
        let took = |version| {
            applied
                .iter()
                .find(|a| a.version == version)
                .map_or(Duration::ZERO, |a| a.duration)
        };
        for (tool, has) in &apps.kept {
            if has.is_none() {
                app_ledger::ensure(conn, *tool)
                    .map_err(Error::db("create an app's ledger table", path))?;
            }
            for m in self.set {
                let recorded = has
                    .as_ref()
                    .is_some_and(|v| v.binary_search(&m.version()).is_ok());
                if !recorded {
                    app_ledger::record(conn, *tool, &m.app_ledger_entry(), took(m.version()))
                        .map_err(Error::db("write an app's ledger", path))?;
                }
            }
        }
        if fk_check && !applied.is_empty() {
            check_foreign_keys(conn, path, &violations_before)?;
        }
        Ok(Report {
            applied,
            adopted,
            already_applied: rows.len(),
            lock_wait: Duration::ZERO,
            apply_time: Duration::ZERO,
        })
    }

    /// Reads the app ledgers the database has, refusing one that records a
    /// version the set lacks or one that failed, and, for the `pending`
    /// migrations it records, one whose checksum differs (by that tool's
    /// rule). Versions the crate's own ledger already has are its to judge.
    fn read_app_ledgers(
        &self,
        conn: &Connection,
        path: Option<&Path>,
        pending: &[&Migration],
    ) -> Result<AppLedgers> {
        let mut apps = AppLedgers::default();
        for tool in AppLedger::ALL {
            let exists = app_ledger::exists(conn, tool)
                .map_err(Error::db("look for an app's ledger", path))?;
            if !exists {
                if self.set.app_ledgers().contains(&tool) {
                    apps.kept.push((tool, None));
                }
                continue;
            }
            let theirs =
                app_ledger::rows(conn, tool).map_err(Error::db("read an app's ledger", path))?;
            let mismatch = |version, problem| Error::AppLedgerMismatch {
                tool,
                version,
                database: path.map(Path::to_path_buf),
                problem,
            };
            for r in &theirs {
                let Some(m) = self.set.get(r.version) else {
                    return Err(mismatch(r.version, AppLedgerProblem::UnknownVersion));
                };
                if !r.success {
                    return Err(mismatch(r.version, AppLedgerProblem::Failed));
                }
                let is_pending = pending.iter().any(|p| p.version() == r.version);
                if let Some(recorded) = &r.checksum
                    && is_pending
                {
                    let current = m.sqlx_checksum();
                    if *recorded != current {
                        return Err(mismatch(
                            r.version,
                            AppLedgerProblem::ChecksumMismatch {
                                origin: m.origin().clone(),
                                recorded: hex(recorded),
                                current: hex(&current),
                            },
                        ));
                    }
                }
            }
            apps.kept
                .push((tool, Some(theirs.iter().map(|r| r.version).collect())));
        }
        Ok(apps)
    }
}

/// The app ledgers a migration keeps: each tool with the versions its
/// ledger records (sorted), `None` when the table is still to be created.
#[derive(Default)]
struct AppLedgers {
    kept: Vec<(AppLedger, Option<Vec<i64>>)>,
}

impl AppLedgers {
    /// The first tool whose ledger records `version`.
    fn recorded_by(&self, version: i64) -> Option<AppLedger> {
        self.kept.iter().find_map(|(tool, has)| {
            has.as_ref()
                .is_some_and(|v| v.binary_search(&version).is_ok())
                .then_some(*tool)
        })
    }
}

/// What the migrator was doing when SQLite could not make the rollback
/// journal beside the database.
const JOURNAL_DIRECTORY: &str = "write to the database: SQLite makes its rollback journal beside \
                                 it, so the database's directory must be writable";

/// Whether `e` is SQLite failing to make a journal (or to write at all)
/// although the database file itself could be opened for writing: the
/// directory is the cause, not a statement.
fn journal_cannot_be_made(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly)
    )
}

fn apply_one(conn: &Connection, m: &Migration, path: Option<&Path>) -> Result<()> {
    for (index, offset, statement) in m.statements() {
        let fail = |source: rusqlite::Error| match source {
            // The first write of a run creates the rollback journal beside
            // the database: a directory that cannot be written fails it
            // whatever the statement, which is not the statement's fault.
            e if journal_cannot_be_made(&e) => Error::db(JOURNAL_DIRECTORY, path)(e),
            source => {
                let (source, at) = statement_error(source);
                let (line, column) = position(m.up_sql(), offset, at);
                Error::Sql {
                    version: m.version(),
                    name: m.name().to_string(),
                    origin: m.origin().clone(),
                    database: path.map(Path::to_path_buf),
                    index,
                    line,
                    column,
                    statement: statement.to_string(),
                    source: std::sync::Arc::new(source),
                }
            }
        };
        run_statement(conn, m, m.origin(), index, statement, fail)?;
    }
    Ok(())
}

/// The line (and, if SQLite said where in the statement, the column) of
/// the migration's file at which the statement starting at byte `start` of
/// `text` failed.
fn position(text: &str, start: usize, at: Option<usize>) -> (usize, Option<usize>) {
    match at {
        Some(offset) => {
            let (line, column) = crate::sql::position_in_file(text, start, offset);
            (line, Some(column))
        }
        None => (crate::sql::line_of(text, start), None),
    }
}

/// Runs statement `index` of migration `m` (from `origin`, its up's file or
/// its down's), failing with `fail`'s error.
fn run_statement(
    conn: &Connection,
    m: &Migration,
    origin: &Origin,
    index: usize,
    statement: &str,
    fail: impl FnOnce(rusqlite::Error) -> Error,
) -> Result<()> {
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
        // Loading refuses BEGIN/COMMIT/END/ROLLBACK; this catches anything
        // else that ends a transaction, so that at least the error is loud.
        return Err(Error::ForbiddenStatement {
            version: m.version(),
            name: m.name().to_string(),
            origin: origin.clone(),
            index,
            statement: statement.to_string(),
            reason: "it ended the migrator's transaction",
        });
    }
    Ok(())
}

/// One row of `PRAGMA foreign_key_check`: table, rowid, parent table, and
/// which of the table's foreign keys.
type Violation = (String, Option<i64>, String, i64);

fn foreign_key_violations(conn: &Connection) -> rusqlite::Result<Vec<Violation>> {
    let mut stmt = conn.prepare("PRAGMA foreign_key_check")?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect()
}

/// `PRAGMA foreign_key_check` over the whole database against what it found
/// before the run: the first violation of a foreign key that has more of
/// them now (and how many the run added) is the error. Counted per foreign
/// key rather than matched by rowid, since rebuilding a table may renumber
/// the rows of a violation that was there before.
fn check_foreign_keys(conn: &Connection, path: Option<&Path>, before: &[Violation]) -> Result<()> {
    let after =
        foreign_key_violations(conn).map_err(Error::db("run PRAGMA foreign_key_check", path))?;
    let key = |v: &Violation| (v.0.clone(), v.2.clone(), v.3);
    let mut counts: std::collections::HashMap<_, isize> = std::collections::HashMap::new();
    for v in before {
        *counts.entry(key(v)).or_default() -= 1;
    }
    for v in &after {
        *counts.entry(key(v)).or_default() += 1;
    }
    let added: isize = counts.values().filter(|&&n| n > 0).sum();
    match after.iter().find(|v| counts[&key(v)] > 0) {
        None => Ok(()),
        Some((table, rowid, parent, _)) => Err(Error::ForeignKeyViolation {
            database: path.map(Path::to_path_buf),
            table: table.clone(),
            rowid: *rowid,
            parent: parent.clone(),
            count: usize::try_from(added).unwrap_or(0),
        }),
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

/// Runs the down SQL of `m`, the newest migration applied to the database
/// `conn` is connected to, the way [`Migrator::migrate`] runs ups:
/// its statements and the removal of its rows from the crate's ledger and
/// the app ledgers commit together in one `BEGIN IMMEDIATE` transaction, or
/// nothing of it is kept; foreign keys are off while it runs (a down that
/// rebuilds a parent table must not cascade) and checked before commit, if
/// they were on; `legacy_alter_table` is set back afterwards.
///
/// Not public: the crate runs downs only to check them
/// ([`Reversibility`](crate::Reversibility)).
///
/// # Errors
///
/// [`Error::DownSql`] naming the statement that failed,
/// [`Error::ForbiddenStatement`] for a statement that would end the
/// transaction, [`Error::ForeignKeyViolation`] if the down broke a foreign
/// key, [`Error::Database`] if SQLite fails otherwise.
pub(crate) fn revert(conn: &mut Connection, m: &Migration) -> Result<()> {
    let Some(down) = m.down_sql() else {
        return Ok(());
    };
    let path = file_of(conn);
    let path = path.as_deref();
    let origin = m.down_origin().unwrap_or(m.origin()).clone();
    let spans = crate::sql::split(down);
    for (i, span) in spans.iter().enumerate() {
        let statement = &down[span.start..span.end];
        if let Some(reason) = crate::sql::forbidden_reason(statement) {
            return Err(Error::ForbiddenStatement {
                version: m.version(),
                name: m.name().to_string(),
                origin,
                index: i + 1,
                statement: statement.to_string(),
                reason,
            });
        }
    }
    if !conn.is_autocommit() {
        return Err(Error::TransactionOpen);
    }
    let fk_on: bool = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .map_err(Error::db("read PRAGMA foreign_keys", path))?;
    let legacy: bool = conn
        .query_row("PRAGMA legacy_alter_table", [], |r| r.get(0))
        .map_err(Error::db("read PRAGMA legacy_alter_table", path))?;
    let switch = Switch {
        to: "PRAGMA foreign_keys = OFF",
        back: "PRAGMA foreign_keys = ON",
        doing: "turn foreign keys off for a down migration",
        undoing: "turn foreign keys back on",
    };
    let result = switch.around(conn, fk_on, path, |conn| {
        conn.execute_batch("BEGIN IMMEDIATE")
            .map_err(Error::db("take the write lock", path))?;
        let body = || -> Result<()> {
            let before = if fk_on {
                foreign_key_violations(conn)
                    .map_err(Error::db("run PRAGMA foreign_key_check", path))?
            } else {
                Vec::new()
            };
            for (i, span) in spans.iter().enumerate() {
                let statement = &down[span.start..span.end];
                let fail = |source: rusqlite::Error| {
                    let (source, at) = statement_error(source);
                    let (line, column) = position(down, span.start, at);
                    Error::DownSql {
                        version: m.version(),
                        name: m.name().to_string(),
                        origin: origin.clone(),
                        database: path.map(Path::to_path_buf),
                        index: i + 1,
                        line,
                        column,
                        statement: statement.to_string(),
                        source: std::sync::Arc::new(source),
                    }
                };
                run_statement(conn, m, &origin, i + 1, statement, fail)?;
            }
            if ledger::exists(conn).map_err(Error::db("read the ledger", path))? {
                ledger::remove(conn, m.version()).map_err(Error::db("write the ledger", path))?;
            }
            // Every app ledger the database has records every migration
            // (`apply_pending` fills in those it did not keep before).
            for tool in AppLedger::ALL {
                let kept = app_ledger::exists(conn, tool)
                    .map_err(Error::db("look for an app's ledger", path))?;
                if kept {
                    app_ledger::remove(conn, tool, m.version(), m.diesel_version())
                        .map_err(Error::db("write an app's ledger", path))?;
                }
            }
            if fk_on {
                check_foreign_keys(conn, path, &before)?;
            }
            conn.execute_batch("COMMIT")
                .map_err(Error::db("commit the down migration", path))
        };
        let result = body();
        if result.is_err() && !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        result
    });
    let restored = conn
        .pragma_update(None, "legacy_alter_table", legacy)
        .map_err(Error::db("set legacy_alter_table back", path));
    result?;
    restored
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
        path: Option<&Path>,
        body: impl FnOnce(&mut Connection) -> Result<T>,
    ) -> Result<T> {
        if !needed {
            return body(conn);
        }
        conn.execute_batch(self.to)
            .map_err(Error::db(self.doing, path))?;
        let result = body(conn);
        let restored = conn
            .execute_batch(self.back)
            .map_err(Error::db(self.undoing, path));
        let value = result?;
        restored?;
        Ok(value)
    }
}
