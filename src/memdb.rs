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

/// Writes `bytes` as the whole content of `conn`'s main database, which must
/// be a memdb-VFS database this crate has just opened: empty, with no other
/// connection to it and nothing read through `conn` yet.
///
/// Every connection that opens the store afterwards (by its `file:/name`)
/// reads the new content; `conn`'s own pager has cached nothing, and SQLite
/// checks the header's change counter at the start of every read
/// transaction anyway.
pub(crate) fn fill(conn: &mut Connection, bytes: &[u8]) -> rusqlite::Result<()> {
    let failure = |rc: c_int, what: &str| {
        rusqlite::Error::SqliteFailure(ffi::Error::new(rc), Some(what.to_owned()))
    };
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
        if rc != ffi::SQLITE_OK {
            return Err(failure(rc, "write the template into memory"));
        }
    }
    Ok(())
}
