//! `#[migrate_once::sqlx_test]`: each signature and argument `#[sqlx::test]`
//! takes, for sqlx 0.8 and 0.9 in one binary (both features on: the
//! signature picks the version), and what is kept when a test fails.
//!
//! The migrations are the crate's own `migrations/` (sqlx's default
//! directory here: four plain `.sql` files, two users and two posts
//! seeded). Fixtures are in `tests/it/fixtures/` (`fixtures/` beside this
//! file, as sqlx reads them) and `tests/fixtures/sqlx_test/`.

use std::collections::HashSet;
use std::path::PathBuf;

use tempfile::TempDir;

use crate::support::child::{ChildEnv, ChildTest, Outcome, child_test};

/// The tests, written once with `$sqlx` for the sqlx crate of one version.
macro_rules! sqlx_tests {
    ($sqlx:ident) => {
        use std::borrow::Cow;
        use std::path::Path;

        use $sqlx::migrate::{Migration, MigrationType, Migrator};
        use $sqlx::pool::PoolConnection;
        use $sqlx::sqlite::{
            Sqlite, SqliteConnectOptions, SqliteConnection, SqlitePool, SqlitePoolOptions,
        };
        use $sqlx::{Connection, Row};

        async fn count(conn: impl $sqlx::SqliteExecutor<'_>, table: &str) -> i64 {
            let sql = match table {
                "users" => "SELECT count(*) FROM users",
                "posts" => "SELECT count(*) FROM posts",
                "products" => "SELECT count(*) FROM products",
                "sqlite_master" => "SELECT count(*) FROM sqlite_master",
                "_sqlx_migrations" => "SELECT count(*) FROM _sqlx_migrations",
                other => panic!("no query for {other}"),
            };
            $sqlx::query_scalar(sql).fetch_one(conn).await.unwrap()
        }

        async fn add_user(conn: impl $sqlx::SqliteExecutor<'_>, email: &str) {
            $sqlx::query("INSERT INTO users (email, display_name) VALUES (?, 'X')")
                .bind(email)
                .execute(conn)
                .await
                .unwrap();
        }

        /// The file behind a pool's database: empty for an in-memory one.
        async fn file_of(pool: &SqlitePool) -> String {
            let row = $sqlx::query("PRAGMA database_list")
                .fetch_one(pool)
                .await
                .unwrap();
            row.get::<String, _>(2)
        }

        // ---- signatures ----

        #[migrate_once::sqlx_test]
        async fn a_pool_gets_the_crates_migrations(pool: SqlitePool) -> $sqlx::Result<()> {
            assert_eq!(count(&pool, "users").await, 2);
            assert_eq!(count(&pool, "posts").await, 2);
            // A file by default, as sqlx's own, and foreign keys on.
            assert!(Path::new(&file_of(&pool).await).is_file());
            let err = $sqlx::query("INSERT INTO posts (user_id, title) VALUES (99, 'orphan')")
                .execute(&pool)
                .await
                .unwrap_err();
            assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
            Ok(())
        }

        #[migrate_once::sqlx_test]
        async fn a_pool_connection(mut conn: PoolConnection<Sqlite>) {
            add_user(&mut *conn, "conn@example.com").await;
            assert_eq!(count(&mut *conn, "users").await, 3);
        }

        #[migrate_once::sqlx_test]
        async fn a_connection_outside_any_pool(
            mut conn: SqliteConnection,
        ) -> Result<(), Box<dyn std::error::Error>> {
            add_user(&mut conn, "own@example.com").await;
            assert_eq!(count(&mut conn, "users").await, 3);
            conn.close().await?;
            Ok(())
        }

        #[migrate_once::sqlx_test]
        async fn pool_and_connect_options(
            pool_options: SqlitePoolOptions,
            connect_options: SqliteConnectOptions,
        ) {
            let pool = pool_options
                .connect_with(connect_options.clone())
                .await
                .unwrap();
            add_user(&pool, "options@example.com").await;
            // A second pool from the same options opens the same database.
            let other = SqlitePool::connect_with(connect_options).await.unwrap();
            assert_eq!(count(&other, "users").await, 3);
        }

        /// A test that holds more connections at once than the crate's own
        /// pools allow (4) gets them, as from `#[sqlx::test]`'s pool.
        #[migrate_once::sqlx_test]
        async fn a_test_can_hold_many_connections_at_once(pool: SqlitePool) {
            let mut held = Vec::new();
            for _ in 0..12 {
                held.push(pool.acquire().await.unwrap());
            }
            assert_eq!(pool.size(), 12);
        }

        #[migrate_once::sqlx_test]
        async fn a_test_without_a_database_runs_on_a_current_thread_runtime() {
            let handle = tokio::runtime::Handle::current();
            assert_eq!(
                handle.runtime_flavor(),
                tokio::runtime::RuntimeFlavor::CurrentThread
            );
            // Timers and tasks work, as under `#[tokio::test]`.
            let task = tokio::spawn(async {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                7
            });
            assert_eq!(task.await.unwrap(), 7);
        }

        #[migrate_once::sqlx_test]
        async fn a_database_test_runs_on_a_current_thread_runtime_too(pool: SqlitePool) {
            let handle = tokio::runtime::Handle::current();
            assert_eq!(
                handle.runtime_flavor(),
                tokio::runtime::RuntimeFlavor::CurrentThread
            );
            let pool2 = pool.clone();
            let users = tokio::spawn(async move { count(&pool2, "users").await });
            assert_eq!(users.await.unwrap(), 2);
        }

        // ---- each test has a database of its own ----

        #[migrate_once::sqlx_test]
        async fn each_test_has_its_own_database_a(pool: SqlitePool) {
            add_user(&pool, "a@example.com").await;
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            assert_eq!(count(&pool, "users").await, 3);
        }

        #[migrate_once::sqlx_test]
        async fn each_test_has_its_own_database_b(pool: SqlitePool) {
            add_user(&pool, "b@example.com").await;
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            assert_eq!(count(&pool, "users").await, 3);
        }

        // ---- the app's own migrator ----

        /// What an app does at start-up, on the test's database: sqlx's
        /// migrator for the same directory finds every migration applied
        /// (its checksums agree) and runs nothing. The directory holds
        /// `.down.sql` files too; sqlx lists those beside the ups, and the
        /// ledger records only the ups, as sqlx's own `run` would.
        #[migrate_once::sqlx_test]
        async fn the_apps_own_migrator_finds_nothing_to_do(pool: SqlitePool) {
            let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"));
            let migrator = Migrator::new(dir).await.unwrap();
            migrator.run(&pool).await.unwrap();
            assert_eq!(count(&pool, "users").await, 2, "the seed ran once");
            let ledger: Vec<(i64, Vec<u8>)> =
                $sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations ORDER BY version")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            let expected: Vec<(i64, Vec<u8>)> = migrator
                .iter()
                .filter(|m| m.migration_type.is_up_migration())
                .map(|m| (m.version, m.checksum.to_vec()))
                .collect();
            assert_eq!(ledger, expected);
        }

        // ---- migrations = ... ----

        #[migrate_once::sqlx_test(migrations = false)]
        async fn migrations_false_is_an_empty_database(pool: SqlitePool) {
            assert_eq!(count(&pool, "sqlite_master").await, 0);
            $sqlx::query("CREATE TABLE t (x INTEGER)")
                .execute(&pool)
                .await
                .unwrap();
        }

        #[migrate_once::sqlx_test(migrations = "tests/fixtures/shop_sqlx")]
        async fn migrations_from_another_directory(pool: SqlitePool) {
            assert_eq!(count(&pool, "products").await, 3);
            assert_eq!(count(&pool, "_sqlx_migrations").await, 3);
            let err = $sqlx::query("SELECT count(*) FROM users")
                .fetch_one(&pool)
                .await;
            assert!(err.is_err(), "only the shop's tables");
        }

        /// A migrator built in code, whose checksums are sqlx's to choose
        /// (as with `sqlx.toml`'s `ignored-chars`): the ledger holds them,
        /// so the migrator finds nothing to do.
        static MIGRATOR: Migrator = Migrator {
            migrations: Cow::Borrowed(&[
                Migration {
                    version: 1,
                    description: Cow::Borrowed("create things"),
                    migration_type: MigrationType::Simple,
                    sql: sql("CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT);"),
                    checksum: Cow::Borrowed(&[1, 2, 3]),
                    no_tx: false,
                },
                Migration {
                    version: 2,
                    description: Cow::Borrowed("seed things"),
                    migration_type: MigrationType::ReversibleUp,
                    sql: sql("INSERT INTO things (name) VALUES ('one');"),
                    checksum: Cow::Borrowed(&[4, 5, 6]),
                    no_tx: false,
                },
                Migration {
                    version: 2,
                    description: Cow::Borrowed("seed things"),
                    migration_type: MigrationType::ReversibleDown,
                    sql: sql("DELETE FROM things;"),
                    checksum: Cow::Borrowed(&[7]),
                    no_tx: false,
                },
            ]),
            ..Migrator::DEFAULT
        };

        #[migrate_once::sqlx_test(migrator = "MIGRATOR")]
        async fn migrator_names_the_apps_migrator(pool: SqlitePool) {
            let things: i64 = $sqlx::query_scalar("SELECT count(*) FROM things")
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(things, 1, "the down migration did not run");
            let ledger: Vec<(i64, String, Vec<u8>)> = $sqlx::query_as(
                "SELECT version, description, checksum FROM _sqlx_migrations ORDER BY version",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            assert_eq!(
                ledger,
                [
                    (1, "create things".to_string(), vec![1, 2, 3]),
                    (2, "seed things".to_string(), vec![4, 5, 6])
                ]
            );
            MIGRATOR.run(&pool).await.unwrap();
            let things: i64 = $sqlx::query_scalar("SELECT count(*) FROM things")
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(things, 1, "the app's migrator ran nothing");
        }

        // ---- fixtures ----

        /// `fixtures/more_users.sql` then `fixtures/their_posts.sql` (which
        /// needs the users of the first), after the migrations.
        #[migrate_once::sqlx_test(fixtures("more_users", "their_posts"))]
        async fn fixtures_by_name_run_in_order_after_migrating(pool: SqlitePool) {
            assert_eq!(count(&pool, "users").await, 4);
            assert_eq!(count(&pool, "posts").await, 4);
        }

        #[migrate_once::sqlx_test(fixtures(
            "../fixtures/sqlx_test/extra_users.sql",
            "../fixtures/sqlx_test/extra_posts.sql"
        ))]
        async fn fixtures_by_path(pool: SqlitePool) {
            assert_eq!(count(&pool, "users").await, 3);
            assert_eq!(count(&pool, "posts").await, 3);
        }

        #[migrate_once::sqlx_test(fixtures(
            path = "../fixtures/sqlx_test",
            scripts("extra_users", "extra_posts")
        ))]
        async fn fixtures_by_path_and_scripts(conn: PoolConnection<Sqlite>) {
            let mut conn = conn;
            assert_eq!(count(&mut *conn, "users").await, 3);
            assert_eq!(count(&mut *conn, "posts").await, 3);
        }

        #[migrate_once::sqlx_test(
            migrations = false,
            fixtures("../fixtures/sqlx_test/own_schema.sql")
        )]
        async fn fixtures_on_an_empty_database(pool: SqlitePool) {
            let n: i64 = $sqlx::query_scalar("SELECT count(*) FROM notes")
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(n, 1);
        }

        // ---- file (the default) and in_memory ----

        #[migrate_once::sqlx_test(file)]
        async fn file_gives_a_database_file(pool: SqlitePool) {
            let file = file_of(&pool).await;
            assert!(Path::new(&file).is_file(), "{file:?}");
            assert!(file.contains("migrate-once-"), "{file}");
            assert_eq!(count(&pool, "users").await, 2);
        }

        #[migrate_once::sqlx_test(in_memory)]
        async fn in_memory_gives_an_in_memory_database(pool: SqlitePool) {
            assert_eq!(file_of(&pool).await, "");
            assert_eq!(count(&pool, "users").await, 2);
        }

        /// In memory, a read through the pool while another connection of
        /// it has a write transaction open cannot get in (the memdb VFS):
        /// it fails within seconds, not after the busy timeout.
        #[migrate_once::sqlx_test(in_memory)]
        async fn in_memory_a_blocked_read_fails_fast(pool: SqlitePool) {
            let mut writer = pool.acquire().await.unwrap();
            $sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut *writer)
                .await
                .unwrap();
            add_user(&mut *writer, "pending@example.com").await;
            let started = std::time::Instant::now();
            let err = $sqlx::query_scalar::<_, i64>("SELECT count(*) FROM users")
                .fetch_one(&pool)
                .await
                .unwrap_err();
            let waited = started.elapsed();
            assert!(err.to_string().contains("locked"), "{err}");
            assert!(
                waited >= std::time::Duration::from_millis(1900)
                    && waited < std::time::Duration::from_secs(4),
                "{waited:?}"
            );
            $sqlx::query("ROLLBACK")
                .execute(&mut *writer)
                .await
                .unwrap();
        }
    };
}

