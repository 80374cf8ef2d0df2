//! What the benches share: the migration sets they measure, generated, and
//! the floor every fresh in-memory database is measured against.

use rusqlite::{Connection, ffi};

// In a file of its own, without dependencies, so that packages without
// rusqlite (the sqlx suite's consumer crate) generate the same set.
#[path = "generated.rs"]
mod generated;
pub use generated::generated_set;

/// The floor: an in-memory connection holding a copy of `bytes`, as
/// `Connection::deserialize_read_exact` makes it (rusqlite 0.34 and later;
/// through `ffi` here, so that this builds with every rusqlite the crate
/// takes).
pub fn deserialize(bytes: &[u8]) -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    let len = i64::try_from(bytes.len()).unwrap();
    // SAFETY: `sqlite3_malloc64` returns `len` writable bytes (or null,
    // checked); they are filled from `bytes` and handed to SQLite, which
    // frees them (FREEONCLOSE). `conn.handle()` is the live connection we
    // own, used on this thread only.
    #[allow(unsafe_code)]
    unsafe {
        let buf = ffi::sqlite3_malloc64(len as u64).cast::<u8>();
        assert!(!buf.is_null(), "out of memory");
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf, bytes.len());
        let rc = ffi::sqlite3_deserialize(
            conn.handle(),
            c"main".as_ptr(),
            buf,
            len,
            len,
            ffi::SQLITE_DESERIALIZE_FREEONCLOSE | ffi::SQLITE_DESERIALIZE_RESIZEABLE,
        );
        assert_eq!(rc, ffi::SQLITE_OK);
    }
    conn
}
