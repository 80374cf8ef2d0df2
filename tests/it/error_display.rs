//! Snapshot of every error variant's `Display` text, which of them have a
//! `source()`, and which are transient. The texts are what a user reads in a
//! failed test: a change to one must be deliberate, so each is spelled out in
//! full here.

use std::collections::BTreeSet;
use std::error::Error as _;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use migrate_once::{Error, Origin, SchemaObject};
use rusqlite::ffi;

/// A SQLite failure, shared as the error variants hold it.
fn sqlite(code: i32, message: &str) -> Arc<rusqlite::Error> {
    Arc::new(rusqlite::Error::SqliteFailure(
        ffi::Error::new(code),
        Some(message.to_string()),
    ))
}

fn obj(kind: &str, name: &str) -> SchemaObject {
    SchemaObject {
        kind: kind.to_string(),
        name: name.to_string(),
    }
}

fn file(p: &str) -> Origin {
    Origin::File(PathBuf::from(p))
}

/// A real `r2d2::Error`: its field is private, so it comes from building a
/// pool whose every connection fails to open.
fn r2d2_error() -> r2d2::Error {
    let dir = tempfile::TempDir::new().unwrap();
    let manager =
        r2d2_sqlite::SqliteConnectionManager::file(dir.path().join("no/such/dir/test.db"));
    match r2d2::Pool::builder()
        .max_size(1)
        .connection_timeout(Duration::from_millis(100))
        .build(manager)
    {
        Ok(_) => panic!("a pool on a file in a missing directory was built"),
        Err(e) => e,
    }
}

/// One case: the error, its exact `Display` text, whether it has a source,
/// whether it is transient.
struct Case {
    error: Error,
    display: String,
    has_source: bool,
    transient: bool,
}

fn case(error: Error, display: &str, has_source: bool, transient: bool) -> Case {
    Case {
        error,
        display: display.to_string(),
        has_source,
        transient,
    }
}

