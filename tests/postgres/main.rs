//! The Postgres backend against a real server: `DATABASE_URL`'s, or a
//! throwaway cluster this binary starts (and stops when it exits). A test
//! that cannot get a server says why and passes, unless
//! `MIGRATE_ONCE_REQUIRE_POSTGRES=1` (set by CI): then it fails.

mod support;

mod concurrency;
#[cfg(all(feature = "postgres-sqlx-0_8", feature = "postgres-sqlx-0_9"))]
mod handles;
mod kill;
mod migrator;
mod race;
mod server;
mod shared_db;
mod template_fn;
mod testdb;
