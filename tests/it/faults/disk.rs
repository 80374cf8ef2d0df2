//! Disk full mid-migration: a transient SQL error that changes nothing,
//! and that `SharedDb` does not remember.

use migrate_once::{Error, SharedDb, ledger, migrate};
use rusqlite::{Connection, ErrorCode};

use super::{at_version_two, small_then_big};
use crate::support::{files_in, pragma, rows_of, snapshot, sqlite_code};

/// Limits `conn`'s database to its current size plus `extra` pages. The
/// limit belongs to this connection only.
fn limit_pages(conn: &Connection, extra: i64) {
    let pages: i64 = pragma(conn, "page_count");
    let set: i64 = pragma(conn, &format!("max_page_count = {}", pages + extra));
    assert_eq!(set, pages + extra);
}

#[test]
fn a_disk_that_fills_up_mid_migration_is_a_transient_sql_error_and_changes_nothing() {
    let db = at_version_two();
    let path = db.path.clone();
    let (_, full) = small_then_big();
    let before = snapshot(&path);
    let files_before = files_in(db.dir());

    let mut conn = Connection::open(&path).unwrap();
    limit_pages(&conn, 4);
    let err = migrate(&mut conn, &full).unwrap_err();
    eprintln!("disk full: {err}");
    match &err {
        Error::Sql {
            version: 3,
            name,
            index: 2,
            statement,
            source,
            ..
        } => {
            assert_eq!(name, "fill_archive");
            assert!(statement.contains("INSERT INTO archive"), "{statement}");
            assert_eq!(sqlite_code(source), Some(ErrorCode::DiskFull), "{source:?}");
        }
        other => panic!("expected Error::Sql for migration 3, statement 2: {other:?}"),
    }
    let text = format!("{err:?}");
    assert!(
        text.contains("migration 3 (fill_archive)")
            && text.contains("database or disk is full")
            && text.contains("INSERT INTO archive"),
        "{text}"
    );
    assert!(err.is_transient(), "a full disk may pass on a retry");
    drop(conn);
    assert_eq!(snapshot(&path), before, "the database must be as it was");
    assert_eq!(files_in(db.dir()), files_before, "not a byte written");

    // Room again: the same call succeeds and keeps every row.
    let mut conn = Connection::open(&path).unwrap();
    assert_eq!(migrate(&mut conn, &full).unwrap().applied_versions(), [3]);
    assert_eq!(
        rows_of(&conn, "SELECT id, name FROM users ORDER BY id").len(),
        2,
        "user rows survive"
    );
}

#[test]
fn a_full_disk_under_shared_db_is_not_remembered_and_the_next_open_migrates() {
    let db = at_version_two();
    let path = db.path.clone();
    let (_, full) = small_then_big();
    let before = snapshot(&path);

    // The hook limits only connections to the file, not the private
    // in-memory one on which SharedDb learns the expected schema.
    let err = SharedDb::builder(&path)
        .on_connect(|c| {
            if c.path().is_some_and(|p| !p.is_empty()) {
                c.query_row("PRAGMA page_count", [], |r| r.get::<_, i64>(0))
                    .and_then(|pages| {
                        c.query_row(&format!("PRAGMA max_page_count = {}", pages + 4), [], |r| {
                            r.get::<_, i64>(0)
                        })
                    })?;
            }
            Ok(())
        })
        .open(&full)
        .unwrap_err();
    assert!(
        matches!(&err, Error::Sql { version: 3, source, .. } if sqlite_code(source) == Some(ErrorCode::DiskFull)),
        "{err:?}"
    );
    assert_eq!(snapshot(&path), before);

    let db = SharedDb::open(&path, &full).expect("a transient failure is retried");
    let conn = db.connect().unwrap();
    assert_eq!(ledger(&conn).unwrap().len(), 3);
}