/// sqlx 0.8 keeps a migration's SQL in a `Cow`, 0.9 in a `SqlStr`.
mod v0_8 {
    const fn sql(s: &'static str) -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed(s)
    }
    sqlx_tests!(sqlx08);
}

mod v0_9 {
    const fn sql(s: &'static str) -> sqlx09::SqlStr {
        sqlx09::SqlStr::from_static(s)
    }
    sqlx_tests!(sqlx09);
}

// ---- what a failing test keeps ----

/// Where the child writes its database if it keeps it.
const KEPT_DIR: &str = "MIGRATE_ONCE_DIR";
const PARENTS: &str = "sqlx_test::a_test_that_returns_an_error_keeps_its_database_and_says_where, \
     sqlx_test::a_panicking_test_keeps_its_database_and_says_where and \
     sqlx_test::a_should_panic_test_keeps_nothing";

#[migrate_once::sqlx_test]
#[ignore = "run as a child process by the tests after it"]
async fn child_returns_an_error(pool: sqlx09::SqlitePool) -> Result<(), String> {
    ChildEnv::of(PARENTS).path(KEPT_DIR);
    sqlx09::query("INSERT INTO users (email, display_name) VALUES ('kept@example.com', 'K')")
        .execute(&pool)
        .await
        .unwrap();
    Err("the child test fails on purpose".into())
}

