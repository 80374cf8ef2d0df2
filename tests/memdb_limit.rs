//! An in-memory test database larger than SQLite lets a memdb database grow
//! (`SQLITE_CONFIG_MEMDB_MAXSIZE`) is refused with an error that says so;
//! a file clone of the same template still works.
//!
//! The limit is process-wide and must be set before SQLite starts, so this
//! test has a binary of its own and sets it before anything opens a
//! connection.

use migrate_once::{Error, Migration, Migrations, TestDb};

const LIMIT: i64 = 64 * 1024;

fn limit_memdb_size() {
    // SAFETY: runs before any connection in this process (this binary's only
    // test, first statement), when `sqlite3_config` may be called; the
    // variadic argument is the `sqlite3_int64` SQLITE_CONFIG_MEMDB_MAXSIZE takes.
    #[allow(unsafe_code)]
    let rc =
        unsafe { rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMDB_MAXSIZE, LIMIT) };
    assert_eq!(rc, rusqlite::ffi::SQLITE_OK, "SQLite was already in use");
}

#[test]
fn an_in_memory_clone_over_the_memdb_limit_is_a_clear_error() {
    limit_memdb_size();
    // About 200 KB of rows: over the 64 KiB limit.
    let set = Migrations::new(vec![Migration::new(
        1,
        "big",
        "CREATE TABLE big(pad TEXT);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)
         INSERT INTO big SELECT hex(randomblob(250)) FROM n;",
    )])
    .unwrap();
    let template = migrate_once::Template::for_set(&set).unwrap();
    let size = template.size();
    assert!(
        size as i64 > LIMIT,
        "template of {size} bytes is not over the limit"
    );

    let err = TestDb::in_memory(&set).unwrap_err();
    assert!(matches!(err, Error::Database { .. }), "{err:?}");
    // The message says what the crate was doing; the cause, what to do.
    assert_eq!(err.to_string(), "could not copy the template into memory");
    let text = format!("{err:?}");
    assert!(
        text.contains(&format!("the template ({size} bytes)"))
            && text.contains("SQLITE_CONFIG_MEMDB_MAXSIZE"),
        "{text}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let file = TestDb::builder(&set).dir(tmp.path()).file().unwrap();
    let rows: i64 = file
        .connect()
        .unwrap()
        .query_row("SELECT count(*) FROM big", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 400);
}
