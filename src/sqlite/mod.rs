//! The SQLite backend, the crate's embedded default: everything that talks
//! to a SQLite database (the migrator, the ledgers read and written, the
//! templates, test and shared databases, validation, the drivers'
//! handles). It imports the set and the ledgers' formats from the crate's
//! root, and nothing of the Postgres backend.

pub(crate) mod app_ledger;
pub(crate) mod background;
pub(crate) mod check;
pub(crate) mod connection;
#[cfg(feature = "diesel-2")]
#[path = "diesel.rs"]
pub mod diesel_2;
pub(crate) mod dirs;
pub(crate) mod fingerprint;
#[cfg(feature = "rstest")]
pub mod fixtures;
pub(crate) mod identity;
pub(crate) mod ledger;
pub(crate) mod memdb;
pub(crate) mod migrator;
pub(crate) mod normalize;
pub(crate) mod registry;
pub(crate) mod shared;
pub(crate) mod snapshot;
pub(crate) mod sqlite_config;
#[cfg(any(feature = "sqlx-0_8", feature = "sqlx-0_9"))]
pub(crate) mod sqlx;
#[cfg(any(feature = "sqlx-0_8", feature = "sqlx-0_9"))]
pub(crate) mod sqlx_test;
pub(crate) mod template;
pub(crate) mod template_fn;
pub(crate) mod template_key;
pub(crate) mod testdb;
pub(crate) mod validate;
