//! Faults a migration must survive, one module per kind: a process killed
//! (SIGKILL) at any instant while it migrates ([`kill`]), a disk that fills
//! up mid-migration ([`disk`]), files that are not databases
//! ([`bad_files`]), read-only databases ([`read_only`]), 32 processes × 16
//! threads migrating one file at once ([`race`]), and a parent-table rebuild
//! that must not cascade into its children ([`rebuild`]).
//!
//! The tests that need other processes spawn copies of this test binary that
//! run only one of the `child_*` tests ([`kill`], [`race`]): ignored tests,
//! which fail when they are run without the environment variables their
//! parent sets.
//!
//! Below: what more than one of the modules uses.

mod bad_files;
mod disk;
mod kill;
mod race;
mod read_only;
mod rebuild;

use std::fs;
use std::path::Path;

use migrate_once::{LEDGER_TABLE, Migration, Migrations, migrate};
use rusqlite::Connection;

use crate::support::{TempDb, schema_objects};

fn len_of(path: &Path) -> u64 {
    fs::metadata(path).map_or(0, |m| m.len())
}

/// Table names other than SQLite's own and the ledger, sorted.
fn user_tables(conn: &Connection) -> Vec<String> {
    schema_objects(conn)
        .into_iter()
        .filter(|(kind, name)| kind == "table" && name != LEDGER_TABLE)
        .map(|(_, name)| name)
        .collect()
}

/// Two migrations a database has applied, with user rows, and a third that
/// writes far more than the space left.
fn small_then_big() -> (Migrations, Migrations) {
    let full = Migrations::new(vec![
        Migration::new(
            1,
            "create_users",
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);",
        ),
        Migration::new(
            2,
            "create_posts",
            "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), body TEXT);",
        ),
        Migration::new(
            3,
            "fill_archive",
            "CREATE TABLE archive (id INTEGER PRIMARY KEY, blob BLOB NOT NULL);
             WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < 2000)
             INSERT INTO archive (blob) SELECT randomblob(500) FROM seq;
             CREATE INDEX archive_by_blob ON archive(blob);",
        ),
    ])
    .unwrap();
    let first_two = Migrations::new(full.iter().take(2).cloned().collect()).unwrap();
    (first_two, full)
}

/// A file database at version 2 of [`small_then_big`] with user rows.
fn at_version_two() -> TempDb {
    let db = TempDb::named("at-version-2.db");
    let (first_two, _) = small_then_big();
    let mut conn = db.open();
    migrate(&mut conn, &first_two).unwrap();
    conn.execute_batch(
        "INSERT INTO users (id, name) VALUES (1, 'ada'), (2, 'grace');
         INSERT INTO posts (user_id, body) VALUES (1, 'hello'), (2, 'world');",
    )
    .unwrap();
    db
}

fn one_migration() -> Migrations {
    Migrations::new(vec![Migration::new(
        1,
        "create_users",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);",
    )])
    .unwrap()
}
