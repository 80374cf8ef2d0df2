//! Postgres, the second backend (feature `postgres`): the same
//! [`Migrations`](crate::Migrations) set, every layout it reads, the same
//! ledgers (the crate's, sqlx's and diesel's) and the same promises as the
//! SQLite side, over the sync [`postgres`](https://docs.rs/postgres) driver.
//!
//! ```
//! use migrate_once::{Migration, Migrations, postgres::{SharedDb, TestServer}};
//!
//! // `DATABASE_URL`'s server, or a throwaway one stopped when the process exits.
//! let server = TestServer::shared()?;
//! let db = server.create_database()?;
//! let set = Migrations::new(vec![
//!     Migration::new(1, "users", "CREATE TABLE users (id bigserial PRIMARY KEY, email text);"),
//!     Migration::new(2, "seed", "INSERT INTO users (email) VALUES ('ada@example.com'), ('bob@example.com');"),
//! ])?;
//!
//! // Migrated exactly once across threads, processes and machines, and validated.
//! let shared = SharedDb::open(db.url(), &set)?;
//! let mut client = shared.pool()?.get()?;
//! let users: i64 = client.query_one("SELECT count(*) FROM users", &[])?.get(0);
//! assert_eq!(users, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Which one do I use
//!
//! | you want | use |
//! |---|---|
//! | a database of its own per test, copied from a template migrated once | `TestDb::new` (Unix) |
//! | your migrations are code (refinery, start-up code): a template your function builds once per key | `TemplateFn` with `TestDb::from_fn` (Unix) |
//! | `#[sqlx::test]`'s signatures on Postgres, each test on such a copy | `#[migrate_once::sqlx_test]` (`postgres-sqlx-0_9` / `postgres-sqlx-0_8`) |
//! | one database (or schema) many tests, processes or machines share | [`SharedDb::open`] |
//! | to migrate a `postgres::Client` you manage (an app's start-up) | [`migrate`] / [`Migrator`] |
//! | to check a connection's schema is migrated and intact | [`validate`] |
//! | a server for a test run without Docker, shared by the run's processes | `TestServer::shared` (Unix) |
//!
//! # How it holds
//!
//! - One transaction per run: `BEGIN`, `pg_advisory_xact_lock` on a key
//!   from the ledger's schema-qualified name ([`lock_key`]), taken before
//!   the ledger is read; then the ledger rows, the app ledgers' rows and
//!   every pending migration; then `COMMIT`. Postgres's DDL is
//!   transactional: a failure or a killed process leaves nothing, and the
//!   lock dies with the transaction or the session.
//! - Every wait is bounded: `SET LOCAL lock_timeout`. With no wait,
//!   `pg_try_advisory_xact_lock` answers at once ([`Error::InProgress`](crate::Error::InProgress)).
//! - A migration is sent whole (the simple query protocol: the server
//!   splits it); an error names the statement the server's position
//!   points into, or, without one, the statement that fails when they are
//!   run one at a time in a transaction that is then rolled back.
//! - What cannot run in a transaction (`CREATE INDEX CONCURRENTLY`,
//!   `VACUUM`, …) is refused before anything is sent, unless the migration's
//!   first line is sqlx's `-- no-transaction` (see the README for what that
//!   gives up).

#[cfg(unix)]
mod background;
mod catalog;
mod handles;
mod migrator;
#[cfg(unix)]
mod server;
mod shared;
#[cfg(all(
    unix,
    any(feature = "postgres-sqlx-0_8", feature = "postgres-sqlx-0_9")
))]
mod sqlx;
#[cfg(unix)]
mod template;
#[cfg(unix)]
mod template_fn;
#[cfg(unix)]
mod testdb;

pub use migrator::{Migrator, check_set, ledger, lock_key, migrate, validate};
#[cfg(unix)]
pub use server::{DATABASE_URL_ENV, SHARED_DIR_ENV, SHARED_IDLE, TestDatabase, TestServer};
pub use shared::{Pool, SharedDb, SharedDbBuilder};
#[cfg(unix)]
pub use template::TEMPLATE_TTL_DAYS;
#[cfg(unix)]
pub use template_fn::TemplateFn;
#[cfg(unix)]
pub use testdb::{AHEAD_ENV, TestDb, TestDbBuilder};

/// `url` as an error message shows it: a password in it (`user:secret@`
/// of a URL, `password=` of a connection string) replaced by `***`.
pub(crate) fn redacted(url: &str) -> String {
    if let Some(scheme) = url.find("://") {
        let rest = &url[scheme + 3..];
        let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
        if let Some(at) = authority.rfind('@')
            && let Some(colon) = authority[..at].find(':')
        {
            let start = scheme + 3;
            return format!("{}***{}", &url[..start + colon + 1], &url[start + at..]);
        }
        return url.to_string();
    }
    url.split_whitespace()
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => kv.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a Postgres failure may pass on a retry: the connection was lost,
/// a lock wait, deadlock or serialization failure, the server is shutting
/// down or short of resources.
pub(crate) fn is_transient(e: &::postgres::Error) -> bool {
    let Some(code) = e.code() else {
        // No SQLSTATE: the connection broke (I/O, closed).
        return e.is_closed()
            || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>());
    };
    let code = code.code();
    ["08", "40", "53", "57P"]
        .iter()
        .any(|p| code.starts_with(p))
        || code == "55P03"
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_left_out_of_messages() {
        use super::redacted;
        assert_eq!(
            redacted("postgres://u:s3cret@h:5432/db?x=1"),
            "postgres://u:***@h:5432/db?x=1"
        );
        assert_eq!(redacted("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            redacted("host=h password=s3cret dbname=d"),
            "host=h password=*** dbname=d"
        );
    }
}
