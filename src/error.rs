//! The crate's one error type.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Environment variable that makes [`assert_schema_snapshot`](crate::assert_schema_snapshot) (and
/// [`check_schema_snapshot`](crate::check_schema_snapshot)) write the snapshot file instead of failing:
/// `MIGRATE_ONCE_UPDATE_SNAPSHOTS=1 cargo test`, then review the diff of
/// the file. Unset, empty or `0`: compare.
pub const UPDATE_SNAPSHOTS_ENV: &str = "MIGRATE_ONCE_UPDATE_SNAPSHOTS";

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where a migration came from: a file on disk, a file embedded at compile
/// time, or a [`Migration`](crate::Migration) built in code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Origin {
    /// A file read at run time.
    File(PathBuf),
    /// A file embedded at compile time; the path is relative to the embedded directory.
    Embedded(PathBuf),
    /// Built in code with [`Migration::new`](crate::Migration::new).
    Code,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(p) => write!(f, "{}", p.display()),
            Origin::Embedded(p) => write!(f, "{} (embedded)", p.display()),
            Origin::Code => f.write_str("<built in code>"),
        }
    }
}

/// A table, index, view or trigger, by type and name, as `sqlite_master` lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SchemaObject {
    /// `table`, `index`, `view` or `trigger`.
    pub kind: String,
    /// The object's name.
    pub name: String,
}

impl fmt::Display for SchemaObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.name)
    }
}

