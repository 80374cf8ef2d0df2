//! Migration sets: the crate's own `migrations/` and its seed rows, a set
//! whose every execution is observable, fixtures on disk, checksums.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use migrate_once::{Error, LEDGER_TABLE, Migration, Migrations};
use once_cell::sync::Lazy;
use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use sha2::{Digest, Sha256};

use super::{column, count, ledger_versions, query_one, schema_objects};

/// The crate's own `migrations/`: users (2 seed rows), posts (2), comments (1).
pub fn crate_migrations() -> &'static Migrations {
    static SET: Lazy<Migrations> = Lazy::new(|| {
        Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
            .expect("load migrations/")
    });
    &SET
}

/// The seed rows of `migrations/0004_seed.sql`, and the comment counter the
/// trigger of 0003 maintained while seeding.
pub fn assert_seeded(conn: &Connection, what: &str) {
    assert_eq!(count(conn, "users"), 2, "{what}: users");
    assert_eq!(count(conn, "posts"), 2, "{what}: posts");
    assert_eq!(count(conn, "comments"), 1, "{what}: comments");
    assert_eq!(
        column::<String>(conn, "SELECT email FROM users ORDER BY id"),
        ["ada@example.com", "grace@example.com"],
        "{what}: seed users"
    );
    assert_eq!(
        column::<String>(conn, "SELECT display_name FROM users ORDER BY id"),
        ["Ada", "Grace"],
        "{what}: seed users' names"
    );
    assert_eq!(
        query_one::<i64>(conn, "SELECT comment_count FROM posts WHERE id = 1"),
        1,
        "{what}: comment_count of post 1"
    );
}

/// The versions of `set`, in order.
pub fn set_versions(set: &Migrations) -> Vec<i64> {
    set.iter().map(Migration::version).collect()
}

/// `tests/fixtures/<rel>`.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// The error loading the migrations in `dir` must give.
pub fn load_err(dir: &Path) -> Error {
    match Migrations::from_dir(dir) {
        Ok(set) => panic!("{} loaded, an error was expected: {set:?}", dir.display()),
        Err(e) => e,
    }
}

/// SHA-256 of `text`, computed here rather than by the crate, so that the
/// checksum a migration reports is checked against an independent value.
pub fn sha256_hex(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

/// Name of the SQL function [`register_counter`] installs and migration 5 of
/// [`counting_set`] calls.
pub const COUNT_EXEC: &str = "count_exec";

/// Five migrations covering the statement kinds a real set has (CREATE
/// TABLE, CREATE INDEX, a trigger, ALTER TABLE ADD COLUMN, data). Each one
/// inserts its version into `executions`, a table without a unique
/// constraint, so running a migration twice leaves two rows instead of
/// failing. Migration 5 also calls `count_exec()`, so every connection that
/// migrates with it must have [`register_counter`] applied.
pub fn counting_set() -> Migrations {
    Migrations::new(vec![
        Migration::new(
            1,
            "create_tables",
            "CREATE TABLE executions(version INTEGER NOT NULL);
             CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
             INSERT INTO executions(version) VALUES (1);",
        ),
        Migration::new(
            2,
            "index_users_name",
            "CREATE INDEX users_name ON users(name);
             INSERT INTO executions(version) VALUES (2);",
        ),
        Migration::new(
            3,
            "audit_trigger",
            "CREATE TABLE audit(user_id INTEGER NOT NULL, name TEXT NOT NULL);
             CREATE TRIGGER users_audit AFTER INSERT ON users BEGIN
                 INSERT INTO audit(user_id, name) VALUES (new.id, new.name);
             END;
             INSERT INTO executions(version) VALUES (3);",
        ),
        Migration::new(
            4,
            "add_email",
            "ALTER TABLE users ADD COLUMN email TEXT;
             INSERT INTO users(name, email) VALUES ('ada', 'ada@example.com');
             INSERT INTO executions(version) VALUES (4);",
        ),
        Migration::new(
            5,
            "count_exec",
            "SELECT count_exec();
             INSERT INTO executions(version) VALUES (5);",
        ),
    ])
    .expect("the counting set is valid")
}

/// Installs `count_exec()` on `conn`: each call adds one to `counter`. It is
/// registered as non-deterministic so SQLite never folds two calls into one.
pub fn register_counter(conn: &Connection, counter: Arc<AtomicUsize>) -> rusqlite::Result<()> {
    conn.create_scalar_function(COUNT_EXEC, 0, FunctionFlags::SQLITE_UTF8, move |_| {
        Ok(i64::try_from(counter.fetch_add(1, Ordering::SeqCst) + 1).unwrap_or(i64::MAX))
    })
}

/// `(version, rows in executions)` for every version that ran, in order.
fn execution_counts(conn: &Connection) -> Vec<(i64, i64)> {
    let mut stmt = conn
        .prepare("SELECT version, count(*) FROM executions GROUP BY version ORDER BY version")
        .expect("prepare the executions query");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(Iterator::collect)
        .expect("read executions")
}

/// Asserts that the database behind `conn` holds exactly one complete run of
/// [`counting_set`]: each migration's body executed once, the ledger lists
/// each version once with its checksum, and the schema is what the set
/// defines, nothing more.
pub fn assert_migrated_once(conn: &Connection, set: &Migrations, what: &str) {
    let versions = set_versions(set);
    let once: Vec<(i64, i64)> = versions.iter().map(|&v| (v, 1)).collect();
    assert_eq!(
        execution_counts(conn),
        once,
        "{what}: every migration body must run exactly once ((version, runs))"
    );

    assert_eq!(
        ledger_versions(conn),
        versions,
        "{what}: the ledger must list every version once"
    );
    let ledger = migrate_once::ledger(conn).expect("read the ledger");
    for (row, m) in ledger.iter().zip(set) {
        assert_eq!(
            row.checksum,
            m.checksum(),
            "{what}: ledger checksum of {}",
            m.version()
        );
        assert_eq!(row.name, m.name(), "{what}: ledger name of {}", m.version());
    }
    assert_eq!(
        count(conn, LEDGER_TABLE),
        i64::try_from(set.len()).unwrap(),
        "{what}: ledger row count"
    );

    let expected: Vec<(String, String)> = [
        ("index", "users_name"),
        ("table", LEDGER_TABLE),
        ("table", "audit"),
        ("table", "executions"),
        ("table", "users"),
        ("trigger", "users_audit"),
    ]
    .iter()
    .map(|(t, n)| ((*t).to_string(), (*n).to_string()))
    .collect();
    assert_eq!(schema_objects(conn), expected, "{what}: sqlite_master");

    let email_columns: i64 = query_one(
        conn,
        "SELECT count(*) FROM pragma_table_info('users') WHERE name = 'email'",
    );
    assert_eq!(email_columns, 1, "{what}: users.email added once");
    assert_eq!(
        count(conn, "users"),
        1,
        "{what}: the seed row is inserted once"
    );
    assert_eq!(count(conn, "audit"), 1, "{what}: the trigger fired once");
}
