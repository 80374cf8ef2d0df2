//! The setup every connection the crate opens gets, and the pools built on it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use scheduled_thread_pool::ScheduledThreadPool;

use crate::error::{Error, Result, is_busy, sqlite_error};

/// A pool of connections to one database, each set up like
/// [`SharedDb::connect`](crate::SharedDb::connect)'s: an r2d2 pool (it
/// derefs to one) with its own thread, at most `pool_size` connections and
/// none opened before the first [`get`](Pool::get).
///
/// ```
/// # let set = migrate_once::Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
/// let db = migrate_once::TestDb::in_memory(&set)?;
/// let pool: migrate_once::Pool = db.pool()?;
/// let conn = pool.get()?; // derefs to a rusqlite::Connection
/// let users: i64 = conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;
/// assert_eq!(users, 2);
/// assert_eq!(pool.state().connections, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Pool {
    inner: r2d2::Pool<ConnectionManager>,
    /// The pool's own thread, on which r2d2 opens its connections: a slow
    /// connection hook of one test's pool holds up no other test.
    threads: Arc<ScheduledThreadPool>,
    owner: Option<Owner>,
    database: Option<PathBuf>,
}

/// A connection from a [`Pool`]; derefs to a `rusqlite::Connection` and
/// goes back to the pool when dropped.
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("database", &self.database)
            .field("state", &self.inner.state())
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for Pool {
    type Target = r2d2::Pool<ConnectionManager>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl Pool {
    /// A connection: an idle one, or a new one when there is room, waiting
    /// up to r2d2's connection timeout (30 s) for one to come back
    /// otherwise. The pool of a [`TestDb`](crate::TestDb) that was closed
    /// refuses at once.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] if this pool's `TestDb` was closed;
    /// [`Error::Pool`] if no connection could be had in time (r2d2's error
    /// says why: all busy, or the last connection error).
    pub fn get(&self) -> Result<PooledConnection> {
        if let Some(owner) = &self.owner {
            owner().map_err(Error::db("connect", self.database.as_deref()))?;
        }
        self.inner.get().map_err(|source| Error::Pool {
            database: self.database.clone(),
            source: Arc::new(source),
        })
    }

    /// Waits until the jobs on this pool's thread (r2d2 opens connections
    /// there, and such a job holds the pool for a moment after handing the
    /// connection over) have finished; after this, a pool nobody else holds
    /// is really gone.
    pub(crate) fn settle(self) {
        let threads = Arc::clone(&self.threads);
        drop(self);
        // On the pool's own thread (a hook dropping a TestDb) the job queued
        // below could only run after this one: nothing to wait for.
        if std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with("migrate-once-pool-"))
        {
            return;
        }
        let (done, finished) = std::sync::mpsc::sync_channel(1);
        threads.execute(move || {
            let _ = done.send(());
        });
        // Bounded: a thread stuck in someone's connection hook must not hang
        // a drop; the database then goes with the pool, a moment later.
        let _ = finished.recv_timeout(Duration::from_secs(5));
    }
}

/// The r2d2 connection manager behind [`Pool`]: opens the database with the
/// crate's flags and gives each new connection its setup.
///
/// The crate's own rather than `r2d2_sqlite`'s, whose newest release
/// requires one rusqlite minor: this one works with every rusqlite the crate
/// does.
pub struct ConnectionManager {
    target: PathBuf,
    flags: OpenFlags,
    init: OnConnect,
}

impl fmt::Debug for ConnectionManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionManager")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = Connection;
    type Error = rusqlite::Error;

    fn connect(&self) -> rusqlite::Result<Connection> {
        crate::sqlite::sqlite_config::before_first_connection();
        let conn = Connection::open_with_flags(&self.target, self.flags)?;
        (self.init)(&conn)?;
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut Connection) -> rusqlite::Result<()> {
        conn.execute_batch("")
    }

    fn has_broken(&self, _: &mut Connection) -> bool {
        false
    }
}

/// A function run on every connection the crate opens to a database (the
/// migrating one included), for example to register SQL functions the
/// migrations call.
pub(crate) type OnConnect = Arc<dyn Fn(&Connection) -> rusqlite::Result<()> + Send + Sync>;

/// Holds a database alive while held, and says whether it may still be
/// connected to (see `TestDb::owner`).
pub(crate) type Owner = Arc<dyn Fn() -> rusqlite::Result<()> + Send + Sync>;

/// How long a connection waits for another's lock by default.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest number of connections a pool built by the crate opens by default.
pub const DEFAULT_POOL_SIZE: u32 = 4;