/// Everything that can go wrong, each variant carrying what a user needs to
/// find the cause: the file, the version, the migration's name, the
/// database and, for SQL, the statement.
///
/// Errors are `Clone` (their sources are shared), so a failure stored by the
/// registry is handed to every later caller as the same value.
///
/// Use [`Error::is_transient`] to tell failures that may pass on a retry
/// (another process held the lock too long, I/O) from those that will not
/// (bad SQL, an edited migration, a failed validation).
///
/// # Printing
///
/// `Display` says what the crate was doing and on what; the underlying
/// error (SQLite's, the file system's) is the [`source`](std::error::Error::source),
/// and is not repeated in `Display`, so error reporters (anyhow, eyre, a
/// test returning `Result`) print each cause once. `Debug` (what `unwrap()`
/// and a failing test print) is the message followed by its causes:
///
/// ```
/// use migrate_once::{Migration, Migrations};
///
/// let set = Migrations::new(vec![Migration::new(1, "bad", "CREATE TABLE t(x;")])?;
/// let mut conn = rusqlite::Connection::open_in_memory()?;
/// let err = migrate_once::migrate(&mut conn, &set).unwrap_err();
/// assert!(format!("{err:?}").starts_with(
///     "migration 1 (bad) in <built in code> failed at line 1, column 17 (statement 1) of an \
///      in-memory database; nothing was applied\n  statement: CREATE TABLE t(x;\n\nCaused by:\n    \
///      near \";\": syntax error"
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed (a migrations directory, the template
    /// cache, a test database).
    Io {
        /// The file or directory being read or written.
        path: PathBuf,
        /// The underlying error.
        source: Arc<std::io::Error>,
    },
    /// The migrations directory does not exist.
    DirNotFound {
        /// The directory that was asked for.
        path: PathBuf,
        /// Where it was looked for: `path` resolved against the current
        /// directory (`path` itself when it is absolute). A relative path
        /// depends on where the tests run, which differs between `cargo
        /// test` (the package's directory) and an IDE or a workspace root.
        looked_at: PathBuf,
    },
    /// The migrations directory given is a file (or something else that is
    /// not a directory).
    NotADirectory {
        /// What was given.
        path: PathBuf,
    },
    /// The migrations directory (or list) holds no migration.
    NoMigrations {
        /// The directory, if the set was read from one.
        path: Option<PathBuf>,
    },
    /// A migration file or directory name does not start with a version number.
    MissingVersion {
        /// The file or directory.
        path: PathBuf,
    },
    /// A migration's version prefix is not a usable number.
    InvalidVersion {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Two migrations have the same version.
    DuplicateVersion {
        /// The version both claim.
        version: i64,
        /// The first migration with that version.
        first: Origin,
        /// The second migration with that version.
        second: Origin,
    },
    /// A file in the migrations directory looks like a migration but cannot
    /// be one: it is not a regular file, its name is not UTF-8, or its name
    /// does not end in `.sql` (`0002_b.sql~`). Refused rather than skipped,
    /// so that no migration is silently left out.
    UnusableFile {
        /// The file.
        path: PathBuf,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// The up and down files of one version have different names
    /// (`0001_users.up.sql`, `0001_user.down.sql`): most likely a typo.
    UpDownMismatch {
        /// The version.
        version: i64,
        /// The up migration.
        up: Origin,
        /// The down migration.
        down: Origin,
    },
    /// A migration's SQL holds a NUL byte. SQLite stops reading a statement
    /// at NUL, so the rest of it would silently not run (`DELETE FROM t<NUL>
    /// WHERE ...` deletes every row). A file saved as UTF-16 looks like this.
    NulByte {
        /// The migration's version.
        version: i64,
        /// Where it came from.
        origin: Origin,
        /// Byte offset of the first NUL in the SQL.
        offset: usize,
    },
    /// A migration file is not valid UTF-8.
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Byte offset of the first invalid byte.
        valid_up_to: usize,
    },
    /// A migration directory (`0001_name/`) has neither an `up.sql` nor a `down.sql`.
    MissingUp {
        /// The directory.
        path: PathBuf,
    },
    /// A `.down.sql` file (or `down.sql` in a migration directory) has no up migration.
    DownWithoutUp {
        /// The down file.
        path: PathBuf,
    },
    /// A migration has no statement: the file is empty or holds only
    /// comments.
    ///
    /// Almost always an accident (a file created and never filled); once
    /// recorded as applied, the SQL written into it later would never run.
    EmptyMigration {
        /// The migration's version.
        version: i64,
        /// The migration's name.
        name: String,
        /// Where it came from.
        origin: Origin,
    },
    /// A statement that would end the migrator's transaction, or that cannot
    /// run inside one, appears in a migration.
    ForbiddenStatement {
        /// The migration's version.
        version: i64,
        /// The migration's name.
        name: String,
        /// Where it came from.
        origin: Origin,
        /// 1-based number of the statement within the migration.
        index: usize,
        /// The statement.
        statement: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A migration that the database has applied was changed since.
    ChecksumMismatch {
        /// The migration's version.
        version: i64,
        /// The migration's name.
        name: String,
        /// Where it came from.
        origin: Origin,
        /// The database file; `None` for an in-memory database.
        database: Option<PathBuf>,
        /// Checksum recorded in the database when it was applied.
        applied: String,
        /// Checksum of the migration as it is now.
        current: String,
    },
    /// The database has applied a version that the migration set does not have
    /// (it was migrated by a newer set, or a migration file was removed).
    UnknownVersion {
        /// The version recorded in the database.
        version: i64,
        /// The name recorded in the database.
        name: String,
        /// The database file; `None` for an in-memory database.
        database: Option<PathBuf>,
    },
    /// The ledger another migration tool keeps in the database (see
    /// [`AppLedger`](crate::AppLedger)) disagrees with the set, so what that
    /// tool applied cannot be adopted. Nothing was applied.
    AppLedgerMismatch {
        /// The tool.
        tool: crate::AppLedger,
        /// The version its ledger records.
        version: i64,
        /// The database file; `None` for an in-memory database.
        database: Option<PathBuf>,
        /// What disagrees.
        problem: AppLedgerProblem,
    },
    /// A pending migration is older than the newest applied one, and
    /// out-of-order migration was not allowed.
    OutOfOrder {
        /// The pending migration's version.
        version: i64,
        /// The pending migration's name.
        name: String,
        /// Where it came from.
        origin: Origin,
        /// The database file; `None` for an in-memory database.
        database: Option<PathBuf>,
        /// The newest version the database has applied.
        newest_applied: i64,
    },
    /// A statement of a migration failed. Nothing of the run was kept.
    Sql {
        /// The migration's version.
        version: i64,
        /// The migration's name.
        name: String,
        /// Where it came from.
        origin: Origin,
        /// The database file; `None` for an in-memory database.
        database: Option<PathBuf>,
        /// 1-based number of the failing statement within the migration.
        index: usize,
        /// 1-based line of the migration's file (counted from its first
        /// line) where the error is: the line SQLite's error points at (the
        /// token a syntax error names), or, when SQLite gives no position
        /// (a constraint failing as the statement runs), the line the
        /// statement starts on.
        line: usize,
        /// 1-based column, in characters, on `line` of the token SQLite's
        /// error points at; `None` when SQLite gives no position.
        column: Option<usize>,
        /// The failing statement, whole (`Display` shortens a long one).
        statement: String,
        /// SQLite's error.
        source: Arc<rusqlite::Error>,
    },
    /// The migrations left rows that violate a foreign key. Nothing of the run was kept.
    ForeignKeyViolation {
        /// The database file; `None` for an in-memory database.
        database: Option<PathBuf>,
        /// The table holding the violating row.
        table: String,
        /// The violating row's rowid (`None` for a `WITHOUT ROWID` table).
        rowid: Option<i64>,
        /// The table the foreign key refers to.
        parent: String,
        /// How many violations the migrations added (those the database had
        /// before the run are not counted, nor refused).
        count: usize,
    },
    /// A statement of a down migration failed when the crate ran it to check
    /// it (see [`Reversibility`](crate::Reversibility)). Nothing of the
    /// down was kept.
    DownSql {
        /// The migration's version.
        version: i64,
        /// The migration's name.
        name: String,
        /// Where its down came from.
        origin: Origin,
        /// The database file; `None` for an in-memory database.
        database: Option<PathBuf>,
        /// 1-based number of the failing statement within the down.
        index: usize,
        /// 1-based line of the down's file where the error is, as for
        /// [`Error::Sql`]: where SQLite's error points, or where the
        /// statement starts.
        line: usize,
        /// 1-based column on `line` of the token SQLite's error points at;
        /// `None` when SQLite gives no position.
        column: Option<usize>,
        /// The failing statement, whole (`Display` shortens a long one).
        statement: String,
        /// SQLite's error.
        source: Arc<rusqlite::Error>,
    },
    /// Down migrations do not undo what their up did (or the up cannot be
    /// applied again after its down), or migrations have no down where one
    /// is required; see [`Reversibility`](crate::Reversibility). Each round
    /// trip names the objects that differ and how.
    NotReversible {
        /// The round trips that found a problem, in version order.
        failed: Vec<crate::RoundTrip>,
        /// The migrations without a down, when a down is
        /// [required](crate::Reversibility::require_downs).
        without_down: Vec<crate::Irreversible>,
    },
    /// The migrated schema differs from its snapshot file (see
    /// [`assert_schema_snapshot`](crate::assert_schema_snapshot)).
    SnapshotMismatch {
        /// The snapshot file.
        path: PathBuf,
        /// A unified diff from the file to the migrated schema.
        diff: String,
    },
    /// A schema snapshot file does not exist yet (see
    /// [`assert_schema_snapshot`](crate::assert_schema_snapshot)).
    SnapshotMissing {
        /// The snapshot file.
        path: PathBuf,
    },
    /// Another connection held the database's write lock for longer than the lock timeout.
    LockTimeout {
        /// How long this caller waited.
        waited: Duration,
    },
    /// Another connection is migrating this database and no waiting was asked for.
    InProgress,
    /// The connection passed in is inside a transaction; migrating needs one of its own.
    TransactionOpen,
    /// [`SharedDb`](crate::SharedDb) was given something other than a file
    /// path (`""`, `":memory:"`, a `file:` URI).
    NotAFilePath {
        /// What was given.
        given: PathBuf,
        /// What to use instead.
        instead: &'static str,
    },
    /// The database does not have the schema the migrations define (or that the caller requires).
    Validation {
        /// The database file; `None` for an in-memory database.
        database: Option<PathBuf>,
        /// Objects that should exist and do not.
        missing: Vec<SchemaObject>,
        /// Objects that exist with a different definition.
        differing: Vec<SchemaObject>,
        /// Objects that exist and should not (only reported in exact mode).
        unexpected: Vec<SchemaObject>,
    },
    /// SQLite failed outside a migration's own statements (opening, locking,
    /// reading the ledger, committing).
    Database {
        /// What the crate was doing.
        context: &'static str,
        /// The database file, if known.
        database: Option<PathBuf>,
        /// SQLite's error.
        source: Arc<rusqlite::Error>,
    },
    /// A directory the crate would keep its files in, or a cached template,
    /// is not safe to use: another user owns it or can write to it, or it
    /// is not a directory. Nothing was read from it or written to it.
    UnsafePath {
        /// The directory or file.
        path: PathBuf,
        /// What it was to be: `"template cache directory"`, `"test database
        /// directory"`, `"cached template"`.
        what: &'static str,
        /// What is wrong with it, and what to do.
        problem: String,
    },
    /// A cached template no longer matches the seal it was found with: it
    /// was changed or damaged on disk after this process checked it. The
    /// next call for its set checks the cache whole and rebuilds it.
    TemplateDamaged {
        /// The template file.
        path: PathBuf,
    },
    /// The function that builds a template
    /// ([`TemplateFn`](crate::TemplateFn), or on Postgres
    /// `postgres::TemplateFn`) returned an error, panicked, or left a
    /// database that cannot be a template (no table at all, a required
    /// table missing). Nothing was cached: no template is left behind (on
    /// Postgres, neither the template database nor its build), and the
    /// next call for the key runs the function again (this error is never
    /// remembered).
    TemplateFn {
        /// The key the template was to be cached under, as the user gave it.
        key: String,
        /// What went wrong: `"failed"`, `"panicked: <message>"`, `"created
        /// no table"`, …
        problem: String,
        /// The function's own error, when it returned one.
        source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
    },
    /// Another driver (sqlx, diesel) could not open the database or run
    /// the connection's setup.
    Driver {
        /// The driver: `"sqlx"` or `"diesel"`.
        driver: &'static str,
        /// The database file; `None` for an in-memory database.
        database: Option<PathBuf>,
        /// The driver's error.
        source: Arc<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// A Postgres server failed outside a migration's own statements:
    /// connecting, taking the migrator's lock, reading or writing a ledger,
    /// reading the catalog, committing.
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    Postgres {
        /// What the crate was doing.
        context: &'static str,
        /// The database: server, database name and schema.
        database: String,
        /// The driver's error; for the server's own, its SQLSTATE is
        /// `source.code()`.
        source: Arc<postgres::Error>,
    },
    /// A migration failed on a Postgres server. Nothing of the run was
    /// kept (unless the migration opted out of the transaction with
    /// `-- no-transaction`).
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    PostgresSql {
        /// The migration's version.
        version: i64,
        /// The migration's name.
        name: String,
        /// Where it came from.
        origin: Origin,
        /// The database: server, database name and schema.
        database: String,
        /// 1-based number of the failing statement within the migration, as
        /// psql splits it; 0 when the server named no position and the
        /// statement could not be found otherwise.
        index: usize,
        /// 1-based line in the migration where the statement starts (where
        /// the migration starts when `index` is 0).
        line: usize,
        /// The failing statement, whole (the whole migration when `index`
        /// is 0; `Display` shortens a long one).
        statement: String,
        /// The server's error.
        source: Arc<postgres::Error>,
    },
    /// No Postgres server for tests: `DATABASE_URL` names none that
    /// answers, or a throwaway one could not be started (see
    /// [`TestServer`](crate::postgres::TestServer)).
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    TestServer {
        /// Why, with what was tried.
        reason: String,
    },
    /// A pool could not hand out a connection in time (all of them busy,
    /// or opening a new one failed), or could not be built.
    Pool {
        /// The database file, if any.
        database: Option<PathBuf>,
        /// r2d2's error.
        source: Arc<r2d2::Error>,
    },
}

/// How an app ledger disagrees with the migration set; see
/// [`Error::AppLedgerMismatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AppLedgerProblem {
    /// The tool applied a version the set does not have.
    UnknownVersion,
    /// The tool applied the version with other SQL than the set's: the
    /// checksum it recorded (lower-case hex) is not that of the migration now.
    ChecksumMismatch {
        /// Where the set's migration came from.
        origin: Origin,
        /// The checksum the tool recorded.
        recorded: String,
        /// The checksum the tool would record for the migration now.
        current: String,
    },
    /// The tool recorded the version as failed (sqlx's `success = false`):
    /// the tool itself refuses such a database until it is fixed by hand.
    Failed,
}

/// Whether SQLite answered SQLITE_BUSY ("database is locked").
pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    code_of(e) == Some(rusqlite::ErrorCode::DatabaseBusy)
}

/// An SQLite error with result code `code` and the crate's own message, for
/// a failure the crate finds itself rather than one SQLite returned.
pub(crate) fn sqlite_error(code: std::ffi::c_int, message: impl Into<String>) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some(message.into()))
}

