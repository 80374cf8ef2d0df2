//! Read-only databases, opened by flags and by URI: refused without a
//! byte written when there is something to migrate, fine when there is not.

use std::fs;
use std::path::Path;

use migrate_once::{Error, Migrations, migrate};
use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::{at_version_two, one_migration, small_then_big};
use crate::support::child::{ChildEnv, child_test};
use crate::support::{TempDb, files_in, snapshot, sqlite_code};

/// The ways to open a read-only connection: by flags and by URI.
fn read_only(path: &Path) -> [(&'static str, Connection); 2] {
    let flags = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open read-only by flags");
    let uri = Connection::open(format!("file:{}?mode=ro", path.display()))
        .expect("open read-only by URI");
    [("flags", flags), ("uri", uri)]
}

#[test]
fn a_fresh_read_only_database_is_refused_and_nothing_is_written() {
    let db = TempDb::named("ro.db");
    let path = db.path.clone();
    fs::File::create(&path).unwrap();
    let set = one_migration();
    let files_before = files_in(db.dir());
    for (how, mut conn) in read_only(&path) {
        let err = migrate(&mut conn, &set).unwrap_err();
        eprintln!("read-only ({how}), fresh: {err}");
        match &err {
            Error::Database {
                database: Some(p),
                source,
                ..
            } => {
                assert_eq!(p, &path, "{how}");
                assert_eq!(sqlite_code(source), Some(ErrorCode::ReadOnly), "{how}");
            }
            other => panic!("{how}: expected Error::Database: {other:?}"),
        }
        assert!(
            format!("{err:?}").contains("attempt to write a readonly database"),
            "{how}: {err:?}"
        );
        assert!(!err.is_transient(), "{how}");
        drop(conn);
        assert_eq!(files_in(db.dir()), files_before, "{how}: nothing written");
    }
}

/// A database at version 2 of [`small_then_big`] with migration 3 pending.
fn partially_migrated() -> (TempDb, Migrations) {
    (at_version_two(), small_then_big().1)
}

#[test]
fn a_partially_migrated_read_only_database_is_refused_and_nothing_is_written() {
    let (db, full) = partially_migrated();
    let path = db.path.clone();
    let before = snapshot(&path);
    let files_before = files_in(db.dir());
    for (how, mut conn) in read_only(&path) {
        let err = migrate(&mut conn, &full).unwrap_err();
        eprintln!("read-only ({how}), partially migrated: {err}");
        let source = match &err {
            Error::Database { source, .. } | Error::Sql { source, .. } => source,
            other => panic!("{how}: expected a SQLite error: {other:?}"),
        };
        assert_eq!(
            sqlite_code(source),
            Some(ErrorCode::ReadOnly),
            "{how}: {err:?}"
        );
        assert!(
            format!("{err:?}").contains("attempt to write a readonly database"),
            "{how}: {err:?}"
        );
        assert!(!err.is_transient(), "{how}");
        drop(conn);
        assert_eq!(files_in(db.dir()), files_before, "{how}: nothing written");
    }
    assert_eq!(snapshot(&path), before);
}

#[test]
fn a_partially_migrated_read_only_database_is_a_database_error_not_a_migration_error() {
    let (db, full) = partially_migrated();
    let path = db.path.clone();
    for (how, mut conn) in read_only(&path) {
        let err = migrate(&mut conn, &full).unwrap_err();
        assert!(
            matches!(&err, Error::Database { database: Some(p), source, .. }
                if *p == path && sqlite_code(source) == Some(ErrorCode::ReadOnly)),
            "{how}: a read-only database is not a fault of migration 3's SQL: {err:?}"
        );
    }
}

#[test]
fn a_fully_migrated_read_only_database_needs_no_write_and_passes() {
    let db = TempDb::named("done.db");
    let path = db.path.clone();
    let set = one_migration();
    migrate(&mut Connection::open(&path).unwrap(), &set).unwrap();
    let files_before = files_in(db.dir());
    for (how, mut conn) in read_only(&path) {
        let report = migrate(&mut conn, &set).unwrap_or_else(|e| panic!("{how}: {e}"));
        assert!(report.applied.is_empty(), "{how}");
        assert_eq!(report.already_applied, 1, "{how}");
    }
    assert_eq!(files_in(db.dir()), files_before);
}

const READ_ONLY_FILE: &str = "MIGRATE_ONCE_READ_ONLY_FILE";
const PENDING: &str = "MIGRATE_ONCE_PENDING_MIGRATIONS";

/// Run as an unprivileged user by the test below: root writes any file
/// whatever its mode.
#[test]
#[ignore = "run as a child process by faults::read_only::a_database_file_made_read_only_by_its_mode_is_refused_and_nothing_is_written"]
fn child_migrates_a_file_it_may_not_write() {
    let env = ChildEnv::of(
        "faults::read_only::a_database_file_made_read_only_by_its_mode_is_refused_and_nothing_is_written",
    );
    let path = env.path(READ_ONLY_FILE);
    let set = if env.var(PENDING) == "3" {
        small_then_big().1
    } else {
        one_migration()
    };
    // Opened as a test opens it, asking to write: SQLite opens the file
    // read-only without saying so, and the first write fails.
    let mut conn = Connection::open(&path).unwrap();
    let read_only_open = conn.is_readonly(rusqlite::MAIN_DB).unwrap();
    let by_migrate = migrate(&mut conn, &set).unwrap_err();
    drop(conn);
    let by_shared = migrate_once::SharedDb::open(&path, &set).err().unwrap();
    let read_only = |e: &Error| match e {
        Error::Database {
            database: Some(p),
            source,
            ..
        } => p == &path && sqlite_code(source) == Some(ErrorCode::ReadOnly),
        _ => false,
    };
    let says_the_file = |e: &Error| {
        let text = e.to_string();
        text.contains(&format!(
            "could not migrate a read-only database ({})",
            path.display()
        )) && !text.contains("directory")
    };
    println!(
        "RESULT read_only_open={} database_readonly={} says_the_file={} transient={}",
        u8::from(read_only_open),
        u8::from(read_only(&by_migrate) && read_only(&by_shared)),
        u8::from(says_the_file(&by_migrate) && says_the_file(&by_shared)),
        u8::from(by_migrate.is_transient() || by_shared.is_transient()),
    );
    eprintln!("migrate: {by_migrate}\nSharedDb::open: {by_shared}");
}

/// A database file made read-only by its mode (`chmod 0444`) in a
/// directory its user may write, as a user who is not root: refused with
/// SQLite's READONLY error, naming the file, not the directory, and nothing
/// written (the file byte-identical, no journal left beside it). Fresh, and
/// at version 2 with migration 3 pending.
#[cfg(target_os = "linux")]
#[test]
fn a_database_file_made_read_only_by_its_mode_is_refused_and_nothing_is_written() {
    use std::os::unix::fs::{PermissionsExt, chown};
    for pending in ["1", "3"] {
        let db = if pending == "3" {
            at_version_two()
        } else {
            let db = TempDb::named("fresh.db");
            fs::File::create(&db.path).unwrap();
            db
        };
        let path = db.path.clone();
        // The directory is the unprivileged user's to write; the file is
        // theirs too, but mode 0444.
        chown(db.dir(), Some(65534), Some(65534)).unwrap();
        fs::set_permissions(db.dir(), fs::Permissions::from_mode(0o755)).unwrap();
        chown(&path, Some(65534), Some(65534)).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o444)).unwrap();
        let bytes_before = fs::read(&path).unwrap();
        let files_before = files_in(db.dir());

        let out = child_test!(child_migrates_a_file_it_may_not_write)
            .env(READ_ONLY_FILE, &path)
            .env(PENDING, pending)
            .unprivileged()
            .run();
        assert!(out.status.success(), "{pending}: {out:?}");
        assert_eq!(out.field("read_only_open"), Some(1), "{pending}: {out:?}");
        assert_eq!(
            out.field("database_readonly"),
            Some(1),
            "{pending}: {out:?}"
        );
        assert_eq!(out.field("says_the_file"), Some(1), "{pending}: {out:?}");
        assert_eq!(out.field("transient"), Some(0), "{pending}: {out:?}");
        assert_eq!(
            fs::read(&path).unwrap(),
            bytes_before,
            "{pending}: the file changed"
        );
        assert_eq!(
            files_in(db.dir()),
            files_before,
            "{pending}: files beside it"
        );
    }
}
