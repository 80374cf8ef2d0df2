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
//! The migrations themselves are tested from the same set with
//! [`migration_set`]: every down undoes its up, the schema is the one
//! reviewed.
//!
//! ```
//! use migrate_once::fixtures::*;
//! use migrate_once::{Migrations, assert_reversible, assert_schema_snapshot};
//! use rstest::rstest;
//!
//! #[rstest]
//! fn every_down_undoes_its_up(migration_set: &Migrations) {
//!     assert_reversible(migration_set);
//! }
//!
//! #[rstest]
//! fn the_schema_is_the_reviewed_one(migration_set: &Migrations) {
//!     assert_schema_snapshot(migration_set, "tests/schema.sql");
//! }
//! # fn main() {}
//! ```
//!
//! The directory is `$CARGO_MANIFEST_DIR/migrations`, read once per process
//! at run time (cargo and cargo-nextest set `CARGO_MANIFEST_DIR` when they
//! run tests). The fixtures panic with the crate's error message if it
//! cannot be loaded or migrated (a fixture has no other way to fail a
//! test); the panic points at the `#[rstest]` test that asked for the
//! fixture, and its message names that test.

use std::path::PathBuf;

use once_cell::sync::Lazy;

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

/// Makes the function `$name` an rstest fixture, as `#[rstest::fixture]`
/// would: a struct of the same name whose `default()` the `#[rstest]` macro
/// calls for an argument of that name (and `get()`, which `#[from(...)]`
/// and `#[with(...)]` reach). Written out because `#[fixture]` leaves
/// `default()` without `#[track_caller]`: a fixture that cannot be made
/// panicked at this file, and the panic now points at the `#[rstest]`
/// test that asked for it. (Checked by the crate's tests on the rstest it
/// depends on; fixtures without arguments need nothing else.)
macro_rules! fixture {
    ($name:ident -> $ty:ty) => {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        pub struct $name {}

        impl $name {
            #[doc(hidden)]
            #[track_caller]
            pub fn get() -> $ty {
                $name()
            }

            #[doc(hidden)]
            #[track_caller]
            #[allow(clippy::should_implement_trait)]
            pub fn default() -> $ty {
                Self::get()
            }
        }
    };
}

#[track_caller]
fn set() -> &'static Migrations {
    ready(default_migrations(), "")
}

/// The fixture's value, or the panic that fails the test that asked for it
/// (a fixture has no other way to fail). `#[track_caller]` on every
/// fixture makes the panic point at the test's `#[rstest]` function rather
/// than at this file, and the message names the test too: the thread's
/// name, under `cargo test` and cargo-nextest alike.
#[track_caller]
fn ready<T>(result: Result<T>, fixture: &str) -> T {
    match result {
        Ok(value) => value,
        Err(e) => {
            let test = std::thread::current()
                .name()
                .filter(|n| *n != "main")
                .map_or_else(String::new, |n| format!(" of test `{n}`"));
            let what = if fixture.is_empty() {
                "the migration set".to_string()
            } else {
                format!("the `{fixture}` fixture")
            };
            panic!("migrate-once: {what}{test} cannot be made: {e:?}")
        }
    }
}

