//! One database file shared by many tests, migrated exactly once.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use once_cell::sync::OnceCell;
use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::migrations::Migrations;
use crate::sqlite::connection::{Pool, Setup};
use crate::sqlite::identity::DbIdentity;
use crate::sqlite::migrator::{DEFAULT_LOCK_TIMEOUT, Migrator, Report};
use crate::sqlite::registry;
use crate::sqlite::template_fn::TemplateFn;
use crate::sqlite::validate::{self, Expectation, Schema};

/// A database file shared by many tests (or threads, or processes), migrated
/// at most once per process through the registry and at most once overall
/// through the migrator's write lock, and validated on every
/// [`open`](SharedDb::open).
///
/// ```
/// use migrate_once::{Migrations, SharedDb};
///
/// let dir = tempfile::tempdir()?;
/// let set = Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
/// let db = SharedDb::open(dir.path().join("shared.sqlite"), &set)?;
/// let conn = db.connect()?;
/// let users: i64 = conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;
/// assert_eq!(users, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Failures are remembered
///
/// The first `open` of a file in a process migrates and validates it; the
/// others wait for it. A deterministic failure (bad SQL, an edited
/// migration, a failed validation) is remembered: every later `open` of
/// that file with that set returns the same error at once without running
/// the SQL again. A transient failure (another process held the write lock
/// past the timeout, I/O) is not remembered, and the next `open` tries again.
///
/// # Deleted or replaced files
///
/// The registry knows a file by its canonical path, device, inode and
/// creation time: a file that was deleted and created again is a new
/// database, and the next `open` migrates it.
/// Every `open` also checks the schema, so a table the migrations define that
/// has since been dropped is reported by `open` as [`Error::Validation`]
/// naming it, not later as `no such table`.
#[derive(Debug, Clone)]
pub struct SharedDb {
    path: PathBuf,
    setup: Setup,
    pool: Arc<OnceCell<Pool>>,
    report: Option<Report>,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SharedDb>();
};

/// Options for [`SharedDb`]; made by [`SharedDb::builder`].
#[derive(Debug, Clone)]
pub struct SharedDbBuilder {
    path: PathBuf,
    setup: Setup,
    lock_timeout: Duration,
    required_tables: Vec<String>,
    exact: bool,
}

impl SharedDb {
    /// Opens the database file at `path` (creating it if it does not exist),
    /// migrates it to `set` if this process has not already done so, and
    /// validates its schema. Uses the defaults of [`SharedDb::builder`].
    ///
    /// # Errors
    ///
    /// Any error of [`Migrator::migrate`]; [`Error::Validation`] if the
    /// database lacks an object the migrations define;
    /// [`Error::NotAFilePath`] for `""`, `":memory:"` or a `file:` URI;
    /// [`Error::Io`] if the
    /// file's identity cannot be read; [`Error::Database`] if it cannot be
    /// opened (a missing parent directory, a file that is not a database).
    pub fn open(path: impl AsRef<Path>, set: &Migrations) -> Result<SharedDb> {
        Self::builder(path).open(set)
    }

    /// Opens the database file at `path` (creating it if it does not
    /// exist), fills it with a copy of the template `f` builds if it holds
    /// no schema yet (once across threads and processes), and validates its
    /// schema against the template's. Uses the defaults of
    /// [`SharedDb::builder`].
    ///
    /// ```
    /// use migrate_once::{SharedDb, TemplateFn};
    ///
    /// let template = TemplateFn::new("shared-from-fn-doc", |conn| {
    ///     conn.execute_batch("CREATE TABLE t(x);")?;
    ///     Ok(())
    /// });
    /// let dir = tempfile::tempdir()?;
    /// let db = SharedDb::open_from_fn(dir.path().join("app.sqlite"), &template)?;
    /// db.connect()?.execute("INSERT INTO t VALUES (1)", [])?;
    /// // Opened again, by this or another process: the row is still there.
    /// let again = SharedDb::open_from_fn(dir.path().join("app.sqlite"), &template)?;
    /// let rows: i64 = again.connect()?.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?;
    /// assert_eq!(rows, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Any error of building the template (see [`Template::for_fn`](crate::Template::for_fn));
    /// [`Error::Validation`] if the database lacks an object the template
    /// has; and as [`SharedDb::open`].
    pub fn open_from_fn(path: impl AsRef<Path>, f: &TemplateFn) -> Result<SharedDb> {
        Self::builder(path).open_from_fn(f)
    }