fn cases() -> Vec<Case> {
    let pool_error = Arc::new(r2d2_error());
    let pool_text = pool_error.to_string();
    assert!(
        pool_text.starts_with("timed out waiting for connection"),
        "{pool_text}"
    );
    vec![
        case(
            Error::Io {
                path: "/m/0001_a.sql".into(),
                source: Arc::new(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "permission denied",
                )),
            },
            "I/O error on /m/0001_a.sql: permission denied",
            true,
            false,
        ),
        case(
            Error::Io {
                path: "/nfs/m".into(),
                source: Arc::new(io::Error::new(io::ErrorKind::TimedOut, "timed out")),
            },
            "I/O error on /nfs/m: timed out",
            true,
            true,
        ),
        case(
            Error::DirNotFound {
                path: "/m/missing".into(),
            },
            "migrations directory /m/missing does not exist",
            false,
            false,
        ),
        case(
            Error::NoMigrations {
                path: Some("/m/empty".into()),
            },
            "migrations directory /m/empty holds no migration",
            false,
            false,
        ),
        case(
            Error::NoMigrations { path: None },
            "the migration set is empty",
            false,
            false,
        ),
        case(
            Error::MissingVersion {
                path: "/m/create_users.sql".into(),
            },
            "/m/create_users.sql: a migration's name must start with its version number, as in 0001_create_users.sql",
            false,
            false,
        ),
        case(
            Error::InvalidVersion {
                path: "/m/1a_x.sql".into(),
                reason: "expected `_` after the version 1, found `a`".into(),
            },
            "/m/1a_x.sql: invalid version: expected `_` after the version 1, found `a`",
            false,
            false,
        ),
        case(
            Error::DuplicateVersion {
                version: 3,
                first: file("/m/0003_a.sql"),
                second: file("/m/0003_b.sql"),
            },
            "version 3 is used twice: /m/0003_a.sql and /m/0003_b.sql",
            false,
            false,
        ),
        case(
            Error::DuplicateVersion {
                version: 4,
                first: Origin::Embedded("0004_a/up.sql".into()),
                second: Origin::Code,
            },
            "version 4 is used twice: 0004_a/up.sql (embedded) and <built in code>",
            false,
            false,
        ),
        case(
            Error::NotUtf8 {
                path: "/m/0002_latin1.sql".into(),
                valid_up_to: 17,
            },
            "/m/0002_latin1.sql is not valid UTF-8 (first invalid byte at offset 17)",
            false,
            false,
        ),
        case(
            Error::MissingUp {
                path: "/m/0002_b".into(),
            },
            "migration directory /m/0002_b has no up.sql",
            false,
            false,
        ),
        case(
            Error::DownWithoutUp {
                path: "/m/0002_b.down.sql".into(),
            },
            "/m/0002_b.down.sql is a down migration without its up migration",
            false,
            false,
        ),
        case(
            Error::EmptyMigration {
                version: 2,
                name: "empty".into(),
                origin: file("/m/0002_empty.sql"),
            },
            "migration 2 (empty) in /m/0002_empty.sql has no SQL statement (it is empty or only comments)",
            false,
            false,
        ),
        case(
            Error::ForbiddenStatement {
                version: 2,
                name: "transactional".into(),
                origin: file("/m/0002_transactional.sql"),
                index: 2,
                statement: "BEGIN;".into(),
                reason: "it would end the transaction",
            },
            "migration 2 (transactional) in /m/0002_transactional.sql, statement 2: `BEGIN;` is not allowed: it would end the transaction",
            false,
            false,
        ),
        case(
            Error::ChecksumMismatch {
                version: 1,
                name: "create_users".into(),
                origin: file("/m/0001_create_users.sql"),
                applied: "aaaa".into(),
                current: "bbbb".into(),
            },
            "migration 1 (create_users) in /m/0001_create_users.sql was changed after it was applied: \
             applied checksum aaaa, current checksum bbbb; \
             add a new migration instead of editing an applied one",
            false,
            false,
        ),
        case(
            Error::UnknownVersion {
                version: 9,
                name: "future".into(),
            },
            "the database has applied migration 9 (future), which the migration set does not have; \
             the database is ahead of this set",
            false,
            false,
        ),
        case(
            Error::OutOfOrder {
                version: 2,
                name: "two".into(),
                origin: Origin::Code,
                newest_applied: 3,
            },
            "migration 2 (two) in <built in code> is pending but older than the newest applied \
             version 3; give it a newer version or allow out-of-order migrations",
            false,
            false,
        ),
        case(
            Error::Sql {
                version: 5,
                name: "create_t5".into(),
                origin: Origin::Embedded("0005_create_t5.sql".into()),
                index: 2,
                line: 6,
                statement: "INSERT INTO missing (v) VALUES (5);".into(),
                source: sqlite(ffi::SQLITE_ERROR, "no such table: missing"),
            },
            "migration 5 (create_t5) in 0005_create_t5.sql (embedded) failed at statement 2 (line 6): \
             no such table: missing\n  statement: INSERT INTO missing (v) VALUES (5);\nnothing was applied",
            true,
            false,
        ),
        case(
            Error::Sql {
                version: 1,
                name: "a".into(),
                origin: Origin::Code,
                index: 1,
                line: 1,
                statement: "CREATE TABLE a (x);".into(),
                source: sqlite(ffi::SQLITE_BUSY, "database is locked"),
            },
            "migration 1 (a) in <built in code> failed at statement 1 (line 1): \
             database is locked\n  statement: CREATE TABLE a (x);\nnothing was applied",
            true,
            true,
        ),
        case(
            Error::ForeignKeyViolation {
                table: "child".into(),
                rowid: Some(8),
                parent: "parent".into(),
                count: 2,
            },
            "after migrating, row 8 of table child refers to a missing row of parent \
             (2 foreign-key violation(s) in all); nothing was applied",
            false,
            false,
        ),
        case(
            Error::ForeignKeyViolation {
                table: "child".into(),
                rowid: None,
                parent: "parent".into(),
                count: 1,
            },
            "after migrating, a row of table child refers to a missing row of parent \
             (1 foreign-key violation(s) in all); nothing was applied",
            false,
            false,
        ),
        case(
            Error::LockTimeout {
                waited: Duration::from_millis(30_250),
            },
            "gave up after waiting 30250 ms for the database's write lock held by another connection",
            false,
            true,
        ),
        case(
            Error::InProgress,
            "another connection is migrating this database (no waiting was asked for)",
            false,
            true,
        ),
        case(
            Error::TransactionOpen,
            "the connection is inside a transaction; migrate needs a connection with none open",
            false,
            false,
        ),
        case(
            Error::Validation {
                path: Some("/db/test.db".into()),
                missing: vec![obj("table", "users"), obj("index", "users_by_email")],
                differing: vec![obj("view", "active_users")],
                unexpected: vec![obj("trigger", "stray")],
            },
            "database /db/test.db does not match its migrations: \
             missing: table users, index users_by_email; \
             defined differently: view active_users; \
             not defined by the migrations: trigger stray;",
            false,
            false,
        ),
        case(
            Error::Validation {
                path: None,
                missing: vec![],
                differing: vec![obj("table", "posts")],
                unexpected: vec![],
            },
            "database does not match its migrations: defined differently: table posts;",
            false,
            false,
        ),
        case(
            Error::Database {
                context: "commit the migrations",
                path: Some("/db/test.db".into()),
                source: sqlite(ffi::SQLITE_FULL, "database or disk is full"),
            },
            "commit the migrations (/db/test.db): database or disk is full",
            true,
            true,
        ),
        case(
            Error::Database {
                context: "read the ledger",
                path: None,
                source: sqlite(ffi::SQLITE_NOTADB, "file is not a database"),
            },
            "read the ledger: file is not a database",
            true,
            false,
        ),
        case(
            Error::Pool {
                path: Some("/db/test.db".into()),
                source: Arc::clone(&pool_error),
            },
            &format!("cannot build a connection pool for /db/test.db: {pool_text}"),
            true,
            true,
        ),
        case(
            Error::Pool {
                path: None,
                source: pool_error,
            },
            &format!("cannot build a connection pool: {pool_text}"),
            true,
            true,
        ),
    ]
}

