//! Ready [rstest](https://docs.rs/rstest) fixtures over the `migrations/`
//! directory of the crate under test (feature `rstest`).
//!
//! ```
//! use migrate_once::fixtures::*;
//! use migrate_once::TestDb;
//! use rstest::rstest;
//!
//! #[rstest]
//! fn counts_users(test_db: TestDb) {
//!     let conn = test_db.connect().unwrap();
//!     let n: i64 = conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0)).unwrap();
//!     assert_eq!(n, 2);
//! }
//! # fn main() {}
//! ```
//!
//! The directory is `$CARGO_MANIFEST_DIR/migrations`, read once per process
//! at run time (cargo and cargo-nextest set `CARGO_MANIFEST_DIR` when they
//! run tests). The fixtures panic with the crate's error message if it
//! cannot be loaded or migrated: a fixture has no other way to fail a test.

use std::path::PathBuf;

use once_cell::sync::Lazy;
use rstest::fixture;

use crate::{Migrations, Result, SharedDb, TestDb};

/// The `migrations/` directory of the crate under test.
pub fn default_migrations_dir() -> PathBuf {
    let root = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
        || std::env::current_dir().unwrap_or_default(),
        PathBuf::from,
    );
    root.join("migrations")
}

/// The migration set in [`default_migrations_dir`], loaded once per process.
///
/// # Errors
///
/// As [`Migrations::from_dir`]; the same error on every call.
pub fn default_migrations() -> Result<&'static Migrations> {
    static SET: Lazy<Result<Migrations>> =
        Lazy::new(|| Migrations::from_dir(default_migrations_dir()));
    SET.as_ref().map_err(Clone::clone)
}

fn set() -> &'static Migrations {
    default_migrations().unwrap_or_else(|e| panic!("migrate-once: {e}"))
}

/// A fresh database file of its own, cloned from the migrated template.
#[fixture]
pub fn test_db() -> TestDb {
    TestDb::new(set()).unwrap_or_else(|e| panic!("migrate-once: {e}"))
}

/// A fresh in-memory database of its own, cloned from the migrated template.
#[fixture]
pub fn memory_db() -> TestDb {
    TestDb::in_memory(set()).unwrap_or_else(|e| panic!("migrate-once: {e}"))
}

/// One database file shared by every test (and every test process) using
/// this migration set: `migrate-once-shared-<set hash>.sqlite` in
/// `MIGRATE_ONCE_DIR` or the system temp directory, migrated exactly once.
#[fixture]
pub fn shared_db() -> SharedDb {
    let set = set();
    let path = crate::testdb::default_dir()
        .join(format!("migrate-once-shared-{}.sqlite", &set.hash()[..16]));
    SharedDb::open(path, set).unwrap_or_else(|e| panic!("migrate-once: {e}"))
}
