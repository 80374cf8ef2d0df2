//! Files that are not databases: random bytes, a truncated database and
//! a directory are refused and left as they were; a zero-length file is an
//! empty database.

use std::fs;
use std::path::Path;

use migrate_once::{Error, SharedDb, ledger, migrate};
use rusqlite::{Connection, ErrorCode};
use tempfile::TempDir;

use super::{len_of, one_migration, small_then_big, user_tables};
use crate::support::{TempDb, files_in, noise, pragma, sqlite_code};

/// A migrated database truncated to one and a half pages.
fn truncated_database(dir: &Path) -> Vec<u8> {
    let path = dir.join("whole.db");
    let mut conn = Connection::open(&path).unwrap();
    migrate(&mut conn, &small_then_big().1).unwrap();
    let page = usize::try_from(pragma::<i64>(&conn, "page_size")).unwrap();
    drop(conn);
    let mut bytes = fs::read(&path).unwrap();
    assert!(bytes.len() > 2 * page);
    bytes.truncate(page * 3 / 2);
    fs::remove_file(&path).unwrap();
    bytes
}

/// `migrate` on a connection to `path` and `SharedDb::open(path)` both fail
/// with `Error::Database` naming the path and SQLite's `code`, and neither
/// changes a byte in the directory.
fn assert_refused_untouched(dir: &Path, path: &Path, code: ErrorCode, message: &str) {
    let set = one_migration();
    let files_before = files_in(dir);

    let mut conn = Connection::open(path).expect("SQLite opens files lazily");
    let err = migrate(&mut conn, &set).unwrap_err();
    eprintln!("migrate: {err}");
    match &err {
        Error::Database {
            database: Some(p),
            source,
            ..
        } => {
            assert_eq!(p, path);
            assert_eq!(sqlite_code(source), Some(code), "{source:?}");
        }
        other => panic!("expected Error::Database: {other:?}"),
    }
    assert!(!err.is_transient(), "{err}");
    // What `unwrap()` prints: the message, then SQLite's, once each.
    let text = format!("{err:?}");
    assert!(
        text.contains(&path.display().to_string()) && text.contains(message),
        "{text}"
    );
    assert_eq!(text.matches(message).count(), 1, "{text}");
    drop(conn);
    assert_eq!(files_in(dir), files_before, "migrate changed a file");

    let err = SharedDb::open(path, &set).unwrap_err();
    eprintln!("SharedDb::open: {err}");
    assert!(
        matches!(&err, Error::Database { database: Some(p), source, .. }
            if p == path && sqlite_code(source) == Some(code)),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert_eq!(files_in(dir), files_before, "SharedDb::open changed a file");
}

#[test]
fn random_bytes_are_not_a_database_and_stay_as_they_were() {
    let db = TempDb::named("random.db");
    let path = db.path.clone();
    // 8 KiB from a fixed xorshift sequence: not a SQLite header.
    fs::write(&path, noise(8192)).unwrap();
    assert_refused_untouched(
        db.dir(),
        &path,
        ErrorCode::NotADatabase,
        "file is not a database",
    );
}

#[test]
fn a_truncated_database_is_malformed_and_stays_as_it_was() {
    let tmp = TempDir::new().unwrap();
    let bytes = truncated_database(tmp.path());
    let path = tmp.path().join("truncated.db");
    fs::write(&path, bytes).unwrap();
    assert_refused_untouched(
        tmp.path(),
        &path,
        ErrorCode::DatabaseCorrupt,
        "database disk image is malformed",
    );
}

#[test]
fn a_directory_where_the_database_should_be_cannot_be_opened_and_is_left_alone() {
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("a directory.db");
    fs::create_dir(&path).unwrap();
    fs::write(path.join("keep"), b"kept").unwrap();
    let set = one_migration();
    let files_before = files_in(tmp.path());

    // A connection cannot even be opened, so `migrate` is never reached.
    let err = Connection::open(&path).unwrap_err();
    assert_eq!(sqlite_code(&err), Some(ErrorCode::CannotOpen), "{err:?}");

    let err = SharedDb::open(&path, &set).unwrap_err();
    eprintln!("SharedDb::open on a directory: {err}");
    match &err {
        Error::Database {
            context,
            database: Some(p),
            source,
        } => {
            assert_eq!(*context, "open the database");
            assert_eq!(p, &path);
            assert_eq!(sqlite_code(source), Some(ErrorCode::CannotOpen));
        }
        other => panic!("expected Error::Database: {other:?}"),
    }
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert_eq!(files_in(tmp.path()), files_before);
    assert_eq!(fs::read(path.join("keep")).unwrap(), b"kept");
}

#[test]
fn a_zero_length_file_is_an_empty_database_and_is_migrated() {
    let tmp = TempDir::new().unwrap();
    let set = one_migration();
    for (i, via_shared) in [false, true].into_iter().enumerate() {
        let path = tmp.path().join(format!("touched-{i}.db"));
        fs::File::create(&path).unwrap();
        assert_eq!(len_of(&path), 0);
        if via_shared {
            SharedDb::open(&path, &set).unwrap();
        } else {
            let mut conn = Connection::open(&path).unwrap();
            assert_eq!(migrate(&mut conn, &set).unwrap().applied_versions(), [1]);
        }
        let conn = Connection::open(&path).unwrap();
        assert_eq!(ledger(&conn).unwrap().len(), 1);
        assert_eq!(user_tables(&conn), ["users"]);
    }
}
