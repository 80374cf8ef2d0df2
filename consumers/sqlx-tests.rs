// The tests a sqlx user writes, shared by the sqlx 0.8 and 0.9 consumers
// (`#[path]`-included by each; the API they use is the same in both). The
// including file provides `set(dir)`: how that project loads its migrations,
// `DIR`: the migrations its app uses, and `next_dir()`: those plus one more
// (written at run time, in that project's layout).

use std::sync::{Barrier, Mutex};

use migrate_once::{AppLedger, SharedDb, TestDb};

use super::{next_dir, set, SqlxExt, DIR};
use sqlx::migrate::Migrator;
use sqlx::SqlitePool;

async fn count(pool: &SqlitePool, table: &str) -> i64 {
    // Static text: sqlx 0.9 takes only SQL it can see is not built at run time.
    let sql = match table {
        "users" => "SELECT count(*) FROM users",
        "posts" => "SELECT count(*) FROM posts",
        "audit" => "SELECT count(*) FROM audit",
        other => panic!("no query for {other}"),
    };
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(pool).await.unwrap();
    n
}

async fn sqlx_ledger(pool: &SqlitePool) -> Vec<(i64, bool, i64)> {
    sqlx::query_as(
        "SELECT version, success, length(checksum) FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// sqlx's own migrator for a directory, as `sqlx::migrate!` builds it.
async fn app_migrator(dir: &str) -> Migrator {
    Migrator::new(std::path::Path::new(dir)).await.unwrap()
}

/// A new database file at `path` that sqlx's own migrator migrated to `DIR`.
async fn migrated_by_sqlx(path: &std::path::Path) {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    let pool = SqlitePool::connect_with(options).await.unwrap();
    app_migrator(DIR).await.run(&pool).await.unwrap();
    pool.close().await;
}

#[tokio::test]
async fn a_test_db_is_an_sqlx_pool_in_memory_and_on_file() {
    let set = set(DIR);
    for db in [TestDb::in_memory(&set).unwrap(), TestDb::new(&set).unwrap()] {
        let pool = db.sqlx_pool().await.unwrap();
        assert_eq!(count(&pool, "users").await, 2);
        sqlx::query("INSERT INTO users (email, name) VALUES ('x@example.com', 'X')")
            .execute(&pool)
            .await
            .unwrap();
        // The crate's own connection sees sqlx's row: one database.
        let n: i64 = db
            .connect()
            .unwrap()
            .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 3);
        // Foreign keys are on, as on every connection of a TestDb.
        let err = sqlx::query("INSERT INTO posts (user_id, title) VALUES (99, 'orphan')")
            .execute(&pool)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
    }
}

#[tokio::test]
async fn the_apps_own_migrator_finds_nothing_to_do_on_a_clone() {
    let set = set(DIR);
    assert_eq!(set.app_ledgers(), [AppLedger::Sqlx]);
    let db = TestDb::in_memory(&set).unwrap();
    let pool = db.sqlx_pool().await.unwrap();
    // What the app does at start-up.
    app_migrator(DIR).await.run(&pool).await.unwrap();
    // Nothing re-executed: the seed rows are still exactly the seed rows.
    assert_eq!(count(&pool, "users").await, 2);
    assert_eq!(count(&pool, "posts").await, 1);
    // sqlx's ledger has one successful row per migration, with a SHA-384.
    let ledger = sqlx_ledger(&pool).await;
    assert_eq!(
        ledger,
        vec![(20240101000000, true, 48), (20240102000000, true, 48)]
    );
}

#[tokio::test]
async fn a_pool_keeps_its_test_db_alive() {
    let set = set(DIR);
    let pool = TestDb::in_memory(&set).unwrap().sqlx_pool().await.unwrap();
    // The TestDb is gone; its pool still has the database, seeded.
    assert_eq!(count(&pool, "users").await, 2);
}

#[tokio::test]
async fn a_shared_db_is_an_sqlx_pool_too() {
    let dir = tempfile::tempdir().unwrap();
    let set = set(DIR);
    let db = SharedDb::open(dir.path().join("shared.sqlite"), &set).unwrap();
    let pool = db.sqlx_pool().await.unwrap();
    assert_eq!(count(&pool, "users").await, 2);
    app_migrator(DIR).await.run(&pool).await.unwrap();
    assert_eq!(count(&pool, "users").await, 2);
}

/// A database sqlx's migrator made is adopted: what sqlx applied is recorded
/// without running again, and the one new migration runs exactly once
/// though 8 threads open the file at the same moment.
#[tokio::test]
async fn a_database_sqlx_migrated_is_adopted_and_the_new_migration_runs_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite");
    migrated_by_sqlx(&path).await;

    let next_dir = next_dir();
    let next_dir = next_dir.path().to_str().unwrap();
    let next = set(next_dir);
    let barrier = Barrier::new(8);
    let reports = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                barrier.wait();
                let db = SharedDb::open(&path, &next).unwrap();
                reports.lock().unwrap().push(db.report().cloned());
            });
        }
    });
    let reports: Vec<_> = reports
        .into_inner()
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    // One process: the registry ran the migrator once.
    assert_eq!(reports.len(), 1, "{reports:?}");
    let report = &reports[0];
    assert_eq!(report.applied_versions(), [20240103000000]);
    let adopted: Vec<_> = report.adopted.iter().map(|a| (a.version, a.from)).collect();
    assert_eq!(
        adopted,
        [
            (20240101000000, AppLedger::Sqlx),
            (20240102000000, AppLedger::Sqlx)
        ]
    );

    let pool = SharedDb::open(&path, &next)
        .unwrap()
        .sqlx_pool()
        .await
        .unwrap();
    // The adopted migrations did not run again; the new one ran once.
    assert_eq!(count(&pool, "users").await, 2);
    assert_eq!(count(&pool, "audit").await, 1);
    let conn = migrate_once::rusqlite::Connection::open(&path).unwrap();
    let ours: Vec<i64> = migrate_once::ledger(&conn)
        .unwrap()
        .iter()
        .map(|r| r.version)
        .collect();
    assert_eq!(ours, [20240101000000, 20240102000000, 20240103000000]);
    // sqlx agrees: its ledger has the new migration, and its migrator for
    // the new set finds nothing to do.
    assert_eq!(sqlx_ledger(&pool).await.len(), 3);
    app_migrator(next_dir).await.run(&pool).await.unwrap();
    assert_eq!(count(&pool, "audit").await, 1);
}

