//! Helpers shared by the integration tests: a migration set whose every
//! execution is observable, and checks of what a migrated database holds.
//!
//! Each test file compiles its own copy of this module and uses only part of
//! it, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use std::path::Path;

use migrate_once::{LEDGER_TABLE, LedgerRow, Migration, Migrations, ledger};
use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::Value;

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
pub fn execution_counts(conn: &Connection) -> Vec<(i64, i64)> {
    let mut stmt = conn
        .prepare("SELECT version, count(*) FROM executions GROUP BY version ORDER BY version")
        .expect("prepare the executions query");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(Iterator::collect)
        .expect("read executions")
}

/// `(type, name)` of every schema object except SQLite's own, sorted.
pub fn schema_objects(conn: &Connection) -> Vec<(String, String)> {
    let mut stmt = conn
        .prepare(
            "SELECT type, name FROM sqlite_master
             WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type, name",
        )
        .expect("prepare the sqlite_master query");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(Iterator::collect)
        .expect("read sqlite_master")
}

fn count(conn: &Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("count rows of {table}: {e}"))
}

/// Asserts that the database behind `conn` holds exactly one complete run of
/// [`counting_set`]: each migration's body executed once, the ledger lists
/// each version once with its checksum, and the schema is what the set
/// defines, nothing more.
pub fn assert_migrated_once(conn: &Connection, set: &Migrations, what: &str) {
    let versions: Vec<i64> = set.iter().map(Migration::version).collect();
    let once: Vec<(i64, i64)> = versions.iter().map(|&v| (v, 1)).collect();
    assert_eq!(
        execution_counts(conn),
        once,
        "{what}: every migration body must run exactly once ((version, runs))"
    );

    let ledger = migrate_once::ledger(conn).expect("read the ledger");
    assert_eq!(
        ledger.iter().map(|r| r.version).collect::<Vec<_>>(),
        versions,
        "{what}: the ledger must list every version once"
    );
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

    let email_columns: i64 = conn
        .query_row(
            "SELECT count(*) FROM pragma_table_info('users') WHERE name = 'email'",
            [],
            |r| r.get(0),
        )
        .expect("read users' columns");
    assert_eq!(email_columns, 1, "{what}: users.email added once");
    assert_eq!(
        count(conn, "users"),
        1,
        "{what}: the seed row is inserted once"
    );
    assert_eq!(count(conn, "audit"), 1, "{what}: the trigger fired once");
}

/// What a child copy of a test binary did: its exit status and output. The
/// child reports on one line `RESULT key=value key=value ...`.
pub struct Outcome {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// The fields of the child's `RESULT` line, if it printed one.
    pub fn result(&self) -> Option<&str> {
        self.stdout
            .lines()
            .find_map(|l| l.find("RESULT ").map(|i| &l[i + "RESULT ".len()..]))
    }

    /// The value of `key=` in the `RESULT` line.
    pub fn field(&self, key: &str) -> Option<usize> {
        self.result()?
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
    }
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Every row `sql` returns, each as its column values.
pub fn rows_of(conn: &Connection, sql: &str) -> Vec<Vec<Value>> {
    let mut stmt = conn
        .prepare(sql)
        .unwrap_or_else(|e| panic!("prepare {sql}: {e}"));
    let n = stmt.column_count();
    stmt.query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())
        .and_then(Iterator::collect)
        .unwrap_or_else(|e| panic!("run {sql}: {e}"))
}

/// Everything in a database file, read through a new connection so that
/// nothing cached by the migrating connection can hide a change: every
/// `sqlite_master` row, the ledger, `user_version`, and every row of every
/// table.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub schema: Vec<(String, String, String, Option<String>)>,
    pub ledger: Vec<LedgerRow>,
    pub user_version: i64,
    pub data: Vec<(String, Vec<Vec<Value>>)>,
}

pub fn snapshot(path: &Path) -> Snapshot {
    let conn = Connection::open(path).expect("open the database for a snapshot");
    let schema: Vec<(String, String, String, Option<String>)> = {
        let mut stmt = conn
            .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .and_then(Iterator::collect)
            .unwrap()
    };
    let data = schema
        .iter()
        .filter(|(kind, ..)| kind == "table")
        .map(|(_, t, ..)| {
            let rows = rows_of(&conn, &format!("SELECT * FROM \"{t}\" ORDER BY rowid"));
            (t.clone(), rows)
        })
        .collect();
    Snapshot {
        schema,
        ledger: ledger(&conn).expect("read the ledger"),
        user_version: conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap(),
        data,
    }
}
