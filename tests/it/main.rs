//! The integration tests: one test binary, one module per topic, and one
//! `support` module they all share.
//!
//! One binary rather than one per file: each test binary links its own copy
//! of the crate, SQLite and every dependency, so fourteen of them cost
//! fourteen links (and about 22 MB each) for every change to `src/`.
//! Within the binary a test's name starts with its module, as in
//! `faults::kill::sigkill_at_any_instant_leaves_nothing_or_everything_and_the_next_run_completes`;
//! `cargo test --test it faults::` runs one topic.
//!
//! The one test that has a binary of its own is `tests/memdb_limit.rs`: it
//! sets a process-wide SQLite option (`SQLITE_CONFIG_MEMDB_MAXSIZE`), which
//! can only be set before SQLite starts and would then apply to every test
//! here.

mod support;

mod app_ledgers;
mod concurrent_processes;
mod concurrent_threads;
mod differential;
mod error_display;
mod faults;
#[cfg(feature = "rstest")]
mod fixtures_rstest;
mod hostile_input;
mod hostile_loading;
mod hostile_runtime;
mod journal_mode;
mod loading;
mod migrator;
mod nextest_shared;
mod reversibility;
mod shared_db;
mod snapshots;
#[cfg(all(feature = "sqlx-0_8", feature = "sqlx-0_9"))]
mod sqlx_test;
mod template_cache;
mod template_fn;
mod testdb;
mod two_users;
