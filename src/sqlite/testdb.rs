//! A fresh database per test, cloned from the migrated template.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use once_cell::sync::OnceCell;
use parking_lot::Mutex;
use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::migrations::Migrations;
use crate::sqlite::background::{self, Cloner, SpareKey};
use crate::sqlite::connection::{Owner, Pool, Setup};
use crate::sqlite::dirs::{self, Chosen, Dir, Purpose};
use crate::sqlite::template::{Flavor, Template};
use crate::sqlite::template_fn::TemplateFn;

/// Environment variable naming the directory [`TestDb::new`] puts its
/// database files in (and where in-memory databases kept after a failed
/// test are written): `MIGRATE_ONCE_DIR`, made if it does not exist. Unset
/// or empty: a directory of the user's own, `/dev/shm/migrate-once-UID`
/// where there is a `/dev/shm` (in memory: no disk writes), else
/// `$TMPDIR/migrate-once-UID`, made `0700`.
pub use crate::sqlite::dirs::TEST_DB_DIR_ENV;

/// A database of its own for one test, migrated and validated, made by
/// copying the bytes of a template that was migrated once (per migration
/// set, across all processes; see [`Template`]).
///
/// - [`TestDb::new`]: a file named with a uuid in `MIGRATE_ONCE_DIR` (by
///   default a directory of the user's own, in `/dev/shm` where there is
///   one), so stress loops sharing a directory never collide. It behaves as
///   any SQLite file does.
/// - [`TestDb::in_memory`]: an in-memory database (SQLite's `memdb` VFS, never
///   `cache=shared`) that every connection of this `TestDb` shares. Its
///   locking differs from a file's: see there.
///
/// ```
/// use migrate_once::{Migrations, TestDb};
///
/// let set = Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
/// let db = TestDb::new(&set)?;
/// let conn = db.connect()?;
/// conn.execute("INSERT INTO users (email, display_name) VALUES ('x@example.com', 'X')", [])?;
/// let users: i64 = conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;
/// assert_eq!(users, 3);
///
/// // Another TestDb is another database: the row above is not in it.
/// let other = TestDb::in_memory(&set)?;
/// let users = other.connect()?.query_row("SELECT count(*) FROM users", [], |r| r.get::<_, i64>(0))?;
/// assert_eq!(users, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # When it goes away
///
/// Dropping a `TestDb` deletes its file (with any `-journal`, `-wal` and
/// `-shm` file) or frees its memory. If the thread is panicking (the test
/// failed), the database is kept instead and its path printed to stderr, so
/// it can be inspected; an in-memory database is written to a file for that.
/// [`keep`](TestDb::keep) keeps it on purpose; [`close`](TestDb::close)
/// deletes it and reports the errors that drop has to ignore.
///
/// A [`pool`](TestDb::pool) and a connection from
/// [`connect`](TestDb::connect) hold the database too: it lives until the
/// `TestDb`, every clone of its pool and every such connection are gone, so
/// `TestDb::new(&set)?.pool()?` is a pool over a live database, and a
/// connection returned from a helper that made its `TestDb` goes on working
/// (on that database, which the last of them removes). After
/// [`close`](TestDb::close), which deletes the database at once, a pool
/// still around cannot open new connections (it reports that the `TestDb`
/// was closed). Once the `TestDb` is gone, a panic keeps the database only
/// if the last holder goes during it, and if r2d2's own thread holds the
/// pool at the moment its last handle is dropped, the database goes a
/// moment later, from that thread.
pub struct TestDb {
    db: Arc<Db>,
    setup: Setup,
    pool: OnceCell<Pool>,
}

/// The database itself, shared by its `TestDb` and every clone of its pool,
/// and removed with the last of them (kept if that happens in a panic).
struct Db {
    store: Store,
    dir: Dir,
    state: Mutex<State>,
    /// A file is removed (or rewritten as the next clone) off this thread
    /// rather than where it is dropped (see [`TestDb::remove_later`]).
    later: AtomicBool,
    /// For a clone of the default directory: which spares it can become.
    spare_key: Option<SpareKey>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Live,
    Kept,
    Removed,
}

enum Store {
    File(PathBuf),
    Memory {
        uri: String,
        /// Keeps the in-memory database alive while the `Db` lives.
        keeper: Mutex<Option<Connection>>,
    },
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TestDb>();
};

impl fmt::Debug for TestDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.db.store {
            Store::File(p) => f.debug_tuple("TestDb").field(p).finish(),
            Store::Memory { uri, .. } => f.debug_tuple("TestDb").field(uri).finish(),
        }
    }
}

/// Options for a [`TestDb`]; made by [`TestDb::builder`].
#[derive(Debug, Clone)]
pub struct TestDbBuilder<'a> {
    /// `None`: an empty database, no migration at all.
    source: Option<Source<'a>>,
    setup: Setup,
    dir: Option<PathBuf>,
    ledger: bool,
}