    /// Options for opening `path`. Defaults: wait up to 30 s for another
    /// connection's write lock, busy timeout 30 s and foreign keys on for
    /// every connection, SQLite's journal mode, pools of at most 4
    /// connections, any extra schema objects allowed, no extra required
    /// tables.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let set = migrate_once::Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
    /// use migrate_once::{JournalMode, SharedDb};
    /// let db = SharedDb::builder(dir.path().join("app.sqlite"))
    ///     .journal_mode(JournalMode::Wal)
    ///     .pool_size(8)
    ///     .open(&set)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(path: impl AsRef<Path>) -> SharedDbBuilder {
        SharedDbBuilder {
            path: path.as_ref().to_path_buf(),
            setup: Setup::default(),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            required_tables: Vec::new(),
            exact: false,
        }
    }

    /// A new connection with the busy timeout, foreign-key setting, journal
    /// mode and [`on_connect`](SharedDbBuilder::on_connect) hook of this
    /// database. It opens the file that was validated, by its absolute path,
    /// whatever the working directory is now.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] if SQLite cannot open the file (it was deleted
    /// since: it is not created again, empty) or run the setup.
    pub fn connect(&self) -> Result<Connection> {
        self.setup.open_existing(&self.path, Some(&self.path))
    }

    /// A pool whose connections get the same setup as [`connect`](Self::connect).
    /// It is built on first use and shared by clones of this handle; it opens
    /// no connection until one is asked for, and at most 4 by default.
    ///
    /// # Errors
    ///
    /// [`Error::Pool`] if r2d2 cannot build the pool.
    pub fn pool(&self) -> Result<Pool> {
        self.pool
            .get_or_try_init(|| self.setup.pool(&self.path, Some(&self.path)))
            .cloned()
    }

    /// The setup every connection to this database gets.
    #[cfg(any(feature = "sqlx-0_8", feature = "sqlx-0_9", feature = "diesel-2"))]
    pub(crate) fn setup(&self) -> &Setup {
        &self.setup
    }

    /// The database file: the path it was opened with, made absolute and
    /// with symbolic links resolved.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the migrator did, for the first `open` of this database in this
    /// process (which may show nothing applied: another process may have
    /// migrated the file first) and for a later one that found the file
    /// reset and migrated it again; `None` for every other `open`.
    pub fn report(&self) -> Option<&Report> {
        self.report.as_ref()
    }
}

impl SharedDbBuilder {
    crate::sqlite::connection::setup_methods!(
        "[`SharedDb::pool`]",
        "the one that migrates, those from `connect` and `pool`, and the one that \
         builds the template whose schema is the expected one",
        "# let dir = tempfile::tempdir()?;\n\
         # let set = migrate_once::Migrations::from_dir(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/migrations\"))?;",
        "migrate_once::SharedDb::builder(dir.path().join(\"db.sqlite\"))",
        ".open(&set)"
    );