/// A journal mode for the `journal_mode` setting of
/// [`SharedDbBuilder`](crate::SharedDbBuilder::journal_mode) and
/// [`TestDbBuilder`](crate::TestDbBuilder::journal_mode) (`PRAGMA
/// journal_mode`). Only the modes that keep a transaction able to roll back
/// and survive a crash are offered; MEMORY and OFF trade that for speed
/// (with OFF, a failed transaction cannot even roll back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JournalMode {
    /// Delete the rollback journal at the end of each transaction (SQLite's default).
    Delete,
    /// Truncate the rollback journal instead of deleting it.
    Truncate,
    /// Leave the rollback journal in place, its header zeroed.
    Persist,
    /// Write-ahead log: readers do not block the writer, nor it them.
    Wal,
}

impl JournalMode {
    /// The mode's name as `PRAGMA journal_mode` takes and returns it.
    pub fn as_str(self) -> &'static str {
        match self {
            JournalMode::Delete => "delete",
            JournalMode::Truncate => "truncate",
            JournalMode::Persist => "persist",
            JournalMode::Wal => "wal",
        }
    }
}

/// Per-connection settings: busy timeout, foreign keys, journal mode, and
/// the caller's hook.
#[derive(Clone)]
pub(crate) struct Setup {
    pub busy_timeout: Duration,
    pub foreign_keys: bool,
    pub journal_mode: Option<JournalMode>,
    pub on_connect: Option<OnConnect>,
    pub pool_size: u32,
    /// The database is in memory (memdb VFS): waits for its locks are cut
    /// short (see [`crate::sqlite::memdb::wait_briefly`]).
    pub in_memory: bool,
    /// `busy_timeout` was set by the user, not left at its default: in
    /// memory it is then waited out in full.
    pub busy_timeout_explicit: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            foreign_keys: true,
            journal_mode: None,
            on_connect: None,
            pool_size: DEFAULT_POOL_SIZE,
            in_memory: false,
            busy_timeout_explicit: false,
        }
    }
}

impl fmt::Debug for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Setup")
            .field("busy_timeout", &self.busy_timeout)
            .field("foreign_keys", &self.foreign_keys)
            .field("journal_mode", &self.journal_mode)
            .field("on_connect", &self.on_connect.is_some())
            .field("pool_size", &self.pool_size)
            .field("in_memory", &self.in_memory)
            .finish()
    }
}

impl Setup {
    pub fn apply(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.busy_timeout(self.busy_timeout)?;
        conn.pragma_update(None, "foreign_keys", self.foreign_keys)?;
        if let Some(mode) = self.journal_mode {
            retry_busy(conn, self.busy_timeout, || set_journal_mode(conn, mode))?;
        }
        if self.in_memory {
            crate::sqlite::memdb::wait_briefly(conn, self.busy_timeout, self.busy_timeout_explicit);
        }
        if let Some(hook) = &self.on_connect {
            hook(conn)?;
        }
        Ok(())
    }

    /// Opens `target` (a path, or a `file:` URI) with this setup, creating
    /// the database if it does not exist.
    pub fn open(&self, target: &Path, display: Option<&Path>) -> Result<Connection> {
        self.open_with(target, display, flags())
    }

    /// Opens `target`, which must exist: a database that was deleted is
    /// reported instead of silently created empty.
    pub fn open_existing(&self, target: &Path, display: Option<&Path>) -> Result<Connection> {
        self.open_with(target, display, existing_flags())
    }

    fn open_with(
        &self,
        target: &Path,
        display: Option<&Path>,
        flags: OpenFlags,
    ) -> Result<Connection> {
        crate::sqlite::sqlite_config::before_first_connection();
        let conn = Connection::open_with_flags(target, flags)
            .map_err(Error::db("open the database", display))?;
        self.apply(&conn)
            .map_err(Error::db("set up the connection", display))?;
        Ok(conn)
    }

    /// A lean pool over `target`, which must exist: at most `pool_size`
    /// connections, none opened before the first `get`, and no threads of
    /// its own.
    pub fn pool(&self, target: &Path, display: Option<&Path>) -> Result<Pool> {
        let setup = self.clone();
        let manager = ConnectionManager {
            target: target.to_path_buf(),
            flags: existing_flags(),
            init: Arc::new(move |c| setup.apply(c)),
        };
        self.build_pool(manager, display, None)
    }

