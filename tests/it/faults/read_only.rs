//! Read-only databases, opened by flags and by URI: refused without a
//! byte written when there is something to migrate, fine when there is not.

use std::fs;
use std::path::Path;

use migrate_once::{Error, Migrations, migrate};
use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::{at_version_two, one_migration, small_then_big};
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