    /// How long `open` waits in all for other connections that are
    /// migrating (however many attempts that takes). Default 30 s; zero: do
    /// not wait, fail with [`Error::InProgress`] if another connection is
    /// migrating. Clamped to about 24.8 days, so `Duration::MAX` means "as
    /// long as it takes". See [`Migrator::lock_timeout`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let set = migrate_once::Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
    /// use std::time::Duration;
    /// let db = migrate_once::SharedDb::builder(dir.path().join("db.sqlite"))
    ///     .lock_timeout(Duration::from_secs(120))
    ///     .open(&set)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = crate::report::clamp_wait(timeout);
        self
    }

    /// Tables that must exist besides those the migrations create (for
    /// example tables another tool creates); `open` fails with
    /// [`Error::Validation`] naming each one that is missing. Names compare
    /// as SQLite compares them, without regard to ASCII case; the ledgers
    /// count as tables. Default: none.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let set = migrate_once::Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
    /// use migrate_once::{Error, SharedDb};
    /// let err = SharedDb::builder(dir.path().join("db.sqlite"))
    ///     .require_tables(["users", "sessions"])
    ///     .open(&set)
    ///     .unwrap_err();
    /// assert!(matches!(&err, Error::Validation { missing, .. } if missing[0].name == "sessions"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn require_tables<I, S>(mut self, tables: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.required_tables
            .extend(tables.into_iter().map(Into::into));
        self
    }

    /// Whether to refuse schema objects the migrations do not define (and
    /// that are not required tables). Default `false`: extra objects are
    /// allowed.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let set = migrate_once::Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
    /// use migrate_once::{Error, SharedDb};
    /// let path = dir.path().join("db.sqlite");
    /// let db = SharedDb::open(&path, &set)?;
    /// db.connect()?.execute_batch("CREATE TABLE scratch(x)")?;
    /// let err = SharedDb::builder(&path).exact_schema(true).open(&set).unwrap_err();
    /// assert!(matches!(&err, Error::Validation { unexpected, .. } if unexpected[0].name == "scratch"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn exact_schema(mut self, exact: bool) -> Self {
        self.exact = exact;
        self
    }

    /// Opens, migrates (at most once per process) and validates the database.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let set = migrate_once::Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
    /// let db = migrate_once::SharedDb::builder(dir.path().join("app.sqlite")).open(&set)?;
    /// assert_eq!(db.report().map(|r| r.applied.len()), Some(set.len()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`SharedDb::open`].
    pub fn open(self, set: &Migrations) -> Result<SharedDb> {
        refuse_non_file(&self.path)?;
        // One deadline for this caller: if the first attempt fails
        // transiently, the callers that waited for it retry with what is
        // left of their own wait, not a fresh one each.
        let deadline = Instant::now() + self.lock_timeout;
        // What is left of this caller's wait; never zero when it asked to
        // wait (zero means "do not wait", a different error).
        let left = || {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.lock_timeout.is_zero() {
                left
            } else {
                left.max(Duration::from_millis(1))
            }
        };
        let mut conn = self.setup.open(&self.path, Some(&self.path))?;
        let id = DbIdentity::of_file(&self.path).map_err(Error::io(&self.path))?;
        let path = id.path().to_path_buf();
        // The expected schema is the template's: learned once per set and
        // cached on disk, so a new test process does not migrate to learn
        // it. Asked for only after the file migrated, so that a bad set is
        // reported against this file; and it cannot fail then (see
        // `registry::expected_schema`): a migration that committed is never
        // reported as a failure.
        let expected = || registry::expected_schema(set, &self.setup);
        let mut report = None;
        let mut first = false;
        registry::once_per_database(&id, set, || {
            first = true;
            report = Some(Migrator::new(set).lock_timeout(left()).migrate(&mut conn)?);
            validate::check(
                &Schema::read(&conn)?,
                &Expectation {
                    schema: Some(&*expected()?),
                    ..Expectation::default()
                },
                Some(&path),
            )
        })?;
        // Every later open checks again, at the cost of reading the ledger
        // (the migrator's lock-free path): the file may have been reset
        // since (truncated, or deleted and made again by something that
        // kept its inode), and is then migrated again.
        if !first {
            let again = Migrator::new(set).lock_timeout(left()).migrate(&mut conn)?;
            if !again.applied.is_empty() || !again.adopted.is_empty() {
                report = Some(again);
            }
        }
        // And the schema: a table the migrations made may have been dropped.
        validate::check(
            &Schema::read(&conn)?,
            &Expectation {
                schema: Some(&*expected()?),
                required_tables: &self.required_tables,
                exact: self.exact,
            },
            Some(&path),
        )?;
        Ok(SharedDb {
            path,
            setup: self.setup,
            pool: Arc::default(),
            report,
        })
    }
}