    /// A lean pool over `target`, which must exist, for a database that
    /// `owner` owns: the pool (and each clone of it) holds `owner`, so the
    /// database lives while the pool does, and runs it before setting up
    /// each new connection, so an owner that is gone can refuse. Idle
    /// connections are never reaped, so no periodic job holds the pool.
    pub fn owned_pool(&self, target: &Path, display: Option<&Path>, owner: Owner) -> Result<Pool> {
        let setup = self.clone();
        let check = Arc::clone(&owner);
        let manager = ConnectionManager {
            target: target.to_path_buf(),
            flags: existing_flags(),
            init: Arc::new(move |c| {
                check()?;
                setup.apply(c)
            }),
        };
        self.build_pool(manager, display, Some(owner))
    }

    fn build_pool(
        &self,
        manager: ConnectionManager,
        display: Option<&Path>,
        owner: Option<Owner>,
    ) -> Result<Pool> {
        // One thread, not r2d2's three, and not one shared by every pool.
        let threads = Arc::new(
            ScheduledThreadPool::builder()
                .num_threads(1)
                .thread_name_pattern("migrate-once-pool-{}")
                .build(),
        );
        let mut builder = r2d2::Pool::builder()
            .max_size(self.pool_size)
            .min_idle(Some(0))
            .thread_pool(Arc::clone(&threads));
        if owner.is_some() {
            // Never reaped, so no periodic job holds the pool.
            builder = builder.idle_timeout(None).max_lifetime(None);
        }
        let inner = builder.build(manager).map_err(|source| Error::Pool {
            database: display.map(Path::to_path_buf),
            source: Arc::new(source),
        })?;
        Ok(Pool {
            inner,
            threads,
            owner,
            database: display.map(Path::to_path_buf),
        })
    }
}

/// Runs `step` again while it fails with SQLITE_BUSY, for up to `busy_timeout`.
///
/// SQLite answers some lock conflicts with SQLITE_BUSY at once, without
/// calling the busy handler, because waiting could deadlock: above all
/// `PRAGMA journal_mode = WAL` while other connections are opening the same
/// file, which needs an exclusive lock while they hold shared ones. Measured
/// here (`tests/journal_mode.rs` with this retry switched off): 16 threads
/// opening one new file with that pragma in their setup, 6–7 "database is
/// locked" errors in 40 rounds, despite a 30 s busy timeout. A failed
/// switch holds no lock and changes nothing, so trying again is safe. (A
/// user's hook is not retried: it may not be safe to run twice.) Each try's
/// busy handler waits only for what is left of that time, and the
/// connection's `busy_timeout` is set back afterwards.
fn retry_busy<T>(
    conn: &Connection,
    busy_timeout: Duration,
    mut step: impl FnMut() -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    let deadline = Instant::now() + busy_timeout;
    let mut pause = Duration::from_millis(1);
    let result = loop {
        match step() {
            Err(e) if is_busy(&e) && Instant::now() + pause < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
                conn.busy_timeout(deadline.saturating_duration_since(Instant::now()))?;
            }
            done => break done,
        }
    };
    conn.busy_timeout(busy_timeout)?;
    result
}

/// Sets `mode` unless the database is in it already (a WAL switch is
/// persistent, so only the first connection to a file makes it). An
/// in-memory database keeps its in-memory journal whatever is asked (SQLite
/// answers "memory").
fn set_journal_mode(conn: &Connection, mode: JournalMode) -> rusqlite::Result<()> {
    let current: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    if current.eq_ignore_ascii_case(mode.as_str()) {
        return Ok(());
    }
    let now: String = conn.query_row(
        &format!("PRAGMA journal_mode = {}", mode.as_str()),
        [],
        |r| r.get(0),
    )?;
    if now.eq_ignore_ascii_case(mode.as_str()) || now.eq_ignore_ascii_case("memory") {
        return Ok(());
    }
    Err(sqlite_error(
        rusqlite::ffi::SQLITE_ERROR,
        format!(
            "PRAGMA journal_mode = {} left the database in {now} mode",
            mode.as_str()
        ),
    ))
}

fn flags() -> OpenFlags {
    existing_flags() | OpenFlags::SQLITE_OPEN_CREATE
}

fn existing_flags() -> OpenFlags {
    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX
}