/// What a test database is cloned from.
#[derive(Debug, Clone, Copy)]
enum Source<'a> {
    Set(&'a Migrations),
    Fn(&'a TemplateFn),
}

/// Where test databases go unless a builder says otherwise, made ready:
/// the one rule, used by the fixtures too.
///
/// # Errors
///
/// [`Error::UnsafePath`] or [`Error::Io`] if the directory is not safe to
/// use or cannot be made (see [`TEST_DB_DIR_ENV`]).
#[cfg(feature = "rstest")]
pub(crate) fn default_dir() -> Result<PathBuf> {
    let dir = dirs::test_dbs();
    dir.ready()?;
    Ok(dir.path)
}

impl TestDb {
    /// A new database file cloned from the template of `set`, in
    /// `MIGRATE_ONCE_DIR` (default: a directory of the user's own in
    /// `/dev/shm` where there is one, else in the temp directory; see
    /// [`TEST_DB_DIR_ENV`]). It behaves as any SQLite file: readers get in
    /// while another connection has a write transaction open, and another
    /// process can open it by its [`path`](TestDb::path).
    ///
    /// # Errors
    ///
    /// Any error of building the template (a bad migration set: the same
    /// error for every call in the process); [`Error::Io`] if the file
    /// cannot be written.
    pub fn new(set: &Migrations) -> Result<TestDb> {
        Self::builder(set).file()
    }

    /// A new in-memory database cloned from the template of `set`, shared by
    /// every connection of this `TestDb` and of its pool.
    ///
    /// # Locking differs from a file
    ///
    /// The database lives in SQLite's memdb VFS, whose lock lets no
    /// connection read while another has a write transaction open; a file
    /// in rollback-journal mode lets readers in until the writer commits. A
    /// test that writes in a transaction on one connection and reads
    /// through another (its pool, a handler that takes `&pool`) waits for
    /// itself. So connections to an in-memory `TestDb` (from
    /// [`connect`](TestDb::connect), [`pool`](TestDb::pool), and the sqlx
    /// pool of `sqlx_pool()`) wait at most 2 s for a lock, whatever their
    /// busy timeout (a shorter one is kept), then fail with "database is
    /// locked" and say why on stderr; `PRAGMA busy_timeout` reads 0 on them,
    /// since the crate's busy handler takes its place. Where a test does
    /// that, or where another process must open the database by its name,
    /// use [`TestDb::new`]: a file, in memory too where there is a
    /// `/dev/shm` (see [`TEST_DB_DIR_ENV`]).
    ///
    /// ```
    /// # let set = migrate_once::Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
    /// let db = migrate_once::TestDb::in_memory(&set)?;
    /// let (writer, reader) = (db.connect()?, db.connect()?);
    /// writer.execute_batch("BEGIN; DELETE FROM comments;")?;
    /// let blocked = reader.query_row("SELECT count(*) FROM comments", [], |r| r.get::<_, i64>(0));
    /// assert!(blocked.is_err()); // "database is locked", after 2 s
    /// writer.execute_batch("COMMIT")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Any error of building the template; [`Error::Database`] if SQLite
    /// cannot load it.
    pub fn in_memory(set: &Migrations) -> Result<TestDb> {
        Self::builder(set).in_memory()
    }

    /// Options for a test database of `set`. Defaults: files in
    /// `MIGRATE_ONCE_DIR` (by default a directory of the user's own, see
    /// [`TEST_DB_DIR_ENV`]), busy timeout 30 s
    /// and foreign keys on for every connection, SQLite's journal mode,
    /// pools of at most 4 connections that open none up front.
    ///
    /// ```
    /// # let set = migrate_once::Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
    /// use migrate_once::{JournalMode, TestDb};
    /// let db = TestDb::builder(&set).journal_mode(JournalMode::Wal).file()?;
    /// let mode: String = db.connect()?.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    /// assert_eq!(mode, "wal");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(set: &Migrations) -> TestDbBuilder<'_> {
        TestDbBuilder {
            source: Some(Source::Set(set)),
            setup: Setup::default(),
            dir: None,
            ledger: true,
        }
    }

    /// A new database file cloned from the template `f` builds (the
    /// function runs once per key, across all threads and processes; see
    /// [`TemplateFn`]), in the same directory as [`TestDb::new`]'s.
    ///
    /// ```
    /// use migrate_once::{TemplateFn, TestDb};
    ///
    /// let template = TemplateFn::new("testdb-from-fn-doc", |conn| {
    ///     conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")?;
    ///     Ok(())
    /// });
    /// let (a, b) = (TestDb::from_fn(&template)?, TestDb::from_fn(&template)?);
    /// a.connect()?.execute("DELETE FROM t", [])?;
    /// let left: i64 = b.connect()?.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?;
    /// assert_eq!(left, 1); // another database
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Any error of building the template ([`Error::TemplateFn`] if the
    /// function fails, panics or creates no table; [`Error::Validation`]
    /// for a missing [required table](TemplateFn::require_tables));
    /// [`Error::Io`] if the file cannot be written.
    pub fn from_fn(f: &TemplateFn) -> Result<TestDb> {
        Self::builder_from_fn(f).file()
    }

    /// A new in-memory database cloned from the template `f` builds, as
    /// [`TestDb::in_memory`] is from a set's (the same locking rules).
    ///
    /// ```
    /// use migrate_once::{TemplateFn, TestDb};
    ///
    /// let template = TemplateFn::new("in-memory-from-fn-doc", |conn| {
    ///     conn.execute_batch("CREATE TABLE t(x);")?;
    ///     Ok(())
    /// });
    /// let db = TestDb::in_memory_from_fn(&template)?;
    /// assert!(db.path().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`TestDb::from_fn`]; [`Error::Database`] if SQLite cannot load
    /// the template.
    pub fn in_memory_from_fn(f: &TemplateFn) -> Result<TestDb> {
        Self::builder_from_fn(f).in_memory()
    }

    /// Options for a test database cloned from the template `f` builds:
    /// the same options and defaults as [`TestDb::builder`]. The
    /// [`on_connect`](TestDbBuilder::on_connect) hook is also applied to the
    /// connection the function is given (by the first caller in the
    /// process that builds it); [`ledger`](TestDbBuilder::ledger) has no
    /// effect, since such a template has no ledger of the crate's.
    ///
    /// ```
    /// use migrate_once::{JournalMode, TemplateFn, TestDb};
    ///
    /// let template = TemplateFn::new("builder-from-fn-doc", |conn| {
    ///     conn.execute_batch("CREATE TABLE t(x);")?;
    ///     Ok(())
    /// });
    /// let db = TestDb::builder_from_fn(&template).journal_mode(JournalMode::Wal).file()?;
    /// let mode: String = db.connect()?.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    /// assert_eq!(mode, "wal");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder_from_fn(f: &TemplateFn) -> TestDbBuilder<'_> {
        TestDbBuilder {
            source: Some(Source::Fn(f)),
            setup: Setup::default(),
            dir: None,
            ledger: true,
        }
    }

    /// Options for a test database with no migration in it (no table at
    /// all): what `#[sqlx_test(migrations = false)]` gives, as
    /// `#[sqlx::test]` does. A set cannot be empty, so this is its own way in.
    #[cfg(any(feature = "sqlx-0_8", feature = "sqlx-0_9"))]
    pub(crate) fn empty_builder() -> TestDbBuilder<'static> {
        TestDbBuilder {
            source: None,
            setup: Setup::default(),
            dir: None,
            ledger: true,
        }
    }

    /// A new connection to this database with its setup (busy timeout,
    /// foreign keys, journal mode, hook). It holds the database: kept past
    /// the `TestDb` (returned from a helper that made it), it goes on
    /// working, and the last of the two to go removes the database. (It
    /// carries a SQL function, `migrate_once_holds_test_db()`, whose data
    /// SQLite frees when the connection closes: that is how it holds it.)
    ///
    /// ```
    /// # let set = migrate_once::Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
    /// fn a_connection(set: &migrate_once::Migrations) -> rusqlite::Connection {
    ///     migrate_once::TestDb::new(set).unwrap().connect().unwrap()
    /// }
    /// let conn = a_connection(&set);
    /// conn.execute("INSERT INTO users (email, display_name) VALUES ('x@example.com', 'X')", [])?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Database`] if SQLite cannot open it, or if its setup fails:
    /// the hook's error, or a journal-mode switch still refused when the
    /// busy timeout has passed; or if the `TestDb` was closed.
    pub fn connect(&self) -> Result<Connection> {
        self.db
            .usable()
            .map_err(Error::db("connect", self.path()))?;
        let conn = match &self.db.store {
            Store::File(p) => self.setup.open_existing(p, Some(p)),
            Store::Memory { uri, .. } => self.setup.open_existing(Path::new(uri), None),
        }?;
        hold(&conn, Arc::clone(&self.db)).map_err(Error::db("connect", self.path()))?;
        Ok(conn)
    }

    /// A pool of connections to this database, built on first use. It opens
    /// no connection until one is asked for, at most 4 by default, and starts
    /// no thread of its own. The pool and its clones keep the database alive
    /// (see [When it goes away](TestDb#when-it-goes-away)).
    ///
    /// # Errors
    ///
    /// [`Error::Pool`] if r2d2 cannot build the pool.
    pub fn pool(&self) -> Result<Pool> {
        self.pool
            .get_or_try_init(|| {
                let owner = self.owner();
                match &self.db.store {
                    Store::File(p) => self.setup.owned_pool(p, Some(p), owner),
                    Store::Memory { uri, .. } => self.setup.owned_pool(Path::new(uri), None, owner),
                }
            })
            .cloned()
    }

    /// A check that holds the database alive as long as it is held, and
    /// refuses once the `TestDb` was closed: for pools, whose connections
    /// would otherwise outlive the database or create an empty one.
    pub(crate) fn owner(&self) -> Owner {
        let db = Arc::clone(&self.db);
        Arc::new(move || db.usable())
    }

    /// The setup every connection to this database gets.
    #[cfg(any(feature = "sqlx-0_8", feature = "sqlx-0_9", feature = "diesel-2"))]
    pub(crate) fn setup(&self) -> &Setup {
        &self.setup
    }

    /// The memdb name of an in-memory database (`/migrate-once-<uuid>`, what
    /// `file:` URIs and other drivers take), `None` for a file.
    #[cfg(any(feature = "sqlx-0_8", feature = "sqlx-0_9"))]
    pub(crate) fn memdb_name(&self) -> Option<&str> {
        match &self.db.store {
            Store::File(_) => None,
            Store::Memory { uri, .. } => uri
                .strip_prefix("file:")
                .and_then(|u| u.strip_suffix("?vfs=memdb")),
        }
    }

    /// The database file; `None` for an in-memory database.
    pub fn path(&self) -> Option<&Path> {
        match &self.db.store {
            Store::File(p) => Some(p),
            Store::Memory { .. } => None,
        }
    }

    /// The name to open the database by: the file's path, or the in-memory
    /// database's `file:` URI.
    pub fn uri(&self) -> String {
        match &self.db.store {
            Store::File(p) => p.display().to_string(),
            Store::Memory { uri, .. } => uri.clone(),
        }
    }

    /// Keeps the database after this handle is gone and returns its path.
    /// An in-memory database is written to a file in the `TestDb` directory.
    ///
    /// ```
    /// # let set = migrate_once::Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
    /// let dir = tempfile::tempdir()?;
    /// let db = migrate_once::TestDb::builder(&set).dir(dir.path()).in_memory()?;
    /// let kept = db.keep()?;
    /// let conn = rusqlite::Connection::open(&kept)?;
    /// let users: i64 = conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;
    /// assert_eq!(users, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Io`] or [`Error::Database`] if an in-memory database cannot
    /// be written out.
    pub fn keep(self) -> Result<PathBuf> {
        *self.db.state.lock() = State::Kept;
        self.db.persist()
    }

    /// Deletes the database now, reporting what [`Drop`] would ignore.
    ///
    /// ```
    /// # let set = migrate_once::Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
    /// let db = migrate_once::TestDb::new(&set)?;
    /// let path = db.path().unwrap().to_path_buf();
    /// db.close()?;
    /// assert!(!path.exists());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if a file cannot be removed; [`Error::Database`] if the
    /// in-memory database cannot be closed.
    pub fn close(mut self) -> Result<()> {
        // Our pool's idle connections close before the file goes.
        if let Some(pool) = self.pool.take() {
            pool.settle();
        }
        self.db.remove()
    }
}