/// The migration set in [`default_migrations_dir`] itself, for the tests
/// of the migrations: [`assert_reversible`](crate::assert_reversible),
/// [`assert_schema_snapshot`](crate::assert_schema_snapshot).
///
/// ```
/// use migrate_once::assert_reversible;
/// use migrate_once::fixtures::migration_set;
///
/// // What `#[rstest] fn t(migration_set: &Migrations)` is handed.
/// let report = assert_reversible(migration_set());
/// assert!(report.irreversible.is_empty());
/// ```
#[track_caller]
pub fn migration_set() -> &'static Migrations {
    set()
}
fixture!(migration_set -> &'static Migrations);

/// A fresh database file of its own, cloned from the migrated template.
#[track_caller]
pub fn test_db() -> TestDb {
    ready(TestDb::new(set()), "test_db")
}
fixture!(test_db -> TestDb);

/// A fresh in-memory database of its own, cloned from the migrated template.
#[track_caller]
pub fn memory_db() -> TestDb {
    ready(TestDb::in_memory(set()), "memory_db")
}
fixture!(memory_db -> TestDb);

/// One database file shared by every test of one test run using this
/// migration set, migrated exactly once: under cargo-nextest every process
/// of the run (they share `NEXTEST_RUN_ID`), under `cargo test` the tests
/// of one test binary. Each run starts from a fresh file, so rows one run
/// inserts are not there for the next:
/// `migrate-once-shared-<set hash>-<run>.sqlite` (and a `.lock` beside it)
/// in `MIGRATE_ONCE_DIR` (by default a directory of the user's own; see
/// [`TEST_DB_DIR_ENV`](crate::TEST_DB_DIR_ENV)).
///
/// Under `cargo test` the run is the test binary's process, and its files
/// are removed when it exits (on Unix; a process killed outright cannot).
/// Under cargo-nextest no process can tell that the run has ended, so the
/// run's files stay until a later run starts: the files of earlier runs
/// (and of earlier versions of the set) are removed once no process holds
/// them.
#[track_caller]
pub fn shared_db() -> SharedDb {
    let set = set();
    let path = ready(shared::file(set), "shared_db");
    ready(SharedDb::open(path, set), "shared_db")
}
fixture!(shared_db -> SharedDb);

/// The `shared_db` fixture's files: one per (set, run), each with a lock
/// file that every process using it holds a shared lock on for as long as
/// it runs, so that a file is removed only when no process uses it.
mod shared {
    use std::collections::HashMap;
    use std::fs::{self, File};
    use std::path::{Path, PathBuf};

    use once_cell::sync::Lazy;
    use parking_lot::Mutex;

    use crate::{Error, Migrations, Result};

    const PREFIX: &str = "migrate-once-shared-";

    /// This run: nextest's run id (the same in every process of one run),
    /// or, under `cargo test`, one made for this process; and whether the
    /// run is this process alone (it made the id).
    fn run() -> &'static (String, bool) {
        static RUN: Lazy<(String, bool)> = Lazy::new(|| {
            std::env::var("NEXTEST_RUN_ID")
                .ok()
                .filter(|id| {
                    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
                .map_or_else(
                    || (uuid::Uuid::new_v4().simple().to_string(), true),
                    |id| (id, false),
                )
        });
        &RUN
    }

    /// The lock files this process holds, open for as long as it runs.
    static HELD: Lazy<Mutex<HashMap<PathBuf, File>>> = Lazy::new(Mutex::default);

    /// The shared file of `set` for this run, its lock held; files of other
    /// runs that no process holds are removed first.
    pub(super) fn file(set: &Migrations) -> Result<PathBuf> {
        let dir = crate::sqlite::testdb::default_dir()?;
        let (run, own) = run();
        let name = format!("{PREFIX}{}-{run}", &set.hash()[..16]);
        let lock = dir.join(format!("{name}.lock"));
        let mut held = HELD.lock();
        if !held.contains_key(&lock) {
            let file = File::create(&lock).map_err(Error::io(&lock))?;
            file.lock_shared().map_err(Error::io(&lock))?;
            held.insert(lock.clone(), file);
            drop(held);
            if *own {
                remove_at_exit();
            }
            remove_unused(&dir, &name);
        }
        Ok(dir.join(format!("{name}.sqlite")))
    }

    /// The files of the run whose lock file is `lock`: the database, its
    /// journals, then the lock.
    fn files_of(lock: &Path) -> impl Iterator<Item = PathBuf> + '_ {
        let stem = lock.with_extension("");
        [
            ".sqlite",
            ".sqlite-journal",
            ".sqlite-wal",
            ".sqlite-shm",
            ".lock",
        ]
        .into_iter()
        .map(move |suffix| {
            let mut name = stem.clone().into_os_string();
            name.push(suffix);
            PathBuf::from(name)
        })
    }

    /// Under `cargo test` the run is this process: its files are removed
    /// when it exits. Nothing in safe Rust runs at process exit (statics are
    /// never dropped, and libtest ends with `exit`), hence `atexit`.
    #[cfg(unix)]
    fn remove_at_exit() {
        static REGISTERED: std::sync::Once = std::sync::Once::new();
        REGISTERED.call_once(|| {
            // SAFETY: `atexit` only records a function pointer; the function
            // is a plain `extern "C" fn` with no captured state, and it never
            // unwinds (a panic inside is caught), as a C caller requires.
            // Registering can fail only for want of memory, and then the
            // files stay until the next run, as under cargo-nextest.
            #[allow(unsafe_code)]
            let _ = unsafe { libc::atexit(remove_own_files) };
        });
    }

    #[cfg(not(unix))]
    fn remove_at_exit() {}

    /// Run by `exit`, after every test has returned: removes the files of
    /// this process's own run. `try_lock`: a thread that still holds the map
    /// (a test calling `exit` mid-fixture) must not deadlock the exit; the
    /// files then stay until the next run removes them.
    #[cfg(unix)]
    extern "C" fn remove_own_files() {
        let _ = std::panic::catch_unwind(|| {
            let Some(held) = HELD.try_lock() else {
                return;
            };
            for lock in held.keys() {
                for file in files_of(lock) {
                    let _ = fs::remove_file(file);
                }
            }
        });
    }

    /// Removes the files of every other run whose lock no process holds.
    fn remove_unused(dir: &Path, ours: &str) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(stem) = file_name
                .to_str()
                .and_then(|n| n.strip_prefix(PREFIX).map(|_| n))
                .and_then(|n| n.strip_suffix(".lock"))
            else {
                continue;
            };
            if stem == ours {
                continue;
            }
            let Ok(lock) = File::options().write(true).open(entry.path()) else {
                continue;
            };
            if lock.try_lock().is_ok() {
                for file in files_of(&entry.path()) {
                    let _ = fs::remove_file(file);
                }
            }
        }
    }
}
