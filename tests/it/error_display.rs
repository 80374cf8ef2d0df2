//! Snapshot of every error variant's `Display` text, which of them have a
//! `source()`, and which are transient. The texts are what a user reads in a
//! failed test: a change to one must be deliberate, so each is spelled out in
//! full here.

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error as _;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use migrate_once::{
    AppLedger, AppLedgerProblem, Error, Migration, Migrations, Origin, Reversibility, SchemaObject,
};
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

/// A connection manager whose connections fail to open, or, with `blocked`,
/// one that opens one connection and then no more (so a second `get` only
/// times out).
struct Manager {
    fails: bool,
}

#[derive(Debug)]
struct OpenFailed;

impl std::fmt::Display for OpenFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("unable to open database file")
    }
}

impl std::error::Error for OpenFailed {}

impl r2d2::ManageConnection for Manager {
    type Connection = ();
    type Error = OpenFailed;
    fn connect(&self) -> Result<(), OpenFailed> {
        if self.fails { Err(OpenFailed) } else { Ok(()) }
    }
    fn is_valid(&self, _: &mut ()) -> Result<(), OpenFailed> {
        Ok(())
    }
    fn has_broken(&self, _: &mut ()) -> bool {
        false
    }
}

/// A real `r2d2::Error` (its field is private): from a pool whose every
/// connection fails to open, or, with `fails = false`, from a pool of one
/// whose only connection is taken.
fn r2d2_error(fails: bool) -> r2d2::Error {
    let pool = r2d2::Pool::builder()
        .max_size(1)
        .min_idle(Some(0))
        .connection_timeout(Duration::from_millis(100))
        .build(Manager { fails })
        .unwrap();
    let _held = (!fails).then(|| pool.get().unwrap());
    pool.get().map(drop).unwrap_err()
}

/// A real [`Error::NotReversible`] (its round trips cannot be built
/// outside the crate): migration 2's down forgets its index, or, with
/// `missing_down`, migration 3 has no down where one is required.
fn not_reversible(missing_down: bool) -> Error {
    let mut list = vec![
        Migration::new(
            1,
            "users",
            "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);",
        )
        .with_down("DROP TABLE users;"),
        Migration::new(
            2,
            "index_names",
            "CREATE INDEX users_by_name ON users(name);",
        )
        .with_down(if missing_down {
            "DROP INDEX users_by_name;"
        } else {
            "SELECT 1;"
        }),
    ];
    if missing_down {
        list.push(Migration::new(
            3,
            "seed",
            "INSERT INTO users(name) VALUES ('ada');",
        ));
    }
    let set = Migrations::new(list).unwrap();
    Reversibility::new(&set)
        .require_downs(missing_down)
        .run()
        .unwrap()
        .into_result()
        .unwrap_err()
}

/// One case: the variant's name, the error, its exact `Display` text,
/// whether it has a source, whether it is transient.
struct Case {
    variant: &'static str,
    error: Error,
    display: String,
    has_source: bool,
    transient: bool,
}

fn case(
    variant: &'static str,
    error: Error,
    display: &str,
    has_source: bool,
    transient: bool,
) -> Case {
    Case {
        variant,
        error,
        display: display.to_string(),
        has_source,
        transient,
    }
}

