//! What `#[migrate_once::sqlx_test]` expands to calls into here; the
//! attribute itself (the `migrate-once-macros` crate) only rewrites the
//! test function.
//!
//! The expansion builds an [`Args`] and hands the test, coerced to a `fn`
//! pointer, to [`TestFn::run_test`]. Each sqlx version's module implements
//! `TestFn` for the signatures `#[sqlx::test]` takes, with that version's
//! types, so the signature picks the sqlx version: one attribute serves
//! sqlx 0.8 and 0.9, both features on or one. Everything else here is the
//! same for both: which migration set, the database, fixtures, the runtime,
//! and what is kept when a test fails.
//!
//! Not public API: only the expansion names it, and it changes with the
//! attribute (the two crates are released in lockstep, `=` versions).

use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::Arc;

use crate::{AppLedger, Error, Migration, Migrations, TestDb};

/// One test's arguments, as the attribute wrote them.
pub struct Args {
    /// `module_path!()::name`: how a failure names the test.
    pub test_path: &'static str,
    /// The migrations the database gets.
    pub migrations: Source,
    /// Fixture scripts, run in this order after migrating.
    pub fixtures: &'static [Fixture],
    /// An in-memory database (`in_memory` argument) rather than a file.
    pub in_memory: bool,
    /// Whether a panic keeps the database (not for `#[should_panic]`).
    pub keep_on_panic: bool,
}

/// Where a test's migrations come from.
pub enum Source {
    /// The crate's `migrations/` if it is a directory, else none (sqlx's
    /// default).
    Default(&'static str),
    /// `migrations = "dir"`.
    Dir(&'static str),
    /// `migrations = false`.
    None,
    /// `migrator = "path::TO_MIGRATOR"`.
    Migrator(&'static dyn SqlxMigrator),
}

impl Source {
    /// The migrations of a sqlx `Migrator` of either version.
    pub fn migrator(migrator: &'static impl SqlxMigrator) -> Source {
        Source::Migrator(migrator)
    }
}

/// A fixture script: its path as written (relative to the test's source
/// file) and its text, embedded at compile time.
pub struct Fixture {
    /// The path, for messages.
    pub path: &'static str,
    /// The SQL.
    pub contents: &'static str,
}

/// One migration as sqlx's `Migrator` holds it.
pub struct SqlxMigration<'a> {
    /// The version.
    pub version: i64,
    /// The description (sqlx's: the file name's words).
    pub description: &'a str,
    /// The SQL.
    pub sql: &'a str,
    /// The checksum sqlx computed and compares.
    pub checksum: &'a [u8],
}

/// A sqlx `Migrator`, sqlx 0.8's or 0.9's: what `migrator = "..."` names.
#[diagnostic::on_unimplemented(
    message = "`migrator` must name a `sqlx::migrate::Migrator`, not `{Self}`",
    label = "not a sqlx `Migrator` of a version migrate-once was built for",
    note = "write `static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();` \
            and `migrator = \"MIGRATOR\"`, with the migrate-once feature of your sqlx \
            (`sqlx-0_8` or `sqlx-0_9`)"
)]
pub trait SqlxMigrator: Sync + 'static {
    /// The migrations that apply (no down migration), in sqlx's order.
    fn up_migrations(&self) -> Vec<SqlxMigration<'_>>;
    /// The table sqlx keeps its ledger in.
    fn table_name(&self) -> &str;
}

/// What a test returned says whether it passed: `()` or a `Result`, as
/// `#[sqlx::test]` takes.
#[diagnostic::on_unimplemented(
    message = "a `#[migrate_once::sqlx_test]` returns `()` or a `Result`, not `{Self}`",
    label = "returns `{Self}`"
)]
pub trait Outcome {
    /// Whether the test passed.
    fn is_success(&self) -> bool;
}

impl Outcome for () {
    fn is_success(&self) -> bool {
        true
    }
}

impl<T, E> Outcome for Result<T, E> {
    fn is_success(&self) -> bool {
        self.is_ok()
    }
}

/// A test function whose signature `#[migrate_once::sqlx_test]` takes:
/// implemented in `sqlx_0_8` and `sqlx_0_9` for `fn` pointers of the
/// signatures `#[sqlx::test]` takes on SQLite, and `SqliteConnection`.
#[diagnostic::on_unimplemented(
    message = "`#[migrate_once::sqlx_test]` does not take a test of type `{Self}`",
    label = "not a signature `#[migrate_once::sqlx_test]` takes",
    note = "it takes, as `#[sqlx::test]` does for SQLite, one of: `SqlitePool`, \
            `PoolConnection<Sqlite>`, `(SqlitePoolOptions, SqliteConnectOptions)`, \
            or no argument; or a `SqliteConnection`",
    note = "the types must be those of sqlx 0.8 or 0.9, with the matching feature \
            of migrate-once on (`sqlx-0_8`, `sqlx-0_9`)"
)]
pub trait TestFn {
    /// What the test returns.
    type Output;
    /// Runs the test on a database of its own, per `args`.
    fn run_test(self, args: Args) -> Self::Output;
}

/// A signature [`TestFn`] takes, without its return type: what the
/// attribute checks where the test itself is not compiled (outside
/// `cargo test`: doctests, `cargo check`), with the same message.
#[diagnostic::on_unimplemented(
    message = "`#[migrate_once::sqlx_test]` does not take a test of type `{Self}`",
    label = "not a signature `#[migrate_once::sqlx_test]` takes",
    note = "it takes, as `#[sqlx::test]` does for SQLite, one of: `SqlitePool`, \
            `PoolConnection<Sqlite>`, `(SqlitePoolOptions, SqliteConnectOptions)`, \
            or no argument; or a `SqliteConnection`",
    note = "the types must be those of sqlx 0.8 or 0.9, with the matching feature \
            of migrate-once on (`sqlx-0_8`, `sqlx-0_9`)"
)]
pub trait Signature {}

