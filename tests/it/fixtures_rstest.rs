//! The ready rstest fixtures over the crate's own `migrations/`: `test_db`
//! and `memory_db` hand each test a seeded database of its own, `shared_db`
//! one database migrated to every version of the set. (Compiled with the
//! `rstest` feature only.)

use migrate_once::fixtures::*;
use migrate_once::{LEDGER_TABLE, SharedDb, TestDb, ledger};
use rstest::rstest;

use crate::support::{assert_seeded, count, pragma, query_one};

/// Deletes every user; with foreign keys on, posts and comments cascade.
fn wipe(db: &TestDb) {
    let conn = db.connect().unwrap();
    assert_seeded(&conn, "before the wipe");
    conn.execute("DELETE FROM users", []).unwrap();
    assert_eq!(count(&conn, "users"), 0);
    assert_eq!(
        count(&conn, "posts"),
        0,
        "foreign keys are on: posts cascade"
    );
    assert_eq!(count(&conn, "comments"), 0);
}

#[rstest]
fn test_db_is_a_seeded_file(test_db: TestDb) {
    let path = test_db.path().expect("test_db is a file").to_path_buf();
    assert!(path.is_file());
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with("migrate-once-") && name.ends_with(".sqlite"),
        "{name}"
    );
    assert_seeded(&test_db.connect().unwrap(), "test_db");
    drop(test_db);
    assert!(!path.exists(), "the fixture's file goes when the test ends");
}

#[rstest]
fn memory_db_is_seeded_and_in_memory(memory_db: TestDb) {
    assert!(memory_db.path().is_none());
    assert!(memory_db.uri().contains("vfs=memdb"), "{}", memory_db.uri());
    assert_seeded(&memory_db.connect().unwrap(), "memory_db");
}

// Two tests wipe their database while a third, possibly at the same time,
// finds its own untouched. The deterministic version follows.

#[rstest]
fn wiping_test_db_one(test_db: TestDb) {
    wipe(&test_db);
}

#[rstest]
fn wiping_memory_db_two(memory_db: TestDb) {
    wipe(&memory_db);
}

#[rstest]
fn a_third_test_still_sees_the_seed(test_db: TestDb, memory_db: TestDb) {
    assert_seeded(&test_db.connect().unwrap(), "test_db");
    assert_seeded(&memory_db.connect().unwrap(), "memory_db");
}

#[rstest]
fn two_fixtures_in_one_test_are_two_databases(
    test_db: TestDb,
    #[from(test_db)] other_file: TestDb,
    memory_db: TestDb,
    #[from(memory_db)] other_memory: TestDb,
) {
    assert_ne!(test_db.path(), other_file.path());
    assert_ne!(memory_db.uri(), other_memory.uri());
    wipe(&test_db);
    wipe(&memory_db);
    assert_seeded(&other_file.connect().unwrap(), "the other test_db");
    assert_seeded(&other_memory.connect().unwrap(), "the other memory_db");
    assert_eq!(count(&test_db.connect().unwrap(), "users"), 0);
    assert_eq!(count(&memory_db.connect().unwrap(), "users"), 0);
}

#[rstest]
#[case("ada@example.com", 1)]
#[case("GRACE@example.com", 1)]
#[case("nobody@example.com", 0)]
fn fixtures_combine_with_cases(#[case] email: &str, #[case] expected: i64, memory_db: TestDb) {
    let conn = memory_db.connect().unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM users WHERE email = ?1",
            [email],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, expected, "emails compare case-insensitively");
}

#[rstest]
fn shared_db_has_the_whole_ledger(shared_db: SharedDb) {
    let set = default_migrations().unwrap();
    assert_eq!(
        default_migrations_dir(),
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations")
    );
    let versions: Vec<i64> = set.iter().map(|m| m.version()).collect();
    assert_eq!(versions, [1, 2, 3, 4], "migrations/ has four versions");

    let name = shared_db.path().file_name().unwrap().to_str().unwrap();
    assert_eq!(
        name,
        format!("migrate-once-shared-{}.sqlite", &set.hash()[..16])
    );

    let conn = shared_db.connect().unwrap();
    let rows = ledger(&conn).unwrap();
    let got: Vec<(i64, &str, &str)> = rows
        .iter()
        .map(|r| (r.version, r.name.as_str(), r.checksum.as_str()))
        .collect();
    let want: Vec<(i64, &str, &str)> = set
        .iter()
        .map(|m| (m.version(), m.name(), m.checksum()))
        .collect();
    assert_eq!(got, want, "every version of migrations/, with its checksum");
    let ledger_rows = count(&conn, LEDGER_TABLE);
    assert_eq!(ledger_rows, 4);

    let pooled = shared_db.pool().unwrap().get().unwrap();
    assert_eq!(pragma::<i64>(&pooled, "foreign_keys"), 1);
    // Other tests may add rows to the shared database, never remove the seed.
    assert!(count(&pooled, "posts") >= 2);
    let ada: i64 = query_one(
        &pooled,
        "SELECT count(*) FROM users WHERE email = 'ada@example.com'",
    );
    assert_eq!(ada, 1);
}

#[rstest]
fn shared_db_is_one_database_for_every_test(
    shared_db: SharedDb,
    #[from(shared_db)] again: SharedDb,
) {
    assert_eq!(shared_db.path(), again.path());
    let set = default_migrations().unwrap();
    assert_eq!(ledger(&again.connect().unwrap()).unwrap().len(), set.len());
}