/// SQLite's error for a failed statement, without the copy of the whole
/// statement that rusqlite's syntax errors carry (the `Sql` variant has the
/// statement already, and a multi-megabyte one must not be printed twice),
/// and the byte offset in the statement that SQLite's error points at, if
/// it gave one. The caller turns the offset into a line and column of the
/// migration's file: a byte count within one statement means nothing to
/// someone reading the file.
pub(crate) fn statement_error(e: rusqlite::Error) -> (rusqlite::Error, Option<usize>) {
    match e {
        rusqlite::Error::SqlInputError {
            error, msg, offset, ..
        } => (
            rusqlite::Error::SqliteFailure(error, Some(msg)),
            usize::try_from(offset).ok(),
        ),
        other => (other, None),
    }
}

fn code_of(e: &rusqlite::Error) -> Option<rusqlite::ErrorCode> {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
        _ => None,
    }
}

impl Error {
    /// Whether the failure may pass if the same call is made again.
    ///
    /// Transient: a lock that was held too long, a migration in progress
    /// elsewhere, SQLite I/O trouble, a full disk, an interrupted or
    /// timed-out read, a pool that timed out with no connection error; on
    /// Postgres, a lost connection, a deadlock or serialization failure, a
    /// server shutting down or out of resources.
    /// Deterministic (not transient): bad SQL, an edited migration, a failed
    /// validation, a malformed database, a missing file, a permission
    /// problem, a symlink loop — retrying gives the same error.
    ///
    /// ```
    /// use std::time::Duration;
    /// use migrate_once::Error;
    ///
    /// assert!(Error::LockTimeout { waited: Duration::from_secs(30) }.is_transient());
    /// assert!(!Error::NoMigrations { path: None }.is_transient());
    /// ```
    pub fn is_transient(&self) -> bool {
        use rusqlite::ErrorCode as C;
        match self {
            Error::LockTimeout { .. } | Error::InProgress | Error::TemplateDamaged { .. } => true,
            Error::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::WouldBlock
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::StorageFull
                    | std::io::ErrorKind::ResourceBusy
                    | std::io::ErrorKind::OutOfMemory
            ),
            // r2d2 reports "timed out waiting for connection", followed by
            // the last connection error if there was one: a pool that was
            // only busy may have room later, one that cannot connect will not.
            Error::Pool { source, .. } => !source.to_string().contains(": "),
            Error::Database { source, .. }
            | Error::Sql { source, .. }
            | Error::DownSql { source, .. } => matches!(
                code_of(source),
                Some(
                    C::DatabaseBusy
                        | C::DatabaseLocked
                        | C::SystemIoFailure
                        | C::DiskFull
                        | C::OutOfMemory
                        | C::FileLockingProtocolFailed
                )
            ),
            #[cfg(feature = "postgres")]
            Error::Postgres { source, .. } | Error::PostgresSql { source, .. } => {
                crate::postgres::is_transient(source)
            }
            _ => false,
        }
    }

    /// An [`Error::Io`] on `path`, built only when an error happens.
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Io {
            path: path.to_path_buf(),
            source: Arc::new(source),
        }
    }

    /// An [`Error::Database`] for `context` on `database`, built only when an
    /// error happens.
    pub(crate) fn db<'a>(
        context: &'static str,
        database: Option<&'a std::path::Path>,
    ) -> impl FnOnce(rusqlite::Error) -> Error + 'a {
        move |source| Error::Database {
            context,
            database: database.map(std::path::Path::to_path_buf),
            source: Arc::new(source),
        }
    }
}