fn cases() -> Vec<Case> {
    let failed = Arc::new(r2d2_error(true));
    let failed_text = failed.to_string();
    assert_eq!(
        failed_text,
        "timed out waiting for connection: unable to open database file"
    );
    let busy = Arc::new(r2d2_error(false));
    assert_eq!(busy.to_string(), "timed out waiting for connection");
    let db = Some(PathBuf::from("/db/test.db"));
    let mut cases = vec![
        case(
            "Io",
            Error::Io {
                path: "/m/0001_a.sql".into(),
                source: Arc::new(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "permission denied",
                )),
            },
            "I/O error on /m/0001_a.sql",
            true,
            false,
        ),
        case(
            "Io",
            Error::Io {
                path: "/nfs/m".into(),
                source: Arc::new(io::Error::new(io::ErrorKind::TimedOut, "timed out")),
            },
            "I/O error on /nfs/m",
            true,
            true,
        ),
        case(
            "DirNotFound",
            Error::DirNotFound {
                path: "/m/missing".into(),
                looked_at: "/m/missing".into(),
            },
            "migrations directory /m/missing does not exist",
            false,
            false,
        ),
        case(
            "DirNotFound",
            Error::DirNotFound {
                path: "db/migrations".into(),
                looked_at: "/home/ada/app/db/migrations".into(),
            },
            "migrations directory db/migrations does not exist (looked for \
             /home/ada/app/db/migrations: a relative path is taken from the current directory; \
             concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/db/migrations\") does not depend on it)",
            false,
            false,
        ),
        case(
            "NotADirectory",
            Error::NotADirectory {
                path: "/m/0001_a.sql".into(),
            },
            "/m/0001_a.sql is not a directory; give the directory that holds the migrations",
            false,
            false,
        ),
        case(
            "NoMigrations",
            Error::NoMigrations {
                path: Some("/m/empty".into()),
            },
            "migrations directory /m/empty holds no migration",
            false,
            false,
        ),
        case(
            "NoMigrations",
            Error::NoMigrations { path: None },
            "the migration set is empty",
            false,
            false,
        ),
        case(
            "MissingVersion",
            Error::MissingVersion {
                path: "/m/create_users.sql".into(),
            },
            "/m/create_users.sql: a migration's name must start with its version number, as in 0001_create_users.sql",
            false,
            false,
        ),
        case(
            "InvalidVersion",
            Error::InvalidVersion {
                path: "/m/1a_x.sql".into(),
                reason: "expected `_` after the version 1, found `a`".into(),
            },
            "/m/1a_x.sql: invalid version: expected `_` after the version 1, found `a`",
            false,
            false,
        ),
        case(
            "DuplicateVersion",
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
            "DuplicateVersion",
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
            "UnusableFile",
            Error::UnusableFile {
                path: "/m/0002_b.sql~".into(),
                reason: "it looks like a migration but its name does not end in .sql",
            },
            "/m/0002_b.sql~ cannot be a migration: it looks like a migration but its name does not end in .sql",
            false,
            false,
        ),
        case(
            "UpDownMismatch",
            Error::UpDownMismatch {
                version: 1,
                up: file("/m/0001_users.up.sql"),
                down: file("/m/0001_user.down.sql"),
            },
            "the up and down migrations of version 1 have different names: /m/0001_users.up.sql and \
             /m/0001_user.down.sql; name them alike",
            false,
            false,
        ),
        case(
            "NulByte",
            Error::NulByte {
                version: 2,
                origin: file("/m/0002_b.sql"),
                offset: 13,
            },
            "migration 2 in /m/0002_b.sql holds a NUL byte at offset 13: SQLite would stop reading the \
             statement there and silently skip the rest (is the file UTF-16? save it as UTF-8)",
            false,
            false,
        ),
        case(
            "NotUtf8",
            Error::NotUtf8 {
                path: "/m/0002_latin1.sql".into(),
                valid_up_to: 17,
            },
            "/m/0002_latin1.sql is not valid UTF-8 (first invalid byte at offset 17)",
            false,
            false,
        ),
        case(
            "MissingUp",
            Error::MissingUp {
                path: "/m/0002_b".into(),
            },
            "migration directory /m/0002_b has no up.sql",
            false,
            false,
        ),
        case(
            "DownWithoutUp",
            Error::DownWithoutUp {
                path: "/m/0002_b.down.sql".into(),
            },
            "/m/0002_b.down.sql is a down migration without its up migration",
            false,
            false,
        ),
        case(
            "EmptyMigration",
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
            "ForbiddenStatement",
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
            "ChecksumMismatch",
            Error::ChecksumMismatch {
                version: 1,
                name: "create_users".into(),
                origin: file("/m/0001_create_users.sql"),
                database: db.clone(),
                applied: "aaaa".into(),
                current: "bbbb".into(),
            },
            "migration 1 (create_users) in /m/0001_create_users.sql was changed after database \
             /db/test.db applied it: applied checksum aaaa, current checksum bbbb; \
             add a new migration instead of editing an applied one \
             (a database made only for tests can be deleted instead: /db/test.db)",
            false,
            false,
        ),
        case(
            "ChecksumMismatch",
            Error::ChecksumMismatch {
                version: 1,
                name: "create_users".into(),
                origin: Origin::Code,
                database: None,
                applied: "aaaa".into(),
                current: "bbbb".into(),
            },
            "migration 1 (create_users) in <built in code> was changed after an in-memory database \
             applied it: applied checksum aaaa, current checksum bbbb; \
             add a new migration instead of editing an applied one",
            false,
            false,
        ),
        case(
            "UnknownVersion",
            Error::UnknownVersion {
                version: 9,
                name: "future".into(),
                database: db.clone(),
            },
            "database /db/test.db has applied migration 9 (future), which the migration set does not \
             have (a newer set migrated it, or that migration was removed or renumbered)",
            false,
            false,
        ),
        case(
            "AppLedgerMismatch",
            Error::AppLedgerMismatch {
                tool: AppLedger::Sqlx,
                version: 20240102000000,
                database: db.clone(),
                problem: AppLedgerProblem::ChecksumMismatch {
                    origin: file("/m/20240102000000_posts.up.sql"),
                    recorded: "0102".into(),
                    current: "abcd".into(),
                },
            },
            "sqlx's ledger (_sqlx_migrations) in database /db/test.db records migration 20240102000000 \
             with checksum 0102, but by sqlx's rule /m/20240102000000_posts.up.sql now has checksum abcd; \
             nothing was applied",
            false,
            false,
        ),
        case(
            "AppLedgerMismatch",
            Error::AppLedgerMismatch {
                tool: AppLedger::Diesel,
                version: 7,
                database: None,
                problem: AppLedgerProblem::UnknownVersion,
            },
            "diesel's ledger (__diesel_schema_migrations) in an in-memory database records migration 7, \
             which the migration set does not have; nothing was applied",
            false,
            false,
        ),
        case(
            "AppLedgerMismatch",
            Error::AppLedgerMismatch {
                tool: AppLedger::Sqlx,
                version: 3,
                database: db.clone(),
                problem: AppLedgerProblem::Failed,
            },
            "sqlx's ledger (_sqlx_migrations) in database /db/test.db records migration 3 as failed; \
             sqlx itself refuses the database until that is fixed by hand; nothing was applied",
            false,
            false,
        ),
        case(
            "OutOfOrder",
            Error::OutOfOrder {
                version: 2,
                name: "two".into(),
                origin: Origin::Code,
                database: db.clone(),
                newest_applied: 3,
            },
            "migration 2 (two) in <built in code> is pending in database /db/test.db but older than \
             its newest applied version 3; give it a newer version or allow out-of-order migrations",
            false,
            false,
        ),
        case(
            "Sql",
            Error::Sql {
                version: 3,
                name: "audit_trigger".into(),
                origin: file("/m/0003_audit_trigger.up.sql"),
                database: Some(
                    "/cache/5b6394bb85767a11268c120f/template-being-built-6da9c513.sqlite".into(),
                ),
                index: 1,
                line: 2,
                column: Some(56),
                statement: "CREATE TRIGGER posts_audit AFTER INSERT ON posts BEGIN\n    \
                            INSERT INTO audit (what) VALUES ('post ' || NEW.id,);\nEND;"
                    .into(),
                source: sqlite(ffi::SQLITE_ERROR, "near \")\": syntax error"),
            },
            "migration 3 (audit_trigger) in /m/0003_audit_trigger.up.sql failed at line 2, column 56 \
             (statement 1) of the template being built for the set in /cache/5b6394bb85767a11268c120f; \
             nothing was applied\n  statement: CREATE TRIGGER posts_audit AFTER INSERT ON posts BEGIN\n    \
             INSERT INTO audit (what) VALUES ('post ' || NEW.id,);\nEND;",
            true,
            false,
        ),
        case(
            "Sql",
            Error::Sql {
                version: 5,
                name: "create_t5".into(),
                origin: Origin::Embedded("0005_create_t5.sql".into()),
                database: db.clone(),
                index: 2,
                line: 6,
                column: None,
                statement: "INSERT INTO missing (v) VALUES (5);".into(),
                source: sqlite(ffi::SQLITE_ERROR, "no such table: missing"),
            },
            "migration 5 (create_t5) in 0005_create_t5.sql (embedded) failed at statement 2 (line 6) \
             of database /db/test.db; nothing was applied\n  statement: INSERT INTO missing (v) VALUES (5);",
            true,
            false,
        ),
        case(
            "Sql",
            Error::Sql {
                version: 1,
                name: "a".into(),
                origin: Origin::Code,
                database: None,
                index: 1,
                line: 1,
                column: None,
                statement: "CREATE TABLE a (x);".into(),
                source: sqlite(ffi::SQLITE_BUSY, "database is locked"),
            },
            "migration 1 (a) in <built in code> failed at statement 1 (line 1) of an in-memory \
             database; nothing was applied\n  statement: CREATE TABLE a (x);",
            true,
            true,
        ),
        case(
            "DownSql",
            Error::DownSql {
                version: 3,
                name: "create_comments".into(),
                origin: file("/m/0003_create_comments.down.sql"),
                database: None,
                index: 2,
                line: 4,
                column: None,
                statement: "DROP TABLE nope;".into(),
                source: sqlite(ffi::SQLITE_ERROR, "no such table: nope"),
            },
            "the down of migration 3 (create_comments) in /m/0003_create_comments.down.sql failed at \
             statement 2 (line 4) of an in-memory database; nothing of it was applied\n  statement: DROP TABLE nope;",
            true,
            false,
        ),
        case(
            "NotReversible",
            not_reversible(false),
            "down migrations do not undo their up:\n  \
             migration 2 (index_names) in <built in code>:\n    \
             after its down, the database is not as it was before its up:\n      \
             index users_by_name: extra\n    \
             applied again after its down, its up failed:\n      \
             migration 2 (index_names) in <built in code> failed at statement 1 (line 1) of an \
             in-memory database; nothing was applied\n        \
             statement: CREATE INDEX users_by_name ON users(name);\n      \
             caused by: index users_by_name already exists",
            false,
            false,
        ),
        case(
            "NotReversible",
            not_reversible(true),
            "migrations without a down, where one is required:\n  \
             migration 3 (seed) in <built in code>",
            false,
            false,
        ),
        case(
            "SnapshotMismatch",
            Error::SnapshotMismatch {
                path: "/repo/tests/schema.sql".into(),
                diff:
                    "--- /repo/tests/schema.sql\n+++ the migrated schema\n@@ -1,1 +1,2 @@\n x\n+y\n"
                        .into(),
            },
            "the migrated schema differs from its snapshot /repo/tests/schema.sql; if the change is \
             meant, run the tests again with MIGRATE_ONCE_UPDATE_SNAPSHOTS=1 to accept it\n\
             --- /repo/tests/schema.sql\n+++ the migrated schema\n@@ -1,1 +1,2 @@\n x\n+y\n",
            false,
            false,
        ),
        case(
            "SnapshotMissing",
            Error::SnapshotMissing {
                path: "/repo/tests/schema.sql".into(),
            },
            "there is no schema snapshot at /repo/tests/schema.sql; run the tests with \
             MIGRATE_ONCE_UPDATE_SNAPSHOTS=1 to write it",
            false,
            false,
        ),
        case(
            "ForeignKeyViolation",
            Error::ForeignKeyViolation {
                database: db.clone(),
                table: "child".into(),
                rowid: Some(8),
                parent: "parent".into(),
                count: 2,
            },
            "after migrating database /db/test.db, row 8 of table child refers to a missing row of \
             parent (2 foreign-key violation(s) the migrations added); nothing was applied",
            false,
            false,
        ),
        case(
            "ForeignKeyViolation",
            Error::ForeignKeyViolation {
                database: None,
                table: "child".into(),
                rowid: None,
                parent: "parent".into(),
                count: 1,
            },
            "after migrating an in-memory database, a row of table child refers to a missing row of \
             parent (1 foreign-key violation(s) the migrations added); nothing was applied",
            false,
            false,
        ),
        case(
            "LockTimeout",
            Error::LockTimeout {
                waited: Duration::from_millis(30_250),
            },
            "gave up after waiting 30250 ms for the database's write lock held by another connection",
            false,
            true,
        ),
        case(
            "InProgress",
            Error::InProgress,
            "another connection is migrating this database (no waiting was asked for)",
            false,
            true,
        ),
        case(
            "TransactionOpen",
            Error::TransactionOpen,
            "the connection is inside a transaction; migrate needs a connection with none open",
            false,
            false,
        ),
        case(
            "NotAFilePath",
            Error::NotAFilePath {
                given: ":memory:".into(),
                instead: "use TestDb::in_memory",
            },
            "`:memory:` is not a database file path; use TestDb::in_memory",
            false,
            false,
        ),
        case(
            "Validation",
            Error::Validation {
                database: db.clone(),
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
            "Validation",
            Error::Validation {
                database: None,
                missing: vec![],
                differing: vec![obj("table", "posts")],
                unexpected: vec![],
            },
            "an in-memory database does not match its migrations: defined differently: table posts;",
            false,
            false,
        ),
        case(
            "Database",
            Error::Database {
                context: "commit the migrations",
                database: db.clone(),
                source: sqlite(ffi::SQLITE_FULL, "database or disk is full"),
            },
            "could not commit the migrations (/db/test.db)",
            true,
            true,
        ),
        case(
            "Database",
            Error::Database {
                context: "read the ledger",
                database: None,
                source: sqlite(ffi::SQLITE_NOTADB, "file is not a database"),
            },
            "could not read the ledger",
            true,
            false,
        ),
        case(
            "TemplateDamaged",
            Error::TemplateDamaged {
                path: "/cache/k/template.sqlite".into(),
            },
            "the cached template /cache/k/template.sqlite no longer matches its seal (changed or \
             damaged on disk); it is checked whole, and rebuilt, on the next call",
            false,
            true,
        ),
        case(
            "TemplateFn",
            Error::TemplateFn {
                key: "v3".into(),
                problem: "failed".into(),
                source: Some(Arc::new(io::Error::other("no such table: users"))),
            },
            "the function building the template for key \"v3\" failed; no template was left behind",
            true,
            false,
        ),
        case(
            "TemplateFn",
            Error::TemplateFn {
                key: "v3".into(),
                problem: "panicked: boom".into(),
                source: None,
            },
            "the function building the template for key \"v3\" panicked: boom; no template was \
             left behind",
            false,
            false,
        ),
        case(
            "Driver",
            Error::Driver {
                driver: "sqlx",
                database: db.clone(),
                source: Arc::new(io::Error::other("pool timed out")),
            },
            "sqlx could not open database /db/test.db",
            true,
            false,
        ),
        case(
            "Pool",
            Error::Pool {
                database: db.clone(),
                source: Arc::clone(&failed),
            },
            "the connection pool of database /db/test.db could not hand out a connection",
            true,
            false,
        ),
        case(
            "Pool",
            Error::Pool {
                database: None,
                source: busy,
            },
            "the connection pool of an in-memory database could not hand out a connection",
            true,
            true,
        ),
    ];
    #[cfg(feature = "postgres")]
    cases.extend(postgres_cases());
    cases
}

