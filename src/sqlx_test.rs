//! What `#[migrate_once::sqlx_test]` expands to calls into here; the
//! attribute itself (the `migrate-once-macros` crate) only rewrites the
//! test function.
//!
//! The expansion builds an [`Args`] and hands the test, coerced to a `fn`
//! pointer, to [`TestFn::run_test`]. Each backend implements `TestFn` for
//! the signatures `#[sqlx::test]` takes on it, once per sqlx version, with
//! that version's types (SQLite in `sqlite::sqlx`, Postgres in
//! `postgres::sqlx`), so the signature picks the backend and the sqlx
//! version: one attribute serves both databases and sqlx 0.8 and 0.9.
//! What is the same for all of them lives here: which migration set, the
//! runtime, and what is kept when a test fails; each backend makes its own
//! database.
//!
//! Not public API: only the expansion names it, and it changes with the
//! attribute (the two crates are released in lockstep, `=` versions).

use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::Arc;

use crate::registry::OnceMap;
use crate::{AppLedger, Error, Migration, Migrations};

/// One test's arguments, as the attribute wrote them.
pub struct Args {
    /// `module_path!()::name`: how a failure names the test.
    pub test_path: &'static str,
    /// The migrations the database gets.
    pub migrations: Source,
    /// Fixture scripts, run in this order after migrating.
    pub fixtures: &'static [Fixture],
    /// An in-memory database (`in_memory` argument) rather than a file
    /// (SQLite only).
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
/// implemented for each sqlx version for `fn` pointers of the signatures
/// `#[sqlx::test]` takes on SQLite and on Postgres, and a `SqliteConnection`
/// or `PgConnection`.
#[diagnostic::on_unimplemented(
    message = "`#[migrate_once::sqlx_test]` does not take a test of type `{Self}`",
    label = "not a signature `#[migrate_once::sqlx_test]` takes",
    note = "it takes, as `#[sqlx::test]` does, one of: `SqlitePool`, \
            `PoolConnection<Sqlite>`, `(SqlitePoolOptions, SqliteConnectOptions)`; \
            `PgPool`, `PoolConnection<Postgres>`, `(PgPoolOptions, PgConnectOptions)`; \
            or no argument; or a `SqliteConnection` or `PgConnection`",
    note = "the types must be those of sqlx 0.8 or 0.9, with the matching feature \
            of migrate-once on (`sqlx-0_8`, `sqlx-0_9`; `postgres-sqlx-0_8`, `postgres-sqlx-0_9` for Postgres)"
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
    note = "it takes, as `#[sqlx::test]` does, one of: `SqlitePool`, \
            `PoolConnection<Sqlite>`, `(SqlitePoolOptions, SqliteConnectOptions)`; \
            `PgPool`, `PoolConnection<Postgres>`, `(PgPoolOptions, PgConnectOptions)`; \
            or no argument; or a `SqliteConnection` or `PgConnection`",
    note = "the types must be those of sqlx 0.8 or 0.9, with the matching feature \
            of migrate-once on (`sqlx-0_8`, `sqlx-0_9`; `postgres-sqlx-0_8`, `postgres-sqlx-0_9` for Postgres)"
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

/// The migration sets of `#[sqlx_test]` tests, by directory or migrator
/// (`None` is an empty database).
static SETS: OnceMap<String, Option<Arc<Migrations>>> = OnceMap::new();

/// The set `key` names, built by `build` once per process: every test of
/// one directory or migrator shares it, and a set that cannot be built is
/// the same error for each of them.
fn set_named(
    key: String,
    build: impl FnOnce() -> Result<Option<Arc<Migrations>>, Error>,
) -> Result<Option<Arc<Migrations>>, Error> {
    SETS.get_or_init(key, build, |_| false)
}

/// The migration set for `source`, built once per process per directory
/// or migrator, with sqlx's ledger; `None` for an empty database.
pub(crate) fn set_for(source: &Source) -> Result<Option<Arc<Migrations>>, Error> {
    match source {
        Source::None => Ok(None),
        Source::Default(dir) if !Path::new(dir).is_dir() => Ok(None),
        Source::Default(dir) | Source::Dir(dir) => {
            set_named(format!("dir:{dir}"), || {
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
            set_named(key, || {
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

/// A test's database as the attribute's runtime hands it over: each
/// backend's `TestDb`.
pub(crate) trait Database {
    /// The test passed: remove it (off the test's thread where it can).
    fn finish(self);
    /// A `#[should_panic]` test panicked: remove it now.
    fn discard(self);
    /// Keep it, and say on stderr where it is and how to open it.
    fn keep_for(self, test: &str, how: &str);
}

/// Runs the test `start` makes on `db`, on a runtime of its own. `start`
/// takes what it needs from the database (options, a pool's future) and
/// returns the test's future, which owns it all.
///
/// The database goes when the test passes. A test that returns an error or
/// panics keeps it and says where it is, as `#[sqlx::test]` keeps its
/// database; a `#[should_panic]` test that panics keeps nothing.
pub(crate) fn run<D, F, Fut>(args: &Args, db: D, start: F) -> Fut::Output
where
    D: Database,
    F: FnOnce(&D) -> Fut,
    Fut: Future,
    Fut::Output: Outcome,
{
    let test = start(&db);
    let rt = runtime();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| rt.block_on(test)));
    // Tasks the test spawned go with the runtime, and with them any
    // connection they hold, before the database is kept or removed.
    drop(rt);
    match outcome {
        Ok(output) if output.is_success() => {
            db.finish();
            output
        }
        Ok(output) => {
            db.keep_for(args.test_path, "returned an error");
            output
        }
        Err(payload) => {
            if args.keep_on_panic {
                db.keep_for(args.test_path, "panicked");
            } else {
                db.discard();
            }
            panic::resume_unwind(payload)
        }
    }
}

/// Panics naming the test: it cannot run without its database.
pub(crate) fn fail(test: &str, what: &str, e: &dyn std::fmt::Display) -> ! {
    panic!("{test}: {what}: {e}")
}