fn list(objects: &[SchemaObject]) -> String {
    objects
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// "database /path" for a file, "an in-memory database" otherwise, and
/// "the template being built in /cache/dir" for the file a template is
/// built in: that file is gone by the time anyone reads the message (a
/// failed build removes it), and the reader needs to know that the set
/// failed while its template was built, not on a database of theirs.
struct Db<'a>(&'a Option<PathBuf>);

impl fmt::Display for Db<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(p) if crate::sqlite::template::is_being_built(p) => write!(
                f,
                "the template being built for the set in {}",
                p.parent().unwrap_or(p).display()
            ),
            Some(p) => write!(f, "database {}", p.display()),
            None => f.write_str("an in-memory database"),
        }
    }
}

/// Where a statement failed: "line 2, column 17 (statement 1)" when
/// SQLite said where, "statement 3 (line 4)" (the line it starts on) when
/// it did not.
struct At(usize, usize, Option<usize>);

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let At(index, line, column) = *self;
        match column {
            Some(column) => write!(f, "line {line}, column {column} (statement {index})"),
            None => write!(f, "statement {index} (line {line})"),
        }
    }
}

/// A statement as an error message shows it: whole up to a few lines, else
/// its start and how long it is (the `statement` field keeps all of it).
struct Shortened<'a>(&'a str);

