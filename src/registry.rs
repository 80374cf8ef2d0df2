//! The crate's process-wide state: which databases this process has
//! migrated, and which templates it has loaded.
//!
//! A map from (database identity, migration-set hash) to an entry holding a
//! once-cell. The map's lock is held only to get or insert an entry; the
//! slow work (migrating, validating) runs inside the entry's once-cell, so
//! migrating database A never waits for database B, and callers for the
//! same database wait for the one that is migrating it.
//!
//! What a failure inside the once-cell means:
//!
//! - A **deterministic** failure (bad SQL, an edited migration, a database
//!   ahead of the set, a failed validation; see [`Error::is_transient`]) is
//!   stored: every later caller for that database and set gets the same
//!   error at once, and the failing SQL is not run again in this process.
//! - A **transient** failure (the write lock was held past the timeout, I/O,
//!   a full disk), or one of the database rather than of the set (a file
//!   that is not a database, a directory that cannot be written), is not
//!   stored: the cell stays empty and the next caller
//!   (one of those already waiting, or a later one) tries again —
//!   `SharedDb::open` with what is left of its own lock timeout, so waiting
//!   callers do not each wait the full timeout in turn.
//! - A **panic** inside a migration hook leaves the cell empty too, and the
//!   next caller tries again.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use once_cell::sync::{Lazy, OnceCell};
use parking_lot::Mutex;

use crate::connection::Setup;
use crate::error::{Error, Result};
use crate::identity::DbIdentity;
use crate::migrations::Migrations;
use crate::template::{self, Flavor, Template};
use crate::validate::Schema;

/// A map from keys to once-cells whose lock is held only to get or insert
/// a cell; `init` runs inside the cell. See the module docs for what a
/// failure inside means.
struct OnceMap<K, T> {
    cells: Lazy<Mutex<HashMap<K, Cell<T>>>>,
}

/// One entry: the outcome of its init, once there is one to keep.
type Cell<T> = Arc<OnceCell<Result<T>>>;

impl<K: std::hash::Hash + Eq, T: Clone> OnceMap<K, T> {
    const fn new() -> Self {
        OnceMap {
            cells: Lazy::new(Default::default),
        }
    }

    /// Runs `init` for `key` at most once per process, unless it fails
    /// transiently or `retry` picks the failure out; callers for the same
    /// key wait for the one running it.
    fn get_or_init(
        &self,
        key: K,
        init: impl FnOnce() -> Result<T>,
        retry: impl Fn(&Error) -> bool,
    ) -> Result<T> {
        let cell = Arc::clone(self.cells.lock().entry(key).or_default());
        cell.get_or_try_init(|| match init() {
            Err(e) if e.is_transient() || stays_open(&e) || retry(&e) => Err(e),
            outcome => Ok(outcome),
        })?
        .clone()
    }
}

impl<K: std::hash::Hash + Eq, T> OnceMap<K, T> {
    /// Forgets `key`'s outcome: the next call runs its init again.
    fn forget(&self, key: &K) {
        self.cells.lock().remove(key);
    }
}

/// Failures that ran none of the set's SQL and that a change outside the
/// process can mend (a file that is not a database replaced, a directory
/// made writable): remembering them would only repeat an error that may no
/// longer hold. What is remembered is what running the same SQL again would
/// only repeat.
fn stays_open(e: &Error) -> bool {
    matches!(
        e,
        Error::Database { .. } | Error::Io { .. } | Error::Driver { .. } | Error::UnsafePath { .. }
    ) || is_server_error(e)
}

/// A Postgres failure outside the set's own SQL (a server that could not be
/// reached, a role without rights): a change on the server mends it.
#[cfg(feature = "postgres")]
fn is_server_error(e: &Error) -> bool {
    matches!(e, Error::Postgres { .. })
}

#[cfg(not(feature = "postgres"))]
fn is_server_error(_: &Error) -> bool {
    false
}

/// Databases migrated (and validated) in this process, by identity and set.
static MIGRATED: OnceMap<(DbIdentity, String), ()> = OnceMap::new();

/// Postgres databases migrated (and validated) in this process, by server,
/// database and schema, and set hash.
#[cfg(feature = "postgres")]
static PG_MIGRATED: OnceMap<(String, String), ()> = OnceMap::new();

/// Runs `migrate_and_validate` for the Postgres database and schema `id`
/// (server, database name and schema, one string) and `set` at most once per
/// process, as [`once_per_database`] does for SQLite files.
#[cfg(feature = "postgres")]
pub(crate) fn once_per_server_database(
    id: &str,
    set: &Migrations,
    migrate_and_validate: impl FnOnce() -> Result<()>,
) -> Result<()> {
    PG_MIGRATED.get_or_init(
        (id.to_string(), set.hash().to_string()),
        migrate_and_validate,
        |_| false,
    )
}

/// Templates loaded into this process, by their cache directory and flavor.
static TEMPLATES: OnceMap<(PathBuf, Flavor), Arc<Template>> = OnceMap::new();

/// The schema each set defines, by set hash.
static SCHEMAS: OnceMap<String, Arc<Schema>> = OnceMap::new();

/// The migration sets of `#[sqlx_test]` tests, by directory or migrator
/// (see `__sqlx_test`; `None` is an empty database).
#[cfg(any(feature = "sqlx-0_8", feature = "sqlx-0_9"))]
static SQLX_TEST_SETS: OnceMap<String, Option<Arc<Migrations>>> = OnceMap::new();