/// The Postgres variants, with a driver error made without a server (a
/// connection string that does not parse): the text of each is the crate's.
#[cfg(feature = "postgres")]
fn postgres_cases() -> Vec<Case> {
    let driver = || {
        Arc::new(
            "port=not-a-number"
                .parse::<postgres::Config>()
                .expect_err("the port does not parse"),
        )
    };
    let database = "app (schema public) on 127.0.0.1:5432".to_string();
    vec![
        case(
            "Postgres",
            Error::Postgres {
                context: "take the migrator's lock",
                database: database.clone(),
                source: driver(),
            },
            "could not take the migrator's lock (app (schema public) on 127.0.0.1:5432)",
            true,
            false,
        ),
        case(
            "PostgresSql",
            Error::PostgresSql {
                version: 2,
                name: "create_posts".into(),
                origin: file("migrations/0002_create_posts.sql"),
                database: database.clone(),
                index: 3,
                line: 4,
                statement: "INSERT INTO posts (user_id, title) VALUSE (1, 'second');".into(),
                source: driver(),
            },
            "migration 2 (create_posts) in migrations/0002_create_posts.sql failed at statement 3 \
             (line 4) of app (schema public) on 127.0.0.1:5432; nothing was applied\n  statement: \
             INSERT INTO posts (user_id, title) VALUSE (1, 'second');",
            true,
            false,
        ),
        case(
            "PostgresSql",
            Error::PostgresSql {
                version: 2,
                name: "create_posts".into(),
                origin: file("migrations/0002_create_posts.sql"),
                database,
                index: 0,
                line: 1,
                statement: "CREATE TABLE posts (id int);\nCREATE TABLE posts (id int);".into(),
                source: driver(),
            },
            "migration 2 (create_posts) in migrations/0002_create_posts.sql failed on app (schema \
             public) on 127.0.0.1:5432; nothing was applied\n  migration: CREATE TABLE posts (id \
             int);\nCREATE TABLE posts (id int);",
            true,
            false,
        ),
        case(
            "TestServer",
            Error::TestServer {
                reason: "no Postgres server binaries (initdb and postgres) in PATH".into(),
            },
            "no Postgres server for tests: no Postgres server binaries (initdb and postgres) in PATH",
            false,
            false,
        ),
    ]
}