/// The connection-setup methods every builder with a `setup: Setup` field
/// offers, written once: `busy_timeout`, `foreign_keys`, `journal_mode`,
/// `pool_size`, `on_connect`. The arguments name the builder's pool, say
/// which connections the hook runs on, and give the code that makes a
/// builder (`$make`) and finishes it (`$finish`) in the examples; `$set_up`
/// is the example's hidden first lines.
macro_rules! setup_methods {
    ($pool:literal, $hooked:literal, $set_up:literal, $make:literal, $finish:literal) => {
        /// Busy timeout of every connection handed out: how long a
        /// statement waits for another connection's lock before failing
        /// with "database is locked". Default 30 s. (The wait for the write
        /// lock while migrating is the `lock_timeout`.) A connection to an
        /// in-memory `TestDb` waits 2 s at most unless this is set: see
        /// [`TestDb::in_memory`](crate::TestDb::in_memory).
        ///
        /// ```
        #[doc = $set_up]
        #[doc = concat!("let db = ", $make, ".busy_timeout(std::time::Duration::from_secs(5))", $finish, "?;")]
        /// let ms: i64 = db.connect()?.query_row("PRAGMA busy_timeout", [], |r| r.get(0))?;
        /// assert_eq!(ms, 5000);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        #[must_use]
        pub fn busy_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.setup.busy_timeout = $crate::report::clamp_wait(timeout);
            self.setup.busy_timeout_explicit = true;
            self
        }

        /// Whether connections handed out enforce foreign keys. Default `true`.
        /// (The migrating connection turns enforcement off while it migrates
        /// either way, and checks the foreign keys before it commits.)
        ///
        /// ```
        #[doc = $set_up]
        #[doc = concat!("let db = ", $make, ".foreign_keys(false)", $finish, "?;")]
        /// let on: bool = db.connect()?.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
        /// assert!(!on);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        #[must_use]
        pub fn foreign_keys(mut self, on: bool) -> Self {
            self.setup.foreign_keys = on;
            self
        }

        /// Journal mode every connection handed out sets (`PRAGMA
        /// journal_mode`). Default: SQLite's (DELETE for files).
        ///
        /// Set without spurious "database is locked" errors when many
        /// connections open the file at once: SQLite does not wait for this
        /// pragma, so the crate retries it within the busy timeout. An
        /// in-memory database keeps its in-memory journal.
        ///
        /// ```
        #[doc = $set_up]
        #[doc = concat!("let db = ", $make, ".journal_mode(migrate_once::JournalMode::Truncate)", $finish, "?;")]
        /// let mode: String = db.connect()?.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        /// assert!(mode == "truncate" || mode == "memory");
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        #[must_use]
        pub fn journal_mode(mut self, mode: $crate::JournalMode) -> Self {
            self.setup.journal_mode = Some(mode);
            self
        }

        #[doc = concat!("The most connections ", $pool, " opens at once. Default 4.")]
        ///
        /// # Panics
        ///
        /// If `size` is 0: a pool that can never hand out a connection is a
        /// mistake, and r2d2 would panic later, far from it.
        ///
        /// ```
        #[doc = $set_up]
        #[doc = concat!("let db = ", $make, ".pool_size(2)", $finish, "?;")]
        /// assert_eq!(db.pool()?.max_size(), 2);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        #[must_use]
        pub fn pool_size(mut self, size: u32) -> Self {
            assert!(size > 0, "pool_size(0): a pool needs room for one connection at least");
            self.setup.pool_size = size;
            self
        }

        #[doc = concat!(
            "Runs `hook` on every connection opened to the database (",
            $hooked,
            "), for example to register SQL functions or collations the migrations or tests need."
        )]
        ///
        /// The template a migration set is cloned from (and whose schema is
        /// the expected one) is built once, with the hook of the caller that
        /// builds it: give every caller of one migration set the same hook.
        ///
        /// For WAL, prefer `journal_mode`: SQLite does not wait for `PRAGMA
        /// journal_mode = WAL` while other connections open the file
        /// ("database is locked" at once, whatever the busy timeout);
        /// `journal_mode` retries it, a hook is run once.
        ///
        /// ```
        #[doc = $set_up]
        #[doc = concat!("let db = ", $make, ".on_connect(|conn| {")]
        ///     conn.execute_batch("PRAGMA cache_size = -4000")
        #[doc = concat!("})", $finish, "?;")]
        /// let kib: i64 = db.connect()?.query_row("PRAGMA cache_size", [], |r| r.get(0))?;
        /// assert_eq!(kib, -4000);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        #[must_use]
        pub fn on_connect<F>(mut self, hook: F) -> Self
        where
            F: Fn(&rusqlite::Connection) -> rusqlite::Result<()> + Send + Sync + 'static,
        {
            let hook: $crate::sqlite::connection::OnConnect = std::sync::Arc::new(hook);
            self.setup.on_connect = Some(hook);
            self
        }
    };
}
pub(crate) use setup_methods;
