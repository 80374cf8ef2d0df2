//! The ready rstest fixtures over the crate's own `migrations/`: `test_db`
//! and `memory_db` hand each test a seeded database of its own, `shared_db`
//! one database migrated to every version of the set. (Compiled with the
//! `rstest` feature only.)

use migrate_once::fixtures::*;
use migrate_once::{
    LEDGER_TABLE, Migrations, SharedDb, TestDb, assert_reversible, assert_schema_snapshot, ledger,
};
use rstest::rstest;

use crate::support::child::{ChildEnv, Running, child_test, ready_then_wait, wait_until_ready};
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

#[rstest]
fn the_migrations_under_test_are_reversible_from_a_fixture(migration_set: &Migrations) {
    let report = assert_reversible(migration_set);
    let versions: Vec<i64> = report.round_trips.iter().map(|t| t.version).collect();
    assert_eq!(
        versions,
        [1, 2, 3, 4],
        "every migration of migrations/ has a down"
    );
}

#[rstest]
fn the_schema_of_the_migrations_under_test_matches_its_snapshot_from_a_fixture(
    migration_set: &Migrations,
) {
    assert_schema_snapshot(migration_set, "tests/fixtures/snapshots/migrations.sql");
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
    assert!(
        name.starts_with(&format!("migrate-once-shared-{}-", &set.hash()[..16]))
            && name.ends_with(".sqlite"),
        "{name}"
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

const RUN_DIR: &str = "MIGRATE_ONCE_DIR";
const HOLD_READY: &str = "MIGRATE_ONCE_HOLD_READY";
const HOLD_GO: &str = "MIGRATE_ONCE_HOLD_GO";
const PARENT: &str = "fixtures_rstest::each_run_gets_a_fresh_shared_db_and_unused_ones_are_removed";

/// One "test run": inserts a user into the shared database and reports how
/// many there are; if asked, stays alive (holding the file) until told.
#[rstest]
#[ignore = "run as a child process by fixtures_rstest::each_run_gets_a_fresh_shared_db_and_unused_ones_are_removed"]
fn child_run_uses_the_shared_db(shared_db: SharedDb) {
    let env = ChildEnv::of(PARENT);
    let _ = env.path(RUN_DIR);
    let conn = shared_db.connect().unwrap();
    conn.execute(
        "INSERT INTO users (email, display_name) VALUES (?1, 'Run')",
        [format!("{}@example.com", uuid::Uuid::new_v4())],
    )
    .unwrap();
    let name = shared_db
        .path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    println!("RESULT users={} file={name}", count(&conn, "users"));
    if let (Some(ready), Some(go)) = (std::env::var_os(HOLD_READY), std::env::var_os(HOLD_GO)) {
        ready_then_wait(ready.as_ref(), go.as_ref());
    }
}

/// Rows one run adds are not there in the next (nextest runs share
/// `NEXTEST_RUN_ID`, each a new one); the files of runs that ended are
/// removed, those of a run still going are not.
#[test]
fn each_run_gets_a_fresh_shared_db_and_unused_ones_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let run = |id: &str| {
        child_test!(child_run_uses_the_shared_db)
            .env(RUN_DIR, dir.path())
            .env("NEXTEST_RUN_ID", id)
    };
    let files = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".sqlite"))
            .collect();
        names.sort();
        names
    };

    let a = run("run-a").run();
    assert!(a.status.success(), "{a:?}");
    assert_eq!(
        a.field("users"),
        Some(3),
        "the seed's two users and this run's"
    );
    let a_file = a.value("file").unwrap().to_string();
    assert_eq!(files(), std::slice::from_ref(&a_file));

    let b = run("run-b").run();
    assert!(b.status.success(), "{b:?}");
    assert_eq!(b.field("users"), Some(3), "run b does not see run a's row");
    let b_file = b.value("file").unwrap().to_string();
    assert_eq!(files(), std::slice::from_ref(&b_file), "run a file is gone");

    // A run still going keeps its file.
    let ready = tempfile::tempdir().unwrap();
    let go = ready.path().join("go");
    let mut held: Vec<Running> = vec![
        run("run-c")
            .env(HOLD_READY, ready.path())
            .env(HOLD_GO, &go)
            .spawn(),
    ];
    wait_until_ready(&mut held, ready.path(), "run c");
    let d = run("run-d").run();
    assert!(d.status.success(), "{d:?}");
    let d_file = d.value("file").unwrap().to_string();
    let remaining = files();
    assert_eq!(remaining.len(), 2, "{remaining:?}");
    assert!(
        remaining.contains(&d_file) && !remaining.contains(&b_file),
        "{remaining:?}"
    );
    std::fs::write(&go, b"").unwrap();
    let c = held.pop().unwrap().finish();
    assert!(c.status.success(), "{c:?}");
    assert_eq!(c.field("users"), Some(3));
}