#[migrate_once::sqlx_test]
#[ignore = "run as a child process by the tests after it"]
async fn child_panics(pool: sqlx09::SqlitePool) {
    ChildEnv::of(PARENTS).path(KEPT_DIR);
    sqlx09::query("INSERT INTO users (email, display_name) VALUES ('kept@example.com', 'K')")
        .execute(&pool)
        .await
        .unwrap();
    panic!("the child test fails on purpose");
}

#[migrate_once::sqlx_test(file)]
#[ignore = "run as a child process by the tests after it"]
#[should_panic(expected = "the child test panics on purpose")]
async fn child_should_panic(pool: sqlx09::SqlitePool) {
    ChildEnv::of(PARENTS).path(KEPT_DIR);
    sqlx09::query("SELECT 1").execute(&pool).await.unwrap();
    panic!("the child test panics on purpose");
}

/// The child-mode test `name` of this module, run with `MIGRATE_ONCE_DIR`
/// in a new directory: its output, and the files it left there.
fn run_child(name: &str) -> (Outcome, Vec<PathBuf>, TempDir) {
    let dir = TempDir::new().unwrap();
    let out = ChildTest::new(&format!("{}::{name}", module_path!()))
        .env(KEPT_DIR, dir.path())
        .run();
    let files = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    (out, files, dir)
}