impl TestDb {
    /// When the database goes, its file goes on the reaper's thread
    /// (`crate::sqlite::background`), not on the thread that drops the last holder: for
    /// `#[sqlx_test]`, whose test is over by then and cannot look.
    #[cfg(any(feature = "sqlx-0_8", feature = "sqlx-0_9"))]
    pub(crate) fn remove_later(&self) {
        self.db.later.store(true, Ordering::Relaxed);
    }

    fn from_store(store: Store, dir: Dir, setup: Setup, spare_key: Option<SpareKey>) -> TestDb {
        TestDb {
            db: Arc::new(Db {
                store,
                dir,
                state: Mutex::new(State::Live),
                later: AtomicBool::new(false),
                spare_key,
            }),
            setup,
            pool: OnceCell::new(),
        }
    }
}

impl Db {
    /// Refuses new pool connections once the database was closed; before,
    /// a pool would silently create a new, empty database of the same name.
    fn usable(&self) -> rusqlite::Result<()> {
        match *self.state.lock() {
            State::Removed => Err(crate::error::sqlite_error(
                rusqlite::ffi::SQLITE_MISUSE,
                "this TestDb was closed; it cannot be connected to any more",
            )),
            State::Live | State::Kept => Ok(()),
        }
    }

    /// Keeps the database of a test that panicked and says where it is.
    fn keep_after_panic(&self) {
        {
            let mut state = self.state.lock();
            if *state != State::Live {
                return;
            }
            *state = State::Kept;
        }
        match self.persist() {
            Ok(path) => eprintln!(
                "migrate-once: test panicked; its database is kept at {}",
                path.display()
            ),
            Err(e) => {
                eprintln!("migrate-once: test panicked; its database could not be kept: {e}")
            }
        }
    }