/// The most of a statement an error message shows.
const SHOWN: usize = 600;

impl fmt::Display for Shortened<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if s.len() <= SHOWN {
            return f.write_str(s);
        }
        let mut cut = SHOWN;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        write!(f, "{} … ({} bytes in all)", &s[..cut], s.len())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, .. } => write!(f, "I/O error on {}", path.display()),
            Error::DirNotFound { path, looked_at } => {
                write!(f, "migrations directory {} does not exist", path.display())?;
                if path.is_relative() {
                    write!(
                        f,
                        " (looked for {}: a relative path is taken from the current directory; \
                         concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/{}\") does not depend on it)",
                        looked_at.display(),
                        path.display()
                    )?;
                }
                Ok(())
            }
            Error::NotADirectory { path } => write!(
                f,
                "{} is not a directory; give the directory that holds the migrations",
                path.display()
            ),
            Error::NoMigrations { path: Some(p) } => {
                write!(f, "migrations directory {} holds no migration", p.display())
            }
            Error::NoMigrations { path: None } => f.write_str("the migration set is empty"),
            Error::MissingVersion { path } => write!(
                f,
                "{}: a migration's name must start with its version number, as in 0001_create_users.sql",
                path.display()
            ),
            Error::InvalidVersion { path, reason } => {
                write!(f, "{}: invalid version: {reason}", path.display())
            }
            Error::DuplicateVersion {
                version,
                first,
                second,
            } => write!(f, "version {version} is used twice: {first} and {second}"),
            Error::UnusableFile { path, reason } => {
                write!(f, "{} cannot be a migration: {reason}", path.display())
            }
            Error::UpDownMismatch { version, up, down } => write!(
                f,
                "the up and down migrations of version {version} have different names: {up} and {down}; \
                 name them alike"
            ),
            Error::NulByte {
                version,
                origin,
                offset,
            } => write!(
                f,
                "migration {version} in {origin} holds a NUL byte at offset {offset}: SQLite would stop \
                 reading the statement there and silently skip the rest (is the file UTF-16? save it as UTF-8)"
            ),
            Error::NotUtf8 { path, valid_up_to } => write!(
                f,
                "{} is not valid UTF-8 (first invalid byte at offset {valid_up_to})",
                path.display()
            ),
            Error::MissingUp { path } => {
                write!(f, "migration directory {} has no up.sql", path.display())
            }
            Error::DownWithoutUp { path } => write!(
                f,
                "{} is a down migration without its up migration",
                path.display()
            ),
            Error::EmptyMigration {
                version,
                name,
                origin,
            } => write!(
                f,
                "migration {version} ({name}) in {origin} has no SQL statement (it is empty or only comments)"
            ),
            Error::ForbiddenStatement {
                version,
                name,
                origin,
                index,
                statement,
                reason,
            } => write!(
                f,
                "migration {version} ({name}) in {origin}, statement {index}: `{}` is not allowed: {reason}",
                Shortened(statement)
            ),
            Error::ChecksumMismatch {
                version,
                name,
                origin,
                database,
                applied,
                current,
            } => {
                write!(
                    f,
                    "migration {version} ({name}) in {origin} was changed after {} applied it: \
                     applied checksum {applied}, current checksum {current}; \
                     add a new migration instead of editing an applied one",
                    Db(database)
                )?;
                if let Some(p) = database {
                    write!(
                        f,
                        " (a database made only for tests can be deleted instead: {})",
                        p.display()
                    )?;
                }
                Ok(())
            }
            Error::UnknownVersion {
                version,
                name,
                database,
            } => write!(
                f,
                "{} has applied migration {version} ({name}), which the migration set does not have \
                 (a newer set migrated it, or that migration was removed or renumbered)",
                Db(database)
            ),
            Error::AppLedgerMismatch {
                tool,
                version,
                database,
                problem,
            } => {
                write!(
                    f,
                    "{tool}'s ledger ({}) in {} records migration {version}",
                    tool.table(),
                    Db(database)
                )?;
                match problem {
                    AppLedgerProblem::UnknownVersion => {
                        f.write_str(", which the migration set does not have")?
                    }
                    AppLedgerProblem::ChecksumMismatch {
                        origin,
                        recorded,
                        current,
                    } => write!(
                        f,
                        " with checksum {recorded}, but by {tool}'s rule {origin} now has checksum {current}"
                    )?,
                    AppLedgerProblem::Failed => write!(
                        f,
                        " as failed; {tool} itself refuses the database until that is fixed by hand"
                    )?,
                }
                f.write_str("; nothing was applied")
            }
            Error::OutOfOrder {
                version,
                name,
                origin,
                database,
                newest_applied,
            } => write!(
                f,
                "migration {version} ({name}) in {origin} is pending in {} but older than its newest \
                 applied version {newest_applied}; give it a newer version or allow out-of-order migrations",
                Db(database)
            ),
            Error::Sql {
                version,
                name,
                origin,
                database,
                index,
                line,
                column,
                statement,
                ..
            } => write!(
                f,
                "migration {version} ({name}) in {origin} failed at {} of {}; \
                 nothing was applied\n  statement: {}",
                At(*index, *line, *column),
                Db(database),
                Shortened(statement)
            ),
            Error::ForeignKeyViolation {
                database,
                table,
                rowid,
                parent,
                count,
            } => {
                let row = rowid.map_or_else(|| "a row".to_string(), |r| format!("row {r}"));
                write!(
                    f,
                    "after migrating {}, {row} of table {table} refers to a missing row of {parent} \
                     ({count} foreign-key violation(s) the migrations added); nothing was applied",
                    Db(database)
                )
            }
            Error::DownSql {
                version,
                name,
                origin,
                database,
                index,
                line,
                column,
                statement,
                ..
            } => write!(
                f,
                "the down of migration {version} ({name}) in {origin} failed at {} of {}; \
                 nothing of it was applied\n  statement: {}",
                At(*index, *line, *column),
                Db(database),
                Shortened(statement)
            ),
            Error::NotReversible {
                failed,
                without_down,
            } => {
                let mut sep = "";
                if !failed.is_empty() {
                    f.write_str("down migrations do not undo their up:")?;
                    for trip in failed {
                        write!(f, "\n{}", indent(&trip.to_string(), "  "))?;
                    }
                    sep = "\n";
                }
                if !without_down.is_empty() {
                    write!(f, "{sep}migrations without a down, where one is required:")?;
                    for m in without_down {
                        write!(f, "\n  {m}")?;
                    }
                }
                Ok(())
            }
            Error::SnapshotMismatch { path, diff } => write!(
                f,
                "the migrated schema differs from its snapshot {}; if the change is meant, \
                 run the tests again with {}=1 to accept it\n{diff}",
                path.display(),
                UPDATE_SNAPSHOTS_ENV
            ),
            Error::SnapshotMissing { path } => write!(
                f,
                "there is no schema snapshot at {}; run the tests with {}=1 to write it",
                path.display(),
                UPDATE_SNAPSHOTS_ENV
            ),
            Error::LockTimeout { waited } => write!(
                f,
                "gave up after waiting {} ms for the database's write lock held by another connection",
                waited.as_millis()
            ),
            Error::InProgress => f.write_str(
                "another connection is migrating this database (no waiting was asked for)",
            ),
            Error::TransactionOpen => f.write_str(
                "the connection is inside a transaction; migrate needs a connection with none open",
            ),
            Error::NotAFilePath { given, instead } if given.as_os_str().is_empty() => {
                write!(f, "an empty path is not a database file path; {instead}")
            }
            Error::NotAFilePath { given, instead } => write!(
                f,
                "`{}` is not a database file path; {instead}",
                given.display()
            ),
            Error::Validation {
                database,
                missing,
                differing,
                unexpected,
            } => {
                write!(f, "{} does not match its migrations:", Db(database))?;
                if !missing.is_empty() {
                    write!(f, " missing: {};", list(missing))?;
                }
                if !differing.is_empty() {
                    write!(f, " defined differently: {};", list(differing))?;
                }
                if !unexpected.is_empty() {
                    write!(f, " not defined by the migrations: {};", list(unexpected))?;
                }
                Ok(())
            }
            Error::Database {
                context,
                database: Some(p),
                ..
            } => write!(f, "could not {context} ({})", p.display()),
            Error::Database {
                context,
                database: None,
                ..
            } => write!(f, "could not {context}"),
            Error::UnsafePath {
                path,
                what,
                problem,
            } => write!(
                f,
                "refusing to use {} as the {what}: {problem}",
                path.display()
            ),
            Error::TemplateDamaged { path } => write!(
                f,
                "the cached template {} no longer matches its seal (changed or damaged on disk); \
                 it is checked whole, and rebuilt, on the next call",
                path.display()
            ),
            Error::TemplateFn { key, problem, .. } => write!(
                f,
                "the function building the template for key {key:?} {problem}; \
                 no template was left behind"
            ),
            Error::Driver {
                driver, database, ..
            } => write!(f, "{driver} could not open {}", Db(database)),
            #[cfg(feature = "postgres")]
            Error::Postgres {
                context, database, ..
            } => write!(f, "could not {context} ({database})"),
            #[cfg(feature = "postgres")]
            Error::PostgresSql {
                version,
                name,
                origin,
                database,
                index: 0,
                statement,
                ..
            } => write!(
                f,
                "migration {version} ({name}) in {origin} failed on {database}; nothing was applied\n  \
                 migration: {}",
                Shortened(statement)
            ),
            #[cfg(feature = "postgres")]
            Error::PostgresSql {
                version,
                name,
                origin,
                database,
                index,
                line,
                statement,
                ..
            } => write!(
                f,
                "migration {version} ({name}) in {origin} failed at statement {index} (line {line}) of \
                 {database}; nothing was applied\n  statement: {}",
                Shortened(statement)
            ),
            #[cfg(feature = "postgres")]
            Error::TestServer { reason } => {
                write!(f, "no Postgres server for tests: {reason}")
            }
            Error::Pool { database, .. } => write!(
                f,
                "the connection pool of {} could not hand out a connection",
                Db(database)
            ),
        }
    }
}

/// The message, then each cause on a line of its own, as anyhow prints an
/// error: what `unwrap()`, `expect()` and a test returning `Result` show.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")?;
        let mut cause = std::error::Error::source(self);
        if cause.is_some() {
            f.write_str("\n\nCaused by:")?;
        }
        while let Some(c) = cause {
            // rusqlite gives SQLite's result code as the cause of its own
            // error; its text ("Error code 11: The database disk image is
            // malformed") says again what the message said.
            if c.is::<rusqlite::ffi::Error>() {
                break;
            }
            write!(f, "\n    {c}")?;
            cause = c.source();
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(&**source),
            Error::Sql { source, .. }
            | Error::DownSql { source, .. }
            | Error::Database { source, .. } => Some(&**source),
            Error::Pool { source, .. } => Some(&**source),
            Error::Driver { source, .. } => Some(&**source),
            Error::TemplateFn {
                source: Some(source),
                ..
            } => Some(&**source),
            #[cfg(feature = "postgres")]
            Error::Postgres { source, .. } | Error::PostgresSql { source, .. } => Some(&**source),
            _ => None,
        }
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Error>();
};

/// Every line of `text` after `prefix`.
pub(crate) fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|l| format!("{prefix}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
