//! The crate's one error type.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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
/// find the cause: the file, the version, the migration's name and, for SQL,
/// the statement.
///
/// Errors are `Clone` (their sources are shared), so a failure stored by the
/// registry is handed to every later caller as the same value.
///
/// Use [`Error::is_transient`] to tell failures that may pass on a retry
/// (another process held the lock too long, I/O) from those that will not
/// (bad SQL, an edited migration, a failed validation).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed (a migrations directory, the template
    /// cache, a test database).
    Io {
        /// The file or directory being read.
        path: PathBuf,
        /// The underlying error.
        source: Arc<std::io::Error>,
    },
    /// The migrations directory does not exist.
    DirNotFound {
        /// The directory that was asked for.
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
    /// comments. Almost always an accident (a file created and never
    /// filled); once recorded as applied, the SQL written into it later
    /// would never run.
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
        /// 1-based number of the failing statement within the migration.
        index: usize,
        /// 1-based line in the migration where the statement starts.
        line: usize,
        /// The failing statement.
        statement: String,
        /// SQLite's error.
        source: Arc<rusqlite::Error>,
    },
    /// The migrations left rows that violate a foreign key. Nothing of the run was kept.
    ForeignKeyViolation {
        /// The table holding the violating row.
        table: String,
        /// The violating row's rowid (`None` for a `WITHOUT ROWID` table).
        rowid: Option<i64>,
        /// The table the foreign key refers to.
        parent: String,
        /// How many violations `PRAGMA foreign_key_check` reported in all.
        count: usize,
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
    /// The database does not have the schema the migrations define (or that the caller requires).
    Validation {
        /// The database, if it is a file.
        path: Option<PathBuf>,
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
        path: Option<PathBuf>,
        /// SQLite's error.
        source: Arc<rusqlite::Error>,
    },
    /// Building a connection pool failed.
    Pool {
        /// The database file, if any.
        path: Option<PathBuf>,
        /// r2d2's error.
        source: Arc<r2d2::Error>,
    },
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

fn code_of(e: &rusqlite::Error) -> Option<rusqlite::ErrorCode> {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
        _ => None,
    }
}

impl Error {
    /// Whether the failure may pass if the same call is made again: a lock
    /// that was held too long, a migration in progress elsewhere, SQLite I/O
    /// trouble, a full disk, an interrupted or timed-out read. (A missing
    /// file, a permission problem or a symlink loop are not transient.) Deterministic failures (bad SQL, an edited
    /// migration, a failed validation, a malformed database) are not
    /// transient: retrying gives the same error.
    pub fn is_transient(&self) -> bool {
        use rusqlite::ErrorCode as C;
        match self {
            Error::LockTimeout { .. } | Error::InProgress => true,
            Error::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::WouldBlock
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::StorageFull
                    | std::io::ErrorKind::ResourceBusy
                    | std::io::ErrorKind::OutOfMemory
            ),
            Error::Pool { .. } => true,
            Error::Database { source, .. } | Error::Sql { source, .. } => matches!(
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
            _ => false,
        }
    }

    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Io {
            path: path.to_path_buf(),
            source: Arc::new(source),
        }
    }

    pub(crate) fn db(
        context: &'static str,
        path: Option<PathBuf>,
    ) -> impl FnOnce(rusqlite::Error) -> Error {
        move |source| Error::Database {
            context,
            path,
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

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "I/O error on {}: {source}", path.display()),
            Error::DirNotFound { path } => {
                write!(f, "migrations directory {} does not exist", path.display())
            }
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
                "migration {version} ({name}) in {origin}, statement {index}: `{statement}` is not allowed: {reason}"
            ),
            Error::ChecksumMismatch {
                version,
                name,
                origin,
                applied,
                current,
            } => write!(
                f,
                "migration {version} ({name}) in {origin} was changed after it was applied: \
                 applied checksum {applied}, current checksum {current}; \
                 add a new migration instead of editing an applied one"
            ),
            Error::UnknownVersion { version, name } => write!(
                f,
                "the database has applied migration {version} ({name}), which the migration set does not have; \
                 the database is ahead of this set"
            ),
            Error::OutOfOrder {
                version,
                name,
                origin,
                newest_applied,
            } => write!(
                f,
                "migration {version} ({name}) in {origin} is pending but older than the newest applied \
                 version {newest_applied}; give it a newer version or allow out-of-order migrations"
            ),
            Error::Sql {
                version,
                name,
                origin,
                index,
                line,
                statement,
                source,
            } => {
                write!(
                    f,
                    "migration {version} ({name}) in {origin} failed at statement {index} (line {line}): "
                )?;
                match &**source {
                    // Its own Display repeats the whole statement.
                    rusqlite::Error::SqlInputError { msg, offset, .. } => {
                        write!(f, "{msg} (at byte {offset} of the statement)")?;
                    }
                    other => write!(f, "{other}")?,
                }
                write!(f, "\n  statement: {statement}\nnothing was applied")
            }
            Error::ForeignKeyViolation {
                table,
                rowid,
                parent,
                count,
            } => {
                let row = rowid.map_or_else(|| "a row".to_string(), |r| format!("row {r}"));
                write!(
                    f,
                    "after migrating, {row} of table {table} refers to a missing row of {parent} \
                     ({count} foreign-key violation(s) in all); nothing was applied"
                )
            }
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
            Error::Validation {
                path,
                missing,
                differing,
                unexpected,
            } => {
                match path {
                    Some(p) => {
                        write!(f, "database {} does not match its migrations:", p.display())?
                    }
                    None => f.write_str("database does not match its migrations:")?,
                }
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
                path: Some(p),
                source,
            } => write!(f, "{context} ({}): {source}", p.display()),
            Error::Database {
                context,
                path: None,
                source,
            } => write!(f, "{context}: {source}"),
            Error::Pool { path, source } => match path {
                Some(p) => write!(
                    f,
                    "cannot build a connection pool for {}: {source}",
                    p.display()
                ),
                None => write!(f, "cannot build a connection pool: {source}"),
            },
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(&**source),
            Error::Sql { source, .. } | Error::Database { source, .. } => Some(&**source),
            Error::Pool { source, .. } => Some(&**source),
            _ => None,
        }
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Error>();
};
