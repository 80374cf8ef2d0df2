//! What the integration tests share, one copy of each: migration sets whose
//! every execution is observable ([`sets`]), readers of what a database
//! holds and temporary databases ([`sql`]), the files of a directory
//! ([`files`]), waiting with a deadline (here), and the harness that runs a
//! test of this binary in a child process ([`child`]).

pub mod child;
mod files;
mod sets;
mod sql;

use std::thread;
use std::time::{Duration, Instant};

use rusqlite::ErrorCode;

pub use files::{entries, files_in, noise};
pub use sets::{
    COUNT_EXEC, assert_migrated_once, assert_seeded, counting_set, crate_migrations, fixture,
    load_err, register_counter, set_versions, sha256_hex,
};
pub use sql::{
    TempDb, column, count, ledger_versions, pragma, query_one, rows_of, schema_objects, serialized,
    snapshot,
};

/// How long anything a test waits for may take before it counts as hung.
pub const DEADLINE: Duration = Duration::from_secs(90);

/// Polls `done` every 200 µs until it holds or `limit` has passed; returns
/// whether it held.
pub fn poll_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if done() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        thread::sleep(Duration::from_micros(200));
    }
}

/// Polls until `done` holds, panicking after [`DEADLINE`].
pub fn poll_until(what: &str, done: impl FnMut() -> bool) {
    assert!(poll_for(DEADLINE, done), "timed out waiting for {what}");
}

/// The SQLite result code behind a rusqlite error, if it is a SQLite failure.
pub fn sqlite_code(source: &rusqlite::Error) -> Option<ErrorCode> {
    match source {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
        rusqlite::Error::SqlInputError { error, .. } => Some(error.code),
        _ => None,
    }
}
