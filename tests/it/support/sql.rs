//! Reading what a database holds, and temporary databases.

use std::path::{Path, PathBuf};

use migrate_once::{LedgerRow, ledger};
use rusqlite::Connection;
use rusqlite::types::{FromSql, Value};
use tempfile::TempDir;

use super::files_in;

/// The first column of the one row `sql` returns.
pub fn query_one<T: FromSql>(conn: &Connection, sql: &str) -> T {
    conn.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// How many rows `table` holds.
pub fn count(conn: &Connection, table: &str) -> i64 {
    query_one(conn, &format!("SELECT count(*) FROM {table}"))
}

/// The value of `PRAGMA <pragma>`: `pragma::<i64>(conn, "foreign_keys")`,
/// `pragma::<String>(conn, "journal_mode")`. A pragma that sets a value and
/// returns it works too: `pragma::<String>(conn, "journal_mode = WAL")`.
/// The bytes of `conn`'s main database, as `sqlite3_serialize` gives them
/// (through `ffi`: rusqlite's `serialize` changed its receiver in 0.41 and
/// needs a feature).
pub fn serialized(conn: &Connection) -> Vec<u8> {
    use rusqlite::ffi;
    let mut size: ffi::sqlite3_int64 = 0;
    // SAFETY: `conn` is a live connection used on this thread; SQLite
    // returns a buffer of `size` bytes from sqlite3_malloc (or null), which
    // is copied and then freed with sqlite3_free.
    #[allow(unsafe_code)]
    unsafe {
        let ptr = ffi::sqlite3_serialize(conn.handle(), c"main".as_ptr(), &mut size, 0);
        assert!(!ptr.is_null(), "sqlite3_serialize failed");
        let bytes = std::slice::from_raw_parts(ptr, usize::try_from(size).unwrap()).to_vec();
        ffi::sqlite3_free(ptr.cast());
        bytes
    }
}

pub fn pragma<T: FromSql>(conn: &Connection, pragma: &str) -> T {
    query_one(conn, &format!("PRAGMA {pragma}"))
}

/// The first column of every row `sql` returns.
pub fn column<T: FromSql>(conn: &Connection, sql: &str) -> Vec<T> {
    let mut stmt = conn
        .prepare(sql)
        .unwrap_or_else(|e| panic!("prepare {sql}: {e}"));
    stmt.query_map([], |r| r.get(0))
        .and_then(Iterator::collect)
        .unwrap_or_else(|e| panic!("run {sql}: {e}"))
}

/// Every row `sql` returns, each as its column values.
pub fn rows_of(conn: &Connection, sql: &str) -> Vec<Vec<Value>> {
    let mut stmt = conn
        .prepare(sql)
        .unwrap_or_else(|e| panic!("prepare {sql}: {e}"));
    let n = stmt.column_count();
    stmt.query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())
        .and_then(Iterator::collect)
        .unwrap_or_else(|e| panic!("run {sql}: {e}"))
}

/// `(type, name)` of every schema object except SQLite's own, sorted.
pub fn schema_objects(conn: &Connection) -> Vec<(String, String)> {
    let mut stmt = conn
        .prepare(
            "SELECT type, name FROM sqlite_master
             WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type, name",
        )
        .expect("prepare the sqlite_master query");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(Iterator::collect)
        .expect("read sqlite_master")
}

/// The versions the ledger lists, in order.
pub fn ledger_versions(conn: &Connection) -> Vec<i64> {
    ledger(conn)
        .expect("read the ledger")
        .iter()
        .map(|r| r.version)
        .collect()
}

/// Everything in a database file, read through a new connection so that
/// nothing cached by the migrating connection can hide a change: every
/// `sqlite_master` row, the ledger, `user_version`, and every row of every
/// table.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub schema: Vec<(String, String, String, Option<String>)>,
    pub ledger: Vec<LedgerRow>,
    pub user_version: i64,
    pub data: Vec<(String, Vec<Vec<Value>>)>,
}

pub fn snapshot(path: &Path) -> Snapshot {
    let conn = Connection::open(path).expect("open the database for a snapshot");
    let schema: Vec<(String, String, String, Option<String>)> = {
        let mut stmt = conn
            .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .and_then(Iterator::collect)
            .unwrap()
    };
    let data = schema
        .iter()
        .filter(|(kind, ..)| kind == "table")
        .map(|(_, t, ..)| {
            let rows = rows_of(&conn, &format!("SELECT * FROM \"{t}\" ORDER BY rowid"));
            (t.clone(), rows)
        })
        .collect();
    Snapshot {
        schema,
        ledger: ledger(&conn).expect("read the ledger"),
        user_version: pragma(&conn, "user_version"),
        data,
    }
}

/// A database file in a temporary directory of its own, removed with it.
/// The file does not exist until something opens it.
pub struct TempDb {
    dir: TempDir,
    pub path: PathBuf,
}

impl TempDb {
    /// `test.db` in a new temporary directory.
    pub fn new() -> TempDb {
        TempDb::named("test.db")
    }

    /// `name` in a new temporary directory.
    pub fn named(name: &str) -> TempDb {
        let dir = TempDir::new().expect("create a temporary directory");
        let path = dir.path().join(name);
        TempDb { dir, path }
    }

    /// The database's directory, where its journals go too.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn open(&self) -> Connection {
        Connection::open(&self.path).expect("open the database file")
    }

    /// The database's [`snapshot`], and the name and bytes of every file in
    /// its directory: equal before and after means untouched, to the byte.
    pub fn state(&self) -> (Snapshot, Vec<(String, Vec<u8>)>) {
        (snapshot(&self.path), files_in(self.dir()))
    }
}