    fn persist(&self) -> Result<PathBuf> {
        let path = self.write_out()?;
        // Marks it kept: a later process's sweep of the crate's own
        // directory leaves it for you to delete. (Nothing sweeps others.)
        if self.dir.chosen == Chosen::ByDefault {
            let _ = fs::File::create(kept_marker(&path));
        }
        Ok(path)
    }

    fn write_out(&self) -> Result<PathBuf> {
        match &self.store {
            Store::File(p) => Ok(p.clone()),
            Store::Memory { keeper, .. } => {
                let guard = keeper.lock();
                let conn = guard
                    .as_ref()
                    .expect("the keeper lives until the TestDb is finished");
                let (path, file) = new_file(&self.dir)?;
                drop(file);
                if let Err(e) = crate::sqlite::memdb::write_to_file(conn, &path) {
                    let _ = fs::remove_file(&path);
                    return Err(Error::db(
                        "write the in-memory database to a file",
                        Some(&path),
                    )(e));
                }
                Ok(path)
            }
        }
    }

    fn remove(&self) -> Result<()> {
        *self.state.lock() = State::Removed;
        match &self.store {
            Store::File(p) => {
                let files = ["", "-journal", "-wal", "-shm"].map(|suffix| {
                    let mut name = p.clone().into_os_string();
                    name.push(suffix);
                    PathBuf::from(name)
                });
                if self.later.load(Ordering::Relaxed) {
                    background::finished(self.spare_key.clone(), files);
                    return Ok(());
                }
                let mut first = Ok(());
                for path in files {
                    match fs::remove_file(&path) {
                        Err(e) if e.kind() != io::ErrorKind::NotFound && first.is_ok() => {
                            first = Err(Error::io(&path)(e));
                        }
                        _ => {}
                    }
                }
                first
            }
            Store::Memory { keeper, .. } => match keeper.lock().take() {
                Some(conn) => conn
                    .close()
                    .map_err(|(_, e)| Error::db("close the in-memory database", None)(e)),
                None => Ok(()),
            },
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Our pool goes first, and with it (once r2d2's thread lets go of
        // it) its idle connections, so the file is closed before it is
        // deleted and the deletion happens here, on this thread, unless a
        // clone of the pool is still held somewhere.
        if let Some(pool) = self.pool.take() {
            pool.settle();
        }
        if std::thread::panicking() {
            self.db.keep_after_panic();
        }
        // Otherwise the database goes with the last of this handle and the
        // clones of its pool: when `self.db` is dropped right after this,
        // if no clone is left.
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if *self.state.get_mut() != State::Live {
            return;
        }
        if std::thread::panicking() {
            self.keep_after_panic();
        } else {
            // When a pool clone is the last holder, r2d2 closes its idle
            // connections just after this; on Unix they hold the unlinked
            // file open until then, which is harmless.
            let _ = self.remove();
        }
    }
}

/// A new file name in `dir`, never used before:
/// `migrate-once-<pid namespace>-<pid>-<uuid>.sqlite`, the process first,
/// so that a later process can tell a database whose process is gone (see
/// [`sweep`]). The pid namespace: containers that share `/dev/shm` (and a
/// uid) have pids of their own, which only their own processes can ask
/// after.
fn new_name(dir: &Path) -> PathBuf {
    dir.join(format!(
        "migrate-once-{}-{}-{}.sqlite",
        pid_namespace(),
        std::process::id(),
        uuid::Uuid::new_v4()
    ))
}

/// This process's pid namespace, as the number `/proc/self/ns/pid` names
/// (`pid:[4026531836]`); 0 where there is none to read.
fn pid_namespace() -> u64 {
    static NAMESPACE: OnceCell<u64> = OnceCell::new();
    *NAMESPACE.get_or_init(|| {
        fs::read_link("/proc/self/ns/pid")
            .ok()
            .and_then(|link| {
                let link = link.to_str()?.to_owned();
                link.strip_prefix("pid:[")?.strip_suffix(']')?.parse().ok()
            })
            .unwrap_or(0)
    })
}

/// The file beside a kept database that marks it kept.
fn kept_marker(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".kept");
    PathBuf::from(name)
}

/// Removes, from the crate's own directory for test databases, the files
/// of processes that are gone (killed outright: nothing of theirs ran at
/// exit), unless kept (`.kept` beside them: a failed test's database), and
/// the markers of kept databases deleted since. Once per process, when its
/// first database is made there. The directory is the user's own (`0700`),
/// so every process named there is theirs, and one that lives is asked
/// nothing of; a process id handed out again to a live process keeps its
/// files, which is the safe way to be wrong.
#[cfg(unix)]
fn sweep(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let (own, namespace) = (std::process::id(), pid_namespace());
    if namespace == 0 {
        // No way to tell whose pids these are.
        return;
    }
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(database) = name.strip_suffix(".kept") {
            if !dir.join(database).exists() {
                let _ = fs::remove_file(entry.path());
            }
            continue;
        }
        let mut parts = name
            .strip_prefix("migrate-once-")
            .unwrap_or("")
            .splitn(3, '-');
        let (Some(Ok(ns)), Some(Ok(pid))) = (
            parts.next().map(str::parse::<u64>),
            parts.next().map(str::parse::<u32>),
        ) else {
            continue;
        };
        if ns != namespace {
            continue;
        }
        let database = match name.find(".sqlite") {
            Some(end) => &name[..end + ".sqlite".len()],
            None => continue,
        };
        if pid == own || dir.join(format!("{database}.kept")).exists() || alive(pid) {
            continue;
        }
        let _ = fs::remove_file(entry.path());
    }
}

