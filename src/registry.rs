//! The per-process registry of migrated databases, and the once-map that
//! every process-wide cache of the crate (templates too) is built on.
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
//!   a full disk) is not stored: the cell stays empty and the next caller
//!   (one of those already waiting, or a later one) tries again —
//!   `SharedDb::open` with what is left of its own lock timeout, so waiting
//!   callers do not each wait the full timeout in turn.
//! - A **panic** inside a migration hook leaves the cell empty too, and the
//!   next caller tries again.

use std::collections::HashMap;
use std::sync::Arc;

use once_cell::sync::{Lazy, OnceCell};
use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::identity::DbIdentity;
use crate::migrations::Migrations;

/// A map from keys to once-cells whose lock is held only to get or insert
/// a cell; `init` runs inside the cell. See the module docs for what a
/// failure inside means.
pub(crate) struct OnceMap<K, T> {
    cells: Lazy<Mutex<HashMap<K, Cell<T>>>>,
}

/// One entry: the outcome of its init, once there is one to keep.
type Cell<T> = Arc<OnceCell<Result<T>>>;

impl<K: std::hash::Hash + Eq, T: Clone> OnceMap<K, T> {
    pub(crate) const fn new() -> Self {
        OnceMap {
            cells: Lazy::new(Default::default),
        }
    }

    /// Runs `init` for `key` at most once per process, unless it fails
    /// transiently; callers for the same key wait for the one running it.
    pub(crate) fn get_or_init(&self, key: K, init: impl FnOnce() -> Result<T>) -> Result<T> {
        self.get_or_init_unless(key, init, |_| false)
    }

    /// As [`get_or_init`](Self::get_or_init), also leaving the failures
    /// `retry` picks out unstored.
    pub(crate) fn get_or_init_unless(
        &self,
        key: K,
        init: impl FnOnce() -> Result<T>,
        retry: impl Fn(&Error) -> bool,
    ) -> Result<T> {
        let cell = Arc::clone(self.cells.lock().entry(key).or_default());
        cell.get_or_try_init(|| match init() {
            Err(e) if e.is_transient() || retry(&e) => Err(e),
            outcome => Ok(outcome),
        })?
        .clone()
    }
}

static MIGRATED: OnceMap<(DbIdentity, String), ()> = OnceMap::new();

/// Migrates (with `migrate`) the database `id` to `set` at most once per
/// process. Callers for the same database and set wait for the first.
pub(crate) fn migrate_once(
    id: &DbIdentity,
    set: &Migrations,
    migrate: impl FnOnce() -> Result<()>,
) -> Result<()> {
    MIGRATED.get_or_init((id.clone(), set.hash().to_string()), migrate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn deterministic_failures_are_stored_and_transient_ones_retried() {
        let map: OnceMap<u8, ()> = OnceMap::new();
        let calls = AtomicUsize::new(0);
        let fail_hard = || {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Error::NoMigrations { path: None })
        };
        assert!(map.get_or_init(1, fail_hard).is_err());
        assert!(
            map.get_or_init(1, || unreachable!("the failure was stored"))
                .is_err()
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let transient = || Err(Error::InProgress);
        assert!(matches!(
            map.get_or_init(2, transient),
            Err(Error::InProgress)
        ));
        map.get_or_init(2, || Ok(())).unwrap();
        map.get_or_init(2, || unreachable!("the success was stored"))
            .unwrap();

        // A failure the caller marks as retryable is not stored either.
        let retry = |e: &Error| matches!(e, Error::NoMigrations { .. });
        let fail = || Err(Error::NoMigrations { path: None });
        assert!(map.get_or_init_unless(3, fail, retry).is_err());
        map.get_or_init_unless(3, || Ok(()), retry).unwrap();
    }
}