#[test]
fn the_cases_cover_every_variant() {
    let cases = cases();
    // Each name labels one variant, and different names different ones.
    let mut seen: BTreeMap<&str, std::mem::Discriminant<Error>> = BTreeMap::new();
    for c in &cases {
        let d = std::mem::discriminant(&c.error);
        assert_eq!(
            *seen.entry(c.variant).or_insert(d),
            d,
            "{} labels two variants",
            c.variant
        );
    }
    let discriminants: Vec<_> = seen.values().collect();
    for (i, d) in discriminants.iter().enumerate() {
        assert!(
            !discriminants[..i].contains(d),
            "one variant under two names"
        );
    }
    let covered: BTreeSet<&str> = seen.keys().copied().collect();
    let all: BTreeSet<&str> = [
        "Io",
        "DirNotFound",
        "NotADirectory",
        "NoMigrations",
        "MissingVersion",
        "InvalidVersion",
        "DuplicateVersion",
        "UnusableFile",
        "UpDownMismatch",
        "NulByte",
        "NotUtf8",
        "MissingUp",
        "EmptyMigration",
        "DownWithoutUp",
        "ForbiddenStatement",
        "ChecksumMismatch",
        "UnknownVersion",
        "AppLedgerMismatch",
        "OutOfOrder",
        "Sql",
        "DownSql",
        "NotReversible",
        "SnapshotMismatch",
        "SnapshotMissing",
        "ForeignKeyViolation",
        "LockTimeout",
        "InProgress",
        "TransactionOpen",
        "NotAFilePath",
        "Validation",
        "Database",
        "TemplateDamaged",
        "TemplateFn",
        "Driver",
        "Pool",
        #[cfg(feature = "postgres")]
        "Postgres",
        #[cfg(feature = "postgres")]
        "PostgresSql",
        #[cfg(feature = "postgres")]
        "TestServer",
    ]
    .into_iter()
    .collect();
    assert_eq!(covered, all);
}

