//! SQLite databases for parallel test suites, migrated exactly once and
//! validated — under `cargo test` threads, under cargo-nextest (one process
//! per test) and in CI loops that run the suite hundreds of times.
//!
//! ```
//! use migrate_once::{Migrations, migrate};
//!
//! let set = Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
//! let mut conn = rusqlite::Connection::open_in_memory()?;
//! let report = migrate(&mut conn, &set)?;
//! assert_eq!(report.applied.len(), set.len());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Any number of threads and processes may call [`migrate`] on the same
//! database at once: the write lock (`BEGIN IMMEDIATE` with a bounded wait)
//! is taken before the ledger is read, so exactly one caller applies what is
//! pending and all pending migrations commit together or not at all.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod connection;
mod error;
#[cfg(feature = "rstest")]
#[cfg_attr(docsrs, doc(cfg(feature = "rstest")))]
pub mod fixtures;
mod identity;
mod ledger;
mod migrations;
mod migrator;
mod registry;
mod shared;
mod sql;
mod sqlite_config;
mod template;
mod testdb;
mod validate;

pub use connection::{DEFAULT_BUSY_TIMEOUT, DEFAULT_POOL_SIZE, OnConnect, Pool};
pub use error::{Error, Origin, Result, SchemaObject};
pub use identity::DbIdentity;
pub use ledger::{LEDGER_TABLE, LedgerRow, ledger};
pub use migrations::{Migration, Migrations};
pub use migrator::{Applied, DEFAULT_LOCK_TIMEOUT, Migrator, Report, migrate};
pub use shared::{SharedDb, SharedDbBuilder};
pub use sqlite_config::{KEEP_MEMSTATUS_ENV, memstatus_disabled};
pub use template::{CACHE_DIR_ENV, Template, cache_dir};
pub use testdb::{DIR_ENV, TestDb, TestDbBuilder};
pub use validate::Schema;

/// The README's examples, compiled and run as doctests.
#[cfg(all(doctest, feature = "rstest"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[doc(hidden)]
pub mod __private {
    pub use include_dir;
}