fn assert_kept(out: &Outcome, files: &[PathBuf], how: &str) {
    assert!(!out.status.success(), "the child test must fail: {out:?}");
    assert_eq!(files.len(), 1, "one database kept: {files:?} {out:?}");
    let kept = &files[0];
    let line = format!(
        "migrate-once: test it::{} {how}; its database is kept at {}",
        out.test,
        kept.display()
    );
    assert!(out.stderr.contains(&line), "expected {line:?} in {out:?}");
    // The kept database is the test's, with the row it wrote.
    let conn = rusqlite::Connection::open(kept).unwrap();
    let kept_rows: i64 = conn
        .query_row(
            "SELECT count(*) FROM users WHERE email = 'kept@example.com'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept_rows, 1);
}

#[test]
fn a_test_that_returns_an_error_keeps_its_database_and_says_where() {
    let (out, files, _dir) = run_child("child_returns_an_error");
    // libtest prints the error the test returned.
    assert!(
        out.stderr.contains("the child test fails on purpose"),
        "{out:?}"
    );
    assert_kept(&out, &files, "returned an error");
}

#[test]
fn a_panicking_test_keeps_its_database_and_says_where() {
    let (out, files, _dir) = run_child("child_panics");
    assert!(
        out.stderr.contains("the child test fails on purpose"),
        "{out:?}"
    );
    assert_kept(&out, &files, "panicked");
}

#[test]
fn a_should_panic_test_keeps_nothing() {
    let (out, files, _dir) = run_child("child_should_panic");
    assert!(
        out.status.success(),
        "the should_panic test passes: {out:?}"
    );
    assert!(files.is_empty(), "nothing kept: {files:?}");
    assert!(!out.stderr.contains("is kept at"), "{out:?}");
}

// ---- the directory of test databases ----

const MISSING_DIR_PARENT: &str =
    "sqlx_test::a_test_database_directory_that_does_not_exist_is_made_as_sqlx_makes_its_own";

#[migrate_once::sqlx_test]
#[ignore = "run as a child process by sqlx_test::a_test_database_directory_that_does_not_exist_is_made_as_sqlx_makes_its_own"]
async fn child_in_a_directory_that_does_not_exist(pool: sqlx09::SqlitePool) {
    let dir = ChildEnv::of(MISSING_DIR_PARENT).path(KEPT_DIR);
    let file = pool.connect_options().get_filename().to_owned();
    let users: i64 = sqlx09::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&pool)
        .await
        .unwrap();
    println!(
        "RESULT inside={} users={users}",
        u8::from(file.starts_with(&dir))
    );
}

