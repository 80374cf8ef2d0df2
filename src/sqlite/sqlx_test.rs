//! The SQLite database of a `#[migrate_once::sqlx_test]` test; what every
//! backend shares (the set, the runtime, keeping a failed test's database)
//! is in `crate::__sqlx_test`.

use crate::__sqlx_test::{Args, Database, fail, set_for};
use crate::TestDb;

/// The busy timeout of sqlx's `SqliteConnectOptions::new()`, which
/// `#[sqlx::test]` connects with.
pub(crate) const SQLX_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The test's database: a clone of its set's template (or an empty
/// database), with the fixtures run on it. Panics, naming the test, if
/// there is none to be had: the test cannot run.
///
/// What a test can see of it is what `#[sqlx::test]`'s would show: a file
/// (another process can open it by `get_filename()`), in rollback-journal
/// mode (readers get in during another connection's write transaction),
/// with sqlx's busy timeout and foreign keys, holding the app's tables and
/// sqlx's ledger and nothing of this crate's.
pub(crate) fn database(args: &Args) -> TestDb {
    let test = args.test_path;
    let set = set_for(&args.migrations).unwrap_or_else(|e| fail(test, "no migration set", &e));
    let builder = match &set {
        Some(set) => TestDb::builder(set),
        None => TestDb::empty_builder(),
    };
    // As many connections as `#[sqlx::test]`'s pool allows: a test that
    // holds many at once must not wait for one of its own.
    let builder = builder
        .pool_size(1000)
        .default_busy_timeout(SQLX_BUSY_TIMEOUT)
        .ledger(false);
    let db = if args.in_memory {
        builder.in_memory()
    } else {
        builder.file()
    }
    .unwrap_or_else(|e| fail(test, "no test database", &e));
    if !args.fixtures.is_empty() {
        let conn = db
            .connect()
            .unwrap_or_else(|e| fail(test, "no connection", &e));
        for fixture in args.fixtures {
            if let Err(e) = conn.execute_batch(fixture.contents) {
                fail(
                    test,
                    &format!("failed to apply test fixture {:?}", fixture.path),
                    &e,
                );
            }
        }
    }
    db
}

impl Database for TestDb {
    fn finish(self) {
        self.remove_later();
    }

    fn discard(self) {
        let _ = self.close();
    }

    fn keep_for(self, test: &str, how: &str) {
        match self.keep() {
            Ok(path) => eprintln!(
                "migrate-once: test {test} {how}; its database is kept at {}",
                path.display()
            ),
            Err(e) => {
                eprintln!("migrate-once: test {test} {how}; its database could not be kept: {e}")
            }
        }
    }
}