#[test]
fn every_variant_displays_its_exact_text() {
    for c in cases() {
        assert_eq!(c.error.to_string(), c.display, "{}", c.variant);
    }
}

#[test]
fn the_cause_is_the_source_and_is_not_repeated_in_the_message() {
    for c in cases() {
        assert_eq!(
            c.error.source().is_some(),
            c.has_source,
            "source() of {}",
            c.variant
        );
        if let Some(source) = c.error.source() {
            let cause = source.to_string();
            assert!(
                !c.error.to_string().contains(&cause),
                "{}: the message repeats its cause {cause:?}",
                c.variant
            );
        }
    }
}

#[test]
fn debug_is_the_message_then_each_cause_once() {
    for c in cases() {
        let debug = format!("{:?}", c.error);
        assert!(debug.starts_with(&c.display), "{}: {debug}", c.variant);
        let mut expected = c.display.clone();
        let mut cause = c.error.source();
        if cause.is_some() {
            expected.push_str("\n\nCaused by:");
        }
        // Down the chain, but not SQLite's result code, which rusqlite gives
        // as the cause of its error and which only repeats its message.
        while let Some(e) = cause.filter(|e| !e.is::<ffi::Error>()) {
            expected.push_str(&format!("\n    {e}"));
            cause = e.source();
        }
        assert_eq!(debug, expected, "{}", c.variant);
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
        database: None,
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
        database: None,
        source: Arc::new(r2d2_error(true)),
    };
    assert!(
        pool.source()
            .unwrap()
            .downcast_ref::<r2d2::Error>()
            .is_some()
    );
}