/// The variant's name, from its `Debug` text.
fn variant(e: &Error) -> String {
    format!("{e:?}")
        .split([' ', '{', '('])
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn the_cases_cover_every_variant() {
    let covered: BTreeSet<String> = cases().iter().map(|c| variant(&c.error)).collect();
    let all: BTreeSet<String> = [
        "Io",
        "DirNotFound",
        "NoMigrations",
        "MissingVersion",
        "InvalidVersion",
        "DuplicateVersion",
        "NotUtf8",
        "MissingUp",
        "EmptyMigration",
        "DownWithoutUp",
        "ForbiddenStatement",
        "ChecksumMismatch",
        "UnknownVersion",
        "OutOfOrder",
        "Sql",
        "ForeignKeyViolation",
        "LockTimeout",
        "InProgress",
        "TransactionOpen",
        "Validation",
        "Database",
        "Pool",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(covered, all);
}

#[test]
fn every_variant_displays_its_exact_text() {
    for c in cases() {
        assert_eq!(c.error.to_string(), c.display, "{:?}", c.error);
    }
}

#[test]
fn io_sql_database_and_pool_have_a_source_and_nothing_else_does() {
    for c in cases() {
        assert_eq!(
            c.error.source().is_some(),
            c.has_source,
            "source() of {:?}",
            c.error
        );
    }
}

#[test]
fn the_source_is_the_underlying_error_itself() {
    let io = Error::Io {
        path: "/m".into(),
        source: Arc::new(io::Error::new(io::ErrorKind::PermissionDenied, "denied")),
    };
    let source = io.source().unwrap().downcast_ref::<io::Error>().unwrap();
    assert_eq!(source.kind(), io::ErrorKind::PermissionDenied);

    let sql = Error::Database {
        context: "take the write lock",
        path: None,
        source: sqlite(ffi::SQLITE_BUSY, "database is locked"),
    };
    let source = sql
        .source()
        .unwrap()
        .downcast_ref::<rusqlite::Error>()
        .unwrap();
    assert_eq!(
        source.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy)
    );

    let pool = Error::Pool {
        path: None,
        source: Arc::new(r2d2_error()),
    };
    assert!(
        pool.source()
            .unwrap()
            .downcast_ref::<r2d2::Error>()
            .is_some()
    );
}

#[test]
fn only_lock_waits_io_pools_and_transient_sqlite_codes_are_transient() {
    for c in cases() {
        assert_eq!(
            c.error.is_transient(),
            c.transient,
            "is_transient() of {:?}",
            c.error
        );
    }
}

#[test]
fn sqlite_codes_decide_whether_sql_and_database_errors_are_transient() {
    let db = |code| Error::Database {
        context: "commit the migrations",
        path: None,
        source: sqlite(code, "x"),
    };
    for code in [
        ffi::SQLITE_BUSY,
        ffi::SQLITE_LOCKED,
        ffi::SQLITE_IOERR,
        ffi::SQLITE_FULL,
        ffi::SQLITE_NOMEM,
        ffi::SQLITE_PROTOCOL,
    ] {
        assert!(db(code).is_transient(), "code {code}");
    }
    for code in [
        ffi::SQLITE_ERROR,
        ffi::SQLITE_CONSTRAINT,
        ffi::SQLITE_CORRUPT,
        ffi::SQLITE_NOTADB,
        ffi::SQLITE_READONLY,
        // A missing directory or a directory at the path: retrying will not help.
        ffi::SQLITE_CANTOPEN,
    ] {
        assert!(!db(code).is_transient(), "code {code}");
    }
    // Errors that are not SQLite failures at all are not transient.
    let not_sqlite = Error::Database {
        context: "read the ledger",
        path: None,
        source: Arc::new(rusqlite::Error::QueryReturnedNoRows),
    };
    assert!(!not_sqlite.is_transient());
}

#[test]
fn origins_and_schema_objects_display_as_users_write_them() {
    assert_eq!(file("/m/0001_a.sql").to_string(), "/m/0001_a.sql");
    assert_eq!(
        Origin::Embedded("0001_a/up.sql".into()).to_string(),
        "0001_a/up.sql (embedded)"
    );
    assert_eq!(Origin::Code.to_string(), "<built in code>");
    assert_eq!(
        obj("index", "posts_by_user").to_string(),
        "index posts_by_user"
    );
}
