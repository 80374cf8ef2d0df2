//! SQLite databases for parallel test suites, migrated exactly once and
//! validated — under `cargo test` threads, under cargo-nextest (one process
//! per test) and in CI loops that run the suite hundreds of times.
//!
//! Every test gets a database of its own, cloned from a template that was
//! migrated once for the whole run:
//!
//! ```
//! use migrate_once::{Migrations, TestDb};
//!
//! let set = Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
//! let db = TestDb::in_memory(&set)?; // or TestDb::new(&set) for a file
//! let conn = db.connect()?;
//! let users: i64 = conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;
//! assert_eq!(users, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! One file shared by many tests, threads or processes, migrated at most once
//! and validated on every open:
//!
//! ```
//! use migrate_once::{Migrations, SharedDb};
//!
//! let dir = tempfile::tempdir()?;
//! let set = migrate_once::embed_migrations!("$CARGO_MANIFEST_DIR/migrations")?;
//! let db = SharedDb::open(dir.path().join("app.sqlite"), &set)?;
//! let conn = db.pool()?.get()?;
//! conn.execute("INSERT INTO users (email, display_name) VALUES ('x@example.com', 'X')", [])?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Or migrate a connection you manage yourself:
//!
//! ```
//! use migrate_once::{Migrations, migrate};
//!
//! let set = Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
//! let mut conn = rusqlite::Connection::open_in_memory()?;
//! let report = migrate(&mut conn, &set)?;
//! assert_eq!(report.applied.len(), set.len());
//! assert!(migrate(&mut conn, &set)?.applied.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With the `rstest` feature, [`fixtures`] offers `test_db`, `memory_db` and
//! `shared_db` over the `migrations/` directory of the crate under test.
//! With `sqlx-0_8` or `sqlx-0_9`, `#[migrate_once::sqlx_test]` takes the place
//! of `#[sqlx::test]`: the same tests, each on a clone of the template.
//!
//! # Which one do I use
//!
//! | you want | use |
//! |---|---|
//! | a database per test, nothing shared | [`TestDb::in_memory`] |
//! | a database per test as a file | [`TestDb::new`] |
//! | one database many tests, threads or processes share | [`SharedDb::open`] |
//! | your migrations are code (rusqlite_migration, refinery, `execute_batch`): a template your function builds once | [`TemplateFn`] with [`TestDb::from_fn`], [`TestDb::in_memory_from_fn`], [`SharedDb::open_from_fn`] |
//! | to migrate a connection you manage (an app's start-up) | [`migrate`] / [`Migrator`] |
//! | to test the migrations: each down undoes its up, the schema is the reviewed one | [`assert_reversible`] / [`assert_schema_snapshot`] |
//!
//! # Pitfalls this crate takes care of
//!
//! - Any number of threads and processes may migrate one database at once:
//!   the write lock (`BEGIN IMMEDIATE` with a bounded wait) is taken before
//!   the ledger is read, so exactly one caller applies what is pending, and
//!   all pending migrations commit together or not at all.
//! - Per-process locks do nothing under cargo-nextest; the registry here is
//!   only a fast path, the database's own lock is the guarantee.
//! - `PRAGMA user_version` is left to the application; the crate keeps its
//!   own ledger table, [`LEDGER_TABLE`].
//! - Foreign keys are off while migrating, so a table rebuild does not
//!   cascade into child tables; `PRAGMA foreign_key_check` runs before commit.
//! - SQLite's default build scales poorly across threads; see the README's
//!   troubleshooting for the build flag that fixes it.
#![cfg_attr(docsrs, feature(doc_cfg))]

// The layout: what describes a migration set, and the ledgers' formats, at
// the root (shared by both backends: `migrations`, `sql` and `pg_sql`, the
// two dialects' lexers, `app_ledger`, `ledger`, `bookkeeping`, `plan`,
// `report`, `registry`, `error`, and `fn_key`, what both `TemplateFn`s
// share); each backend in a module of its own (`sqlite`, `postgres`),
// which imports the shared modules and never the other backend. The set imports no backend.
// What `#[sqlx_test]` expands to calls into (not public API): the parts
// both backends share (a `//` comment: an outer doc comment would make
// rustdoc resolve the module's own links in this scope).
#[cfg(any(feature = "sqlx-0_8", feature = "sqlx-0_9"))]
#[doc(hidden)]
#[path = "sqlx_test.rs"]
pub mod __sqlx_test;
mod app_ledger;
mod bookkeeping;
mod error;
mod fn_key;
mod ledger;
mod migrations;
mod pg_sql;
#[cfg(feature = "postgres")]
mod plan;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
mod registry;
mod report;
mod sql;
mod sqlite;

