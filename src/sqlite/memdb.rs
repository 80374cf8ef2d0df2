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
use std::time::Duration;

use rusqlite::{Connection, ffi};

/// A new memdb-VFS database named `uri` (`file:/<name>?vfs=memdb`) holding
/// a copy of `bytes`, and the connection that keeps it alive: every
/// connection of this process that opens `uri` shares it until the last one
/// closes. Works with every rusqlite the crate supports (`deserialize` came
/// in 0.34, and would make the copy private to one connection).
pub(crate) fn open(uri: &str, bytes: &[u8]) -> rusqlite::Result<Connection> {
    crate::sqlite::sqlite_config::before_first_connection();
    let mut conn = Connection::open(uri)?;
    let mut store = Store::of(&mut conn, bytes.len())?;
    // Chunks a C int can count, aligned to every SQLite page size; in
    // practice a template is written in one call.
    const CHUNK: usize = 1 << 30;
    for (i, chunk) in bytes.chunks(CHUNK).enumerate() {
        store.write(chunk, i * CHUNK)?;
    }
    finish(conn)
}

/// As [`open`], with the bytes read from `source` (`len` of them, in
/// chunks) rather than held in memory: for a template read from its file
/// straight into the store, without a copy in between. `seen` is shown
/// each chunk as it is written (to check it against a seal); an I/O error
/// of `source` is returned as itself.
pub(crate) fn open_from(
    uri: &str,
    len: usize,
    source: &mut impl std::io::Read,
    mut seen: impl FnMut(&[u8]),
) -> Result<Connection, Either> {
    crate::sqlite::sqlite_config::before_first_connection();
    let mut conn = Connection::open(uri).map_err(Either::Sqlite)?;
    let mut store = Store::of(&mut conn, len).map_err(Either::Sqlite)?;
    // Small: every page of a new process's memory costs a page fault on
    // first touch (about 4 µs each on a 2-core VM), so a 256 KiB buffer cost
    // 0.3 ms more per test process than this one; and a chunk stays in the
    // CPU's cache between the read and the copy.
    let mut buf = vec![0u8; 64 * 1024];
    let mut at = 0;
    while at < len {
        let want = buf.len().min(len - at);
        source.read_exact(&mut buf[..want]).map_err(Either::Io)?;
        seen(&buf[..want]);
        store.write(&buf[..want], at).map_err(Either::Sqlite)?;
        at += want;
    }
    finish(conn).map_err(Either::Sqlite)
}

/// What [`open_from`] can fail with: reading the source, or SQLite.
#[derive(Debug)]
pub(crate) enum Either {
    Io(std::io::Error),
    Sqlite(rusqlite::Error),
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
    backup(conn, &mut Connection::open(path)?)
}

/// A new in-memory database (`:memory:`, private to the connection
/// returned) holding a copy of `conn`'s main database, made with the backup
/// API, which every rusqlite the crate supports has. For copying a live
/// database page by page: a template's bytes go through [`open`] instead.
pub(crate) fn copy_of(conn: &Connection) -> rusqlite::Result<Connection> {
    crate::sqlite::sqlite_config::before_first_connection();
    let mut dst = Connection::open_in_memory()?;
    backup(conn, &mut dst)?;
    Ok(dst)
}

