//! The crate's process-wide state, and what a failure inside it means: the
//! same for both backends. Each backend keeps its own maps of this kind
//! (`sqlite::registry`: the files migrated, the templates loaded;
//! `postgres::shared`: the server databases migrated).
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
use std::sync::Arc;

use once_cell::sync::{Lazy, OnceCell};
use parking_lot::Mutex;

use crate::error::{Error, Result};

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
    /// transiently or `retry` picks the failure out; callers for the same
    /// key wait for the one running it.
    pub(crate) fn get_or_init(
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
    pub(crate) fn forget(&self, key: &K) {
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
