//! Not vendored: what a test can see of its database, which must be the
//! same under `#[sqlx::test]` and `#[migrate_once::sqlx_test]` (issue 24:
//! each of these failed under the crate's attribute when its default
//! database was in memory, and passed under sqlx's).
//!
//! Run both ways: `cargo test` (sqlx's attribute) and `cargo test
//! --features migrate-once` (the crate's).

#[cfg(feature = "migrate-once")]
use migrate_once::sqlx_test as db_test;
#[cfg(not(feature = "migrate-once"))]
use sqlx::test as db_test;

use std::time::{Duration, Instant};

use sqlx::SqlitePool;

const MIGRATIONS: &str = "tests/sqlite/migrations";

async fn users(pool: &SqlitePool) -> i64 {
    sqlx::query_scalar(r#"SELECT count(*) FROM "user""#)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// A handler that takes `&pool` reads while the test holds a write
/// transaction on another connection of the pool: with a file in
/// rollback-journal mode, it reads the committed rows at once.
#[db_test(
    migrations = "tests/sqlite/migrations",
    fixtures(path = "sqlite/fixtures", scripts("users"))
)]
async fn a_reader_gets_in_while_another_connection_has_a_write_transaction_open(
    pool: SqlitePool,
) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(r#"INSERT INTO "user" (username) VALUES ('carol')"#)
        .execute(&mut *tx)
        .await?;
    let started = Instant::now();
    assert_eq!(users(&pool).await, 2, "the committed rows");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    tx.commit().await?;
    assert_eq!(users(&pool).await, 3);
    Ok(())
}

/// A CLI crate runs its own binary on the test's database: the name the
/// pool was opened by is a path another process can open.
#[db_test(
    migrations = "tests/sqlite/migrations",
    fixtures(path = "sqlite/fixtures", scripts("users"))
)]
async fn another_process_can_open_the_database_by_its_file_name(pool: SqlitePool) {
    let path = pool.connect_options().get_filename().to_owned();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_count-users"))
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{path:?}: {out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2", "{out:?}");
}

/// The journal mode is the one sqlx's own options give a new file.
#[db_test(migrations = "tests/sqlite/migrations")]
async fn the_journal_mode_is_what_sqlx_gives(pool: SqlitePool) {
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(mode, "delete");
}

/// "The migrations apply cleanly": the schema's tables, leaving out
/// SQLite's and sqlx's, are the app's and nothing else.
#[db_test(migrations = "tests/sqlite/migrations")]
async fn the_tables_are_the_apps_and_sqlx_ledger(pool: SqlitePool) {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        tables,
        ["_sqlx_migrations", "comment", "post", "user"],
        "{MIGRATIONS}"
    );
}