pub use app_ledger::AppLedger;
pub use error::{AppLedgerProblem, Error, Origin, Result, SchemaObject};
pub use ledger::{LEDGER_TABLE, LedgerRow};
pub use migrations::{Migration, Migrations};
pub use report::{Adopted, Applied, DEFAULT_LOCK_TIMEOUT, Report};

// The SQLite backend, the crate's embedded default: its API at the root.
pub use sqlite::check::{
    DataCheck, Irreversible, Problem, Reversibility, ReversibilityReport, RoundTrip,
    assert_reversible, check_reversible,
};
pub use sqlite::connection::{
    ConnectionManager, DEFAULT_BUSY_TIMEOUT, DEFAULT_POOL_SIZE, JournalMode, Pool,
};
#[cfg(feature = "diesel-2")]
#[cfg_attr(docsrs, doc(cfg(feature = "diesel-2")))]
pub use sqlite::diesel_2;
pub use sqlite::fingerprint::{Change, Difference};
#[cfg(feature = "rstest")]
#[cfg_attr(docsrs, doc(cfg(feature = "rstest")))]
pub use sqlite::fixtures;
pub use sqlite::ledger::ledger;
pub use sqlite::migrator::{Migrator, migrate};
pub use sqlite::shared::{SharedDb, SharedDbBuilder};
pub use sqlite::snapshot::{
    SnapshotOutcome, UPDATE_SNAPSHOTS_ENV, assert_schema_snapshot, check_schema_snapshot,
    schema_dump, schema_dump_of,
};
pub use sqlite::sqlite_config::memstatus_disabled;
#[cfg(feature = "sqlx-0_8")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlx-0_8")))]
pub use sqlite::sqlx::sqlx_0_8;
#[cfg(feature = "sqlx-0_9")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlx-0_9")))]
pub use sqlite::sqlx::sqlx_0_9;
// The examples use sqlx 0.9; with sqlx 0.8 alone, the macro crate's line.
pub use fn_key::BoxError;
#[cfg(any(feature = "sqlx-0_8", feature = "sqlx-0_9"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "sqlx-0_8", feature = "sqlx-0_9"))))]
#[cfg_attr(feature = "sqlx-0_9", doc = include_str!("sqlite/sqlx_test.md"))]
pub use migrate_once_macros::sqlx_test;
pub use sqlite::template::{CACHE_DIR_ENV, Template, cache_dir};
pub use sqlite::template_fn::TemplateFn;
pub use sqlite::template_key::TemplateKey;
pub use sqlite::testdb::{TEST_DB_DIR_ENV, TestDb, TestDbBuilder};

/// The README's examples, compiled as doctests (they use every feature).
/// Each is a whole test a user pastes into `tests/`: `build.rs` writes the
/// README with the few hidden lines a doctest needs to compile one, and
/// `consumers/readme` runs them, pasted as they are, in CI.
#[cfg(all(
    doctest,
    feature = "rstest",
    feature = "sqlx-0_9",
    feature = "diesel-2",
    feature = "postgres"
))]
#[doc = include_str!(concat!(env!("OUT_DIR"), "/README.doctest.md"))]
pub struct ReadmeDoctests;

/// The rusqlite this crate was built with: the `Connection` type
/// `connect()` returns. Name it as `migrate_once::rusqlite` where your own
/// rusqlite dependency might be another minor version (see the README's
/// "Which rusqlite").
pub use rusqlite;

#[doc(hidden)]
pub mod __private {
    pub use include_dir;

    /// For this crate's own tests: whether a template cached in `dir` can be
    /// recorded as verified (`template.verified`).
    pub fn records_verified_templates(dir: &std::path::Path) -> bool {
        crate::sqlite::template::records_verified(dir)
    }

    /// For this crate's own tests: forgets the template of `f` this
    /// process loaded, so that the next use finds it in the on-disk cache
    /// as a new process would.
    pub fn forget_template_fn(f: &crate::TemplateFn) {
        crate::sqlite::registry::forget_fn(f).expect("the cache directory");
    }

    /// For this crate's own tests: how many finished test databases this
    /// process rewrote as new clones (see `sqlite::background`).
    pub fn rewritten_clones() -> usize {
        crate::sqlite::background::REWRITTEN.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// For the differential tests and fuzz targets (`tests/it/differential/`,
    /// `fuzz/`): the byte ranges of the statements the migrator runs `sql` as.
    pub fn split_statements(sql: &str) -> Vec<std::ops::Range<usize>> {
        crate::sql::split(sql)
            .into_iter()
            .map(|s| s.start..s.end)
            .collect()
    }

    /// For the same: the normalizer's one-line text of `sql` and the key two
    /// texts are compared by.
    pub fn normalized(sql: &str) -> (String, String) {
        let n = crate::sqlite::normalize::Sql::new(sql);
        (n.text, n.key)
    }
}
