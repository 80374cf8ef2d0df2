//! Filling a shared in-memory (memdb VFS) database with a template's bytes.
//!
//! `sqlite3_deserialize` would be the obvious call, but it re-attaches the
//! schema to a *private* memdb store, which no other connection can open;
//! a [`TestDb`](crate::TestDb) must be shared by `connect()`, `pool()` and
//! the connection that keeps it alive. Copying pages with the backup API
//! works, but sends every page through two page caches and grows the store
//! by repeated reallocation: measured at 100 tables, 2.5 ms per clone on a
//! new thread (libtest's model) against 0.8 ms for deserializing, with ~320
//! page faults per clone against 4.
//!
//! So the bytes are written straight into the named store with the memdb
//! file's own `xWrite`: one allocation, one `memcpy`, no page cache.

use std::ffi::{c_int, c_void};

use rusqlite::{Connection, ffi};

/// A new memdb-VFS database named `uri` (`file:/<name>?vfs=memdb`) holding
/// a copy of `bytes`, and the connection that keeps it alive: every
/// connection of this process that opens `uri` shares it until the last one
/// closes. Works with every rusqlite the crate supports (`deserialize` came
/// in 0.34, and would make the copy private to one connection).
pub(crate) fn open(uri: &str, bytes: &[u8]) -> rusqlite::Result<Connection> {
    crate::sqlite_config::before_first_connection();
    let mut conn = Connection::open(uri)?;
    fill(&mut conn, bytes)?;
    Ok(conn)
}

/// A private in-memory copy of `bytes`, for reading a database image: a
/// memdb database under a fresh uuid, so no other connection opens it.
pub(crate) fn private_copy(bytes: &[u8]) -> rusqlite::Result<Connection> {
    open(
        &format!("file:/migrate-once-copy-{}?vfs=memdb", uuid::Uuid::new_v4()),
        bytes,
    )
}

/// Writes a copy of `conn`'s main database to a new file at `path`, with
/// SQLite's backup API, through `conn` itself (whose pager knows the page
/// size; see `fill`). `VACUUM INTO` would write into the memdb VFS of the
/// source, not to disk, and `serialize` changed its signature in rusqlite
/// 0.41.
pub(crate) fn write_to_file(conn: &Connection, path: &std::path::Path) -> rusqlite::Result<()> {
    use rusqlite::backup::{Backup, StepResult};
    let mut dst = Connection::open(path)?;
    let backup = Backup::new(conn, &mut dst)?;
    loop {
        match backup.step(-1)? {
            StepResult::Done => return Ok(()),
            // Another connection holds a lock on the source: wait a moment.
            _ => std::thread::sleep(std::time::Duration::from_millis(1)),
        }
    }
}

/// A new in-memory database (`:memory:`, private to the connection
/// returned) holding a copy of `conn`'s main database, made with the backup
/// API, which every rusqlite the crate supports has. For copying a live
/// database page by page: a template's bytes go through [`open`] instead.
pub(crate) fn copy_of(conn: &Connection) -> rusqlite::Result<Connection> {
    use rusqlite::backup::{Backup, StepResult};
    crate::sqlite_config::before_first_connection();
    let mut dst = Connection::open_in_memory()?;
    {
        let backup = Backup::new(conn, &mut dst)?;
        loop {
            match backup.step(-1)? {
                StepResult::Done => break,
                // Another connection holds a lock on the source: wait a moment.
                _ => std::thread::sleep(std::time::Duration::from_millis(1)),
            }
        }
    }
    Ok(dst)
}