impl SharedDbBuilder {
    /// Opens the database, fills it from the template `f` builds if it
    /// holds no schema yet, and validates it against the template's schema
    /// (and the [required tables](SharedDbBuilder::require_tables), and
    /// [`exact_schema`](SharedDbBuilder::exact_schema)). The lock timeout
    /// does not apply: filling waits on the template's build lock.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let template = migrate_once::TemplateFn::new("shared-builder-from-fn-doc", |conn| {
    ///     conn.execute_batch("CREATE TABLE t(x);")?;
    ///     Ok(())
    /// });
    /// let db = migrate_once::SharedDb::builder(dir.path().join("app.sqlite"))
    ///     .require_tables(["t"])
    ///     .exact_schema(true)
    ///     .open_from_fn(&template)?;
    /// assert!(db.report().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`SharedDb::open_from_fn`].
    pub fn open_from_fn(self, f: &TemplateFn) -> Result<SharedDb> {
        refuse_non_file(&self.path)?;
        let template = registry::fn_template(f, &self.setup, false)?;
        let expected = template.schema()?;
        let mut conn = self.setup.open(&self.path, Some(&self.path))?;
        let id = DbIdentity::of_file(&self.path).map_err(Error::io(&self.path))?;
        let path = id.path().to_path_buf();
        let empty = |conn: &Connection| -> Result<bool> {
            conn.query_row("SELECT count(*) = 0 FROM sqlite_master", [], |r| r.get(0))
                .map_err(Error::db("read the schema", Some(&path)))
        };
        // Checked on every open, as a set's shared database is migrated
        // again if it was reset; filled under the template's build lock, so
        // that of all the processes that find it empty, one fills it.
        if empty(&conn)? {
            let dir = template
                .path()
                .parent()
                .expect("a template file is in its directory")
                .to_path_buf();
            crate::sqlite::template::under_build_lock(&dir, || {
                if !empty(&conn)? {
                    return Ok(());
                }
                let src = crate::sqlite::memdb::private_copy(template.bytes()?)
                    .map_err(Error::db("read the template", Some(template.path())))?;
                crate::sqlite::memdb::backup(&src, &mut conn).map_err(Error::db(
                    "copy the template into the database",
                    Some(&path),
                ))
            })?;
            // The copy replaced the database under this connection: its
            // setup (journal mode, foreign keys) is applied again.
            drop(conn);
            conn = self.setup.open(&self.path, Some(&self.path))?;
        }
        validate::check(
            &Schema::read(&conn)?,
            &Expectation {
                schema: Some(&expected),
                required_tables: &self.required_tables,
                exact: self.exact,
            },
            Some(&path),
        )?;
        Ok(SharedDb {
            path,
            setup: self.setup,
            pool: Arc::default(),
            report: None,
        })
    }
}

/// A shared database is a file: SQLite's other names open something else.
fn refuse_non_file(path: &Path) -> Result<()> {
    let text = path.to_string_lossy();
    let instead = if text.is_empty() {
        "an empty name makes SQLite open a private temporary database; give a file path"
    } else if text == ":memory:" || text.contains("mode=memory") || text.contains("vfs=memdb") {
        "an in-memory database cannot be shared by path; use TestDb::in_memory for a database \
         of its own per test, or SharedDb with a file"
    } else if text.starts_with("file:") {
        "SharedDb takes a file path, not a `file:` URI; set connection options on the builder"
    } else {
        return Ok(());
    };
    Err(Error::NotAFilePath {
        given: path.to_path_buf(),
        instead,
    })
}
