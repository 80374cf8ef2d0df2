//! Schema snapshots: the crate's own migrations and the sqlx-layout fixture
//! match the snapshots kept in `tests/fixtures/snapshots/` (on the oldest
//! rusqlite here, and on the newest by `.ci/suite_on_rusqlite.sh`); the
//! dump does not depend on line endings; an added column fails with a
//! readable diff and passes once `MIGRATE_ONCE_UPDATE_SNAPSHOTS=1` wrote
//! the file.
//!
//! Whether a snapshot is written depends on the environment, which a test
//! must not change in its own process (other tests' threads read it), so
//! the tests of the variable run `assert_schema_snapshot` in a child
//! process with the variable set, or set to `0`, explicitly.

use std::fs;
use std::path::Path;

use migrate_once::{
    Migrations, SnapshotOutcome, UPDATE_SNAPSHOTS_ENV, assert_schema_snapshot, migrate,
    schema_dump, schema_dump_of,
};
use rusqlite::Connection;

use crate::support::child::{ChildEnv, Outcome, child_test};
use crate::support::{column, crate_migrations, fixture};

#[test]
fn the_crates_own_schema_matches_its_snapshot() {
    assert_schema_snapshot(
        crate_migrations(),
        "tests/fixtures/snapshots/migrations.sql",
    );
}

#[test]
fn the_sqlx_fixtures_schema_matches_its_snapshot() {
    let set = Migrations::from_dir(fixture("shop_sqlx")).unwrap();
    assert_schema_snapshot(&set, fixture("snapshots/shop_sqlx.sql"));
}

/// `dir`'s `.sql` files copied to `to`, their line endings made CRLF.
fn copy_as_crlf(dir: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let text = fs::read_to_string(e.path()).unwrap();
        fs::write(to.join(e.file_name()), text.replace('\n', "\r\n")).unwrap();
    }
}

#[test]
fn the_dump_is_the_same_on_every_run_and_for_every_line_ending() {
    for dir in [
        Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations"),
        fixture("shop_sqlx"),
    ] {
        let lf = Migrations::from_dir(&dir).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        copy_as_crlf(&dir, tmp.path());
        let crlf = Migrations::from_dir(tmp.path()).unwrap();

        // Each migrated on a connection of its own: the CRLF set's SQL is
        // what SQLite keeps, line endings and all.
        let migrated = |set: &Migrations| {
            let mut conn = Connection::open_in_memory().unwrap();
            migrate(&mut conn, set).unwrap();
            conn
        };
        let (a, b) = (migrated(&lf), migrated(&crlf));
        let sql = "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name";
        assert_ne!(
            column::<String>(&a, sql),
            column::<String>(&b, sql),
            "{}: sqlite_master differs by its line endings",
            dir.display()
        );
        let dump = schema_dump(&lf).unwrap();
        assert_eq!(schema_dump_of(&a).unwrap(), dump, "{}", dir.display());
        assert_eq!(schema_dump_of(&b).unwrap(), dump, "{}", dir.display());
        assert_eq!(schema_dump(&lf).unwrap(), dump, "a second dump");
        assert!(!dump.contains('\r'));
    }
}

#[test]
fn a_snapshot_file_checked_out_with_crlf_line_endings_still_matches() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("schema.sql");
    let dump = schema_dump(crate_migrations()).unwrap();
    fs::write(&path, dump.replace('\n', "\r\n")).unwrap();
    let outcome = snapshot_child(&crate_dir(), &path, "0");
    assert!(outcome.status.success(), "{outcome:?}");
    assert_eq!(outcome.value("outcome"), Some("Matched"));
}

const SET_DIR: &str = "MIGRATE_ONCE_TEST_SET_DIR";
const SNAPSHOT: &str = "MIGRATE_ONCE_TEST_SNAPSHOT";
const PARENT: &str = "snapshots::a_snapshot_fails_with_a_readable_diff_when_a_column_is_added_and_passes_after_an_update";