/// Under `cargo test` (no `NEXTEST_RUN_ID`) a test binary is the whole
/// run: when it exits, its shared database and lock file go with it, and
/// the directory is as it was.
#[test]
#[cfg(unix)]
fn a_cargo_test_run_removes_its_shared_db_when_it_exits() {
    let dir = tempfile::tempdir().unwrap();
    let run = child_test!(child_run_uses_the_shared_db)
        .env(RUN_DIR, dir.path())
        .env_remove("NEXTEST_RUN_ID")
        .run();
    assert!(run.status.success(), "{run:?}");
    let file = run.value("file").unwrap().to_string();
    assert!(file.starts_with("migrate-once-shared-"), "{file}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

const BROKEN_DIR: &str = "MIGRATE_ONCE_TEST_BROKEN_PACKAGE";
const BROKEN_PARENT: &str =
    "fixtures_rstest::a_fixture_that_cannot_load_its_set_fails_at_the_test_that_asked_for_it";

/// Asks for a database of the package in `MIGRATE_ONCE_TEST_BROKEN_PACKAGE`,
/// whose migrations do not apply.
#[rstest]
#[ignore = "run as a child process by fixtures_rstest::a_fixture_that_cannot_load_its_set_fails_at_the_test_that_asked_for_it"]
fn child_asks_for_a_database_of_a_broken_set(memory_db: TestDb) {
    let _ = ChildEnv::of(BROKEN_PARENT).path(BROKEN_DIR);
    drop(memory_db);
}

/// A fixture can only panic; the panic points at the test that asked for
/// the fixture (this file, the test's line), not at the fixture's own code
/// in migrate-once, and says which test it was.
#[test]
fn a_fixture_that_cannot_load_its_set_fails_at_the_test_that_asked_for_it() {
    let package = tempfile::tempdir().unwrap();
    let migrations = package.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    std::fs::write(migrations.join("0001_a.sql"), "CREATE TABLE a(x,);").unwrap();
    let child = child_test!(child_asks_for_a_database_of_a_broken_set)
        .env(BROKEN_DIR, package.path())
        .env("CARGO_MANIFEST_DIR", package.path())
        // The panic's own lines only: a backtrace names src/sqlite/fixtures.rs.
        .env("RUST_BACKTRACE", "0")
        .run();
    assert!(!child.status.success(), "{child:?}");
    let err = &child.stderr;
    // The test's `#[rstest]` attribute, or the lines up to its `fn`.
    let test_line = line_of("fn child_asks_for_a_database_of_a_broken_set(");
    let at: usize = err
        .split_once("panicked at tests/it/fixtures_rstest.rs:")
        .and_then(|(_, rest)| rest.split(':').next())
        .and_then(|line| line.parse().ok())
        .unwrap_or_else(|| panic!("the panic points at this file: {err}"));
    assert!(
        (test_line - 2..=test_line).contains(&at),
        "points at line {at}, the test is at {test_line}: {err}"
    );
    assert!(!err.contains("panicked at src/sqlite/fixtures.rs"), "{err}");
    assert!(
        err.contains("fixtures_rstest::child_asks_for_a_database_of_a_broken_set"),
        "names the test: {err}"
    );
    assert!(err.contains("0001_a.sql failed at line 1, column"), "{err}");
}

/// The line of this file that `text` starts.
fn line_of(text: &str) -> usize {
    include_str!("fixtures_rstest.rs")
        .lines()
        .position(|l| l.starts_with(text))
        .expect("the text is in this file")
        + 1
}