/// Writes `bytes` as the whole content of `conn`'s main database, which must
/// be a memdb-VFS database this crate has just opened: empty, with no other
/// connection to it and nothing read through `conn` yet.
///
/// Every connection that opens the store afterwards (by its `file:/name`)
/// reads the new content; `conn`'s own pager has cached nothing, and SQLite
/// checks the header's change counter at the start of every read
/// transaction anyway.
fn fill(conn: &mut Connection, bytes: &[u8]) -> rusqlite::Result<()> {
    let failure = crate::error::sqlite_error;
    let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
    // SAFETY: `conn` is a live connection we hold exclusively (`&mut`), so
    // its handle is valid and no other thread uses it. FILE_POINTER writes
    // one `sqlite3_file*` through the pointer, which points at `file`.
    #[allow(unsafe_code)]
    let rc = unsafe {
        ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_FILE_POINTER,
            (&raw mut file).cast::<c_void>(),
        )
    };
    if rc != ffi::SQLITE_OK {
        return Err(failure(rc, "no file behind the in-memory database"));
    }
    // SAFETY: SQLite returned the open file of the main database, owned by
    // `conn`'s pager and valid while `conn` is open and unchanged; `pMethods`
    // is set by the VFS's xOpen (memdb's) and never null for an open file.
    #[allow(unsafe_code)]
    let write = unsafe { file.as_ref().and_then(|f| f.pMethods.as_ref()) }
        .and_then(|methods| methods.xWrite)
        .ok_or_else(|| failure(ffi::SQLITE_MISUSE, "the in-memory database has no xWrite"))?;
    // Chunks a C int can count, aligned to every SQLite page size; in
    // practice a template is written in one call.
    const CHUNK: usize = 1 << 30;
    for (i, chunk) in bytes.chunks(CHUNK).enumerate() {
        let len = c_int::try_from(chunk.len()).expect("a chunk is at most 1 GiB");
        let offset = i64::try_from(i * CHUNK).expect("a template is smaller than 8 EiB");
        // SAFETY: `file` is valid as above; memdb's xWrite copies `len` bytes
        // from `chunk`, which outlives the call, under the store's own mutex.
        #[allow(unsafe_code)]
        let rc = unsafe { write(file, chunk.as_ptr().cast::<c_void>(), len, offset) };
        if rc == ffi::SQLITE_FULL {
            return Err(failure(
                rc,
                &format!(
                    "the template ({} bytes) is larger than SQLite lets an in-memory \
                     database grow (SQLITE_CONFIG_MEMDB_MAXSIZE, 1 GiB by default); \
                     TestDb::new makes a file instead",
                    bytes.len()
                ),
            ));
        }
        if rc != ffi::SQLITE_OK {
            return Err(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), None));
        }
    }
    // Opening the empty store set `conn`'s page size to SQLite's default;
    // one read makes it take the template's from the header, so `conn` can
    // serialize the database correctly (`TestDb::keep`). Reads no schema.
    conn.query_row("PRAGMA schema_version", [], |_| Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database with `page_size`-byte pages and one table, as bytes.
    fn image(page_size: i64) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image.sqlite");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "page_size", page_size).unwrap();
        conn.execute_batch(
            "CREATE TABLE t(x); INSERT INTO t SELECT hex(randomblob(300)) FROM \
             (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) \
             SELECT i FROM n);",
        )
        .unwrap();
        drop(conn);
        std::fs::read(&path).unwrap()
    }

    #[test]
    fn the_filling_connection_sees_the_content_and_its_page_size() {
        for page_size in [512, 1024, 4096, 8192, 65536] {
            let bytes = image(page_size);
            let uri = format!("file:/fill-{}?vfs=memdb", uuid::Uuid::new_v4());
            let keeper = open(&uri, &bytes).unwrap();
            let seen: i64 = keeper
                .query_row("PRAGMA page_size", [], |r| r.get(0))
                .unwrap();
            assert_eq!(seen, page_size);
            let other = Connection::open(&uri).unwrap();
            let rows: i64 = other
                .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
                .unwrap();
            assert_eq!(rows, 200, "page size {page_size}");
            // What `TestDb::keep` does with the keeper: a copy written
            // through it has the template's page size and every row.
            let dir = tempfile::tempdir().unwrap();
            let kept = dir.path().join("kept.sqlite");
            write_to_file(&keeper, &kept).unwrap();
            let copy = Connection::open(&kept).unwrap();
            let (size, rows, ok): (i64, i64, String) = copy
                .query_row(
                    "SELECT (SELECT page_size FROM pragma_page_size), (SELECT count(*) FROM t), \
                     (SELECT integrity_check FROM pragma_integrity_check)",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .unwrap();
            assert_eq!((size, rows, ok.as_str()), (page_size, 200, "ok"));
        }
    }
}