/// Copies `src`'s main database over `dst`'s with the backup API, all pages
/// in one step (`step(-1)`, which every rusqlite the crate supports has).
/// Waits up to 5 s for a lock another connection holds on the source (in
/// memory, an open write transaction keeps every reader out; see
/// [`MEMDB_WAIT`]), then fails: a panicking test that held one must not
/// hang while its database is kept.
pub(crate) fn backup(src: &Connection, dst: &mut Connection) -> rusqlite::Result<()> {
    use rusqlite::backup::{Backup, StepResult};
    let backup = Backup::new(src, dst)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match backup.step(-1)? {
            StepResult::Done => return Ok(()),
            _ if std::time::Instant::now() >= deadline => {
                return Err(crate::error::sqlite_error(
                    ffi::SQLITE_BUSY,
                    "another connection held a lock on the database for 5 s (an open write \
                     transaction?), so it could not be copied",
                ));
            }
            // Another connection holds a lock on the source: wait a moment.
            _ => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

/// The store of `conn`'s main database, which must be a memdb-VFS database
/// this crate has just opened: empty, with no other connection to it and
/// nothing read through `conn` yet. Written with the memdb file's own
/// `xWrite`: one allocation, one `memcpy`, no page cache.
///
/// Every connection that opens the store afterwards (by its `file:/name`)
/// reads the new content; `conn`'s own pager has cached nothing, and SQLite
/// checks the header's change counter at the start of every read
/// transaction anyway.
struct Store<'c> {
    file: *mut ffi::sqlite3_file,
    write: unsafe extern "C" fn(*mut ffi::sqlite3_file, *const c_void, c_int, i64) -> c_int,
    /// How many bytes will be written in all (for the message if they do
    /// not fit).
    total: usize,
    /// The store belongs to this connection, held exclusively meanwhile.
    _conn: std::marker::PhantomData<&'c mut Connection>,
}

impl<'c> Store<'c> {
    fn of(conn: &'c mut Connection, total: usize) -> rusqlite::Result<Store<'c>> {
        let failure = crate::error::sqlite_error;
        let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
        // SAFETY: `conn` is a live connection we hold exclusively (`&mut`),
        // so its handle is valid and no other thread uses it. FILE_POINTER
        // writes one `sqlite3_file*` through the pointer, which points at
        // `file`.
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
        // SAFETY: SQLite returned the open file of the main database, owned
        // by `conn`'s pager and valid while `conn` is open and unchanged
        // (the borrow of `conn` in `Store` keeps it so); `pMethods` is set by
        // the VFS's xOpen (memdb's) and never null for an open file.
        #[allow(unsafe_code)]
        let write = unsafe { file.as_ref().and_then(|f| f.pMethods.as_ref()) }
            .and_then(|methods| methods.xWrite)
            .ok_or_else(|| failure(ffi::SQLITE_MISUSE, "the in-memory database has no xWrite"))?;
        Ok(Store {
            file,
            write,
            total,
            _conn: std::marker::PhantomData,
        })
    }

    /// Writes `chunk` (at most 1 GiB) at `offset`.
    fn write(&mut self, chunk: &[u8], offset: usize) -> rusqlite::Result<()> {
        let len = c_int::try_from(chunk.len()).expect("a chunk is at most 1 GiB");
        let offset = i64::try_from(offset).expect("a template is smaller than 8 EiB");
        // SAFETY: `file` is valid as in `of`; memdb's xWrite copies `len`
        // bytes from `chunk`, which outlives the call, under the store's own
        // mutex.
        #[allow(unsafe_code)]
        let rc = unsafe { (self.write)(self.file, chunk.as_ptr().cast::<c_void>(), len, offset) };
        match rc {
            ffi::SQLITE_OK => Ok(()),
            ffi::SQLITE_FULL => Err(crate::error::sqlite_error(
                rc,
                format!(
                    "the template ({} bytes) is larger than SQLite lets an in-memory \
                     database grow (SQLITE_CONFIG_MEMDB_MAXSIZE, 1 GiB by default); \
                     TestDb::new makes a file instead",
                    self.total
                ),
            )),
            _ => Err(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), None)),
        }
    }
}

/// How long a connection to an in-memory database waits for a lock before
/// it fails (`SQLITE_BUSY`, "database is locked"), unless the user set a
/// busy timeout of their own (then that, with a word on stderr at this
/// mark), or a shorter one.
///
/// Why: the memdb VFS lets no connection read while another holds the
/// write lock, that is for as long as another connection's write
/// transaction is open; a file in rollback-journal mode lets readers in
/// until the writer commits. A test that writes in a transaction on one
/// connection and reads through another (a pool) waits for itself, and
/// with a 30 s busy timeout it waited 30 s before it failed. Commits in
/// memory take microseconds, so a wait this long is almost always that.
pub(crate) const MEMDB_WAIT: Duration = Duration::from_secs(2);

/// The name the wait a connection was given is kept under, in its client
/// data (`sqlite3_set_clientdata`): so that code that changes a
/// connection's busy timeout for a while (the migrator) can put this wait
/// back, which `PRAGMA busy_timeout` cannot tell.
const WAIT_KEY: &std::ffi::CStr = c"migrate-once in-memory wait";

/// Sets the lock waits of `conn`, a connection to an in-memory database:
/// `busy_timeout` if the user set it (`explicit`), else [`MEMDB_WAIT`] (or
/// `busy_timeout` if shorter); says why on stderr once a wait reaches
/// [`MEMDB_WAIT`]. Replaces the connection's busy timeout with the crate's
/// busy handler: `PRAGMA busy_timeout` then reads 0.
pub(crate) fn wait_briefly(conn: &Connection, busy_timeout: Duration, explicit: bool) {
    // SAFETY: `conn` is open for the whole call and not used by any other
    // thread meanwhile (`Connection` is not `Sync`).
    #[allow(unsafe_code)]
    unsafe {
        wait_briefly_raw(conn.handle(), busy_timeout, explicit);
    }
}

