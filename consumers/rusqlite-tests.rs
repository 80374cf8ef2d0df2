// The tests a rusqlite user writes, shared by the consumers on the oldest
// and the newest rusqlite the crate supports (`#[path]`-included by each).

use std::sync::Barrier;

use migrate_once::fixtures::*;
use migrate_once::{Migrations, SharedDb, TestDb};
use rstest::rstest;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");

/// A helper of the project's own, written against its own rusqlite.
fn users(conn: &rusqlite::Connection) -> i64 {
    conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn the_crates_connections_are_the_projects_own_rusqlite_type() {
    let set = Migrations::from_dir(DIR).unwrap();
    let db = TestDb::in_memory(&set).unwrap();
    let conn: rusqlite::Connection = db.connect().unwrap();
    assert_eq!(users(&conn), 2);
    let pooled = db.pool().unwrap().get().unwrap();
    assert_eq!(users(&pooled), 2);
    // The re-export names the same crate.
    let _: &migrate_once::rusqlite::Connection = &conn;
    assert_eq!(migrate_once::rusqlite::version(), rusqlite::version());
}

#[test]
fn migrate_takes_the_projects_own_connection() {
    let set = Migrations::from_dir(DIR).unwrap();
    let mut conn = rusqlite::Connection::open_in_memory().unwrap();
    let report = migrate_once::migrate(&mut conn, &set).unwrap();
    assert_eq!(report.applied.len(), set.len());
    assert!(migrate_once::migrate(&mut conn, &set)
        .unwrap()
        .applied
        .is_empty());
    assert_eq!(users(&conn), 2);
}

#[test]
fn a_file_test_db_and_a_kept_one_open_with_the_projects_rusqlite() {
    let set = Migrations::from_dir(DIR).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::builder(&set).dir(dir.path()).in_memory().unwrap();
    db.connect()
        .unwrap()
        .execute(
            "INSERT INTO users (email, display_name) VALUES ('x@example.com', 'X')",
            [],
        )
        .unwrap();
    let kept = db.keep().unwrap();
    let conn = rusqlite::Connection::open(&kept).unwrap();
    assert_eq!(users(&conn), 3);
    let file = TestDb::new(&set).unwrap();
    assert_eq!(
        users(&rusqlite::Connection::open(file.path().unwrap()).unwrap()),
        2
    );
}

#[test]
fn sixteen_threads_open_one_shared_file_and_it_is_migrated_once() {
    let set = Migrations::from_dir(DIR).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.sqlite");
    let barrier = Barrier::new(16);
    std::thread::scope(|s| {
        for _ in 0..16 {
            s.spawn(|| {
                barrier.wait();
                SharedDb::open(&path, &set).unwrap();
            });
        }
    });
    let conn = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(users(&conn), 2, "the seed migration ran once");
    assert_eq!(migrate_once::ledger(&conn).unwrap().len(), set.len());
}

#[test]
fn embed_migrations_compiles_with_migrate_once_as_the_only_helper() {
    let set = migrate_once::embed_migrations!("$CARGO_MANIFEST_DIR/migrations").unwrap();
    let db = TestDb::in_memory(&set).unwrap();
    assert_eq!(users(&db.connect().unwrap()), 2);
}

#[rstest]
fn the_rstest_fixtures_read_the_projects_migrations(memory_db: TestDb, test_db: TestDb) {
    assert_eq!(users(&memory_db.connect().unwrap()), 2);
    assert_eq!(users(&test_db.connect().unwrap()), 2);
}