#[cfg(not(unix))]
fn sweep(_dir: &Path) {}

/// Whether a process `pid` exists (or cannot be told: then it is taken as
/// living).
#[cfg(unix)]
fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return true;
    };
    // SAFETY: `kill` with signal 0 sends nothing; it only checks that the
    // process exists, and touches no memory of ours.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// The mode new files get in this process (umask applied), read from the
/// first one made: a finished clone is rewritten as a new one only if it
/// still has it (see `background`).
static FRESH_MODE: OnceCell<u32> = OnceCell::new();

/// A new file named with a uuid in `dir` (made ready first, and made again
/// if it was removed meanwhile), created exclusively so it can never be
/// someone else's.
fn new_file(dir: &Dir) -> Result<(PathBuf, fs::File)> {
    dir.ready()?;
    if dir.chosen == Chosen::ByDefault {
        static SWEPT: std::sync::Once = std::sync::Once::new();
        SWEPT.call_once(|| sweep(&dir.path));
    }
    let path = new_name(&dir.path);
    // Readable by its user alone, wherever it is (a directory the user
    // named may be shared, as `/tmp` is).
    let create = || {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&path)
    };
    let file = match create() {
        Err(e) if dir.again(&e) => create(),
        done => done,
    }
    .map_err(Error::io(&path))?;
    #[cfg(unix)]
    if FRESH_MODE.get().is_none() {
        use std::os::unix::fs::MetadataExt;
        if let Ok(meta) = file.metadata() {
            let _ = FRESH_MODE.set(meta.mode() & 0o7777);
        }
    }
    Ok((path, file))
}