#[test]
fn a_test_database_directory_that_does_not_exist_is_made_as_sqlx_makes_its_own() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("target/test-dbs");
    let out = child_test!(child_in_a_directory_that_does_not_exist)
        .env(KEPT_DIR, &dir)
        .run();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.field("inside"), Some(1), "{out:?}");
    assert_eq!(out.field("users"), Some(2), "{out:?}");
    assert!(dir.is_dir());
    // The passing test's database is gone with it.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "{out:?}");
}

// ---- a finished test's file rewritten as the next test's ----

const REWRITE_PARENT: &str =
    "sqlx_test::finished_files_are_rewritten_as_the_next_tests_and_each_test_sees_a_fresh_clone";

macro_rules! rewritten_children {
    ($($name:ident)*) => {$(
        #[migrate_once::sqlx_test]
        #[ignore = "run as a child process by sqlx_test::finished_files_are_rewritten_as_the_next_tests_and_each_test_sees_a_fresh_clone"]
        async fn $name(pool: sqlx09::SqlitePool) {
            use std::os::unix::fs::MetadataExt;
            let _ = ChildEnv::of(REWRITE_PARENT).path(KEPT_DIR);
            // A fresh clone: the seed rows and nothing a test before wrote.
            let users: i64 = sqlx09::query_scalar("SELECT count(*) FROM users")
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(users, 2);
            // Grow it, so a rewrite must cut it back to the template.
            sqlx09::query(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400) \
                 INSERT INTO users (email, display_name) \
                 SELECT 'u' || i || '@example.com', hex(randomblob(500)) FROM n",
            )
            .execute(&pool)
            .await
            .unwrap();
            let file = pool.connect_options().get_filename().to_owned();
            println!("INODE {}", std::fs::metadata(&file).unwrap().ino());
            println!("REWRITTEN {}", migrate_once::__private::rewritten_clones());
            // Time for the thread to ready the next one.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    )*};
}

#[cfg(target_os = "linux")]
rewritten_children! {
    child_rewritten_0 child_rewritten_1 child_rewritten_2 child_rewritten_3 child_rewritten_4
    child_rewritten_5
}

#[cfg(target_os = "linux")]
#[test]
fn finished_files_are_rewritten_as_the_next_tests_and_each_test_sees_a_fresh_clone() {
    // In memory, where inode numbers are not handed out again.
    let dir = tempfile::tempdir_in("/dev/shm").unwrap();
    let out = ChildTest::all_starting_with(&format!("{}::child_rewritten_", module_path!()))
        .env(KEPT_DIR, dir.path())
        .run();
    assert!(out.status.success(), "{out:?}");
    let inodes: Vec<u64> = out
        .stdout
        .lines()
        .filter_map(|l| {
            l.split_once("INODE ")
                .map(|(_, n)| n.trim().parse().unwrap())
        })
        .collect();
    assert_eq!(inodes.len(), 6, "{out:?}");
    let distinct: HashSet<u64> = inodes.iter().copied().collect();
    let rewritten = out
        .stdout
        .lines()
        .filter_map(|l| {
            l.split_once("REWRITTEN ")
                .map(|(_, n)| n.trim().parse::<usize>().unwrap())
        })
        .max();
    // The first two are written when asked, the third ahead; from then on
    // each is the file a test before it finished with, rewritten: the
    // last test's file was rewritten at least twice before it.
    assert!(rewritten >= Some(2), "{rewritten:?} {inodes:?}\n{out:?}");
    assert!(distinct.len() < inodes.len(), "{inodes:?}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "{out:?}");
}
