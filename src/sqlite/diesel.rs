//! diesel connections to the crate's databases (feature `diesel-2`).
//!
//! diesel opens a database by its URL with `SQLITE_OPEN_URI`, so an
//! in-memory `TestDb` is opened by its `file:/<name>?vfs=memdb` URI and
//! shared with its other connections; both drivers use the one SQLite
//! library of the process.

use std::path::Path;
use std::sync::Arc;

use diesel2::{Connection, RunQueryDsl, SqliteConnection};

use crate::sqlite::connection::Setup;
use crate::{Error, Result, SharedDb, TestDb};

/// diesel handles for the crate's databases: import it and call
/// `diesel_connection()` on a [`TestDb`] or a [`SharedDb`].
///
/// ```
/// use migrate_once::diesel_2::DieselExt;
/// use migrate_once::{Migrations, TestDb};
/// # use diesel2 as diesel;
/// use diesel::RunQueryDsl;
///
/// #[derive(diesel::QueryableByName)]
/// struct Count {
///     #[diesel(sql_type = diesel::sql_types::BigInt)]
///     n: i64,
/// }
///
/// let set = Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
/// let db = TestDb::in_memory(&set)?;
/// let mut conn = db.diesel_connection()?;
/// let users: Count = diesel::sql_query("SELECT count(*) AS n FROM users").get_result(&mut conn)?;
/// assert_eq!(users.n, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait DieselExt {
    /// A new diesel connection to this database, with its busy timeout,
    /// foreign-key setting and journal mode (an `on_connect` hook takes a
    /// rusqlite connection, and does not run on diesel's). Like
    /// `connect()`, it does not hold a `TestDb`'s database: keep the
    /// `TestDb` in scope while you use it.
    ///
    /// # Errors
    ///
    /// [`Error::Driver`] if diesel cannot open the database or run the
    /// setup; [`Error::Database`] if the `TestDb` was closed.
    fn diesel_connection(&self) -> Result<SqliteConnection>;
}

fn establish(url: &str, database: Option<&Path>, setup: &Setup) -> Result<SqliteConnection> {
    let fail = |e: Box<dyn std::error::Error + Send + Sync>| Error::Driver {
        driver: "diesel",
        database: database.map(Path::to_path_buf),
        source: Arc::from(e),
    };
    crate::sqlite::sqlite_config::before_first_connection();
    let mut conn = SqliteConnection::establish(url).map_err(|e| fail(Box::new(e)))?;
    let mut pragmas = format!(
        "PRAGMA busy_timeout = {}; PRAGMA foreign_keys = {};",
        // In memory, waits are cut short as on the crate's own connections
        // (see `TestDb::in_memory`); diesel has no busy handler of ours.
        if setup.in_memory && !setup.busy_timeout_explicit {
            setup.busy_timeout.min(crate::sqlite::memdb::MEMDB_WAIT)
        } else {
            setup.busy_timeout
        }
        .as_millis(),
        if setup.foreign_keys { "ON" } else { "OFF" }
    );
    if let Some(mode) = setup.journal_mode {
        pragmas.push_str(&format!(" PRAGMA journal_mode = {};", mode.as_str()));
    }
    for pragma in pragmas.split_inclusive(';') {
        diesel2::sql_query(pragma.trim())
            .execute(&mut conn)
            .map_err(|e| fail(Box::new(e)))?;
    }
    Ok(conn)
}

/// diesel's URL for a database file: its path, which must be UTF-8 text.
fn url_of(path: &Path) -> Result<&str> {
    path.to_str().ok_or_else(|| Error::Driver {
        driver: "diesel",
        database: Some(path.to_path_buf()),
        source: Arc::new(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "diesel takes database paths as UTF-8 text",
        )),
    })
}

impl DieselExt for TestDb {
    fn diesel_connection(&self) -> Result<SqliteConnection> {
        // diesel creates a missing database: ask first whether this one
        // may still be connected to.
        (self.owner())().map_err(Error::db("connect with diesel", self.path()))?;
        match self.path() {
            Some(path) => {
                if !path.exists() {
                    return Err(Error::db("connect with diesel", Some(path))(
                        crate::error::sqlite_error(
                            rusqlite::ffi::SQLITE_CANTOPEN,
                            "the database file is gone",
                        ),
                    ));
                }
                establish(url_of(path)?, Some(path), self.setup())
            }
            None => establish(&self.uri(), None, self.setup()),
        }
    }
}

impl DieselExt for SharedDb {
    fn diesel_connection(&self) -> Result<SqliteConnection> {
        let path = self.path();
        establish(url_of(path)?, Some(path), self.setup())
    }
}