/// Asserts the snapshot of the set in `SET_DIR` at `SNAPSHOT`, with the
/// update variable its parent set.
#[test]
#[ignore = "run as a child process by snapshots::a_snapshot_fails_with_a_readable_diff_when_a_column_is_added_and_passes_after_an_update"]
fn child_asserts_the_snapshot() {
    let env = ChildEnv::of(PARENT);
    let set = Migrations::from_dir(env.path(SET_DIR)).unwrap();
    let outcome = assert_schema_snapshot(&set, env.path(SNAPSHOT));
    println!("RESULT outcome={outcome:?}");
}

fn snapshot_child(set: &Path, snapshot: &Path, update: &str) -> Outcome {
    child_test!(child_asserts_the_snapshot)
        .env(SET_DIR, set)
        .env(SNAPSHOT, snapshot)
        .env(UPDATE_SNAPSHOTS_ENV, update)
        .run()
}

fn crate_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations")
}

#[test]
fn a_snapshot_fails_with_a_readable_diff_when_a_column_is_added_and_passes_after_an_update() {
    let tmp = tempfile::tempdir().unwrap();
    let set_dir = tmp.path().join("migrations");
    fs::create_dir(&set_dir).unwrap();
    for e in fs::read_dir(crate_dir()).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), set_dir.join(e.file_name())).unwrap();
    }
    let snapshot = tmp.path().join("snapshots/schema.sql");

    // No file yet: a failure that says how to write one.
    let missing = snapshot_child(&set_dir, &snapshot, "0");
    assert!(!missing.status.success(), "{missing:?}");
    assert!(
        missing.stderr.contains(&format!(
            "there is no schema snapshot at {}; run the tests with MIGRATE_ONCE_UPDATE_SNAPSHOTS=1 to write it",
            snapshot.display()
        )),
        "{missing:?}"
    );
    assert!(!snapshot.exists());

    let written = snapshot_child(&set_dir, &snapshot, "1");
    assert!(written.status.success(), "{written:?}");
    assert_eq!(written.value("outcome"), Some("Written"));
    let matched = snapshot_child(&set_dir, &snapshot, "0");
    assert_eq!(matched.value("outcome"), Some("Matched"), "{matched:?}");

    // A column added by a new migration: the test fails with a diff.
    fs::write(
        set_dir.join("0005_add_nickname.sql"),
        "ALTER TABLE users ADD COLUMN nickname TEXT;\n",
    )
    .unwrap();
    let before = fs::read_to_string(&snapshot).unwrap();
    let drifted = snapshot_child(&set_dir, &snapshot, "0");
    assert!(!drifted.status.success(), "{drifted:?}");
    let expected = format!(
        "the migrated schema differs from its snapshot {path}; if the change is meant, \
         run the tests again with MIGRATE_ONCE_UPDATE_SNAPSHOTS=1 to accept it\n\
         --- {path}\n\
         +++ the migrated schema\n\
         @@ -31,5 +31,6 @@\n     \
         id INTEGER PRIMARY KEY,\n     \
         email TEXT NOT NULL UNIQUE COLLATE NOCASE,\n     \
         display_name TEXT NOT NULL,\n\
         -    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))\n\
         +    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),\n\
         +    nickname TEXT\n \
         );\n",
        path = snapshot.display()
    );
    assert!(drifted.stderr.contains(&expected), "{drifted:?}");
    assert_eq!(fs::read_to_string(&snapshot).unwrap(), before, "untouched");

    // Accepted with the variable: the file is rewritten, and then matches.
    let updated = snapshot_child(&set_dir, &snapshot, "1");
    assert_eq!(updated.value("outcome"), Some("Updated"), "{updated:?}");
    let set = Migrations::from_dir(&set_dir).unwrap();
    assert_eq!(
        fs::read_to_string(&snapshot).unwrap(),
        schema_dump(&set).unwrap()
    );
    let passes = snapshot_child(&set_dir, &snapshot, "0");
    assert!(passes.status.success(), "{passes:?}");
    assert_eq!(
        passes.value("outcome"),
        Some(format!("{:?}", SnapshotOutcome::Matched).as_str())
    );
}