/// A migration edited after sqlx applied it cannot be adopted: a typed
/// error naming the version and the tool, and the database is untouched.
#[tokio::test]
async fn an_edited_migration_sqlx_applied_is_refused_naming_sqlx() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite");
    migrated_by_sqlx(&path).await;
    let before = std::fs::read(&path).unwrap();

    let edited = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(DIR).unwrap() {
        let entry = entry.unwrap();
        let mut text = std::fs::read_to_string(entry.path()).unwrap();
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with("20240102000000")
        {
            text.push_str("\n-- edited\n");
        }
        std::fs::write(edited.path().join(entry.file_name()), text).unwrap();
    }
    let err = SharedDb::open(&path, &set(edited.path().to_str().unwrap())).unwrap_err();
    match &err {
        migrate_once::Error::AppLedgerMismatch {
            tool: AppLedger::Sqlx,
            version: 20240102000000,
            problem: migrate_once::AppLedgerProblem::ChecksumMismatch { .. },
            ..
        } => {}
        other => panic!("expected a sqlx checksum mismatch, got {other:?}"),
    }
    assert!(
        err.to_string().contains("sqlx's ledger (_sqlx_migrations)"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the database was changed"
    );
}

#[test]
fn embed_migrations_compiles_with_migrate_once_as_the_only_helper() {
    let set = migrate_once::embed_migrations!("$CARGO_MANIFEST_DIR/migrations")
        .unwrap()
        .with_app_ledgers([AppLedger::Sqlx]);
    assert_eq!(set.len(), 2);
    let db = TestDb::in_memory(&set).unwrap();
    let n: i64 = db
        .connect()
        .unwrap()
        .query_row("SELECT count(*) FROM _sqlx_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
}

// ---- `#[migrate_once::sqlx_test]`, where a `#[sqlx::test]` was ----

/// The default: this project's `migrations/`, as `#[sqlx::test]` reads it.
/// The app's own migrator, run at start-up, finds every migration applied.
#[migrate_once::sqlx_test]
async fn the_attribute_gives_a_clone_the_apps_migrator_agrees_with(pool: SqlitePool) {
    assert_eq!(count(&pool, "users").await, 2);
    app_migrator(DIR).await.run(&pool).await.unwrap();
    assert_eq!(count(&pool, "users").await, 2);
    assert_eq!(
        sqlx_ledger(&pool).await,
        vec![(20240101000000, true, 48), (20240102000000, true, 48)]
    );
}

/// The app's migrator as `sqlx::migrate!()` embeds it.
static MIGRATOR: Migrator = sqlx::migrate!();

#[migrate_once::sqlx_test(migrator = "MIGRATOR")]
async fn the_attribute_takes_the_apps_embedded_migrator(
    mut conn: sqlx::pool::PoolConnection<sqlx::Sqlite>,
) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(&mut *conn).await?;
    let (users,): (i64,) = sqlx::query_as("SELECT count(*) FROM users")
        .fetch_one(&mut *conn)
        .await?;
    assert_eq!(users, 2);
    Ok(())
}

#[migrate_once::sqlx_test(migrations = false)]
async fn the_attribute_without_migrations_is_an_empty_database(
    options: sqlx::sqlite::SqlitePoolOptions,
    connect: sqlx::sqlite::SqliteConnectOptions,
) {
    let pool = options.connect_with(connect).await.unwrap();
    let (tables,): (i64,) = sqlx::query_as("SELECT count(*) FROM sqlite_master")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(tables, 0);
}