/// Checks that `signature` is one [`TestFn`] takes.
pub fn check_signature<S: Signature>(_signature: S) {}

/// The runtime a test runs on: a new current-thread tokio runtime with its
/// I/O and time drivers, as `#[sqlx::test]` and `#[tokio::test]` make one.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("failed to start a tokio runtime for the test")
}

/// Runs a test that takes no database to completion.
pub fn block_on<F: Future>(test: F) -> F::Output {
    runtime().block_on(test)
}

/// The migration set for `source`, built once per process per directory
/// or migrator; `None` for an empty database.
fn set_for(source: &Source) -> Result<Option<Arc<Migrations>>, Error> {
    match source {
        Source::None => Ok(None),
        Source::Default(dir) if !Path::new(dir).is_dir() => Ok(None),
        Source::Default(dir) | Source::Dir(dir) => {
            crate::sqlite::registry::sqlx_test_set(format!("dir:{dir}"), || {
                match Migrations::from_dir(dir) {
                    // sqlx migrates an empty directory to an empty database.
                    Err(Error::NoMigrations { .. }) => Ok(None),
                    // Whatever the layout, sqlx's ledger: the app's own
                    // migrator must find every migration applied.
                    set => Ok(Some(Arc::new(set?.with_app_ledgers([AppLedger::Sqlx])))),
                }
            })
        }
        Source::Migrator(migrator) => {
            let table = migrator.table_name();
            assert!(
                table == AppLedger::Sqlx.table(),
                "the migrator keeps sqlx's ledger in `{table}`, and migrate-once writes \
                 `{}` only; the app's own migrator would run every migration again",
                AppLedger::Sqlx.table()
            );
            let migrations = migrator.up_migrations();
            // Keyed by what the set is made of, not by the migrator's
            // address: `&CONST` is a new promoted static at every use. sqlx's
            // checksum stands for the SQL it was computed from, so the SQL
            // itself (100 kB at 100 tables) is not hashed for every test.
            let mut key = Vec::new();
            for m in &migrations {
                for part in [m.description.as_bytes(), m.checksum] {
                    key.extend((part.len() as u64).to_le_bytes());
                    key.extend(part);
                }
                key.extend(m.version.to_le_bytes());
                key.extend((m.sql.len() as u64).to_le_bytes());
            }
            let key = format!("migrator:{:032x}", xxhash_rust::xxh3::xxh3_128(&key));
            crate::sqlite::registry::sqlx_test_set(key, || {
                if migrations.is_empty() {
                    return Ok(None);
                }
                let list = migrations
                    .iter()
                    .map(|m| {
                        Migration::new(m.version, m.description, m.sql)
                            .with_sqlx_checksum(m.checksum)
                    })
                    .collect();
                Ok(Some(Arc::new(
                    Migrations::new(list)?.with_app_ledgers([AppLedger::Sqlx]),
                )))
            })
        }
    }
}

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
fn database(args: &Args) -> TestDb {
    let fail =
        |what: &str, e: &dyn std::fmt::Display| -> ! { panic!("{}: {what}: {e}", args.test_path) };
    let set = set_for(&args.migrations).unwrap_or_else(|e| fail("no migration set", &e));
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
    .unwrap_or_else(|e| fail("no test database", &e));
    if !args.fixtures.is_empty() {
        let conn = db.connect().unwrap_or_else(|e| fail("no connection", &e));
        for fixture in args.fixtures {
            if let Err(e) = conn.execute_batch(fixture.contents) {
                fail(
                    &format!("failed to apply test fixture {:?}", fixture.path),
                    &e,
                );
            }
        }
    }
    db
}

/// Runs the test `start` makes on a new database for `args`, on a runtime
/// of its own. `start` takes what it needs from the database (options, a
/// pool's future) and returns the test's future, which owns it all.
///
/// The database goes when the test passes. A test that returns an error or
/// panics keeps it and says where it is (an in-memory one is written to a
/// file in `MIGRATE_ONCE_DIR`), as `#[sqlx::test]` keeps its file; a
/// `#[should_panic]` test that panics keeps nothing.
pub(crate) fn run<F, Fut>(args: &Args, start: F) -> Fut::Output
where
    F: FnOnce(&TestDb) -> Fut,
    Fut: Future,
    Fut::Output: Outcome,
{
    let db = database(args);
    let test = start(&db);
    let rt = runtime();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| rt.block_on(test)));
    // Tasks the test spawned go with the runtime, and with them any
    // connection they hold, before the database is kept or removed.
    drop(rt);
    match outcome {
        Ok(output) if output.is_success() => {
            db.remove_later();
            drop(db);
            output
        }
        Ok(output) => {
            keep(db, args.test_path, "returned an error");
            output
        }
        Err(payload) => {
            if args.keep_on_panic {
                keep(db, args.test_path, "panicked");
            } else {
                let _ = db.close();
            }
            panic::resume_unwind(payload)
        }
    }
}

fn keep(db: TestDb, test: &str, how: &str) {
    match db.keep() {
        Ok(path) => eprintln!(
            "migrate-once: test {test} {how}; its database is kept at {}",
            path.display()
        ),
        Err(e) => eprintln!("migrate-once: test {test} {how}; its database could not be kept: {e}"),
    }
}