#[test]
fn only_lock_waits_io_busy_pools_and_transient_sqlite_codes_are_transient() {
    for c in cases() {
        assert_eq!(
            c.error.is_transient(),
            c.transient,
            "is_transient() of {}",
            c.variant
        );
    }
}

#[test]
fn sqlite_codes_decide_whether_sql_and_database_errors_are_transient() {
    let db = |code| Error::Database {
        context: "commit the migrations",
        database: None,
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
        database: None,
        source: Arc::new(rusqlite::Error::QueryReturnedNoRows),
    };
    assert!(!not_sqlite.is_transient());
}

#[test]
fn a_long_statement_is_shortened_in_the_message_and_whole_in_the_field() {
    let statement = format!("INSERT INTO t VALUES ('{}');", "x".repeat(3_000_000));
    let err = Error::Sql {
        version: 1,
        name: "big".into(),
        origin: Origin::Code,
        database: None,
        index: 1,
        line: 1,
        column: None,
        statement: statement.clone(),
        source: sqlite(ffi::SQLITE_ERROR, "no such table: t"),
    };
    let shown = err.to_string();
    assert!(shown.len() < 1_000, "{} bytes", shown.len());
    assert!(
        shown.ends_with(&format!(" … ({} bytes in all)", statement.len())),
        "{shown}"
    );
    let Error::Sql {
        statement: whole, ..
    } = &err
    else {
        unreachable!()
    };
    assert_eq!(whole, &statement);
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