/// Makes the clones of one template into one directory for `background`.
struct FileCloner {
    template: Arc<Template>,
    dir: Dir,
    header: Vec<u8>,
}

impl Cloner for FileCloner {
    fn fresh(&self) -> Option<PathBuf> {
        write_new(&self.dir, &self.header, self.template.bytes().ok()?).ok()
    }

    fn reuse(&self, old: &Path) -> Option<PathBuf> {
        // Only in the crate's own directory: one the user named may be
        // shared, and another user there could swap a file for a link.
        if self.dir.chosen != Chosen::ByDefault || old.parent() != Some(self.dir.path.as_path()) {
            return None;
        }
        background::rewrite(
            old,
            new_name(&self.dir.path),
            &self.header,
            self.template.bytes().ok()?,
            *FRESH_MODE.get()?,
        )
    }
}

/// A new file in `dir` holding `bytes` (the first twenty as `header`).
fn write_new(dir: &Dir, header: &[u8], bytes: &[u8]) -> Result<PathBuf> {
    let (path, mut file) = new_file(dir)?;
    let written = file
        .write_all(header)
        .and_then(|()| file.write_all(bytes.get(header.len()..).unwrap_or_default()));
    if let Err(e) = written {
        drop(file);
        let _ = fs::remove_file(&path);
        return Err(Error::io(&path)(e));
    }
    Ok(path)
}

/// Keeps a test's database alive while `conn` is open: SQLite drops a
/// function's data when the connection closes, so a function holding the
/// database is how a plain `rusqlite::Connection` holds it. A connection a
/// test keeps after its `TestDb` (one returned from a helper that made the
/// `TestDb`) then goes on working, on the database it was given, which is
/// removed when the last of them closes.
fn hold(conn: &Connection, db: Arc<Db>) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    // Never called for its value; `AssertUnwindSafe`: the closure only
    // owns the handle, and a panic cannot leave it half changed.
    let db = std::panic::AssertUnwindSafe(db);
    conn.create_scalar_function(
        "migrate_once_holds_test_db",
        0,
        FunctionFlags::SQLITE_UTF8,
        move |_| Ok(Arc::strong_count(&db) as i64),
    )
}

