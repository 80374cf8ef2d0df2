//! What a migration run did, and how long it may wait: the same for every
//! backend.

use std::time::Duration;

use crate::app_ledger::AppLedger;

/// How long [`migrate`](crate::migrate) waits for another connection's write lock by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// What one call to [`migrate`](crate::migrate) (or [`Migrator::migrate`](crate::Migrator::migrate)) did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// The migrations this call applied, in order. Empty if the database was
    /// already at the latest version (for example because another thread or
    /// process migrated it first).
    pub applied: Vec<Applied>,
    /// The migrations this call recorded as applied without running them,
    /// because another tool's migrator had applied them (see
    /// [`AppLedger`](crate::AppLedger)), in order.
    pub adopted: Vec<Adopted>,
    /// How many of the set's migrations the database had already applied.
    pub already_applied: usize,
    /// How long this call waited for the database's write lock. Zero when the
    /// ledger already showed every migration applied, as no lock is taken then.
    pub lock_wait: Duration,
    /// How long applying the pending migrations took, commit included.
    pub apply_time: Duration,
}

impl Report {
    /// The versions this call applied.
    pub fn applied_versions(&self) -> Vec<i64> {
        self.applied.iter().map(|a| a.version).collect()
    }
}

/// One migration applied by a call to [`migrate`](crate::migrate).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Applied {
    /// The migration's version.
    pub version: i64,
    /// The migration's name.
    pub name: String,
    /// How long its statements took.
    pub duration: Duration,
}

/// One migration a call to [`migrate`](crate::migrate) adopted: another tool had applied it,
/// so it was recorded in the crate's ledger without running it again.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Adopted {
    /// The migration's version.
    pub version: i64,
    /// The migration's name.
    pub name: String,
    /// The tool whose ledger recorded it.
    pub from: AppLedger,
}

/// The longest wait the crate asks for: SQLite's busy timeout is an `int`
/// of milliseconds (about 24.8 days), and Postgres waits are kept to it too. Longer waits are clamped to it, so that
/// "wait as long as it takes" can be written as `Duration::MAX`.
pub(crate) const LONGEST_WAIT: Duration = Duration::from_millis(i32::MAX as u64);

/// `d`, or [`LONGEST_WAIT`] if it is longer.
pub(crate) fn clamp_wait(d: Duration) -> Duration {
    d.min(LONGEST_WAIT)
}