/// [`wait_briefly`] for a connection of another driver (sqlx), by its
/// handle.
///
/// # Safety
///
/// `db` must be an open connection that no other thread uses during the
/// call.
#[allow(unsafe_code)]
pub(crate) unsafe fn wait_briefly_raw(
    db: *mut ffi::sqlite3,
    busy_timeout: Duration,
    explicit: bool,
) {
    let limit = if explicit {
        busy_timeout
    } else {
        busy_timeout.min(MEMDB_WAIT)
    };
    // At least 1 ms, so that the number is never a null pointer.
    let limit_ms = usize::try_from(limit.as_millis())
        .unwrap_or(usize::MAX)
        .max(1);
    // The wait is passed as the pointer's value, which is never
    // dereferenced: no data to outlive the connection.
    let data = std::ptr::without_provenance_mut::<c_void>(limit_ms);
    // SAFETY: as the caller promises; `busy` is a plain function that lives
    // forever; the client data has no destructor (it is a number).
    unsafe {
        ffi::sqlite3_busy_handler(db, Some(busy), data);
        ffi::sqlite3_set_clientdata(db, WAIT_KEY.as_ptr(), data, None);
    }
}

/// Puts back the wait [`wait_briefly`] gave `conn`, if it gave it one;
/// `false` if it did not (then the caller restores the busy timeout it
/// read).
pub(crate) fn restore_wait(conn: &Connection) -> bool {
    // SAFETY: `conn` is open and ours for the call; the client data read is
    // a number set by `wait_briefly_raw` (or null), used as one.
    #[allow(unsafe_code)]
    unsafe {
        let db = conn.handle();
        let data = ffi::sqlite3_get_clientdata(db, WAIT_KEY.as_ptr());
        if data.is_null() {
            return false;
        }
        ffi::sqlite3_busy_handler(db, Some(busy), data);
        true
    }
}

/// SQLite's busy handler for in-memory databases: waits as SQLite's own
/// does (1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, then 100 ms a try), up
/// to the wait its data holds (in ms), and says why on stderr once it has
/// waited [`MEMDB_WAIT`].
extern "C" fn busy(data: *mut c_void, count: c_int) -> c_int {
    const DELAYS: [u64; 12] = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100];
    let sum = |n: usize| -> u64 {
        DELAYS.iter().take(n).sum::<u64>()
            + 100 * u64::try_from(n.saturating_sub(DELAYS.len())).unwrap_or(u64::MAX / 200)
    };
    let count = usize::try_from(count).unwrap_or(0);
    let waited = sum(count);
    let limit = u64::try_from(data.addr()).unwrap_or(u64::MAX);
    let mark = u64::try_from(MEMDB_WAIT.as_millis()).unwrap_or(u64::MAX);
    // Said once per wait: on the try that reaches the mark.
    if waited >= mark && (count == 0 || sum(count - 1) < mark) {
        say_why(waited >= limit);
    }
    if waited >= limit {
        return 0;
    }
    let delay = DELAYS
        .get(count)
        .copied()
        .unwrap_or(100)
        .min(limit - waited);
    std::thread::sleep(Duration::from_millis(delay));
    1
}

/// The word on stderr about a long wait for a lock in memory. Through
/// `eprint!`, which a test harness captures, inside `catch_unwind`: it
/// panics if stderr is gone, and nothing may unwind into SQLite.
fn say_why(giving_up: bool) {
    let _ = std::panic::catch_unwind(|| {
        eprintln!(
            "migrate-once: a connection to an in-memory test database has waited {} s for a \
             lock{}. In memory (SQLite's memdb VFS), while one connection has a write \
             transaction open, no other connection can read or write (and a write waits for \
             every unfinished read); a file lets readers in until the writer commits. If the \
             test holds a transaction open while it queries through another connection (a \
             pool), give it a file: TestDb::new, or #[migrate_once::sqlx_test] without \
             `in_memory`.",
            MEMDB_WAIT.as_secs(),
            if giving_up {
                " and gives up (\"database is locked\")"
            } else {
                ", and goes on waiting for the busy timeout that was set"
            }
        );
    });
}

/// Opening the empty store set `conn`'s page size to SQLite's default; one
/// read makes it take the template's from the header, so `conn` copies the
/// database correctly (`TestDb::keep`). Reads no schema.
fn finish(conn: Connection) -> rusqlite::Result<Connection> {
    conn.query_row("PRAGMA schema_version", [], |_| Ok(()))?;
    Ok(conn)
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