/// The set `key` names, built by `build` once per process: every test of
/// one directory or migrator shares it, and a set that cannot be built is
/// the same error for each of them.
#[cfg(any(feature = "sqlx-0_8", feature = "sqlx-0_9"))]
pub(crate) fn sqlx_test_set(
    key: String,
    build: impl FnOnce() -> Result<Option<Arc<Migrations>>>,
) -> Result<Option<Arc<Migrations>>> {
    SQLX_TEST_SETS.get_or_init(key, build, |_| false)
}

/// Runs `migrate_and_validate` for the database `id` and `set` at most once
/// per process; callers for the same database and set wait for the first,
/// and get its outcome.
pub(crate) fn once_per_database(
    id: &DbIdentity,
    set: &Migrations,
    migrate_and_validate: impl FnOnce() -> Result<()>,
) -> Result<()> {
    MIGRATED.get_or_init(
        (id.clone(), set.hash().to_string()),
        migrate_and_validate,
        |_| false,
    )
}

/// The template of `set`, loaded from the on-disk cache (or built) at most
/// once per process, with the connection setup `setup`. Trouble with the
/// cache directory is not remembered: the next call tries again (a
/// directory created or mended meanwhile, space freed).
pub(crate) fn template(set: &Migrations, setup: &Setup, flavor: Flavor) -> Result<Arc<Template>> {
    let dir = template::dir_for(set)?;
    TEMPLATES.get_or_init(
        (dir.clone(), flavor),
        || template::load_or_build_flavor(&dir, set, setup, false, flavor).map(Arc::new),
        |_| false,
    )
}

/// The template of `set` again, after one was found damaged on disk
/// ([`Error::TemplateDamaged`]): this process forgets the one it had, and
/// the cache is checked whole (and rebuilt if need be) before it is trusted.
pub(crate) fn template_checked(
    set: &Migrations,
    setup: &Setup,
    flavor: Flavor,
) -> Result<Arc<Template>> {
    let dir = template::dir_for(set)?;
    let key = (dir.clone(), flavor);
    TEMPLATES.forget(&key);
    TEMPLATES.get_or_init(
        key,
        || template::load_or_build_flavor(&dir, set, setup, true, flavor).map(Arc::new),
        |_| false,
    )
}

/// The schema `set` defines, which a shared database is validated against:
/// the template's, or, when there is no usable template (a cache directory
/// that cannot be written, a template built with other settings that
/// failed), learned by migrating a private in-memory database with the
/// caller's own settings, once per process. So a shared database does not
/// need the cache, and once the caller's own file migrated with those
/// settings, this does not fail.
pub(crate) fn expected_schema(set: &Migrations, setup: &Setup) -> Result<Arc<Schema>> {
    SCHEMAS.get_or_init(
        set.hash().to_string(),
        || {
            template(set, setup, Flavor::Full)
                .and_then(|t| t.schema())
                .or_else(|_| {
                    let uri = format!(
                        "file:/migrate-once-schema-{}?vfs=memdb",
                        uuid::Uuid::new_v4()
                    );
                    let mut conn = setup.open(std::path::Path::new(&uri), None)?;
                    crate::migrator::migrate(&mut conn, set)?;
                    Schema::read(&conn).map(Arc::new)
                })
        },
        |_| false,
    )
}

// Here rather than in `template`, which knows the on-disk cache but not the
// process's: that keeps the module graph free of cycles.
impl Template {
    /// The template for `set`: from this process's memory if it was loaded
    /// before, else from the on-disk cache, else built (once across all
    /// processes) through the migrator.
    ///
    /// ```
    /// use migrate_once::{Migrations, Template};
    ///
    /// let set = Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
    /// let template = Template::for_set(&set)?;
    /// assert!(template.path().exists());
    /// assert_eq!(&template.bytes()?[..16], b"SQLite format 3\0");
    /// # Ok::<(), migrate_once::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Any error of migrating the set ([`Error::Sql`] and so on), which is
    /// remembered for the rest of the process; [`Error::Io`] if the cache
    /// directory cannot be written (not remembered: the next call retries).
    ///
    /// The template is built with the [`on_connect`](crate::TestDbBuilder::on_connect)
    /// hook of the first caller in the process (or of the process that built
    /// the cached file): give every caller of one migration set the same hook.
    pub fn for_set(set: &Migrations) -> Result<Arc<Template>> {
        template(set, &Setup::default(), Flavor::Full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn deterministic_failures_are_stored_and_transient_ones_retried() {
        let map: OnceMap<u8, ()> = OnceMap::new();
        let never = |_: &Error| false;
        let calls = AtomicUsize::new(0);
        let fail_hard = || {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Error::NoMigrations { path: None })
        };
        assert!(map.get_or_init(1, fail_hard, never).is_err());
        assert!(
            map.get_or_init(1, || unreachable!("the failure was stored"), never)
                .is_err()
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let transient = || Err(Error::InProgress);
        assert!(matches!(
            map.get_or_init(2, transient, never),
            Err(Error::InProgress)
        ));
        map.get_or_init(2, || Ok(()), never).unwrap();
        map.get_or_init(2, || unreachable!("the success was stored"), never)
            .unwrap();

        // A failure the caller marks as retryable is not stored either.
        let retry = |e: &Error| matches!(e, Error::NoMigrations { .. });
        let fail = || Err(Error::NoMigrations { path: None });
        assert!(map.get_or_init(3, fail, retry).is_err());
        map.get_or_init(3, || Ok(()), retry).unwrap();
    }
}