impl<'a> TestDbBuilder<'a> {
    /// Directory for the database file (and for in-memory databases kept
    /// after a panic). Default: `MIGRATE_ONCE_DIR`, or a directory of the
    /// user's own ([`TEST_DB_DIR_ENV`]).
    ///
    /// ```
    /// # let set = migrate_once::Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
    /// let dir = tempfile::tempdir()?;
    /// let db = migrate_once::TestDb::builder(&set).dir(dir.path()).file()?;
    /// assert!(db.path().unwrap().starts_with(dir.path()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// The directory is made (with its parents) if it does not exist, and
    /// refused ([`Error::UnsafePath`]) if others can write it without the
    /// sticky bit.
    #[must_use]
    pub fn dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Whether the database keeps the crate's own ledger table
    /// ([`LEDGER_TABLE`](crate::LEDGER_TABLE)). Default `true`.
    ///
    /// Without it the database holds the application's tables, and the
    /// ledgers of the application's own migrator that the set keeps
    /// ([`Migrations::with_app_ledgers`]), and nothing of the crate's: what
    /// `#[sqlx_test]` gives, as `#[sqlx::test]` does, so that a test that
    /// lists the tables finds only its own. The clone is made from a
    /// template without the ledger, made once per set like the other.
    /// [`migrate`](crate::migrate) on such a database finds no ledger of
    /// its own: it adopts what the app ledger records, and without one it
    /// fails as on any database migrated by other means ("table … already
    /// exists"). A template a [`TemplateFn`] builds has no ledger of the
    /// crate's, so this option has no effect on it.
    ///
    /// ```
    /// # let set = migrate_once::Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
    /// let db = migrate_once::TestDb::builder(&set).ledger(false).file()?;
    /// let ledgers: i64 = db.connect()?.query_row(
    ///     "SELECT count(*) FROM sqlite_master WHERE name = '_migrate_once_ledger'",
    ///     [],
    ///     |r| r.get(0),
    /// )?;
    /// assert_eq!(ledgers, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn ledger(mut self, keep: bool) -> Self {
        self.ledger = keep;
        self
    }

    /// Sets the busy timeout as a default, not as the user's own choice
    /// (which an in-memory database waits out in full): for
    /// `#[sqlx_test]`, which gives sqlx's.
    #[cfg(any(feature = "sqlx-0_8", feature = "sqlx-0_9"))]
    pub(crate) fn default_busy_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.setup.busy_timeout = timeout;
        self
    }

    /// The directory this builder's database goes to.
    fn target_dir(&self) -> Dir {
        match &self.dir {
            Some(dir) => dirs::named(dir, Purpose::TestDbs),
            None => dirs::test_dbs(),
        }
    }

    crate::sqlite::connection::setup_methods!(
        "[`TestDb::pool`]",
        "those from `connect` and `pool`, and the one that builds the template",
        "# let set = migrate_once::Migrations::from_dir(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/migrations\"))?;",
        "migrate_once::TestDb::builder(&set)",
        ".file()"
    );

    /// Runs `use_it` with the set's template; if the template turns out to
    /// have been damaged on disk since this process found it, once more
    /// with the cache checked whole (and rebuilt if need be). `None` for an
    /// empty database, which has no template.
    fn with_template<T>(&self, use_it: impl Fn(&Arc<Template>) -> Result<T>) -> Result<Option<T>> {
        let set = match self.source {
            None => return Ok(None),
            Some(Source::Fn(f)) => {
                return match use_it(&crate::sqlite::registry::fn_template(
                    f,
                    &self.setup,
                    false,
                )?) {
                    Err(Error::TemplateDamaged { .. }) => {
                        use_it(&crate::sqlite::registry::fn_template(f, &self.setup, true)?)
                            .map(Some)
                    }
                    done => done.map(Some),
                };
            }
            Some(Source::Set(set)) => set,
        };
        let flavor = if self.ledger {
            Flavor::Full
        } else {
            Flavor::WithoutLedger
        };
        match use_it(&crate::sqlite::registry::template(
            set,
            &self.setup,
            flavor,
        )?) {
            Err(Error::TemplateDamaged { .. }) => use_it(
                &crate::sqlite::registry::template_checked(set, &self.setup, flavor)?,
            )
            .map(Some),
            done => done.map(Some),
        }
    }

    /// A new database file cloned from the template.
    ///
    /// ```
    /// # let set = migrate_once::Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
    /// let db = migrate_once::TestDb::builder(&set).file()?;
    /// let path = db.path().unwrap().to_path_buf();
    /// assert!(path.exists());
    /// drop(db);
    /// assert!(!path.exists());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`TestDb::new`].
    pub fn file(self) -> Result<TestDb> {
        let template = self.with_template(|t| t.bytes().map(|_| Arc::clone(t)))?;
        // An empty database is a file of no bytes.
        let bytes = match &template {
            Some(t) => t.bytes()?,
            None => &[],
        };
        // Asked for WAL, the file is written in WAL mode (header bytes 18
        // and 19, the file format versions, are 2), so no connection has to
        // switch it, a switch SQLite refuses at once while others open it.
        let mut header = [0u8; 20];
        if let Some(start) = bytes.get(..20) {
            header.copy_from_slice(start);
            if self.setup.journal_mode == Some(crate::JournalMode::Wal) {
                header[18] = 2;
                header[19] = 2;
            }
        }
        let header = &header[..bytes.len().min(20)];
        let mut dir = self.target_dir();
        // A clone written ahead, when this process makes many (see
        // `background`); not into a directory given to the builder, which
        // its caller may expect to hold only what it asked for.
        let spare_key = match (&template, &self.dir) {
            (Some(template), None) => {
                let key: SpareKey = (
                    template.path().to_path_buf(),
                    dir.path.clone(),
                    header.to_vec(),
                );
                let cloner = Arc::new(FileCloner {
                    template: Arc::clone(template),
                    dir: dir.clone(),
                    header: header.to_vec(),
                });
                if let Some(path) = background::spare(key.clone(), cloner) {
                    return Ok(TestDb::from_store(
                        Store::File(path),
                        dir,
                        self.setup,
                        Some(key),
                    ));
                }
                Some(key)
            }
            _ => None,
        };
        let path = match write_new(&dir, header, bytes) {
            // The default directory in memory is full (a container's
            // `/dev/shm` can be 64 MB): the disk's instead, from now on.
            Err(Error::Io { source, .. })
                if source.kind() == io::ErrorKind::StorageFull && dir.fallback().is_some() =>
            {
                dir = dir.fallback().expect("checked just above");
                write_new(&dir, header, bytes)?
            }
            done => done?,
        };
        Ok(TestDb::from_store(
            Store::File(path),
            dir,
            self.setup,
            spare_key,
        ))
    }

    /// A new in-memory database cloned from the template.
    ///
    /// ```
    /// # let set = migrate_once::Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
    /// let db = migrate_once::TestDb::builder(&set).foreign_keys(false).in_memory()?;
    /// assert!(db.path().is_none());
    /// assert!(db.uri().starts_with("file:/"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`TestDb::in_memory`].
    pub fn in_memory(mut self) -> Result<TestDb> {
        self.setup.in_memory = true;
        // A name starting with `/` makes the memdb VFS share the database
        // between every connection of this process that opens the same name.
        let uri = format!("file:/migrate-once-{}?vfs=memdb", uuid::Uuid::new_v4());
        // The template's bytes go straight into the shared memdb store (see
        // `memdb` for why neither deserialize nor backup).
        let keeper = match self.with_template(|t| t.copy_into_memory(&uri))? {
            Some(keeper) => keeper,
            None => crate::sqlite::memdb::open(&uri, &[])
                .map_err(Error::db("open an empty in-memory database", None))?,
        };
        let store = Store::Memory {
            uri,
            keeper: Mutex::new(Some(keeper)),
        };
        let dir = self.target_dir();
        Ok(TestDb::from_store(store, dir, self.setup, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Migration;

    fn set() -> Migrations {
        Migrations::new(vec![Migration::new(
            1,
            "t",
            "CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1);",
        )])
        .unwrap()
    }

    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn connections_of_one_in_memory_db_share_it_and_clones_are_independent() {
        let s = set();
        let a = TestDb::in_memory(&s).unwrap();
        let b = TestDb::in_memory(&s).unwrap();
        let (a1, a2) = (a.connect().unwrap(), a.connect().unwrap());
        a1.execute("INSERT INTO t VALUES (2)", []).unwrap();
        assert_eq!(
            count(&a2),
            2,
            "a second connection sees the first one's row"
        );
        assert_eq!(count(&a.pool().unwrap().get().unwrap()), 2);
        assert_eq!(count(&b.connect().unwrap()), 1, "another TestDb does not");
    }

    #[test]
    fn file_clones_are_independent_and_removed_on_drop() {
        let s = set();
        let dir = tempfile::tempdir().unwrap();
        let a = TestDb::builder(&s).dir(dir.path()).file().unwrap();
        let b = TestDb::builder(&s).dir(dir.path()).file().unwrap();
        a.connect()
            .unwrap()
            .execute("INSERT INTO t VALUES (2)", [])
            .unwrap();
        assert_eq!(count(&a.connect().unwrap()), 2);
        assert_eq!(count(&b.connect().unwrap()), 1);
        let path = a.path().unwrap().to_path_buf();
        drop(a);
        assert!(!path.exists());
        b.close().unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
